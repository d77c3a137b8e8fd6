/* posix.c: owns the rest of the allocation API, POSIX's and glibc's, each with glibc 2.36's
 * contract, on top of alloc.c: memalign and its kin (valloc, pvalloc, posix_memalign),
 * reallocarray, the sized frees, malloc_usable_size, glibc's tuning and reporting calls
 * (malloc_trim, mallopt, mallinfo, malloc_stats, malloc_info), and the dlopen wrapper that
 * keeps a library opened with RTLD_DEEPBIND on zmm's heap. */
#include "alloc.h"
#include "block.h"
#include "checked.h"
#include "heap.h"
#include "process.h"
#include "stats.h"
#include "sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>

static void *enomem(void)
{
    errno = ENOMEM;
    return NULL;
}

/* ---- aligned allocation and the other allocation calls ----------------------------- */

void *zmm_memalign(size_t align, size_t n)
{
    if (align <= ALIGNMENT)
        return zmm_malloc(n);
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!is_pow2(align))
        align = (size_t)1 << (64 - __builtin_clzl(align));
    return zmm_aligned(align, n);
}

int zmm_posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || !is_pow2(align))
        return EINVAL;
    void *p = zmm_aligned(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *zmm_valloc(size_t n)
{
    return zmm_aligned(PAGE_SIZE, n);
}

void *zmm_pvalloc(size_t n)
{
    if (n > ZMM_SIZE_MAX)
        return enomem();
    return zmm_aligned(PAGE_SIZE, align_up(n ? n : 1, PAGE_SIZE));
}

void *zmm_reallocarray(void *p, size_t n, size_t m)
{
    size_t total;
    if (__builtin_mul_overflow(n, m, &total))
        return enomem();
    return zmm_realloc(p, total);
}

void zmm_free_sized(void *p, size_t n)
{
    (void)n;
    zmm_free(p);
}

void zmm_free_aligned_sized(void *p, size_t align, size_t n)
{
    (void)align;
    (void)n;
    zmm_free(p);
}

size_t zmm_usable_size(void *p)
{
    if (!p)
        return 0;
    struct block b;
    block_classify(p, "malloc_usable_size", &b);
    return checked_usable(p, &b);
}

/* ---- glibc's tuning and reporting calls -------------------------------------------- */

int zmm_malloc_trim(size_t pad)
{
    (void)pad;
    if (!process_ready())
        return 0;
    struct zmm_heap *h = heap_self;
    if (process_mode.checked && h)
        spin_lock(&h->lock);
    size_t freed = heap_trim(h);
    if (process_mode.checked && h)
        spin_unlock(&h->lock);
    return (freed + huge_trim()) > 0;
}

int zmm_mallopt(int param, int value)
{
    (void)value;
    switch (param) {
    case M_MXFAST: case M_TRIM_THRESHOLD: case M_TOP_PAD: case M_MMAP_THRESHOLD:
    case M_MMAP_MAX: case M_CHECK_ACTION: case M_PERTURB: case M_ARENA_TEST: case M_ARENA_MAX:
        return 1;
    default:
        return 0;
    }
}

static int clamp_int(size_t v)
{
    return v > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)v;
}

struct mallinfo zmm_mallinfo(void)
{
    struct mallinfo2 m = stats_mallinfo2();
    return (struct mallinfo){
        .arena = clamp_int(m.arena), .ordblks = clamp_int(m.ordblks), .hblks = clamp_int(m.hblks),
        .hblkhd = clamp_int(m.hblkhd), .uordblks = clamp_int(m.uordblks),
        .fordblks = clamp_int(m.fordblks), .keepcost = clamp_int(m.keepcost),
    };
}

struct mallinfo2 zmm_mallinfo2(void)
{
    return stats_mallinfo2();
}

void zmm_malloc_stats(void)
{
    stats_malloc_stats();
}

int zmm_malloc_info(int options, FILE *f)
{
    return stats_malloc_info(options, f);
}

void *zmm_dlopen(const char *file, int mode)
{
    return sys_dlopen(file, mode & ~RTLD_DEEPBIND);
}
