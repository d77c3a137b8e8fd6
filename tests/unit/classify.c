/* The block classifier as the program meets it, through alloc.h's entry points (block.c
 * tests block_classify itself): zmm_free (its inline fast path and its slow one), zmm_realloc
 * and zmm_usable_size classify every pointer before they read from it: small, large, huge
 * and system blocks with their usable sizes, every bin's size; interior pointers (in a block's first page, in a later page of a multi-page small
 * run, in a large run's continuation page, in a huge block's head and inner slots), double
 * frees (small, held and given-back large runs, cached huge blocks) and foreign pointers (the
 * stack, static storage, a chunk's header, past a huge mapping's end) each stop the process
 * with its one line naming the verb, the pointer and the block, in a forked child; the same
 * faults through realloc and malloc_usable_size; live blocks still classify and free after
 * all that. The system-block checks come last: once zmm has handed out system memory, any
 * pointer that is not zmm's is taken for the system's (sys.c), and foreign pointers are no
 * longer told apart. */
#include "alloc.h"
#include "chunk.h"
#include "registry.h"
#include "sizes.h"
#include "sys.h"
#include "unit.h"
#include "fault.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static void do_free(void *p) { zmm_free(p); }
static void do_free_twice(void *p) { zmm_free(p); zmm_free(p); }
static void do_realloc(void *p) { zmm_realloc(p, 24); }
static void do_free_realloc(void *p) { zmm_free(p); zmm_realloc(p, 24); }
static void do_usable(void *p) { zmm_usable_size(p); }
static void do_free_usable(void *p) { zmm_free(p); zmm_usable_size(p); }

/* Free P[0], then P[1]. */
static void do_free_other_then(void *p)
{
    void **pair = p;
    zmm_free(pair[0]);
    zmm_free(pair[1]);
}

static char static_block[64];

/* zmm reads its options from the environment when it boots: none of them here (ZMM_DEBUG
 * would change the usable sizes, ZMM_LEAKS every path). */
static void clear_options(void)
{
    extern char **environ;
    for (size_t i = 0; environ[i];) {
        const char *eq = strchr(environ[i], '=');
        if (strncmp(environ[i], "ZMM_", 4) || !eq) {
            i++;
            continue;
        }
        char name[256];
        size_t n = (size_t)(eq - environ[i]) < sizeof name - 1 ? (size_t)(eq - environ[i]) : sizeof name - 1;
        memcpy(name, environ[i], n);
        name[n] = '\0';
        unsetenv(name);                     /* environ shifts down: look at index i again */
    }
}

int main(void)
{
    clear_options();

    /* ---- small blocks: every bin's size, from the largest request of each ------------- */
    void *first = zmm_malloc(1);                    /* boots zmm */
    CHECK(first && zmm_usable_size(first) == 16, "malloc(1): usable %zu", first ? zmm_usable_size(first) : 0);
    unsigned wrong = 0;
    for (unsigned b = 0; b < BIN_COUNT; b++) {
        size_t lo = b ? bin_size[b - 1] + 1u : 1;
        void *p = zmm_malloc(bin_size[b]), *q = zmm_malloc(lo);
        size_t up = p ? zmm_usable_size(p) : 0, uq = q ? zmm_usable_size(q) : 0;
        if (up != bin_size[b] || uq != bin_size[b]) {
            wrong++;
            fprintf(stderr, "bin %u: malloc(%u) usable %zu, malloc(%zu) usable %zu\n", b, bin_size[b], up, lo, uq);
        }
        zmm_free(p);
        zmm_free(q);
    }
    CHECK(wrong == 0, "%u bins with a wrong usable size", wrong);

    /* ---- large runs and huge blocks -------------------------------------------------- */
    uint8_t *l1 = zmm_malloc(SMALL_MAX + 1), *l5 = zmm_malloc(20000), *lmax = zmm_malloc(LARGE_MAX);
    CHECK(l1 && zmm_usable_size(l1) == 3 * PAGE_SIZE, "malloc(8193): usable %zu", l1 ? zmm_usable_size(l1) : 0);
    CHECK(l5 && zmm_usable_size(l5) == 5 * PAGE_SIZE, "malloc(20000): usable %zu", l5 ? zmm_usable_size(l5) : 0);
    CHECK(lmax && zmm_usable_size(lmax) == LARGE_MAX, "malloc(LARGE_MAX): usable %zu", lmax ? zmm_usable_size(lmax) : 0);
    CHECK(l5 && ((uintptr_t)l5 & (PAGE_SIZE - 1)) == 0 && registry_get((uintptr_t)l5) == REG_CHUNK, "large run %p",
          (void *)l5);
    uint8_t *h3 = zmm_malloc(3u << 20), *hx = zmm_malloc(LARGE_MAX + 1), *h5 = zmm_malloc((5u << 20) + 1);
    CHECK(h3 && zmm_usable_size(h3) == 3u << 20, "malloc(3 MiB): usable %zu", h3 ? zmm_usable_size(h3) : 0);
    CHECK(hx && zmm_usable_size(hx) == LARGE_MAX + PAGE_SIZE, "malloc(LARGE_MAX + 1): usable %zu",
          hx ? zmm_usable_size(hx) : 0);
    CHECK(h5 && zmm_usable_size(h5) == (5u << 20) + PAGE_SIZE, "malloc(5 MiB + 1): usable %zu",
          h5 ? zmm_usable_size(h5) : 0);
    CHECK(h3 && REG_KIND(registry_get((uintptr_t)h3)) == REG_HUGE, "huge block %p", (void *)h3);
    if (!l1 || !l5 || !lmax || !h3 || !hx || !h5)
        return UNIT_DONE();

    /* ---- interior pointers ------------------------------------------------------------- */
    uint8_t *s64 = zmm_malloc(64), *keep64 = zmm_malloc(64);
    EXPECT_FAULT(do_free, s64 + 16, "invalid free of %p (interior pointer into 64-byte block %p)", (void *)(s64 + 16),
                 (void *)s64);
    EXPECT_FAULT(do_free, s64 + 1, "invalid free of %p (interior pointer into 64-byte block %p)", (void *)(s64 + 1),
                 (void *)s64);
    EXPECT_FAULT(do_realloc, s64 + 48, "invalid realloc of %p (interior pointer into 64-byte block %p)",
                 (void *)(s64 + 48), (void *)s64);
    EXPECT_FAULT(do_usable, s64 + 63, "invalid malloc_usable_size of %p (interior pointer into 64-byte block %p)",
                 (void *)(s64 + 63), (void *)s64);
    /* A 320-byte block (a 5-page run) that crosses a page: a pointer in its second page. */
    uint8_t *cross = NULL, *s320[16];
    for (int i = 0; i < 16; i++) {
        s320[i] = zmm_malloc(320);
        if (!cross && s320[i] && PAGE_SIZE - ((uintptr_t)s320[i] & (PAGE_SIZE - 1)) < 320)
            cross = s320[i];
    }
    CHECK(cross != NULL, "no 320-byte block across a page");
    if (cross) {
        uint8_t *in = (uint8_t *)(((uintptr_t)cross + PAGE_SIZE) & ~(uintptr_t)(PAGE_SIZE - 1)) + 8;
        EXPECT_FAULT(do_free, in, "invalid free of %p (interior pointer into 320-byte block %p)", (void *)in,
                     (void *)cross);
        CHECK(zmm_usable_size(cross) == 320, "the crossing block classifies: %zu", zmm_usable_size(cross));
    }
    EXPECT_FAULT(do_free, l5 + 16, "invalid free of %p (interior pointer into 20480-byte block %p)", (void *)(l5 + 16),
                 (void *)l5);
    EXPECT_FAULT(do_free, l5 + 2 * PAGE_SIZE, "invalid free of %p (interior pointer into 20480-byte block %p)",
                 (void *)(l5 + 2 * PAGE_SIZE), (void *)l5);
    EXPECT_FAULT(do_realloc, l5 + 4 * PAGE_SIZE + 100, "invalid realloc of %p (interior pointer into 20480-byte block %p)",
                 (void *)(l5 + 4 * PAGE_SIZE + 100), (void *)l5);
    EXPECT_FAULT(do_free, h3 + 16, "invalid free of %p (interior pointer into 3145728-byte block %p)", (void *)(h3 + 16),
                 (void *)h3);
    EXPECT_FAULT(do_free, h3 + CHUNK_SIZE, "invalid free of %p (interior pointer into 3145728-byte block %p)",
                 (void *)(h3 + CHUNK_SIZE), (void *)h3);
    EXPECT_FAULT(do_usable, h5 + (5u << 20), "invalid malloc_usable_size of %p (interior pointer into %zu-byte block %p)",
                 (void *)(h5 + (5u << 20)), (size_t)(5u << 20) + PAGE_SIZE, (void *)h5);

    /* ---- double frees ------------------------------------------------------------------ */
    EXPECT_FAULT(do_free_twice, s64, "double free of %p (64-byte block)", (void *)s64);
    EXPECT_FAULT(do_free_realloc, s64, "double realloc of %p (64-byte block)", (void *)s64);
    EXPECT_FAULT(do_free_usable, s64, "double malloc_usable_size of %p (64-byte block)", (void *)s64);
    /* A 5-page run freed is held on its heap's list; a second free, or a free of one of its
     * later pages, is a double free. */
    EXPECT_FAULT(do_free_twice, l5, "double free of %p (20480-byte block)", (void *)l5);
    {
        void *two[2] = { l5, l5 + 3 * PAGE_SIZE };
        EXPECT_FAULT(do_free_other_then, two, "double free of %p (page already free)", (void *)(l5 + 3 * PAGE_SIZE));
    }
    /* A run too long for the lists goes back to the bitmap; its first page still names it. */
    uint8_t *l40 = zmm_malloc(40 * PAGE_SIZE);
    CHECK(l40 && zmm_usable_size(l40) == 40 * PAGE_SIZE, "40-page run");
    if (l40)
        EXPECT_FAULT(do_free_twice, l40, "double free of %p (163840-byte block)", (void *)l40);
    EXPECT_FAULT(do_free_twice, h3, "double free of %p (3145728-byte block)", (void *)h3);

    /* ---- foreign pointers -------------------------------------------------------------- */
    char on_stack[32];
    EXPECT_FAULT(do_free, on_stack, "invalid free of %p (not a heap block)", (void *)on_stack);
    EXPECT_FAULT(do_free, static_block, "invalid free of %p (not a heap block)", (void *)static_block);
    EXPECT_FAULT(do_realloc, static_block + 16, "invalid realloc of %p (not a heap block)", (void *)(static_block + 16));
    EXPECT_FAULT(do_usable, on_stack, "invalid malloc_usable_size of %p (not a heap block)", (void *)on_stack);
    struct zmm_chunk *c = chunk_of(s64);
    EXPECT_FAULT(do_free, c, "invalid free of %p (not a heap block)", (void *)c);
    EXPECT_FAULT(do_free, (uint8_t *)c + 64, "invalid free of %p (not a heap block)", (void *)((uint8_t *)c + 64));
    /* Past a huge mapping's end, in its last slot: not zmm's (the kernel may map other things). */
    EXPECT_FAULT(do_free, h5 + (5u << 20) + 2 * PAGE_SIZE, "invalid free of %p (not a heap block)",
                 (void *)(h5 + (5u << 20) + 2 * PAGE_SIZE));

    /* ---- the parent's blocks are untouched by the children's frees ---------------------- */
    CHECK(zmm_usable_size(s64) == 64 && zmm_usable_size(l5) == 5 * PAGE_SIZE && zmm_usable_size(h3) == 3u << 20,
          "live blocks after the children");
    /* realloc in place and by moving keeps the classification right. */
    memset(s64, 0x5a, 64);
    uint8_t *g = zmm_realloc(s64, 5000);
    CHECK(g && zmm_usable_size(g) == bin_size[bin_of(5000)] && g[0] == 0x5a && g[63] == 0x5a, "small grown to 5000");
    EXPECT_FAULT(do_free, s64, "double free of %p (64-byte block)", (void *)s64);
    uint8_t *gl = zmm_realloc(g, 30000);
    CHECK(gl && zmm_usable_size(gl) == 8 * PAGE_SIZE && gl[63] == 0x5a, "grown to a large run: %zu",
          gl ? zmm_usable_size(gl) : 0);
    zmm_free(gl);
    for (int i = 0; i < 16; i++)
        zmm_free(s320[i]);
    zmm_free(keep64);
    zmm_free(first);
    zmm_free(l1);
    zmm_free(l5);
    zmm_free(lmax);
    zmm_free(h3);
    zmm_free(hx);
    zmm_free(h5);
    if (l40)
        zmm_free(l40);
    EXPECT_FAULT(do_free, h3, "double free of %p (3145728-byte block)", (void *)h3);

    /* ---- system blocks (last: see above) -------------------------------------------------- */
    uint8_t *sys = sys_malloc(100);
    CHECK(sys != NULL, "sys_malloc");
    if (sys) {
        size_t want = sys_usable_size(sys);      /* glibc's (malloc_usable_size may be ASan's) */
        CHECK(zmm_usable_size(sys) == want && want >= 100, "system block: usable %zu, glibc says %zu",
              zmm_usable_size(sys), want);
        memset(sys, 0x33, 100);
        uint8_t *sr = zmm_realloc(sys, 200);
        CHECK(sr && sr[99] == 0x33 && zmm_usable_size(sr) == sys_usable_size(sr) &&
              registry_get((uintptr_t)sr) == 0, "realloc of a system block stays the system's");
        zmm_free(sr);
    }
    return UNIT_DONE();
}
