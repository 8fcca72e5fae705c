#!/usr/bin/env bash
# The attacker against three estates:
#   protected    Owner vs locked immutability + soft delete + purge protection + locks:
#                the backups (blobs in the locked container, Key Vault items) survive.
#   unprotected  Owner vs the same estate without those protections: backups lost.
#   contributor  Contributor: cannot remove locks, so locked resources stay, but
#                locks do not protect data (unprotected blobs are still lost).
. "$(dirname "$0")/lib.sh"
trap finish EXIT
MODE=${1:?usage: test_attack.sh protected|unprotected|contributor}

in_list() { # in_list survived|recoverable|lost|altered KEY
  jq -e --arg k "$2" ".$1 | index(\$k) != null" "$WORK/report.json" >/dev/null
}

case "$MODE" in
  unprotected)
    sed -e 's/immutability: {days: 30, state: Locked}/immutability_none: true/' \
      -e 's/enablePurgeProtection: true/enablePurgeProtection: false/' \
      -e 's/level: CanNotDelete/level: CanNotDelete/' "$AZSIM_ESTATE" >"$WORK/estate.yaml"
    grep -q 'state: Locked' "$WORK/estate.yaml" && { echo "estate rewrite failed" >&2; exit 1; }
    azsim_start "$WORK/estate.yaml"
    ;;
  *) azsim_start ;;
esac
tokens

ROLE=Owner
[ "$MODE" = contributor ] && ROLE=Contributor
if [ "$MODE" = protected ]; then
  # through the CLI, as a person would run it
  "$AZSIM" attack --control "$CT" --json >"$WORK/report.json"
  check "attack CLI returned a JSON report" jq -e .summary "$WORK/report.json"
else
  ctl POST /attack "{\"role\":\"$ROLE\"}"
  expect 200 "attack ran"
  cp "$WORK/body" "$WORK/report.json"
fi
jq -c .summary "$WORK/report.json"
check "the attacker tried many things" test "$(jq '.summary.actions' "$WORK/report.json")" -gt 20

case "$MODE" in
  protected)
    check "locked WORM blob 1 survived" in_list survived blob:stbackup/worm/backup-001.bin
    check "locked WORM blob 2 survived" in_list survived blob:stbackup/worm/backup-002.bin
    check "purge-protected secret recoverable" in_list recoverable kv:kvprod/secrets/db-password
    check "purge-protected key recoverable" in_list recoverable kv:kvprod/keys/wrap
    check "purge-protected certificate recoverable" in_list recoverable kv:kvprod/certificates/tls
    check "legacy vault without soft delete lost" in_list lost kv:kvweak/secrets/weak-secret
    check "unlocked-policy blob lost (an Owner deletes the policy)" in_list lost blob:stbackup/unlocked/u.bin
    check "legal-hold blob lost (an Owner clears the hold)" in_list lost blob:stbackup/held/h.bin
    check "the disk and its snapshot are gone" jq -e '.lost | map(select(startswith("disk:"))) | length == 2' "$WORK/report.json"
    check "the VM was deleted" jq -e '.resources_deleted | map(select(test("virtualMachines/vm-app$"))) | length == 1' "$WORK/report.json"
    check "the Owner removed the locks" test "$(jq '[.actions[]|select(.action=="delete" and (.target|test("locks/")) and .allowed)]|length' "$WORK/report.json")" -ge 1
    check "refusals recorded with Azure codes" test "$(jq '[.actions[]|select(.code=="BlobImmutableDueToPolicy")]|length' "$WORK/report.json")" -ge 2
    check "locked policy could not be shortened" test "$(jq '[.actions[]|select(.action=="shorten-retention" and .allowed==false)]|length' "$WORK/report.json")" -ge 1
    check "vault purge refused" test "$(jq '[.actions[]|select(.action=="purge-vault" and .code=="OperationNotAllowed")]|length' "$WORK/report.json")" -ge 1
    # and the survivors are usable: read the WORM blob, recover the vault and the secret
    blob GET "/stbackup/worm/backup-001.bin"
    expect 200 "WORM backup still readable"
    check "WORM backup intact" eq "$(body)" "backup one"
    arm GET "/subscriptions/$S/resourceGroups/rg-app?api-version=2021-04-01"
    expect 404 ResourceGroupNotFound "the app resource group was deleted"
    arm PUT "$RGA?api-version=2021-04-01" -d '{"location":"westeurope"}'
    arm PUT "$RGA/providers/Microsoft.KeyVault/vaults/kvprod?api-version=2023-07-01" -d '{"location":"westeurope","properties":{"createMode":"recover"}}'
    expect 201 "recover the soft-deleted vault"
    kv kvprod POST "/deletedsecrets/db-password/recover?api-version=7.5"
    expect 200 "recover the secret"
    kv kvprod GET "/secrets/db-password?api-version=7.5"
    check "secret value intact after the attack" eq "$(jbody .value)" hunter2
    ;;
  unprotected)
    check "WORM-less backup blob 1 lost" in_list lost blob:stbackup/worm/backup-001.bin
    check "WORM-less backup blob 2 lost" in_list lost blob:stbackup/worm/backup-002.bin
    check "secret lost without purge protection" in_list lost kv:kvprod/secrets/db-password
    check "key lost without purge protection" in_list lost kv:kvprod/keys/wrap
    check "nothing survived" eq "$(jq '.summary.survived' "$WORK/report.json")" 0
    check "nothing recoverable" eq "$(jq '.summary.recoverable' "$WORK/report.json")" 0
    arm GET "/subscriptions/$S/providers/Microsoft.KeyVault/deletedVaults?api-version=2023-07-01"
    check "the vault was purged" eq "$(jbody '.value|length')" 0
    ;;
  contributor)
    check "a Contributor cannot remove locks" eq "$(jq '[.actions[]|select(.action=="delete" and (.target|test("locks/")))]|length' "$WORK/report.json")" 0
    check "the locked group's storage account stays" \
      jq -e '.resources_kept | index("'"$SA"'") != null' "$WORK/report.json"
    check "deletes in the locked group were refused with ScopeLocked" \
      test "$(jq '[.actions[]|select(.code=="ScopeLocked")]|length' "$WORK/report.json")" -ge 1
    check "locks do not protect data: the plain blob is lost" in_list lost blob:stbackup/plain/p.bin
    check "WORM blobs survive" in_list survived blob:stbackup/worm/backup-001.bin
    arm GET "$RGB/providers/Microsoft.Authorization/locks/keep-backups?api-version=2020-05-01"
    expect 200 "the lock is still there"
    ;;
esac
