/* heap.h: one heap per thread: small bins and large runs over the chunks it owns. */
#ifndef ZMM_HEAP_H
#define ZMM_HEAP_H

#include <stdatomic.h>
#include "bin.h"
#include "chunk.h"
#include "lock.h"

/* A heap is its thread's (ACTIVE), waits for a new thread (ABANDONED, its thread exited), or
 * belonged to a thread of the parent of a fork (FORKED: its lists may be half changed; blocks
 * freed into it stay on its remote list, and no thread takes it). */
enum heap_state { HEAP_ACTIVE, HEAP_ABANDONED, HEAP_FORKED };

/* Freed large runs of up to RUN_LIST_PAGES pages are kept on per-heap LIFO lists, one per
 * page count, and reused before the bitmap is searched. */
#define RUN_LIST_PAGES  32u
#define RUN_LIST_MAX    512u                /* pages held on all lists, at most */

struct zmm_heap {
    struct zmm_bins bins;
    struct zmm_slot *runs[RUN_LIST_PAGES + 1];  /* freed runs by page count, signed links */
    uint32_t runs_count[RUN_LIST_PAGES + 1];
    size_t runs_pages;                  /* pages held on those lists */
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

/* Tracked mode: the scanner holds every heap (and the heap list) while it reads them. */
void heap_lock_all(void);
void heap_unlock_all(void);
/* Thread exits seen so far in tracked mode: the stack pointer and thread pointer (glibc's
 * thread descriptor) of each (see heap.c). */
size_t heap_dead_stacks(const uintptr_t **sps, const uintptr_t **tps);

/* Slow paths of the owner. */
void *heap_alloc_small(struct zmm_heap *h, unsigned bin);
void *heap_alloc_large(struct zmm_heap *h, size_t pages, size_t align_pages);
bool heap_resize_large(struct zmm_heap *h, void *p, size_t pages);
void heap_free_large(struct zmm_heap *h, void *p);
/* Free S (SIZE usable bytes) of OWNER from a thread that does not own it; FREER is the
 * calling thread's heap, or NULL. */
void heap_free_remote(struct zmm_heap *owner, struct zmm_slot *s, size_t size, struct zmm_heap *freer);
size_t heap_trim(struct zmm_heap *h);

/* ZMM_DEBUG=check_on_exit: with every heap held, each free list (links, keys, the page each
 * block is in), each remote list and each chunk (chunk_verify) is checked; a fault stops the
 * process with one line. The heaps of a fork's parent's other threads are left out. */
struct heap_check {
    size_t heaps, chunks, free_blocks, remote_blocks;
};
void heap_check(struct heap_check *c);

struct heap_totals {
    uint64_t allocs[BIN_COUNT], frees[BIN_COUNT], slots[BIN_COUNT];
    uint64_t large_allocs, large_frees;
    size_t large_pages, heaps, abandoned;
    uint64_t pending_bytes;             /* freed by other threads, not yet drained */
    size_t credit;                      /* counted against the limit by heaps, unused */
};
void heap_totals(struct heap_totals *t);

#endif
