#!/usr/bin/env bash
# The README's demo: installs what is missing (apt), builds rebound, and runs
# the shipped sample playbook on embedded defaults: a tabletop plan, a live
# run, then a drill into the default (scratch) drill target. Prints where
# the reports are. Safe to run again; a second run is quick.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/deps.sh
. "$root/scripts/lib/deps.sh"

rb_need_apt
build="$root/build/demo"
echo "==> building rebound (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DREBOUND_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
rebound="$build/runner/rebound"
playbook="$root/playbooks/sample.lua"
work="$root/.rebound/demo"
mkdir -p "$work"
cd "$work"

echo
"$rebound" version
echo
echo "==> rebound plan $playbook   (tabletop: read actions only, writes predicted)"
"$rebound" plan --no-progress "$playbook"
echo
echo "==> rebound run $playbook"
"$rebound" run --no-progress -P label=demo "$playbook"
echo
echo "==> rebound drill $playbook   (restores go to an isolated scratch target)"
"$rebound" drill --no-progress -P label=demo "$playbook"
echo
echo "==> rebound plan again: estimates now come from the recorded runs"
"$rebound" plan --no-progress "$playbook" | tail -3
latest=$(ls -td "$work"/.rebound/runs/*/ | head -1)
echo
echo "Reports of the last run: ${latest}report.json, ${latest}junit.xml, ${latest}summary.txt"
