/* verify.c: owns the check of the whole heap that ZMM_DEBUG=check_on_exit asks for. It holds
 * every heap while it reads them and changes nothing: every signed link of every list (bins,
 * held runs, remote frees) must verify with its heap's key and lead to a page whose map entry
 * agrees, the counts must match, and every chunk's bitmap and page map must agree
 * (chunk_verify). The first fault stops the process with one line naming it. */
#include "verify.h"
#include "heap.h"
#include "out.h"

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

void verify_heaps(struct heap_check *c)
{
    *c = (struct heap_check){ 0 };
    heap_lock_all();
    for (struct zmm_heap *h = heap_list(); h; h = h->next_all) {
        if (h->state == HEAP_FORKED)
            continue;
        c->heaps++;
        for (unsigned bin = 0; bin < BIN_COUNT; bin++)
            check_bin(h, bin, c);
        c->free_blocks += runs_verify(&h->runs, h->bins.key, h);
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
