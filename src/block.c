/* block.c: owns a block the program hands back (free, realloc, malloc_usable_size): its
 * classification, the lines that name its faults, and its release or resizing in place.
 * Nothing is read from the pointer before the registry has said its 2 MiB slot is a chunk or
 * a huge block of zmm's; a block is what the page map, the run's geometry and the signed
 * free-list link say it is: zmm's small, large or huge block, or the system allocator's
 * (which goes back there). A freed block, an interior pointer or unknown memory stops the
 * process with one line. */
#include "block.h"
#include "huge.h"
#include "out.h"
#include "registry.h"
#include "sys.h"

_Noreturn ZMM_COLD void block_double(const char *verb, void *p, size_t size)
{
    if (size)
        out_fault("double %s of %p (%zu-byte block)", verb, p, size);
    out_fault("double %s of %p (page already free)", verb, p);
}

_Noreturn ZMM_COLD void block_interior(const char *verb, void *p, void *start, size_t size)
{
    out_fault("invalid %s of %p (interior pointer into %zu-byte block %p)", verb, p, size, start);
}

_Noreturn ZMM_COLD void block_foreign(const char *verb, void *p)
{
    out_fault("invalid %s of %p (not a heap block)", verb, p);
}

/* P in chunk C, whose registry entry says it is a chunk. */
static void classify_in_chunk(void *p, const char *verb, struct zmm_chunk *c, struct block *b)
{
    if ((void *)c == p)
        block_foreign(verb, p);
    unsigned page = page_of(p);
    uint32_t m = b->map = c->map[page];
    struct zmm_heap *owner = c->owner;  /* a page in a run: the chunk is in its owner's set */
    switch (PG_KIND(m)) {
    case PG_SMALL: {
        uint8_t *run = page_addr(c, page - PG_N(m));
        size_t off = (size_t)((uint8_t *)p - run);
        unsigned idx = bin_slot_index(PG_BIN(m), off);
        b->kind = BLOCK_SMALL;
        b->size = bin_size[PG_BIN(m)];
        if ((size_t)idx * b->size != off)
            block_interior(verb, p, run + (size_t)idx * b->size, b->size);
        if (slot_is_free(owner->bins.key, p))
            block_double(verb, p, b->size);
        return;
    }
    case PG_LARGE:
        b->kind = BLOCK_LARGE;
        b->size = (size_t)PG_N(m) << PAGE_SHIFT;
        if ((uintptr_t)p & (PAGE_SIZE - 1))
            block_interior(verb, p, page_addr(c, page), b->size);
        if (slot_is_free(owner->bins.key, p))
            block_double(verb, p, b->size);
        return;
    case PG_LCONT: {
        unsigned first = page - PG_N(m);
        if (PG_KIND(c->map[first]) != PG_LARGE)     /* a freed run its heap holds */
            block_double(verb, p, 0);
        block_interior(verb, p, page_addr(c, first), (size_t)PG_N(c->map[first]) << PAGE_SHIFT);
    }
    case PG_FREE: {
        uint32_t was = PG_WAS(m);
        block_double(verb, p, PG_KIND(was) == PG_LARGE ? (size_t)PG_N(was) << PAGE_SHIFT
                              : PG_KIND(was) == PG_SMALL ? bin_size[PG_BIN(was)] : 0);
    }
    default:
        block_foreign(verb, p);
    }
}

void block_classify(void *p, const char *verb, struct block *b)
{
    struct zmm_chunk *c = chunk_of(p);
    uintptr_t lo, hi;
    uint64_t e = registry_at((uintptr_t)p, &lo, &hi);
    b->chunk = c;
    b->entry = e;
    switch (REG_KIND(e)) {
    case REG_CHUNK:
        classify_in_chunk(p, verb, c, b);
        return;
    case REG_HUGE:
        b->kind = BLOCK_HUGE;
        b->size = huge_size(e);
        if ((void *)c != p)
            block_interior(verb, p, c, b->size);
        if (e & REG_FREED)
            block_double(verb, p, b->size);
        return;
    case REG_HUGE_INNER:
        block_interior(verb, p, (void *)lo, huge_size(registry_get(lo)));
    default:
        if (!sys_owns(p))
            block_foreign(verb, p);
        b->kind = BLOCK_SYSTEM;
        b->size = sys_usable_size(p);
        return;
    }
}

void block_free(void *p, const struct block *b)
{
    if (b->kind == BLOCK_SYSTEM)
        sys_free(p);
    else if (b->kind == BLOCK_HUGE)
        huge_free(p, b->entry);
    else
        block_free_to(b->chunk->owner, heap_self, p, b->map);
}

void *block_resize(struct zmm_heap *self, void *p, const struct block *b, size_t n)
{
    switch (b->kind) {
    case BLOCK_SMALL:
        return n <= b->size && (n > b->size / 2 || b->size <= 64) ? p : NULL;
    case BLOCK_LARGE:
        return n > SMALL_MAX && n <= LARGE_MAX && self && b->chunk->owner == self &&
               heap_resize_large(self, p, pages_of(n)) ? p : NULL;
    case BLOCK_HUGE:
        return n > LARGE_MAX ? huge_resize(p, b->entry, n) : NULL;
    default:
        return NULL;
    }
}
