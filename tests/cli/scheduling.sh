#!/usr/bin/env bash
# Parallelism, retries, timeouts, failure policies, confirmation (exit 3),
# interruption (exit 130) and resume with re-attach, events and reports.
. "$(dirname "$0")/lib.sh"
export REBOUND_TESTKIT_LOG="$TMP/log.txt" REBOUND_TESTKIT_STATE_DIR="$TMP/state"
mkdir -p state
TK=(--plugin-dir "$TESTKIT_DIR")
F=$FIXTURES

# Eight independent 400 ms steps overlap: wall close to one step, not eight.
expect 0 'succeeded' "$REBOUND" run --run-dir r-par --parallel 8 --events ev.jsonl "${TK[@]}" "$F/parallel.lua"
wall=$(jq .wall_s r-par/report.json)
sum=$(jq '[.steps[].duration_s] | add' r-par/report.json)
check "parallel wall $wall s is near the 0.4 s critical path (sum $sum s)" \
  jq -e '.wall_s < 1.1 and ([.steps[].duration_s] | add) > 3.0' r-par/report.json
check "events: 9 steps x running+succeeded" \
  test "$(jq -s 'map(select(.event=="step")) | length' ev.jsonl)" -eq 18
check "events: run started and finished" \
  test "$(jq -s 'map(select(.event=="run")) | length' ev.jsonl)" -eq 2
check "junit has 9 test cases" test "$(grep -c '<testcase' r-par/junit.xml)" -eq 9
check "journal ends with an end record" bash -c "tail -n1 r-par/journal.jsonl | jq -e '.t==\"end\" and .status==\"succeeded\"' >/dev/null"

# Retries: flaky succeeds on its third attempt; hopeless fails after two.
expect 1 'always broken' "$REBOUND" run --run-dir r-retry --continue-on-failure "${TK[@]}" -P key=k1 "$F/retry.lua"
check "flaky took 3 attempts" jq -e '.steps[] | select(.name=="flaky") | .state=="succeeded" and .attempts==3' r-retry/report.json
check "hopeless failed after 2" jq -e '.steps[] | select(.name=="hopeless") | .state=="failed" and .attempts==2' r-retry/report.json

# Timeouts cancel the action and fail the step.
start=$(date +%s%N)
expect 1 'timed out after 0.3s' "$REBOUND" run --run-dir r-to "${TK[@]}" "$F/timeout.lua"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
check "timeout stopped the run early (${elapsed} ms)" test "$elapsed" -lt 3000

# Failure policy: stop lets in-flight steps finish but starts no new ones;
# `always` steps still run. continue runs independent branches.
expect 1 'nope' "$REBOUND" run --run-dir r-stop "${TK[@]}" "$F/failure_policy.lua"
check "stop: later not started" jq -e '.steps[] | select(.name=="later") | .state=="cancelled"' r-stop/report.json
check "stop: in-flight step finished" jq -e '.steps[] | select(.name=="slow-independent") | .state=="succeeded"' r-stop/report.json
check "stop: always step ran" jq -e '.steps[] | select(.name=="cleanup") | .state=="succeeded"' r-stop/report.json
expect 1 'nope' "$REBOUND" run --run-dir r-cont --continue-on-failure "${TK[@]}" "$F/failure_policy.lua"
check "continue: later ran" jq -e '.steps[] | select(.name=="later") | .state=="succeeded"' r-cont/report.json

# Destructive actions in run mode wait for --confirm (exit 3), then resume.
expect 3 'needs confirmation' "$REBOUND" run --run-dir r-dest "${TK[@]}" "$F/destructive.lua"
check "nothing destroyed without confirmation" bash -c '! grep -q " wipe$" log.txt'
expect 0 'succeeded' "$REBOUND" resume --confirm r-dest
check "prep recorded once" test "$(grep -c ' prep$' log.txt)" -eq 1
check "wipe recorded once" test "$(grep -c ' wipe$' log.txt)" -eq 1
check "prepare was not run again" jq -e '.steps[] | select(.name=="prepare") | .resumed' r-dest/report.json

# SIGINT stops gracefully (exit 130); resume hands the stored operation id back.
"$REBOUND" run --run-dir r-int "${TK[@]}" "$F/lro.lua" >int.out 2>int.err &
pid=$!
for _ in $(seq 50); do grep -q '"t":"op"' r-int/journal.jsonl 2>/dev/null && break; sleep 0.05; done
kill -INT $pid
wait $pid
rc=$?
check "interrupted run exits 130 (got $rc)" test "$rc" -eq 130
check "interrupted step is cancelled" jq -e '.steps[0].state=="cancelled"' r-int/report.json
expect 0 'succeeded' "$REBOUND" resume r-int
check "resumed call re-attached to the stored operation" jq -e '.steps[0].outputs.reattached == true' r-int/report.json
expect 0 'nothing to resume' "$REBOUND" resume r-int
finish
