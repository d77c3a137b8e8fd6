/* huge.c: owns huge blocks: mappings of their own, CHUNK-aligned, their size kept in the
 * registry (so lookup is O(1) and a freed one is recognised); the registry's size is the
 * whole mapping, which is the block's usable size. A few freed mappings are kept for reuse
 * (the cache, below), sparing an munmap/mmap pair and most of its page faults per block. A
 * range's registry entries are cleared before the range goes back to the kernel, which may
 * map something else there at once. */
#include "huge.h"
#include "libc.h"
#include "limit.h"
#include "lock.h"
#include "os.h"
#include "registry.h"

#include <stdatomic.h>
#include <string.h>

/* The cache: at most HUGE_CACHE mappings, HUGE_CACHE_BYTES in all, reused by later blocks of
 * two fifths of their size up to their size (the smallest that fits: taking a larger one beats
 * growing a smaller one, whose new pages fault), or else grown (mremap) for a block up to twice
 * their size; one a chunk or more larger than the block's CHUNK-rounded size is split, its tail
 * cached again as a mapping of its own (not with ZMM_MEM_TYPE=malloc, whose blocks cannot be
 * split). */
#define HUGE_CACHE        16
#define HUGE_CACHE_BYTES  ((size_t)64 << 20)

static struct {
    spinlock_t lock;
    /* Apart, not an array of pairs: a pair is copied through a vector register, where the
     * address of a mapping taken again may stay long after and keep a leak reachable for
     * the conservative scan (it reads the stopped threads' vector registers). */
    uint8_t *addr[HUGE_CACHE];
    size_t size[HUGE_CACHE];
    size_t count, bytes;
} cache;

static atomic_size_t live, live_bytes, peak_bytes;

static void huge_count(size_t add, size_t sub)
{
    size_t now = atomic_fetch_add(&live_bytes, add) + add;
    atomic_fetch_sub(&live_bytes, sub);
    libc_atomic_max(&peak_bytes, now);
}

/* The smallest cached mapping of SIZE to MOST bytes; if there is none, the largest of LEAST
 * bytes or more below SIZE (which the caller grows; LEAST = SIZE for none). */
static uint8_t *cache_take(size_t size, size_t most, size_t least, size_t *got)
{
    uint8_t *p = NULL;
    spin_lock(&cache.lock);
    size_t best = HUGE_CACHE, largest = HUGE_CACHE;
    for (size_t i = 0; i < cache.count; i++) {
        size_t s = cache.size[i];
        if (s >= size && s <= most && (best == HUGE_CACHE || s < cache.size[best]))
            best = i;
        if (s >= least && s < size && (largest == HUGE_CACHE || s > cache.size[largest]))
            largest = i;
    }
    if (best == HUGE_CACHE)
        best = largest;
    if (best != HUGE_CACHE) {
        p = cache.addr[best];
        *got = cache.size[best];
        cache.bytes -= *got;
        cache.count--;
        cache.addr[best] = cache.addr[cache.count];
        cache.size[best] = cache.size[cache.count];
    }
    spin_unlock(&cache.lock);
    return p;
}

static bool cache_put(uint8_t *p, size_t size)
{
    bool kept = false;
    spin_lock(&cache.lock);
    if (size <= HUGE_CACHE_BYTES / 2) {
        while (cache.count && (cache.count == HUGE_CACHE || cache.bytes + size > HUGE_CACHE_BYTES)) {
            /* Evict the oldest: unmapped outside the lock below, one at a time. */
            uint8_t *old = cache.addr[0];
            size_t old_size = cache.size[0];
            cache.bytes -= old_size;
            cache.count--;
            cache.addr[0] = cache.addr[cache.count];
            cache.size[0] = cache.size[cache.count];
            spin_unlock(&cache.lock);
            registry_set_huge((uintptr_t)old, old_size, 0);
            os_unmap_aligned(old, old_size);
            spin_lock(&cache.lock);
        }
        if (cache.count < HUGE_CACHE && cache.bytes + size <= HUGE_CACHE_BYTES) {
            registry_set((uintptr_t)p, size | REG_HUGE | REG_FREED);
            cache.addr[cache.count] = p;
            cache.size[cache.count++] = size;
            cache.bytes += size;
            kept = true;
        }
    }
    spin_unlock(&cache.lock);
    return kept;
}

/* A mapping no block uses any more: cached, or else given back. */
static void huge_drop(uint8_t *p, size_t size)
{
    if (!cache_put(p, size)) {
        registry_set_huge((uintptr_t)p, size, 0);
        os_unmap_aligned(p, size);
    }
}

void *huge_alloc(size_t size, size_t align, bool *zeroed)
{
    size = align_up(size, PAGE_SIZE);
    size_t got = 0;
    uint8_t *p = align == CHUNK_SIZE ? cache_take(size, 5 * size / 2, size / 2, &got) : NULL;
    if (p && got >= align_up(size, CHUNK_SIZE) + CHUNK_SIZE && os_can_split()) {
        /* A larger mapping split: its CHUNK-aligned tail goes back to the cache as a mapping
         * of its own, its pages still in memory. */
        size_t keep = align_up(size, CHUNK_SIZE);
        registry_set_huge((uintptr_t)p + keep, got - keep, (got - keep) | REG_HUGE | REG_FREED);
        registry_set((uintptr_t)p, keep | REG_HUGE | REG_FREED);
        huge_drop(p + keep, got - keep);
        got = keep;
    }
    if (p && got < size) {
        /* A smaller mapping grown: only the pages it lacks are new. */
        registry_set_huge((uintptr_t)p, got, 0);
        uint8_t *to = os_resize_inplace(p, got, size) ? p : os_move(p, got, size, CHUNK_SIZE);
        if (to && !registry_set_huge((uintptr_t)to, size, size | REG_HUGE | REG_FREED)) {
            registry_set_huge((uintptr_t)to, size, 0);
            os_unmap_aligned(to, size);
            to = NULL;
        } else if (!to) {
            registry_set_huge((uintptr_t)p, got, got | REG_HUGE | REG_FREED);
            huge_drop(p, got);
        }
        p = to;
        got = size;
    }
    if (!limit_take(p ? got : size)) {
        if (p)
            huge_drop(p, got);
        limit_exhausted(size);
        return NULL;
    }
    *zeroed = !p;
    if (!p) {
        got = size;
        p = os_map_aligned(size, align);
        if (!p || !registry_set_huge((uintptr_t)p, size, size | REG_HUGE)) {
            if (p)
                os_unmap_aligned(p, size);
            limit_give(size);
            return NULL;
        }
    } else {
        registry_set((uintptr_t)p, got | REG_HUGE);
    }
    atomic_fetch_add(&live, 1);
    huge_count(got, 0);
    return p;
}

void huge_free(void *p, uint64_t entry)
{
    size_t size = huge_size(entry);
    limit_give(size);
    atomic_fetch_sub(&live, 1);
    huge_count(0, size);
    huge_drop(p, size);
}

/* A shrink to half or more keeps the mapping; a growth copies the block into a cached mapping
 * of the new size up to twice it when there is one (its pages are in memory: a copy costs less
 * than the page faults of a fresh tail), or else resizes in place with mremap or moves the
 * pages to a fresh aligned range. */
void *huge_resize(void *p, uint64_t entry, size_t size)
{
    size_t old = huge_size(entry);
    uint8_t *to = p;
    size = align_up(size, PAGE_SIZE);
    if (size <= old && size >= old / 2)
        return p;                       /* as small blocks do: no system call for a shrink */
    if (size < old) {
        /* The slots past the new end are forgotten before the tail is unmapped. */
        size_t keep = align_up(size, CHUNK_SIZE);
        registry_set((uintptr_t)p, size | REG_HUGE);
        if (old > keep)
            registry_set_huge((uintptr_t)p + keep, old - keep, 0);
        if (!os_resize_inplace(p, old, size)) {
            registry_set_huge((uintptr_t)p, old, old | REG_HUGE);
            return NULL;
        }
        limit_give(old - size);
        huge_count(size, old);
        return p;
    }
    /* A cached mapping of SIZE to twice SIZE is in memory already: copying the block there
     * costs less than the page faults of a fresh tail, and its room is the next growths'. */
    size_t got;
    uint8_t *c = cache_take(size, 2 * size, size, &got);
    if (c && limit_take(got - old)) {
        registry_set((uintptr_t)c, got | REG_HUGE);
        memcpy(c, p, old);
        huge_drop(p, old);
        huge_count(got, old);
        return c;
    }
    if (c)
        cache_put(c, got);
    if (!limit_take(size - old)) {
        limit_exhausted(size - old);
        return NULL;
    }
    if (!os_resize_inplace(p, old, size)) {
        /* Forgotten before the move gives its range back to the kernel. */
        registry_set_huge((uintptr_t)p, old, 0);
        to = os_move(p, old, size, CHUNK_SIZE);
        if (!to) {
            registry_set_huge((uintptr_t)p, old, old | REG_HUGE);
            limit_give(size - old);
            return NULL;
        }
    }
    registry_set_huge((uintptr_t)to, size, size | REG_HUGE);
    huge_count(size, old);
    return to;
}

size_t huge_trim(void)
{
    size_t freed = 0;
    spin_lock(&cache.lock);
    while (cache.count) {
        uint8_t *p = cache.addr[--cache.count];
        size_t size = cache.size[cache.count];
        cache.bytes -= size;
        spin_unlock(&cache.lock);
        registry_set_huge((uintptr_t)p, size, 0);
        os_unmap_aligned(p, size);
        freed += size;
        spin_lock(&cache.lock);
    }
    spin_unlock(&cache.lock);
    return freed;
}

void huge_after_fork(void)
{
    spin_init(&cache.lock);
}

void huge_stats(struct huge_stats *s)
{
    spin_lock(&cache.lock);
    s->cached = cache.count;
    s->cached_bytes = cache.bytes;
    spin_unlock(&cache.lock);
    s->live = atomic_load(&live);
    s->live_bytes = atomic_load(&live_bytes);
    s->peak_bytes = atomic_load(&peak_bytes);
}
