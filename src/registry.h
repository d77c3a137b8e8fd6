/* registry.h: what zmm knows about each 2 MiB slot of the address space. */
#ifndef ZMM_REGISTRY_H
#define ZMM_REGISTRY_H

#include <stdatomic.h>
#include "defs.h"

/* An entry: 0 unknown; REG_CHUNK for a chunk; a huge block's first slot holds its mapping
 * size | REG_HUGE (| REG_FREED while it waits in the huge cache); its other slots hold
 * (distance to the first slot, in slots) << 3 | REG_HUGE_INNER. */
#define REG_CHUNK       1u
#define REG_HUGE        2u
#define REG_HUGE_INNER  3u
#define REG_KIND(e)     ((unsigned)(e) & 3u)
#define REG_FREED       4u

#define REG_TOP_BITS    13
#define REG_LEAF_BITS   14
#define REG_VA_BITS     (CHUNK_SHIFT + REG_TOP_BITS + REG_LEAF_BITS)   /* 48 */
#define REG_LEAF_SLOTS  (1u << REG_LEAF_BITS)

extern _Atomic(_Atomic uint64_t *) registry_top[1u << REG_TOP_BITS];

ZMM_INLINE uint64_t registry_get(uintptr_t addr)
{
    if (ZMM_UNLIKELY(addr >> REG_VA_BITS))
        return 0;
    _Atomic uint64_t *leaf = atomic_load_explicit(
        &registry_top[addr >> (CHUNK_SHIFT + REG_LEAF_BITS)], memory_order_acquire);
    if (!leaf)
        return 0;
    return atomic_load_explicit(&leaf[(addr >> CHUNK_SHIFT) & (REG_LEAF_SLOTS - 1)],
                                memory_order_acquire);
}

/* The first slot of the huge block whose slot SLOT holds entry E (REG_HUGE or REG_HUGE_INNER). */
ZMM_INLINE uintptr_t registry_huge_head(uintptr_t slot, uint64_t e)
{
    return REG_KIND(e) == REG_HUGE ? slot : slot - ((e >> 3) << CHUNK_SHIFT);
}

/* Each slot also has an aux word that layers above may use (track.c hangs its records of the
 * slot's blocks there); it lives in the same leaf, after the entries, and outlives the chunk.
 * NULL when the leaf is missing and CREATE is false, or when memory is exhausted. */
_Atomic(void *) *registry_aux(uintptr_t addr, bool create);

/* Calls FN for every slot with a non-zero entry, in address order. */
void registry_walk(void (*fn)(uintptr_t slot, uint64_t entry, void *ctx), void *ctx);

/* The entry for ADDR itself: the slot's entry, or 0 when ADDR lies past the end of the huge
 * mapping that covers the first part of its slot (the kernel may map other things there). */
ZMM_INLINE uint64_t registry_at(uintptr_t addr, uintptr_t *start, uintptr_t *end)
{
    uintptr_t slot = addr & ~(uintptr_t)CHUNK_MASK;
    uint64_t e = registry_get(slot);
    *start = slot;
    *end = slot + CHUNK_SIZE;
    if (REG_KIND(e) == REG_HUGE_INNER || REG_KIND(e) == REG_HUGE) {
        uintptr_t head = registry_huge_head(slot, e);
        uint64_t h = REG_KIND(e) == REG_HUGE ? e : registry_get(head);
        *start = head;
        *end = head + (uintptr_t)(h & ~(uint64_t)(PAGE_SIZE - 1));
        if (addr >= *end)
            return 0;
    }
    return e;
}

/* Sets the entry of the slot holding ADDR; false if the table could not grow. */
bool registry_set(uintptr_t addr, uint64_t entry);
/* A huge mapping [addr, addr + size): head and inner entries, or all cleared (entry 0). */
bool registry_set_huge(uintptr_t addr, size_t size, uint64_t head);
void registry_after_fork(void);

#endif
