#!/usr/bin/env bash
# Runs the netlink addon's tests once under AddressSanitizer + UndefinedBehaviorSanitizer.
# Not part of CI: it needs root, g++ with libasan, and takes a minute or two.
#
#   scripts/asan.sh            # build an instrumented addon in a temp dir, run the netlink tests with it
#
# The regular build/ is left alone: the sanitized addon is built from a copy of binding.gyp and
# native/ and selected with ECDOCK_NATIVE. Node itself is not instrumented, so libasan is
# preloaded; child processes (ip, unshare) get a clean environment through a mocha --require hook.
# Leaks are reported by LeakSanitizer for the whole process; the run fails only on leaks whose
# allocation stack passes through native/addon.cc (Node allocates once-per-process objects it never
# frees), on any ASan memory error, and on any UBSan report from our code.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export npm_config_nodedir=/usr

[ "$(id -u)" = 0 ] || { echo "asan.sh: run as root (the netlink tests create namespaces)"; exit 2; }
libasan="$(g++ -print-file-name=libasan.so)"
[ -e "$libasan" ] || { echo "asan.sh: libasan.so not found (apt-get install g++)"; exit 2; }

work="$(mktemp -d /tmp/ecdock-asan.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp binding.gyp "$work/"
cp -r native "$work/"
ln -s "$root/node_modules" "$work/node_modules"

echo "==> building the addon with -fsanitize=address,undefined in $work"
(
  cd "$work"
  CXXFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1" \
  LDFLAGS="-fsanitize=address,undefined" \
    "$root/node_modules/.bin/node-gyp" rebuild --debug --nodedir=/usr >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
)
addon="$work/build/Debug/ecdock_native.node"
syms="$(nm -D "$addon")"; grep -q __asan_report <<<"$syms" || { echo "asan.sh: the addon is not instrumented"; exit 1; }

echo "==> compiling the tests"
npx tsc -p . >/dev/null 2>&1 || echo "asan.sh: tsc reported errors elsewhere in the tree; using the netlink tests in dist/"
ls dist/test/unit/netlink-*.test.js dist/test/integration/netlink-*.test.js >/dev/null

# Children must not inherit the preload (ip under LeakSanitizer would fail its exit status).
# Tests that start another node on purpose hand it ECDOCK_ASAN_PRELOAD back as LD_PRELOAD.
cat >"$work/clean-env.js" <<'JS'
process.env.ECDOCK_ASAN_PRELOAD = process.env.LD_PRELOAD;
for (const k of ['LD_PRELOAD', 'ASAN_OPTIONS', 'LSAN_OPTIONS', 'UBSAN_OPTIONS']) delete process.env[k];
JS

cat >"$work/ours.awk" <<'AWK'
function done_block() { if (inblock && mine) { c++; if (show) print block } inblock = 0 }
/^(Direct|Indirect) leak/ { done_block(); inblock = 1; decided = 0; mine = 0; block = $0; next }
inblock && /^ *#[0-9]+ / {
  block = block "\n" $0
  if (!decided && $0 !~ /libsanitizer|asan_|operator new|malloc|calloc|realloc|\/usr\/include\/c\+\+|std::|__gnu_cxx|libstdc\+\+/) {
    decided = 1
    mine = ($0 ~ /addon\.cc|napi-inl\.h|napi\.h/)
  }
  next
}
inblock && /^$/ { done_block(); next }
END { done_block(); if (!show) print c + 0 }
AWK

echo "==> running the netlink tests under ASan/UBSan"
set +e
ECDOCK_NATIVE="$addon" \
LD_PRELOAD="$libasan" \
ASAN_OPTIONS="exitcode=23:detect_leaks=1:handle_segv=0:allow_user_segv_handler=1:detect_odr_violation=0:log_path=$work/asan" \
LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp:print_suppressions=0" \
UBSAN_OPTIONS="print_stacktrace=1:log_path=$work/ubsan" \
  node --expose-gc "$root/node_modules/.bin/mocha" --require "$work/clean-env.js" --reporter dot --no-config --timeout 120000 --exit \
    dist/test/unit/netlink-*.test.js dist/test/integration/netlink-*.test.js 2>&1 | tee "$work/mocha.out"
status=${PIPESTATUS[0]}
set -e
# LeakSanitizer runs at exit and replaces the exit status (23) when Node's own allocations are
# reported, so the test verdict is read from mocha's summary instead.
tests_ok=0
if grep -qE '^ *[0-9]+ passing' "$work/mocha.out" && ! grep -qE '^ *[0-9]+ failing' "$work/mocha.out" && { [ "$status" = 0 ] || [ "$status" = 23 ]; }; then tests_ok=1; fi

ours=0
errors=0
for f in "$work"/asan.* "$work"/ubsan.*; do
  [ -e "$f" ] || continue
  if grep -q "ERROR: AddressSanitizer" "$f"; then errors=$((errors + 1)); echo "--- $f"; cat "$f"; fi
  if grep -q "runtime error" "$f" && grep -q "addon.cc" "$f"; then errors=$((errors + 1)); echo "--- $f"; cat "$f"; fi
  # One LeakSanitizer block per leak. It is ours when the first frame that is not the allocator or
  # libstdc++ is in native/addon.cc or node-addon-api; V8's own heap bookkeeping that merely runs
  # under one of our calls (a property set) is not.
  n=$(awk -v show=0 -f "$work/ours.awk" "$f")
  if [ "$n" -gt 0 ]; then ours=$((ours + n)); echo "--- leaks allocated by native/addon.cc in $f"; awk -v show=1 -f "$work/ours.awk" "$f"; fi
  total=$(grep -cE "^(Direct|Indirect) leak" "$f" || true)
  echo "asan.sh: $(basename "$f"): $total leak reports in all (Node/V8 once-per-process objects), $n allocated by addon.cc"
done
echo "asan.sh: tests $([ $tests_ok = 1 ] && echo passed || echo FAILED) (exit status $status); sanitizer errors: $errors; leaks allocated by addon.cc: $ours"
[ "$tests_ok" = 1 ] && [ "$errors" = 0 ] && [ "$ours" = 0 ]
