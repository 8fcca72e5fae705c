#!/usr/bin/env bash
# Bounded fuzz: 10,000 random and malformed requests must not crash azsim
# (ASan/UBSan build), must never produce a 500, and every error body must be
# Azure-shaped. Afterwards azsim still answers normally.
. "$(dirname "$0")/lib.sh"
trap finish EXIT
FUZZ=${1:?usage: test_fuzz.sh path/to/azsim_fuzz}
N=${AZSIM_FUZZ_N:-10000}
# the shared estate plus Azure DevOps, so the fuzz reaches the git routes
cp "$AZSIM_ESTATE" "$WORK/fuzz-estate.yaml"
if command -v git >/dev/null; then
  printf '%s\n' 'devops:' '  pats: [fuzz-pat]' '  organizations:' '    - name: contoso' '      projects:' \
    '        - name: app' '          repos:' '            - {name: web, files: {"a.txt": "a"}}' >>"$WORK/fuzz-estate.yaml"
fi
azsim_start "$WORK/fuzz-estate.yaml"
tokens
# four concurrent clients (N/4 each, different seeds): also exercises the
# server's locking under parallel connections
SEED=${AZSIM_FUZZ_SEED:-$RANDOM}
pids=()
for i in 0 1 2 3; do
  "$FUZZ" "$P" "$CA" "$ARM" "$KVT" "$STT" $((N / 4)) "${AZSIM_FUZZ_SECONDS:-100}" $((SEED + i)) \
    >"$WORK/fuzz$i.out" 2>"$WORK/fuzz$i.err" &
  pids+=($!)
done
fails=0
for pid in "${pids[@]}"; do wait "$pid" || fails=$((fails + 1)); done
cat "$WORK"/fuzz?.out
head -20 "$WORK"/fuzz?.err
echo "seed $SEED"
check "fuzz clients found no violations" eq "$fails" 0
done_n=$(cat "$WORK"/fuzz?.out | grep -o 'fuzz: [0-9]*' | awk '{s += $2} END {print s + 0}')
check "ran all $N requests within the time bound" test "$done_n" -ge "$N"
check "azsim process still alive" kill -0 "$AZSIM_PID"
ctl GET /health
expect 200 "control API healthy after the fuzz"
ARM=$(token https://management.azure.com)
arm GET "/subscriptions?api-version=2022-12-01"
expect 200 "ARM still serves after the fuzz"
