/* debug.c: owns ZMM_DEBUG's block layout. With a tail, a block of N bytes is laid out as
 *   [the program's N bytes][canary bytes][tail: N and a tag]
 * in a heap block of at least N + padding + 16 bytes; the tail is its last 16 usable bytes, so
 * an overflow reaches the canary before it reaches the tail. The tag mixes a per-process key
 * with the block's address and state (live, or freed and poisoned), so that no other block's
 * leftovers, nor the program's data, pass for it. Freed blocks are poisoned but for their first
 * 16 bytes (the free list's link), and a small block is checked when it comes off its list
 * again (checked.c wipes the tails of a new run). No allocation, no I/O but the one warning of a
 * bad option string. */
#include "debug.h"
#include "libc.h"
#include "out.h"

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

/* ---- the option string ------------------------------------------------------------- */

static bool parse_number(const char *s, size_t len, size_t max, size_t *v)
{
    unsigned base = 10;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        len -= 2;
    }
    if (!len)
        return false;
    *v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                   : base == 16 && c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                   : base == 16 && c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 99;
        if (d >= base || *v > (max - d) / base)
            return false;
        *v = *v * base + d;
    }
    return true;
}

/* One NAME[=VALUE] item into O; false if it is not one of the options. */
static bool parse_item(const char *s, size_t len, struct debug_opts *o)
{
    const char *eq = memchr(s, '=', len);
    size_t name = eq ? (size_t)(eq - s) : len, vlen = eq ? len - name - 1 : 0;
    const char *v = eq ? eq + 1 : NULL;
    size_t n;
    if (name == 12 && !memcmp(s, "poison_alloc", 12)) {
        if (v && !parse_number(v, vlen, 255, &n))
            return false;
        o->poison_alloc = v ? (int)n : 0xAB;
    } else if (name == 11 && !memcmp(s, "poison_free", 11)) {
        if (v && !parse_number(v, vlen, 255, &n))
            return false;
        o->poison_free = v ? (int)n : 0xCD;
    } else if (name == 7 && !memcmp(s, "padding", 7)) {
        if (v && !parse_number(v, vlen, 4096, &n))
            return false;
        o->padding = v ? align_up(n, 8) : 16;
    } else if (name == 13 && !memcmp(s, "check_on_exit", 13) && !v) {
        o->check_on_exit = true;
    } else {
        return false;
    }
    return true;
}

void debug_configure(const char *spec)
{
    struct debug_opts o = { .poison_alloc = -1, .poison_free = -1 };
    for (const char *s = spec; *s;) {
        size_t len = strcspn(s, ",");
        if (len && !parse_item(s, len, &o)) {
            char item[64];
            size_t k = len < sizeof item - 1 ? len : sizeof item - 1;
            memcpy(item, s, k);
            item[k] = '\0';
            out_warn("ZMM_DEBUG=%s: \"%s\" is not poison_alloc[=BYTE], poison_free[=BYTE], "
                     "padding[=N] (0..4096) nor check_on_exit; no debug checks", spec, item);
            return;
        }
        s += len + (s[len] == ',');
    }
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
