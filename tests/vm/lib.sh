# Shared by the VM tests: a scratch dir, check(), azsim with an estate of
# VMs, rebound.yaml (local or azsim blob vault), curl helpers.
# shellcheck shell=bash
set -u
: "${REBOUND:?}" "${AZSIM:?}" "${PLUGIN_DIR:?}" "${PLAYBOOKS:?}"
TMP="$(mktemp -d)"
# shellcheck source=../lib/azsim.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/azsim.sh"
cleanup() {
  azsim_stop
  if [ "${FAILED:-0}" -ne 0 ] && [ -f "$TMP/azsim.log" ]; then tail -20 "$TMP/azsim.log" >&2; fi
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
cd "$TMP"
# shellcheck source=../lib/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/check.sh"
T=11111111-1111-1111-1111-111111111111
S=22222222-2222-2222-2222-222222222222
MIB=1048576
jqe() { jq -e "$@" >/dev/null; }
PD=(--plugin-dir "$PLUGIN_DIR")

# vm_estate FILE SECRET VM... : VMs in rg-app, each with a 2-disk layout
# (OS + one data disk of DISK_MIB, default 16), a Key Vault for disk
# encryption, and a storage account with a locked WORM container for the vault.
vm_estate() {
  local f=$1 secret=$2; shift 2
  local mib=${DISK_MIB:-16}
  {
    echo "tenant: $T"
    echo "settings: {lro_retry_after: 0}"
    echo "identity: {clients: [{client_id: rebound-test, secret: \"$secret\"}]}"
    echo "subscriptions:"
    echo "  - id: $S"
    echo "    name: Test"
    echo "    resource_groups:"
    echo "      - name: rg-app"
    echo "        location: westeurope"
    echo "        resources:"
    echo "          - type: Microsoft.KeyVault/vaults"
    echo "            name: kvdisk"
    echo "            properties: {enableSoftDelete: true, enablePurgeProtection: true}"
    echo "            keys: [{name: kek, kty: RSA}]"
    for v in "$@"; do
      echo "          - type: Microsoft.Compute/virtualMachines"
      echo "            name: $v"
      echo "            os_disk: {name: $v-os, size_bytes: $((mib * MIB)), content_seed: $v-os-seed}"
      echo "            data_disks: [{name: $v-data0, lun: 0, size_bytes: $((mib * MIB)), content_seed: $v-d0-seed}]"
      echo "            network: {vnet: vnet-app, subnet: app, nic: $v-nic}"
      [ "$v" = "$1" ] && echo "            encryption: {key_vault: kvdisk, key: kek}"
    done
    echo "      - name: rg-backup"
    echo "        location: westeurope"
    echo "        resources:"
    echo "          - type: Microsoft.Storage/storageAccounts"
    echo "            name: stvault"
    echo "            kind: StorageV2"
    echo "            sku: {name: Standard_GRS}"
    echo "            containers:"
    echo "              - name: worm"
    echo "                immutability: {days: 30, state: Locked}"
  } >"$f"
}

# vm_start ESTATE SECRET [local|blob]: starts azsim, writes rebound.yaml.
vm_start() {
  local estate=$1 secret=$2 kind=${3:-local}
  azsim_start "$estate"
  azsim_vault_keys
  azsim_yaml rebound-test VM_TEST_SECRET >rebound.yaml
  if [ "$kind" = blob ]; then
    cat >>rebound.yaml <<YAML
vault:
  kind: azure-blob
  account: stvault
  container: worm
  endpoint: https://127.0.0.1:$PORT/stvault
  signing_key_file: $TMP/sign.pem
  public_key_file: $TMP/pub.pem
  min_retention_days: 30
  block_size: 4MiB
YAML
  else
    cat >>rebound.yaml <<YAML
vault:
  kind: local
  path: $TMP/backups
  signing_key_file: $TMP/sign.pem
  public_key_file: $TMP/pub.pem
  min_retention_days: 30
  block_size: 4MiB
YAML
  fi
  export VM_TEST_SECRET="$secret"
}

# arm METHOD PATH [curl args]: an ARM call with a fresh token; body in arm.json.
vm_token() { azsim_token rebound-test "$VM_TEST_SECRET" "$1"; }
arm() {
  local m=$1 p=$2; shift 2
  curl -s --cacert "$CA" -X "$m" -H "Authorization: Bearer $(vm_token https://management.azure.com)" \
    -H 'Content-Type: application/json' -o arm.json -w '%{http_code}' "$@" "https://127.0.0.1:$PORT$p"
}
# Active disk/snapshot SAS grants in azsim's state.
active_sas() { curl -s "$CTL/state" | jq '.disk_sas // {} | length'; }
step_out() { jq -c ".steps[] | select(.name==\"$2\") | .outputs" "$1/report.json"; }
