/* runs.c: owns the freed large runs a heap holds for reuse: a run of up to RUN_LIST_PAGES
 * pages goes on the list for its page count (RUN_LIST_MAX pages in all) and is taken before
 * the bitmap is searched, keeping its credit against the limit while it waits. It stays in
 * use in its chunk's bitmap (held_pages) but its first page's map entry says freed, so a
 * second or interior free is caught as before; its first 16 bytes hold a signed link. The
 * heap gives the runs back to the bitmap on a sweep, a trim, before mapping a chunk, at
 * thread exit, and for one chunk when a run cannot grow past a held one or the chunk's other
 * pages are all free. */
#include "runs.h"
#include "out.h"

_Noreturn ZMM_COLD void runs_corrupted(unsigned n, const void *s)
{
    out_fault("corrupted free list (large runs of %u pages) at %p", n, s);
}

/* A held run's pages back to the bitmap (the chunk is released if that empties it). */
static void release(struct zmm_slot *s, unsigned n)
{
    struct zmm_chunk *c = chunk_of(s);
    unsigned first = page_of(s);
    c->held_pages -= n;
    s->check = 0;
    c->map[first] = PG_WAS(c->map[first]);      /* chunk_free_pages marks it freed again */
    chunk_free_pages(c, first, n);
}

size_t runs_flush(struct zmm_runs *r, uintptr_t key, struct zmm_chunk *only)
{
    size_t pages = 0;
    if (!r->pages)
        return 0;
    for (unsigned n = 1; n <= RUN_LIST_PAGES; n++) {
        struct zmm_slot **link = &r->list[n], *prev = NULL, *s;
        while ((s = *link) != NULL) {
            struct zmm_slot *next = s->next;
            if (!slot_is_free(key, s))
                runs_corrupted(n, s);
            if (only && chunk_of(s) != only) {
                prev = s;
                link = &s->next;
                continue;
            }
            *link = next;
            if (prev)
                slot_link(key, prev, next);
            r->count[n]--;
            r->pages -= n;
            pages += n;
            release(s, n);
        }
    }
    return pages << PAGE_SHIFT;
}

void runs_rekey(struct zmm_runs *r, uintptr_t old, uintptr_t key)
{
    for (unsigned n = 1; n <= RUN_LIST_PAGES; n++)
        for (struct zmm_slot *s = r->list[n]; s; s = s->next) {
            if (!slot_is_free(old, s))
                runs_corrupted(n, s);
            slot_link(key, s, s->next);
        }
}

size_t runs_verify(const struct zmm_runs *r, uintptr_t key, const struct zmm_heap *owner)
{
    size_t all = 0;
    for (unsigned n = 1; n <= RUN_LIST_PAGES; n++) {
        uint32_t seen = 0;
        for (struct zmm_slot *s = r->list[n]; s; s = s->next) {
            if (!slot_is_free(key, s) || ++seen > r->count[n])
                runs_corrupted(n, s);
            struct zmm_chunk *ch = chunk_of(s);
            unsigned first = page_of(s);
            if ((const struct zmm_heap *)ch->owner != owner || (uintptr_t)s & (PAGE_SIZE - 1) ||
                ch->map[first] != PG_FREED_ENTRY(PG_LARGE_ENTRY(n)))
                out_fault("heap check: list of %u-page runs holds %p, in a page whose map entry is %x", n,
                          (void *)s, (unsigned)ch->map[first]);
        }
        if (seen != r->count[n])
            out_fault("heap check: list of %u-page runs holds %u runs, counted %u", n, (unsigned)seen,
                      (unsigned)r->count[n]);
        all += seen;
    }
    return all;
}
