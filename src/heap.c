/* heap.c: owns the per-thread heaps. A heap is used by one thread at a time, without locks:
 * the thread finds it through an initial-exec TLS pointer. A block freed by another thread
 * goes on its owner's atomic remote list, which the owner drains on its slow paths. A thread
 * that exits abandons its heap (remote frees keep arriving) with its chunks' free pages
 * purged; the next new thread adopts it, chunks and all. A thread still allocating after its
 * own exit destructor uses the orphan heap, under a lock. A fork child resets the locks and
 * abandons every other thread's heap. Heaps live in memory zmm maps for itself and are never
 * unmapped. In tracked mode heap_tls stays NULL (every call takes the slow path), heap_self
 * names the heap, and each heap's lock is held around every change so that the scanner can
 * hold them all.
 * A freed large run of up to RUN_LIST_PAGES pages goes on the heap's list for its page count
 * (RUN_LIST_MAX pages in all) and is reused before the bitmap is searched, keeping its share
 * of the memory limit (the heap's credit) while it waits. Such a run stays in
 * use in its chunk's bitmap (counted in held_pages) but its first page's map entry says freed,
 * as after chunk_free_pages (its other pages keep their continuation entries, which lead to
 * that first page), so a second free or an interior free is caught as before; its first 16
 * bytes hold a signed link. The lists go back to the bitmap on a sweep, a trim, before a new
 * chunk is mapped, when a thread exits, when a run cannot grow in place past a held one, and
 * for one chunk when its other pages are all free (so a chunk still empties). */
#include "heap.h"
#include "libc.h"
#include "limit.h"
#include "lock.h"
#include "os.h"
#include "out.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

__thread struct zmm_heap *heap_tls __attribute__((tls_model("initial-exec")));
__thread struct zmm_heap *heap_self __attribute__((tls_model("initial-exec")));
static __thread bool thread_exited __attribute__((tls_model("initial-exec")));

static bool fast_paths;
static spinlock_t heaps_lock;
static struct zmm_heap *heaps_all, *heaps_abandoned;
static struct zmm_heap orphan;
static pthread_key_t exit_key;
static _Atomic uint64_t stray_remote_bytes;   /* remote frees by threads without a heap */

/* ---- keys -------------------------------------------------------------------------- */

/* A fresh seed each time (a fork child's differs from its parent's). */
static uintptr_t heap_new_key(const struct zmm_heap *h)
{
    return (uintptr_t)libc_mix64(libc_random_seed() ^ libc_mix64((uintptr_t)h)) | 1;
}

/* ---- the heap's share of the memory limit ------------------------------------------ */

/* Pages are counted against the process-wide limit in batches of CREDIT_BATCH, so page
 * runs come and go without touching the shared counter; the limit is exact to within a
 * batch per thread. */
#define CREDIT_BATCH ((size_t)256 << 10)

static bool credit_take(struct zmm_heap *h, size_t bytes)
{
    if (ZMM_LIKELY(h->credit >= bytes)) {
        h->credit -= bytes;
        return true;
    }
    /* Take what is missing plus a batch for later; near the limit, just what is missing. */
    size_t need = bytes - h->credit;
    if (limit_take(need + CREDIT_BATCH))
        h->credit = CREDIT_BATCH;
    else if (limit_take(need))
        h->credit = 0;
    else
        return false;
    return true;
}

static void credit_give(struct zmm_heap *h, size_t bytes)
{
    h->credit += bytes;
    if (h->credit > 2 * CREDIT_BATCH) {
        limit_give(h->credit - CREDIT_BATCH);
        h->credit = CREDIT_BATCH;
    }
}

/* ---- slow paths of the owner ------------------------------------------------------- */

/* ---- freed large runs held for reuse ------------------------------------------------ */

static _Noreturn ZMM_COLD void runs_corrupted(unsigned n, const void *s)
{
    out_fault("corrupted free list (large runs of %u pages) at %p", n, s);
}

/* Run S of N pages, its map entries already saying freed, onto its list. */
static void runs_push(struct zmm_heap *h, struct zmm_slot *s, unsigned n)
{
    s->next = h->runs[n];
    s->check = slot_check(h->bins.key, s, s->next);
    h->runs[n] = s;
    h->runs_count[n]++;
    h->runs_pages += n;
    chunk_of(s)->held_pages += n;
}

ZMM_INLINE struct zmm_slot *runs_pop(struct zmm_heap *h, unsigned n)
{
    struct zmm_slot *s = h->runs[n];
    struct zmm_slot *next = s->next;
    if (ZMM_UNLIKELY(s->check != slot_check(h->bins.key, s, next)))
        runs_corrupted(n, s);
    h->runs[n] = next;
    h->runs_count[n]--;
    h->runs_pages -= n;
    chunk_of(s)->held_pages -= n;
    return s;
}

/* A held run's pages back to the bitmap (the chunk is released if that empties it), and their
 * bytes back to the heap's credit. */
static void runs_release(struct zmm_heap *h, struct zmm_slot *s, unsigned n)
{
    credit_give(h, (size_t)n << PAGE_SHIFT);
    struct zmm_chunk *c = chunk_of(s);
    unsigned first = page_of(s);
    c->held_pages -= n;
    s->check = 0;
    c->map[first] = PG_WAS(c->map[first]);      /* chunk_free_pages marks it freed again */
    chunk_free_pages(c, first, n);
}

/* Every held run back to the bitmap, or only those in chunk ONLY. */
static void runs_flush(struct zmm_heap *h, struct zmm_chunk *only)
{
    if (!h->runs_pages)
        return;
    for (unsigned n = 1; n <= RUN_LIST_PAGES; n++) {
        struct zmm_slot **link = &h->runs[n], *prev = NULL, *s;
        while ((s = *link) != NULL) {
            struct zmm_slot *next = s->next;
            if (s->check != slot_check(h->bins.key, s, next))
                runs_corrupted(n, s);
            if (only && chunk_of(s) != only) {
                prev = s;
                link = &s->next;
                continue;
            }
            *link = next;
            if (prev)
                prev->check = slot_check(h->bins.key, prev, next);
            h->runs_count[n]--;
            h->runs_pages -= n;
            runs_release(h, s, n);
        }
    }
}

static void heap_drain(struct zmm_heap *h)
{
    if (!atomic_load_explicit(&h->remote, memory_order_relaxed))
        return;
    struct zmm_slot *s = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
    while (s) {
        struct zmm_slot *next = s->next;
        if (s->check != slot_check(h->bins.key, s, next))
            out_fault("corrupted remote free list at %p", (void *)s);
        struct zmm_chunk *c = chunk_of(s);
        uint32_t m = c->map[page_of(s)];
        if (PG_KIND(m) == PG_SMALL) {
            bin_free(&h->bins, PG_BIN(m), s);
            h->drained_bytes += bin_size[PG_BIN(m)];
        } else {
            s->check = 0;
            h->drained_bytes += (size_t)PG_N(m) << PAGE_SHIFT;
            heap_free_large(h, s);
        }
        s = next;
    }
}

static size_t heap_sweep(struct zmm_heap *h)
{
    runs_flush(h, NULL);
    size_t freed = bin_sweep(&h->bins);
    credit_give(h, freed);
    return freed;
}

static size_t heap_small_free_bytes(const struct zmm_heap *h)
{
    size_t bytes = 0;
    for (unsigned b = 0; b < BIN_COUNT; b++)
        bytes += (h->bins.slots[b] - (h->bins.allocs[b] - h->bins.frees[b])) * bin_size[b];
    return bytes;
}

/* N pages for a run: within the memory limit (sweeping the bins once before failing),
 * from the heap's chunks, sweeping before a new chunk is mapped when that may spare it. */
static void *heap_pages(struct zmm_heap *h, size_t n, size_t align)
{
    size_t bytes = n << PAGE_SHIFT;
    if (!credit_take(h, bytes)) {
        heap_drain(h);
        heap_sweep(h);
        if (!credit_take(h, bytes)) {
            limit_exhausted(bytes);
            return NULL;
        }
    }
    void *p = chunk_alloc_pages(&h->chunks, (unsigned)n, (unsigned)align, false);
    if (!p && heap_small_free_bytes(h) >= h->sweep_at) {
        heap_sweep(h);
        h->sweep_at = heap_small_free_bytes(h) * 2 + CHUNK_SIZE;
        p = chunk_alloc_pages(&h->chunks, (unsigned)n, (unsigned)align, false);
    }
    if (!p && h->runs_pages) {
        runs_flush(h, NULL);
        p = chunk_alloc_pages(&h->chunks, (unsigned)n, (unsigned)align, false);
    }
    if (!p)
        p = chunk_alloc_pages(&h->chunks, (unsigned)n, (unsigned)align, true);
    if (!p)
        credit_give(h, bytes);
    return p;
}

void *heap_alloc_small(struct zmm_heap *h, unsigned bin)
{
    heap_drain(h);
    void *p = bin_pop(&h->bins, bin);
    if (p)
        return p;
    void *run = heap_pages(h, bin_pages[bin], 1);
    if (!run)
        return NULL;
    struct zmm_slot *s = bin_carve(&h->bins, bin, run);
    s->check = 0;
    return s;
}

/* A run of PAGES pages, not held: from the bitmap, its continuation entries written. */
static ZMM_NOINLINE void *heap_new_run(struct zmm_heap *h, size_t pages, size_t align_pages)
{
    void *p = heap_pages(h, pages, align_pages);
    if (!p)
        return NULL;
    struct zmm_chunk *c = chunk_of(p);
    unsigned first = page_of(p);
    for (unsigned i = 1; i < pages; i++)
        c->map[first + i] = PG_LCONT_ENTRY(i);
    return p;
}

void *heap_alloc_large(struct zmm_heap *h, size_t pages, size_t align_pages)
{
    heap_drain(h);
    void *p;
    if (pages <= RUN_LIST_PAGES && align_pages == 1 && h->runs[pages])
        p = runs_pop(h, (unsigned)pages);   /* its credit and continuation entries kept */
    else if (!(p = heap_new_run(h, pages, align_pages)))
        return NULL;
    chunk_of(p)->map[page_of(p)] = PG_LARGE_ENTRY(pages);
    ((struct zmm_slot *)p)->check = 0;
    h->large_allocs++;
    h->large_pages += pages;
    return p;
}

bool heap_resize_large(struct zmm_heap *h, void *p, size_t pages)
{
    struct zmm_chunk *c = chunk_of(p);
    unsigned first = page_of(p);
    size_t old = PG_N(c->map[first]);
    if (pages == old)
        return true;
    if (pages < old) {
        chunk_free_pages(c, first + (unsigned)pages, (unsigned)(old - pages));
        credit_give(h, (old - pages) << PAGE_SHIFT);
    } else {
        if (!credit_take(h, (pages - old) << PAGE_SHIFT))
            return false;
        bool grown = chunk_grow_pages(c, first, (unsigned)old, (unsigned)pages);
        if (!grown && c->held_pages) {
            runs_flush(h, c);           /* a held run may be in the way; C keeps P's pages */
            grown = chunk_grow_pages(c, first, (unsigned)old, (unsigned)pages);
        }
        if (!grown) {
            credit_give(h, (pages - old) << PAGE_SHIFT);
            return false;
        }
        for (size_t i = old; i < pages; i++)
            c->map[first + i] = PG_LCONT_ENTRY(i);
    }
    c->map[first] = PG_LARGE_ENTRY(pages);
    h->large_pages += pages;
    h->large_pages -= old;
    return true;
}

/* Run P (first page FIRST of C, N pages) of H back to the bitmap. */
static ZMM_NOINLINE void heap_free_run(struct zmm_heap *h, struct zmm_chunk *c, unsigned first, unsigned n)
{
    credit_give(h, (size_t)n << PAGE_SHIFT);
    bool held_only = c->held_pages && c->free_pages + c->held_pages + n == CHUNK_PAGES - FIRST_PAGE;
    chunk_free_pages(c, first, n);
    if (held_only)
        runs_flush(h, c);               /* the last held run given back releases C */
}

void heap_free_large(struct zmm_heap *h, void *p)
{
    struct zmm_chunk *c = chunk_of(p);
    unsigned first = page_of(p);
    uint32_t m = c->map[first];
    unsigned n = PG_N(m);
    h->large_frees++;
    h->large_pages -= n;
    /* Held while the lists have room and C keeps a page in use besides; the run keeps its
     * credit (its pages stay committed) until it is reused or given back. */
    if (n <= RUN_LIST_PAGES && h->runs_pages + n <= RUN_LIST_MAX &&
        c->free_pages + c->held_pages + n < CHUNK_PAGES - FIRST_PAGE) {
        c->map[first] = PG_FREED_ENTRY(m);     /* the continuation entries stay */
        runs_push(h, p, n);
        return;
    }
    heap_free_run(h, c, first, n);
}

void heap_free_remote(struct zmm_heap *owner, struct zmm_slot *s, size_t size, struct zmm_heap *freer)
{
    if (freer)
        freer->remote_bytes += size;
    else
        atomic_fetch_add_explicit(&stray_remote_bytes, size, memory_order_relaxed);
    struct zmm_slot *head = atomic_load_explicit(&owner->remote, memory_order_relaxed);
    do {
        s->next = head;
        s->check = slot_check(owner->shared_key, s, head);
    } while (!atomic_compare_exchange_weak_explicit(&owner->remote, &head, s, memory_order_release,
                                                    memory_order_relaxed));
}

size_t heap_trim(struct zmm_heap *h)
{
    size_t freed = 0;
    if (h) {
        heap_drain(h);
        freed = heap_sweep(h);
    }
    return freed + chunk_trim(h ? &h->chunks : NULL);
}

/* ---- heaps and threads ------------------------------------------------------------- */

static void heap_setup(struct zmm_heap *h)
{
    h->bins.key = heap_new_key(h);
    h->shared_key = h->bins.key;
    h->chunks.owner = h;
    h->sweep_at = CHUNK_SIZE;
    h->state = HEAP_ACTIVE;
}

static struct zmm_heap *heap_create(void)
{
    struct zmm_heap *h = os_map_meta(align_up(sizeof *h, PAGE_SIZE));
    if (!h)
        return NULL;
    heap_setup(h);
    spin_lock(&heaps_lock);
    h->next_all = heaps_all;
    heaps_all = h;
    spin_unlock(&heaps_lock);
    return h;
}

static void heap_abandon(struct zmm_heap *h)
{
    spin_lock(&h->lock);
    heap_drain(h);
    runs_flush(h, NULL);
    chunk_purge_free(&h->chunks);       /* its free pages, dirty, would wait for the next thread */
    spin_unlock(&h->lock);
    spin_lock(&heaps_lock);
    h->state = HEAP_ABANDONED;
    h->next_abandoned = heaps_abandoned;
    heaps_abandoned = h;
    spin_unlock(&heaps_lock);
}

static struct zmm_heap *heap_adopt(void)
{
    spin_lock(&heaps_lock);
    struct zmm_heap *h = heaps_abandoned;
    if (h) {
        heaps_abandoned = h->next_abandoned;
        h->state = HEAP_ACTIVE;
    }
    spin_unlock(&heaps_lock);
    return h;
}

/* Where exited threads' stacks and thread descriptors were, so that the scanner does not take
 * the stale values on a cached (dead) thread stack for roots, but still reads the descriptor
 * above it (glibc keeps the thread's DTV and its return value there until the stack is reused
 * or freed). A ring: the oldest are forgotten. */
#define DEAD_STACKS 1024
static uintptr_t dead_sp[DEAD_STACKS], dead_tp[DEAD_STACKS];
static size_t dead_next;

static void heap_thread_exit(void *arg)
{
    struct zmm_heap *h = arg;
    heap_tls = NULL;
    heap_self = NULL;
    thread_exited = true;
    if (!fast_paths) {
        spin_lock(&heaps_lock);
        dead_sp[dead_next % DEAD_STACKS] = (uintptr_t)__builtin_frame_address(0);
        dead_tp[dead_next++ % DEAD_STACKS] = (uintptr_t)pthread_self();
        spin_unlock(&heaps_lock);
    }
    heap_abandon(h);
}

size_t heap_dead_stacks(const uintptr_t **sps, const uintptr_t **tps)
{
    *sps = dead_sp;
    *tps = dead_tp;
    return dead_next < DEAD_STACKS ? dead_next : DEAD_STACKS;
}

struct zmm_heap *heap_attach(void)
{
    if (thread_exited)
        return NULL;
    struct zmm_heap *h = heap_adopt();
    if (!h)
        h = heap_create();
    if (!h)
        return NULL;
    heap_self = h;
    if (fast_paths)
        heap_tls = h;
    pthread_setspecific(exit_key, h);
    spin_lock(&h->lock);
    heap_drain(h);
    spin_unlock(&h->lock);
    return h;
}

struct zmm_heap *heap_lock_orphan(void)
{
    spin_lock(&orphan.lock);
    return &orphan;
}

void heap_unlock_orphan(void)
{
    spin_unlock(&orphan.lock);
}

void heap_lock_all(void)
{
    spin_lock(&heaps_lock);
    for (struct zmm_heap *h = heaps_all; h; h = h->next_all)
        spin_lock(&h->lock);
}

void heap_unlock_all(void)
{
    for (struct zmm_heap *h = heaps_all; h; h = h->next_all)
        spin_unlock(&h->lock);
    spin_unlock(&heaps_lock);
}

static void check_bin(struct zmm_heap *h, unsigned bin, struct heap_check *c)
{
    uint64_t seen = 0;
    for (struct zmm_slot *s = h->bins.free[bin]; s; s = s->next) {
        if (!slot_is_free(h->bins.key, s) || ++seen > h->bins.slots[bin])
            bin_corrupted(bin, s);
        uint32_t m = chunk_of(s)->map[page_of(s)];
        if (PG_KIND(m) != PG_SMALL || PG_BIN(m) != bin)
            out_fault("heap check: free list of bin %u holds %p, in a page whose map entry is %x", bin,
                      (void *)s, (unsigned)m);
    }
    c->free_blocks += seen;
}

static void check_runs(struct zmm_heap *h, unsigned n, struct heap_check *c)
{
    uint32_t seen = 0;
    for (struct zmm_slot *s = h->runs[n]; s; s = s->next) {
        if (!slot_is_free(h->bins.key, s) || ++seen > h->runs_count[n])
            runs_corrupted(n, s);
        struct zmm_chunk *ch = chunk_of(s);
        unsigned first = page_of(s);
        if (ch->owner != h || (uintptr_t)s & (PAGE_SIZE - 1) || ch->map[first] != PG_FREED_ENTRY(PG_LARGE_ENTRY(n)))
            out_fault("heap check: list of %u-page runs holds %p, in a page whose map entry is %x", n,
                      (void *)s, (unsigned)ch->map[first]);
    }
    if (seen != h->runs_count[n])
        out_fault("heap check: list of %u-page runs holds %u runs, counted %u", n, (unsigned)seen,
                  (unsigned)h->runs_count[n]);
    c->free_blocks += seen;
}

void heap_check(struct heap_check *c)
{
    *c = (struct heap_check){ 0 };
    heap_lock_all();
    for (struct zmm_heap *h = heaps_all; h; h = h->next_all) {
        if (h->state == HEAP_FORKED)
            continue;
        c->heaps++;
        for (unsigned bin = 0; bin < BIN_COUNT; bin++)
            check_bin(h, bin, c);
        for (unsigned n = 1; n <= RUN_LIST_PAGES; n++)
            check_runs(h, n, c);
        struct zmm_slot *s = atomic_load_explicit(&h->remote, memory_order_acquire);
        for (; s; s = s->next, c->remote_blocks++)
            if (!slot_is_free(h->bins.key, s))
                out_fault("heap check: corrupted remote free list at %p", (void *)s);
        struct zmm_chunk *ch = h->chunks.head;
        for (size_t i = 0; i < h->chunks.count; i++, ch = ch->next, c->chunks++)
            chunk_verify(ch);
    }
    heap_unlock_all();
}

void heap_totals(struct heap_totals *t)
{
    *t = (struct heap_totals){ 0 };
    uint64_t remote = atomic_load_explicit(&stray_remote_bytes, memory_order_relaxed), drained = 0;
    spin_lock(&heaps_lock);
    for (struct zmm_heap *h = heaps_all; h; h = h->next_all) {
        for (unsigned b = 0; b < BIN_COUNT; b++) {
            t->allocs[b] += h->bins.allocs[b];
            t->frees[b] += h->bins.frees[b];
            t->slots[b] += h->bins.slots[b];
        }
        t->large_allocs += h->large_allocs;
        t->large_frees += h->large_frees;
        t->large_pages += h->large_pages;
        t->heaps += h != &orphan;
        t->abandoned += h->state == HEAP_ABANDONED;
        remote += h->remote_bytes;
        drained += h->drained_bytes;
        t->credit += h->credit;
    }
    spin_unlock(&heaps_lock);
    t->pending_bytes = remote > drained ? remote - drained : 0;
}

/* ---- process start-up and fork ----------------------------------------------------- */

/* In a fork child: H gets a key of its own, and every link on its lists is signed again (the
 * parent's key says nothing about the child's). */
static void heap_rekey(struct zmm_heap *h)
{
    uintptr_t old = h->bins.key, key = heap_new_key(h);
    for (unsigned bin = 0; bin < BIN_COUNT; bin++)
        for (struct zmm_slot *s = h->bins.free[bin]; s; s = s->next) {
            if (s->check != slot_check(old, s, s->next))
                bin_corrupted(bin, s);
            s->check = slot_check(key, s, s->next);
        }
    for (unsigned n = 1; n <= RUN_LIST_PAGES; n++)
        for (struct zmm_slot *s = h->runs[n]; s; s = s->next) {
            if (s->check != slot_check(old, s, s->next))
                runs_corrupted(n, s);
            s->check = slot_check(key, s, s->next);
        }
    for (struct zmm_slot *s = atomic_load(&h->remote); s; s = s->next)
        s->check = slot_check(key, s, s->next);
    h->bins.key = key;
    h->shared_key = key;
}

void heap_after_fork(void)
{
    spin_init(&heaps_lock);
    for (struct zmm_heap *h = heaps_all; h; h = h->next_all) {
        spin_init(&h->lock);
        if (h != heap_self && h != &orphan && h->state == HEAP_ACTIVE)
            h->state = HEAP_FORKED;
        if (h->state != HEAP_FORKED)
            heap_rekey(h);
    }
}

void heap_init(bool fast)
{
    fast_paths = fast;
    heap_setup(&orphan);
    orphan.next_all = heaps_all;
    heaps_all = &orphan;
    pthread_key_create(&exit_key, heap_thread_exit);
}
