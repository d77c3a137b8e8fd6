/* fault SCENARIO: misuse the heap in one way; zmm must stop the process with abort() after one
 * "zmm: ..." line. Before the misuse the program prints, on stdout and flushed:
 *     ptr=<the pointer it is about to misuse>
 *     base=<the block that pointer points into>   (interior pointers only)
 * fault.sh runs it and checks the status and stderr. The scenarios "ok-*" are heap uses that
 * look like faults to a naive detector and must not stop the process: they exit 0. */
#include <malloc.h>
#include <unistd.h>

#include "zmm_test.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static char global_array[256] __attribute__((aligned(64)));

static void announce(const char *key, const void *p)
{
    printf("%s=%p\n", key, p);
    fflush(stdout);
}

/* The process must not get past the misuse. */
static int survived(const char *scenario)
{
    printf("survived\n");
    fflush(stdout);
    fprintf(stderr, "fault %s: the process survived the misuse\n", scenario);
    return 3;
}

static int double_free(const char *scenario, size_t n)
{
    unsigned char *p = malloc(n);
    if (!p)
        FATAL("malloc(%zu) failed", n);
    memset(p, 0x11, n);
    /* Another live block of the same size, so the freed one is not the only thing around. */
    void *other = malloc(n);
    /* Nothing may allocate between the two frees (the freed pages could hold a new, live block
     * by the second one): announce first. */
    announce("ptr", p);
    free(p);
    free(opaque(p));
    free(other);
    return survived(scenario);
}

static int interior_free(const char *scenario, size_t n, size_t offset)
{
    unsigned char *p = malloc(n);
    if (!p)
        FATAL("malloc(%zu) failed", n);
    memset(p, 0x22, n);
    announce("ptr", p + offset);
    announce("base", p);
    free(opaque(p + offset));
    return survived(scenario);
}

static int foreign_free(const char *scenario, void *p)
{
    /* The heap is in use, so the check cannot be "no heap yet". */
    void *live[8];
    for (int i = 0; i < 8; i++)
        live[i] = malloc(64 << i);
    announce("ptr", p);
    free(opaque(p));
    for (int i = 0; i < 8; i++)
        free(live[i]);
    return survived(scenario);
}

static int corrupt_free_list(const char *scenario)
{
    unsigned char *p = malloc(64);
    void *guard = malloc(64);
    if (!p || !guard)
        FATAL("malloc(64) failed");
    announce("ptr", p);
    free(p);
    /* A use-after-free write over the free-list link. */
    memset(opaque(p), 0x41, 16);
    void *a = malloc(64);
    void *b = malloc(64);
    printf("got a=%p b=%p\n", a, b);
    free(guard);
    return survived(scenario);
}

/* A live block that holds a byte copy of a freed block's first 32 bytes (its free-list link),
 * copied after the free, is freed normally. */
static int ok_copy(void)
{
    static const size_t sizes[] = {16, 64, 100, 3072, 5000, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *live = malloc(n);
        unsigned char *a = malloc(n);
        unsigned char *c = malloc(n);
        if (!live || !a || !c)
            FATAL("malloc(%zu) failed", n);
        memset(a, 0x33, n);
        memset(c, 0x44, n);
        free(c);
        free(a); /* a's link now leads to c */
        memcpy(live, opaque(a), n < 32 ? n : 32);
        free(live);
        /* The heap goes on: the freed blocks come back and are usable. */
        void *x = malloc(n), *y = malloc(n), *z = malloc(n);
        CHECK(x && y && z, "malloc(%zu) after the copy failed", n);
        if (x)
            memset(x, 1, n);
        if (y)
            memset(y, 1, n);
        if (z)
            memset(z, 1, n);
        free(x);
        free(y);
        free(z);
    }
    return test_result();
}

/* Blocks malloc'd and freed without ever being written, including one that comes back from the
 * free list with its old link still in it. */
static int ok_unwritten(void)
{
    static const size_t sizes[] = {16, 64, 3072, 5000, 100000, 3 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *p = malloc(n);
        CHECK(p != NULL, "malloc(%zu)", n);
        free(p);
        void *q = malloc(n); /* likely the same address: a different block */
        CHECK(q != NULL, "malloc(%zu)", n);
        free(q);

        void *x = malloc(n), *y = malloc(n);
        CHECK(x && y, "malloc(%zu)", n);
        free(x);
        free(y); /* y's link leads to x */
        void *r = malloc(n); /* y again, link bytes untouched */
        CHECK(r != NULL, "malloc(%zu)", n);
        free(r);
        void *s = malloc(n), *t = malloc(n);
        CHECK(s && t, "malloc(%zu)", n);
        free(t);
        free(s);
    }
    return test_result();
}

int main(int argc, char **argv)
{
    require_zmm();
    if (argc != 2)
        FATAL("usage: fault SCENARIO");
    const char *s = argv[1];
    /* stdout's buffer is allocated now, not in the middle of a scenario. */
    printf("fault %s\n", s);
    fflush(stdout);
    _Alignas(64) char stack_array[256];
    memset(stack_array, 0, sizeof stack_array);

    if (!strcmp(s, "double-small"))
        return double_free(s, 64);
    if (!strcmp(s, "double-large"))
        return double_free(s, 100000);
    if (!strcmp(s, "double-huge"))
        return double_free(s, 8 * MiB);
    if (!strcmp(s, "interior-small"))
        return interior_free(s, 64, 16);
    if (!strcmp(s, "interior-large"))
        return interior_free(s, 100000, 4096);
    if (!strcmp(s, "interior-huge"))
        return interior_free(s, 8 * MiB, MiB);
    if (!strcmp(s, "foreign-stack"))
        return foreign_free(s, stack_array + 64);
    if (!strcmp(s, "foreign-global"))
        return foreign_free(s, global_array + 64);
    if (!strcmp(s, "corrupt-freelist"))
        return corrupt_free_list(s);
    if (!strcmp(s, "ok-copy"))
        return ok_copy();
    if (!strcmp(s, "ok-unwritten"))
        return ok_unwritten();
    FATAL("unknown scenario %s", s);
}
