/* larson: a server simulation after Larson and Krishnan's benchmark. Each worker owns a table
 * of live blocks of MIN..MAX bytes and at each step frees a random one and allocates a block of
 * a random size in its place. When a round ends its worker exits and, in the next round, a new
 * worker takes the table over, so blocks born in one thread die in another, as in a server whose
 * connections move between threads. Prints a checksum so the work cannot be skipped.
 * usage: larson [THREADS] [ROUNDS] [STEPS_PER_ROUND] [BLOCKS_PER_THREAD] [MIN] [MAX] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct table {
    unsigned char **slot;
    long blocks;
    long steps;
    size_t min, max;
    uint64_t rng;
    uint64_t sum;
};

static void *worker(void *arg)
{
    struct table *t = arg;
    uint64_t x = t->rng;
    for (long i = 0; i < t->steps; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        long k = (long)((x >> 33) % (uint64_t)t->blocks);
        size_t n = t->min + (size_t)((x >> 13) % (t->max - t->min + 1));
        unsigned char *old = t->slot[k];
        if (old)
            t->sum += old[0];
        free(old);
        unsigned char *p = malloc(n);
        if (!p)
            abort();
        p[0] = (unsigned char)n;
        p[n - 1] = (unsigned char)i;
        t->slot[k] = p;
    }
    t->rng = x;
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    long rounds = argc > 2 ? atol(argv[2]) : 60;
    long steps = argc > 3 ? atol(argv[3]) : 200000;
    long blocks = argc > 4 ? atol(argv[4]) : 5000;
    long min = argc > 5 ? atol(argv[5]) : 8;
    long max = argc > 6 ? atol(argv[6]) : 1000;
    if (threads < 1 || threads > 64 || rounds < 1 || steps < 1 || blocks < 1 || min < 1 || max < min) {
        fprintf(stderr, "usage: larson [THREADS 1..64] [ROUNDS] [STEPS] [BLOCKS] [MIN] [MAX]\n");
        return 2;
    }
    struct table tables[64];
    for (int i = 0; i < threads; i++) {
        tables[i] = (struct table){ .slot = calloc((size_t)blocks, sizeof(unsigned char *)),
                                    .blocks = blocks, .steps = steps, .min = (size_t)min,
                                    .max = (size_t)max, .rng = (uint64_t)i * 104729 + 17 };
        if (!tables[i].slot)
            abort();
    }
    pthread_t th[64];
    for (long r = 0; r < rounds; r++) {
        /* Round r hands table i to worker (i + r) % threads: a fresh thread each time. */
        for (int i = 0; i < threads; i++)
            if (pthread_create(&th[i], NULL, worker, &tables[(i + r) % threads]))
                abort();
        for (int i = 0; i < threads; i++)
            pthread_join(th[i], NULL);
    }
    uint64_t sum = 0;
    for (int i = 0; i < threads; i++) {
        for (long k = 0; k < blocks; k++)
            free(tables[i].slot[k]);
        free(tables[i].slot);
        sum += tables[i].sum;
    }
    printf("larson %d x %ld x %ld: %llu\n", threads, rounds, steps, (unsigned long long)sum);
    return 0;
}
