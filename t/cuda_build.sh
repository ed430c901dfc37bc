# cuda_build.sh: the CUDA module was built with nvcc and is loadable: it
# exports exactly llmspam_backend_cuda_new and llmspam_cuda_bind, needs no
# engine symbol from its host (the programs export none), carries device
# code, and links cuBLASLt. SKIP when configure found no nvcc.
. "$top_srcdir/t/lib/tap.sh"
grep -q '^#define LLMSPAM_CUDA 1' "$top_builddir/config.h" 2>/dev/null ||
    skip_all "configure found no nvcc (or --disable-cuda): no CUDA module built"
mod="$top_builddir/llmspam-cuda.so"
command -v nm >/dev/null 2>&1 || skip_all "no nm"
command -v objdump >/dev/null 2>&1 || skip_all "no objdump"

[ -f "$mod" ]; ok $? "llmspam-cuda.so built"
defs=$(nm -D --defined-only "$mod" 2>/dev/null | awk '$2 == "T" { print $3 }' | sort | tr '\n' ' ')
[ "$defs" = "llmspam_backend_cuda_new llmspam_cuda_bind " ]
ok $? "exports exactly llmspam_backend_cuda_new and llmspam_cuda_bind"
[ "$defs" = "llmspam_backend_cuda_new llmspam_cuda_bind " ] || diag "exported functions: $defs"
undef=$(nm -D --undefined-only "$mod" | grep -E ' (checkpoint_|engine_|backend_|model_|device_)' || true)
[ -z "$undef" ]; ok $? "needs no engine symbol from the program that loads it"
[ -z "$undef" ] || diag "$undef"
objdump -h "$mod" | grep -q '\.nv_fatbin'; ok $? "carries device code (.nv_fatbin)"
objdump -p "$mod" | grep NEEDED | grep -q 'libcublasLt\.so'; ok $? "links cuBLASLt"
! objdump -p "$mod" | grep NEEDED | grep -q 'libcudart\.so'; ok $? "cudart linked statically"
if command -v readelf >/dev/null 2>&1; then
    readelf -d "$mod" | grep -q 'BIND_NOW'; ok $? "linked with -z now (hardening)"
else
    skip "no readelf: -z now"
fi
done_testing
