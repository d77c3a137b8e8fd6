/* defs.h: the constants and small helpers every engine file shares.
 * A chunk is CHUNK_SIZE bytes, CHUNK_SIZE-aligned, made of CHUNK_PAGES pages of PAGE_SIZE;
 * page 0 is the chunk header. Small blocks are at most SMALL_MAX bytes, large runs at most
 * LARGE_MAX_PAGES pages; anything bigger is a huge block with a mapping of its own. */
#ifndef ZMM_DEFS_H
#define ZMM_DEFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zmm_config.h"

/* ZMM_CHECKS (meson -Dchecks): 0 trusts the program (no free-list or double-free checks on
 * the fast paths), 1 (default) checks every link and every free, 2 also verifies a chunk's
 * bitmap and page map whenever pages change hands. */

#define ZMM_LIKELY(x)   __builtin_expect(!!(x), 1)
#define ZMM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ZMM_NOINLINE    __attribute__((noinline))
#define ZMM_COLD        __attribute__((cold, noinline))
#define ZMM_INLINE      static inline __attribute__((always_inline))

#define PAGE_SHIFT      12
#define PAGE_SIZE       ((size_t)1 << PAGE_SHIFT)
#define CHUNK_SHIFT     21
#define CHUNK_SIZE      ((size_t)1 << CHUNK_SHIFT)
#define CHUNK_MASK      (CHUNK_SIZE - 1)
#define CHUNK_PAGES     (CHUNK_SIZE / PAGE_SIZE)
#define FIRST_PAGE      1u
#define LARGE_MAX_PAGES (CHUNK_PAGES - FIRST_PAGE)
#define LARGE_MAX       (LARGE_MAX_PAGES * PAGE_SIZE)
#define ALIGNMENT       16u

/* Every size above this is impossible: NULL and ENOMEM (glibc's contract). */
#define ZMM_SIZE_MAX    ((size_t)PTRDIFF_MAX)

ZMM_INLINE size_t align_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }
ZMM_INLINE bool is_pow2(size_t a) { return a && !(a & (a - 1)); }
ZMM_INLINE size_t pages_of(size_t n) { return (n + PAGE_SIZE - 1) >> PAGE_SHIFT; }

#endif
