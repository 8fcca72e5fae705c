#!/usr/bin/env bash
# Greps every artifact the Azure tests left (HTTP traces, error logs, test
# output) for the test secrets: any hit fails. Prints file names only, never
# the matching lines (they would leak the secret into the test log).
set -u
dir="$1"
[ -d "$dir" ] || { echo "no artifacts in $dir"; exit 1; }
n=$(find "$dir" -type f \( -name '*.trace' -o -name '*.log' -o -name '*.out' \) | wc -l)
[ "$n" -gt 0 ] || { echo "no artifacts to check in $dir"; exit 1; }
fixed=(
  'Cl1ent-S3cret-do-not-leak-4242'
  'TESTTOKEN'
  'IdentityHeader-do-not-leak-77'
  'FEDERATED-ASSERTION-do-not-leak-99'
  'CLITOKEN-do-not-leak-55'
  'FILETOKEN-do-not-leak-33'
  'SIGNATURE-do-not-leak'
  'static-token-for-fuzzing'
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
)
patterns=(
  'sig=[A-Za-z0-9%+/]'            # a SAS signature
  'SharedKey [^ :]+:[A-Za-z0-9+/]' # a Shared Key signature
  'eyJ[A-Za-z0-9_-]{10,}\.'       # a JWT (client assertion, token)
  'client_secret=[^*&]'
  'client_assertion=[^*&]'
)
fail=0
files=$(find "$dir" -type f \( -name '*.trace' -o -name '*.log' -o -name '*.out' \))
for s in "${fixed[@]}"; do
  hits=$(grep -l -F -- "$s" $files 2>/dev/null)
  if [ -n "$hits" ]; then echo "LEAK of a test secret (${s:0:6}...) in: $hits"; fail=1; fi
done
for p in "${patterns[@]}"; do
  hits=$(grep -l -E -- "$p" $files 2>/dev/null)
  if [ -n "$hits" ]; then echo "LEAK matching /$p/ in: $hits"; fail=1; fi
done
[ "$fail" -eq 0 ] && echo "checked $n artifacts: no secret found"
exit "$fail"
