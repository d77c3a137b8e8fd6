/* exhaust SCENARIO [THREADS]: running out of memory, which must give NULL and ENOMEM, never a crash.
 *
 *   exhaust N     N threads (1 = the main thread alone) each allocate blocks of every class
 *                 (small, large, huge, in a fixed pseudo-random order), fill them and chain them,
 *                 until malloc returns NULL; then halve the size on each NULL down to 16 bytes
 *                 (so small blocks run out too), and at the limit try each member of the family:
 *                 calloc, realloc (must leave the block as it was), reallocarray, posix_memalign
 *                 (ENOMEM, *memptr untouched), aligned_alloc, memalign, valloc, pvalloc, strdup.
 *                 Every NULL must come with ENOMEM. Then every block's bytes are checked and
 *                 every block freed, and the same thread allocates again (recovery: the memory
 *                 went back, so a few blocks of each class must be served).
 *                 Needs a limit: RLIMIT_AS (ulimit -v) or ZMM_MEMORY_LIMIT.
 *   exhaust-only N  the same without the recovery phase: for ZMM_FAIL_MAP=N+, where no mapping
 *                 succeeds any more (the heap may have given its chunks back to the OS).
 *   bounded N     the same work for a fixed number of rounds (no limit needed): a NULL anywhere
 *                 (ZMM_FAIL_MAP=N fails one mapping) must come with ENOMEM and the run goes on;
 *                 no recovery phase (a failed mapping may have been the last one).
 *
 * stdout holds only lines that do not depend on where memory ran out, so a run under glibc's
 * allocator prints the same as one under zmm in any mode: the mode matrix compares the two.
 * Problems go to stderr (unbuffered: writing them allocates nothing) and make the status 1. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum { MAX_THREADS = 16, STACK = 256 << 10, BOUNDED_ROUNDS = 3000 };
#define GUARD_AS ((rlim_t)2 << 30)

struct block {
    struct block *next;
    size_t size;
    uint64_t seed;
};

static atomic_int problems;
static int bounded;
static int recover;             /* exhaust: the recovery phase */
static int nthreads;
static pthread_barrier_t freed;     /* recovery starts when every thread has freed its blocks */

#define PROBLEM(...)                                                  \
    do {                                                              \
        if (atomic_fetch_add(&problems, 1) < 20)                      \
            fprintf(stderr, "exhaust: " __VA_ARGS__);                 \
    } while (0)

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A size of each class in turn: small (16 .. 8 KiB), large (8 KiB .. 2 MiB), huge (2 .. 12 MiB). */
static size_t pick_size(uint64_t *rng, unsigned i)
{
    uint64_t r = next_rand(rng);
    switch (i % 8) {
    case 0: case 1: case 2: case 3: case 4:
        return sizeof(struct block) + r % 8192;
    case 5: case 6:
        return 8193 + r % ((2u << 20) - 8193);
    default:
        return (2u << 20) + 1 + r % (10u << 20);
    }
}

static unsigned char pattern(uint64_t seed, size_t i)
{
    return (unsigned char)(((seed + i) * 0x9e3779b97f4a7c15ull) >> 56);
}

/* The block's bytes: a word every 64 bytes and the last 64, from its seed (cheap for huge ones). */
static void fill(struct block *b)
{
    unsigned char *p = (unsigned char *)b;
    for (size_t i = sizeof *b; i < b->size; i += (i + 64 < b->size - 64 ? 64 : 1))
        p[i] = pattern(b->seed, i);
}

static int intact(const struct block *b)
{
    const unsigned char *p = (const unsigned char *)b;
    for (size_t i = sizeof *b; i < b->size; i += (i + 64 < b->size - 64 ? 64 : 1))
        if (p[i] != pattern(b->seed, i))
            return 0;
    return 1;
}

static struct block *new_block(size_t size, uint64_t seed)
{
    errno = 0;
    struct block *b = malloc(size);
    if (!b) {
        if (errno != ENOMEM)
            PROBLEM("malloc(%zu) returned NULL with errno %d, not ENOMEM\n", size, errno);
        return NULL;
    }
    if ((uintptr_t)b % 16)
        PROBLEM("malloc(%zu) returned %p, not 16-byte aligned\n", size, (void *)b);
    b->size = size;
    b->seed = seed;
    fill(b);
    return b;
}

static void expect_enomem(void *p, const char *what)
{
    if (p)
        return;                 /* memory came back meanwhile (another thread freed): fine */
    if (errno != ENOMEM)
        PROBLEM("%s returned NULL with errno %d, not ENOMEM\n", what, errno);
}

/* At the limit: every member of the family fails cleanly (or succeeds; then the block is freed).
 * Returns KEEP, which realloc may have moved. */
static struct block *family_at_limit(struct block *keep)
{
    size_t big = (size_t)64 << 20;
    void *p;
    errno = 0; p = calloc(1, big); expect_enomem(p, "calloc"); free(p);
    errno = 0; p = calloc(big / 8, 8); expect_enomem(p, "calloc(n, 8)"); free(p);
    errno = 0; p = reallocarray(NULL, big / 16, 16); expect_enomem(p, "reallocarray"); free(p);
    errno = 0; p = aligned_alloc(4096, big); expect_enomem(p, "aligned_alloc"); free(p);
    errno = 0; p = memalign(1 << 16, big); expect_enomem(p, "memalign"); free(p);
    errno = 0; p = valloc(big); expect_enomem(p, "valloc"); free(p);
    errno = 0; p = pvalloc(big); expect_enomem(p, "pvalloc"); free(p);
    static char sentinel;
    void *q = &sentinel;
    errno = 0;
    int rc = posix_memalign(&q, 64, big);
    if (rc == 0)
        free(q);
    else if (rc != ENOMEM || q != (void *)&sentinel)
        PROBLEM("posix_memalign: %d, *memptr %s\n", rc, q == (void *)&sentinel ? "kept" : "changed");
    if (keep) {
        size_t old = keep->size;
        errno = 0;
        struct block *r = realloc(keep, big);
        if (r) {                /* grown after all: shrink it back (a shrink may not fail) */
            keep = r;
            r = realloc(keep, old);
            if (r)
                keep = r;
            else
                PROBLEM("realloc back to %zu failed\n", old);
            if (!intact(keep))
                PROBLEM("realloc did not keep the bytes of %p\n", (void *)keep);
        } else {
            expect_enomem(r, "realloc");
            if (!intact(keep))
                PROBLEM("a failed realloc changed the block %p\n", (void *)keep);
        }
    }
    return keep;
}

struct worker {
    pthread_t thread;
    unsigned id;
    struct block *head;
    size_t blocks;
};

/* The block at the head of W's list, checked and freed. */
static void free_head(struct worker *w)
{
    struct block *f = w->head;
    w->head = f->next;
    if (!intact(f))
        PROBLEM("thread %u: block %p damaged\n", w->id, (void *)f);
    free(f);
}

static void *work(void *arg)
{
    struct worker *w = arg;
    uint64_t rng = 0x2545f4914f6cdd1dull * (w->id + 1);
    unsigned i = 0;

    if (bounded) {
        /* a fixed number of rounds; a third of the blocks are freed as it goes */
        for (unsigned round = 0; round < BOUNDED_ROUNDS; round++, i++) {
            size_t size = pick_size(&rng, i) / (1 + round % 4);
            struct block *b = new_block(size < sizeof *b ? sizeof *b : size, next_rand(&rng));
            if (!b)
                continue;
            b->next = w->head;
            w->head = b;
            if (round % 3 == 2)
                free_head(w);
            if (round % 64 == 63)           /* keep what is live bounded */
                while (w->head)
                    free_head(w);
        }
        w->head = family_at_limit(w->head);
    } else {
        /* until NULL, then smaller and smaller */
        size_t cap = SIZE_MAX;
        unsigned fails = 0;
        for (;;) {
            size_t size = pick_size(&rng, i++);
            if (size > cap)
                size = cap;
            struct block *b = new_block(size, next_rand(&rng));
            if (b) {
                b->next = w->head;
                w->head = b;
                w->blocks++;
                continue;
            }
            if (++fails > 100000) {
                PROBLEM("thread %u: no end to running out\n", w->id);
                break;
            }
            if (size <= sizeof(struct block))
                break;
            cap = size / 2 > sizeof(struct block) ? size / 2 : sizeof(struct block);
        }
        w->head = family_at_limit(w->head);
    }
    while (w->head)
        free_head(w);
    if (recover) {
        if (nthreads > 1)
            pthread_barrier_wait(&freed);
        /* the memory is back: a few blocks of each class */
        uint64_t r2 = 77 + w->id;
        for (unsigned k = 0; k < 16; k++) {
            size_t size = pick_size(&r2, k) / 4 + sizeof(struct block);
            struct block *b = new_block(size, k);
            if (!b) {
                PROBLEM("thread %u: after freeing everything, malloc(%zu) still fails\n", w->id, size);
                continue;
            }
            if (!intact(b))
                PROBLEM("thread %u: recovery block damaged\n", w->id);
            free(b);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "exhaust") && strcmp(argv[1], "exhaust-only") &&
                     strcmp(argv[1], "bounded"))) {
        fprintf(stderr, "usage: exhaust exhaust|exhaust-only|bounded [THREADS]\n");
        return 2;
    }
    bounded = !strcmp(argv[1], "bounded");
    recover = !strcmp(argv[1], "exhaust");
    /* A guard: whatever limit the run meant to set (ZMM_FAIL_MAP without zmm sets none), never
     * more than 2 GiB of address space. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > GUARD_AS)) {
        rl.rlim_cur = GUARD_AS;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
            rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_AS, &rl);
    }
    int n = argc > 2 ? atoi(argv[2]) : 1;
    if (n < 1 || n > MAX_THREADS) {
        fprintf(stderr, "exhaust: 1 to %d threads\n", MAX_THREADS);
        return 2;
    }
    printf("%s, %d thread(s)\n", argv[1], n);
    fflush(stdout);             /* stdout's buffer exists before memory runs out */

    static struct worker w[MAX_THREADS];
    if (n == 1) {
        w[0].id = 0;
        work(&w[0]);
    } else {
        nthreads = n;
        pthread_barrier_init(&freed, NULL, (unsigned)n);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, STACK);
        for (int t = 0; t < n; t++) {
            w[t].id = (unsigned)t;
            int rc = pthread_create(&w[t].thread, &attr, work, &w[t]);
            if (rc) {
                fprintf(stderr, "exhaust: pthread_create: %s\n", strerror(rc));
                return 1;
            }
        }
        for (int t = 0; t < n; t++)
            pthread_join(w[t].thread, NULL);
    }
    int bad = atomic_load(&problems);
    printf("%s\n", bad ? "problems (see stderr)" : "every NULL with ENOMEM, every block intact, freed");
    if (recover && !bad)
        printf("recovered: blocks of every class served again\n");
    return bad ? 1 : 0;
}
