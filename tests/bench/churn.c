/* churn: the small- and mixed-size churn of an allocator benchmark. T threads each keep a
 * window of live blocks and replace a random one per step: mostly 1..128 bytes, one step in
 * eight up to 4000 bytes (the bins above 3 KiB). Prints a checksum so the work cannot be skipped.
 * usage: churn [THREADS] [STEPS_PER_THREAD] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { WINDOW = 4096 };

struct job {
    uint64_t seed;
    long steps;
    uint64_t sum;
};

static void *work(void *arg)
{
    struct job *j = arg;
    unsigned char **slot = calloc(WINDOW, sizeof *slot);
    uint64_t x = j->seed;
    for (long i = 0; i < j->steps; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned k = (unsigned)(x >> 33) % WINDOW;
        size_t n = (x >> 20) % 8 == 0 ? (x >> 40) % 4000 + 1 : (x >> 40) % 128 + 1;
        if (slot[k])
            j->sum += slot[k][0];
        free(slot[k]);
        slot[k] = malloc(n);
        slot[k][0] = (unsigned char)n;
    }
    for (unsigned k = 0; k < WINDOW; k++)
        free(slot[k]);
    free(slot);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    long steps = argc > 2 ? atol(argv[2]) : 20000000;
    if (threads < 1 || threads > 64 || steps < 1) {
        fprintf(stderr, "usage: churn [THREADS 1..64] [STEPS]\n");
        return 2;
    }
    pthread_t th[64];
    struct job jobs[64];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){ .seed = (uint64_t)i * 7919 + 1, .steps = steps };
        pthread_create(&th[i], NULL, work, &jobs[i]);
    }
    uint64_t sum = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        sum += jobs[i].sum;
    }
    printf("churn %d x %ld: %llu\n", threads, steps, (unsigned long long)sum);
    return 0;
}
