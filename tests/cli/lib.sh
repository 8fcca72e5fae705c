# Shared by the CLI tests: a scratch directory, and expect() which runs a
# command and checks its exit code and that its output matches a pattern.
set -u
: "${REBOUND:?REBOUND must point at the rebound binary}"
: "${FIXTURES:?}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
export NO_COLOR=1
PASSED=0
FAILED=0

fail() {
  echo "FAIL: $*" >&2
  FAILED=$((FAILED + 1))
}

# expect CODE REGEX cmd args... : exit code and a match in stdout+stderr.
expect() {
  local code=$1 pat=$2
  shift 2
  "$@" >out.txt 2>err.txt
  local rc=$?
  if [ "$rc" -ne "$code" ]; then
    fail "$* exited $rc, expected $code"
    sed 's/^/  | /' out.txt err.txt >&2
    return 1
  fi
  if ! grep -qE -- "$pat" out.txt err.txt; then
    fail "$*: output does not match /$pat/"
    sed 's/^/  | /' out.txt err.txt >&2
    return 1
  fi
  PASSED=$((PASSED + 1))
  return 0
}

check() { # check "description" test-command...
  local what=$1
  shift
  if "$@"; then PASSED=$((PASSED + 1)); else fail "$what"; fi
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
