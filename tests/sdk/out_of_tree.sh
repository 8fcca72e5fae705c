#!/bin/sh
# sdk_example_out_of_tree: a third party's view of the SDK.
#   1. install the SDK component of this build tree into a temporary prefix;
#   2. build sdk/examples/hello with its Makefile, finding the SDK only
#      through pkg-config, and check it exports nothing but rb_plugin_init;
#   3. load it in this host and call both actions (plan and run);
#   4. list it with the real CLI (`rebound plugins list --plugin-dir`);
#   5. build it again with the CMake package (find_package(ReboundPlugin)).
# usage: out_of_tree.sh CMAKE BUILD_DIR EXAMPLE_DIR WORK_DIR PROBE REBOUND
set -eu
cmake=$1 build=$2 example=$3 work=$4 probe=$5 rebound=$6

rm -rf "$work"
mkdir -p "$work/src" "$work/run" "$work/plugins"
prefix="$work/prefix"

step() { printf '== %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

step "install the SDK into $prefix"
"$cmake" --install "$build" --prefix "$prefix" --component sdk
test -f "$prefix/include/rebound/rebound.h" || die "headers not installed"

step "build hello with make + pkg-config"
cp "$example/hello.c" "$example/Makefile" "$work/src/"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists rebound-plugin || die "pkg-config does not find rebound-plugin"
test "$(pkg-config --variable=abi_major rebound-plugin)" -ge 1 || die "abi_major missing"
test -n "$(pkg-config --variable=plugindir rebound-plugin)" || die "plugindir missing"
test -z "$(pkg-config --libs rebound-plugin)" || die "plugins must link nothing"
# Sanitizer flags from the test environment must not leak into the example.
env -u CFLAGS -u LDFLAGS make -C "$work/src" hello.so
cp "$work/src/hello.so" "$work/plugins/"

step "only rb_plugin_init is exported"
exported=$(nm -D --defined-only "$work/plugins/hello.so" | awk '{print $3}' | sort | tr '\n' ' ')
test "$exported" = "rb_plugin_init " || die "exported symbols: $exported"

step "load and call it in this host"
out=$("$probe" "$work/plugins" hello greet '{"name": "sdk"}' run "$work/run")
echo "$out"
echo "$out" | grep -q '"greeting":"Hello, sdk!"' || die "greet: $out"
out=$("$probe" "$work/plugins" hello note '{"text": "hi"}' plan "$work/run")
echo "$out"
test ! -e "$work/run/hello-probe-key.txt" || die "plan() wrote a file"
out=$("$probe" "$work/plugins" hello note '{"text": "hi"}' run "$work/run")
echo "$out" | grep -q '"created":true' || die "note: $out"
test "$(cat "$work/run/hello-probe-key.txt")" = hi || die "note did not write its file"
out=$("$probe" "$work/plugins" hello note '{"text": "hi"}' run "$work/run")
echo "$out" | grep -q '"created":false' || die "note is not idempotent: $out"

step "rebound plugins list --plugin-dir"
if "$rebound" plugins list --help >/dev/null 2>&1; then
    out=$("$rebound" plugins list --plugin-dir "$work/plugins")
    echo "$out"
    echo "$out" | grep -q "hello" || die "rebound plugins list does not show hello"
    echo "$out" | grep -q "refused" && die "rebound refused a plugin"
else
    echo "skipped: this rebound has no 'plugins list' yet"
fi

step "build hello with the CMake package"
mkdir -p "$work/cmake-src"
cp "$example/hello.c" "$example/CMakeLists.txt" "$work/cmake-src/"
env -u CFLAGS -u LDFLAGS "$cmake" -S "$work/cmake-src" -B "$work/cmake-build" \
    -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
"$cmake" --build "$work/cmake-build"
mkdir -p "$work/plugins-cmake"
cp "$work/cmake-build/hello.so" "$work/plugins-cmake/"
"$probe" "$work/plugins-cmake" hello greet '{}' run "$work/run" | grep -q 'Hello, world!' \
    || die "the CMake-built plugin does not greet"
exported=$(nm -D --defined-only "$work/plugins-cmake/hello.so" | awk '{print $3}' | tr '\n' ' ')
test "$exported" = "rb_plugin_init " || die "CMake build exports: $exported"
echo "ok"
