/* depot.c: owns the stack depot: each distinct stack is stored once and named by a 32-bit id.
 * Entries are appended to 1 MiB blocks that zmm maps for itself; they never move and never
 * go away, so an id stays valid for the life of the process and readers need no lock. A
 * hash table of chains finds an existing stack; a spin lock serialises insertion, and a new
 * entry is complete before its bucket publishes it. Id 0 is "no stack". */
#include "depot.h"
#include "lock.h"
#include "os.h"

#include <stdatomic.h>
#include <string.h>

struct depot_entry {
    _Atomic uint32_t next;          /* next id in the bucket's chain, 0 at the end */
    uint32_t hash;
    uint32_t depth;
    uint32_t pad;
    uintptr_t pcs[];
};

#define BLOCK_SHIFT   20                        /* 1 MiB blocks */
#define BLOCK_SIZE    ((size_t)1 << BLOCK_SHIFT)
#define BLOCK_COUNT   4096                      /* 4 GiB of stacks at most */
#define BUCKET_BITS   18
#define ID_OFFSET_BITS (BLOCK_SHIFT - 3)        /* ids count 8-byte words within a block */

static uint8_t *_Atomic blocks[BLOCK_COUNT];
static _Atomic(_Atomic uint32_t *) buckets;
static unsigned block_next;                     /* the block being filled */
static size_t block_used;
static size_t stacks;
static spinlock_t depot_lock;

static uint32_t depot_hash(const uintptr_t *pcs, unsigned n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (unsigned i = 0; i < n; i++) {
        h ^= pcs[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return (uint32_t)h;
}

static struct depot_entry *entry_of(uint32_t id)
{
    uint8_t *b = atomic_load_explicit(&blocks[id >> ID_OFFSET_BITS], memory_order_acquire);
    return (struct depot_entry *)(b + ((size_t)(id & ((1u << ID_OFFSET_BITS) - 1)) << 3));
}

static uint32_t chain_find(uint32_t id, uint32_t hash, const uintptr_t *pcs, unsigned n)
{
    for (; id; id = atomic_load_explicit(&entry_of(id)->next, memory_order_acquire)) {
        const struct depot_entry *e = entry_of(id);
        if (e->hash == hash && e->depth == n && !memcmp(e->pcs, pcs, n * sizeof *pcs))
            return id;
    }
    return 0;
}

/* Room for BYTES in the current block (a new one if needed): the new entry's id, or 0. */
static uint32_t depot_room(size_t bytes)
{
    if (!blocks[0] || block_used + bytes > BLOCK_SIZE) {
        unsigned b = blocks[0] ? block_next + 1 : 0;
        if (b >= BLOCK_COUNT)
            return 0;
        uint8_t *mem = os_map_meta(BLOCK_SIZE);
        if (!mem)
            return 0;
        atomic_store_explicit(&blocks[b], mem, memory_order_release);
        block_next = b;
        block_used = b ? 0 : sizeof(struct depot_entry);   /* id 0 names no entry */
    }
    uint32_t id = (uint32_t)(block_next << ID_OFFSET_BITS) | (uint32_t)(block_used >> 3);
    block_used += bytes;
    return id;
}

uint32_t depot_put(const uintptr_t *pcs, unsigned n)
{
    if (n == 0)
        return DEPOT_NONE;
    uint32_t hash = depot_hash(pcs, n);
    _Atomic uint32_t *table = atomic_load_explicit(&buckets, memory_order_acquire);
    if (table) {
        uint32_t id = chain_find(atomic_load_explicit(&table[hash >> (32 - BUCKET_BITS)],
                                                      memory_order_acquire), hash, pcs, n);
        if (id)
            return id;
    }
    spin_lock(&depot_lock);
    table = atomic_load_explicit(&buckets, memory_order_relaxed);
    if (!table) {
        table = os_map_meta(sizeof(uint32_t) << BUCKET_BITS);
        atomic_store_explicit(&buckets, table, memory_order_release);
    }
    uint32_t id = 0;
    if (table) {
        _Atomic uint32_t *head = &table[hash >> (32 - BUCKET_BITS)];
        id = chain_find(atomic_load_explicit(head, memory_order_relaxed), hash, pcs, n);
        if (!id && (id = depot_room(sizeof(struct depot_entry) + n * sizeof *pcs))) {
            struct depot_entry *e = entry_of(id);
            e->hash = hash;
            e->depth = n;
            memcpy(e->pcs, pcs, n * sizeof *pcs);
            atomic_store_explicit(&e->next, atomic_load_explicit(head, memory_order_relaxed),
                                  memory_order_relaxed);
            atomic_store_explicit(head, id, memory_order_release);
            stacks++;
        }
    }
    spin_unlock(&depot_lock);
    return id;
}

unsigned depot_get(uint32_t id, const uintptr_t **pcs)
{
    if (id == DEPOT_NONE) {
        *pcs = NULL;
        return 0;
    }
    const struct depot_entry *e = entry_of(id);
    *pcs = e->pcs;
    return e->depth;
}

size_t depot_stacks(void)
{
    return stacks;
}

void depot_after_fork(void)
{
    spin_init(&depot_lock);
}
