/* bin.c: owns small runs and the per-heap lists of their free blocks (Zend's free_slot).
 * A new run is cut into blocks all at once and pushed on its bin's list; blocks come and go
 * LIFO; a run goes back to pages only when a sweep finds all its blocks free (Zend's
 * zend_mm_gc), counting them in the run's page map entry. Every link is checked before it
 * is followed. Only the owning thread touches a heap's lists. */
#include "bin.h"
#include "out.h"

_Noreturn void bin_corrupted(unsigned bin, const void *slot)
{
    out_fault("corrupted free list (bin %u, %u-byte blocks) at %p", bin, (unsigned)bin_size[bin], slot);
}

void *bin_carve(struct zmm_bins *b, unsigned bin, void *run)
{
    struct zmm_chunk *c = chunk_of(run);
    unsigned page = page_of(run);
    for (unsigned i = 0; i < bin_pages[bin]; i++)
        c->map[page + i] = PG_SMALL_ENTRY(bin, i);
    size_t size = bin_size[bin];
    uint8_t *base = run;
    for (unsigned i = bin_count[bin]; i-- > 1;)
        slot_push(b, bin, (struct zmm_slot *)(base + i * size));
    b->slots[bin] += bin_count[bin];
    b->allocs[bin]++;
    b->carved++;
    return base;
}

static uint32_t *run_entry(struct zmm_slot *s)
{
    struct zmm_chunk *c = chunk_of(s);
    unsigned page = page_of(s);
    return &c->map[page - PG_N(c->map[page])];
}

size_t bin_sweep(struct zmm_bins *b)
{
    size_t freed = 0;
    for (unsigned bin = 0; bin < BIN_COUNT; bin++) {
        uint32_t full = (uint32_t)bin_count[bin] << 18;
        struct zmm_slot *s = b->free[bin];
        for (; s; s = s->next) {
            if (!slot_is_free(b->key, s))
                bin_corrupted(bin, s);
            *run_entry(s) += PG_COUNT_ONE;
        }
        /* Keep the blocks of partly used runs; drop those of wholly free runs, and give a
         * run back when the last of its blocks has been dropped. */
        s = b->free[bin];
        b->free[bin] = NULL;
        while (s) {
            struct zmm_slot *next = s->next;
            uint32_t *e = run_entry(s);
            if ((*e & PG_COUNT_MASK) == full)
                *e |= PG_SWEEP;
            if (*e & PG_SWEEP) {
                *e -= PG_COUNT_ONE;
                if (!(*e & PG_COUNT_MASK)) {
                    struct zmm_chunk *c = chunk_of(s);
                    chunk_free_pages(c, (unsigned)(e - c->map), bin_pages[bin]);
                    b->slots[bin] -= bin_count[bin];
                    freed += (size_t)bin_pages[bin] << PAGE_SHIFT;
                }
            } else {
                slot_push(b, bin, s);
            }
            s = next;
        }
        for (s = b->free[bin]; s; s = s->next)
            *run_entry(s) &= ~PG_COUNT_MASK;
    }
    return freed;
}
