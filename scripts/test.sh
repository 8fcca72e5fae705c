#!/usr/bin/env bash
# The README's test command: installs what is missing (apt, npm), builds with
# AddressSanitizer and UndefinedBehaviorSanitizer, and runs every test.
#   ./scripts/test.sh                 everything
#   ./scripts/test.sh -L core         only tests with a ctest label
#   ./scripts/test.sh -R loader       only tests matching a regex
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/deps.sh
. "$root/scripts/lib/deps.sh"

rb_need_apt
rb_need_npm "$root"

build="$root/build/asan"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DREBOUND_SANITIZE=ON \
      -DREBOUND_WERROR=ON -DREBOUND_TESTS=ON >/dev/null
cmake --build "$build" -j "$(nproc)"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@"
