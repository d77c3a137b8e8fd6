/* checked.c: owns the checked path, taken by every call in tracked mode (heap_tls stays NULL)
 * and under ZMM_DEBUG. The stack is captured first, with no lock held (libunwind may take
 * the loader's lock); then the call runs under the calling thread's heap lock, so that the
 * scanner, which takes every heap lock before it stops the world, never sees a heap or a
 * record half changed. zmm's own work (the re-entry guard) allocates from the system
 * allocator. Under ZMM_DEBUG a block carries poison, a canary and a tail, checked whenever it
 * is freed or moved; a misuse stops the process with one line, naming where the block was
 * allocated when that is known. */
#include "checked.h"
#include "capture.h"
#include "debug.h"
#include "depot.h"
#include "heap.h"
#include "limit.h"
#include "out.h"
#include "report.h"
#include "request.h"
#include "sys.h"
#include "track.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

static bool tracking;       /* a record for every block */
static bool stacks;         /* with its stack */

void checked_configure(bool tracking_on, bool stacks_on)
{
    tracking = tracking_on;
    stacks = stacks_on;
}

static void *enomem(void)
{
    errno = ENOMEM;
    return NULL;
}

/* zmm's own work (libunwind, libdw) calls glibc's allocator with every signal blocked: a
 * handler that forks while glibc holds its arena lock would deadlock in fork (glibc locks its
 * arenas there), and a handler that allocates would re-enter it. */
void *checked_sys(void *p, size_t align, size_t n)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    void *q = NULL;
    if (p && n)
        q = sys_realloc(p, n);
    else if (p)
        sys_free(p);
    else
        q = align ? sys_memalign(align, n) : sys_malloc(n);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return q;
}

/* The calling thread's heap, locked (the orphan heap's lock is held by heap_enter). */
ZMM_INLINE struct zmm_heap *checked_enter(void)
{
    bool orphan;
    struct zmm_heap *h = heap_enter(&orphan);
    if (!orphan)
        spin_lock(&h->lock);
    return h;
}

/* ZMM_DEBUG found block P misused (F): one line, with where it was allocated when tracked. */
static _Noreturn ZMM_COLD void stop_misuse(const char *verb, const void *p, const struct debug_fault *f)
{
    char at[600] = "";
    uintptr_t start;
    size_t size;
    struct zmm_rec *r = tracking ? track_find((uintptr_t)p, &start, &size) : NULL;
    const uintptr_t *pcs;
    if (r && depot_get(r->stack, &pcs)) {
        track_busy_set(true);
        report_where(pcs[0] - 1, at, sizeof at);
    }
    switch (f->kind) {
    case DEBUG_OVERFLOW:
        out_fault("heap buffer overflow: %zu-byte block %p written %zu byte(s) past its end (%s)%s%s",
                  f->size, p, f->past, verb, at[0] ? ", allocated at " : "", at);
    case DEBUG_USE_AFTER_FREE:
        out_fault("use after free: %zu-byte block %p written at offset %zu after it was freed (seen by %s)%s%s",
                  f->size, p, f->offset, verb, at[0] ? ", allocated at " : "", at);
    case DEBUG_FREED:
        block_double(verb, (void *)p, f->size);
    default:
        out_fault("heap buffer overflow: block %p's end marker is overwritten (%s)%s%s", p, verb,
                  at[0] ? ", allocated at " : "", at);
    }
}

/* ZMM_DEBUG on a block just allocated for N bytes (H held). Only a small block taken from its
 * list is checked for writes after free: pages change hands between runs of other sizes, and
 * a run cut anew (CARVED: the call cut a run, whose first block it returns, P) has the tails
 * of its other blocks wiped, so that no tag of a past life is taken for this one's. */
static void debug_new(void *p, size_t n, bool carved, const char *verb)
{
    struct block b;
    block_classify(p, verb, &b);
    bool fresh = carved && b.kind == BLOCK_SMALL && PG_N(b.map) == 0 &&
                 ((uintptr_t)p & (PAGE_SIZE - 1)) == 0;     /* P starts its run */
    if (fresh)
        for (unsigned i = 1; i < bin_count[PG_BIN(b.map)]; i++)
            debug_wipe((uint8_t *)p + (size_t)i * b.size, b.size);
    struct debug_fault f;
    debug_born(p, n, b.size, b.kind == BLOCK_SMALL && !fresh, &f);
    if (f.kind != DEBUG_OK)
        stop_misuse(verb, p, &f);
}

/* ZMM_DEBUG on a block about to be freed or moved: its canary checked; its size returned. */
static size_t debug_old(void *p, const struct block *b, const char *verb)
{
    struct debug_fault f;
    size_t n = debug_check(p, b->size, &f);
    if (f.kind != DEBUG_OK)
        stop_misuse(verb, p, &f);
    return n;
}

/* Block P of N bytes, allocated from H (held) with STACK: its record written. */
static void note(struct zmm_heap *h, void *p, size_t n, uint32_t stack)
{
    if (track_note(h, p, n, stack) && request_counting())
        request_born(n);
}

/* Block P is being freed or moved: its record cleared. */
static void forget(void *p)
{
    if (!request_counting()) {
        track_forget(p, NULL);
        return;
    }
    uint32_t request;
    size_t n = track_forget(p, &request);
    request_died(request, n);
}

void *checked_alloc(size_t align, size_t n)
{
    if (track_busy())
        return checked_sys(NULL, align, n);
    size_t extra = debug_extra();
    if (n > ZMM_SIZE_MAX - extra)
        return enomem();
    if (tracking) {
        request_ensure_worker();
        if (request_counting() && !request_may_grow(n))
            return enomem();
    }
    uint32_t stack = stacks ? capture_stack(heap_self) : DEPOT_NONE;
    struct zmm_heap *h = checked_enter();
    uint64_t carved = h->bins.carved;
    limit_asking(extra ? n : 0);        /* the limit's message names the program's size */
    void *p = align ? heap_alloc_aligned(h, align, n + extra) : heap_alloc(h, n + extra);
    limit_asking(0);
    if (p && tracking) {
        /* The free-list link left in the block would make one leak point to the next. */
        memset(p, 0, sizeof(struct zmm_slot));
        note(h, p, n, stack);
    }
    if (p && debug_opts.on)
        debug_new(p, n, h->bins.carved != carved, align ? "memalign" : "malloc");
    spin_unlock(&h->lock);
    return p ? p : enomem();
}

void checked_free(void *p, const struct block *b)
{
    if (b->kind == BLOCK_SYSTEM) {
        checked_sys(p, 0, 0);
        return;
    }
    struct zmm_heap *h = checked_enter();
    if (debug_opts.tail) {
        debug_old(p, b, "free");
        debug_died(p, b->size);
    }
    if (tracking)
        forget(p);
    block_free(p, b);
    spin_unlock(&h->lock);
}

/* ZMM_DEBUG: every realloc moves (the old block is checked, then freed and poisoned). */
static void *debug_realloc(void *p, const struct block *b, size_t n)
{
    struct zmm_heap *h = checked_enter();
    size_t old = debug_old(p, b, "realloc");
    spin_unlock(&h->lock);
    void *q = checked_alloc(0, n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    checked_free(p, b);
    return q;
}

/* The record goes before the block may move (a huge block's old slots are unmapped then). */
void *checked_realloc(void *p, const struct block *b, size_t n)
{
    if (debug_opts.tail)
        return debug_realloc(p, b, n);
    if (n > b->size && request_counting() && !request_may_grow(n - b->size))
        return enomem();
    uint32_t stack = track_busy() || !stacks ? DEPOT_NONE : capture_stack(heap_self);
    struct zmm_heap *h = checked_enter();
    if (tracking)
        forget(p);
    void *q = block_resize(h, p, b, n);
    if (!q && (q = heap_alloc(h, n)) != NULL) {
        memset(q, 0, sizeof(struct zmm_slot));
        memcpy(q, p, n < b->size ? n : b->size);
        block_free(p, b);
    }
    if (tracking)
        note(h, q ? q : p, q ? n : b->size, stack);
    spin_unlock(&h->lock);
    return q ? q : enomem();
}

size_t checked_usable(const void *p, const struct block *b)
{
    return debug_opts.tail && b->kind != BLOCK_SYSTEM ? debug_size(p, b->size) : b->size;
}

void checked_reclaim(void *p)
{
    struct block b;
    block_classify(p, "free", &b);
    checked_free(p, &b);
}
