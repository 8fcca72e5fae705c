# The tests' azsim helpers live with the scripts (the demo and the
# benchmarks use them too): scripts/lib/azsim.sh.
# shellcheck shell=bash
# shellcheck source=../../scripts/lib/azsim.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/azsim.sh"
