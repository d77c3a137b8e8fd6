/* deepbind LIBRARY: a library opened with RTLD_NOW | RTLD_DEEPBIND uses zmm's malloc too (zmm's
 * dlopen clears RTLD_DEEPBIND), so blocks move freely between it and the program. Without that,
 * the library would bind malloc and free to glibc and the first cross free would crash. */
#include <malloc.h>

#include "zmm_test.h"

#define MiB ((size_t)1 << 20)

int main(int argc, char **argv)
{
    require_zmm();
    if (argc != 2)
        FATAL("usage: deepbind LIBRARY");
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_DEEPBIND);
    if (!h)
        FATAL("dlopen(%s, RTLD_NOW | RTLD_DEEPBIND): %s", argv[1], dlerror());

    void *(*lib_alloc)(size_t);
    void (*lib_free)(void *);
    void *(*lib_realloc)(void *, size_t);
    void *(*lib_calloc)(size_t, size_t);
    void *(*lib_malloc_address)(void);
    void *(*lib_free_address)(void);
    ZT_SYM(lib_alloc, h, "lib_alloc");
    ZT_SYM(lib_free, h, "lib_free");
    ZT_SYM(lib_realloc, h, "lib_realloc");
    ZT_SYM(lib_calloc, h, "lib_calloc");
    ZT_SYM(lib_malloc_address, h, "lib_malloc_address");
    ZT_SYM(lib_free_address, h, "lib_free_address");
    if (!lib_alloc || !lib_free || !lib_realloc || !lib_calloc || !lib_malloc_address ||
        !lib_free_address)
        FATAL("a lib_* symbol is missing: %s", dlerror());

    /* What the library calls is libzmm's. */
    const char *z = zmm_object();
    const char *lm = object_of(lib_malloc_address());
    const char *lf = object_of(lib_free_address());
    CHECK(z && lm && strcmp(z, lm) == 0, "the library's malloc is in %s, not libzmm (%s)",
          lm ? lm : "?", z ? z : "?");
    CHECK(z && lf && strcmp(z, lf) == 0, "the library's free is in %s, not libzmm (%s)",
          lf ? lf : "?", z ? z : "?");
    /* Not a check: dlsym(handle, "malloc") searches only the library and its own dependencies
     * (libc), never the objects preloaded into the program, so it names libc's malloc whether or
     * not RTLD_DEEPBIND was cleared. What the library calls is what lib_malloc_address shows. */
    void *hm = dlsym(h, "malloc");
    const char *hmo = object_of(hm);
    printf("the library calls malloc in %s; dlsym(handle, \"malloc\") finds %s\n",
           lm ? lm : "?", hmo ? hmo : "?");

    uint64_t rng = 42;
    size_t before = zt_memory_usage();
    for (int i = 0; i < 10000; i++) {
        /* Sizes 16 .. 1 MiB, spread over the powers of two. */
        unsigned shift = (unsigned)(zt_rand(&rng) % 17); /* 2^4 .. 2^20 */
        size_t top = (size_t)16 << shift;
        size_t n = 16 + (size_t)(zt_rand(&rng) % (top - 15));
        unsigned seed = (unsigned)i;

        /* Library allocates, program frees. */
        unsigned char *a = lib_alloc(n);
        CHECK(a != NULL, "lib_alloc(%zu) returned NULL", n);
        if (!a)
            FATAL("cannot go on");
        CHECK(malloc_usable_size(a) >= n, "usable size of the library's block: %zu < %zu",
              malloc_usable_size(a), n);
        fill_pattern(a, n, seed);

        /* Program allocates, library frees. */
        unsigned char *b = malloc(n);
        if (!b)
            FATAL("malloc(%zu) failed", n);
        fill_pattern(b, n, seed + 1);

        /* Program reallocates the library's block, library reallocates the program's. */
        if (i % 10 == 0) {
            unsigned char *a2 = realloc(a, n + 100);
            CHECK(a2 && check_pattern(a2, n, seed) == (size_t)-1, "realloc of a library block");
            a = a2 ? a2 : a;
            unsigned char *b2 = lib_realloc(b, n * 2);
            CHECK(b2 && check_pattern(b2, n, seed + 1) == (size_t)-1,
                  "lib_realloc of a program block");
            b = b2 ? b2 : b;
        }
        CHECK(check_pattern(a, n, seed) == (size_t)-1, "library block changed");
        CHECK(check_pattern(b, n, seed + 1) == (size_t)-1, "program block changed");
        free(a);
        lib_free(b);

        if (i % 100 == 0) {
            unsigned char *c = lib_calloc(n, 1);
            CHECK(c != NULL, "lib_calloc(%zu, 1)", n);
            free(c);
        }
        CHECK_LIMIT(10);
    }
    size_t after = zt_memory_usage();
    CHECK(before == (size_t)-1 || after <= before + 64 * 1024,
          "live bytes %zu before, %zu after the cross frees", before, after);
    CHECK(dlclose(h) == 0, "dlclose: %s", dlerror());
    return test_result();
}
