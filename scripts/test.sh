#!/bin/sh
# test.sh: set everything up and run every test, twice: a hardened release
# build and an ASan+UBSan build. Ends with "N passed, N failed, N skipped".
#
# Every CPU path the machine has is run (LLMSPAM_CPU_ISA caps the SIMD
# level, engine/cpu_isa.h): the release suite at the CPU's own level; the
# ASan suite capped at avx2 when the CPU has more (AVX-512), so the AVX2
# path is proven on either kind of machine (with t/test_gemm and
# t/test_kernels once more at avx512, for the zmm kernels); and the parity
# tests once more in the release build capped at portable. A cap is only
# set where the CPU has a higher level. The paths run are printed before
# the summary.
set -u
cd "$(dirname "$0")/.." || exit 1
sh scripts/install-deps.sh || exit 1
[ -x configure ] && [ -f build-aux/tap-driver.sh ] || sh autogen.sh || exit 1
unset LLMSPAM_CPU_ISA

# The CPU's level, as engine/cpu_isa.c sees it (portable off Linux x86-64).
cpu_level() {
    flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
    has() { for f; do case $flags in *" $f "*) ;; *) return 1 ;; esac; done; }
    if ! has avx2 fma; then echo portable
    elif ! has avx512f avx512bw avx512vl; then echo avx2
    elif ! has avx512_bf16; then echo avx512
    else echo avx512_bf16
    fi
}
level=$(cpu_level)
# capped VARIANT CAP: the cap that VARIANT's whole suite runs under ("" for none)
capped() {
    case $1:$level in
        asan:avx512 | asan:avx512_bf16) echo avx2 ;;
        *) echo "" ;;
    esac
}

build_failures=0
asan_built=no
paths=""
for variant in release asan; do
    case $variant in
        release) args="" ;;
        asan) args="--enable-sanitizers" ;;
    esac
    rm -f "_build/$variant/test-suite.log"
    rm -rf "_build/$variant/cap-portable"
    # shellcheck disable=SC2086
    if ! sh scripts/build.sh "$variant" $args; then
        echo "test.sh: the $variant build failed" >&2
        build_failures=$((build_failures + 1))
        continue
    fi
    [ "$variant" = asan ] && asan_built=yes
    cap=$(capped "$variant")
    paths="$paths $variant=${cap:-$level}"
    if ! env ${cap:+LLMSPAM_CPU_ISA=$cap} make -C "_build/$variant" -j"$(nproc)" check \
        >"_build/$variant/check.out" 2>&1; then
        grep -E '^(FAIL|ERROR)' "_build/$variant/check.out" >&2
        echo "test.sh: see _build/$variant/test-suite.log" >&2
    fi
done

# The parity tests again on the portable path, in the release build. Their
# first results are set aside while they rerun, and the rerun's are kept in
# _build/release/cap-portable, so tap-summary.sh counts both.
parity="t/parity t/demo_model"
rel=_build/release
if [ "$level" != portable ] && [ -f "$rel/Makefile" ]; then
    keep="$rel/cap-portable.keep"
    rm -rf "$keep" && mkdir -p "$keep" "$rel/cap-portable/t"
    for t in $parity; do
        mv "$rel/$t.log" "$rel/$t.trs" "$keep/" 2>/dev/null
    done
    tests=$(for t in $parity; do printf '%s.sh ' "$t"; done)
    if ! LLMSPAM_CPU_ISA=portable make -C "$rel" check TESTS="$tests" \
        TEST_SUITE_LOG=test-suite-portable.log >"$rel/check-portable.out" 2>&1; then
        grep -E '^(FAIL|ERROR)' "$rel/check-portable.out" >&2
        echo "test.sh: see $rel/test-suite-portable.log" >&2
    fi
    for t in $parity; do
        mv "$rel/$t.log" "$rel/$t.trs" "$rel/cap-portable/t/" 2>/dev/null
    done
    mv "$keep"/* "$rel/t/" 2>/dev/null
    rmdir "$keep" 2>/dev/null
    paths="$paths parity=portable"
fi

# The Debian packages (t/deb.sh: build, lintian, dpkg -i, purge), once,
# after the two builds; its TAP results count in the summary below.
mkdir -p _build/deb/t
top=$(pwd)
top_srcdir=$top top_builddir=$top/_build/release \
    sh build-aux/tap-driver.sh --test-name t/deb.sh --log-file _build/deb/t/deb.log \
    --trs-file _build/deb/t/deb.trs --color-tests no --enable-hard-errors yes --expect-failure no -- \
    sh t/lib/skip77.sh sh t/deb.sh >_build/deb/check.out 2>&1
grep -E '^(FAIL|ERROR)' _build/deb/check.out >&2 && echo "test.sh: see _build/deb/t/deb.log" >&2

# Where the ASan suite ran capped (AVX-512 CPUs), our own zmm kernels above
# the cap under the sanitizers too: t/test_gemm (the zmm GEMM) and
# t/test_kernels (the AVX-512 small kernels) of the ASan build once more at
# avx512 (not higher: avx512_bf16 is oneDNN's matmul, which no sanitized run
# has covered), their TAP results counted in the summary.
rm -rf _build/asan-avx512
if [ -n "$(capped asan)" ] && [ "$asan_built" = yes ]; then
    mkdir -p _build/asan-avx512/t
    for t in test_gemm test_kernels; do
        LLMSPAM_CPU_ISA=avx512 \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            sh build-aux/tap-driver.sh --test-name t/$t --log-file _build/asan-avx512/t/$t.log \
            --trs-file _build/asan-avx512/t/$t.trs --color-tests no --enable-hard-errors yes \
            --expect-failure no -- _build/asan/t/$t >_build/asan-avx512/$t.out 2>&1
        grep -E '^(FAIL|ERROR)' _build/asan-avx512/$t.out >&2 && echo "test.sh: see _build/asan-avx512/t/$t.log" >&2
    done
    paths="$paths asan-avx512=avx512"
fi

echo "test.sh: CPU $level; LLMSPAM_CPU_ISA per pass:$paths"
summary=$(sh scripts/tap-summary.sh _build/release _build/asan _build/asan-avx512 _build/deb)
passed=${summary%% passed*}
rest=${summary#*passed, }
failed=${rest%% failed*}
skipped=${rest#*failed, }
skipped=${skipped%% skipped*}
failed=$((failed + build_failures))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
