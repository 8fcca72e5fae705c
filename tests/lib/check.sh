# The checks every shell test counts: check DESCRIPTION COMMAND... passes
# when the command succeeds; finish prints the tally and fails the test if
# any check failed. Source from a test.
# shellcheck shell=bash
export NO_COLOR=1
PASSED=0 FAILED=0
fail() { echo "FAIL: $*" >&2; FAILED=$((FAILED + 1)); }
check() { local what=$1; shift; if "$@"; then PASSED=$((PASSED + 1)); else fail "$what"; fi; }
finish() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" -eq 0 ]; }
