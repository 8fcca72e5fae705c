#!/usr/bin/env bash
# Every kind of bad input gets its documented message and exit code 2.
. "$(dirname "$0")/lib.sh"
F=$FIXTURES
TK=(--plugin-dir "$TESTKIT_DIR")

expect 2 'bad\.yaml:3:[0-9]+: ' "$REBOUND" validate --config "$F/bad.yaml"
expect 2 'unknown_key\.yaml:2:3: .*"paralel"' "$REBOUND" validate --config "$F/unknown_key.yaml"
expect 2 'config error: .*nosuch\.yaml' "$REBOUND" plan --config "$F/nosuch.yaml" "$F/ok.lua"
expect 2 'syntax\.lua:3: .*expected' "$REBOUND" plan "${TK[@]}" "$F/syntax.lua"
expect 2 'runtime_error\.lua:3: attempt to index a nil value' "$REBOUND" plan "${TK[@]}" "$F/runtime_error.lua"
expect 2 'dependency cycle: .*"a" \(.*cycle\.lua:2\) needs "c"' "$REBOUND" plan "${TK[@]}" "$F/cycle.lua"
expect 2 'step "b" \(.*unknown_dep\.lua:3\) needs "nope", which is not a step' "$REBOUND" validate "${TK[@]}" "$F/unknown_dep.lua"
expect 2 'duplicate step "a": declared at .*duplicate\.lua:2 and again at .*duplicate\.lua:3' "$REBOUND" run "${TK[@]}" "$F/duplicate.lua"
expect 2 'missing_plugin\.lua:2: plugin "nosuchplugin" not found' "$REBOUND" plan "${TK[@]}" "$F/missing_plugin.lua"
expect 2 'unknown_field\.lua:2: step "a": unknown field "neeeds"' "$REBOUND" plan "${TK[@]}" "$F/unknown_field.lua"

# Plugins the loader refuses: each refusal names the path and the reason,
# and the run goes on unless the playbook needs that plugin.
B=(--plugin-dir "$TESTKIT_DIR" --plugin-dir "$BAD_PLUGIN_DIR")
expect 0 'bad_abi\.so.*ABI' "$REBOUND" plugins list "${B[@]}"
expect 0 'no_entry\.so.*rb_plugin_init' "$REBOUND" plugins list "${B[@]}"
expect 0 'garbage\.so' "$REBOUND" plugins list "${B[@]}"
expect 2 'plugin "bad_abi" is not available: .*bad_abi\.so was refused: .*ABI' "$REBOUND" plan "${B[@]}" "$F/needs_bad_abi.lua"
expect 0 'refused' "$REBOUND" plan "${B[@]}" "$F/ok.lua"

# Runaway playbooks stop with a clear message.
expect 2 'instructions\.lua:3: playbook exceeded its instruction limit' "$REBOUND" plan "${TK[@]}" --max-lua-instructions 1000000 "$F/instructions.lua"
expect 2 'playbook error: step "spin": .*instruction limit' "$REBOUND" run --run-dir r-spin "${TK[@]}" --max-lua-instructions 1000000 "$F/instructions_step.lua"
expect 2 'playbook exceeded its memory limit \(16 MiB\)' "$REBOUND" plan "${TK[@]}" --max-lua-memory 16 "$F/memory.lua"
expect 2 'memory_pcall\.lua:[0-9]+: playbook exceeded its memory limit' "$REBOUND" run --run-dir r-mem "${TK[@]}" --max-lua-memory 16 "$F/memory_pcall.lua"

# The shared ctx is frozen but fully readable, and converts to its values.
expect 0 'succeeded' "$REBOUND" run --run-dir r-frozen "${TK[@]}" -P a=x -P b=2 "$F/frozen_ctx.lua"
check "frozen ctx: pairs, next, copy out, write refused" \
  jq -e '.steps[0].outputs | .keys == ["a","b"] and .first and .copy == {"a":"x","b":2} and .write_refused and (.message | test("read-only"))' r-frozen/report.json

# Sandbox escapes are refused at the line that tries them.
expect 2 "escape_io\.lua:2: attempt to index a nil value \(global 'io'\)" "$REBOUND" plan "${TK[@]}" "$F/escape_io.lua"
expect 2 "escape_os\.lua:2: attempt to call a nil value \(field 'execute'\)" "$REBOUND" plan "${TK[@]}" "$F/escape_os.lua"
check "os.execute did not run" test ! -e pwned
expect 2 'escape_bytecode\.lua:2: .*binary chunks' "$REBOUND" plan "${TK[@]}" "$F/escape_bytecode.lua"
expect 2 "escape_dump\.lua:2: attempt to call a nil value \(field 'dump'\)" "$REBOUND" plan "${TK[@]}" "$F/escape_dump.lua"
expect 2 "escape_debug\.lua:2: attempt to index a nil value \(global 'debug'\)" "$REBOUND" plan "${TK[@]}" "$F/escape_debug.lua"
expect 2 'escape_require\.lua:2: require "\.\./\.\./etc/passwd": module names' "$REBOUND" plan "${TK[@]}" "$F/escape_require.lua"
expect 2 "escape_loadfile\.lua:2: attempt to call a nil value \(global 'dofile'\)" "$REBOUND" plan "${TK[@]}" "$F/escape_loadfile.lua"

# Usage errors.
expect 2 'unknown command "frobnicate"' "$REBOUND" frobnicate
expect 2 'unknown option --nope' "$REBOUND" plan --nope x.lua
expect 2 'give one playbook' "$REBOUND" run
expect 2 'missing required parameter "key"' "$REBOUND" plan "${TK[@]}" "$F/retry.lua"
expect 2 'unknown parameter "kye"' "$REBOUND" plan "${TK[@]}" -P key=1 -P kye=2 "$F/retry.lua"
expect 2 '--parallel needs a number' "$REBOUND" run --parallel 0 "$F/ok.lua"

# Errors inside a step fail the step (exit 1) with file:line and a traceback,
# and its dependents are skipped.
expect 1 'step_error\.lua:4: attempt to index a nil value' "$REBOUND" run --run-dir r-err "${TK[@]}" "$F/step_error.lua"
check "dependent skipped" grep -q '"after".*' r-err/report.json
expect 1 'declared read but calls write action testkit\.record' "$REBOUND" run --run-dir r-eff "${TK[@]}" "$F/effect_mismatch.lua"
expect 1 'testkit\.sleep: .*"ms".*integer' "$REBOUND" run --run-dir r-args "${TK[@]}" "$F/bad_args.lua"
# A second run into the same directory is refused, pointing at resume.
expect 2 'rebound resume' "$REBOUND" run --run-dir r-err "${TK[@]}" "$F/step_error.lua"
finish
