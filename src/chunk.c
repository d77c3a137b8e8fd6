/* chunk.c: owns chunks: their header (bitmap and page map), page runs inside them, and the
 * cache of empty chunks. Invariants: a chunk belongs to exactly one set (heap) or to the
 * cache; bitmap bit = page in use; free_pages counts the zero bits; held_pages counts pages
 * in use in the bitmap that the owner holds as freed large runs (runs.c gives them back before
 * the chunk could be found empty, so a chunk leaves its set only when every page is free);
 * a set's hot slots name only chunks of that set (set_link fills, set_unlink clears);
 * only the owning thread touches a set's chunks, so the page paths take no lock; the cache
 * has a spin lock. */
#include "chunk.h"
#include "libc.h"
#include "lock.h"
#include "os.h"
#include "out.h"
#include "registry.h"

#include <stdatomic.h>
#include <string.h>

#define CACHE_HOT   4        /* cached chunks kept dirty, ready at once */
#define CACHE_EXTRA 12       /* more of them while chunks given back are mapped again */
#define CACHE_MAX   1024

static struct {
    spinlock_t lock;
    struct zmm_chunk *list[CACHE_MAX];
    size_t count;
    size_t avg16;            /* running average of chunks in use, times 16 */
    size_t given;            /* chunks unmapped and not yet mapped again */
    size_t extra;            /* hot chunks past CACHE_HOT, earned by mapping given chunks again */
    size_t releases;
} cache;

static atomic_size_t chunks_in_use, chunks_peak, chunks_cached;
static size_t compact = SIZE_MAX;   /* ZMM_COMPACT in bytes, SIZE_MAX for adaptive */

void chunk_configure(size_t compact_bytes)
{
    compact = compact_bytes;
}

/* ---- bitmap ------------------------------------------------------------------------ */

static unsigned next_bit(const uint64_t *bm, unsigned i, bool want_used)
{
    while (i < CHUNK_PAGES) {
        uint64_t w = bm[i / 64];
        if (!want_used)
            w = ~w;
        w &= ~(uint64_t)0 << (i % 64);
        if (w)
            return (i & ~63u) + (unsigned)__builtin_ctzll(w);
        i = (i & ~63u) + 64;
    }
    return CHUNK_PAGES;
}

static void bits_set(uint64_t *bm, unsigned i, unsigned n, bool used)
{
    while (n) {
        unsigned k = 64 - i % 64 < n ? 64 - i % 64 : n;
        uint64_t mask = (k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1)) << (i % 64);
        if (used)
            bm[i / 64] |= mask;
        else
            bm[i / 64] &= ~mask;
        i += k;
        n -= k;
    }
}

/* Best fit: the smallest free run that holds N pages starting on a multiple of ALIGN. */
static unsigned chunk_find(const struct zmm_chunk *c, unsigned n, unsigned align, unsigned *fit)
{
    unsigned best = 0, best_len = CHUNK_PAGES + 1;
    for (unsigned i = next_bit(c->bitmap, 0, false); i < CHUNK_PAGES;) {
        unsigned end = next_bit(c->bitmap, i, true);
        unsigned start = (i + align - 1) & ~(align - 1);
        if (start + n <= end && end - i < best_len) {
            best = start;
            best_len = end - i;
            if (best_len == n)
                break;
        }
        i = next_bit(c->bitmap, end, false);
    }
    *fit = best_len;
    return best;
}

/* The bitmap agrees with free_pages and with the page map (ZMM_CHECKS >= 2 on every change,
 * ZMM_DEBUG=check_on_exit at exit). */
void chunk_verify(const struct zmm_chunk *c)
{
    unsigned used = 0;
    for (unsigned i = 0; i < CHUNK_PAGES / 64; i++)
        used += (unsigned)__builtin_popcountll(c->bitmap[i]);
    if (used + c->free_pages != CHUNK_PAGES)
        out_fault("chunk %p: bitmap has %u pages in use, header says %u free", (const void *)c, used,
                  (unsigned)c->free_pages);
    if (c->held_pages + FIRST_PAGE > used)
        out_fault("chunk %p: %u pages held on run lists, only %u in use", (const void *)c,
                  (unsigned)c->held_pages, used - FIRST_PAGE);
    for (unsigned p = FIRST_PAGE; p < CHUNK_PAGES; p++) {
        bool in_use = (c->bitmap[p / 64] >> (p % 64)) & 1;
        if (!in_use && PG_KIND(c->map[p]) != PG_FREE)
            out_fault("chunk %p: page %u is free in the bitmap but its map entry is %x", (const void *)c,
                      p, (unsigned)c->map[p]);
    }
}

/* ---- the set of a heap ------------------------------------------------------------- */

static void set_link(struct zmm_chunkset *set, struct zmm_chunk *c)
{
    c->set = set;
    c->owner = set->owner;
    if (!set->head) {
        c->next = c->prev = c;
    } else {
        c->next = set->head;
        c->prev = set->head->prev;
        c->prev->next = c;
        c->next->prev = c;
    }
    set->head = c;
    set->count++;
    *chunk_hot_slot(set, c) = (uintptr_t)c + 1;
}

static void set_unlink(struct zmm_chunkset *set, struct zmm_chunk *c)
{
    if (c->next == c) {
        set->head = NULL;
    } else {
        c->prev->next = c->next;
        c->next->prev = c->prev;
        if (set->head == c)
            set->head = c->next;
    }
    set->count--;
    c->set = NULL;
    if (*chunk_hot_slot(set, c) == (uintptr_t)c + 1)
        *chunk_hot_slot(set, c) = 0;
}

/* ---- the cache of empty chunks ----------------------------------------------------- */

/* The cache keeps ZMM_COMPACT bytes, or by default a share of the running average of chunks
 * in use; chunks past a few hot ones are purged (madvise) when cached, the rest unmapped.
 * Anti-thrash: each chunk mapped again after one was given back earns one more hot chunk (up
 * to CACHE_EXTRA), and every 256 releases one is lost, so a program that keeps taking back
 * what it gave keeps it in memory, not faulted in page by page. */

static void chunk_init_header(struct zmm_chunk *c)
{
    memset(c->bitmap, 0, sizeof c->bitmap);
    memset(c->map, 0, sizeof c->map);
    c->bitmap[0] = 1;
    c->map[0] = PG_HEADER;
    c->free_pages = CHUNK_PAGES - FIRST_PAGE;
    c->held_pages = 0;
}

static struct zmm_chunk *chunk_new(void)
{
    struct zmm_chunk *c = NULL;
    spin_lock(&cache.lock);
    if (cache.count) {
        c = cache.list[--cache.count];
    } else if (cache.given) {
        /* Thrashing: a chunk given back is mapped again (and faulted in page by page). */
        cache.given--;
        cache.extra += cache.extra < CACHE_EXTRA;
    }
    spin_unlock(&cache.lock);
    if (c) {
        atomic_fetch_sub(&chunks_cached, 1);
    } else {
        c = os_map_aligned(CHUNK_SIZE, CHUNK_SIZE);
        if (!c)
            return NULL;
        if (!registry_set((uintptr_t)c, REG_CHUNK)) {
            os_unmap_aligned(c, CHUNK_SIZE);
            return NULL;
        }
    }
    chunk_init_header(c);
    libc_atomic_max(&chunks_peak, atomic_fetch_add(&chunks_in_use, 1) + 1);
    return c;
}

static size_t cache_keep(size_t in_use)
{
    if (compact != SIZE_MAX)
        return compact / CHUNK_SIZE;
    cache.avg16 = (cache.avg16 * 15 + in_use * 16 + 8) / 16;
    size_t keep = cache.avg16 / 16 / 8, hot = CACHE_HOT + cache.extra;
    return keep < hot ? hot : keep > CACHE_MAX ? CACHE_MAX : keep;
}

/* A chunk is purged before it is published in the cache: once there, another thread may
 * take it at any moment. */
static void chunk_release(struct zmm_chunk *c)
{
    size_t in_use = atomic_fetch_sub(&chunks_in_use, 1) - 1;
    c->owner = NULL;
    spin_lock(&cache.lock);
    size_t count = cache.count, keep = cache_keep(in_use), hot = CACHE_HOT + cache.extra;
    if (++cache.releases % 256 == 0 && cache.extra)
        cache.extra--;
    spin_unlock(&cache.lock);
    if (count < keep) {
        if (count >= hot)
            os_purge(page_addr(c, FIRST_PAGE), CHUNK_SIZE - FIRST_PAGE * PAGE_SIZE);
        spin_lock(&cache.lock);
        bool kept = cache.count < CACHE_MAX;
        if (kept)
            cache.list[cache.count++] = c;
        spin_unlock(&cache.lock);
        if (kept) {
            atomic_fetch_add(&chunks_cached, 1);
            return;
        }
    }
    spin_lock(&cache.lock);
    cache.given += cache.given < CACHE_MAX;
    spin_unlock(&cache.lock);
    registry_set((uintptr_t)c, 0);
    os_unmap_aligned(c, CHUNK_SIZE);
}

/* ---- page runs --------------------------------------------------------------------- */

void *chunk_alloc_pages(struct zmm_chunkset *set, unsigned n, unsigned align, bool grow)
{
    struct zmm_chunk *best = NULL;
    unsigned best_page = 0, best_len = CHUNK_PAGES + 1;
    struct zmm_chunk *c = set->head;
    for (size_t i = 0; i < set->count; i++, c = c->next) {
        if (c->free_pages < n)
            continue;
        unsigned fit;
        unsigned page = chunk_find(c, n, align, &fit);
        if (page && fit < best_len) {
            best = c;
            best_page = page;
            best_len = fit;
            if (fit == n)
                break;
        }
    }
    if (!best) {
        if (!grow)
            return NULL;
        best = chunk_new();
        if (!best)
            return NULL;
        set_link(set, best);
        best_page = (FIRST_PAGE + align - 1) & ~(align - 1);
    }
    set->head = best;
    if (ZMM_CHECKS >= 2)
        chunk_verify(best);
    bits_set(best->bitmap, best_page, n, true);
    best->free_pages -= n;
    return page_addr(best, best_page);
}

void chunk_free_pages(struct zmm_chunk *c, unsigned page, unsigned n)
{
    bits_set(c->bitmap, page, n, false);
    c->map[page] = PG_FREED_ENTRY(c->map[page]);
    for (unsigned i = 1; i < n; i++)
        c->map[page + i] = PG_FREE;
    c->free_pages += n;
    if (ZMM_CHECKS >= 2)
        chunk_verify(c);
    if (c->free_pages == CHUNK_PAGES - FIRST_PAGE) {
        set_unlink(c->set, c);
        chunk_release(c);
    }
}

bool chunk_grow_pages(struct zmm_chunk *c, unsigned page, unsigned n, unsigned m)
{
    if (page + m > CHUNK_PAGES || next_bit(c->bitmap, page + n, true) < page + m)
        return false;
    bits_set(c->bitmap, page + n, m - n, true);
    c->free_pages -= m - n;
    return true;
}

size_t chunk_purge_free(struct zmm_chunkset *set)
{
    size_t given = 0;
    struct zmm_chunk *c = set->head;
    for (size_t k = 0; k < set->count; k++, c = c->next) {
        for (unsigned i = next_bit(c->bitmap, 0, false); i < CHUNK_PAGES;) {
            unsigned end = next_bit(c->bitmap, i, true);
            os_purge(page_addr(c, i), (size_t)(end - i) << PAGE_SHIFT);
            given += (size_t)(end - i) << PAGE_SHIFT;
            i = next_bit(c->bitmap, end, false);
        }
    }
    return given;
}

size_t chunk_trim(struct zmm_chunkset *set)
{
    size_t given = set ? chunk_purge_free(set) : 0;
    struct zmm_chunk *drop[CACHE_MAX];
    spin_lock(&cache.lock);
    size_t ndrop = cache.count;
    memcpy(drop, cache.list, ndrop * sizeof drop[0]);
    cache.count = 0;
    spin_unlock(&cache.lock);
    atomic_fetch_sub(&chunks_cached, ndrop);
    for (size_t i = 0; i < ndrop; i++) {
        registry_set((uintptr_t)drop[i], 0);
        os_unmap_aligned(drop[i], CHUNK_SIZE);
    }
    return given + ndrop * CHUNK_SIZE;
}

void chunk_stats(struct chunk_stats *s)
{
    s->in_use = atomic_load(&chunks_in_use);
    s->cached = atomic_load(&chunks_cached);
    s->mapped = s->in_use + s->cached;
    s->peak = atomic_load(&chunks_peak);
}

void chunk_after_fork(void)
{
    spin_init(&cache.lock);
}
