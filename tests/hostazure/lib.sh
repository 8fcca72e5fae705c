# Shared by the host-table tests: a scratch directory (kept with KEEP=1),
# azsim stopped on exit, the checks. Source first.
# shellcheck shell=bash
set -u
: "${REBOUND:?}" "${AZSIM:?}" "${AZPROBE_DIR:?}"
TMP="$(mktemp -d)"
# shellcheck source=../lib/azsim.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/azsim.sh"
# shellcheck source=../lib/check.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/check.sh"
cleanup() {
  azsim_stop
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
cd "$TMP"
