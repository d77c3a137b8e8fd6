/* errno: impossible sizes give NULL and ENOMEM in every member, failed calls leave their
 * arguments alone, free keeps errno, realloc(p, 0) frees, and running out of address space
 * under RLIMIT_AS gives NULL, never a crash. */
#include <malloc.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "zmm_test.h"

#define MiB ((size_t)1 << 20)

/* Every "impossible" size goes through opaque_size so gcc neither warns nor folds. */
#define HUGE_SIZE(x) opaque_size(x)

#define EXPECT_ENOMEM(call, what)                                                             \
    do {                                                                                      \
        errno = 0;                                                                            \
        void *r_ = (call);                                                                    \
        int e_ = errno;                                                                       \
        CHECK(r_ == NULL, "%s returned %p, not NULL", what, r_);                              \
        CHECK(e_ == ENOMEM, "%s: errno %d (%s), not ENOMEM", what, e_, strerror(e_));         \
        if (r_)                                                                               \
            free(r_);                                                                         \
    } while (0)

static void test_impossible_sizes(void)
{
    EXPECT_ENOMEM(malloc(HUGE_SIZE(SIZE_MAX)), "malloc(SIZE_MAX)");
    EXPECT_ENOMEM(malloc(HUGE_SIZE((size_t)PTRDIFF_MAX + 1)), "malloc(PTRDIFF_MAX + 1)");
    EXPECT_ENOMEM(malloc(HUGE_SIZE(SIZE_MAX - 4096)), "malloc(SIZE_MAX - 4096)");
    EXPECT_ENOMEM(calloc(HUGE_SIZE(SIZE_MAX / 2), 3), "calloc(SIZE_MAX / 2, 3) (overflow)");
    EXPECT_ENOMEM(calloc(HUGE_SIZE((size_t)1 << 33), (size_t)1 << 33),
                  "calloc(2^33, 2^33) (overflow)");
    EXPECT_ENOMEM(calloc(1, HUGE_SIZE(SIZE_MAX)), "calloc(1, SIZE_MAX)");
    EXPECT_ENOMEM(calloc(HUGE_SIZE((size_t)PTRDIFF_MAX + 1), 1), "calloc(PTRDIFF_MAX + 1, 1)");
    EXPECT_ENOMEM(memalign(64, HUGE_SIZE(SIZE_MAX)), "memalign(64, SIZE_MAX)");
    EXPECT_ENOMEM(memalign(4096, HUGE_SIZE((size_t)PTRDIFF_MAX + 1)),
                  "memalign(4096, PTRDIFF_MAX + 1)");
    EXPECT_ENOMEM(aligned_alloc(64, HUGE_SIZE(SIZE_MAX)), "aligned_alloc(64, SIZE_MAX)");
    EXPECT_ENOMEM(valloc(HUGE_SIZE(SIZE_MAX)), "valloc(SIZE_MAX)");
    EXPECT_ENOMEM(pvalloc(HUGE_SIZE(SIZE_MAX)), "pvalloc(SIZE_MAX)");
    EXPECT_ENOMEM(pvalloc(HUGE_SIZE(SIZE_MAX - 100)), "pvalloc(SIZE_MAX - 100) (round-up overflow)");
    EXPECT_ENOMEM(realloc(NULL, HUGE_SIZE(SIZE_MAX)), "realloc(NULL, SIZE_MAX)");

    /* posix_memalign: returns ENOMEM, leaves *memptr alone, leaves errno ENOMEM. */
    void *sentinel = (void *)&sentinel;
    void *q = sentinel;
    errno = 0;
    int rc = posix_memalign(&q, 64, HUGE_SIZE(SIZE_MAX));
    int e = errno;
    CHECK(rc == ENOMEM, "posix_memalign(&q, 64, SIZE_MAX) = %d, not ENOMEM", rc);
    CHECK(q == sentinel, "posix_memalign(&q, 64, SIZE_MAX) changed q to %p", q);
    CHECK(e == ENOMEM, "posix_memalign(&q, 64, SIZE_MAX): errno %d, not ENOMEM", e);

    q = sentinel;
    errno = 0;
    rc = posix_memalign(&q, 4096, HUGE_SIZE((size_t)PTRDIFF_MAX + 1));
    e = errno;
    CHECK(rc == ENOMEM, "posix_memalign(&q, 4096, PTRDIFF_MAX + 1) = %d", rc);
    CHECK(q == sentinel, "posix_memalign(&q, 4096, PTRDIFF_MAX + 1) changed q to %p", q);
    CHECK(e == ENOMEM, "posix_memalign(&q, 4096, PTRDIFF_MAX + 1): errno %d", e);

    /* Bad alignments: EINVAL and *memptr untouched. */
    static const size_t bad_align[] = {0, 3, 24, sizeof(void *) / 2, sizeof(void *) + 1, 100};
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++) {
        q = sentinel;
        rc = posix_memalign(&q, opaque_size(bad_align[i]), 64);
        CHECK(rc == EINVAL, "posix_memalign(&q, %zu, 64) = %d, not EINVAL", bad_align[i], rc);
        CHECK(q == sentinel, "posix_memalign(&q, %zu, 64) changed q to %p", bad_align[i], q);
        if (q != sentinel && rc == 0)
            free(q);
    }
}

/* reallocarray and realloc that fail keep the old block, its contents, and freeability. */
static void test_failed_realloc_keeps_block(void)
{
    static const size_t sizes[] = {64, 100000, 8 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *p = malloc(n);
        if (!p)
            FATAL("malloc(%zu) failed", n);
        fill_pattern(p, n, (unsigned)i + 40);

        errno = 0;
        void *r = reallocarray(opaque(p), HUGE_SIZE(SIZE_MAX / 2), 3);
        int e = errno;
        CHECK(r == NULL, "reallocarray(p, SIZE_MAX / 2, 3) = %p", r);
        CHECK(e == ENOMEM, "reallocarray(p, SIZE_MAX / 2, 3): errno %d", e);
        CHECK(check_pattern(p, n, (unsigned)i + 40) == (size_t)-1,
              "failed reallocarray damaged the %zu-byte block", n);

        errno = 0;
        r = realloc(opaque(p), HUGE_SIZE(SIZE_MAX));
        e = errno;
        CHECK(r == NULL, "realloc(p, SIZE_MAX) = %p", r);
        CHECK(e == ENOMEM, "realloc(p, SIZE_MAX): errno %d", e);
        CHECK(check_pattern(p, n, (unsigned)i + 40) == (size_t)-1,
              "failed realloc(p, SIZE_MAX) damaged the %zu-byte block", n);

        errno = 0;
        r = realloc(opaque(p), HUGE_SIZE((size_t)PTRDIFF_MAX + 1));
        e = errno;
        CHECK(r == NULL && e == ENOMEM, "realloc(p, PTRDIFF_MAX + 1) = %p, errno %d", r, e);
        CHECK(check_pattern(p, n, (unsigned)i + 40) == (size_t)-1,
              "failed realloc(p, PTRDIFF_MAX + 1) damaged the %zu-byte block", n);

        /* Still a live, usable, freeable block. */
        CHECK(malloc_usable_size(p) >= n, "usable size of kept block = %zu",
              malloc_usable_size(p));
        unsigned char *g = realloc(p, n + 1);
        CHECK(g != NULL, "realloc of the kept block failed");
        if (g) {
            CHECK(check_pattern(g, n, (unsigned)i + 40) == (size_t)-1, "kept block lost data");
            p = g;
        }
        free(p);
    }
}

static void test_free_keeps_errno(void)
{
    static const size_t sizes[] = {16, 64, 3072, 5000, 100000, 2 * MiB - 4096, 2 * MiB, 8 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = malloc(sizes[i]);
        if (!p)
            FATAL("malloc(%zu) failed", sizes[i]);
        memset(p, 1, sizes[i]);
        errno = 12345;
        free(p);
        CHECK(errno == 12345, "free of a %zu-byte block changed errno to %d", sizes[i], errno);
        /* Aligned blocks, too. */
        p = aligned_alloc(4096, sizes[i]);
        if (!p)
            FATAL("aligned_alloc(4096, %zu) failed", sizes[i]);
        errno = 12345;
        free(p);
        CHECK(errno == 12345, "free of a 4096-aligned %zu-byte block changed errno to %d",
              sizes[i], errno);
    }
    /* Many huge blocks, so some free really unmaps (beyond any cache of freed mappings). */
    void *h[16];
    for (int i = 0; i < 16; i++) {
        h[i] = malloc(8 * MiB + (size_t)i * 4096);
        if (!h[i])
            FATAL("malloc(8 MiB) failed");
    }
    for (int i = 0; i < 16; i++) {
        errno = 12345;
        free(h[i]);
        CHECK(errno == 12345, "free of huge block %d changed errno to %d", i, errno);
    }
    errno = 12345;
    free(NULL);
    CHECK(errno == 12345, "free(NULL) changed errno to %d", errno);
}

static void test_zero_sizes(void)
{
    enum { N = 16 };
    void *p[2 * N];
    for (int i = 0; i < N; i++) {
        p[i] = malloc(opaque_size(0));
        p[N + i] = realloc(NULL, opaque_size(0));
        CHECK(p[i] != NULL, "malloc(0) returned NULL");
        CHECK(p[N + i] != NULL, "realloc(NULL, 0) returned NULL");
    }
    for (int i = 0; i < 2 * N; i++)
        for (int j = i + 1; j < 2 * N; j++)
            CHECK(p[i] == NULL || p[i] != p[j], "malloc(0)/realloc(NULL, 0) returned %p twice",
                  p[i]);
    for (int i = 0; i < 2 * N; i++)
        free(p[i]);

    /* realloc(p, 0) frees p and returns NULL. zmm_memory_usage counts whole pages of runs, so
     * one small free need not show: repeat it, and the heap must not grow by what a leak would
     * add up to. */
    static const size_t sizes[] = {64, 100000, 8 * MiB};
    static const int rounds[] = {100000, 1000, 40};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t before = zt_memory_usage();
        int non_null = 0;
        for (int k = 0; k < rounds[i]; k++) {
            void *b = malloc(sizes[i]);
            if (!b)
                FATAL("malloc(%zu) failed", sizes[i]);
            memset(b, 2, sizes[i] < 4096 ? sizes[i] : 4096);
            void *r = realloc(opaque(b), opaque_size(0));
            if (r) {
                non_null++;
                free(r);
            }
        }
        size_t after = zt_memory_usage();
        CHECK(non_null == 0, "realloc(p, 0) of a %zu-byte block returned non-NULL %d times of %d",
              sizes[i], non_null, rounds[i]);
        size_t leak = sizes[i] * (size_t)rounds[i];
        CHECK(before == (size_t)-1 || after < before + leak / 8,
              "realloc(p, 0) does not free: %d times on %zu-byte blocks took zmm_memory_usage "
              "from %zu to %zu", rounds[i], sizes[i], before, after);
    }
}

static size_t vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        FATAL("cannot open /proc/self/status");
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1)
            break;
    fclose(f);
    if (!kb)
        FATAL("no VmSize in /proc/self/status");
    return kb * 1024;
}

static void test_rlimit_as(void)
{
    struct rlimit old;
    if (getrlimit(RLIMIT_AS, &old) != 0)
        FATAL("getrlimit failed");
    size_t limit = vm_size() + 64 * MiB;
    struct rlimit rl = {.rlim_cur = limit, .rlim_max = old.rlim_max};
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        FATAL("setrlimit(RLIMIT_AS, %zu) failed: %s", limit, strerror(errno));

    enum { MAXB = 4096 };
    static void *b[MAXB];
    int e;
    size_t n = fill_mib_blocks(b, MAXB, 3, &e);
    CHECK(n < MAXB, "RLIMIT_AS of 64 MiB more than in use, yet %zu 1-MiB blocks were allocated",
          n);
    CHECK(n >= 8, "only %zu 1-MiB blocks under a 64 MiB RLIMIT_AS headroom", n);
    CHECK(e == ENOMEM, "malloc(1 MiB) failed under RLIMIT_AS with errno %d, not ENOMEM", e);
    for (size_t i = 0; i < n; i++)
        free(b[i]);

    /* After freeing, malloc works again, under the same limit. */
    void *again = malloc(MiB);
    CHECK(again != NULL, "malloc(1 MiB) failed after freeing everything under RLIMIT_AS");
    void *small = malloc(64);
    CHECK(small != NULL, "malloc(64) failed after freeing everything under RLIMIT_AS");
    free(again);
    free(small);

    /* One allocation far past the limit. */
    errno = 0;
    void *g = malloc(opaque_size((size_t)1 << 30));
    e = errno;
    CHECK(g == NULL, "malloc(1 GiB) succeeded under a 64 MiB RLIMIT_AS headroom");
    CHECK(e == ENOMEM, "malloc(1 GiB) under RLIMIT_AS: errno %d, not ENOMEM", e);
    free(g);
    errno = 0;
    g = calloc(1, opaque_size((size_t)1 << 30));
    e = errno;
    CHECK(g == NULL && e == ENOMEM, "calloc(1, 1 GiB) under RLIMIT_AS = %p, errno %d", g, e);
    free(g);
    void *pm = (void *)&pm;
    int rc = posix_memalign(&pm, 2 * MiB, opaque_size((size_t)1 << 30));
    CHECK(rc == ENOMEM && pm == (void *)&pm, "posix_memalign(2 MiB, 1 GiB) under RLIMIT_AS = %d",
          rc);

    again = malloc(MiB);
    CHECK(again != NULL, "malloc(1 MiB) failed after the failed 1 GiB malloc");
    if (again)
        memset(again, 4, MiB);
    small = malloc(100);
    CHECK(small != NULL, "malloc(100) failed after the failed 1 GiB malloc");
    free(again);
    free(small);

    setrlimit(RLIMIT_AS, &old);
}

int main(void)
{
    require_zmm();
    /* stdout's buffer exists before the address space gets tight. */
    printf("errno test\n");
    test_impossible_sizes();
    test_failed_realloc_keeps_block();
    test_free_keeps_errno();
    test_zero_sizes();
    test_rlimit_as();
    return test_result();
}
