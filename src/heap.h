/* heap.h: one heap per thread: small bins and large runs over the chunks it owns. */
#ifndef ZMM_HEAP_H
#define ZMM_HEAP_H

#include <stdatomic.h>
#include "bin.h"
#include "chunk.h"
#include "huge.h"
#include "runs.h"
#include "lock.h"

/* A heap is its thread's (ACTIVE), waits for a new thread (ABANDONED, its thread exited), or
 * belonged to a thread of the parent of a fork (FORKED: its lists may be half changed; blocks
 * freed into it stay on its remote list, and no thread takes it). */
enum heap_state { HEAP_ACTIVE, HEAP_ABANDONED, HEAP_FORKED };

struct zmm_heap {
    struct zmm_bins bins;
    struct zmm_runs runs;               /* freed large runs held for reuse */
    struct zmm_chunkset chunks;
    /* The line other threads write (remote frees) and read (the key, to sign their links):
     * nothing the owner writes on its fast paths shares it. */
    _Alignas(64) _Atomic(struct zmm_slot *) remote;  /* blocks other threads freed, LIFO, owner drains */
    uintptr_t shared_key;               /* bins.key, copied */
    _Alignas(64) uint64_t large_allocs, large_frees;
    size_t large_pages;                 /* pages in live large runs */
    uint64_t remote_bytes;              /* bytes this thread freed into other heaps */
    uint64_t drained_bytes;             /* bytes other threads freed here, drained */
    size_t sweep_at;                    /* free small bytes that make a sweep worth it */
    size_t credit;                      /* bytes counted against the limit, not yet in use */
    int state;
    struct zmm_heap *next_all, *next_abandoned;
    spinlock_t lock;                    /* tracked mode only: held around every change */
    void *track;                        /* track.c's state for this heap's records */
    void *stack_cache;                  /* capture.c's cache of this thread's recent stacks */
};

/* The calling thread's heap, or NULL before its first allocation (and after it exited).
 * heap_tls is what the fast paths read: the same heap, or NULL for good when every call
 * must take the slow path (tracked mode). */
extern __thread struct zmm_heap *heap_tls __attribute__((tls_model("initial-exec")));
extern __thread struct zmm_heap *heap_self __attribute__((tls_model("initial-exec")));

/* Process start-up: the thread-exit key; FAST false keeps heap_tls NULL. */
void heap_init(bool fast);
/* In a fork child: the locks reset; the heaps of the other threads, caught in whatever they
 * were doing, set aside for good; the remaining heaps re-keyed. */
void heap_after_fork(void);

/* The calling thread's heap, adopting an abandoned one or making one; NULL if memory is
 * exhausted or the thread is past its own exit (then use heap_lock_orphan). */
struct zmm_heap *heap_attach(void);
struct zmm_heap *heap_lock_orphan(void);
void heap_unlock_orphan(void);
/* The calling thread's heap, attached if need be; when it has none, the orphan heap, locked,
 * and *ORPHAN true: the caller then calls heap_unlock_orphan() when done. */
struct zmm_heap *heap_enter_slow(bool *orphan);
ZMM_INLINE struct zmm_heap *heap_enter(bool *orphan)
{
    struct zmm_heap *h = heap_self;
    *orphan = false;
    return ZMM_LIKELY(h != NULL) ? h : heap_enter_slow(orphan);
}

/* Tracked mode: the scanner holds every heap (and the heap list) while it reads them. */
void heap_lock_all(void);
void heap_unlock_all(void);
/* FN is called on each thread's exit, from the thread, under the heap list's lock (which
 * heap_lock_all holds): scan.c learns there where dead threads' stacks are. */
void heap_on_thread_exit(void (*fn)(void));
/* The list of every heap (next_all), to read under heap_lock_all. */
struct zmm_heap *heap_list(void);

/* Slow paths of the owner. */
void *heap_alloc_small(struct zmm_heap *h, unsigned bin);
void *heap_alloc_large(struct zmm_heap *h, size_t pages, size_t align_pages);

/* N bytes (at most ZMM_SIZE_MAX) from H, the calling thread's: a small block, a large run or
 * a huge block; NULL when memory or the limit is exhausted. */
ZMM_INLINE void *heap_alloc(struct zmm_heap *h, size_t n)
{
    if (n <= SMALL_MAX) {
        unsigned bin = bin_of(n);
        void *p = bin_pop(&h->bins, bin);
        return p ? p : heap_alloc_small(h, bin);
    }
    if (n <= LARGE_MAX)
        return heap_alloc_large(h, pages_of(n), 1);
    bool zeroed;
    return huge_alloc(n, CHUNK_SIZE, &zeroed);
}
/* The same, at an ALIGN-aligned address (a power of two above ALIGNMENT). */
void *heap_alloc_aligned(struct zmm_heap *h, size_t align, size_t n);
bool heap_resize_large(struct zmm_heap *h, void *p, size_t pages);
void heap_free_large(struct zmm_heap *h, void *p);
/* Free S (SIZE usable bytes) of OWNER from a thread that does not own it; FREER is the
 * calling thread's heap, or NULL. */
void heap_free_remote(struct zmm_heap *owner, struct zmm_slot *s, size_t size, struct zmm_heap *freer);
size_t heap_trim(struct zmm_heap *h);

struct heap_totals {
    uint64_t allocs[BIN_COUNT], frees[BIN_COUNT], slots[BIN_COUNT];
    uint64_t large_allocs, large_frees;
    size_t large_pages, heaps, abandoned;
    uint64_t pending_bytes;             /* freed by other threads, not yet drained */
    size_t credit;                      /* counted against the limit by heaps, unused */
};
void heap_totals(struct heap_totals *t);

#endif
