#!/usr/bin/env bash
# SIGKILL `rebound run` at seeded random points, resume, and check that
# every write action's side effect happened exactly once.
. "$(dirname "$0")/lib.sh"
TRIALS=${TRIALS:-50}
TK=(--plugin-dir "$TESTKIT_DIR")
expected=$(mktemp)
# The ids crash.lua records: run it once uninterrupted to learn them.
REBOUND_TESTKIT_LOG="$TMP/ref.log" "$REBOUND" run -q --run-dir ref --parallel 4 "${TK[@]}" "$FIXTURES/crash.lua" >/dev/null 2>&1 ||
  { fail "reference run failed"; finish; exit 1; }
awk '{print $2}' ref.log | sort >"$expected"
n_ids=$(wc -l <"$expected")
full_ms=$(jq '.wall_s * 1000 | floor' ref/report.json)
echo "reference run: $n_ids side effects in ${full_ms} ms"
RANDOM=20261125
killed=0
for t in $(seq "$TRIALS"); do
  log="$TMP/t$t.log"
  delay_ms=$((RANDOM % (full_ms + 20)))
  REBOUND_TESTKIT_LOG="$log" "$REBOUND" run -q --run-dir "r$t" --parallel 4 "${TK[@]}" "$FIXTURES/crash.lua" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '0.%03d' "$delay_ms")"
  kill -KILL $pid 2>/dev/null && killed=$((killed + 1))
  wait $pid 2>/dev/null
  if [ -f "r$t/journal.jsonl" ]; then
    REBOUND_TESTKIT_LOG="$log" "$REBOUND" resume -q "r$t" >"r$t.resume.out" 2>&1
    rc=$?
  else
    # Killed before the journal existed: nothing ran, so run again.
    REBOUND_TESTKIT_LOG="$log" "$REBOUND" run -q --run-dir "r$t" --parallel 4 "${TK[@]}" "$FIXTURES/crash.lua" >"r$t.resume.out" 2>&1
    rc=$?
  fi
  if [ $rc -ne 0 ]; then
    fail "trial $t (kill after ${delay_ms} ms): resume exited $rc"
    sed 's/^/  | /' "r$t.resume.out" >&2
    continue
  fi
  dups=$(awk '{print $2}' "$log" | sort | uniq -d | head -3)
  if [ -n "$dups" ]; then
    fail "trial $t (kill after ${delay_ms} ms): repeated side effects: $dups"
    continue
  fi
  if ! awk '{print $2}' "$log" | sort | cmp -s - "$expected"; then
    fail "trial $t (kill after ${delay_ms} ms): side effects missing ($(wc -l <"$log") of $n_ids)"
    continue
  fi
  PASSED=$((PASSED + 1))
done
echo "$killed of $TRIALS runs were killed mid-way"
check "most trials killed a running process" test "$killed" -ge $((TRIALS / 2))
finish
