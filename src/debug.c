/* debug.c: owns ZMM_DEBUG's block layout: [the program's N bytes][canary][tail: N and a tag]
 * in a block of at least N + padding + 16 bytes, the tail in its last 16 usable bytes, so an
 * overflow reaches the canary before the tail. The tag mixes a per-process key with the
 * block's address and state (live, or freed and poisoned): no other block's leftovers, nor the
 * program's data, pass for it. Freed blocks are poisoned but for their first 16 bytes (the
 * free list's link); a small block is checked when it comes off its list again (checked.c
 * wipes the tails of a new run). No allocation, no I/O, no option text: start-up hands it
 * ZMM_DEBUG's items (debug_configure). */
#include "debug.h"
#include "libc.h"

#include <string.h>

struct debug_opts debug_opts = { .poison_alloc = -1, .poison_free = -1 };

static uint64_t key;
static unsigned char canary;

enum { LIVE = 0x5a, FREED = 0xa5 };

struct tail {
    uint64_t size;
    uint64_t tag;
};

static uint64_t tag_of(const void *p, unsigned state)
{
    return libc_mix64(key ^ (uintptr_t)p ^ ((uint64_t)state << 56));
}

void debug_configure(int poison_alloc, int poison_free, size_t padding, bool check_on_exit)
{
    struct debug_opts o = { .poison_alloc = poison_alloc, .poison_free = poison_free,
                            .padding = align_up(padding, 8), .check_on_exit = check_on_exit };
    o.tail = o.padding || o.poison_free >= 0;
    if (o.poison_free >= 0 && !o.padding)
        o.padding = 8;                  /* the tail then still has a canary before it */
    o.on = o.tail || o.poison_alloc >= 0 || o.check_on_exit;
    key = libc_random_seed();
    canary = (unsigned char)(key >> 40) | 1;
    while (canary == o.poison_alloc || canary == o.poison_free)
        canary += 2;
    debug_opts = o;
}

/* ---- blocks ------------------------------------------------------------------------ */

static struct tail *tail_of(const void *p, size_t usable)
{
    return (struct tail *)((uintptr_t)p + usable - sizeof(struct tail));
}

static struct tail tail_read(const void *p, size_t usable)
{
    struct tail t;
    memcpy(&t, tail_of(p, usable), sizeof t);
    return t;
}

static void tail_write(void *p, size_t usable, uint64_t size, unsigned state)
{
    struct tail t = { size, tag_of(p, state) };
    memcpy(tail_of(p, usable), &t, sizeof t);
}

void debug_wipe(void *p, size_t usable)
{
    if (debug_opts.tail && usable >= sizeof(struct tail))
        memset(tail_of(p, usable), 0, sizeof(struct tail));
}

void debug_born(void *p, size_t n, size_t usable, bool reused, struct debug_fault *f)
{
    *f = (struct debug_fault){ .kind = DEBUG_OK, .size = n };
    if (reused && debug_opts.tail && usable >= sizeof(struct tail)) {
        struct tail t = tail_read(p, usable);
        if (debug_opts.poison_free >= 0 && t.tag == tag_of(p, FREED) && t.size < usable) {
            const unsigned char *b = p;
            for (size_t i = 16; i < usable - sizeof t; i++)
                if (b[i] != (unsigned char)debug_opts.poison_free) {
                    *f = (struct debug_fault){ .kind = DEBUG_USE_AFTER_FREE, .size = t.size, .offset = i };
                    break;
                }
        }
    }
    if (debug_opts.poison_alloc >= 0)
        memset(p, debug_opts.poison_alloc, n);
    if (debug_opts.tail) {
        memset((unsigned char *)p + n, canary, usable - sizeof(struct tail) - n);
        tail_write(p, usable, n, LIVE);
    }
}

size_t debug_check(const void *p, size_t usable, struct debug_fault *f)
{
    *f = (struct debug_fault){ .kind = DEBUG_OK };
    if (!debug_opts.tail || usable < sizeof(struct tail))
        return usable;
    struct tail t = tail_read(p, usable);
    size_t end = usable - sizeof t;
    if (t.tag != tag_of(p, LIVE) || t.size > end) {
        f->kind = t.tag == tag_of(p, FREED) ? DEBUG_FREED : DEBUG_TAIL;
        f->size = t.tag == tag_of(p, FREED) ? t.size : end;
        return end;
    }
    f->size = t.size;
    const unsigned char *b = p;
    for (size_t i = end; i-- > t.size;)
        if (b[i] != canary) {
            f->kind = DEBUG_OVERFLOW;
            f->past = i - t.size + 1;
            break;
        }
    return t.size;
}

void debug_died(void *p, size_t usable)
{
    if (!debug_opts.tail || usable < sizeof(struct tail))
        return;
    size_t size = tail_read(p, usable).size;
    if (debug_opts.poison_free >= 0)
        memset(p, debug_opts.poison_free, usable - sizeof(struct tail));
    tail_write(p, usable, size, FREED);
}

size_t debug_size(const void *p, size_t usable)
{
    if (!debug_opts.tail || usable < sizeof(struct tail))
        return usable;
    struct tail t = tail_read(p, usable);
    return t.tag == tag_of(p, LIVE) && t.size <= usable - sizeof t ? t.size : usable - sizeof t;
}
