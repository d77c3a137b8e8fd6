/* chunk.h: 2 MiB chunks of 4 KiB pages, and the set of chunks a heap owns. */
#ifndef ZMM_CHUNK_H
#define ZMM_CHUNK_H

#include "defs.h"

/* Page map entry, one per page: kind in bits 0-2; a small page has its bin in bits 3-7 and
 * its distance to the run's first page in bits 8-17; a large run's first page has the run's
 * page count in bits 8-17, its other pages the distance to the first. Bits 18-28 of a small
 * run's first page are used only while a sweep of the bin lists counts its free blocks.
 * A freed run's first page keeps its old entry shifted left by 3 (kind PG_FREE), so a second
 * free can still name the block's size. A freed large run that its heap holds for reuse
 * (held_pages, runs.c) has only that first entry changed: its PG_LCONT pages lead to a first
 * page that is not PG_LARGE, which means freed. */
enum { PG_FREE = 0, PG_HEADER = 1, PG_SMALL = 2, PG_LARGE = 3, PG_LCONT = 4 };
#define PG_KIND(m)              ((m) & 7u)
#define PG_BIN(m)               (((m) >> 3) & 31u)
#define PG_N(m)                 (((m) >> 8) & 1023u)
#define PG_COUNT(m)             (((m) >> 18) & 1023u)
#define PG_SMALL_ENTRY(bin, d)  (PG_SMALL | (uint32_t)(bin) << 3 | (uint32_t)(d) << 8)
#define PG_LARGE_ENTRY(n)       (PG_LARGE | (uint32_t)(n) << 8)
#define PG_LCONT_ENTRY(d)       (PG_LCONT | (uint32_t)(d) << 8)
#define PG_COUNT_ONE            ((uint32_t)1 << 18)
#define PG_COUNT_MASK           ((uint32_t)1023 << 18)
#define PG_SWEEP                ((uint32_t)1 << 28)
#define PG_FREED_ENTRY(m)       ((uint32_t)(m) << 3)
#define PG_WAS(m)               ((uint32_t)(m) >> 3)

struct zmm_chunkset;

/* The header, in page 0. Only the owning heap's thread changes it. */
struct zmm_chunk {
    void *owner;                    /* the heap that owns every page of this chunk */
    struct zmm_chunkset *set;
    struct zmm_chunk *next, *prev;  /* the set's list */
    uint32_t free_pages;
    uint32_t held_pages;            /* pages of freed large runs on the owner's run lists (runs.c):
                                     * in use in the bitmap, free in the page map */
    void *track;                    /* tracked mode: track.c's record table of this chunk's slot,
                                     * NULL until first looked up (the table outlives the chunk) */
    uint64_t bitmap[CHUNK_PAGES / 64];   /* 1 = page in use (page 0 always) */
    uint32_t map[CHUNK_PAGES];
};
_Static_assert(sizeof(struct zmm_chunk) <= PAGE_SIZE, "chunk header fits page 0");

/* The chunks of one heap. HOT answers "does the set hold chunk C?" without the registry for
 * most chunks: slot (C >> CHUNK_SHIFT) % SET_HOT holds C's address + 1 (never 0, so that the
 * empty slot matches no chunk, not even the NULL pointer's) for the last chunk linked there,
 * until it leaves the set. A miss says nothing. */
#define SET_HOT 256u
struct zmm_chunkset {
    struct zmm_chunk *head;         /* the chunk that served last; searched first */
    size_t count;
    void *owner;
    uintptr_t hot[SET_HOT];
};

ZMM_INLINE uintptr_t *chunk_hot_slot(struct zmm_chunkset *set, const void *c)
{
    return &set->hot[((uintptr_t)c >> CHUNK_SHIFT) % SET_HOT];
}

/* C (a chunk address, any value) is one of SET's chunks, so it is mapped and its owner is
 * SET's; false may mean either. */
ZMM_INLINE bool chunk_in_set(const struct zmm_chunkset *set, const struct zmm_chunk *c)
{
    return set->hot[((uintptr_t)c >> CHUNK_SHIFT) % SET_HOT] == (uintptr_t)c + 1;
}

ZMM_INLINE struct zmm_chunk *chunk_of(const void *p)
{
    return (struct zmm_chunk *)((uintptr_t)p & ~(uintptr_t)CHUNK_MASK);
}

ZMM_INLINE unsigned page_of(const void *p)
{
    return (unsigned)(((uintptr_t)p & CHUNK_MASK) >> PAGE_SHIFT);
}

ZMM_INLINE void *page_addr(struct zmm_chunk *c, unsigned page)
{
    return (uint8_t *)c + ((size_t)page << PAGE_SHIFT);
}

/* N pages (whose first page index is a multiple of ALIGN, a power of two) from the set's
 * chunks, best fit, taking a new chunk if none has room and GROW allows; marked used, map
 * entries left to the caller. NULL when none fits or memory is exhausted. */
void *chunk_alloc_pages(struct zmm_chunkset *set, unsigned n, unsigned align, bool grow);
/* Give back N pages starting at PAGE; an emptied chunk leaves the set. A chunk whose pages
 * are all free or held (held_pages) stays: the heap gives back the held runs first. */
void chunk_free_pages(struct zmm_chunk *c, unsigned page, unsigned n);
/* Try to extend the large run at PAGE (N pages) to M pages in place. */
bool chunk_grow_pages(struct zmm_chunk *c, unsigned page, unsigned n, unsigned m);

/* Stops the process with one line if C's bitmap, free count and page map disagree. */
void chunk_verify(const struct zmm_chunk *c);
/* Gives the free pages of the set's chunks back to the OS (they stay mapped, and read as
 * zero when next touched). Returns the bytes given back. */
size_t chunk_purge_free(struct zmm_chunkset *set);
/* Gives memory back to the OS: the free pages of the set (if any) and the chunk cache.
 * Returns the bytes given back. */
size_t chunk_trim(struct zmm_chunkset *set);

struct chunk_stats {
    size_t mapped, in_use, peak, cached;   /* chunks */
};
void chunk_stats(struct chunk_stats *s);
void chunk_after_fork(void);
/* ZMM_COMPACT: bytes of empty chunks the cache keeps, or SIZE_MAX for the adaptive policy. */
void chunk_configure(size_t compact_bytes);

#endif
