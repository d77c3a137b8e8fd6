/* Huge blocks, white box: O(1) index in the registry (head and inner slots, the end of the
 * mapping), the freed mark of cached mappings, reuse from the cache, resize in place or by
 * moving, and trim. */
#include "huge.h"
#include "limit.h"
#include "options.h"
#include "registry.h"
#include "unit.h"

#include <string.h>

int main(void)
{
    limit_set(OPT_UNSET);
    bool zeroed = false;
    size_t size = 5u << 20;
    uint8_t *p = huge_alloc(size + 100, CHUNK_SIZE, &zeroed);
    CHECK(p && ((uintptr_t)p & CHUNK_MASK) == 0, "huge block %p", (void *)p);
    CHECK(zeroed, "fresh mapping not reported zeroed");
    uint64_t e = registry_get((uintptr_t)p);
    CHECK(REG_KIND(e) == REG_HUGE && huge_size(e) == size + PAGE_SIZE && !(e & REG_FREED), "head entry %lx", (unsigned long)e);
    for (unsigned i = 1; i < 3; i++) {
        uint64_t in = registry_get((uintptr_t)p + i * CHUNK_SIZE + 123);
        CHECK(REG_KIND(in) == REG_HUGE_INNER && (in >> 3) == i, "inner entry %u: %lx", i, (unsigned long)in);
    }
    CHECK(limit_in_use() == size + PAGE_SIZE, "committed %zu", limit_in_use());
    memset(p, 0xab, size);

    /* The last slot is zmm's only up to the mapping's end: past it, registry_at says nothing
     * (the kernel may map something else there). */
    uintptr_t lo, hi, in_tail = (uintptr_t)p + 2 * CHUNK_SIZE + (1u << 20) + PAGE_SIZE;
    CHECK(registry_at((uintptr_t)p + size, &lo, &hi) == registry_get((uintptr_t)p + 2 * CHUNK_SIZE) &&
          lo == (uintptr_t)p && hi == (uintptr_t)p + size + PAGE_SIZE, "registry_at inside: [%lx, %lx)",
          (unsigned long)lo, (unsigned long)hi);
    CHECK(registry_at(in_tail, &lo, &hi) == 0, "registry_at past the mapping's end");

    /* Grow (in place or moved), contents kept, index follows. */
    uint8_t *q = huge_resize(p, e, 9u << 20);
    CHECK(q != NULL, "resize to 9 MiB");
    if (q) {
        CHECK(q[0] == 0xab && q[size - 1] == 0xab, "contents kept");
        uint64_t qe = registry_get((uintptr_t)q);
        CHECK(REG_KIND(qe) == REG_HUGE && huge_size(qe) == 9u << 20, "resized entry %lx", (unsigned long)qe);
        CHECK(REG_KIND(registry_get((uintptr_t)q + (4u << 20))) == REG_HUGE_INNER, "new inner slot");
        p = q;
        e = qe;
    }
    /* Shrink in place. */
    q = huge_resize(p, e, 3u << 20);
    CHECK(q == p, "shrink in place");
    e = registry_get((uintptr_t)p);
    CHECK(huge_size(e) == 3u << 20, "shrunk entry %lx", (unsigned long)e);
    CHECK(registry_get((uintptr_t)p + (3u << 21)) == 0, "slot past the end cleared");

    /* Freed into the cache: marked, then reused for a block of about the same size. */
    huge_free(p, e);
    CHECK(registry_get((uintptr_t)p) & REG_FREED, "cached mapping not marked freed");
    CHECK(limit_in_use() == 0, "committed after free %zu", limit_in_use());
    uint8_t *r = huge_alloc(3u << 20, CHUNK_SIZE, &zeroed);
    CHECK(r == p && !zeroed, "cache reuse: %p (zeroed %d)", (void *)r, zeroed);
    huge_free(r, registry_get((uintptr_t)r));
    CHECK(huge_trim() == 3u << 20, "trim gives the cached mapping back");
    CHECK(registry_get((uintptr_t)p) == 0, "trimmed mapping left in the registry");

    /* A growth copies the block into a cached mapping of the new size up to twice it (its
     * pages are in memory already) and caches the old mapping; a shrink to half or more keeps
     * the mapping. */
    uint8_t *warm = huge_alloc(6u << 20, CHUNK_SIZE, &zeroed);
    uint8_t *b = huge_alloc(3u << 20, CHUNK_SIZE, &zeroed);
    CHECK(warm && b, "two blocks");
    if (warm && b) {
        memset(b, 0xcd, 3u << 20);
        huge_free(warm, registry_get((uintptr_t)warm));
        q = huge_resize(b, registry_get((uintptr_t)b), 4u << 20);
        CHECK(q == warm, "grown into the cached mapping: %p, cached %p", (void *)q, (void *)warm);
        CHECK(q && q[0] == 0xcd && q[(3u << 20) - 1] == 0xcd, "contents copied");
        e = q ? registry_get((uintptr_t)q) : 0;
        CHECK(huge_size(e) == 6u << 20 && !(e & REG_FREED), "grown entry %lx", (unsigned long)e);
        CHECK(registry_get((uintptr_t)b) & REG_FREED, "the old mapping cached");
        CHECK(limit_in_use() == 6u << 20, "committed after the copy %zu", limit_in_use());
        if (q) {
            CHECK(huge_resize(q, e, 3u << 20) == q && registry_get((uintptr_t)q) == e, "shrink to half kept");
            huge_free(q, e);
        }
        CHECK(huge_trim() == 9u << 20, "trim gives both mappings back");
    }

    /* Alignment beyond a chunk. */
    uint8_t *al = huge_alloc(1u << 20, 8u << 20, &zeroed);
    CHECK(al && ((uintptr_t)al & ((8u << 20) - 1)) == 0, "8 MiB alignment: %p", (void *)al);
    huge_free(al, registry_get((uintptr_t)al));

    /* The memory limit. */
    limit_set(4u << 20);
    CHECK(huge_alloc(5u << 20, CHUNK_SIZE, &zeroed) == NULL, "5 MiB under a 4 MiB limit");
    limit_set(OPT_UNSET);
    return UNIT_DONE();
}
