/* block.h: what a pointer handed to free or realloc is, before anything is read from it. */
#ifndef ZMM_BLOCK_H
#define ZMM_BLOCK_H

#include "heap.h"

enum block_kind { BLOCK_SMALL, BLOCK_LARGE, BLOCK_HUGE, BLOCK_SYSTEM };

struct block {
    enum block_kind kind;
    struct zmm_chunk *chunk;    /* P's chunk (small, large), or P itself (huge) */
    uint32_t map;               /* the page map entry of P's page (small, large) */
    uint64_t entry;             /* P's registry entry */
    size_t size;                /* usable bytes */
};

/* What P is, when P is the start of a live block; anything else (a freed block, an interior
 * pointer, memory zmm does not know) stops the process with one line naming the fault, the
 * caller's VERB ("free", "realloc") and the block. */
void block_classify(void *p, const char *verb, struct block *b);

/* Block P, classified as B, freed: to the system allocator, the huge cache, the calling
 * thread's heap, or its owner's remote list. */
void block_free(void *p, const struct block *b);
/* Block P, classified as B, resized where it is to N bytes (a huge block may move without a
 * copy) by SELF, the calling thread's heap (NULL if none); NULL if it must move. */
void *block_resize(struct zmm_heap *self, void *p, const struct block *b, size_t n);

/* The fault lines, for the checks that find the same faults another way. SIZE 0: unknown. */
_Noreturn void block_double(const char *verb, void *p, size_t size);
_Noreturn void block_interior(const char *verb, void *p, void *start, size_t size);
_Noreturn void block_foreign(const char *verb, void *p);

/* Is P, in a page of small run entry M, the start of a block? P's offset in its run is
 * below 8 pages (2^15: sizes.c holds runs to 8 pages), where off * ceil(2^32 / size) mod 2^32
 * < ceil(2^32 / size) holds exactly when SIZE divides OFF, for every size of 2 or more: one
 * multiply. */
ZMM_INLINE bool block_small_start(uint32_t m, const void *p)
{
    uint32_t off = (uint32_t)((uintptr_t)p & (PAGE_SIZE - 1)) + (PG_N(m) << PAGE_SHIFT);
    uint32_t recip = bin_recip[PG_BIN(m)];
    return off * recip < recip;
}

/* P, a live block of OWNER whose page map entry is M, freed by the thread of heap SELF
 * (NULL if none): onto its bin's list or its heap's runs, or onto OWNER's remote list. */
ZMM_INLINE void block_free_to(struct zmm_heap *owner, struct zmm_heap *self, void *p, uint32_t m)
{
    if (owner != self)
        heap_free_remote(owner, p, PG_KIND(m) == PG_SMALL ? bin_size[PG_BIN(m)] : (size_t)PG_N(m) << PAGE_SHIFT, self);
    else if (PG_KIND(m) == PG_LARGE)
        heap_free_large(owner, p);
    else
        bin_free(&owner->bins, PG_BIN(m), p);
}

#endif
