# Shared by the vault tests: scratch directory, keys, a config, and the
# expect/check helpers of tests/cli/lib.sh.
set -u
: "${REBOUND:?REBOUND must point at the rebound binary}"
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

# make_keys: sign.pem/pub.pem (the vault's pair), other_pub.pem (another
# Ed25519 key), rsa_pub.pem (not Ed25519).
make_keys() {
  openssl genpkey -algorithm ed25519 -out sign.pem 2>/dev/null
  openssl pkey -in sign.pem -pubout -out pub.pem
  openssl genpkey -algorithm ed25519 -out other.pem 2>/dev/null
  openssl pkey -in other.pem -pubout -out other_pub.pem
  openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out rsa.pem 2>/dev/null
  openssl pkey -in rsa.pem -pubout -out rsa_pub.pem
}

# write_config FILE VAULT_DIR PUBKEY [BLOCK_SIZE]
write_config() {
  cat >"$1" <<EOT
vault:
  kind: local
  path: $2
  signing_key_file: $TMP/sign.pem
  public_key_file: $3
  block_size: ${4:-1MiB}
  min_retention_days: 30
EOT
}

# flip_byte FILE OFFSET: invert one byte in place (the object is read-only).
flip_byte() {
  chmod u+w "$1"
  local b
  b=$(dd if="$1" bs=1 skip="$2" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
  printf "$(printf '\\%03o' $(( (b ^ 255) & 255 )))" |
    dd of="$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
  chmod a-w "$1"
}
