# Shared by the Key Vault tests: a scratch dir, check(), azsim on an
# estate, and a rebound.yaml pointing at it with a signed local vault.
# shellcheck shell=bash
set -u
: "${REBOUND:?}" "${AZSIM:?}" "${PLUGIN_DIR:?}"
TMP="$(mktemp -d)"
AZSIM_PID=
kv_cleanup() {
  [ -n "$AZSIM_PID" ] && kill "$AZSIM_PID" 2>/dev/null && wait "$AZSIM_PID" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap kv_cleanup EXIT
cd "$TMP"
export NO_COLOR=1
PASSED=0 FAILED=0
T=11111111-1111-1111-1111-111111111111
S=22222222-2222-2222-2222-222222222222
fail() { echo "FAIL: $*" >&2; FAILED=$((FAILED + 1)); }
check() { local what=$1; shift; if "$@"; then PASSED=$((PASSED + 1)); else fail "$what"; fi; }
finish() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" -eq 0 ]; }

# kv_start ESTATE SECRET: starts azsim and writes rebound.yaml.
kv_start() {
  local estate=$1 secret=$2
  "$AZSIM" serve --estate "$estate" --ready-file ready.json --tls-dir tls >azsim.log 2>&1 &
  AZSIM_PID=$!
  for _ in $(seq 200); do [ -s ready.json ] && break; sleep 0.1; done
  [ -s ready.json ] || { cat azsim.log >&2; echo "FAIL: azsim did not start"; exit 1; }
  PORT=$(jq -r .port ready.json)
  CTL=$(jq -r .control_url ready.json)
  CA=$(jq -r .ca ready.json)
  openssl genpkey -algorithm ed25519 -out sign.pem 2>/dev/null
  openssl pkey -in sign.pem -pubout -out pub.pem 2>/dev/null
  cat >rebound.yaml <<YAML
cloud:
  name: custom
  authority_host: https://127.0.0.1:$PORT
  arm_endpoint: https://127.0.0.1:$PORT
  arm_audience: https://management.azure.com
  keyvault_suffix: vault.localhost:$PORT
  storage_suffix: localhost:$PORT
  ca_file: $CA
auth:
  method: client_secret
  tenant_id: $T
  client_id: rebound-test
  client_secret_env: KV_TEST_SECRET
vault:
  kind: local
  path: $TMP/backups
  signing_key_file: $TMP/sign.pem
  public_key_file: $TMP/pub.pem
YAML
  export KV_TEST_SECRET="$secret"
}

# kv_token RESOURCE: a bearer token for curl calls the tests make themselves.
kv_token() {
  curl -s --cacert "$CA" "https://127.0.0.1:$PORT/$T/oauth2/v2.0/token" \
    -d grant_type=client_credentials -d client_id=rebound-test \
    --data-urlencode "client_secret=$KV_TEST_SECRET" -d "scope=$1/.default" | jq -r .access_token
}
