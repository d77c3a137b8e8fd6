/* debug: ZMM_DEBUG's checks, one scenario per run (check.py runs each under the options it
 * needs and reads stdout and stderr).
 *   overflow N      writes N bytes past the end of a 24-byte block, then frees it (@overflow)
 *   overflow-realloc  writes 1 byte past a 100-byte block's end, then reallocs it
 *   uaf             frees a 64-byte block, writes into it, allocates 64 bytes until it is back
 *   poison          prints the first byte of a new block (malloc), of calloc, and
 *                   malloc_usable_size of a 10-byte block; frees them
 *   realloc         grows and shrinks a block through every size kind, checking its contents
 *   clean           allocations of every kind, all freed (no fault; check_on_exit passes)
 *   corrupt         frees two small blocks, then overwrites the free-list link of the last
 *                   one (check_on_exit must stop at exit)
 *   every-size      malloc(0) twice, freed; every size 1..9000 kept live, each checked for
 *                   16-byte alignment and filled to malloc_usable_size; all freed; then for
 *                   sizes up to 3 MiB malloc + fill + free and calloc + zero check + free;
 *                   prints "every-size ok" (the run that crashed debug_wipe, issue 13)
 *   inject          every kind of allocation, in threads too, where any may fail
 *                   (ZMM_FAIL_MAP): a failure must be NULL with ENOMEM, a success usable;
 *                   then holds 48 huge blocks at once (a mapping each), all freed;
 *                   prints "inject: F failed, bad B, held H failed of 48" (F counts H too) */
#include <errno.h>
#include <pthread.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile sink;

__attribute__((noinline)) static char *make(size_t n)
{
    char *p = malloc(n); /* @make */
    sink = p;
    return p;
}

static int fill_check(unsigned char *p, size_t from, size_t to, unsigned seed, int write)
{
    for (size_t i = from; i < to; i++) {
        unsigned char v = (unsigned char)(i * 31 + seed);
        if (write)
            p[i] = v;
        else if (p[i] != v)
            return 0;
    }
    return 1;
}

static int failed, bad;

/* One round of every call; the blocks that came are written, checked and freed. */
static void *inject_round(void *arg)
{
    static const size_t sizes[] = { 8, 100, 3000, 20000, 600000, 3 << 20 };
    unsigned char *p[16] = { 0 };
    int k = 0, f = 0, b = 0;
    (void)arg;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        errno = 0;
        p[k] = malloc(sizes[i]);
        if (!p[k]) {
            f++;
            b += errno != ENOMEM;
        } else {
            memset(p[k], 0x5c, sizes[i]);
            k++;
        }
        errno = 0;
        unsigned char *c = calloc(1, sizes[i]);
        if (!c) {
            f++;
            b += errno != ENOMEM;
        } else {
            b += c[sizes[i] - 1] != 0;
            free(c);
        }
        void *a = NULL;
        int r = posix_memalign(&a, 4096, sizes[i]);
        if (r) {
            f++;
            b += r != ENOMEM;
        } else {
            free(a);
        }
    }
    unsigned char *g = NULL;
    for (size_t n = 16; n <= ((size_t)4 << 20); n *= 4) {
        errno = 0;
        unsigned char *q = realloc(g, n);
        if (!q) {
            f++;
            b += errno != ENOMEM;
            break;
        }
        b += q[0] != (g ? 0x33 : q[0]);
        q[0] = 0x33;
        g = q;
    }
    free(g);
    for (int i = 0; i < k; i++) {
        b += p[i][0] != 0x5c;
        free(p[i]);
    }
    __atomic_add_fetch(&failed, f, __ATOMIC_RELAXED);
    __atomic_add_fetch(&bad, b, __ATOMIC_RELAXED);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *s = argc > 1 ? argv[1] : "clean";
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(s, "overflow")) {
        size_t past = argc > 2 ? (size_t)atoi(argv[2]) : 1;
        char *p = make(24);
        printf("ptr=%p\n", (void *)p);
        memset(p, 'x', 24 + past); /* @overflow */
        free(p);
        puts("not stopped");
    } else if (!strcmp(s, "overflow-realloc")) {
        char *p = make(100);
        printf("ptr=%p\n", (void *)p);
        p[100] = 1;
        sink = realloc(p, 200);
        puts("not stopped");
    } else if (!strcmp(s, "uaf")) {
        char *p = make(64);
        printf("ptr=%p\n", (void *)p);
        free(p);
        p[40] = 7;                      /* a write after free */
        for (int i = 0; i < 100000; i++) {
            char *q = malloc(64);
            if (q == p)
                break;
        }
        puts("not stopped");
    } else if (!strcmp(s, "poison")) {
        unsigned char *a = malloc(100), *b = calloc(1, 100), *c = malloc(10);
        printf("malloc %#x calloc %#x usable %zu\n", a[50], b[50], malloc_usable_size(c));
        free(a);
        free(b);
        free(c);
    } else if (!strcmp(s, "realloc")) {
        static const size_t sizes[] = { 1, 24, 200, 3000, 5000, 70000, 3 << 20, 100, 9000, 5 << 20, 16 };
        unsigned char *p = NULL;
        size_t have = 0;
        int ok = 1;
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            p = realloc(p, sizes[i]);
            size_t keep = have < sizes[i] ? have : sizes[i];
            ok &= p && fill_check(p, 0, keep, 7, 0);
            fill_check(p, 0, sizes[i], 7, 1);
            have = sizes[i];
        }
        free(p);
        printf("realloc contents %s\n", ok ? "kept" : "LOST");
    } else if (!strcmp(s, "clean")) {
        void *keep[64];
        for (int i = 0; i < 64; i++)
            keep[i] = malloc((size_t)1 << (i % 23));
        void *al = aligned_alloc(4096, 8192);
        for (int i = 0; i < 64; i += 2)
            free(keep[i]);
        for (int i = 1; i < 64; i += 2)
            free(keep[i]);
        free(al);
        puts("clean");
    } else if (!strcmp(s, "corrupt")) {
        uintptr_t *a = malloc(48), *b = malloc(48);
        free(a);
        free(b);
        b[0] = (uintptr_t)0x4141414141414141ull;    /* the link of a freed block */
        puts("corrupted");
    } else if (!strcmp(s, "every-size")) {
        static unsigned char *live[9001];
        free(malloc(0));
        void *z = malloc(0);
        free(z);
        int ok = 1;
        for (size_t n = 1; n <= 9000; n++) {
            live[n] = malloc(n);
            ok &= live[n] && !((uintptr_t)live[n] & 15);
            if (live[n])
                memset(live[n], (int)n, malloc_usable_size(live[n]));
        }
        for (size_t n = 1; n <= 9000; n++) {
            ok &= !live[n] || (live[n][0] == (unsigned char)n && live[n][n - 1] == (unsigned char)n);
            free(live[n]);
        }
        static const size_t sizes[] = { 24, 200, 3000, 5000, 100000, 3 << 20 };
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            unsigned char *p = malloc(sizes[i]);
            ok &= p != NULL;
            if (p)
                memset(p, 0x5a, sizes[i]);
            free(p);
            p = calloc(1, sizes[i]);
            ok &= p != NULL;
            for (size_t k = 0; p && k < sizes[i]; k++)
                ok &= p[k] == 0;
            free(p);
        }
        printf("every-size %s\n", ok ? "ok" : "WRONG");
    } else if (!strcmp(s, "inject")) {
        for (int round = 0; round < 3; round++) {
            inject_round(NULL);
            pthread_t t;
            if (pthread_create(&t, NULL, inject_round, NULL) == 0)
                pthread_join(t, NULL);
            else
                failed++;
        }
        /* Then HOLD huge blocks live at once, each on a mapping of its own (2 MiB + 4 KiB is
         * a huge block, and no multiple of 2 MiB: one mapping each, never a split cached
         * one): the program asks for more mappings than any spec names, and a held block can
         * only succeed on a mapping that did. */
        enum { HOLD = 48 };
        static unsigned char *held[HOLD];
        int held_failed = 0;
        for (int i = 0; i < HOLD; i++) {
            errno = 0;
            held[i] = malloc((2 << 20) + 4096);
            if (!held[i]) {
                held_failed++;
                bad += errno != ENOMEM;
            } else {
                held[i][(size_t)i * 4096] = (unsigned char)i;
            }
        }
        for (int i = 0; i < HOLD; i++) {
            if (held[i])
                bad += held[i][(size_t)i * 4096] != (unsigned char)i;
            free(held[i]);
        }
        failed += held_failed;
        printf("inject: %d failed, bad %d, held %d failed of %d\n", failed, bad, held_failed, HOLD);
    } else {
        fprintf(stderr, "debug: unknown scenario %s\n", s);
        return 2;
    }
    return 0;
}
