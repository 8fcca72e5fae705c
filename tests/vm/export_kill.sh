#!/usr/bin/env bash
# The read SAS never outlives the backup: the daily backup is killed
# (SIGKILL) while export streams a snapshot's read SAS, the SAS is still
# active in azsim at that moment, and `rebound resume` finishes the backup
# and leaves no SAS active (export re-attaches to its journaled grant, then
# end_access and the always-run revoke step end it). Then retention on the
# virtual clock: a snapshot an earlier failed run left behind is deleted by
# the next daily run once it is older than snapshot_max_age_hours (never a
# snapshot rebound did not tag), and `rebound vault prune` deletes sets only
# once REBOUND_VAULT_NOW is past their retention. No SAS in any artifact.
. "$(dirname "$0")/lib.sh"
START=$(date +%s)
SECRET='Vm-Kill-Client-Secret-Value'
DISK_MIB=32 vm_estate estate.yaml "$SECRET" vm1
vm_start estate.yaml "$SECRET" local
RGA=/subscriptions/$S/resourceGroups/rg-app
BK=(-P subscription=$S -P resource_group=rg-app)

# Slow the SAS reads down so the kill lands mid-export.
curl -s -X POST "$CTL/faults" -d '{"method":"GET","path":"/md-*","latency_ms":400}' >fault.json
"$REBOUND" run "${PD[@]}" --confirm --run-dir b1 "${BK[@]}" "$PLAYBOOKS/vm-daily-backup.lua" >b1a.txt 2>&1 &
pid=$!
for _ in $(seq 300); do
  [ "$(active_sas)" -gt 0 ] && break
  sleep 0.1
done
sleep 1
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
live=$(active_sas)
fired=$(curl -s "$CTL/faults" | jq '[.. | objects | select(has("fired")) | .fired] | add // 0')
echo "  killed with $live SAS active after $fired slowed reads"
check "killed while a read SAS was active ($live active, $fired slowed reads)" test "$live" -gt 0
check "the run did not finish" test ! -e b1/report.json
curl -s -X DELETE "$CTL/faults" >/dev/null
"$REBOUND" resume --confirm b1 >b1b.txt 2>&1
rc=$?
check "resume finished the backup (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' b1b.txt >&2
check "no SAS active after resume" test "$(active_sas)" -eq 0
check "both disks exported" jqe '.steps[] | select(.name=="export") | .outputs.disks | length == 2' b1/report.json
check "the backup verifies" jqe '.steps[] | select(.name=="verify") | .outputs.ok' b1/report.json
snaps=$(jq -r '.steps[] | select(.name=="snapshot") | .outputs.snapshots[].snapshot_id' b1/report.json)
n_end=0
for s in $snaps; do
  # an end_access call (outputs {id, revoked}) for this snapshot, not just any record naming it
  jq -e -s --arg s "$s" 'any(.[]; .t == "call" and .outputs.revoked == true and .outputs.id == $s)' \
    b1/journal.jsonl >/dev/null && n_end=$((n_end + 1))
done
check "end_access journaled for every snapshot ($n_end of 2)" test "$n_end" -eq 2
"$REBOUND" vault verify -q -c rebound.yaml >vv.txt 2>&1
check "the vault verifies after the resumed export" test $? -eq 0
code=$(arm GET "$RGA/providers/Microsoft.Compute/snapshots?api-version=2023-04-02")
check "no snapshot left" test "$(jq '.value | length' arm.json)" -eq 0

# A snapshot a failed run left (tagged), and one an operator made (untagged).
D=$RGA/providers/Microsoft.Compute/disks/vm1-os
arm PUT "$RGA/providers/Microsoft.Compute/snapshots/leftover?api-version=2023-04-02" \
  -d "{\"location\":\"westeurope\",\"tags\":{\"rebound-backup\":\"an-old-run\"},\"properties\":{\"incremental\":true,\"creationData\":{\"createOption\":\"Copy\",\"sourceResourceId\":\"$D\"}}}" >/dev/null
arm PUT "$RGA/providers/Microsoft.Compute/snapshots/operators?api-version=2023-04-02" \
  -d "{\"location\":\"westeurope\",\"properties\":{\"incremental\":true,\"creationData\":{\"createOption\":\"Copy\",\"sourceResourceId\":\"$D\"}}}" >/dev/null
sleep 2 # let the snapshot LROs finish
"$REBOUND" run "${PD[@]}" --confirm --run-dir b2 "${BK[@]}" -P snapshot_max_age_hours=24 "$PLAYBOOKS/vm-daily-backup.lua" >b2.txt 2>&1
check "a young leftover is kept" bash -c "jq -e '.steps[] | select(.name==\"cleanup\") | .outputs.stale_deleted == 0' b2/report.json >/dev/null"
NOW2=$(($(date +%s) + 2 * 86400))
curl -s -X POST "$CTL/clock/advance" -d "{\"seconds\": $((2 * 86400))}" >/dev/null
REBOUND_VAULT_NOW=$NOW2 "$REBOUND" run "${PD[@]}" --confirm --run-dir b3 "${BK[@]}" -P snapshot_max_age_hours=24 -P now=$NOW2 "$PLAYBOOKS/vm-daily-backup.lua" >b3.txt 2>&1
rc=$?
check "the daily run two days later (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' b3.txt >&2
check "it deleted the stale leftover" jqe '.steps[] | select(.name=="cleanup") | .outputs.stale_deleted == 1' b3/report.json
code=$(arm GET "$RGA/providers/Microsoft.Compute/snapshots/leftover?api-version=2023-04-02")
check "leftover gone ($code)" test "$code" = 404
code=$(arm GET "$RGA/providers/Microsoft.Compute/snapshots/operators?api-version=2023-04-02")
check "the operator's untagged snapshot kept ($code)" test "$code" = 200

# Vault retention on the vault's clock (30 days; the newest sets were made at +2 days).
count() { "$REBOUND" vault list -c rebound.yaml --output json 2>/dev/null | jq 'if type=="array" then length else (.sets | length) end'; }
before=$(count)
"$REBOUND" vault prune --apply -c rebound.yaml >p1.txt 2>&1
check "prune keeps sets within their retention ($before sets)" test "$(count)" -eq "$before"
REBOUND_VAULT_NOW=$(($(date +%s) + 33 * 86400)) "$REBOUND" vault prune --apply -c rebound.yaml >p2.txt 2>&1
check "and deletes them after it" test "$(count)" -eq 0

artifacts=(b1 b2 b3 ./*.txt)
check "no SAS signature in any artifact" bash -c "! grep -rlE 'sig=[0-9a-f]|/md-[0-9a-f]' ${artifacts[*]}"
check "no SAS in the vault" bash -c "! grep -rlE 'sig=[0-9a-f]|/md-[0-9a-f]' backups"
END=$(date +%s)
echo "  vm_export_kill took $((END - START)) s"
finish
