#!/bin/sh
# abi.sh LIB: the preload pitfalls that show in libzmm.so's dynamic section (README, "How it works"):
#   - it defines exactly the allocation API, dlopen, pipe2 (libunwind's pipe, moved out of the
#     program's way) and zmm_* (nothing leaks out);
#   - none of them carries a version node (a named node leaves malloc@GLIBC_2.2.5 bound to libc);
#   - it imports no allocation function (no second heap) and no __tls_get_addr (every
#     thread-local is initial-exec: general-dynamic TLS calls malloc);
#   - it is marked NODELETE (malloc keeps working after dlclose or during exit).
set -u
lib=${1:?usage: abi.sh LIB}
command -v readelf >/dev/null 2>&1 || { echo "abi.sh: readelf missing (binutils)"; exit 77; }
fail=0
bad() { echo "FAIL: $*"; fail=1; }

expected="__libc_calloc __libc_free __libc_malloc __libc_memalign __libc_pvalloc __libc_realloc
__libc_valloc aligned_alloc calloc cfree dlopen free free_aligned_sized free_sized mallinfo mallinfo2
malloc malloc_info malloc_stats malloc_trim malloc_usable_size mallopt memalign pipe2 posix_memalign pvalloc
realloc reallocarray valloc zmm_memory_peak zmm_memory_usage zmm_request_begin zmm_request_end zmm_set_memory_limit zmm_stats_print
zmm_version"
syms=$(LC_ALL=C readelf --dyn-syms -W "$lib") || { echo "FAIL: readelf $lib"; exit 1; }
defined=$(printf '%s\n' "$syms" | awk '$5 == "GLOBAL" && $7 != "UND" { print $8 }' | LC_ALL=C sort | tr '\n' ' ')
want=$(printf '%s\n' $expected | LC_ALL=C sort | tr '\n' ' ')
[ "$defined" = "$want" ] || bad "exported symbols differ: got [$defined], want [$want]"
case $defined in *@*) bad "an exported symbol has a version: [$defined]" ;; esac

undef=$(printf '%s\n' "$syms" | awk '$7 == "UND" { sub(/@.*/, "", $8); print $8 }')
for f in malloc free calloc realloc memalign posix_memalign aligned_alloc valloc pvalloc __libc_malloc __tls_get_addr; do
    printf '%s\n' "$undef" | grep -qx "$f" && bad "libzmm.so imports $f"
done

dyn=$(LC_ALL=C readelf -d "$lib")
printf '%s\n' "$dyn" | grep -q 'FLAGS_1.*NODELETE' || bad "not linked with -z nodelete"
printf '%s\n' "$dyn" | grep -q 'FLAGS.*STATIC_TLS' || bad "no STATIC_TLS flag: thread-locals are not initial-exec"
[ "$fail" = 0 ] && echo "abi: ok ($(printf '%s\n' $expected | wc -l) symbols)"
exit "$fail"
