#!/bin/sh
# usage: exports.sh DIR...  -- every *.so in each DIR exports only rb_plugin_init.
set -eu
bad=0 n=0
for dir in "$@"; do
    for so in "$dir"/*.so; do
        [ -e "$so" ] || continue
        n=$((n + 1))
        syms=$(nm -D --defined-only "$so" | awk '{print $3}' | sort | tr '\n' ' ')
        if [ "$syms" = "rb_plugin_init " ]; then
            echo "ok    $so"
        else
            echo "FAIL  $so exports: $syms"
            bad=1
        fi
    done
done
[ "$n" -gt 0 ] || { echo "FAIL: no plugins found in $*"; exit 1; }
exit $bad
