/* Chunks and runs, white box: best fit, alignment, in-place growth, page map entries,
 * bin carving and Zend's sweep giving wholly free runs (and then the chunk) back. */
#include "bin.h"
#include "chunk.h"
#include "registry.h"
#include "unit.h"

static struct zmm_chunkset set;

static unsigned alloc(unsigned n, unsigned align)
{
    void *p = chunk_alloc_pages(&set, n, align, true);
    CHECK(p != NULL, "alloc %u pages", n);
    return p ? page_of(p) : 0;
}

int main(void)
{
    int owner;
    set.owner = &owner;

    unsigned a = alloc(10, 1);
    struct zmm_chunk *c = set.head;
    CHECK(c && ((uintptr_t)c & CHUNK_MASK) == 0, "chunk %p not 2 MiB aligned", (void *)c);
    CHECK(registry_get((uintptr_t)c) == REG_CHUNK, "registry entry of a chunk");
    CHECK(registry_get((uintptr_t)c + CHUNK_SIZE - 1) == REG_CHUNK, "registry entry of the chunk's last byte");
    CHECK(c->owner == &owner && c->map[0] == PG_HEADER, "header");
    CHECK(a == FIRST_PAGE, "first run at page %u", a);
    unsigned b = alloc(5, 1), cc = alloc(20, 1), d = alloc(3, 1), e = alloc(40, 1);
    CHECK(b == a + 10 && cc == b + 5 && d == cc + 20 && e == d + 3, "runs packed: %u %u %u %u", b, cc, d, e);
    CHECK(c->free_pages == CHUNK_PAGES - 1 - 78, "free pages %u", c->free_pages);

    /* Holes of 5 (b) and 3 (d): a 3-page run takes the exact fit, a 4-page one the 5. */
    chunk_free_pages(c, b, 5);
    chunk_free_pages(c, d, 3);
    CHECK(alloc(3, 1) == d, "best fit for 3 pages");
    CHECK(alloc(4, 1) == b, "best fit for 4 pages");
    unsigned big = alloc(100, 1);
    CHECK(big == e + 40, "100 pages after the last run: %u", big);

    /* Alignment in pages. */
    unsigned al = alloc(7, 64);
    CHECK(al % 64 == 0 && al > big, "aligned run at %u", al);

    /* Growth in place only into free neighbours. */
    unsigned g = alloc(4, 1);
    CHECK(chunk_grow_pages(c, g, 4, 9), "grow 4 -> 9 pages");
    unsigned after = alloc(1, 1);
    CHECK(after == g + 9 || after < g, "page after the grown run: %u", after);
    CHECK(!chunk_grow_pages(c, g, 9, 10) || after != g + 9, "grew over a used page");
    CHECK(!chunk_grow_pages(c, al, 7, 600), "grew past the chunk");

    /* A second chunk when the first is full. */
    unsigned before = (unsigned)set.count;
    alloc(500, 1);
    CHECK(set.count == before + 1, "a new chunk for 500 pages (%zu chunks)", set.count);

    /* Bins: carve a run, take every block, give them back, sweep: the run goes away. */
    struct zmm_bins bins = { .key = 0x5a5a5a5a12345679u };
    struct zmm_chunkset bset = { .owner = &bins };
    void *run = chunk_alloc_pages(&bset, bin_pages[3], 1, true);
    struct zmm_chunk *bc = bset.head;
    void *first = bin_carve(&bins, 3, run);
    CHECK(first == run, "first block is the run start");
    CHECK(PG_KIND(bc->map[page_of(run)]) == PG_SMALL && PG_BIN(bc->map[page_of(run)]) == 3, "small page entry");
    void *blocks[64];
    blocks[0] = first;
    for (unsigned i = 1; i < bin_count[3]; i++) {
        blocks[i] = bin_pop(&bins, 3);
        CHECK(blocks[i] && ((uintptr_t)blocks[i] & 15) == 0, "block %u", i);
    }
    CHECK(bin_pop(&bins, 3) == NULL, "run exhausted");
    CHECK(bin_sweep(&bins) == 0, "sweep freed a run in use");
    for (unsigned i = 0; i < bin_count[3]; i++) {
        CHECK(!slot_is_free(bins.key, blocks[i]), "live block %u looks free", i);
        slot_push(&bins, 3, blocks[i]);
        CHECK(slot_is_free(bins.key, blocks[i]), "freed block %u not recognised", i);
    }
    /* A second run with one block kept: the sweep must keep that run. */
    void *run2 = chunk_alloc_pages(&bset, bin_pages[3], 1, true);
    bin_carve(&bins, 3, run2);
    size_t freed = bin_sweep(&bins);
    CHECK(freed == 0 || freed == PAGE_SIZE * bin_pages[3], "sweep freed %zu bytes", freed);
    CHECK(freed == PAGE_SIZE, "the wholly free run was not given back (%zu)", freed);
    CHECK(bins.slots[3] == bin_count[3], "slots %lu", (unsigned long)bins.slots[3]);
    unsigned left = 0;
    for (struct zmm_slot *s = bins.free[3]; s; s = s->next) {
        CHECK(chunk_of(s) == bc && page_of(s) == page_of(run2), "kept block %p outside run 2", (void *)s);
        left++;
    }
    CHECK(left == bin_count[3] - 1u, "%u blocks left on the list", left);
    CHECK(PG_COUNT(bc->map[page_of(run2)]) == 0 && !(bc->map[page_of(run2)] & PG_SWEEP), "sweep marks cleared");
    return UNIT_DONE();
}
