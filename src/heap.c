/* heap.c: owns the per-thread heaps. A heap is used by one thread at a time, without locks
 * (its thread finds it through an initial-exec TLS pointer); a block freed by another thread
 * goes on its owner's atomic remote list, drained on the owner's slow paths. A thread that
 * exits abandons its heap, free pages purged, and the next new thread adopts it; a thread
 * still allocating after its exit destructor uses the orphan heap, under a lock. A fork child
 * resets the locks and sets every other thread's heap aside. Heaps are never unmapped. In
 * tracked mode heap_tls stays NULL, heap_self names the heap, and each heap's lock is held
 * around every change, so that the scanner can hold them all. */
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

/* ---- slow paths of the owner ------------------------------------------------------- */

static bool credit_take(struct zmm_heap *h, size_t bytes)
{
    return limit_credit_take(&h->credit, bytes);
}

static void credit_give(struct zmm_heap *h, size_t bytes)
{
    limit_credit_give(&h->credit, bytes);
}

/* Every held run back to the bitmap, or only those in chunk ONLY. */
static void runs_give_back(struct zmm_heap *h, struct zmm_chunk *only)
{
    credit_give(h, runs_flush(&h->runs, h->bins.key, only));
}

static void heap_drain(struct zmm_heap *h)
{
    if (!atomic_load_explicit(&h->remote, memory_order_relaxed))
        return;
    struct zmm_slot *s = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
    while (s) {
        struct zmm_slot *next = s->next;
        if (!slot_is_free(h->bins.key, s))
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
    runs_give_back(h, NULL);
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
    if (!p && h->runs.pages) {
        runs_give_back(h, NULL);
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
    if (align_pages != 1 || !(p = runs_take(&h->runs, h->bins.key, pages)))  /* credit kept */
        if (!(p = heap_new_run(h, pages, align_pages)))
            return NULL;
    chunk_of(p)->map[page_of(p)] = PG_LARGE_ENTRY(pages);
    ((struct zmm_slot *)p)->check = 0;
    h->large_allocs++;
    h->large_pages += pages;
    return p;
}

void *heap_alloc_aligned(struct zmm_heap *h, size_t align, size_t n)
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
            runs_give_back(h, c);       /* a held run may be in the way; C keeps P's pages */
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
        runs_give_back(h, c);           /* the last held run given back releases C */
}

void heap_free_large(struct zmm_heap *h, void *p)
{
    struct zmm_chunk *c = chunk_of(p);
    unsigned first = page_of(p);
    uint32_t m = c->map[first];
    unsigned n = PG_N(m);
    h->large_frees++;
    h->large_pages -= n;
    /* A held run keeps its credit (its pages stay committed) until it is reused or given back. */
    if (!runs_hold(&h->runs, h->bins.key, p, n, m))
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
        slot_link(owner->shared_key, s, head);
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
    runs_give_back(h, NULL);
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

static void (*exit_hook)(void);

void heap_on_thread_exit(void (*fn)(void))
{
    exit_hook = fn;
}

static void heap_thread_exit(void *arg)
{
    struct zmm_heap *h = arg;
    heap_tls = NULL;
    heap_self = NULL;
    thread_exited = true;
    if (exit_hook) {
        spin_lock(&heaps_lock);
        exit_hook();
        spin_unlock(&heaps_lock);
    }
    heap_abandon(h);
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

struct zmm_heap *heap_enter_slow(bool *orphan)
{
    struct zmm_heap *h = heap_attach();
    if (!h) {
        *orphan = true;
        h = heap_lock_orphan();
    }
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

struct zmm_heap *heap_list(void)
{
    return heaps_all;
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
            if (!slot_is_free(old, s))
                bin_corrupted(bin, s);
            slot_link(key, s, s->next);
        }
    runs_rekey(&h->runs, old, key);
    for (struct zmm_slot *s = atomic_load(&h->remote); s; s = s->next)
        slot_link(key, s, s->next);
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
