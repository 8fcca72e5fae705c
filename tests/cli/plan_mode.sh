#!/usr/bin/env bash
# Plan mode runs read actions, asks write and destructive actions for
# predictions only, never calls their run(), and writes nothing.
. "$(dirname "$0")/lib.sh"
export REBOUND_TESTKIT_CALLS="$TMP/calls.txt" REBOUND_TESTKIT_LOG="$TMP/log.txt"
TK=(--plugin-dir "$TESTKIT_DIR")
expect 0 'Layer 4' "$REBOUND" plan "${TK[@]}" "$FIXTURES/plan_writes.lua"
check "read action ran" grep -qx 'echo run' calls.txt
check "write action was asked to plan" grep -qx 'record plan' calls.txt
check "destructive action was asked to plan" grep -qx 'destroy plan' calls.txt
check "no write run() in plan mode" bash -c '! grep -q "record run\|destroy run" calls.txt'
check "no side effects in plan mode" test ! -s log.txt
check "plan wrote no run directory" test ! -e .rebound
expect 0 '"schema":[[:space:]]*"rebound.plan/1"' "$REBOUND" plan "${TK[@]}" --output json "$FIXTURES/plan_writes.lua"
# Predicted outputs flow to later steps.
check "predicted outputs flow" bash -c "$REBOUND plan ${TK[*]} --output json $FIXTURES/plan_writes.lua 2>/dev/null | jq -e '.steps[] | select(.name==\"after\") | .outputs.saw == \"planned\"' >/dev/null"
finish
