/* alloc.c: owns the C semantics of malloc, free, calloc, realloc and aligned allocation
 * (glibc 2.36's contracts: errno, overflow, alignment rounding, realloc's rules) and their
 * fast paths. A fast path runs when the thread's heap is in heap_tls: a small block popped
 * from its bin, or freed into it when its chunk is one of the heap's hot slots (chunk.h).
 * Every other pointer is classified (block.c) before anything is read from it. Before
 * start-up, under ZMM_ALLOC=0, in tracked mode and under ZMM_DEBUG heap_tls is NULL and every
 * call takes the slow path: start-up (process.c), the system allocator, or the checked path
 * (checked.c). */
#include "alloc.h"
#include "block.h"
#include "checked.h"
#include "heap.h"
#include "process.h"
#include "registry.h"
#include "sys.h"

#include <errno.h>
#include <string.h>

static void *enomem(void)
{
    errno = ENOMEM;
    return NULL;
}

/* ---- malloc ------------------------------------------------------------------------ */

static ZMM_NOINLINE void *malloc_slow(size_t n)
{
    if (!process_ready())
        return sys_malloc(n);
    if (n > ZMM_SIZE_MAX)
        return enomem();
    if (process_mode.checked)
        return checked_alloc(0, n);
    bool orphan;
    struct zmm_heap *h = heap_enter(&orphan);
    void *p = heap_alloc(h, n);
    if (orphan)
        heap_unlock_orphan();
    return p ? p : enomem();
}

/* The thread's heap is known (fast paths on): the bin list was empty, or N is a large run. */
static ZMM_NOINLINE void *malloc_heap(struct zmm_heap *h, size_t n)
{
    void *p = heap_alloc(h, n);
    return p ? p : enomem();
}

void *zmm_malloc(size_t n)
{
    struct zmm_heap *h = heap_tls;
    if (ZMM_LIKELY(h != NULL) && ZMM_LIKELY(n <= LARGE_MAX)) {
        if (ZMM_LIKELY(n <= SMALL_MAX)) {
            void *p = bin_pop(&h->bins, bin_of(n));
            if (ZMM_LIKELY(p != NULL))
                return p;
        }
        return malloc_heap(h, n);
    }
    return malloc_slow(n);
}

/* ---- free -------------------------------------------------------------------------- */

static ZMM_NOINLINE void free_slow(void *p)
{
    int saved = errno;
    struct block b;
    block_classify(p, "free", &b);
    if (process_mode.checked)
        checked_free(p, &b);
    else
        block_free(p, &b);
    errno = saved;
}

/* A free that zmm_free's inline path does not finish: P is in chunk C, page map entry M, and H
 * is the thread's heap (fast paths on). A block of H (its chunk missed the hot slots, or it is
 * a large run) and a block of another heap are checked as block_classify would and freed
 * without it; anything else takes the slow path, which names the fault. */
static ZMM_NOINLINE void free_other(void *p, struct zmm_chunk *c, uint32_t m, struct zmm_heap *h)
{
    struct zmm_heap *owner = c->owner;
    if (ZMM_UNLIKELY(!owner)) {         /* a cached chunk: whatever P was, it is not live */
        free_slow(p);
        return;
    }
    uintptr_t key = owner == h ? h->bins.key : owner->shared_key;
    bool start = PG_KIND(m) == PG_SMALL ? block_small_start(m, p)
                 : PG_KIND(m) == PG_LARGE && !((uintptr_t)p & (PAGE_SIZE - 1));
    if (start && !slot_is_free(key, p)) {
        block_free_to(owner, h, p, m);
        return;
    }
    free_slow(p);
}

/* A free the inline path of zmm_free did not finish: P classified through the registry. */
static ZMM_NOINLINE void free_classify(void *p)
{
    struct zmm_chunk *c = chunk_of(p);
    if (ZMM_LIKELY((void *)c != p) && ZMM_LIKELY(registry_get((uintptr_t)c) == REG_CHUNK)) {
        struct zmm_heap *h = heap_tls;
        if (h) {
            free_other(p, c, c->map[page_of(p)], h);
            return;
        }
    }
    if (p)
        free_slow(p);
}

/* The inline path: a small block of a chunk the thread's heap holds (chunk_in_set, no
 * registry look-up: the set's chunks are mapped and owned by it). */
void zmm_free(void *p)
{
    struct zmm_heap *h = heap_tls;
    struct zmm_chunk *c = chunk_of(p);
    if (ZMM_LIKELY(h != NULL) && ZMM_LIKELY(chunk_in_set(&h->chunks, c))) {
        uint32_t m = c->map[page_of(p)];
        struct zmm_slot *s = p;
        if (ZMM_LIKELY(PG_KIND(m) == PG_SMALL)) {
            unsigned bin = PG_BIN(m);
            if (ZMM_CHECKS < 1 || (ZMM_LIKELY(block_small_start(m, p)) && ZMM_LIKELY(!slot_is_free(h->bins.key, s)))) {
                bin_free(&h->bins, bin, s);
                return;
            }
        }
        free_other(p, c, m, h);     /* P is not the chunk's address: page 0 is PG_HEADER */
        return;
    }
    free_classify(p);
}

/* ---- calloc and realloc ------------------------------------------------------------ */

void *zmm_calloc(size_t n, size_t m)
{
    size_t total;
    if (__builtin_mul_overflow(n, m, &total) || total > ZMM_SIZE_MAX)
        return enomem();
    struct zmm_heap *h = heap_tls;
    if (ZMM_LIKELY(h != NULL) && ZMM_LIKELY(total <= SMALL_MAX)) {
        void *p = bin_pop(&h->bins, bin_of(total));
        if (ZMM_LIKELY(p != NULL))
            return memset(p, 0, total);
    }
    if (!process_ready())
        return sys_calloc(n, m);
    if (process_mode.checked) {
        void *p = checked_alloc(0, total);
        return p ? memset(p, 0, total) : NULL;
    }
    if (total > LARGE_MAX) {
        bool zeroed;
        void *p = huge_alloc(total, CHUNK_SIZE, &zeroed);
        if (!p)
            return enomem();
        return zeroed ? p : memset(p, 0, total);
    }
    void *p = malloc_slow(total);
    return p ? memset(p, 0, total) : NULL;
}

static void *realloc_move(void *p, const struct block *b, size_t n)
{
    void *q = zmm_malloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, n < b->size ? n : b->size);
    block_free(p, b);
    return q;
}

void *zmm_realloc(void *p, size_t n)
{
    if (!p)
        return zmm_malloc(n);
    if (n == 0) {
        zmm_free(p);
        return NULL;
    }
    struct block b;
    block_classify(p, "realloc", &b);
    if (n > ZMM_SIZE_MAX)
        return enomem();
    if (b.kind == BLOCK_SYSTEM) {
        void *q = process_mode.tracking ? checked_sys(p, 0, n) : sys_realloc(p, n);
        return q ? q : enomem();
    }
    if (!process_ready())
        return realloc_move(p, &b, n);
    if (process_mode.checked)
        return checked_realloc(p, &b, n);
    void *q = block_resize(heap_self, p, &b, n);
    if (!q)
        q = realloc_move(p, &b, n);
    return q ? q : enomem();
}

/* ---- aligned allocation ------------------------------------------------------------ */

void *zmm_aligned(size_t align, size_t n)
{
    if (align <= ALIGNMENT)
        return zmm_malloc(n);
    if (n > ZMM_SIZE_MAX || n + align > ZMM_SIZE_MAX)
        return enomem();
    if (!process_ready())
        return sys_memalign(align, n);
    if (process_mode.checked)
        return checked_alloc(align, n);
    bool orphan;
    struct zmm_heap *h = heap_enter(&orphan);
    void *p = heap_alloc_aligned(h, align, n);
    if (orphan)
        heap_unlock_orphan();
    return p ? p : enomem();
}
