# bench/lro.sh: the `lro` benchmark, sourced by bench/run.sh (which provides
# $root, rb_need_apt and measure).
#
# One rebound process runs a playbook of 1,000 independent steps, each an
# azprobe.put (an ARM PUT through the plugin host table, waiting for the
# long-running operation) of a distinct SQL server that azsim turns into a
# 2-second LRO, with --parallel 1000; then the same with 1 step. Figures:
# the runner's own wall (report.json wall_s) of both, their ratio, the
# process wall and peak RSS (/usr/bin/time), CPU of rebound and azsim, and
# the requests azsim saw. Knobs (environment):
#   BENCH_LRO_STEPS        concurrent steps (default 1000)
#   BENCH_LRO_SECONDS      duration of each operation on azsim (default 2)
#   BENCH_LRO_RETRY_AFTER  azsim's Retry-After for LROs, seconds (default 1,
#                          azsim's own default: a 2 s LRO is polled twice)
# shellcheck shell=bash disable=SC2154  # root, *_wall, *_rss, *_cpu: set by run.sh / printf -v

build_lro() {
  local build="$root/build/bench-lro"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DREBOUND_TESTS=ON >/dev/null
  cmake --build "$build" -j "$(nproc)" --target rebound rebound-azsim azprobe >/dev/null
  REBOUND="$build/runner/rebound"
  AZSIM="$build/sim/rebound-azsim"
  AZPROBE_DIR="$build/tests/azprobe-plugins"
}

# lro_playbook N PREFIX: N independent azprobe.put steps, one resource each.
lro_playbook() {
  cat <<LUA
playbook { name = "lro-$1" }
local az = plugin "azprobe"
local RG = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-bench"
for i = 1, $1 do
  step("put-" .. i) {
    effect = "write",
    run = function()
      return az.put { path = RG .. "/providers/Microsoft.Sql/servers/bench-$2-" .. i,
                      api_version = "2021-11-01",
                      body = { location = "westeurope",
                               properties = { administratorLogin = "dba" } } }
    end,
  }
end
LUA
}

# CPU seconds (user + system) a process has used so far.
proc_cpu_s() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}

# measure_lro PREFIX cmd...: like measure, plus CPU seconds (user + system).
measure_lro() {
  local prefix=$1
  shift
  local t
  t=$(mktemp)
  /usr/bin/time -f "%e %M %U %S" -o "$t" "$@" >"$t.out" 2>&1 || {
    echo "bench: command failed: $*" >&2
    tail -20 "$t.out" >&2
    exit 1
  }
  local wall rss user sys
  read -r wall rss user sys <"$t"
  printf -v "${prefix}_wall" '%s' "$wall"
  printf -v "${prefix}_rss" '%s' "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
  printf -v "${prefix}_cpu" '%s' "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
  rm -f "$t" "$t.out"
}

bench_lro() {
  rb_need_apt time
  build_lro
  local steps=${BENCH_LRO_STEPS:-1000} secs=${BENCH_LRO_SECONDS:-2}
  local retry_after=${BENCH_LRO_RETRY_AFTER:-1}
  local work
  work=$(mktemp -d)
  LRO_WORK=$work
  LRO_AZSIM_PID=
  # Stop azsim (the process this bench started, by its pid) and clean up,
  # however the bench ends.
  trap 'lro_cleanup' EXIT
  cd "$work" || exit 1

  local tenant=11111111-1111-1111-1111-111111111111
  local sub=22222222-2222-2222-2222-222222222222
  local secret=bench-lro-client-secret
  cat >estate.yaml <<YAML
tenant: $tenant
identity:
  clients:
    - {client_id: rebound-bench, secret: "$secret"}
subscriptions:
  - id: $sub
    name: Bench
    resource_groups:
      - {name: rg-bench, location: westeurope}
YAML
  # Loopback, ephemeral ports; bounded wait for the ready file.
  T=$tenant
  azsim_start estate.yaml
  LRO_AZSIM_PID=$AZSIM_PID
  local ctl=$CTL
  azsim_yaml rebound-bench REBOUND_BENCH_SECRET >rebound.yaml
  export REBOUND_BENCH_SECRET="$secret"
  # Every PUT of a bench-* SQL server becomes a $secs-second LRO
  # (Azure-AsyncOperation + Location, Retry-After: $retry_after).
  curl -sf -m 10 -X POST "$ctl/lro" \
    -d "{\"method\":\"PUT\",\"path\":\"*/providers/Microsoft.Sql/servers/bench-*\",\"seconds\":$secs}" >/dev/null
  curl -sf -m 10 -X PUT "$ctl/settings" -d "{\"lro_retry_after\":$retry_after}" >/dev/null

  lro_playbook 1 single >single.lua
  lro_playbook "$steps" many >many.lua
  local pd=(--plugin-dir "$AZPROBE_DIR")
  # Warm the page cache (binaries, plugin) so the first run is not a disk read.
  "$REBOUND" validate "${pd[@]}" single.lua >/dev/null

  # One LRO alone.
  measure_lro one "$REBOUND" run -q --no-progress "${pd[@]}" --parallel 1 --run-dir run1 single.lua
  jq -e '.status == "succeeded"' run1/report.json >/dev/null
  curl -sf -m 10 -X DELETE "$ctl/counters" >/dev/null

  # $steps at once, in one process.
  local az0 az1
  az0=$(proc_cpu_s "$LRO_AZSIM_PID")
  measure_lro many "$REBOUND" run -q --no-progress "${pd[@]}" --parallel "$steps" --run-dir runN many.lua
  az1=$(proc_cpu_s "$LRO_AZSIM_PID")
  jq -e --argjson n "$steps" '.status == "succeeded" and
      ([.steps[] | select(.state == "succeeded")] | length) == $n' runN/report.json >/dev/null || {
    echo "bench: the $steps-step run did not succeed" >&2
    exit 1
  }
  local requests tokens puts
  requests=$(curl -sf -m 10 "$ctl/counters" | jq .count)
  tokens=$(curl -sf -m 10 "$ctl/counters?method=POST&path=*/oauth2/v2.0/token" | jq .count)
  puts=$(curl -sf -m 10 "$ctl/counters?method=PUT&path=*/servers/bench-many-*" | jq .count)

  local wall single ratio azcpu p50 p100
  wall=$(jq .wall_s runN/report.json)
  single=$(jq .wall_s run1/report.json)
  ratio=$(awk -v a="$wall" -v b="$single" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
  azcpu=$(awk -v a="$az0" -v b="$az1" 'BEGIN { printf "%.2f", b - a }')
  # Step durations of the big run: median and slowest.
  p50=$(jq '[.steps[].duration_s] | sort | .[length / 2 | floor]' runN/report.json)
  p100=$(jq '[.steps[].duration_s] | max' runN/report.json)
  echo "lro: 1 LRO of ${secs}s alone: ${single}s (process ${one_wall}s)"
  echo "lro: $steps LROs at once: ${wall}s (process ${many_wall}s, ${many_rss} MiB peak), ratio ${ratio}"
  echo "lro: step durations median ${p50}s, max ${p100}s; $requests requests to azsim ($puts PUTs, $tokens token)"
  echo "lro: CPU: rebound ${many_cpu}s, azsim ${azcpu}s (Retry-After ${retry_after}s, $(nproc) CPUs)"
  jq -cn --argjson n "$steps" --argjson wall "$wall" --argjson single "$single" \
    --argjson ratio "$ratio" --argjson peak "$many_rss" --argjson pwall "$many_wall" \
    --argjson spwall "$one_wall" --argjson secs "$secs" --argjson ra "$retry_after" \
    --argjson req "$requests" --argjson tok "$tokens" --argjson rcpu "$many_cpu" \
    --argjson acpu "$azcpu" --argjson p50 "$p50" --argjson pmax "$p100" --argjson cpus "$(nproc)" \
    '{bench:"lro", concurrent:$n, wall_s:$wall, single_wall_s:$single, ratio:$ratio,
      peak_rss_mib:$peak, process_wall_s:$pwall, single_process_wall_s:$spwall,
      lro_seconds:$secs, retry_after_s:$ra, step_p50_s:$p50, step_max_s:$pmax,
      azsim_requests:$req, token_requests:$tok, rebound_cpu_s:$rcpu, azsim_cpu_s:$acpu,
      cpus:$cpus, ratio_ok:($ratio <= 1.25), rss_ok:($peak <= 100)}'
}

lro_cleanup() {
  # azsim_start exits itself when azsim fails to start: its pid is then
  # only in AZSIM_PID.
  LRO_AZSIM_PID=${LRO_AZSIM_PID:-${AZSIM_PID:-}}
  if [ -n "${LRO_AZSIM_PID:-}" ]; then
    kill "$LRO_AZSIM_PID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$LRO_AZSIM_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$LRO_AZSIM_PID" 2>/dev/null || true
    wait "$LRO_AZSIM_PID" 2>/dev/null || true
  fi
  [ -n "${LRO_WORK:-}" ] && rm -rf "$LRO_WORK"
  return 0
}
