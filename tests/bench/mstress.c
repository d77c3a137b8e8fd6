/* mstress: mixed-lifetime stress (after the stress test of mimalloc-bench). Workers run in
 * ROUNDS generations; each generation's workers do STEPS steps. A step allocates an object of
 * 2..8 words, one in a hundred a hundred times larger, one in ten thousand ten thousand times
 * larger (up to 640 KB), and either frees it at once, keeps it for the rest of the generation, or
 * swaps it into a shared transfer table whose previous occupant, born in some other thread or
 * generation, it frees; now and then a kept object dies early. Every object carries a cookie
 * that is checked when it dies. Prints a checksum so the work cannot be skipped.
 * usage: mstress [THREADS] [ROUNDS] [STEPS_PER_ROUND] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { TRANSFER = 1000 };

static uintptr_t *_Atomic transfer[TRANSFER];

struct job {
    long steps;
    uint64_t rng;
    uint64_t sum;
};

static uint64_t next(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 24;
}

static uintptr_t *make(uint64_t *x)
{
    size_t words = 2 + (size_t)(next(x) % 7);
    if (next(x) % 100 == 0)
        words *= 100;
    else if (next(x) % 10000 == 0)
        words *= 10000;
    uintptr_t *p = malloc(words * sizeof *p);
    if (!p)
        abort();
    p[0] = words;
    p[words - 1] = words ^ (uintptr_t)0x5a5a5a5a;
    return p;
}

static uint64_t retire(uintptr_t *p)
{
    if (!p)
        return 0;
    uintptr_t words = p[0];
    if (p[words - 1] != (words ^ (uintptr_t)0x5a5a5a5a)) {
        fprintf(stderr, "mstress: object %p corrupted\n", (void *)p);
        abort();
    }
    free(p);
    return words;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    uint64_t x = j->rng;
    size_t cap = 1024, kept = 0;
    uintptr_t **keep = malloc(cap * sizeof *keep);
    if (!keep)
        abort();
    for (long i = 0; i < j->steps; i++) {
        uintptr_t *p = make(&x);
        uint64_t r = next(&x) % 100;
        if (r < 50) {
            j->sum += retire(p);
        } else if (r < 80) {
            if (kept == cap) {
                cap *= 2;
                keep = realloc(keep, cap * sizeof *keep);
                if (!keep)
                    abort();
            }
            keep[kept++] = p;
        } else {
            uintptr_t *old = atomic_exchange(&transfer[next(&x) % TRANSFER], p);
            j->sum += retire(old);
        }
        if (kept && next(&x) % 4 == 0) {
            size_t k = (size_t)(next(&x) % kept);
            j->sum += retire(keep[k]);
            keep[k] = keep[--kept];
        }
    }
    for (size_t k = 0; k < kept; k++)
        j->sum += retire(keep[k]);
    free(keep);
    j->rng = x;
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    long rounds = argc > 2 ? atol(argv[2]) : 10;
    long steps = argc > 3 ? atol(argv[3]) : 800000;
    if (threads < 1 || threads > 64 || rounds < 1 || steps < 1) {
        fprintf(stderr, "usage: mstress [THREADS 1..64] [ROUNDS] [STEPS]\n");
        return 2;
    }
    pthread_t th[64];
    struct job jobs[64];
    for (int i = 0; i < threads; i++)
        jobs[i] = (struct job){ .steps = steps, .rng = (uint64_t)i * 2654435761u + 3 };
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < threads; i++)
            if (pthread_create(&th[i], NULL, worker, &jobs[i]))
                abort();
        for (int i = 0; i < threads; i++)
            pthread_join(th[i], NULL);
    }
    uint64_t sum = 0;
    for (int i = 0; i < threads; i++)
        sum += jobs[i].sum;
    for (int k = 0; k < TRANSFER; k++)
        sum += retire(atomic_exchange(&transfer[k], NULL));
    printf("mstress %d x %ld x %ld: %llu\n", threads, rounds, steps, (unsigned long long)sum);
    return 0;
}
