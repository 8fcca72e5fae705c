#!/usr/bin/env bash
# restore_disk is resumable at any point, and an upload never ends half done
# behind a "restored" disk:
# - a drill whose third Put Page (the second disk's first) is refused once:
#   restore_disk fails, vm-lib's with_access ends the upload (the disk is
#   closed with partial bytes), the step's retry keeps the first disk (closed
#   with the uploaded-hash tag), finds the second closed without it, deletes
#   it and uploads again; every hash matches;
# - a drill killed (SIGKILL) while a disk's upload is in progress (Put Page
#   slowed down), then `rebound resume`: the interrupted call re-attaches to
#   its journaled write grant (no second beginGetAccess), finishes, every VM
#   is verified, each disk was created once, no disk is left open for upload
#   or with a SAS, and teardown removed the drill's group. No SAS in any
#   artifact.
. "$(dirname "$0")/lib.sh"
START=$(date +%s)
SECRET='Vm-Drill-Kill-Client-Secret-Value'
DISK_MIB=8 vm_estate estate.yaml "$SECRET" vm1 vm2
vm_start estate.yaml "$SECRET" local
BK=(-P subscription=$S -P resource_group=rg-app)
SUBP=/subscriptions/$S/resourceGroups

"$REBOUND" run "${PD[@]}" --confirm --run-dir b1 "${BK[@]}" "$PLAYBOOKS/vm-daily-backup.lua" >b1.txt 2>&1
rc=$?
check "daily backup (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' b1.txt >&2

# disks_in STATE...: resources of azsim whose diskState is one of these.
disks_in() {
  local states
  states=$(printf '"%s",' "$@")
  curl -s "$CTL/state" | jq --argjson s "[${states%,}]" \
    '[.resources[] | select(.res.properties.diskState as $d | $s | index($d))] | length'
}
verified() { # RUN_DIR: every VM running, booted, each disk's hash equal to its manifest
  jqe '.steps[] | select(.name=="verify") | .outputs | .ok and (.vms | length == 2) and
       all(.vms[]; .running and .boot_ok and .hashes_match and (.disks | length == 2))' "$1/report.json"
}

# 1. A Put Page refused once: the partial disk is not taken for a restored one.
curl -s -X POST "$CTL/faults" \
  -d '{"method":"PUT","path":"/md-*","status":403,"code":"AuthenticationFailed","message":"refused once by the test","every":3,"count":1}' >/dev/null
"$REBOUND" drill "${PD[@]}" --run-dir d1 "${BK[@]}" -P drill_group=rbd-retry "$PLAYBOOKS/vm-drill.lua" >d1.txt 2>&1
rc=$?
curl -s -X DELETE "$CTL/faults" >/dev/null
check "drill with one refused Put Page succeeded (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' d1.txt >&2
check "restore-disks needed a second attempt" jqe '.steps[] | select(.name=="restore-disks") | .attempts == 2' d1/report.json
check "the unfinished disk was deleted and uploaded again" grep -q "closed unfinished" d1.txt
check "the disk finished before it was kept (uploaded-hash tag)" \
  jqe -s 'any(.[]; .t == "call" and ((.outputs.disks // []) | any(.already_restored == true)))' d1/journal.jsonl
check "every VM verified, every hash matches its manifest" verified d1

# 2. Killed mid-upload, then resumed.
curl -s -X DELETE "$CTL/counters" >/dev/null
curl -s -X POST "$CTL/faults" -d '{"method":"PUT","path":"/md-*","latency_ms":1500}' >/dev/null
"$REBOUND" drill "${PD[@]}" --run-dir d2 "${BK[@]}" -P drill_group=rbd-kill "$PLAYBOOKS/vm-drill.lua" >d2a.txt 2>&1 &
pid=$!
for _ in $(seq 600); do
  [ "$(disks_in ActiveUpload)" -gt 0 ] && break
  sleep 0.1
done
sleep 0.5
kill -KILL $pid 2>/dev/null
wait $pid 2>/dev/null
uploading=$(disks_in ActiveUpload)
curl -s -X DELETE "$CTL/faults" >/dev/null
check "killed while a disk upload was in progress ($uploading open)" test "$uploading" -gt 0
check "the drill did not finish" test ! -e d2/report.json
open_ids=$(curl -s "$CTL/state" | jq -r '.resources[] | select(.res.properties.diskState == "ActiveUpload") | .res.id')

"$REBOUND" resume d2 >d2b.txt 2>&1
rc=$?
check "resume finished the drill (exit $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/  | /' d2b.txt >&2
check "every VM verified, every hash matches its manifest" verified d2
check "4 disks restored, each once" \
  jqe '.steps[] | select(.name=="restore-disks") | .outputs | .disks == 4 and ([.vms[][] | .id] | unique | length == 4)' d2/report.json
check "the interrupted restore_disks re-attached to its operations" \
  jqe -s '[.[] | select(.t=="intent" and .action=="restore_disks" and has("reattach"))] | length >= 1' d2/journal.jsonl
check "its disks' operations were all journaled under the one call" \
  jqe -s '[.[] | select(.t=="op")] | group_by(.key) | map(length) | max >= 2' d2/journal.jsonl
puts=$(curl -s "$CTL/counters?method=PUT&path=/subscriptions/*/providers/Microsoft.Compute/disks/*" | jq -c '.routes')
check "each disk created once ($puts)" jqe 'length == 4 and all(.[]; . == 1)' <<<"$puts"
n_ok=0
for id in $open_ids; do
  c=$(curl -s "$CTL/counters?method=POST&path=$id/beginGetAccess" | jq .count)
  [ "$c" -eq 1 ] && n_ok=$((n_ok + 1))
done
check "no second write grant for the interrupted upload ($n_ok of $uploading)" test "$n_ok" -eq "$uploading"
check "no disk left open for upload or with a SAS" test "$(disks_in ActiveUpload ReadyToUpload ActiveSAS)" -eq 0
check "no SAS grant active" test "$(active_sas)" -eq 0
code=$(arm GET "$SUBP/rbd-kill?api-version=2022-09-01")
check "teardown removed the drill's group ($code)" test "$code" = 404
code=$(arm GET "$SUBP/rbd-retry?api-version=2022-09-01")
check "and the first drill's ($code)" test "$code" = 404

artifacts=(b1 d1 d2 ./*.txt)
check "no SAS signature in any artifact" bash -c "! grep -rlE 'sig=[0-9a-f]|/md-[0-9a-f]' ${artifacts[*]}"
check "no client secret in any artifact" bash -c "! grep -rl -- '$SECRET' ${artifacts[*]}"
END=$(date +%s)
echo "  vm_drill_kill took $((END - START)) s"
finish
