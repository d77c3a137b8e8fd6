/* The bins, white box: a carved run's page map entries, blocks handed out in address order
 * after its first, LIFO push and pop, the counts (allocs, frees, slots, carved), signed
 * links (a free block is recognised, a live one is not); a corrupted link, check word or key
 * stops the process with one line before the link is followed (by bin_pop and by the sweep);
 * the sweep gives back exactly the runs whose blocks are all free (single- and multi-page
 * runs, one-block runs, blocks of runs interleaved on the list), keeps the others' blocks
 * signed, clears its marks, and empties the chunk out of its set. */
#include "bin.h"
#include "chunk.h"
#include "unit.h"
#include "fault.h"

static struct zmm_chunkset set;
static struct zmm_bins bins;

static uint8_t *new_run(unsigned bin)
{
    void *run = chunk_alloc_pages(&set, bin_pages[bin], 1, true);
    CHECK(run != NULL, "pages for a run of bin %u", bin);
    return run;
}

static size_t list_length(const struct zmm_bins *b, unsigned bin)
{
    size_t n = 0;
    for (struct zmm_slot *s = b->free[bin]; s && n < 100000; s = s->next)
        n++;
    return n;
}

/* ---- faults, each in a child --------------------------------------------------------- */

static void pop_bin3(void *arg)
{
    (void)arg;
    bin_pop(&bins, 3);
}

/* The head's link was followed before: the block under it is popped, then the fault. */
static void pop_bin3_twice(void *arg)
{
    if (bin_pop(&bins, 3) != arg)
        _exit(3);
    bin_pop(&bins, 3);
}

static void sweep(void *arg)
{
    (void)arg;
    bin_sweep(&bins);
}

int main(void)
{
    int owner;
    set.owner = &owner;
    bins.key = 0x9e3779b97f4a7c15u | 1;

    /* ---- carving: map entries, the first block handed out, the others in address order -- */
    uint8_t *run = new_run(3);
    struct zmm_chunk *c = chunk_of(run);
    void *first = bin_carve(&bins, 3, run);
    CHECK(first == run, "carve returned %p, run %p", first, (void *)run);
    CHECK(c->map[page_of(run)] == PG_SMALL_ENTRY(3, 0), "map entry of a one-page run %x", (unsigned)c->map[page_of(run)]);
    CHECK(bins.slots[3] == 64 && bins.allocs[3] == 1 && bins.frees[3] == 0 && bins.carved == 1,
          "counts after a carve: slots %lu allocs %lu carved %lu", (unsigned long)bins.slots[3],
          (unsigned long)bins.allocs[3], (unsigned long)bins.carved);
    CHECK(list_length(&bins, 3) == 63, "%zu blocks on the list after a carve", list_length(&bins, 3));
    CHECK(!slot_is_free(bins.key, first), "the carved first block looks free");
    unsigned wrong = 0, signed_bad = 0;
    for (struct zmm_slot *s = bins.free[3]; s; s = s->next)
        signed_bad += s->check != ((uintptr_t)s->next ^ (uintptr_t)s ^ bins.key);
    CHECK(signed_bad == 0, "%u links not signed next ^ block ^ key", signed_bad);
    for (unsigned i = 1; i < 64; i++) {
        struct zmm_slot *p = bin_pop(&bins, 3);
        wrong += p != (void *)(run + i * 64u) || p->check != 0;
    }
    CHECK(wrong == 0, "%u blocks not handed out in address order with their check cleared", wrong);
    CHECK(bin_pop(&bins, 3) == NULL && bins.free[3] == NULL, "an exhausted run still gives blocks");
    CHECK(bins.allocs[3] == 64, "allocs %lu after 64 blocks (an empty pop counted?)", (unsigned long)bins.allocs[3]);

    /* A multi-page run: every page names its bin and its distance to the run's first. */
    uint8_t *run12 = new_run(12);
    CHECK(bin_carve(&bins, 12, run12) == run12, "carve bin 12");
    for (unsigned i = 0; i < bin_pages[12]; i++)
        CHECK(c->map[page_of(run12) + i] == PG_SMALL_ENTRY(12, i), "bin 12 page %u entry %x", i,
              (unsigned)c->map[page_of(run12) + i]);
    CHECK(bins.slots[12] == 64 && bins.carved == 2, "bin 12 slots %lu", (unsigned long)bins.slots[12]);

    /* ---- push and pop: LIFO, signed, counted ----------------------------------------- */
    struct zmm_slot *x = (void *)(run + 5 * 64), *y = (void *)(run + 9 * 64), *z = (void *)(run + 2 * 64);
    bin_free(&bins, 3, x);
    bin_free(&bins, 3, y);
    bin_free(&bins, 3, z);
    CHECK(bins.frees[3] == 3, "frees %lu", (unsigned long)bins.frees[3]);
    CHECK(slot_is_free(bins.key, x) && slot_is_free(bins.key, y) && slot_is_free(bins.key, z), "freed blocks not recognised");
    CHECK(!slot_is_free(bins.key, (struct zmm_slot *)(run + 3 * 64)), "a live block looks free");
    CHECK(!slot_is_free(bins.key ^ 2, x), "a free block recognised under another key");
    CHECK(bins.free[3] == z && z->next == y && y->next == x && x->next == NULL, "list order");
    struct zmm_slot *p1 = bin_pop(&bins, 3), *p2 = bin_pop(&bins, 3), *p3 = bin_pop(&bins, 3);
    CHECK(p1 == z && p2 == y && p3 == x, "pop order %p %p %p, wanted %p %p %p", (void *)p1, (void *)p2,
          (void *)p3, (void *)z, (void *)y, (void *)x);
    CHECK(!slot_is_free(bins.key, x) && !slot_is_free(bins.key, z), "popped blocks still look free");
    CHECK(bins.allocs[3] == 67 && bins.frees[3] == 3, "allocs %lu frees %lu", (unsigned long)bins.allocs[3],
          (unsigned long)bins.frees[3]);

    /* ---- corruption: each stops the process with one line ------------------------------ */
    bin_free(&bins, 3, x);
    bin_free(&bins, 3, y);
    bin_free(&bins, 3, z);                               /* z -> y -> x */
    /* The head's link overwritten (a write after free). */
    struct zmm_slot *saved = z->next;
    z->next = (struct zmm_slot *)(run + 40 * 64);
    EXPECT_FAULT(pop_bin3, NULL, "corrupted free list (bin 3, 64-byte blocks) at %p", (void *)z);
    EXPECT_FAULT(sweep, NULL, "corrupted free list (bin 3, 64-byte blocks) at %p", (void *)z);
    z->next = saved;
    /* A link under the head: the head is handed out, the fault comes at the next pop. */
    saved = y->next;
    y->next = (struct zmm_slot *)0x4141414141414141u;
    EXPECT_FAULT(pop_bin3_twice, z, "corrupted free list (bin 3, 64-byte blocks) at %p", (void *)y);
    EXPECT_FAULT(sweep, NULL, "corrupted free list (bin 3, 64-byte blocks) at %p", (void *)y);
    y->next = saved;
    /* The check word overwritten, the link intact. */
    z->check ^= 0x100;
    EXPECT_FAULT(pop_bin3, NULL, "corrupted free list (bin 3, 64-byte blocks) at %p", (void *)z);
    z->check ^= 0x100;
    /* The key changed under the list. */
    bins.key ^= 0x10;
    EXPECT_FAULT(pop_bin3, NULL, "corrupted free list (bin 3, 64-byte blocks) at %p", (void *)z);
    bins.key ^= 0x10;
    CHECK(bin_pop(&bins, 3) == z && bin_pop(&bins, 3) == y && bin_pop(&bins, 3) == x, "list restored");

    /* ---- the sweep --------------------------------------------------------------------- */
    /* Run A (bin 12, 5 pages) all free, run B (bin 12) all free but one block, run C (bin 0)
     * all free, run D (bin 31: one 8192-byte block in 2 pages) free, run E (bin 3) in use,
     * run F (bin 0) all free but its last block. A's and B's blocks interleave on the list. */
    while (bin_pop(&bins, 12))
        ;
    uint8_t *ra = run12, *rb = new_run(12), *rc = new_run(0), *rd = new_run(31), *rf = new_run(0);
    CHECK(bin_carve(&bins, 12, rb) == rb && bin_carve(&bins, 0, rc) == rc && bin_carve(&bins, 31, rd) == rd &&
          bin_carve(&bins, 0, rf) == rf, "carves");
    while (bin_pop(&bins, 12))
        ;
    while (bin_pop(&bins, 0))
        ;
    CHECK(bin_pop(&bins, 31) == NULL, "a one-block run put a block on its list");
    for (unsigned i = 0; i < 64; i++) {
        bin_free(&bins, 12, (struct zmm_slot *)(ra + ((i * 37) % 64) * 320u));
        if ((i * 37) % 64 != 63)
            bin_free(&bins, 12, (struct zmm_slot *)(rb + ((i * 37) % 64) * 320u));
    }
    for (unsigned i = 0; i < 256; i++) {
        bin_free(&bins, 0, (struct zmm_slot *)(rc + i * 16u));
        if (i != 255)
            bin_free(&bins, 0, (struct zmm_slot *)(rf + i * 16u));
    }
    bin_free(&bins, 31, (struct zmm_slot *)rd);
    uint64_t allocs12 = bins.allocs[12], frees12 = bins.frees[12];
    uint32_t free_before = c->free_pages;
    size_t chunks = set.count;
    CHECK(chunks == 1 && chunk_of(rd) == c && chunk_of(rf) == c, "all runs in one chunk (%zu chunks)", chunks);
    size_t freed = bin_sweep(&bins);
    size_t want = (size_t)(5 + 1 + 2) << PAGE_SHIFT;
    CHECK(freed == want, "the sweep freed %zu bytes, wanted %zu (runs A, C and D)", freed, want);
    CHECK(c->free_pages == free_before + 8, "chunk free pages %u, wanted %u", c->free_pages, free_before + 8);
    /* A freed run's first page still names its bin (a second free reports the block's size). */
    uint32_t was = PG_WAS(c->map[page_of(ra)]);
    CHECK(PG_KIND(c->map[page_of(ra)]) == PG_FREE && PG_KIND(was) == PG_SMALL && PG_BIN(was) == 12,
          "run A's first page %x", (unsigned)c->map[page_of(ra)]);
    CHECK(PG_KIND(c->map[page_of(rc)]) == PG_FREE && PG_KIND(c->map[page_of(rd)]) == PG_FREE, "runs C and D not freed");
    CHECK(c->map[page_of(rb)] == PG_SMALL_ENTRY(12, 0) && c->map[page_of(rf)] == PG_SMALL_ENTRY(0, 0) &&
          c->map[page_of(run)] == PG_SMALL_ENTRY(3, 0), "kept runs' entries %x %x %x (marks left?)",
          (unsigned)c->map[page_of(rb)], (unsigned)c->map[page_of(rf)], (unsigned)c->map[page_of(run)]);
    CHECK(bins.slots[12] == 64 && bins.slots[0] == 256 && bins.slots[31] == 0 && bins.slots[3] == 64,
          "slots after the sweep: bin 12 %lu, bin 0 %lu, bin 31 %lu, bin 3 %lu", (unsigned long)bins.slots[12],
          (unsigned long)bins.slots[0], (unsigned long)bins.slots[31], (unsigned long)bins.slots[3]);
    CHECK(bins.allocs[12] == allocs12 && bins.frees[12] == frees12, "the sweep changed the counts");
    /* What is left on the lists: B's 63 free blocks and F's 255, signed, no block of a freed
     * run, not the live ones. */
    unsigned outside = 0, unsigned_ = 0;
    for (struct zmm_slot *s = bins.free[12]; s; s = s->next) {
        outside += (uint8_t *)s < rb || (uint8_t *)s >= rb + 63 * 320;
        unsigned_ += !slot_is_free(bins.key, s);
    }
    for (struct zmm_slot *s = bins.free[0]; s; s = s->next) {
        outside += (uint8_t *)s < rf || (uint8_t *)s >= rf + 255 * 16;
        unsigned_ += !slot_is_free(bins.key, s);
    }
    CHECK(list_length(&bins, 12) == 63 && list_length(&bins, 0) == 255 && bins.free[31] == NULL,
          "lists after the sweep: %zu, %zu", list_length(&bins, 12), list_length(&bins, 0));
    CHECK(outside == 0 && unsigned_ == 0, "%u kept blocks outside their runs, %u not signed", outside, unsigned_);
    CHECK(bin_sweep(&bins) == 0 && list_length(&bins, 12) == 63 && list_length(&bins, 0) == 255,
          "a second sweep changed something");

    /* The last blocks freed: the chunk is empty and leaves the set. */
    while (bin_pop(&bins, 3))
        ;
    for (unsigned i = 0; i < 64; i++)
        bin_free(&bins, 3, (struct zmm_slot *)(run + i * 64u));
    bin_free(&bins, 12, (struct zmm_slot *)(rb + 63 * 320u));
    bin_free(&bins, 0, (struct zmm_slot *)(rf + 255 * 16u));
    freed = bin_sweep(&bins);
    CHECK(freed == (size_t)(1 + 5 + 1) << PAGE_SHIFT, "the last sweep freed %zu bytes", freed);
    CHECK(set.count == 0 && set.head == NULL, "the emptied chunk is still in the set (%zu)", set.count);
    CHECK(bins.slots[3] == 0 && bins.slots[12] == 0 && bins.slots[0] == 0, "slots left");
    CHECK(bins.free[3] == NULL && bins.free[12] == NULL && bins.free[0] == NULL, "blocks left on the lists");
    return UNIT_DONE();
}
