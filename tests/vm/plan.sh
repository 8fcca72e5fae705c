#!/usr/bin/env bash
# `rebound plan` of both VM playbooks talks to Azure only to read: it exits
# 0, lists every predicted step, and azsim's request counters show no ARM
# write (PUT, PATCH, DELETE, POST to /subscriptions) and no SAS or blob
# write while it runs. The drill's plan reads a vault a real backup filled.
. "$(dirname "$0")/lib.sh"
START=$(date +%s)
SECRET='Vm-Plan-Client-Secret-Value'
DISK_MIB=2 vm_estate estate.yaml "$SECRET" vm1 vm2
vm_start estate.yaml "$SECRET" local
BK=(-P subscription=$S -P resource_group=rg-app)

# writes: every request that changes something, as azsim counted it.
writes() {
  local n=0 c
  for q in "method=PUT&path=*" "method=PATCH&path=*" "method=DELETE&path=*" "method=POST&path=/subscriptions/*"; do
    c=$(curl -s "$CTL/counters?$q" | jq '.count')
    n=$((n + c))
  done
  echo "$n"
}
reads() { curl -s "$CTL/counters?method=GET&path=/subscriptions/*" | jq '.count'; }
steps_listed() { # FILE STEP... : every step in the plan (rebound.plan/1), none failed
  local f=$1; shift
  jqe '[.steps[].state] | all(. == "succeeded" or . == "skipped")' "$f" || return 1
  for s in "$@"; do
    jqe --arg s "$s" 'any(.steps[]; .name == $s)' "$f" || { echo "  step $s not planned" >&2; return 1; }
  done
}

curl -s -X DELETE "$CTL/counters" >/dev/null
"$REBOUND" plan "${PD[@]}" --output json "${BK[@]}" "$PLAYBOOKS/vm-daily-backup.lua" >p1.json 2>p1.txt
rc=$?
check "plan of vm-daily-backup (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' p1.txt >&2
check "it lists every step" steps_listed p1.json inventory snapshot export revoke record cleanup verify
check "it read the estate ($(reads) GETs)" test "$(reads)" -gt 0
w=$(writes)
check "no write reached azsim during the backup's plan ($w)" test "$w" -eq 0
[ "$w" -eq 0 ] || curl -s "$CTL/counters?method=*&path=*" | jq -c '.routes' >&2
check "the vault check waits for a real run" jqe '.steps[] | select(.name=="verify") | .state == "skipped"' p1.json
check "writes are predicted, not made" jqe '[.steps[] | select(.name=="snapshot" or .name=="export" or .name=="cleanup") | .predicted] | all' p1.json
check "the plan predicts a snapshot and an export per disk (4)" \
  jqe '([.steps[] | select(.name=="snapshot") | .outputs.snapshots | length] == [4]) and ([.steps[] | select(.name=="export") | .outputs.disks | length] == [4])' p1.json
check "no backup set was written" test ! -d backups/sets -o -z "$(ls -A backups/sets 2>/dev/null)"

# A real backup, so that the drill has something to plan from (and proof
# that the counters do see writes).
curl -s -X DELETE "$CTL/counters" >/dev/null
"$REBOUND" run "${PD[@]}" --confirm --run-dir b1 "${BK[@]}" "$PLAYBOOKS/vm-daily-backup.lua" >b1.txt 2>&1
rc=$?
check "daily backup (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' b1.txt >&2
w=$(writes)
check "the counters saw the real backup's writes ($w)" test "$w" -gt 0
curl -s "$CTL/inventory" | jq -S '[.items[] | select(.key | startswith("arm:"))]' >inv-before.json

curl -s -X DELETE "$CTL/counters" >/dev/null
"$REBOUND" plan "${PD[@]}" --output json "${BK[@]}" "$PLAYBOOKS/vm-drill.lua" >p2.json 2>p2.txt
rc=$?
check "plan of vm-drill (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' p2.txt >&2
check "it lists every step" steps_listed p2.json catalog drill-group network key-vaults restore-disks restore-vms verify drill-report teardown
w=$(writes)
check "no write reached azsim during the drill's plan ($w)" test "$w" -eq 0
[ "$w" -eq 0 ] || curl -s "$CTL/counters?method=*&path=*" | jq -c '.routes' >&2
check "the plan predicts 4 disks and 2 VMs" \
  jqe '([.steps[] | select(.name=="restore-disks") | .outputs.disks] == [4]) and ([.steps[] | select(.name=="restore-vms") | .outputs.vms | length] == [2])' p2.json
curl -s "$CTL/inventory" | jq -S '[.items[] | select(.key | startswith("arm:"))]' >inv-after.json
check "the estate is unchanged by the plan" cmp -s inv-before.json inv-after.json
check "no SAS granted" test "$(active_sas)" -eq 0

END=$(date +%s)
echo "  vm_plan took $((END - START)) s"
finish
