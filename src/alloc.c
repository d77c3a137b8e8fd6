/* alloc.c: owns the C semantics of the allocation API (glibc 2.36's contracts): errno,
 * overflow, alignment rounding, realloc's rules, and pointer classification for free.
 * Every pointer is classified before anything is read from it, through the registry or, on
 * free's fast path, by its chunk being in one of the thread's heap's hot slots (chunk.h):
 * zmm's small, large and huge blocks; system-allocator blocks, which go back there; anything
 * else, a freed block or an interior pointer is a fault that stops the process with one line.
 * Start-up happens on the first call from static storage (no dlsym, no allocation);
 * ZMM_ALLOC=0 leaves heap_tls NULL so every call takes the slow path to the system, and so
 * does checked mode: tracking (ZMM_LEAKS and the ZMM_REQUEST_* options that need records),
 * whose calls capture a stack and record the block, and ZMM_DEBUG, whose blocks carry poison
 * and a canary; either runs under the thread's heap lock. */
#include "alloc.h"
#include "debug.h"
#include "heap.h"
#include "huge.h"
#include "limit.h"
#include "options.h"
#include "os.h"
#include "out.h"
#include "registry.h"
#include "lock.h"
#include "report.h"
#include "request.h"
#include "scan.h"
#include "stats.h"
#include "sys.h"
#include "depot.h"
#include "track.h"
#include "world.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static atomic_int boot;     /* 0 not started, 1 starting, 2 ready */
static bool system_only;    /* ZMM_ALLOC=0 */
static bool tracking;       /* ZMM_LEAKS or a ZMM_REQUEST_* that needs records, in a selected program */
static bool stacks;         /* tracking with stacks: reports (ZMM_LEAKS, ZMM_REQUEST_RETAINED) */
static bool checked;        /* tracking or ZMM_DEBUG: every call takes the checked path */

/* ---- start-up and fork ------------------------------------------------------------- */

/* Fork: nothing is locked before it. glibc takes its stdio lock after the prepare handlers,
 * and a thread holding that lock may be in malloc: a zmm lock held across fork would deadlock
 * them (jemalloc and tcmalloc hang there). The child resets the locks, sets the other threads'
 * heaps aside and starts the request thread again when it is needed. */
static void alloc_fork_child(void)
{
    registry_after_fork();
    chunk_after_fork();
    huge_after_fork();
    heap_after_fork();
    depot_after_fork();
    request_after_fork();
    if (tracking)
        track_forked();
}

static ZMM_COLD void alloc_boot(void)
{
    int expect = 0;
    if (!atomic_compare_exchange_strong(&boot, &expect, 1)) {
        while (atomic_load_explicit(&boot, memory_order_acquire) != 2)
            sched_yield();
        return;
    }
    options_load(environ);
    sys_init();
    os_configure((enum mem_type)zmm_opt.mem_type, zmm_opt.huge_pages, zmm_opt.fail_map.first,
                 zmm_opt.fail_map.last);
    chunk_configure(zmm_opt.compact);
    world_configure((unsigned)zmm_opt.world);
    limit_set(zmm_opt.memory_limit);
    system_only = !zmm_opt.alloc;
    stacks = zmm_opt.leaks != LEAKS_OFF || zmm_opt.request_retained;
    tracking = !system_only && (stacks || zmm_opt.request_reclaim || zmm_opt.request_limit != OPT_UNSET) &&
               options_selects_program(zmm_opt.only.s);
    if (tracking) {
        sys_one_arena();
        track_enable((unsigned)zmm_opt.stack_depth, zmm_opt.request_limit != OPT_UNSET);
    }
    debug_configure(zmm_opt.debug.poison_alloc, zmm_opt.debug.poison_free, zmm_opt.debug.padding,
                    zmm_opt.debug.check_on_exit);
    checked = tracking || (!system_only && debug_opts.on);
    heap_init(!checked);
    atomic_store_explicit(&boot, 2, memory_order_release);
    pthread_atfork(NULL, NULL, alloc_fork_child);   /* may allocate: after boot */
}

ZMM_INLINE bool alloc_ready(void)
{
    if (ZMM_UNLIKELY(atomic_load_explicit(&boot, memory_order_acquire) != 2))
        alloc_boot();
    return !system_only;
}

/* The calling thread's heap; *ORPHAN tells the caller to heap_unlock_orphan() after. */
static struct zmm_heap *heap_enter(bool *orphan)
{
    struct zmm_heap *h = heap_self;
    *orphan = false;
    if (!h)
        h = heap_attach();
    if (!h) {
        *orphan = true;
        h = heap_lock_orphan();
    }
    return h;
}

static void *enomem(void)
{
    errno = ENOMEM;
    return NULL;
}

/* ---- classification and faults ----------------------------------------------------- */

enum block_kind { BLOCK_SMALL, BLOCK_LARGE, BLOCK_HUGE, BLOCK_SYSTEM };

struct block {
    enum block_kind kind;
    struct zmm_chunk *chunk;
    uint32_t map;
    uint64_t entry;
    size_t size;                /* usable bytes */
};

static _Noreturn ZMM_COLD void fault_double(const char *verb, void *p, size_t size)
{
    if (size)
        out_fault("double %s of %p (%zu-byte block)", verb, p, size);
    out_fault("double %s of %p (page already free)", verb, p);
}

static _Noreturn ZMM_COLD void fault_interior(const char *verb, void *p, void *start, size_t size)
{
    out_fault("invalid %s of %p (interior pointer into %zu-byte block %p)", verb, p, size, start);
}

static _Noreturn ZMM_COLD void fault_foreign(const char *verb, void *p)
{
    out_fault("invalid %s of %p (not a heap block)", verb, p);
}

/* What P is, or a fault if it is not a live block's start. */
static void classify(void *p, const char *verb, struct block *b)
{
    struct zmm_chunk *c = chunk_of(p);
    uintptr_t lo, hi;
    uint64_t e = registry_at((uintptr_t)p, &lo, &hi);
    b->chunk = c;
    b->entry = e;
    switch (REG_KIND(e)) {
    case REG_CHUNK: {
        if ((void *)c == p)
            fault_foreign(verb, p);
        unsigned page = page_of(p);
        uint32_t m = c->map[page];
        struct zmm_heap *owner = c->owner;
        b->map = m;
        switch (PG_KIND(m)) {
        case PG_SMALL: {
            unsigned bin = PG_BIN(m);
            uint8_t *run = page_addr(c, page - PG_N(m));
            size_t off = (size_t)((uint8_t *)p - run);
            unsigned idx = bin_slot_index(bin, off);
            b->kind = BLOCK_SMALL;
            b->size = bin_size[bin];
            if ((size_t)idx * b->size != off)
                fault_interior(verb, p, run + (size_t)idx * b->size, b->size);
            if (slot_is_free(owner->bins.key, p))
                fault_double(verb, p, b->size);
            return;
        }
        case PG_LARGE:
            b->kind = BLOCK_LARGE;
            b->size = (size_t)PG_N(m) << PAGE_SHIFT;
            if ((uintptr_t)p & (PAGE_SIZE - 1))
                fault_interior(verb, p, page_addr(c, page), b->size);
            if (slot_is_free(owner->bins.key, p))
                fault_double(verb, p, b->size);
            return;
        case PG_LCONT: {
            unsigned first = page - PG_N(m);
            if (PG_KIND(c->map[first]) != PG_LARGE)     /* a freed run its heap holds */
                fault_double(verb, p, 0);
            fault_interior(verb, p, page_addr(c, first), (size_t)PG_N(c->map[first]) << PAGE_SHIFT);
        }
        case PG_FREE: {
            uint32_t was = PG_WAS(m);
            fault_double(verb, p, PG_KIND(was) == PG_LARGE ? (size_t)PG_N(was) << PAGE_SHIFT
                                  : PG_KIND(was) == PG_SMALL ? bin_size[PG_BIN(was)] : 0);
        }
        default:
            fault_foreign(verb, p);
        }
    }
    case REG_HUGE:
        b->kind = BLOCK_HUGE;
        b->size = huge_size(e);
        if ((void *)c != p)
            fault_interior(verb, p, c, b->size);
        if (e & REG_FREED)
            fault_double(verb, p, b->size);
        return;
    case REG_HUGE_INNER: {
        uint8_t *start = (uint8_t *)c - ((e >> 3) << CHUNK_SHIFT);
        fault_interior(verb, p, start, huge_size(registry_get((uintptr_t)start)));
    }
    default:
        if (!sys_owns(p))
            fault_foreign(verb, p);
        b->kind = BLOCK_SYSTEM;
        b->size = sys_usable_size(p);
        return;
    }
}

/* ---- malloc and free --------------------------------------------------------------- */

static void *heap_malloc(struct zmm_heap *h, size_t n)
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

static void *tracked_alloc(size_t align, size_t n);

static ZMM_NOINLINE void *malloc_slow(size_t n)
{
    if (!alloc_ready())
        return sys_malloc(n);
    if (n > ZMM_SIZE_MAX)
        return enomem();
    if (checked)
        return tracked_alloc(0, n);
    bool orphan;
    struct zmm_heap *h = heap_enter(&orphan);
    void *p = heap_malloc(h, n);
    if (orphan)
        heap_unlock_orphan();
    return p ? p : enomem();
}

/* The thread's heap is known (fast paths on): the bin list was empty, or N is a large run. */
static ZMM_NOINLINE void *malloc_heap(struct zmm_heap *h, size_t n)
{
    void *p = heap_malloc(h, n);
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

static void free_block(void *p, const struct block *b)
{
    if (b->kind == BLOCK_SYSTEM) {
        sys_free(p);
        return;
    }
    if (b->kind == BLOCK_HUGE) {
        huge_free(p, b->entry);
        return;
    }
    struct zmm_heap *owner = b->chunk->owner;
    if (owner != heap_self) {
        heap_free_remote(owner, p, b->size, heap_self);
        return;
    }
    if (b->kind == BLOCK_LARGE) {
        heap_free_large(owner, p);
        return;
    }
    unsigned bin = PG_BIN(b->map);
    bin_free(&owner->bins, bin, p);
}

static void tracked_free(void *p, const struct block *b);

static ZMM_NOINLINE void free_slow(void *p)
{
    int saved = errno;
    struct block b;
    classify(p, "free", &b);
    if (checked)
        tracked_free(p, &b);
    else
        free_block(p, &b);
    errno = saved;
}

/* Is P, in a page of small run entry M, the start of a block? OFF, P's offset in its run, is
 * below 8 pages (2^15: sizes.c holds runs to 8 pages), where off * ceil(2^32 / size) mod 2^32
 * < ceil(2^32 / size) holds exactly when SIZE divides OFF, for every size of 2 or more: one
 * multiply. */
ZMM_INLINE bool small_block_start(uint32_t m, const void *p)
{
    uint32_t off = (uint32_t)((uintptr_t)p & (PAGE_SIZE - 1)) + (PG_N(m) << PAGE_SHIFT);
    uint32_t recip = bin_recip[PG_BIN(m)];
    return off * recip < recip;
}

/* A free that zmm_free's inline path does not finish: P is in chunk C, page map entry M, and H
 * is the thread's heap (fast paths on). A block of H (its chunk missed the hot slots, or it is
 * a large run) and a block of another heap are checked as classify would and freed without
 * it; anything else takes the slow path, which names the fault. */
static ZMM_NOINLINE void free_other(void *p, struct zmm_chunk *c, uint32_t m, struct zmm_heap *h)
{
    struct zmm_heap *owner = c->owner;
    struct zmm_slot *s = p;
    if (ZMM_UNLIKELY(!owner)) {         /* a cached chunk: whatever P was, it is not live */
        free_slow(p);
        return;
    }
    uintptr_t key = owner == h ? h->bins.key : owner->shared_key;
    if (PG_KIND(m) == PG_SMALL && small_block_start(m, p) && !slot_is_free(key, s)) {
        unsigned bin = PG_BIN(m);
        if (owner != h) {
            heap_free_remote(owner, s, bin_size[bin], h);
            return;
        }
        bin_free(&h->bins, bin, s);
        return;
    }
    if (PG_KIND(m) == PG_LARGE && !((uintptr_t)p & (PAGE_SIZE - 1)) && !slot_is_free(key, s)) {
        if (owner != h) {
            heap_free_remote(owner, s, (size_t)PG_N(m) << PAGE_SHIFT, h);
            return;
        }
        heap_free_large(h, p);
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
            if (ZMM_CHECKS < 1 || (ZMM_LIKELY(small_block_start(m, p)) && ZMM_LIKELY(!slot_is_free(h->bins.key, s)))) {
                bin_free(&h->bins, bin, s);
                return;
            }
        }
        free_other(p, c, m, h);     /* P is not the chunk's address: page 0 is PG_HEADER */
        return;
    }
    free_classify(p);
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
    if (!alloc_ready())
        return sys_calloc(n, m);
    if (checked) {
        void *p = tracked_alloc(0, total);
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
    free_block(p, b);
    return q;
}

/* P resized where it is (a huge block may move without copying); NULL if it must move. */
static void *realloc_in_place(struct zmm_heap *self, void *p, const struct block *b, size_t n)
{
    switch (b->kind) {
    case BLOCK_SMALL:
        return n <= b->size && (n > b->size / 2 || b->size <= 64) ? p : NULL;
    case BLOCK_LARGE:
        return n > SMALL_MAX && n <= LARGE_MAX && self && b->chunk->owner == self &&
               heap_resize_large(self, p, pages_of(n)) ? p : NULL;
    case BLOCK_HUGE:
        return n > LARGE_MAX ? huge_resize(p, b->entry, n) : NULL;
    default:
        return NULL;
    }
}

static void *tracked_realloc(void *p, const struct block *b, size_t n);
static void *guarded_sys(void *p, size_t align, size_t n);

void *zmm_realloc(void *p, size_t n)
{
    if (!p)
        return zmm_malloc(n);
    if (n == 0) {
        zmm_free(p);
        return NULL;
    }
    struct block b;
    classify(p, "realloc", &b);
    if (n > ZMM_SIZE_MAX)
        return enomem();
    if (b.kind == BLOCK_SYSTEM) {
        void *q = tracking ? guarded_sys(p, 0, n) : sys_realloc(p, n);
        return q ? q : enomem();
    }
    if (!alloc_ready())
        return realloc_move(p, &b, n);
    if (checked)
        return tracked_realloc(p, &b, n);
    void *q = realloc_in_place(heap_self, p, &b, n);
    if (!q)
        q = realloc_move(p, &b, n);
    return q ? q : enomem();
}

void *zmm_reallocarray(void *p, size_t n, size_t m)
{
    size_t total;
    if (__builtin_mul_overflow(n, m, &total))
        return enomem();
    return zmm_realloc(p, total);
}

/* ---- tracked mode (ZMM_LEAKS) -------------------------------------------------------
 * Every call comes here (heap_tls stays NULL). The stack is captured first, with no lock
 * held (libunwind may take the loader's lock); then the call runs under the calling
 * thread's heap lock, so that the scanner, which takes every heap lock before it stops the
 * world, never sees a heap or a record half changed. zmm's own work (the re-entry guard)
 * allocates from the system allocator. */

/* zmm's own work (libunwind, libdw) calls glibc's allocator with every signal blocked: a
 * handler that forks while glibc holds its arena lock would deadlock in fork (glibc locks its
 * arenas there), and a handler that allocates would re-enter it. */
static void *guarded_sys(void *p, size_t align, size_t n)
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

static struct zmm_heap *tracked_enter(void)
{
    bool orphan;
    struct zmm_heap *h = heap_enter(&orphan);
    if (!orphan)
        spin_lock(&h->lock);    /* the orphan heap's lock is already held */
    return h;
}

static void *heap_aligned(struct zmm_heap *h, size_t align, size_t n);

/* ZMM_REQUEST_LIMIT: may the current request grow by N bytes? */
static bool request_within_limit(size_t n)
{
    size_t limit = zmm_opt.request_limit, now = atomic_load_explicit(&track_request_bytes, memory_order_relaxed);
    if (ZMM_LIKELY(limit == OPT_UNSET || (n <= limit && now <= limit - n)))
        return true;
    limit_request_exhausted(limit, atomic_load(&track_request), n);
    return false;
}

/* ZMM_DEBUG found block P misused: one line, with where it was allocated when tracked. */
static _Noreturn ZMM_COLD void debug_fault(const char *verb, const void *p, const struct debug_fault *f)
{
    char at[600] = "";
    uintptr_t start;
    size_t size;
    struct zmm_rec *r = tracking ? track_find((uintptr_t)p, &start, &size) : NULL;
    const uintptr_t *pcs;
    if (r && depot_get(r->stack, &pcs)) {
        track_guard = true;
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
        fault_double(verb, (void *)p, f->size);
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
    classify(p, verb, &b);
    bool fresh = carved && b.kind == BLOCK_SMALL && PG_N(b.map) == 0 &&
                 ((uintptr_t)p & (PAGE_SIZE - 1)) == 0;     /* P starts its run */
    if (fresh)
        for (unsigned i = 1; i < bin_count[PG_BIN(b.map)]; i++)
            debug_wipe((uint8_t *)p + (size_t)i * b.size, b.size);
    struct debug_fault f;
    debug_born(p, n, b.size, b.kind == BLOCK_SMALL && !fresh, &f);
    if (f.kind != DEBUG_OK)
        debug_fault(verb, p, &f);
}

static void *tracked_alloc(size_t align, size_t n)
{
    if (track_busy())
        return guarded_sys(NULL, align, n);
    size_t extra = debug_extra();
    if (n > ZMM_SIZE_MAX - extra)
        return enomem();
    if (tracking) {
        request_ensure_worker();
        if (!request_within_limit(n))
            return enomem();
    }
    uint32_t stack = stacks ? track_capture(heap_self) : DEPOT_NONE;
    struct zmm_heap *h = tracked_enter();
    uint64_t carved = h->bins.carved;
    limit_asking(extra ? n : 0);        /* the limit's message names the program's size */
    void *p = align ? heap_aligned(h, align, n + extra) : heap_malloc(h, n + extra);
    limit_asking(0);
    if (p && tracking) {
        /* The free-list link left in the block would make one leak point to the next. */
        memset(p, 0, sizeof(struct zmm_slot));
        track_note(h, p, n, stack);
    }
    if (p && debug_opts.on)
        debug_new(p, n, h->bins.carved != carved, align ? "memalign" : "malloc");
    spin_unlock(&h->lock);
    return p ? p : enomem();
}

/* ZMM_DEBUG on a block about to be freed or moved: its canary checked; its size returned. */
static size_t debug_old(void *p, const struct block *b, const char *verb)
{
    struct debug_fault f;
    size_t n = debug_check(p, b->size, &f);
    if (f.kind != DEBUG_OK)
        debug_fault(verb, p, &f);
    return n;
}

static void tracked_free(void *p, const struct block *b)
{
    if (b->kind == BLOCK_SYSTEM) {
        guarded_sys(p, 0, 0);
        return;
    }
    struct zmm_heap *h = tracked_enter();
    if (debug_opts.tail) {
        debug_old(p, b, "free");
        debug_died(p, b->size);
    }
    if (tracking)
        track_forget(p);
    free_block(p, b);
    spin_unlock(&h->lock);
}

/* ZMM_DEBUG: every realloc moves (the old block is checked, then freed and poisoned). */
static void *debug_realloc(void *p, const struct block *b, size_t n)
{
    struct zmm_heap *h = tracked_enter();
    size_t old = debug_old(p, b, "realloc");
    spin_unlock(&h->lock);
    void *q = tracked_alloc(0, n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    tracked_free(p, b);
    return q;
}

/* The record goes before the block may move (a huge block's old slots are unmapped then). */
static void *tracked_realloc(void *p, const struct block *b, size_t n)
{
    if (debug_opts.tail)
        return debug_realloc(p, b, n);
    if (n > b->size && !request_within_limit(n - b->size))
        return enomem();
    uint32_t stack = track_busy() || !stacks ? DEPOT_NONE : track_capture(heap_self);
    struct zmm_heap *h = tracked_enter();
    if (tracking)
        track_forget(p);
    void *q = realloc_in_place(h, p, b, n);
    if (!q && (q = heap_malloc(h, n)) != NULL) {
        memset(q, 0, sizeof(struct zmm_slot));
        memcpy(q, p, n < b->size ? n : b->size);
        free_block(p, b);
    }
    if (tracking)
        track_note(h, q ? q : p, q ? n : b->size, stack);
    spin_unlock(&h->lock);
    return q ? q : enomem();
}

/* ---- aligned allocation ------------------------------------------------------------ */

static void *heap_aligned(struct zmm_heap *h, size_t align, size_t n)
{
    if (n <= SMALL_MAX && align <= PAGE_SIZE)
        for (unsigned bin = bin_of(n); bin < BIN_COUNT; bin++)
            if (bin_size[bin] % align == 0) {
                void *p = bin_pop(&h->bins, bin);
                return p ? p : heap_alloc_small(h, bin);
            }
    size_t pages = pages_of(n ? n : 1);
    size_t ap = align >> PAGE_SHIFT ? align >> PAGE_SHIFT : 1;
    if (align < CHUNK_SIZE && align_up(FIRST_PAGE, ap) + pages <= CHUNK_PAGES)
        return heap_alloc_large(h, pages, ap);
    bool zeroed;
    return huge_alloc(n ? n : 1, align > CHUNK_SIZE ? align : CHUNK_SIZE, &zeroed);
}

/* ALIGN: a power of two. */
static void *aligned(size_t align, size_t n)
{
    if (align <= ALIGNMENT)
        return zmm_malloc(n);
    if (n > ZMM_SIZE_MAX || n + align > ZMM_SIZE_MAX)
        return enomem();
    if (!alloc_ready())
        return sys_memalign(align, n);
    if (checked)
        return tracked_alloc(align, n);
    bool orphan;
    struct zmm_heap *h = heap_enter(&orphan);
    void *p = heap_aligned(h, align, n);
    if (orphan)
        heap_unlock_orphan();
    return p ? p : enomem();
}

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
    return aligned(align, n);
}

int zmm_posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || !is_pow2(align))
        return EINVAL;
    void *p = aligned(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *zmm_valloc(size_t n)
{
    return aligned(PAGE_SIZE, n);
}

void *zmm_pvalloc(size_t n)
{
    if (n > ZMM_SIZE_MAX)
        return enomem();
    return aligned(PAGE_SIZE, align_up(n ? n : 1, PAGE_SIZE));
}

size_t zmm_usable_size(void *p)
{
    if (!p)
        return 0;
    struct block b;
    classify(p, "malloc_usable_size", &b);
    return debug_opts.tail && b.kind != BLOCK_SYSTEM ? debug_size(p, b.size) : b.size;
}

/* ---- glibc's tuning and reporting calls -------------------------------------------- */

int zmm_malloc_trim(size_t pad)
{
    (void)pad;
    if (!alloc_ready())
        return 0;
    struct zmm_heap *h = heap_self;
    if (checked && h)
        spin_lock(&h->lock);
    size_t freed = heap_trim(h);
    if (checked && h)
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

/* ---- request boundaries ------------------------------------------------------------ */

static spinlock_t request_lock;     /* one report at a time (libdw's session is one) */

/* Requests FIRST..LAST are over: report the unreachable blocks of each (ZMM_LEAKS), from one
 * scan, and with ZMM_REQUEST_RECLAIM, free them. */
static void request_close(uint32_t first, uint32_t last, const char *trigger, bool own_thread,
                          bool at_exit, uintptr_t stack_from)
{
    struct report_opts ro = { .trigger = trigger, .first = first, .last = last, .per_request = true,
                              .own_thread = own_thread, .at_exit = at_exit, .stack_from = stack_from,
                              .silent = !stacks, .retained = zmm_opt.request_retained };
    struct scan_result leaked;
    spin_lock(&request_lock);
    report_leaks(&ro, zmm_opt.request_reclaim ? &leaked : NULL);
    spin_unlock(&request_lock);
    if (zmm_opt.request_reclaim) {
        for (size_t i = 0; i < leaked.count; i++)
            if (leaked.items[i].kind != SCAN_REACHABLE)
                zmm_free((void *)leaked.items[i].start);
        scan_release(&leaked);
    }
}

/* From ZMM_REQUEST_SIGNAL, on zmm's request thread (or at exit): the requests ended since the
 * last time, together. */
static void request_from_signal(uint32_t first, uint32_t last, bool at_exit)
{
    request_close(first, last, "request", !at_exit, at_exit, 0);
}

/* Ends the current request N (new blocks are born in N + 1 at once); the caller's frames are
 * roots from here up (its registers were saved into them). Returns N + 1. */
static ZMM_NOINLINE uint32_t request_from_api(const char *trigger)
{
    if (!alloc_ready() || !tracking)
        return track_next_request() + 1;
    uint32_t ended = track_next_request();
    request_close(ended, ended, trigger, false, false, (uintptr_t)__builtin_frame_address(0));
    return ended + 1;
}

uint32_t zmm_request_next(const char *trigger)
{
    __builtin_unwind_init();            /* the caller's registers, onto this frame */
    uint32_t n = request_from_api(trigger);
    __asm__ volatile("" ::: "memory");  /* keeps this frame (no tail call) */
    return n;
}

/* ---- start, exit and zmm.h --------------------------------------------------------- */

void zmm_start(void)
{
    alloc_ready();
    if (zmm_opt.stats || tracking)
        out_keep_stderr();
    /* A variable that names a signal always installs its handler: a boundary with nothing
     * to report still counts the request. */
    request_start((int)zmm_opt.request_signal, tracking ? request_from_signal : NULL);
}

void zmm_exit(void)
{
    if (zmm_opt.stats)
        stats_write(out_report_fd(), "at exit");
    if (checked && debug_opts.check_on_exit) {
        struct heap_check c;
        heap_check(&c);                 /* a fault stops the process with its line */
        if (zmm_opt.stats) {            /* silent on success, but for the statistics */
            struct out o;
            out_open(&o, out_report_fd());
            out_printf(&o, "zmm: ZMM_DEBUG: heap check at exit: %zu heap(s), %zu chunk(s), %zu free block(s), "
                           "%zu freed by other threads: no fault\n", c.heaps, c.chunks, c.free_blocks, c.remote_blocks);
            out_flush(&o);
        }
    }
    if (!tracking)
        return;
    request_flush();
    if (zmm_opt.leaks == LEAKS_OFF)
        return;
    /* A fork child reports what it allocated itself: the blocks born before the fork are the
     * parent's (and its report's), and roots here where the child has written them. */
    struct report_opts ro = { .when = "at exit", .trigger = "exit", .at_exit = true,
                              .request = atomic_load(&track_request), .first = track_born,
                              .last = track_born ? UINT32_MAX : 0, .born = track_born };
    spin_lock(&request_lock);           /* not while the request thread writes a report */
    bool leaked = report_leaks(&ro, NULL);
    spin_unlock(&request_lock);
    if (leaked && zmm_opt.leak_exitcode != OPT_UNSET) {
        /* ZMM_LEAK_EXITCODE: the status replaces the program's; its output is flushed
         * first, as exit would have done after this destructor. */
        fflush(NULL);
        _exit((int)zmm_opt.leak_exitcode);
    }
}

const char *zmm_engine_version(void) { return ZMM_VERSION; }
size_t zmm_usage_bytes(void) { return stats_in_use(); }
size_t zmm_peak_bytes(void) { return limit_peak(); }
void zmm_stats_to(int fd) { stats_write(fd, "on request"); }

int zmm_limit_bytes(size_t bytes)
{
    alloc_ready();
    limit_set(bytes);
    return 0;
}
