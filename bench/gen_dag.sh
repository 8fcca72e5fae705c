#!/usr/bin/env bash
# gen_dag.sh STEPS WIDTH SEED > playbook.lua
# A random DAG of no-op steps, about WIDTH wide: step i needs up to 3
# random steps of the previous layer. Written out in full (not generated at
# load time) so loading cost is what a real, large playbook costs.
set -euo pipefail
steps=$1 width=$2 seed=$3
awk -v n="$steps" -v w="$width" -v seed="$seed" 'BEGIN {
  srand(seed)
  print "playbook { name = \"bench-" n "\" }"
  print "local noop = plugin \"noop\""
  print "local function body(id) return function() return noop.touch { id = id } end end"
  for (i = 0; i < n; i++) {
    layer = int(i / w)
    needs = ""
    if (layer > 0) {
      k = 1 + int(rand() * 3)
      for (j = 0; j < k; j++) {
        d = (layer - 1) * w + int(rand() * w)
        needs = needs sprintf("\"s%d\", ", d)
      }
    }
    printf "step \"s%d\" { needs = { %s}, effect = \"write\", run = body(\"s%d\") }\n", i, needs, i
  }
}'
