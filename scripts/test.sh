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

# The Debian packages (t/deb.sh: build, lintian, dpkg -i, purge), once,
# after the two builds; its TAP results count in the summary below.
mkdir -p _build/deb/t
top=$(pwd)
top_srcdir=$top top_builddir=$top/_build/release \
    sh build-aux/tap-driver.sh --test-name t/deb.sh --log-file _build/deb/t/deb.log \
    --trs-file _build/deb/t/deb.trs --color-tests no --enable-hard-errors yes --expect-failure no -- \
    sh t/lib/skip77.sh sh t/deb.sh >_build/deb/check.out 2>&1
grep -E '^(FAIL|ERROR)' _build/deb/check.out >&2 && echo "test.sh: see _build/deb/t/deb.log" >&2

summary=$(sh scripts/tap-summary.sh _build/release _build/asan _build/deb)
passed=${summary%% passed*}
rest=${summary#*passed, }
failed=${rest%% failed*}
skipped=${rest#*failed, }
skipped=${skipped%% skipped*}
failed=$((failed + build_failures))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
