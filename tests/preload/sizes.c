/* sizes: alignment, usable size, overlap, realloc contents and calloc zeroing over every size
 * class (1..9000) and a sample of large and huge sizes up to 64 MiB. */
#include <malloc.h>
#include <time.h>

#include "zmm_test.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

struct blk {
    unsigned char *p;
    size_t size;
    size_t usable;
    unsigned seed;
};

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct blk *)a)->p;
    uintptr_t y = (uintptr_t)((const struct blk *)b)->p;
    return x < y ? -1 : x > y;
}

static const size_t big_sizes[] = {
    9001, 12288, 12345, 16384, 65535, 65536, 100000, 131072, 262145,
    MiB - 1, MiB, MiB + 1,
    2 * MiB - 8 * KiB, 2 * MiB - 4 * KiB - 1, 2 * MiB - 4 * KiB, 2 * MiB - 4 * KiB + 1,
    2 * MiB - 1, 2 * MiB, 2 * MiB + 1, 3 * MiB, 4 * MiB + 17, 10 * MiB, 32 * MiB - 3, 64 * MiB,
};
#define N_BIG (sizeof big_sizes / sizeof big_sizes[0])
#define N_SMALL 9000

static void check_block(const struct blk *b, const char *when)
{
    CHECK(((uintptr_t)b->p & 15) == 0, "%s: malloc(%zu) = %p is not 16-byte aligned", when, b->size,
          (void *)b->p);
    CHECK(b->usable >= b->size, "%s: malloc_usable_size(malloc(%zu)) = %zu", when, b->size,
          b->usable);
}

/* Every size 1..9000 and the big sample live at once: aligned, usable, writable, disjoint. */
static void test_live_blocks(void)
{
    size_t n = N_SMALL + N_BIG;
    struct blk *b = calloc(n, sizeof *b);
    if (!b)
        FATAL("calloc for the table failed");
    for (size_t i = 0; i < n; i++) {
        b[i].size = i < N_SMALL ? i + 1 : big_sizes[i - N_SMALL];
        b[i].seed = (unsigned)(i * 2654435761u);
        b[i].p = malloc(b[i].size);
        CHECK(b[i].p != NULL, "malloc(%zu) returned NULL (errno %d)", b[i].size, errno);
        if (!b[i].p)
            FATAL("cannot go on");
        b[i].usable = malloc_usable_size(b[i].p);
        check_block(&b[i], "live");
        /* The whole usable size is the program's to write. */
        fill_pattern(b[i].p, b[i].usable, b[i].seed);
        CHECK_LIMIT(20);
    }
    /* Contents survive every later allocation. */
    for (size_t i = 0; i < n; i++) {
        size_t bad = check_pattern(b[i].p, b[i].usable, b[i].seed);
        CHECK(bad == (size_t)-1, "block %p (size %zu, usable %zu) changed at offset %zu after other "
              "allocations", (void *)b[i].p, b[i].size, b[i].usable, bad);
        CHECK_LIMIT(20);
    }
    /* No two live blocks overlap, usable sizes included. */
    qsort(b, n, sizeof *b, by_address);
    for (size_t i = 0; i + 1 < n; i++) {
        CHECK(b[i].p + b[i].usable <= b[i + 1].p,
              "blocks overlap: %p (size %zu, usable %zu) and %p (size %zu)", (void *)b[i].p,
              b[i].size, b[i].usable, (void *)b[i + 1].p, b[i + 1].size);
        CHECK_LIMIT(20);
    }
    for (size_t i = 0; i < n; i++)
        free(b[i].p);
    free(b);
}

/* Blocks of one size churned (allocate, free half, allocate again): still aligned and disjoint. */
static void test_reuse(void)
{
    enum { N = 512 };
    static const size_t sizes[] = {1, 8, 15, 16, 17, 24, 33, 100, 129, 1000, 3072, 3073, 4096,
                                   4104, 4368, 5000, 6184, 7168, 8192, 8193, 65536,
                                   2 * MiB - 4 * KiB, 2 * MiB + 1};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s] > 64 * KiB ? 16 : N;
        struct blk b[N];
        for (size_t i = 0; i < n; i++) {
            b[i].size = sizes[s];
            b[i].seed = (unsigned)(i + s * 1000);
            b[i].p = malloc(b[i].size);
            if (!b[i].p)
                FATAL("malloc(%zu) failed", b[i].size);
            b[i].usable = malloc_usable_size(b[i].p);
            fill_pattern(b[i].p, b[i].usable, b[i].seed);
        }
        for (size_t i = 0; i < n; i += 2)
            free(b[i].p);
        for (size_t i = 0; i < n; i += 2) {
            b[i].p = malloc(b[i].size);
            if (!b[i].p)
                FATAL("malloc(%zu) failed", b[i].size);
            b[i].usable = malloc_usable_size(b[i].p);
            check_block(&b[i], "reuse");
            fill_pattern(b[i].p, b[i].usable, b[i].seed);
        }
        for (size_t i = 0; i < n; i++) {
            size_t bad = check_pattern(b[i].p, b[i].usable, b[i].seed);
            CHECK(bad == (size_t)-1, "reused block of %zu bytes changed at offset %zu", b[i].size,
                  bad);
        }
        qsort(b, n, sizeof b[0], by_address);
        for (size_t i = 0; i + 1 < n; i++)
            CHECK(b[i].p + b[i].usable <= b[i + 1].p, "reused blocks of %zu bytes overlap: %p, %p",
                  b[i].size, (void *)b[i].p, (void *)b[i + 1].p);
        for (size_t i = 0; i < n; i++)
            free(b[i].p);
        CHECK_LIMIT(20);
    }
}

static const size_t chain[] = {8, 100, 3000, 3073, 5000, 8193, MiB, 2 * MiB, 3 * MiB, 10 * MiB};
#define N_CHAIN (sizeof chain / sizeof chain[0])

/* realloc from A to B keeps min(A, B) bytes: every pair of the chain, with and without a
 * neighbour allocated in between (so that some moves cannot be in place). */
static void test_realloc_pairs(void)
{
    for (int obstacle = 0; obstacle < 2; obstacle++)
        for (size_t i = 0; i < N_CHAIN; i++)
            for (size_t j = 0; j < N_CHAIN; j++) {
                size_t a = chain[i], b = chain[j];
                unsigned seed = (unsigned)(i * 16 + j + obstacle * 256);
                unsigned char *p = malloc(a);
                if (!p)
                    FATAL("malloc(%zu) failed", a);
                fill_pattern(p, a, seed);
                void *wall = obstacle ? malloc(a) : NULL;
                unsigned char *q = realloc(p, b);
                CHECK(q != NULL, "realloc(%zu -> %zu) returned NULL", a, b);
                if (!q)
                    FATAL("cannot go on");
                CHECK(((uintptr_t)q & 15) == 0, "realloc(%zu -> %zu) = %p not aligned", a, b,
                      (void *)q);
                size_t u = malloc_usable_size(q);
                CHECK(u >= b, "realloc(%zu -> %zu): usable %zu", a, b, u);
                size_t keep = a < b ? a : b;
                size_t bad = check_pattern(q, keep, seed);
                CHECK(bad == (size_t)-1, "realloc(%zu -> %zu) lost contents at offset %zu", a, b,
                      bad);
                memset(q, 0x5a, u);
                free(wall);
                free(q);
                CHECK_LIMIT(20);
            }
}

/* One block walked up the chain and back down, contents checked at every step. */
static void test_realloc_chain(void)
{
    size_t cur = chain[0];
    unsigned char *p = malloc(cur);
    if (!p)
        FATAL("malloc failed");
    fill_pattern(p, cur, 7);
    for (int dir = 0; dir < 2; dir++)
        for (size_t k = 1; k < N_CHAIN; k++) {
            size_t next = dir == 0 ? chain[k] : chain[N_CHAIN - 1 - k];
            unsigned char *q = realloc(p, next);
            CHECK(q != NULL, "realloc(%zu -> %zu) failed", cur, next);
            if (!q)
                FATAL("cannot go on");
            size_t keep = cur < next ? cur : next;
            size_t bad = check_pattern(q, keep, 7);
            CHECK(bad == (size_t)-1, "chain realloc(%zu -> %zu) lost contents at offset %zu", cur,
                  next, bad);
            CHECK(malloc_usable_size(q) >= next, "chain realloc(%zu -> %zu): usable %zu", cur,
                  next, malloc_usable_size(q));
            /* Grown part gets the pattern too, so the next step checks all of it. */
            fill_pattern(q, next, 7);
            p = q;
            cur = next;
        }
    CHECK(cur == chain[0], "chain ended at %zu", cur);
    free(p);
}

/* calloc zeroes even blocks that come back dirty from the free lists or the huge cache. */
static void test_calloc_dirty(void)
{
    static const size_t sizes[] = {1,    8,     16,    24,    48,      64,      100,     256,
                                   1000, 2048,  3072,  3073,  4096,    5000,    8192,    8193,    65536,
                                   100000, MiB, 2 * MiB - 4 * KiB, 2 * MiB, 3 * MiB, 10 * MiB};
    enum { N = sizeof sizes / sizeof sizes[0], COPIES = 8 };
    void *p[N][COPIES];
    /* Fewer copies of the big ones: enough to come back from a cache, quick to check. */
#define COPIES_OF(i) (sizes[i] > 100000 ? 2 : COPIES)
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < N; i++)
            for (int c = 0; c < COPIES_OF(i); c++) {
                p[i][c] = malloc(sizes[i]);
                if (!p[i][c])
                    FATAL("malloc(%zu) failed", sizes[i]);
                memset(p[i][c], 0xa5, malloc_usable_size(p[i][c]));
            }
        for (size_t i = 0; i < N; i++)
            for (int c = 0; c < COPIES_OF(i); c++)
                free(p[i][c]);
        /* Same sizes again, last freed first (what a LIFO free list hands back). */
        for (size_t i = N; i-- > 0;)
            for (int c = COPIES_OF(i); c-- > 0;) {
                size_t n = sizes[i];
                /* Split the size into nmemb * size differently each round. */
                size_t nmemb = round == 0 ? 1 : round == 1 ? n : (n % 4 == 0 ? 4 : 1);
                unsigned char *q = calloc(nmemb, n / nmemb);
                CHECK(q != NULL, "calloc(%zu, %zu) failed", nmemb, n / nmemb);
                if (!q)
                    FATAL("cannot go on");
                size_t bad = (size_t)-1;
                for (size_t k = 0; k < n; k++)
                    if (q[k]) {
                        bad = k;
                        break;
                    }
                CHECK(bad == (size_t)-1, "calloc(%zu, %zu) = %p: byte %zu is 0x%02x, not zero",
                      nmemb, n / nmemb, (void *)q, bad, bad == (size_t)-1 ? 0 : q[bad]);
                p[i][c] = q;
                CHECK_LIMIT(20);
            }
        for (size_t i = 0; i < N; i++)
            for (int c = 0; c < COPIES_OF(i); c++) {
                memset(p[i][c], 0x3c, sizes[i]);
                free(p[i][c]);
            }
    }
#undef COPIES_OF
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define PHASE(fn)                                                     \
    do {                                                              \
        double t0_ = now();                                           \
        fn();                                                         \
        printf("%-20s %.3f s\n", #fn, now() - t0_);                  \
    } while (0)

int main(void)
{
    require_zmm();
    PHASE(test_live_blocks);
    PHASE(test_reuse);
    PHASE(test_realloc_pairs);
    PHASE(test_realloc_chain);
    PHASE(test_calloc_dirty);
    return test_result();
}
