#!/usr/bin/env bash
# Regressions from a review: hostile or careless playbooks must fail cleanly
# (no crash, no hang), limits and blocks must stick, interrupts must stop new
# side effects, teardown steps retry and really run again on resume.
. "$(dirname "$0")/lib.sh"
export REBOUND_TESTKIT_LOG="$TMP/log.txt" REBOUND_TESTKIT_STATE_DIR="$TMP/state"
export REBOUND_TESTKIT_CALLS="$TMP/calls.txt"
mkdir -p state
TK=(--plugin-dir "$TESTKIT_DIR")
F=$FIXTURES

expect 1 'cannot be called from inside a coroutine' "$REBOUND" run --run-dir r-co "${TK[@]}" "$F/co_wrap.lua"
expect 0 'succeeded' "$REBOUND" run --run-dir r-fake "$F/fake_frozen.lua"
expect 2 'finalizers \(__gc\) are not allowed' timeout 20 "$REBOUND" validate "${TK[@]}" "$F/gc_loop.lua"
expect 2 'instruction limit' timeout 30 "$REBOUND" run --run-dir r-lim --max-lua-instructions 1000000 "$F/swallow_limits.lua"

expect 1 'nope' "$REBOUND" run --run-dir r-td "${TK[@]}" "$F/always_retry.lua"
check "teardown retried under the stop policy" \
  jq -e '.steps[] | select(.name=="teardown") | .state == "succeeded" and .attempts == 2' r-td/report.json

"$REBOUND" run --run-dir r-int "${TK[@]}" --max-lua-instructions 100000000000 "$F/interrupt_write.lua" >int.out 2>&1 &
pid=$!
sleep 0.7
kill -INT $pid
wait $pid
rc=$?
check "interrupted (exit $rc)" test "$rc" -eq 130
check "no write after the interrupt" bash -c "! grep -q after-interrupt log.txt 2>/dev/null"

expect 3 'needs confirmation' "$REBOUND" run --run-dir r-blk "${TK[@]}" "$F/blocked_pcall.lua"
expect 0 'succeeded' "$REBOUND" resume --confirm r-blk
check "destroyed once after confirmation" test "$(grep -c ' scratch$' log.txt)" -eq 1

: >calls.txt
expect 1 '' "$REBOUND" run --run-dir r-rerun "${TK[@]}" "$F/always_rerun.lua"
expect 0 'succeeded' "$REBOUND" resume r-rerun
check "teardown ran again on resume (2 record calls)" test "$(grep -c '^record run$' calls.txt)" -eq 2
check "cleanup recorded twice (two keys)" test "$(grep -c ' cleanup$' log.txt)" -eq 2

expect 1 'read-only' "$REBOUND" run --run-dir r-frz -P p=orig "$F/unfreeze.lua"
check "the shared ctx stayed frozen" jq -e '.steps[] | select(.name=="b") | .outputs.seen == "orig"' r-frz/report.json

# A relative --config is remembered as an absolute path for resume.
mkdir -p cfgdir && printf 'run:\n  parallel: 2\n' >cfgdir/cfg.yaml
(cd cfgdir && "$REBOUND" run -c cfg.yaml --run-dir "$TMP/r-cfg" "${TK[@]}" "$F/step_error.lua" >/dev/null 2>&1)
check "config path journaled absolute" bash -c "head -1 r-cfg/journal.jsonl | jq -e '.config | startswith(\"/\")' >/dev/null"
finish
