# Shared by the Key Vault tests: a scratch dir, check(), azsim on an
# estate, and a rebound.yaml pointing at it with a signed local vault.
# shellcheck shell=bash
set -u
: "${REBOUND:?}" "${AZSIM:?}" "${PLUGIN_DIR:?}"
TMP="$(mktemp -d)"
# shellcheck source=../lib/azsim.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/azsim.sh"
kv_cleanup() {
  azsim_stop
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap kv_cleanup EXIT
cd "$TMP"
# shellcheck source=../lib/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/check.sh"
T=11111111-1111-1111-1111-111111111111
S=22222222-2222-2222-2222-222222222222

# kv_start ESTATE SECRET: starts azsim and writes rebound.yaml.
kv_start() {
  azsim_start "$1"
  azsim_vault_keys
  { azsim_yaml rebound-test KV_TEST_SECRET; azsim_local_vault_yaml "$TMP/backups"; } >rebound.yaml
  export KV_TEST_SECRET="$2"
}

# kv_token RESOURCE: a bearer token for curl calls the tests make themselves.
kv_token() { azsim_token rebound-test "$KV_TEST_SECRET" "$1"; }
