/* runs.h: the freed large runs a heap holds for reuse, one list per page count. */
#ifndef ZMM_RUNS_H
#define ZMM_RUNS_H

#include "bin.h"

#define RUN_LIST_PAGES  32u                 /* runs of up to this many pages are held */
#define RUN_LIST_MAX    512u                /* pages held on all lists, at most */

struct zmm_heap;

struct zmm_runs {
    struct zmm_slot *list[RUN_LIST_PAGES + 1];  /* LIFO by page count, signed links */
    uint32_t count[RUN_LIST_PAGES + 1];
    size_t pages;                           /* pages held on all lists */
};

/* The link of S, on the list of N-page runs, is not signed: one line, and the process stops. */
_Noreturn void runs_corrupted(unsigned n, const void *s);

/* Holds run P of N pages (its first page's map entry M, PG_LARGE) when the lists have room
 * and its chunk keeps a page in use besides; false: the caller gives it back. Its first
 * page's entry then says freed; its continuation entries stay. */
ZMM_INLINE bool runs_hold(struct zmm_runs *r, uintptr_t key, void *p, unsigned n, uint32_t m)
{
    struct zmm_chunk *c = chunk_of(p);
    if (n > RUN_LIST_PAGES || r->pages + n > RUN_LIST_MAX ||
        c->free_pages + c->held_pages + n >= CHUNK_PAGES - FIRST_PAGE)
        return false;
    c->map[page_of(p)] = PG_FREED_ENTRY(m);
    slot_link(key, p, r->list[n]);
    r->list[n] = p;
    r->count[n]++;
    r->pages += n;
    c->held_pages += n;
    return true;
}

/* A held run of N pages, its continuation entries kept and its first entry to be written by
 * the caller; NULL when none is held. */
ZMM_INLINE void *runs_take(struct zmm_runs *r, uintptr_t key, size_t n)
{
    if (n > RUN_LIST_PAGES || !r->list[n])
        return NULL;
    struct zmm_slot *s = r->list[n];
    if (ZMM_UNLIKELY(!slot_is_free(key, s)))
        runs_corrupted((unsigned)n, s);
    r->list[n] = s->next;
    r->count[n]--;
    r->pages -= n;
    chunk_of(s)->held_pages -= (uint32_t)n;
    return s;
}
/* Every held run back to its chunk's bitmap, or only those in chunk ONLY (NULL: all); the
 * bytes given back. A chunk the bitmap finds empty is released. */
size_t runs_flush(struct zmm_runs *r, uintptr_t key, struct zmm_chunk *only);
/* In a fork child: every link checked with OLD and signed again with KEY. */
void runs_rekey(struct zmm_runs *r, uintptr_t old, uintptr_t key);
/* ZMM_DEBUG=check_on_exit: every list of OWNER checked (links, counts, map entries); a fault
 * stops the process with one line. Returns the runs seen. */
size_t runs_verify(const struct zmm_runs *r, uintptr_t key, const struct zmm_heap *owner);

#endif
