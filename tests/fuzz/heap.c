/* Fuzzes the heap (src/, linked directly: zmm_malloc & co., the functions libzmm.so exports
 * under the C names) with a sequence of calls decoded from the input, checked against a model:
 *   - every block holds what was written to it, across realloc (up to the smaller size), until
 *     it is freed; calloc's blocks are zero;
 *   - alignment: 16 bytes always; memalign/aligned_alloc round the alignment up to a power of
 *     two; posix_memalign refuses a bad one with EINVAL and leaves *memptr alone; valloc and
 *     pvalloc give pages;
 *   - malloc_usable_size(p) >= the size asked, and all of it may be written;
 *   - no two live blocks overlap (usable sizes included);
 *   - sizes over PTRDIFF_MAX, and calloc/reallocarray products that overflow, give NULL and
 *     ENOMEM (realloc's block stays); any request up to 1 GiB succeeds; free keeps errno;
 *     realloc(p, 0) frees and returns NULL.
 * Every input ends by checking and freeing what is left, so inputs do not depend on each other
 * (the engine's own state carries over, as in a program).
 *
 * Input: a list of operations, each an opcode byte, a slot byte and size/alignment bytes;
 * sizes pick a class first (small, large, huge, or an edge value) so short inputs reach every
 * path. Past 64 KiB, blocks are filled and checked on a sample of their bytes (see sampled())
 * to keep runs fast. */
#include "fuzz.h"
#include "alloc.h"
#include "defs.h"
#include "sizes.h"

#include <errno.h>

enum { SLOTS = 32, OPS_MAX = 256 };
#define FULL_CHECK_MAX ((size_t)64 << 10)
#define LIVE_MAX ((size_t)96 << 20)       /* total live bytes a run may hold */
#define SUCCEED_MAX ((size_t)1 << 30)     /* up to this, an allocation must succeed */

struct slot {
    unsigned char *p;
    size_t asked;       /* bytes asked for */
    size_t valid;       /* bytes holding the pattern (asked, or usable after a fill) */
    size_t usable;
    size_t align;       /* the alignment it must have */
    uint32_t seed;
};

static struct slot slots[SLOTS];
static size_t live_bytes;

static inline unsigned char pattern(uint32_t seed, size_t i)
{
    uint32_t x = seed ^ (uint32_t)(i * 2654435761u) ^ (uint32_t)(i >> 12);
    return (unsigned char)(x ^ x >> 8 ^ x >> 16);
}

/* Which bytes are written and checked: all of the first 64 KiB; past that, the first and last
 * 16 bytes of each page (the same bytes whatever the block's size, so a realloc that shrinks
 * or grows a block keeps the sample). Calls FN on each sampled run in [FROM, TO). */
#define SAMPLE_EDGE 16
static inline void sample_runs(size_t from, size_t to, void (*fn)(void *, size_t, size_t), void *arg)
{
    if (from < FULL_CHECK_MAX) {
        size_t end = to < FULL_CHECK_MAX ? to : FULL_CHECK_MAX;
        if (from < end)
            fn(arg, from, end);
        from = FULL_CHECK_MAX;
    }
    for (size_t page = from & ~(PAGE_SIZE - 1); page < to; page += PAGE_SIZE) {
        size_t runs[2][2] = { { page, page + SAMPLE_EDGE },
                              { page + PAGE_SIZE - SAMPLE_EDGE, page + PAGE_SIZE } };
        for (int r = 0; r < 2; r++) {
            size_t lo = runs[r][0] > from ? runs[r][0] : from, hi = runs[r][1] < to ? runs[r][1] : to;
            if (lo < hi)
                fn(arg, lo, hi);
        }
    }
}

static void fill_run(void *arg, size_t lo, size_t hi)
{
    const struct slot *s = arg;
    for (size_t i = lo; i < hi; i++)
        s->p[i] = pattern(s->seed, i);
}

static void fill(const struct slot *s, size_t from, size_t to)
{
    sample_runs(from, to, fill_run, (void *)(uintptr_t)s);
}

static const char *verify_when;

static void verify_run(void *arg, size_t lo, size_t hi)
{
    const struct slot *s = arg;
    for (size_t i = lo; i < hi; i++)
        if (s->p[i] != pattern(s->seed, i))
            fuzz_fail(__FILE__, __LINE__, "%s: block %p (%zu bytes asked, %zu valid) byte %zu is %#x, "
                      "expected %#x", verify_when, (void *)s->p, s->asked, s->valid, i, s->p[i],
                      pattern(s->seed, i));
}

/* The first N bytes of S hold its pattern (sampled as fill wrote them). */
static void verify(const struct slot *s, size_t n, const char *when)
{
    verify_when = when;
    sample_runs(0, n, verify_run, (void *)(uintptr_t)s);
}

static void zero_run(void *arg, size_t lo, size_t hi)
{
    const unsigned char *p = arg;
    for (size_t i = lo; i < hi; i++)
        if (p[i])
            fuzz_fail(__FILE__, __LINE__, "calloc block %p byte %zu is %#x", arg, i, p[i]);
}

static void check_zero(const unsigned char *p, size_t n)
{
    sample_runs(0, n, zero_run, (void *)(uintptr_t)p);
}

/* A new block in slot K: its alignment, usable size, and no overlap with any other; then the
 * pattern from byte KEEP on (the bytes before hold it already: realloc). */
static void adopt(unsigned k, void *p, size_t asked, size_t align, uint32_t seed, bool zeroed,
                  size_t keep)
{
    struct slot *s = &slots[k];
    size_t a = align < ALIGNMENT ? ALIGNMENT : align;
    FUZZ_CHECK(((uintptr_t)p & (a - 1)) == 0, "%p not aligned to %zu", p, a);
    size_t usable = zmm_usable_size(p);
    FUZZ_CHECK(usable >= asked, "usable %zu < %zu asked (%p)", usable, asked, p);
    uintptr_t lo = (uintptr_t)p, hi = lo + (usable ? usable : 1);
    for (unsigned j = 0; j < SLOTS; j++) {
        if (j == k || !slots[j].p)
            continue;
        uintptr_t l2 = (uintptr_t)slots[j].p, h2 = l2 + (slots[j].usable ? slots[j].usable : 1);
        FUZZ_CHECK(hi <= l2 || h2 <= lo, "block %p+%zu overlaps live block %p+%zu", p, usable,
                   (void *)slots[j].p, slots[j].usable);
    }
    if (zeroed)
        check_zero(p, asked);
    s->p = p;
    s->asked = s->valid = asked;
    s->usable = usable;
    s->align = a;
    s->seed = seed;
    live_bytes += usable;
    fill(s, keep, asked);
}

static void release(unsigned k, bool sized)
{
    struct slot *s = &slots[k];
    if (!s->p)
        return;
    verify(s, s->valid, "before free");
    FUZZ_CHECK(zmm_usable_size(s->p) == s->usable, "usable size of %p changed: %zu, was %zu",
               (void *)s->p, zmm_usable_size(s->p), s->usable);
    errno = 4242;
    if (sized)
        zmm_free_sized(s->p, s->asked);
    else
        zmm_free(s->p);
    FUZZ_CHECK(errno == 4242, "free changed errno to %d", errno);
    live_bytes -= s->usable;
    s->p = NULL;
}

/* A size from the input: a class, then a value in it. */
static size_t decode_size(struct fuzz_in *in)
{
    static const size_t edges[] = {
        0, 1, 8, 15, 16, 17, 24, 31, 32, 33, 48, 64, 100, 128, 255, 256, 320, 448, 512, 640,
        1024, 1792, 2048, 2560, 3071, 3072, 3073, 3584, 3585, 4095, 4096, 4097, 5120, 6144,
        6145, 7168, 8191, 8192, 8193, 12288, 65536,
        LARGE_MAX - 1, LARGE_MAX, LARGE_MAX + 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1,
        2 * CHUNK_SIZE, (size_t)PTRDIFF_MAX - 4096, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1,
        SIZE_MAX - 4095, SIZE_MAX - 15, SIZE_MAX,
    };
    uint8_t c = fuzz_u8(in);
    uint32_t v = fuzz_u16(in);
    switch (c & 7) {
    case 0: case 1: case 2: return v % 257;                 /* the small bins' low end */
    case 3: return v % (SMALL_MAX + 1);                      /* any small */
    case 4: case 5: return (size_t)v * 33 % (LARGE_MAX + 1); /* large runs */
    case 6: return LARGE_MAX + 1 + (size_t)v * 37;           /* huge: up to about 4.4 MiB */
    default: return edges[v % (sizeof edges / sizeof edges[0])];
    }
}

static size_t decode_align(struct fuzz_in *in)
{
    static const size_t odd[] = { 0, 3, 24, 48, 100, 3000, 12288, 65537, (size_t)1 << 22,
                                  (size_t)1 << 23, SIZE_MAX / 2 + 2, SIZE_MAX };
    uint8_t a = fuzz_u8(in);
    if (a < 200)
        return (size_t)1 << (a % 21);                       /* 1 .. 1 MiB */
    return odd[a % (sizeof odd / sizeof odd[0])];
}

static size_t pow2_up(size_t a)
{
    size_t p = 1;
    while (p < a)
        p <<= 1;
    return p;
}

/* Would asking for N bytes now go past what a run may hold? Then the call is skipped. */
static bool too_much(size_t n)
{
    return n <= SUCCEED_MAX && live_bytes + n > LIVE_MAX;
}

/* A result of an allocation call of N bytes: NULL only past SUCCEED_MAX, with ENOMEM. */
static bool accept(void *p, size_t n, const char *call)
{
    if (p)
        return true;
    FUZZ_CHECK(n > SUCCEED_MAX, "%s(%zu) failed (errno %d)", call, n, errno);
    FUZZ_CHECK(errno == ENOMEM, "%s(%zu) failed with errno %d, not ENOMEM", call, n, errno);
    return false;
}

static void op_realloc(unsigned k, size_t n, uint32_t seed, bool array, size_t m)
{
    struct slot *s = &slots[k];
    size_t total = n;
    bool overflow = array && __builtin_mul_overflow(n, m, &total);
    if (!overflow && too_much(total))
        return;
    if (s->p)
        verify(s, s->valid, "before realloc");
    errno = 0;
    void *q = array ? zmm_reallocarray(s->p, n, m) : zmm_realloc(s->p, n);
    if (overflow || total > (size_t)PTRDIFF_MAX) {
        FUZZ_CHECK(!q && errno == ENOMEM, "realloc%s(%zu%s) gave %p, errno %d", array ? "array" : "",
                   total, overflow ? ", overflowing" : "", q, errno);
        if (s->p)
            verify(s, s->valid, "after a failed realloc");
        return;
    }
    if (total == 0 && s->p) {
        FUZZ_CHECK(!q, "realloc(p, 0) gave %p", q);
        live_bytes -= s->usable;
        s->p = NULL;
        return;
    }
    if (!accept(q, total, "realloc")) {
        if (s->p)
            verify(s, s->valid, "after a failed realloc");
        return;
    }
    if (!s->p) {
        adopt(k, q, total, 0, seed, false, 0);
        return;
    }
    /* The old contents up to the smaller size, then the pattern of the old seed on. */
    struct slot moved = *s;
    moved.p = q;
    size_t keep = s->valid < total ? s->valid : total;
    moved.valid = keep;
    verify(&moved, keep, "after realloc");
    live_bytes -= s->usable;
    s->p = NULL;
    adopt(k, q, total, 0, s->seed, false, keep);
}

static void run(struct fuzz_in *in)
{
    for (unsigned ops = 0; fuzz_left(in) && ops < OPS_MAX; ops++) {
        uint8_t op = fuzz_u8(in);
        unsigned k = fuzz_u8(in) % SLOTS;
        uint32_t seed = (uint32_t)op << 24 ^ ops * 0x9e3779b9u ^ k;
        switch (op % 13) {
        case 0: case 1: {                       /* malloc */
            size_t n = decode_size(in);
            if (too_much(n))
                break;
            release(k, false);
            errno = 0;
            void *p = zmm_malloc(n);
            if (n > (size_t)PTRDIFF_MAX)
                FUZZ_CHECK(!p && errno == ENOMEM, "malloc(%zu) gave %p, errno %d", n, p, errno);
            else if (accept(p, n, "malloc"))
                adopt(k, p, n, 0, seed, false, 0);
            break;
        }
        case 2: {                               /* calloc */
            size_t n = decode_size(in), m = fuzz_u8(in) % 9, total;
            if (fuzz_u8(in) & 1) {
                size_t t = n;
                n = m;
                m = t;
            }
            bool overflow = __builtin_mul_overflow(n, m, &total);
            if (!overflow && too_much(total))
                break;
            release(k, false);
            errno = 0;
            void *p = zmm_calloc(n, m);
            if (overflow || total > (size_t)PTRDIFF_MAX)
                FUZZ_CHECK(!p && errno == ENOMEM, "calloc(%zu, %zu) gave %p, errno %d", n, m, p, errno);
            else if (accept(p, total, "calloc"))
                adopt(k, p, total, 0, seed, true, 0);
            break;
        }
        case 3: case 4:                         /* realloc */
            op_realloc(k, decode_size(in), seed, false, 1);
            break;
        case 5: {                               /* reallocarray */
            size_t n = decode_size(in), m = fuzz_u8(in) % 5;
            op_realloc(k, m ? n / m + (fuzz_u8(in) & 1) : n, seed, true, m ? m : SIZE_MAX / 2);
            break;
        }
        case 6: case 7:                         /* free */
            release(k, op & 0x80);
            break;
        case 8: case 9: {                       /* memalign, aligned_alloc (the same call) */
            size_t a = decode_align(in), n = decode_size(in);
            if (too_much(n + (a < SUCCEED_MAX ? a : 0)))
                break;
            release(k, false);
            errno = 0;
            void *p = zmm_memalign(a, n);
            if (a > SIZE_MAX / 2 + 1) {
                FUZZ_CHECK(!p && errno == EINVAL, "memalign(%zu, %zu) gave %p, errno %d", a, n, p, errno);
            } else if (n > (size_t)PTRDIFF_MAX) {
                FUZZ_CHECK(!p && errno == ENOMEM, "memalign(%zu, %zu) gave %p, errno %d", a, n, p, errno);
            } else if (accept(p, n + pow2_up(a), "memalign")) {
                adopt(k, p, n, pow2_up(a), seed, false, 0);
            }
            break;
        }
        case 10: {                              /* posix_memalign */
            size_t a = decode_align(in), n = decode_size(in);
            if (too_much(n + (a < SUCCEED_MAX ? a : 0)))
                break;
            release(k, false);
            void *p = (void *)&slots;
            errno = 777;
            int rc = zmm_posix_memalign(&p, a, n);
            FUZZ_CHECK(errno == 777 || (rc && errno == rc), "posix_memalign set errno %d (rc %d)", errno, rc);
            if (a < sizeof(void *) || (a & (a - 1))) {
                FUZZ_CHECK(rc == EINVAL && p == (void *)&slots, "posix_memalign(%zu) gave %d, %p", a, rc, p);
            } else if (rc) {
                FUZZ_CHECK(rc == ENOMEM && p == (void *)&slots, "posix_memalign(%zu, %zu) gave %d, %p", a, n, rc, p);
                FUZZ_CHECK(n > SUCCEED_MAX || n + a > SUCCEED_MAX, "posix_memalign(%zu, %zu) failed", a, n);
            } else {
                adopt(k, p, n, a, seed, false, 0);
            }
            break;
        }
        case 11: {                              /* valloc, pvalloc */
            size_t n = decode_size(in);
            bool pv = op & 0x80;
            if (too_much(n + PAGE_SIZE))
                break;
            release(k, false);
            errno = 0;
            void *p = pv ? zmm_pvalloc(n) : zmm_valloc(n);
            size_t want = pv ? (n ? (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1) : PAGE_SIZE) : n;
            if (n > (size_t)PTRDIFF_MAX - PAGE_SIZE) {
                FUZZ_CHECK(!p && errno == ENOMEM, "%svalloc(%zu) gave %p", pv ? "p" : "", n, p);
                if (p)
                    zmm_free(p);
            } else if (accept(p, want, pv ? "pvalloc" : "valloc")) {
                adopt(k, p, want, PAGE_SIZE, seed, false, 0);
            }
            break;
        }
        default: {                              /* malloc_usable_size, and write all of it */
            struct slot *s = &slots[k];
            FUZZ_CHECK(zmm_usable_size(NULL) == 0, "malloc_usable_size(NULL)");
            if (!s->p)
                break;
            size_t u = zmm_usable_size(s->p);
            FUZZ_CHECK(u == s->usable && u >= s->asked, "usable size %zu (was %zu, asked %zu)", u,
                       s->usable, s->asked);
            verify(s, s->valid, "before filling the usable size");
            fill(s, s->valid, u);
            s->valid = u;
            break;
        }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    run(&in);
    for (unsigned k = 0; k < SLOTS; k++)
        release(k, false);
    FUZZ_CHECK(live_bytes == 0, "%zu live bytes left", live_bytes);
    return 0;
}
