/* track.c: owns the per-block records of tracked mode. They live beside the heap, never in
 * it: the registry's aux word of each 2 MiB slot points to the slot's record table, which
 * holds for each page that starts a run an array of records, one per block of the run, and
 * the record of a huge block that starts there. Arrays come from a per-heap pool of memory
 * zmm maps for itself. A record is live exactly while its block is allocated: the owner
 * writes it, under its heap lock, before the block is handed out; whoever frees the block
 * clears it before the block can be reused. A table's class byte says which run its array
 * belongs to, so a stale array is never read as a new run's. */
#include "track.h"
#include "depot.h"
#include "os.h"
#include "registry.h"
#include "sizes.h"

#include <pthread.h>
#include <string.h>

_Atomic uint32_t track_request = 1;
_Atomic uint64_t track_untracked;
uint32_t track_born;
__thread bool track_guard __attribute__((tls_model("initial-exec")));

/* Record classes: a small run of bin B is class B + 1, a large run CLS_LARGE, 0 none. */
#define CLS_LARGE (BIN_COUNT + 1)
#define CLS_COUNT (BIN_COUNT + 2)

struct slot_recs {
    struct zmm_rec *run[CHUNK_PAGES];   /* the records of the run starting at each page */
    uint8_t cls[CHUNK_PAGES];           /* the class of run[page] */
    size_t huge_size;                   /* requested bytes of the huge block starting here */
    struct zmm_rec huge;
};

/* A heap's share of tracking: free record arrays by class, linked through their first word,
 * and fresh memory. */
struct rec_pool {
    struct zmm_rec *free[CLS_COUNT];
    uint8_t *cur, *end;
};
#define POOL_BLOCK ((size_t)256 << 10)

static unsigned cls_blocks(unsigned cls)
{
    return cls == CLS_LARGE ? 1 : bin_count[cls - 1];
}

void track_forked(void)
{
    track_born = track_next_request() + 1;
}

uint32_t track_next_request(void)
{
    return atomic_fetch_add(&track_request, 1);
}

static struct rec_pool *pool_of(struct zmm_heap *h)
{
    if (!h->track)
        h->track = os_map_meta(align_up(sizeof(struct rec_pool), PAGE_SIZE));
    return h->track;
}

/* ---- tables and arrays ------------------------------------------------------------- */

static struct slot_recs *slot_recs(uintptr_t slot, bool create)
{
    _Atomic(void *) *aux = registry_aux(slot, create);
    if (!aux)
        return NULL;
    void *sr = atomic_load_explicit(aux, memory_order_acquire);
    if (sr || !create)
        return sr;
    sr = os_map_meta(align_up(sizeof(struct slot_recs), PAGE_SIZE));
    void *none = NULL;
    if (sr && !atomic_compare_exchange_strong_explicit(aux, &none, sr, memory_order_acq_rel,
                                                       memory_order_acquire))
        sr = none;
    return sr;
}

static struct zmm_rec *pool_take(struct zmm_heap *h, unsigned cls)
{
    struct rec_pool *pool = pool_of(h);
    if (!pool)
        return NULL;
    size_t bytes = cls_blocks(cls) * sizeof(struct zmm_rec);
    struct zmm_rec *a = pool->free[cls];
    if (a) {
        pool->free[cls] = *(struct zmm_rec **)a;
        memset(a, 0, bytes);
        return a;
    }
    if ((size_t)(pool->end - pool->cur) < bytes) {
        uint8_t *fresh = os_map_meta(POOL_BLOCK);
        if (!fresh)
            return NULL;                /* cur and end stay as they were: no room, still */
        pool->cur = fresh;
        pool->end = fresh + POOL_BLOCK;
    }
    a = (struct zmm_rec *)pool->cur;
    pool->cur += bytes;
    return a;
}

/* An array of another run (which may have been another heap's) goes to H's pool. */
static void pool_give(struct zmm_heap *h, unsigned cls, struct zmm_rec *a)
{
    struct rec_pool *pool = pool_of(h);
    if (!pool)
        return;                         /* no memory for the pool: the array is lost, not reused */
    *(struct zmm_rec **)a = pool->free[cls];
    pool->free[cls] = a;
}

/* Where block ADDR's record is: the run's first page, its class and the block's index;
 * false if ADDR is in no block of a run. */
struct run_pos {
    unsigned first, cls, index;
    uintptr_t start;
};

ZMM_INLINE bool run_pos(struct zmm_chunk *c, uintptr_t addr, struct run_pos *pos)
{
    unsigned page = page_of((void *)addr);
    uint32_t m = c->map[page];
    if (ZMM_LIKELY(PG_KIND(m) == PG_SMALL)) {
        unsigned bin = PG_BIN(m);
        pos->first = page - PG_N(m);
        uintptr_t run = (uintptr_t)page_addr(c, pos->first);
        pos->cls = bin + 1;
        pos->index = bin_slot_index(bin, addr - run);
        pos->start = run + (size_t)pos->index * bin_size[bin];
        return pos->index < bin_count[bin];
    }
    if (PG_KIND(m) == PG_LCONT) {
        page -= PG_N(m);
        m = c->map[page];
    }
    if (PG_KIND(m) != PG_LARGE)
        return false;
    pos->first = page;
    pos->cls = CLS_LARGE;
    pos->index = 0;
    pos->start = (uintptr_t)page_addr(c, page);
    return true;
}

/* The record table of chunk C's slot, kept in C's header once looked up. */
ZMM_INLINE struct slot_recs *chunk_recs(struct zmm_chunk *c, bool create)
{
    struct slot_recs *sr = c->track;
    if (ZMM_UNLIKELY(!sr))
        sr = c->track = slot_recs((uintptr_t)c, create);
    return sr;
}

/* ---- records ----------------------------------------------------------------------- */

/* No memory for block P's record: it is served all the same, and counted (the report says
 * how many blocks it could not see). */
static ZMM_COLD void untracked(void)
{
    atomic_fetch_add_explicit(&track_untracked, 1, memory_order_relaxed);
}

bool track_note(struct zmm_heap *h, void *p, size_t n, uint32_t stack)
{
    uintptr_t a = (uintptr_t)p;
    struct zmm_rec *r;
    if (ZMM_UNLIKELY(!(a & CHUNK_MASK))) {     /* a chunk's blocks start past its header */
        struct slot_recs *sr = slot_recs(a, true);
        if (!sr) {
            untracked();
            return false;
        }
        sr->huge_size = n;
        r = &sr->huge;
    } else {
        struct zmm_chunk *c = chunk_of(p);
        struct slot_recs *sr = chunk_recs(c, true);
        struct run_pos pos;
        if (!sr || !run_pos(c, a, &pos)) {
            untracked();
            return false;
        }
        if (ZMM_UNLIKELY(sr->cls[pos.first] != pos.cls)) {
            if (sr->run[pos.first])
                pool_give(h, sr->cls[pos.first], sr->run[pos.first]);
            sr->cls[pos.first] = 0;
            sr->run[pos.first] = pool_take(h, pos.cls);
            if (!sr->run[pos.first]) {
                untracked();
                return false;
            }
            sr->cls[pos.first] = (uint8_t)pos.cls;
        }
        r = &sr->run[pos.first][pos.index];
    }
    r->size = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    r->stack = stack & ~TRACK_RUNTIME;
    r->request = atomic_load_explicit(&track_request, memory_order_relaxed);
    atomic_store_explicit(&r->state, REC_LIVE | (stack & TRACK_RUNTIME ? REC_RUNTIME : 0),
                          memory_order_release);
    return true;
}

/* The record of block P (live or not), or NULL; *SR its slot's records. */
static struct zmm_rec *rec_of(uintptr_t p, struct slot_recs **srp)
{
    if (ZMM_UNLIKELY(!(p & CHUNK_MASK))) {
        struct slot_recs *sr = *srp = slot_recs(p, false);
        return sr ? &sr->huge : NULL;
    }
    struct zmm_chunk *c = chunk_of((void *)p);
    struct slot_recs *sr = *srp = chunk_recs(c, false);
    struct run_pos pos;
    if (!sr || !run_pos(c, p, &pos) || sr->cls[pos.first] != pos.cls)
        return NULL;
    return &sr->run[pos.first][pos.index];
}

static size_t rec_size(const struct slot_recs *sr, const struct zmm_rec *r)
{
    return r == &sr->huge ? sr->huge_size : r->size;
}

size_t track_forget(void *p, uint32_t *request)
{
    struct slot_recs *sr;
    struct zmm_rec *r = rec_of((uintptr_t)p, &sr);
    if (request)
        *request = 0;
    if (!r)
        return 0;
    size_t n = 0;
    if (request && (atomic_load_explicit(&r->state, memory_order_relaxed) & REC_LIVE)) {
        n = rec_size(sr, r);
        *request = r->request;
    }
    atomic_store_explicit(&r->state, 0, memory_order_release);
    return n;
}

struct zmm_rec *track_find(uintptr_t addr, uintptr_t *start, size_t *size)
{
    uintptr_t slot = addr & ~(uintptr_t)CHUNK_MASK;
    uint64_t e = registry_get(slot);
    switch (REG_KIND(e)) {
    case REG_CHUNK:
        if (addr - slot < PAGE_SIZE)
            return NULL;
        break;
    case REG_HUGE_INNER:
        slot = registry_huge_head(slot, e);
        e = registry_get(slot);
        /* fall through */
    case REG_HUGE:
        if (e & REG_FREED)
            return NULL;
        break;
    default:
        return NULL;
    }
    struct slot_recs *sr = slot_recs(slot, false);
    if (!sr)
        return NULL;
    struct zmm_rec *r;
    if (REG_KIND(e) == REG_HUGE) {
        r = &sr->huge;
        *start = slot;
    } else {
        struct run_pos pos;
        if (!run_pos((struct zmm_chunk *)slot, addr, &pos) || sr->cls[pos.first] != pos.cls)
            return NULL;
        r = &sr->run[pos.first][pos.index];
        *start = pos.start;
    }
    if (!(atomic_load_explicit(&r->state, memory_order_acquire) & REC_LIVE))
        return NULL;
    *size = rec_size(sr, r);
    return addr - *start < (*size ? *size : 1) ? r : NULL;
}

/* ---- walking every live block ------------------------------------------------------ */

struct walk {
    void (*fn)(uintptr_t start, size_t size, struct zmm_rec *r, void *ctx);
    void *ctx;
};

static void walk_run(const struct walk *w, uintptr_t run, unsigned cls, struct zmm_rec *recs)
{
    size_t step = cls == CLS_LARGE ? 0 : bin_size[cls - 1];
    for (unsigned i = 0; i < cls_blocks(cls); i++)
        if (atomic_load_explicit(&recs[i].state, memory_order_acquire) & REC_LIVE)
            w->fn(run + i * step, recs[i].size, &recs[i], w->ctx);
}

/* The record class of the run that starts at a page whose map entry is M (0: none starts). */
static unsigned run_cls(uint32_t m)
{
    return PG_KIND(m) == PG_LARGE ? CLS_LARGE : PG_KIND(m) == PG_SMALL && PG_N(m) == 0 ? PG_BIN(m) + 1 : 0;
}

static void walk_slot(uintptr_t slot, uint64_t e, void *ctx)
{
    const struct walk *w = ctx;
    struct slot_recs *sr = slot_recs(slot, false);
    if (!sr)
        return;
    if (REG_KIND(e) == REG_HUGE) {
        if (!(e & REG_FREED) && (atomic_load_explicit(&sr->huge.state, memory_order_acquire) & REC_LIVE))
            w->fn(slot, sr->huge_size, &sr->huge, w->ctx);
        return;
    }
    if (REG_KIND(e) != REG_CHUNK)
        return;
    struct zmm_chunk *c = (struct zmm_chunk *)slot;
    for (unsigned page = FIRST_PAGE; page < CHUNK_PAGES; page++) {
        unsigned cls = run_cls(c->map[page]);
        if (cls && sr->cls[page] == cls && sr->run[page])
            walk_run(w, (uintptr_t)page_addr(c, page), cls, sr->run[page]);
    }
}

void track_walk(void (*fn)(uintptr_t start, size_t size, struct zmm_rec *r, void *ctx), void *ctx)
{
    struct walk w = { fn, ctx };
    registry_walk(walk_slot, &w);
}

/* ---- walking the live blocks in written pages (fork child) --------------------------- */

/* For each 2 MiB slot zmm holds, in address order (the registry's walk, stable while every
 * heap is held), which of its pages were written since the fork: read once per scan. */
static struct {
    uintptr_t *slots;
    unsigned char *pages;               /* CHUNK_PAGES bytes per slot */
    size_t count, cap, bytes, next;
} written;

static void count_slot(uintptr_t slot, uint64_t e, void *ctx)
{
    (void)slot;
    (void)e;
    ++*(size_t *)ctx;
}

static void read_slot(uintptr_t slot, uint64_t e, void *ctx)
{
    int pagemap = *(int *)ctx;
    (void)e;
    if (written.count == written.cap)
        return;
    unsigned char *vec = written.pages + written.count * CHUNK_PAGES;
    if (!os_written(pagemap, (const void *)slot, CHUNK_SIZE, vec))
        memset(vec, 1, CHUNK_PAGES);    /* cannot tell: all written */
    written.slots[written.count++] = slot;
}

bool track_written_begin(int pagemap)
{
    size_t n = 0;
    registry_walk(count_slot, &n);
    written.cap = n;
    written.count = 0;
    written.bytes = align_up(n * (sizeof(uintptr_t) + CHUNK_PAGES) + 1, PAGE_SIZE);
    written.slots = pagemap >= 0 ? os_map_scratch(written.bytes) : NULL;
    if (!written.slots)
        return false;
    written.pages = (unsigned char *)(written.slots + n);
    registry_walk(read_slot, &pagemap);
    return true;
}

void track_written_end(void)
{
    os_unmap_scratch(written.slots, written.bytes);
    written.slots = NULL;
}

/* The page bytes of SLOT, found from its index in the walk (or by search). */
static const unsigned char *slot_pages(uintptr_t slot)
{
    size_t lo = 0, hi = written.count;
    if (written.next < written.count && written.slots[written.next] == slot)
        return written.pages + written.next++ * CHUNK_PAGES;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (written.slots[mid] < slot)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == written.count || written.slots[lo] != slot)
        return NULL;
    written.next = lo + 1;
    return written.pages + lo * CHUNK_PAGES;
}

bool track_written(uintptr_t addr)
{
    const unsigned char *pages = written.slots ? slot_pages(addr & ~(uintptr_t)CHUNK_MASK) : NULL;
    return !pages || pages[(addr & CHUNK_MASK) >> PAGE_SHIFT];
}

/* The blocks of run RUN (class CLS, records RECS) that overlap page PAGE, none below index
 * *NEXT (so that a block over two written pages is visited once). */
static void walk_page(const struct walk *w, uintptr_t run, uintptr_t page, unsigned cls,
                      struct zmm_rec *recs, unsigned *next)
{
    size_t step = cls == CLS_LARGE ? 0 : bin_size[cls - 1];
    unsigned first = cls == CLS_LARGE ? 0 : (unsigned)((page - run) / step);
    unsigned last = cls == CLS_LARGE ? 0 : (unsigned)((page + PAGE_SIZE - 1 - run) / step);
    last = last < cls_blocks(cls) ? last : cls_blocks(cls) - 1;
    for (unsigned i = first > *next ? first : *next; i <= last; i++)
        if (atomic_load_explicit(&recs[i].state, memory_order_acquire) & REC_LIVE)
            w->fn(run + i * step, recs[i].size, &recs[i], w->ctx);
    *next = last + 1;
}

static void walk_written_slot(uintptr_t slot, uint64_t e, void *ctx)
{
    const struct walk *w = ctx;
    const unsigned char *pages = slot_pages(slot);
    if (REG_KIND(e) == REG_HUGE) {          /* visited if any of its slots' pages was written */
        size_t slots = (huge_size(e) + CHUNK_SIZE - 1) >> CHUNK_SHIFT;
        bool any = !pages;
        for (size_t k = 0; k < slots && !any; k++) {
            const unsigned char *p = k ? slot_pages(slot + (k << CHUNK_SHIFT)) : pages;
            for (size_t i = 0; i < CHUNK_PAGES && !any; i++)
                any = !p || p[i];
        }
        written.next = 0;                   /* the walk goes on with the next slot: searched */
        if (any)
            walk_slot(slot, e, ctx);
        return;
    }
    if (REG_KIND(e) != REG_CHUNK)
        return;
    struct slot_recs *sr = slot_recs(slot, false);
    if (!sr)
        return;
    if (!pages) {
        walk_slot(slot, e, ctx);
        return;
    }
    struct zmm_chunk *c = (struct zmm_chunk *)slot;
    unsigned run_first = 0, next = 0;
    for (unsigned page = FIRST_PAGE; page < CHUNK_PAGES; page++) {
        if (!pages[page])
            continue;
        uint32_t m = c->map[page];
        unsigned first = PG_KIND(m) == PG_SMALL || PG_KIND(m) == PG_LCONT ? page - PG_N(m) : page;
        unsigned cls = run_cls(c->map[first]);
        if (!cls || sr->cls[first] != cls || !sr->run[first])
            continue;
        if (first != run_first)
            next = 0;
        run_first = first;
        walk_page(w, (uintptr_t)page_addr(c, first), (uintptr_t)page_addr(c, page), cls, sr->run[first], &next);
    }
}

void track_walk_written(void (*fn)(uintptr_t start, size_t size, struct zmm_rec *r, void *ctx), void *ctx)
{
    struct walk w = { fn, ctx };
    if (!written.slots) {
        registry_walk(walk_slot, &w);
        return;
    }
    written.next = 0;
    registry_walk(walk_written_slot, &w);
}
