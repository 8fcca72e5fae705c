# Shared helpers for the azsim tests: start rebound-azsim on ephemeral ports,
# talk to it with curl, assert statuses and error codes.
# Needs: curl, jq, openssl (CLI). Usage: AZSIM=path/to/rebound-azsim; . lib.sh
# shellcheck shell=bash
set -euo pipefail

for tool in curl jq openssl; do
  command -v "$tool" >/dev/null || { echo "azsim tests need $tool" >&2; exit 1; }
done

: "${AZSIM:?set AZSIM to the rebound-azsim binary}"
: "${AZSIM_ESTATE:=$(dirname "${BASH_SOURCE[0]}")/estate.yaml}"
T=11111111-1111-1111-1111-111111111111
S=22222222-2222-2222-2222-222222222222
RGA=/subscriptions/$S/resourceGroups/rg-app
RGB=/subscriptions/$S/resourceGroups/rg-backup
SA=$RGB/providers/Microsoft.Storage/storageAccounts/stbackup
CONT=$SA/blobServices/default/containers
FAILS=0
CHECKS=0

WORK=$(mktemp -d "${TMPDIR:-/tmp}/azsim-test.XXXXXX")
AZSIM_PID=

azsim_stop() {
  if [ -n "$AZSIM_PID" ] && kill -0 "$AZSIM_PID" 2>/dev/null; then
    kill "$AZSIM_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$AZSIM_PID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$AZSIM_PID" 2>/dev/null || true
  fi
  wait "$AZSIM_PID" 2>/dev/null || true
  AZSIM_PID=
  # ASan reports land in the server log: a test fails if the server had one.
  if grep -q "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" "$WORK/azsim.log" 2>/dev/null; then
    echo "FAIL: azsim reported a sanitizer error:" >&2
    grep -A30 "ERROR: \|runtime error:" "$WORK/azsim.log" | head -60 >&2
    FAILS=$((FAILS + 1))
  fi
}

finish() {
  local rc=$?
  azsim_stop
  if [ "$rc" -ne 0 ] || [ "$FAILS" -ne 0 ]; then
    local keep="${TMPDIR:-/tmp}/azsim-failed-$(basename "$0" .sh)-$$.log"
    cp "$WORK/azsim.log" "$keep" 2>/dev/null && echo "azsim log kept in $keep" >&2
  fi
  rm -rf "$WORK"
  if [ "$rc" -ne 0 ]; then
    echo "FAIL: the test script stopped early (exit $rc) after $CHECKS checks" >&2
    FAILS=$((FAILS + 1))
  fi
  echo "$CHECKS checks, $FAILS failed"
  [ "$FAILS" -eq 0 ] && exit 0
  exit 1
}

# azsim_start [estate] — waits (bounded, 20 s) for the ready file.
azsim_start() {
  local estate=${1:-$AZSIM_ESTATE}
  rm -f "$WORK/ready.json"
  "$AZSIM" serve --estate "$estate" --ready-file "$WORK/ready.json" --tls-dir "$WORK/tls" \
    >"$WORK/azsim.log" 2>&1 &
  AZSIM_PID=$!
  for _ in $(seq 400); do
    [ -s "$WORK/ready.json" ] && break
    kill -0 "$AZSIM_PID" 2>/dev/null || { cat "$WORK/azsim.log" >&2; echo "azsim died" >&2; exit 1; }
    sleep 0.05
  done
  [ -s "$WORK/ready.json" ] || { echo "azsim not ready in time" >&2; exit 1; }
  P=$(jq -r .port "$WORK/ready.json")
  CPORT=$(jq -r .control_port "$WORK/ready.json")
  CA=$(jq -r .ca "$WORK/ready.json")
  B=https://127.0.0.1:$P
  CT=http://127.0.0.1:$CPORT
}

# ---- raw calls: each sets STATUS, BODY (file $WORK/body), HDRS ($WORK/hdrs) ----
STATUS=
_curl() {
  STATUS=$(curl -sS --max-time 30 --cacert "$CA" -o "$WORK/body" -D "$WORK/hdrs" -w '%{http_code}' "$@" || true)
}
body() { cat "$WORK/body"; }
jbody() { jq -r "$1" "$WORK/body" 2>/dev/null || true; }
header() { { grep -i "^$1:" "$WORK/hdrs" || true; } | head -1 | cut -d' ' -f2- | tr -d '\r'; }

token() { # token <resource> [client secret]
  curl -sS --max-time 30 --cacert "$CA" -d grant_type=client_credentials -d "client_id=${2:-app-secret}" \
    -d "client_secret=${3:-s3cret}" --data-urlencode "scope=$1/.default" "$B/$T/oauth2/v2.0/token" |
    jq -r .access_token
}
tokens() {
  ARM=$(token https://management.azure.com)
  KVT=$(token https://vault.azure.net)
  STT=$(token https://storage.azure.com)
}

arm() { # arm METHOD PATH [curl args...] (PATH includes the query)
  local m=$1 u=$2
  shift 2
  _curl -X "$m" -H "Authorization: Bearer $ARM" -H 'Content-Type: application/json' "$B$u" "$@"
}
kv() { # kv VAULT METHOD PATH [curl args...]
  local v=$1 m=$2 u=$3
  shift 3
  _curl --resolve "$v.vault.localhost:$P:127.0.0.1" -X "$m" -H "Authorization: Bearer $KVT" \
    -H 'Content-Type: application/json' "https://$v.vault.localhost:$P$u" "$@"
}
blob() { # blob METHOD PATH [curl args...]
  local m=$1 u=$2
  shift 2
  if [ "$m" = HEAD ]; then set -- -I "$@"; else set -- -X "$m" "$@"; fi
  _curl -H "Authorization: Bearer $STT" -H 'x-ms-version: 2021-12-02' "$B$u" "$@"
}
ctl() { # ctl METHOD PATH [json]
  STATUS=$(curl -sS --max-time 60 -o "$WORK/body" -D "$WORK/hdrs" -w '%{http_code}' -X "$1" \
    -H 'Content-Type: application/json' "$CT$2" ${3:+-d "$3"} || true)
}

# ---- assertions ----
ok() { CHECKS=$((CHECKS + 1)); echo "ok   $*"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL $*" >&2; }

expect() { # expect STATUS [CODE] description — CODE checked in JSON error or XML
  local want=$1 code=${2:-} what=${3:-}
  if [ $# -eq 2 ]; then what=$2; code=; fi
  local got_code=
  if [ -n "$code" ]; then
    got_code=$(jq -r '.error.code // empty' "$WORK/body" 2>/dev/null || true)
    [ -n "$got_code" ] || got_code=$(header x-ms-error-code)
    [ -n "$got_code" ] || got_code=$(jq -r '.error // empty' "$WORK/body" 2>/dev/null || true)
  fi
  if [ "$STATUS" = "$want" ] && { [ -z "$code" ] || [ "$got_code" = "$code" ]; }; then
    ok "$what ($STATUS${code:+ $code})"
  else
    bad "$what: want $want${code:+ $code}, got $STATUS ${got_code} $(head -c 300 "$WORK/body")"
  fi
}

check() { # check "description" command...
  local what=$1
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

eq() { [ "$1" = "$2" ] || { echo "  '$1' != '$2'" >&2; return 1; }; }
