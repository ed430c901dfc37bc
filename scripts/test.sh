#!/bin/sh
# test.sh: set everything up and run every test, twice: a hardened release
# build and an ASan+UBSan build. Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh || exit 1
[ -x configure ] && [ -f build-aux/tap-driver.sh ] || sh autogen.sh || exit 1

build_failures=0
for variant in release asan; do
    case $variant in
        release) args="" ;;
        asan) args="--enable-sanitizers" ;;
    esac
    rm -f "_build/$variant/test-suite.log"
    # shellcheck disable=SC2086
    if ! sh scripts/build.sh "$variant" $args; then
        echo "test.sh: the $variant build failed" >&2
        build_failures=$((build_failures + 1))
        continue
    fi
    if ! make -C "_build/$variant" -j"$(nproc)" check >"_build/$variant/check.out" 2>&1; then
        grep -E '^(FAIL|ERROR)' "_build/$variant/check.out" >&2
        echo "test.sh: see _build/$variant/test-suite.log" >&2
    fi
done

summary=$(sh scripts/tap-summary.sh _build/release _build/asan)
passed=${summary%% passed*}
rest=${summary#*passed, }
failed=${rest%% failed*}
skipped=${rest#*failed, }
skipped=${skipped%% skipped*}
failed=$((failed + build_failures))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
