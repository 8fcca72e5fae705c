#!/usr/bin/env bash
# bench/run.sh BENCH: runs one benchmark and prints its figures; the last
# line is one JSON object. Builds what it needs (Release) and installs its
# peers through apt/npm.
#   engine   10,000-step no-op playbook (plan + run), 1,000 steps vs ansible
#   lro      1,000 concurrent 2-second long-running ARM PUTs against azsim
#            from one rebound process, vs one alone (see docs/benchmarks.md)
#   vault    1 GiB into Azurite: rebound vault put vs curl -T vs azcopy, then
#            rebound vault verify vs curl GET (see docs/vault.md)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/lib/deps.sh
. "$root/scripts/lib/deps.sh"

usage() {
  echo "usage: bench/run.sh engine|lro|vault" >&2
  exit 2
}
[ $# -eq 1 ] || usage

build_release() {
  local build="$root/build/bench"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DREBOUND_TESTS=OFF >/dev/null
  cmake --build "$build" -j "$(nproc)" >/dev/null
  REBOUND="$build/runner/rebound"
  PLUGINS="$build/lib/rebound/plugins"
}

# measure OUT_PREFIX cmd...: wall seconds and peak RSS (MiB) of one command.
measure() {
  local prefix=$1
  shift
  local t
  t=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$t" "$@" >/dev/null 2>"$t.err" || {
    echo "bench: command failed: $*" >&2
    cat "$t.err" >&2
    exit 1
  }
  read -r wall rss <"$t"
  printf -v "${prefix}_wall" '%s' "$wall"
  printf -v "${prefix}_rss" '%s' "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
  rm -f "$t" "$t.err"
}

bench_engine() {
  rb_need_apt ansible-core time
  build_release
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  "$root/bench/gen_dag.sh" 10000 100 1 >"$work/dag10k.lua"
  "$root/bench/gen_dag.sh" 1000 1 1 >"$work/chain1k.lua"
  cd "$work"
  local common=(-q --no-progress --parallel 100 --plugin-dir "$PLUGINS")
  # Warm the page cache so the first measurement is not a disk read.
  "$REBOUND" validate --plugin-dir "$PLUGINS" dag10k.lua >/dev/null
  measure plan "$REBOUND" plan "${common[@]}" dag10k.lua
  measure run "$REBOUND" run "${common[@]}" --run-dir run10k dag10k.lua
  jq -e '.status == "succeeded"' run10k/report.json >/dev/null

  # 1,000 sequential steps: rebound vs ansible-playbook with 1,000 debug
  # tasks on localhost, in this same run.
  measure r1k "$REBOUND" run -q --no-progress --plugin-dir "$PLUGINS" --run-dir run1k chain1k.lua
  {
    echo "- hosts: localhost"
    echo "  connection: local"
    echo "  gather_facts: false"
    echo "  tasks:"
    for i in $(seq 1000); do
      echo "    - debug: { msg: \"step $i\" }"
    done
  } >ansible1k.yml
  export ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
  measure a1k ansible-playbook -i localhost, ansible1k.yml

  local wall peak speedup
  wall=$(awk -v a="$plan_wall" -v b="$run_wall" 'BEGIN { printf "%.3f", a + b }')
  peak=$(awk -v a="$plan_rss" -v b="$run_rss" 'BEGIN { print (a > b ? a : b) }')
  speedup=$(awk -v r="$r1k_wall" -v a="$a1k_wall" 'BEGIN { printf "%.1f", (r > 0 ? a / r : 0) }')
  echo "engine: 10,000 steps: plan ${plan_wall}s (${plan_rss} MiB), run ${run_wall}s (${run_rss} MiB)"
  echo "engine: 1,000 steps: rebound ${r1k_wall}s, ansible-playbook ${a1k_wall}s, speedup ${speedup}x"
  jq -cn --argjson steps 10000 --argjson wall "$wall" --argjson peak "$peak" \
    --argjson plan "$plan_wall" --argjson run "$run_wall" \
    --argjson r1k "$r1k_wall" --argjson a1k "$a1k_wall" --argjson sp "$speedup" \
    '{bench:"engine", steps:$steps, wall_s:$wall, peak_rss_mib:$peak, plan_wall_s:$plan,
      run_wall_s:$run, rebound_1000_wall_s:$r1k, ansible_1000_wall_s:$a1k,
      speedup_vs_ansible:$sp}'
}

# shellcheck source=../scripts/lib/azsim.sh
. "$root/scripts/lib/azsim.sh" # azsim_start, azsim_yaml
# shellcheck source=lro.sh
. "$root/bench/lro.sh"
# shellcheck source=vault.sh
. "$root/bench/vault.sh"

case "$1" in
engine) bench_engine ;;
lro) bench_lro ;;
vault) bench_vault ;;
*) usage ;;
esac
