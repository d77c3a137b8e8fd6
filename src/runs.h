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

/* Holds run P of N pages (its first page's map entry M, PG_LARGE) when the lists have room
 * and its chunk keeps a page in use besides; false: the caller gives it back. Its first
 * page's entry then says freed; its continuation entries stay. */
bool runs_hold(struct zmm_runs *r, uintptr_t key, void *p, unsigned n, uint32_t m);
/* A held run of N pages, its continuation entries kept and its first entry to be written by
 * the caller; NULL when none is held. */
void *runs_take(struct zmm_runs *r, uintptr_t key, size_t n);
/* Every held run back to its chunk's bitmap, or only those in chunk ONLY (NULL: all); the
 * bytes given back. A chunk the bitmap finds empty is released. */
size_t runs_flush(struct zmm_runs *r, uintptr_t key, struct zmm_chunk *only);
/* In a fork child: every link checked with OLD and signed again with KEY. */
void runs_rekey(struct zmm_runs *r, uintptr_t old, uintptr_t key);
/* ZMM_DEBUG=check_on_exit: every list of OWNER checked (links, counts, map entries); a fault
 * stops the process with one line. Returns the runs seen. */
size_t runs_verify(const struct zmm_runs *r, uintptr_t key, const struct zmm_heap *owner);

#endif
