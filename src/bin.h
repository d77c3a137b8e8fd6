/* bin.h: the small-block lists of a heap, one LIFO list per size class. */
#ifndef ZMM_BIN_H
#define ZMM_BIN_H

#include "chunk.h"
#include "sizes.h"

/* A free block. NEXT is the list link; CHECK = NEXT ^ block address ^ the heap's key, so a
 * corrupted link is caught before it is followed and a second free of the same block is
 * recognised. An allocated block has CHECK cleared. */
struct zmm_slot {
    struct zmm_slot *next;
    uintptr_t check;
};

struct zmm_bins {
    struct zmm_slot *free[BIN_COUNT];
    uintptr_t key;
    uint64_t allocs[BIN_COUNT];     /* counted by the owner */
    uint64_t frees[BIN_COUNT];      /* counted by the owner, remote frees when drained */
    uint64_t slots[BIN_COUNT];      /* blocks in the runs this heap holds */
    uint64_t carved;                /* runs bin_carve has cut (a count: a pointer here would be
                                       a root that keeps a leaked block reachable) */
};

ZMM_INLINE uintptr_t slot_check(uintptr_t key, const struct zmm_slot *s, const struct zmm_slot *next)
{
    return (uintptr_t)next ^ (uintptr_t)s ^ key;
}

/* Does S carry a link signed with KEY (is it on a list: free, or freed)? */
ZMM_INLINE bool slot_is_free(uintptr_t key, const struct zmm_slot *s)
{
    return s->check == slot_check(key, s, s->next);
}

/* S linked to NEXT, signed with KEY. */
ZMM_INLINE void slot_link(uintptr_t key, struct zmm_slot *s, struct zmm_slot *next)
{
    s->next = next;
    s->check = slot_check(key, s, next);
}

ZMM_INLINE void slot_push(struct zmm_bins *b, unsigned bin, struct zmm_slot *s)
{
    slot_link(b->key, s, b->free[bin]);
    b->free[bin] = s;
}

/* A freed block back on its bin's list, counted (by the owner). */
ZMM_INLINE void bin_free(struct zmm_bins *b, unsigned bin, struct zmm_slot *s)
{
    slot_push(b, bin, s);
    b->frees[bin]++;
}

_Noreturn void bin_corrupted(unsigned bin, const void *slot);

/* Pop a block; NULL if the list is empty. */
ZMM_INLINE void *bin_pop(struct zmm_bins *b, unsigned bin)
{
    struct zmm_slot *s = b->free[bin];
    if (ZMM_UNLIKELY(!s))
        return NULL;
    if (ZMM_CHECKS >= 1 && ZMM_UNLIKELY(!slot_is_free(b->key, s)))
        bin_corrupted(bin, s);
    b->free[bin] = s->next;
    s->check = 0;
    b->allocs[bin]++;
    return s;
}

/* Make a run of BIN at RUN (pages already taken) and return its first block; counted. */
void *bin_carve(struct zmm_bins *b, unsigned bin, void *run);
/* Zend's gc: give back every run all of whose blocks are on the list. Returns bytes freed. */
size_t bin_sweep(struct zmm_bins *b);

#endif
