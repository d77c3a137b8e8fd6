/* family: every member of glibc's allocation API is zmm's and works. */
#include <malloc.h>
#include <unistd.h>

#include "zmm_test.h"

#define MiB ((size_t)1 << 20)

static size_t page;

/* Every name a program or libc itself may call; all must resolve to libzmm. */
static const char *const names[] = {
    "malloc",         "free",           "calloc",         "realloc",
    "reallocarray",   "posix_memalign", "aligned_alloc",  "memalign",
    "valloc",         "pvalloc",        "malloc_usable_size", "cfree",
    "malloc_trim",    "mallopt",        "mallinfo",       "mallinfo2",
    "malloc_stats",   "malloc_info",    "free_sized",     "free_aligned_sized",
    "__libc_malloc",  "__libc_free",    "__libc_calloc",  "__libc_realloc",
    "__libc_memalign", "__libc_valloc", "__libc_pvalloc",
#ifndef ZMM_TEST_GLIBC
    /* zmm's own API and the dlopen wrapper (RTLD_DEEPBIND). */
    "zmm_version",    "zmm_memory_usage", "zmm_memory_peak", "zmm_set_memory_limit",
    "dlopen",
#endif
};

static void test_symbols(void)
{
    const char *z = zmm_object();
    CHECK(z != NULL, "zmm_version has no object");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *s = dlsym(RTLD_DEFAULT, names[i]);
        const char *o = object_of(s);
        CHECK(s != NULL, "dlsym(RTLD_DEFAULT, \"%s\") is NULL", names[i]);
        CHECK(z && o && strcmp(z, o) == 0, "%s (%p) is defined in %s, not in libzmm (%s)",
              names[i], s, o ? o : "?", z ? z : "?");
    }
}

static void check_aligned_block(void *p, size_t align, size_t size, const char *fn)
{
    CHECK(p != NULL, "%s(align %zu, size %zu) returned NULL (errno %d)", fn, align, size, errno);
    if (!p)
        return;
    CHECK((uintptr_t)p % align == 0, "%s(align %zu, size %zu) = %p is misaligned", fn, align,
          size, p);
    size_t u = malloc_usable_size(p);
    CHECK(u >= size, "%s(align %zu, size %zu): usable %zu", fn, align, size, u);
    memset(p, 0x77, u);
}

/* Alignments 2^4 .. 2^22 with small, large and huge sizes, through every aligned entry point. */
static void test_alignments(void)
{
    static const size_t sizes[] = {1, 100, 5000, 3 * MiB};
    for (int k = 4; k <= 22; k++) {
        size_t a = (size_t)1 << k;
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            void *p[4];
            void *sentinel = (void *)&p;
            p[0] = sentinel;
            int rc = posix_memalign(&p[0], a, n);
            CHECK(rc == 0, "posix_memalign(%zu, %zu) = %d", a, n, rc);
            if (rc != 0)
                p[0] = NULL;
            check_aligned_block(p[0], a, n, "posix_memalign");
            p[1] = aligned_alloc(a, n);
            check_aligned_block(p[1], a, n, "aligned_alloc");
            p[2] = memalign(a, n);
            check_aligned_block(p[2], a, n, "memalign");
            /* The same through realloc: the result need only be 16-byte aligned, but usable. */
            p[3] = memalign(a, n);
            check_aligned_block(p[3], a, n, "memalign");
            if (p[3]) {
                memset(p[3], 0x11, n);
                unsigned char *q = realloc(p[3], n * 2);
                CHECK(q != NULL, "realloc of a %zu-aligned block failed", a);
                if (q) {
                    CHECK(q[0] == 0x11 && q[n - 1] == 0x11, "realloc of aligned block lost data");
                    p[3] = q;
                }
            }
            for (int i = 0; i < 4; i++)
                free(p[i]);
            CHECK_LIMIT(20);
        }
    }
}

/* memalign and aligned_alloc round a non-power-of-two alignment up to the next power of two.
 * Many live blocks of sizes that a 16-byte-aligned allocator places at odd multiples of 16,
 * so a result that merely happens to be aligned cannot hide a missing round-up. */
static void test_odd_alignments(void)
{
    static const size_t aligns[] = {24, 48, 100, 3000, 5000};
    static const size_t sizes[] = {1, 40, 5000};
    enum { N = 32 };
    for (size_t ai = 0; ai < sizeof aligns / sizeof aligns[0]; ai++) {
        size_t a = aligns[ai];
        size_t want = 1;
        while (want < a)
            want <<= 1;
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            void *m[N], *c[N];
            for (int i = 0; i < N; i++) {
                m[i] = memalign(a, sizes[si]);
                c[i] = aligned_alloc(a, sizes[si]);
                check_aligned_block(m[i], want, sizes[si], "memalign(non-power-of-two)");
                check_aligned_block(c[i], want, sizes[si], "aligned_alloc(non-power-of-two)");
            }
            for (int i = 0; i < N; i++) {
                free(m[i]);
                free(c[i]);
            }
            CHECK_LIMIT(20);
        }
    }
}

/* Aligned blocks of the sizes around the bins above 3 KiB (3584 .. 8192 bytes), many live at
 * once so that most are not the first block of a run, which a fresh page aligns by luck. */
static void test_bin_alignments(void)
{
    static const size_t sizes[] = {3073, 3584, 3585, 4096, 4097, 4368, 5120, 6144, 6184, 7168, 8191, 8192, 8193};
    enum { N = 24 };
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (size_t a = 32; a <= 8192; a *= 2) {
            void *m[N];
            for (int i = 0; i < N; i++) {
                m[i] = memalign(a, sizes[si]);
                check_aligned_block(m[i], a, sizes[si], "memalign(bin size)");
                if (m[i])
                    memset(m[i], i + 1, sizes[si]);
            }
            for (int i = 0; i < N; i++) {
                const unsigned char *b = m[i];
                CHECK(!b || (b[0] == i + 1 && b[sizes[si] - 1] == i + 1),
                      "memalign(%zu, %zu) blocks overlap", a, sizes[si]);
                free(m[i]);
            }
            CHECK_LIMIT(20);
        }
}

static void test_page_aligned(void)
{
    static const size_t sizes[] = {1, 100, 4095, 4096, 4097, 5000, 100000, 3 * MiB + 5};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *v = valloc(n);
        check_aligned_block(v, page, n, "valloc");
        void *pv = pvalloc(n);
        size_t rounded = (n + page - 1) / page * page;
        check_aligned_block(pv, page, rounded, "pvalloc(size rounded up to a page)");
        free(v);
        free(pv);
    }
    void *p0 = pvalloc(0);
    CHECK(p0 != NULL && (uintptr_t)p0 % page == 0, "pvalloc(0) = %p", p0);
    free(p0);
}

static void test_basic_members(void)
{
    /* malloc / calloc / realloc / reallocarray / free. */
    unsigned char *p = malloc(200);
    CHECK(p != NULL, "malloc(200)");
    if (!p)
        FATAL("cannot go on");
    fill_pattern(p, 200, 3);
    unsigned char *q = realloc(p, 5000);
    CHECK(q && check_pattern(q, 200, 3) == (size_t)-1, "realloc(200 -> 5000) lost data");
    p = q ? q : p;
    q = reallocarray(p, 100, 60);
    CHECK(q && check_pattern(q, 200, 3) == (size_t)-1, "reallocarray(100, 60) lost data");
    CHECK(q && malloc_usable_size(q) >= 6000, "reallocarray(100, 60): usable %zu",
          q ? malloc_usable_size(q) : 0);
    free(q ? q : p);

    unsigned char *z = calloc(1000, 3);
    CHECK(z != NULL, "calloc(1000, 3)");
    if (z) {
        size_t bad = (size_t)-1;
        for (size_t i = 0; i < 3000; i++)
            if (z[i] && bad == (size_t)-1)
                bad = i;
        CHECK(bad == (size_t)-1, "calloc(1000, 3): byte %zu not zero", bad);
    }
    free(z);
    free(NULL);

    CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) = %zu",
          malloc_usable_size(NULL));

    /* cfree, free_sized and free_aligned_sized through dlsym (the headers lack them). */
    void (*p_cfree)(void *);
    void (*p_free_sized)(void *, size_t);
    void (*p_free_aligned_sized)(void *, size_t, size_t);
    ZT_SYM(p_cfree, RTLD_DEFAULT, "cfree");
    ZT_SYM(p_free_sized, RTLD_DEFAULT, "free_sized");
    ZT_SYM(p_free_aligned_sized, RTLD_DEFAULT, "free_aligned_sized");
#ifndef ZMM_TEST_GLIBC /* glibc 2.36 has none of the three for dlsym */
    CHECK(p_cfree != NULL, "cfree missing");
    CHECK(p_free_sized != NULL, "free_sized missing");
    CHECK(p_free_aligned_sized != NULL, "free_aligned_sized missing");
#endif
    /* Each frees: 100 rounds must not grow the heap by what a leak would add up to (zmm counts
     * whole pages of runs, so one small free need not show). */
    size_t before = zt_memory_usage();
    static const size_t fs_sizes[] = {1, 64, 3000, 100000, 3 * MiB};
    for (int round = 0; round < 100; round++)
        for (size_t i = 0; i < sizeof fs_sizes / sizeof fs_sizes[0]; i++) {
            size_t n = fs_sizes[i];
            if (p_cfree) {
                void *b = malloc(n);
                CHECK(b != NULL, "malloc(%zu)", n);
                p_cfree(b);
            }
            if (p_free_sized) {
                void *b = malloc(n);
                CHECK(b != NULL, "malloc(%zu)", n);
                if (b)
                    memset(b, 1, n < 4096 ? n : 4096);
                p_free_sized(b, n);
                p_free_sized(NULL, 0);
            }
            if (p_free_aligned_sized) {
                void *b = aligned_alloc(256, n);
                CHECK(b != NULL, "aligned_alloc(256, %zu)", n);
                if (b)
                    memset(b, 1, n < 4096 ? n : 4096);
                p_free_aligned_sized(b, 256, n);
                p_free_aligned_sized(NULL, 256, 0);
            }
            CHECK_LIMIT(20);
        }
    size_t after = zt_memory_usage();
    CHECK(before == (size_t)-1 || after <= before + MiB,
          "zmm_memory_usage grew from %zu to %zu across 100 rounds of "
          "cfree/free_sized/free_aligned_sized",
          before, after);

    /* The __libc_* names are the same heap: blocks move freely between the two spellings. */
    void *(*l_malloc)(size_t);
    void (*l_free)(void *);
    void *(*l_calloc)(size_t, size_t);
    void *(*l_realloc)(void *, size_t);
    void *(*l_memalign)(size_t, size_t);
    void *(*l_valloc)(size_t);
    void *(*l_pvalloc)(size_t);
    ZT_SYM(l_malloc, RTLD_DEFAULT, "__libc_malloc");
    ZT_SYM(l_free, RTLD_DEFAULT, "__libc_free");
    ZT_SYM(l_calloc, RTLD_DEFAULT, "__libc_calloc");
    ZT_SYM(l_realloc, RTLD_DEFAULT, "__libc_realloc");
    ZT_SYM(l_memalign, RTLD_DEFAULT, "__libc_memalign");
    ZT_SYM(l_valloc, RTLD_DEFAULT, "__libc_valloc");
    ZT_SYM(l_pvalloc, RTLD_DEFAULT, "__libc_pvalloc");
    if (!l_malloc || !l_free || !l_calloc || !l_realloc || !l_memalign || !l_valloc ||
        !l_pvalloc) {
        CHECK(0, "a __libc_* allocation name is missing");
        return;
    }
    static const size_t ls[] = {24, 3000, 100000, 3 * MiB};
    for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++) {
        size_t n = ls[i];
        unsigned char *a = l_malloc(n);
        CHECK(a && ((uintptr_t)a & 15) == 0 && malloc_usable_size(a) >= n,
              "__libc_malloc(%zu) = %p", n, (void *)a);
        if (a)
            fill_pattern(a, n, 9);
        unsigned char *b = l_realloc(a, n * 2);
        CHECK(b && check_pattern(b, n, 9) == (size_t)-1, "__libc_realloc lost data (%zu)", n);
        free(b ? b : a);

        unsigned char *c = l_calloc(n, 1);
        CHECK(c != NULL, "__libc_calloc(%zu, 1)", n);
        if (c) {
            size_t k = 0;
            while (k < n && !c[k])
                k++;
            CHECK(k == n, "__libc_calloc(%zu, 1): byte %zu not zero", n, k);
        }
        l_free(c);

        void *m = l_memalign(4096, n);
        check_aligned_block(m, 4096, n, "__libc_memalign");
        l_free(m);
        void *v = l_valloc(n);
        check_aligned_block(v, page, n, "__libc_valloc");
        free(v);
        void *pv = l_pvalloc(n);
        check_aligned_block(pv, page, (n + page - 1) / page * page, "__libc_pvalloc");
        l_free(pv);

        void *x = malloc(n);
        CHECK(x != NULL, "malloc(%zu)", n);
        l_free(x);
    }
}

static void test_mallinfo(void)
{
    struct mallinfo2 before = mallinfo2();
    void *big = malloc(10 * MiB);
    CHECK(big != NULL, "malloc(10 MiB)");
    if (big)
        memset(big, 1, 10 * MiB);
    struct mallinfo2 after = mallinfo2();
    size_t in_use_before = before.uordblks + before.hblkhd;
    size_t in_use_after = after.uordblks + after.hblkhd;
    CHECK(in_use_after >= in_use_before + 10 * MiB,
          "mallinfo2 in-use bytes (uordblks + hblkhd) went from %zu to %zu after malloc(10 MiB)",
          in_use_before, in_use_after);
    CHECK(after.arena + after.hblkhd >= 10 * MiB,
          "mallinfo2 system bytes (arena + hblkhd) = %zu with 10 MiB live",
          after.arena + after.hblkhd);

    /* mallinfo (deprecated in the headers, so through dlsym): same numbers in ints. */
    struct mallinfo (*p_mallinfo)(void);
    ZT_SYM(p_mallinfo, RTLD_DEFAULT, "mallinfo");
    CHECK(p_mallinfo != NULL, "mallinfo missing");
    if (p_mallinfo) {
        struct mallinfo mi = p_mallinfo();
        size_t used = (size_t)(unsigned)mi.uordblks + (size_t)(unsigned)mi.hblkhd;
        CHECK(used >= 10 * MiB, "mallinfo in-use bytes = %zu with 10 MiB live", used);
    }
    free(big);
    struct mallinfo2 freed = mallinfo2();
    CHECK(freed.uordblks + freed.hblkhd + 10 * MiB <= in_use_after,
          "mallinfo2 in-use bytes %zu after freeing 10 MiB (was %zu)",
          freed.uordblks + freed.hblkhd, in_use_after);
}

static void test_malloc_info(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        FATAL("open_memstream failed");
    int rc = malloc_info(0, f);
    fclose(f);
    CHECK(rc == 0, "malloc_info(0, f) = %d", rc);
    CHECK(buf && len >= 7 && strncmp(buf, "<malloc", 7) == 0,
          "malloc_info output does not start with \"<malloc\": \"%.60s\"", buf ? buf : "(null)");
    CHECK(buf && strstr(buf, "</malloc>") != NULL, "malloc_info output lacks </malloc>");
    free(buf);
}

static void test_malloc_stats(void)
{
    FILE *tmp = tmpfile();
    if (!tmp)
        FATAL("tmpfile failed");
    int saved = stderr_redirect(tmp);
    malloc_stats();
    stderr_restore(saved);
    char text[8192];
    rewind(tmp);
    size_t n = fread(text, 1, sizeof text - 1, tmp);
    text[n] = 0;
    fclose(tmp);
    CHECK(strstr(text, "system bytes") != NULL, "malloc_stats wrote no \"system bytes\": \"%s\"",
          text);
    CHECK(strstr(text, "in use bytes") != NULL, "malloc_stats wrote no \"in use bytes\": \"%s\"",
          text);
}

static void test_misc(void)
{
    int t = malloc_trim(0);
    CHECK(t == 0 || t == 1, "malloc_trim(0) = %d", t);
    int m = mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    CHECK(m == 0 || m == 1, "mallopt(M_MMAP_THRESHOLD) = %d", m);
    m = mallopt(M_ARENA_MAX, 4);
    CHECK(m == 0 || m == 1, "mallopt(M_ARENA_MAX) = %d", m);
    /* The heap works after both. */
    void *p = malloc(100000);
    CHECK(p != NULL, "malloc after malloc_trim/mallopt");
    free(p);
    /* malloc_trim gives back freed memory without breaking live blocks. */
    void *keep = malloc(1000);
    void *blocks[64];
    for (int i = 0; i < 64; i++)
        blocks[i] = malloc(100000);
    if (keep)
        fill_pattern(keep, 1000, 5);
    for (int i = 0; i < 64; i++)
        free(blocks[i]);
    t = malloc_trim(0);
    CHECK(t == 0 || t == 1, "malloc_trim(0) = %d", t);
    CHECK(keep && check_pattern(keep, 1000, 5) == (size_t)-1, "malloc_trim damaged a live block");
    free(keep);
}

int main(void)
{
    require_zmm();
    page = (size_t)sysconf(_SC_PAGESIZE);
#ifndef ZMM_TEST_GLIBC /* under glibc none of this is libzmm */
    test_symbols();
#else
    (void)test_symbols;
#endif
    test_basic_members();
    test_alignments();
    test_odd_alignments();
    test_bin_alignments();
    test_page_aligned();
    test_mallinfo();
    test_malloc_info();
    test_malloc_stats();
    test_misc();
    return test_result();
}
