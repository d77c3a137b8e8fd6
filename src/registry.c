/* registry.c: owns the two-level table that classifies any pointer without touching the
 * memory it points to: top level in static storage, leaves (32 GiB of address space each)
 * mapped on first use and never unmapped. A leaf holds the entries of its slots, then their
 * aux words. Readers take no lock; writers change only the entries of memory they own, and
 * a spin lock guards leaf creation. */
#include "registry.h"
#include "libc.h"
#include "lock.h"
#include "os.h"

_Atomic(_Atomic uint64_t *) registry_top[1u << REG_TOP_BITS];
static spinlock_t leaf_lock;
/* The slots of each leaf ever given an entry lie in [lo, hi]: a walk reads only those (a
 * leaf has 16,384 slots, a process uses a few hundred). */
static _Atomic uint16_t leaf_lo[1u << REG_TOP_BITS], leaf_hi[1u << REG_TOP_BITS];

#define SLOT_INDEX(addr) (((addr) >> CHUNK_SHIFT) & (REG_LEAF_SLOTS - 1))

static _Atomic uint64_t *registry_leaf(uintptr_t addr)
{
    size_t t = addr >> (CHUNK_SHIFT + REG_LEAF_BITS);
    _Atomic uint64_t *leaf = atomic_load_explicit(&registry_top[t], memory_order_acquire);
    if (leaf)
        return leaf;
    spin_lock(&leaf_lock);
    leaf = atomic_load_explicit(&registry_top[t], memory_order_acquire);
    if (!leaf) {
        leaf = os_map_meta(2 * sizeof(uint64_t) * REG_LEAF_SLOTS);
        atomic_store_explicit(&leaf_lo[t], REG_LEAF_SLOTS - 1, memory_order_relaxed);
        if (leaf)
            atomic_store_explicit(&registry_top[t], leaf, memory_order_release);
    }
    spin_unlock(&leaf_lock);
    return leaf;
}

bool registry_set(uintptr_t addr, uint64_t entry)
{
    if (addr >> REG_VA_BITS)
        return false;
    _Atomic uint64_t *leaf = registry_leaf(addr);
    if (!leaf)
        return false;
    size_t t = addr >> (CHUNK_SHIFT + REG_LEAF_BITS);
    uint16_t i = (uint16_t)SLOT_INDEX(addr);
    if (entry) {
        libc_atomic_min16(&leaf_lo[t], i);
        libc_atomic_max16(&leaf_hi[t], i);
    }
    atomic_store_explicit(&leaf[SLOT_INDEX(addr)], entry, memory_order_release);
    return true;
}

_Atomic(void *) *registry_aux(uintptr_t addr, bool create)
{
    if (addr >> REG_VA_BITS)
        return NULL;
    _Atomic uint64_t *leaf = create ? registry_leaf(addr)
        : atomic_load_explicit(&registry_top[addr >> (CHUNK_SHIFT + REG_LEAF_BITS)], memory_order_acquire);
    _Static_assert(sizeof(_Atomic(void *)) == sizeof(uint64_t), "aux words share the leaf");
    return leaf ? (_Atomic(void *) *)(leaf + REG_LEAF_SLOTS) + SLOT_INDEX(addr) : NULL;
}

void registry_walk(void (*fn)(uintptr_t slot, uint64_t entry, void *ctx), void *ctx)
{
    for (size_t t = 0; t < (1u << REG_TOP_BITS); t++) {
        _Atomic uint64_t *leaf = atomic_load_explicit(&registry_top[t], memory_order_acquire);
        size_t hi = leaf ? atomic_load_explicit(&leaf_hi[t], memory_order_relaxed) : 0;
        for (size_t i = leaf ? atomic_load_explicit(&leaf_lo[t], memory_order_relaxed) : 1; i <= hi; i++) {
            uint64_t e = atomic_load_explicit(&leaf[i], memory_order_acquire);
            if (e)
                fn((t << (CHUNK_SHIFT + REG_LEAF_BITS)) | (i << CHUNK_SHIFT), e, ctx);
        }
    }
}

bool registry_set_huge(uintptr_t addr, size_t size, uint64_t head)
{
    size_t slots = (size + CHUNK_SIZE - 1) >> CHUNK_SHIFT;
    for (size_t i = slots; i-- > 1;)
        if (!registry_set(addr + (i << CHUNK_SHIFT), head ? (uint64_t)i << 3 | REG_HUGE_INNER : 0))
            return false;
    return registry_set(addr, head);
}

void registry_after_fork(void)
{
    spin_init(&leaf_lock);
}
