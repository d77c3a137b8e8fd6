/* The block classifier (block.c), white box: block_classify names small blocks (every bin,
 * the first and last block of a run), large runs, huge blocks and system blocks with their
 * kind, usable size, chunk, page map entry and registry entry; block_small_start (free's
 * fast-path test) agrees with the run geometry at every byte of a run of every bin; interior
 * pointers (first page, a later page of a multi-page small run, a large run's continuation
 * page, a huge block's head and inner slots), double frees (a small block, a held and a
 * given-back large run, a held run's later page, a cached huge block) and foreign pointers
 * (the stack, static storage, a chunk header, past a huge mapping's end) each stop the
 * process with the one line naming the verb, pointer and block, in forked children;
 * block_free sends each kind where it belongs (the bin list, the held runs, the owner's
 * remote list, the huge cache, the system); block_resize in place or not. System blocks come
 * last: once zmm has handed out system memory, any unknown pointer is taken for the system's. */
#include "block.h"
#include "registry.h"
#include "sys.h"
#include "unit.h"
#include "fault.h"

#include <malloc.h>
#include <pthread.h>

static struct zmm_heap *h0;

static void classify_free(void *p) { struct block b; block_classify(p, "free", &b); }
static void classify_realloc(void *p) { struct block b; block_classify(p, "realloc", &b); }
static void classify_usable(void *p) { struct block b; block_classify(p, "malloc_usable_size", &b); }

/* Free P (classified), then classify it again. */
static void free_then_classify(void *p)
{
    struct block b;
    block_classify(p, "free", &b);
    block_free(p, &b);
    block_classify(p, "free", &b);
}

/* Free P[0], then classify P[1]. */
static void free_then_classify_other(void *arg)
{
    void **p = arg;
    struct block b;
    block_classify(p[0], "free", &b);
    block_free(p[0], &b);
    block_classify(p[1], "free", &b);
}

static struct block classify(void *p)
{
    struct block b = { .size = 12345 };
    block_classify(p, "free", &b);
    return b;
}

static void *free_from_thread(void *p)
{
    heap_attach();
    struct block b = classify(p);
    block_free(p, &b);
    return NULL;
}

static char static_block[64];

int main(void)
{
    heap_init(true);
    h0 = heap_attach();
    CHECK(h0 != NULL, "heap");
    if (!h0)
        return UNIT_DONE();

    /* ---- small blocks: every bin, first and last block of a run ----------------------- */
    unsigned wrong = 0;
    for (unsigned bin = 0; bin < BIN_COUNT; bin++) {
        uint8_t *blocks[256] = { 0 };
        unsigned n = bin_count[bin];
        for (unsigned i = 0; i < n; i++)
            blocks[i] = heap_alloc(h0, bin_size[bin]);
        uint8_t *first = blocks[0], *last = blocks[0];
        for (unsigned i = 0; i < n; i++) {
            first = blocks[i] < first ? blocks[i] : first;
            last = blocks[i] > last ? blocks[i] : last;
        }
        struct zmm_chunk *c = chunk_of(first);
        struct block bf = classify(first), bl = classify(last);
        bool ok = bf.kind == BLOCK_SMALL && bf.size == bin_size[bin] && bf.chunk == c &&
                  bf.map == c->map[page_of(first)] && bf.entry == REG_CHUNK && PG_BIN(bf.map) == bin &&
                  bl.kind == BLOCK_SMALL && bl.size == bin_size[bin] && bl.map == c->map[page_of(last)] &&
                  (size_t)(last - first) == (size_t)(n - 1) * bin_size[bin];
        if (!ok) {
            wrong++;
            fprintf(stderr, "bin %u: first %p kind %d size %zu map %x, last %p kind %d size %zu\n", bin,
                    (void *)first, bf.kind, bf.size, (unsigned)bf.map, (void *)last, bl.kind, bl.size);
        }
        for (unsigned i = 0; i < n; i++)
            bin_free(&h0->bins, bin, (struct zmm_slot *)blocks[i]);
    }
    CHECK(wrong == 0, "%u bins classified wrong", wrong);

    /* ---- block_small_start: at every byte of a run of every bin ----------------------- */
    unsigned bad = 0;
    for (unsigned bin = 0; bin < BIN_COUNT; bin++) {
        size_t run = (size_t)bin_pages[bin] << PAGE_SHIFT;
        for (size_t off = 0; off < run; off++) {
            uint32_t m = PG_SMALL_ENTRY(bin, off >> PAGE_SHIFT);
            const void *p = (const void *)(((uintptr_t)0x40000000) + off);
            if (block_small_start(m, p) != (off % bin_size[bin] == 0) && bad++ < 5)
                fprintf(stderr, "bin %u offset %zu: block_small_start says %d\n", bin, off, block_small_start(m, p));
        }
    }
    CHECK(bad == 0, "block_small_start wrong at %u offsets", bad);

    /* ---- large and huge ------------------------------------------------------------------ */
    uint8_t *l5 = heap_alloc(h0, 20000), *l40 = heap_alloc(h0, 40 * PAGE_SIZE), *lmax = heap_alloc(h0, LARGE_MAX);
    uint8_t *h3 = heap_alloc(h0, 3u << 20), *h5 = heap_alloc(h0, (5u << 20) + 1);
    CHECK(l5 && l40 && lmax && h3 && h5, "large and huge blocks");
    if (!l5 || !l40 || !lmax || !h3 || !h5)
        return UNIT_DONE();
    struct block b = classify(l5);
    CHECK(b.kind == BLOCK_LARGE && b.size == 5 * PAGE_SIZE && b.chunk == chunk_of(l5) && b.map == PG_LARGE_ENTRY(5) &&
          b.entry == REG_CHUNK, "5-page run: kind %d size %zu map %x", b.kind, b.size, (unsigned)b.map);
    b = classify(lmax);
    CHECK(b.kind == BLOCK_LARGE && b.size == LARGE_MAX && (void *)lmax == page_addr(chunk_of(lmax), FIRST_PAGE),
          "largest run: kind %d size %zu", b.kind, b.size);
    b = classify(h3);
    CHECK(b.kind == BLOCK_HUGE && b.size == 3u << 20 && b.entry == ((3u << 20) | REG_HUGE) && (void *)b.chunk == h3,
          "3 MiB huge block: kind %d size %zu entry %lx", b.kind, b.size, (unsigned long)b.entry);
    b = classify(h5);
    CHECK(b.kind == BLOCK_HUGE && b.size == (5u << 20) + PAGE_SIZE, "5 MiB + 1 huge block: kind %d size %zu", b.kind,
          b.size);

    /* ---- interior pointers ----------------------------------------------------------- */
    uint8_t *s48 = heap_alloc(h0, 48), *s48b = heap_alloc(h0, 48);
    EXPECT_FAULT(classify_free, s48 + 16, "invalid free of %p (interior pointer into 48-byte block %p)",
                 (void *)(s48 + 16), (void *)s48);
    EXPECT_FAULT(classify_realloc, s48 + 47, "invalid realloc of %p (interior pointer into 48-byte block %p)",
                 (void *)(s48 + 47), (void *)s48);
    uint8_t *cross = NULL;
    for (int i = 0; i < 16 && !cross; i++) {
        uint8_t *q = heap_alloc(h0, 320);
        if (q && PAGE_SIZE - ((uintptr_t)q & (PAGE_SIZE - 1)) < 320)
            cross = q;
    }
    CHECK(cross != NULL, "a 320-byte block across a page");
    if (cross) {
        uint8_t *in = (uint8_t *)(((uintptr_t)cross + PAGE_SIZE) & ~(uintptr_t)(PAGE_SIZE - 1)) + 8;
        EXPECT_FAULT(classify_free, in, "invalid free of %p (interior pointer into 320-byte block %p)", (void *)in,
                     (void *)cross);
    }
    EXPECT_FAULT(classify_usable, l5 + 16,
                 "invalid malloc_usable_size of %p (interior pointer into 20480-byte block %p)", (void *)(l5 + 16),
                 (void *)l5);
    EXPECT_FAULT(classify_free, l5 + 4 * PAGE_SIZE, "invalid free of %p (interior pointer into 20480-byte block %p)",
                 (void *)(l5 + 4 * PAGE_SIZE), (void *)l5);
    EXPECT_FAULT(classify_free, h3 + 4096, "invalid free of %p (interior pointer into 3145728-byte block %p)",
                 (void *)(h3 + 4096), (void *)h3);
    EXPECT_FAULT(classify_free, h5 + 2 * CHUNK_SIZE + 64, "invalid free of %p (interior pointer into %zu-byte block %p)",
                 (void *)(h5 + 2 * CHUNK_SIZE + 64), (size_t)(5u << 20) + PAGE_SIZE, (void *)h5);

    /* ---- double frees ------------------------------------------------------------------ */
    EXPECT_FAULT(free_then_classify, s48, "double free of %p (48-byte block)", (void *)s48);
    EXPECT_FAULT(free_then_classify, l5, "double free of %p (20480-byte block)", (void *)l5);
    {
        void *two[2] = { l5, l5 + 2 * PAGE_SIZE };
        EXPECT_FAULT(free_then_classify_other, two, "double free of %p (page already free)", two[1]);
    }
    EXPECT_FAULT(free_then_classify, l40, "double free of %p (163840-byte block)", (void *)l40);
    EXPECT_FAULT(free_then_classify, h3, "double free of %p (3145728-byte block)", (void *)h3);

    /* ---- foreign pointers ------------------------------------------------------------- */
    char on_stack[16];
    EXPECT_FAULT(classify_free, on_stack, "invalid free of %p (not a heap block)", (void *)on_stack);
    EXPECT_FAULT(classify_realloc, static_block, "invalid realloc of %p (not a heap block)", (void *)static_block);
    EXPECT_FAULT(classify_free, chunk_of(s48), "invalid free of %p (not a heap block)", (void *)chunk_of(s48));
    EXPECT_FAULT(classify_free, (uint8_t *)chunk_of(s48) + 256, "invalid free of %p (not a heap block)",
                 (void *)((uint8_t *)chunk_of(s48) + 256));
    EXPECT_FAULT(classify_free, h5 + (5u << 20) + PAGE_SIZE, "invalid free of %p (not a heap block)",
                 (void *)(h5 + (5u << 20) + PAGE_SIZE));

    /* ---- block_free: each kind where it belongs ------------------------------------------ */
    b = classify(s48);
    block_free(s48, &b);
    CHECK(h0->bins.free[bin_of(48)] == (void *)s48 && slot_is_free(h0->bins.key, (struct zmm_slot *)s48),
          "a small block freed by its owner is not on its bin's list");
    b = classify(l5);
    block_free(l5, &b);
    CHECK(h0->runs.list[5] == (void *)l5 && PG_KIND(chunk_of(l5)->map[page_of(l5)]) == PG_FREE, "a 5-page run not held");
    size_t held = h0->runs.pages;
    b = classify(l40);
    block_free(l40, &b);
    CHECK(PG_KIND(chunk_of(l40)->map[page_of(l40)]) == PG_FREE && h0->runs.pages == held &&
          !(chunk_of(l40)->bitmap[page_of(l40) / 64] >> (page_of(l40) % 64) & 1), "a 40-page run not given back");
    b = classify(h3);
    block_free(h3, &b);
    CHECK(registry_get((uintptr_t)h3) & REG_FREED, "a freed huge block not cached");
    pthread_t t;
    pthread_create(&t, NULL, free_from_thread, s48b);
    pthread_join(t, NULL);
    CHECK(atomic_load(&h0->remote) == (void *)s48b && h0->bins.free[bin_of(48)] == (void *)s48,
          "a block freed by another thread is not on its owner's remote list");

    /* ---- block_resize ---------------------------------------------------------------- */
    uint8_t *s64 = heap_alloc(h0, 64), *s512 = heap_alloc(h0, 512);
    b = classify(s64);
    CHECK(block_resize(h0, s64, &b, 64) == s64 && block_resize(h0, s64, &b, 1) == s64 &&
          block_resize(h0, s64, &b, 65) == NULL, "64-byte block resized");
    b = classify(s512);
    CHECK(block_resize(h0, s512, &b, 300) == s512 && block_resize(h0, s512, &b, 256) == NULL, "512-byte block resized");
    uint8_t *g = heap_alloc(h0, 3 * PAGE_SIZE);
    b = classify(g);
    CHECK(block_resize(h0, g, &b, 6 * PAGE_SIZE) == g && classify(g).size == 6 * PAGE_SIZE &&
          block_resize(h0, g, &b, 100) == NULL, "large run grown in place");
    CHECK(block_resize(NULL, g, &b, 7 * PAGE_SIZE) == NULL, "a large run resized by a thread without a heap");

    /* ---- system blocks (last) ---------------------------------------------------------- */
    uint8_t *sys = sys_malloc(200);
    CHECK(sys != NULL, "sys_malloc");
    if (sys) {
        b = classify(sys);
        /* glibc's own count (sys_usable_size: the program's malloc_usable_size may be a
         * sanitizer's, which knows nothing of glibc's blocks) */
        CHECK(b.kind == BLOCK_SYSTEM && b.size >= 200 && b.size == sys_usable_size(sys) && b.entry == 0,
              "system block: kind %d size %zu (glibc says %zu)", b.kind, b.size, sys_usable_size(sys));
        CHECK(block_resize(h0, sys, &b, 10) == NULL, "a system block resized in place");
        block_free(sys, &b);
    }
    return UNIT_DONE();
}
