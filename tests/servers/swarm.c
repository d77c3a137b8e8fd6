/* swarm: 40 threads on 2 cores, three generations, every byte of every block checked.
 * Each thread allocates through the whole family (malloc, calloc, aligned_alloc, posix_memalign,
 * realloc), small, large (1 in 256) and huge (1 in 2048) blocks; it fills each block with a
 * pattern made from a seed written in the block's header, publishes it in a random thread's
 * mailbox and checks and frees whatever it displaces; it takes blocks from its own mailbox and
 * either frees them (a cross-thread free, mostly) or reallocs them (a block another thread
 * allocated, grown or shrunk) and passes them on. A thread also keeps blocks in thread-specific
 * data that its key destructor frees at thread exit (after zmm's own thread exit), and exits
 * with blocks still in other threads' mailboxes (its heap is abandoned and adopted). Worker
 * threads (not the main one) fork while the others wait between two rounds (a fork child sees
 * memory as it was at some instant only for what no other thread was changing: POSIX lets it
 * call async-signal-safe functions only, and zmm, like glibc, promises more: its own state is
 * whole in the child): the child checks every block it can see, frees them all (blocks of
 * heaps whose threads do not exist in the child), runs four threads of its own, and exits 0
 * only if all of it held. Threads exiting, and zmm's own work, go on during the fork.
 *
 * It passes the same way with glibc's malloc (the test runs it both ways): its one line on
 * stdout counts only what does not depend on scheduling, so both runs must print the same.
 * With SWARM_EXPECT_ZMM=1 it fails unless zmm is the allocator. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { T = 40, BOX = 256, ROUNDS = 1000, GENERATIONS = 3, KEPT = 8, FORKERS = 2 };

struct header {
    size_t size;        /* bytes of the block in use, header included */
    uint64_t seed;
};

static void *_Atomic box[T][BOX];
static atomic_int bad;
static atomic_int forks, forks_ok;
static pthread_key_t kept_key;
static pthread_rwlock_t rounds;         /* held for reading during a round, for writing by a fork */

static void fail(const char *what, const void *p, size_t i)
{
    if (atomic_fetch_add(&bad, 1) < 10)
        fprintf(stderr, "swarm: %s: block %p byte %zu\n", what, p, i);
}

static inline unsigned char pattern(uint64_t seed, size_t i)
{
    uint64_t x = (seed + i) * 0x9e3779b97f4a7c15ull;
    return (unsigned char)(x >> 56);
}

static void stamp(unsigned char *p, size_t from, size_t size, uint64_t seed)
{
    struct header h = { size, seed };
    memcpy(p, &h, sizeof h);
    for (size_t i = from > sizeof h ? from : sizeof h; i < size; i++)
        p[i] = pattern(seed, i);
}

/* Every byte of the block as stamp() left it; returns its header. */
static struct header check(const unsigned char *p)
{
    struct header h;
    memcpy(&h, p, sizeof h);
    if (h.size < sizeof h || h.size > ((size_t)8 << 20)) {
        fail("bad header", p, 0);
        h.size = sizeof h;
        return h;
    }
    for (size_t i = sizeof h; i < h.size; i++)
        if (p[i] != pattern(h.seed, i)) {
            fail("changed under its owner", p, i);
            break;
        }
    return h;
}

static void release(void *p)
{
    if (p) {
        check(p);
        free(p);
    }
}

struct rng { uint64_t x; };

static uint64_t next(struct rng *r)
{
    r->x ^= r->x << 13;
    r->x ^= r->x >> 7;
    r->x ^= r->x << 17;
    return r->x;
}

static size_t pick_size(struct rng *r)
{
    uint64_t v = next(r);
    size_t n;
    if (v % 2048 == 0)
        n = 2u << 20 | (size_t)(v >> 20) % (1u << 20);      /* huge: 2..3 MiB */
    else if (v % 256 == 1)
        n = 4096 + (size_t)(v >> 20) % (1u << 20);          /* large, up to 1 MiB */
    else if (v % 8 == 2)
        n = 1024 + (size_t)(v >> 20) % 16384;
    else
        n = (size_t)(v >> 20) % 1024;
    return n + sizeof(struct header);
}

/* A new block of N bytes by one of the calls; NULL only if the call failed. */
static unsigned char *new_block(struct rng *r, size_t n)
{
    uint64_t how = next(r) % 8;
    unsigned char *p;
    size_t align = (size_t)16 << (next(r) % 9);         /* 16 .. 4096 */
    switch (how) {
    case 0:
        p = calloc(1, n);
        if (p)
            for (size_t i = 0; i < n; i++)
                if (p[i]) {
                    fail("calloc block not zero", p, i);
                    break;
                }
        return p;
    case 1:
        p = aligned_alloc(align, (n + align - 1) / align * align);
        if (p && (uintptr_t)p % align)
            fail("aligned_alloc misaligned", p, align);
        return p;
    case 2: {
        void *q = NULL;
        if (posix_memalign(&q, align, n) != 0)
            return NULL;
        if ((uintptr_t)q % align)
            fail("posix_memalign misaligned", q, align);
        return q;
    }
    default:
        p = malloc(n);
        if (p && (uintptr_t)p % 16)
            fail("malloc misaligned", p, 16);
        return p;
    }
}

/* Blocks a thread keeps until it exits: its key destructor frees them. */
static void free_kept(void *arg)
{
    void **kept = arg;
    for (int i = 0; i < KEPT; i++)
        release(kept[i]);
    free(kept);
}

static void *child_thread(void *arg)
{
    struct rng r = { (uint64_t)(uintptr_t)arg * 7919 + 1 };
    void *mine[64] = { 0 };
    for (int round = 0; round < 2000; round++) {
        int k = (int)(next(&r) % 64);
        release(mine[k]);
        size_t n = pick_size(&r);
        mine[k] = new_block(&r, n);
        if (mine[k])
            stamp(mine[k], 0, n, next(&r));
    }
    for (int k = 0; k < 64; k++)
        release(mine[k]);
    return NULL;
}

/* In a fork child: every block in sight checked and freed, then threads of its own. */
static _Noreturn void child(void)
{
    for (int t = 0; t < T; t++)
        for (int s = 0; s < BOX; s++)
            release(atomic_exchange(&box[t][s], NULL));
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        if (pthread_create(&th[i], NULL, child_thread, (void *)(intptr_t)i) != 0)
            _exit(3);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    _exit(atomic_load(&bad) ? 1 : 0);
}

struct tally {
    unsigned long long allocs, bytes;
    uint64_t seeds;
};

static void *worker(void *arg)
{
    int me = (int)(intptr_t)arg % T;
    struct tally *tally = calloc(1, sizeof *tally);
    struct rng r = { (uint64_t)(intptr_t)arg * 0x2545f4914f6cdd1dull + 17 };
    void **kept = calloc(KEPT, sizeof *kept);
    if (!tally || !kept) {
        fail("out of memory", NULL, 0);
        return tally;
    }
    pthread_setspecific(kept_key, kept);
    for (int round = 0; round < ROUNDS; round++) {
        pthread_rwlock_rdlock(&rounds);
        size_t n = pick_size(&r);
        uint64_t seed = next(&r), where = next(&r), choice = next(&r);
        unsigned char *p = new_block(&r, n);
        if (!p) {
            fail("allocation failed", NULL, n);
            pthread_rwlock_unlock(&rounds);
            continue;
        }
        stamp(p, 0, n, seed);
        tally->allocs++;
        tally->bytes += n;
        tally->seeds ^= seed;
        if (choice % 64 == 0) {            /* keep it until thread exit */
            int k = (int)(where % KEPT);
            release(kept[k]);
            kept[k] = p;
        } else {
            release(atomic_exchange(&box[where % T][(where >> 8) % BOX], p));
        }

        /* From our own mailbox: a block some thread made. */
        size_t m = pick_size(&r);
        unsigned char *q = atomic_exchange(&box[me][(choice >> 8) % BOX], NULL);
        if (q && choice % 3 == 0) {
            struct header h = check(q);
            unsigned char *q2 = realloc(q, m);
            if (!q2) {
                fail("realloc failed", q, m);
                release(q);
            } else {
                size_t keep = h.size < m ? h.size : m;
                for (size_t i = sizeof h; i < keep; i++)
                    if (q2[i] != pattern(h.seed, i)) {
                        fail("realloc lost contents", q2, i);
                        break;
                    }
                stamp(q2, keep, m, h.seed);
                release(atomic_exchange(&box[(where >> 16) % T][(where >> 24) % BOX], q2));
            }
        } else {
            release(q);
        }

        pthread_rwlock_unlock(&rounds);

        if (me < FORKERS && round % (ROUNDS / 3) == ROUNDS / 6) {
            pthread_rwlock_wrlock(&rounds);
            pid_t pid = fork();
            if (pid == 0)
                child();
            pthread_rwlock_unlock(&rounds);
            int st = 0;
            if (pid > 0) {
                atomic_fetch_add(&forks, 1);
                if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
                    atomic_fetch_add(&forks_ok, 1);
                else
                    fprintf(stderr, "swarm: fork child failed (status %#x)\n", st);
            }
        }
    }
    return tally;
}

int main(void)
{
    const char *expect = getenv("SWARM_EXPECT_ZMM");
    if (expect && !strcmp(expect, "1") && !dlsym(RTLD_DEFAULT, "zmm_version")) {
        fprintf(stderr, "swarm: zmm is not the allocator (LD_PRELOAD?)\n");
        return 1;
    }
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    if (pthread_key_create(&kept_key, free_kept) != 0 || pthread_rwlock_init(&rounds, &ra) != 0)
        return 1;
    struct tally total = { 0, 0, 0 };
    for (int gen = 0; gen < GENERATIONS; gen++) {
        pthread_t th[T];
        for (int i = 0; i < T; i++)
            if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)(gen * T + i)) != 0) {
                fprintf(stderr, "swarm: pthread_create failed\n");
                return 1;
            }
        for (int i = 0; i < T; i++) {
            struct tally *t = NULL;
            pthread_join(th[i], (void **)&t);
            if (t) {
                total.allocs += t->allocs;
                total.bytes += t->bytes;
                total.seeds ^= t->seeds;
                free(t);
            }
        }
        /* Blocks of this generation's (exited) threads stay in the mailboxes for the next. */
    }
    for (int t = 0; t < T; t++)
        for (int s = 0; s < BOX; s++)
            release(atomic_exchange(&box[t][s], NULL));
    int nbad = atomic_load(&bad), nforks = atomic_load(&forks), nok = atomic_load(&forks_ok);
    printf("swarm: %d threads x %d generations: %llu allocations, %llu bytes, seeds %016llx, %d forks\n",
           T, GENERATIONS, total.allocs, total.bytes, (unsigned long long)total.seeds, nforks);
    if (nbad || nok != nforks || nforks != FORKERS * 3 * GENERATIONS) {
        fprintf(stderr, "swarm: %d bad blocks, %d of %d fork children ok\n", nbad, nok, nforks);
        return 1;
    }
    return 0;
}
