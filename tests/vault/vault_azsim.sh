# The vault's Azure Blob backend against azsim (WORM): a container under a
# locked policy accepts the vault's writes and refuses deletes and
# overwrites; an unlocked (or too short, or absent) policy is refused
# without vault.allow_unlocked and recorded with it; prune keeps what the
# policy protects and deletes it once the virtual clock has passed it.
. "$(dirname "$0")/lib.sh"
: "${AZSIM:?}"
# shellcheck source=../lib/azsim.sh
. "$(dirname "$0")/../lib/azsim.sh"
trap 'azsim_stop; rm -rf "$TMP"' EXIT
make_keys
T=11111111-1111-1111-1111-111111111111
S=22222222-2222-2222-2222-222222222222
SECRET='S3cr3t-Vault-Client-Value-For-Tests'
cat >estate.yaml <<YAML
tenant: $T
identity:
  clients:
    - {client_id: rebound-vault, secret: "$SECRET"}
subscriptions:
  - id: $S
    name: Test
    resource_groups:
      - name: rg-backup
        location: westeurope
        resources:
          - type: Microsoft.Storage/storageAccounts
            name: stvault
            kind: StorageV2
            sku: {name: Standard_GRS}
            containers:
              - name: worm
                immutability: {days: 30, state: Locked}
              - name: short
                immutability: {days: 2, state: Locked}
              - name: open
                immutability: {days: 30}
              - name: bare
YAML
azsim_start estate.yaml
export REBOUND_TEST_SECRET="$SECRET"

# config CONTAINER [allow_unlocked]
config() {
  { azsim_yaml rebound-vault REBOUND_TEST_SECRET; cat <<YAML
vault:
  kind: azure-blob
  account: stvault
  container: $1
  endpoint: https://127.0.0.1:$PORT/stvault
  signing_key_file: $TMP/sign.pem
  public_key_file: $TMP/pub.pem
  min_retention_days: 30
  allow_unlocked: ${2:-false}
  block_size: 1MiB
YAML
  } >"$1.yaml"
}
for c in worm short open bare; do config $c; done
config open-ok true
sed -i 's/container: open-ok/container: open/' open-ok.yaml
V() { local c=$1; shift; "$REBOUND" vault -c "$c.yaml" "$@"; }
head -c 3000000 /dev/urandom >disk.img

# refused: unlocked, too short, no policy
expect 2 'policy of container open is not locked.*allow_unlocked' V open put disk.img --source-id d --kind disk
expect 2 'keeps blobs 2 days, less than vault.min_retention_days \(30\)' V short put disk.img --source-id d --kind disk
expect 2 'container bare has no immutability policy' V bare put disk.img --source-id d --kind disk
# allowed with the override, and recorded
expect 0 'warning: writing to a container that is not verified' V open-ok put disk.img --source-id d --kind disk
expect 0 '"unlocked":[[:space:]]*true' V open-ok list --output json
# the locked container
expect 0 'set .*sent 2.9 MiB' V worm put disk.img --source-id /subscriptions/$S/disk1 --kind disk
SET=$(V worm list --output json | jq -r '.[0].set_id')
check "no unlocked flag on the locked container" test "$(V worm list --output json | jq '.[0].unlocked')" = false
expect 0 'OK$' V worm verify
expect 0 'hashes match' V worm restore "$SET" disk.img --to back.img
check "restored equals source" cmp -s disk.img back.img
# never overwrite, and WORM refuses deletion
expect 1 'already complete' V worm put disk.img --set "$SET" --source-id x --kind disk
BLOB="https://127.0.0.1:$PORT/stvault/worm/sets/$SET/data/disk.img"
TOKEN=$(curl -s --cacert "$CA" -d "grant_type=client_credentials&client_id=rebound-vault&client_secret=$SECRET&scope=https://storage.azure.com/.default" \
  "https://127.0.0.1:$PORT/$T/oauth2/v2.0/token" | jq -r .access_token)
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -X DELETE -H "Authorization: Bearer $TOKEN" \
  -H "x-ms-version: 2021-12-02" "$BLOB")
check "WORM refuses delete (got $code)" test "$code" = 409
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -X PUT -H "Authorization: Bearer $TOKEN" \
  -H "x-ms-version: 2021-12-02" -H "x-ms-blob-type: BlockBlob" --data-binary @disk.img "$BLOB")
check "WORM refuses overwrite (got $code)" test "$code" = 409
# prune: the vault's clock past retention, but the storage policy (on the
# virtual clock) still protects it: kept, nothing deleted
NOW=$(date +%s)
expect 0 "$SET  kept \(protected by the storage policy\)" env REBOUND_VAULT_NOW=$((NOW + 31 * 86400)) \
  "$REBOUND" vault -c worm.yaml prune --apply
expect 0 'OK$' V worm verify
# once the virtual clock passes the policy too, prune deletes it
curl -s -X POST "$CTL/clock/advance" -d "{\"seconds\":$((32 * 86400))}" >/dev/null
expect 0 "$SET  deleted" env REBOUND_VAULT_NOW=$((NOW + 32 * 86400)) \
  "$REBOUND" vault -c worm.yaml prune --apply
expect 0 'no sets' V worm list
finish
