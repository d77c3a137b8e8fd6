/* huge.c: owns huge blocks: mappings of their own, CHUNK-aligned, their size kept in the
 * registry (so lookup is O(1) and a freed one is recognised). The registry's size is the
 * whole mapping, which is the block's usable size. realloc resizes in place with mremap or
 * moves the pages to a fresh aligned range, never copies. A few freed mappings are kept (at
 * most HUGE_CACHE of them, HUGE_CACHE_BYTES in all) and reused by later blocks of half their
 * size up to their size, or grown (mremap) for a block up to twice their size, sparing an
 * munmap/mmap pair and most of its page faults per block. */
#include "huge.h"
#include "limit.h"
#include "lock.h"
#include "os.h"
#include "registry.h"

#include <stdatomic.h>

#define HUGE_CACHE        16
#define HUGE_CACHE_BYTES  ((size_t)64 << 20)

static struct {
    spinlock_t lock;
    struct { uint8_t *addr; size_t size; } slot[HUGE_CACHE];
    size_t count, bytes;
} cache;

static atomic_size_t live, live_bytes, peak_bytes;

static void huge_count(size_t add, size_t sub)
{
    size_t now = atomic_fetch_add(&live_bytes, add) + add;
    atomic_fetch_sub(&live_bytes, sub);
    size_t p = atomic_load(&peak_bytes);
    while (now > p && !atomic_compare_exchange_weak(&peak_bytes, &p, now))
        ;
}

/* The smallest cached mapping of SIZE to MOST bytes; with SMALLER, if there is none, the
 * largest of half SIZE or more (which the caller grows). */
static uint8_t *cache_take(size_t size, size_t most, bool smaller, size_t *got)
{
    uint8_t *p = NULL;
    spin_lock(&cache.lock);
    size_t best = HUGE_CACHE, below = HUGE_CACHE;
    for (size_t i = 0; i < cache.count; i++) {
        size_t s = cache.slot[i].size;
        if (s >= size && s <= most && (best == HUGE_CACHE || s < cache.slot[best].size))
            best = i;
        if (s < size && s >= size / 2 && (below == HUGE_CACHE || s > cache.slot[below].size))
            below = i;
    }
    if (best == HUGE_CACHE && smaller)
        best = below;
    if (best != HUGE_CACHE) {
        p = cache.slot[best].addr;
        *got = cache.slot[best].size;
        cache.bytes -= *got;
        cache.slot[best] = cache.slot[--cache.count];
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
            uint8_t *old = cache.slot[0].addr;
            size_t old_size = cache.slot[0].size;
            cache.bytes -= old_size;
            cache.slot[0] = cache.slot[--cache.count];
            spin_unlock(&cache.lock);
            registry_set_huge((uintptr_t)old, old_size, 0);
            os_unmap_aligned(old, old_size);
            spin_lock(&cache.lock);
        }
        if (cache.count < HUGE_CACHE && cache.bytes + size <= HUGE_CACHE_BYTES) {
            registry_set((uintptr_t)p, size | REG_HUGE | REG_FREED);
            cache.slot[cache.count].addr = p;
            cache.slot[cache.count++].size = size;
            cache.bytes += size;
            kept = true;
        }
    }
    spin_unlock(&cache.lock);
    return kept;
}

void *huge_alloc(size_t size, size_t align, bool *zeroed)
{
    size = align_up(size, PAGE_SIZE);
    size_t got = 0;
    uint8_t *p = align == CHUNK_SIZE ? cache_take(size, 2 * size, true, &got) : NULL;
    if (p && got < size) {
        /* A smaller mapping grown: only the pages it lacks are new. */
        uint8_t *to = os_resize_inplace(p, got, size) ? p : os_move(p, got, size, CHUNK_SIZE);
        if (to) {
            registry_set_huge((uintptr_t)p, got, 0);
            if (!registry_set_huge((uintptr_t)to, size, size | REG_HUGE | REG_FREED)) {
                os_unmap_aligned(to, size);
                to = NULL;
            }
            p = to;
            got = size;
        } else {
            cache_put(p, got);
            p = NULL;
        }
    }
    if (!limit_take(p ? got : size)) {
        if (p)
            cache_put(p, got);
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
    if (!cache_put(p, size)) {
        registry_set_huge((uintptr_t)p, size, 0);
        os_unmap_aligned(p, size);
    }
}

void *huge_resize(void *p, uint64_t entry, size_t size)
{
    size_t old = huge_size(entry);
    size = align_up(size, PAGE_SIZE);
    if (size == old)
        return p;
    if (size > old && !limit_take(size - old)) {
        limit_exhausted(size - old);
        return NULL;
    }
    void *to = p;
    if (!os_resize_inplace(p, old, size)) {
        to = size > old ? os_move(p, old, size, CHUNK_SIZE) : NULL;
        if (!to) {
            if (size > old)
                limit_give(size - old);
            return NULL;
        }
    }
    registry_set_huge((uintptr_t)p, old, 0);
    registry_set_huge((uintptr_t)to, size, size | REG_HUGE);
    if (size < old)
        limit_give(old - size);
    huge_count(size, old);
    return to;
}

size_t huge_trim(void)
{
    size_t freed = 0;
    spin_lock(&cache.lock);
    while (cache.count) {
        uint8_t *p = cache.slot[--cache.count].addr;
        size_t size = cache.slot[cache.count].size;
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
