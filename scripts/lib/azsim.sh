# Running rebound against azsim, for the tests, the benchmarks and the demo:
# start and stop it on loopback (ephemeral ports, its own test CA), and the
# config sections that point rebound at it. Source it after cd'ing into a
# scratch directory (azsim's files go there) and setting AZSIM (and T, the
# tenant, if not the default).
# shellcheck shell=bash
: "${T:=11111111-1111-1111-1111-111111111111}"
AZSIM_PID=

# azsim_start ESTATE: serves ESTATE; sets PORT, CTL (control API) and CA.
azsim_start() {
  "$AZSIM" serve --estate "$1" --ready-file ready.json --tls-dir tls >azsim.log 2>&1 &
  AZSIM_PID=$!
  for _ in $(seq 300); do
    [ -s ready.json ] && break
    kill -0 "$AZSIM_PID" 2>/dev/null || break # it exited: no use waiting
    sleep 0.1
  done
  [ -s ready.json ] || { cat azsim.log >&2; echo "FAIL: azsim did not start"; exit 1; }
  PORT=$(jq -r .port ready.json)
  CTL=$(jq -r .control_url ready.json)
  CA=$(jq -r .ca ready.json)
}

azsim_stop() {
  [ -n "$AZSIM_PID" ] && kill "$AZSIM_PID" 2>/dev/null && wait "$AZSIM_PID" 2>/dev/null
  AZSIM_PID=
}

# azsim_yaml CLIENT_ID SECRET_ENV: the cloud and auth sections of a
# rebound.yaml for azsim (client secret from the variable SECRET_ENV).
azsim_yaml() {
  cat <<YAML
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
  client_id: $1
  client_secret_env: $2
YAML
}

# azsim_vault_keys: sign.pem and pub.pem, the backup vault's Ed25519 pair.
azsim_vault_keys() {
  openssl genpkey -algorithm ed25519 -out sign.pem 2>/dev/null
  openssl pkey -in sign.pem -pubout -out pub.pem 2>/dev/null
}

# azsim_local_vault_yaml DIR: a vault section for a signed local vault in DIR
# (keys from azsim_vault_keys in the current directory).
azsim_local_vault_yaml() {
  cat <<YAML
vault:
  kind: local
  path: $1
  signing_key_file: $PWD/sign.pem
  public_key_file: $PWD/pub.pem
YAML
}

# azsim_token CLIENT_ID SECRET RESOURCE: a bearer token, for the calls a
# test makes itself with curl.
azsim_token() {
  curl -s --cacert "$CA" "https://127.0.0.1:$PORT/$T/oauth2/v2.0/token" \
    -d grant_type=client_credentials -d "client_id=$1" \
    --data-urlencode "client_secret=$2" -d "scope=$3/.default" | jq -r .access_token
}
