#!/usr/bin/env bash
# Issue 6, security: the addon under AddressSanitizer + UBSan while VSwitch does real work (the
# fault scenarios with their worker processes, the hostile-input table, the sandbox security tests), beyond the netlink tests that
# scripts/asan.sh runs. Same method as scripts/asan.sh (a sanitized copy of the addon built in a
# temp dir and selected with ECDOCK_NATIVE; libasan preloaded into an uninstrumented node; children
# get a clean environment); fails on any ASan error, any UBSan report from addon.cc, and any leak
# whose allocation passes through addon.cc.
#   scripts/reliability/asan.sh [mocha test files...]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export npm_config_nodedir=/usr
[ "$(id -u)" = 0 ] || { echo "asan: run as root"; exit 2; }
libasan="$(g++ -print-file-name=libasan.so)"
[ -e "$libasan" ] || { echo "asan: libasan.so not found (apt-get install g++)"; exit 2; }
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(dist/test/integration/hardening-faults.test.js dist/test/integration/hardening-input.test.js dist/test/integration/hardening-security.test.js)

work="$(mktemp -d /tmp/ecdock-asanv.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp binding.gyp "$work/"; cp -r native "$work/"; ln -s "$root/node_modules" "$work/node_modules"
echo "==> building the addon with -fsanitize=address,undefined"
( cd "$work" && CXXFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1" LDFLAGS="-fsanitize=address,undefined" \
    "$root/node_modules/.bin/node-gyp" rebuild --debug --nodedir=/usr >"$work/build.log" 2>&1 ) || { cat "$work/build.log"; exit 1; }
addon="$work/build/Debug/ecdock_native.node"
syms="$(nm -D "$addon")"; grep -q __asan_report <<<"$syms" || { echo "asan: the addon is not instrumented"; exit 1; }

# Children (ip, ovs tools, worker processes) must not inherit the preload; node workers get it back.
cat >"$work/clean-env.js" <<'JS'
process.env.ECDOCK_ASAN_PRELOAD = process.env.LD_PRELOAD;
for (const k of ['LD_PRELOAD', 'ASAN_OPTIONS', 'LSAN_OPTIONS', 'UBSAN_OPTIONS']) delete process.env[k];
JS

echo "==> running ${tests[*]} under ASan/UBSan"
set +e
ECDOCK_NATIVE="$addon" LD_PRELOAD="$libasan" \
ASAN_OPTIONS="exitcode=23:detect_leaks=1:handle_segv=0:allow_user_segv_handler=1:detect_odr_violation=0:log_path=$work/asan" \
LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp:print_suppressions=0" \
UBSAN_OPTIONS="print_stacktrace=1:log_path=$work/ubsan" \
  node --expose-gc "$root/node_modules/.bin/mocha" --require "$work/clean-env.js" --reporter dot --no-config --timeout 300000 --exit "${tests[@]}" 2>&1 | tee "$work/mocha.out"
status=${PIPESTATUS[0]}
set -e
tests_ok=0
if grep -qE '^ *[0-9]+ passing' "$work/mocha.out" && ! grep -qE '^ *[0-9]+ failing' "$work/mocha.out" && { [ "$status" = 0 ] || [ "$status" = 23 ]; }; then tests_ok=1; fi
errors=0; ours=0
for f in "$work"/asan.* "$work"/ubsan.*; do
  [ -e "$f" ] || continue
  if grep -q "ERROR: AddressSanitizer" "$f"; then errors=$((errors + 1)); cat "$f"; fi
  if grep -q "runtime error" "$f" && grep -q "addon.cc" "$f"; then errors=$((errors + 1)); cat "$f"; fi
  # a leak is ours when its first frame past the allocator and libstdc++ is in addon.cc / node-addon-api
  n=$(awk '
    function done_block() { if (inblock && mine) c++; inblock = 0 }
    /^(Direct|Indirect) leak/ { done_block(); inblock = 1; decided = 0; mine = 0; next }
    inblock && /^ *#[0-9]+ / { if (!decided && $0 !~ /libsanitizer|asan_|operator new|malloc|calloc|realloc|\/usr\/include\/c\+\+|std::|__gnu_cxx|libstdc\+\+/) { decided = 1; mine = ($0 ~ /addon\.cc|napi-inl\.h|napi\.h/) } next }
    inblock && /^$/ { done_block(); next }
    END { done_block(); print c + 0 }' "$f")
  ours=$((ours + n))
done
echo "asan: tests $([ $tests_ok = 1 ] && echo passed || echo FAILED) (exit status $status); sanitizer errors: $errors; leaks allocated by addon.cc: $ours"
[ "$tests_ok" = 1 ] && [ "$errors" = 0 ] && [ "$ours" = 0 ]
