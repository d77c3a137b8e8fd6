/* glibc-thread: the loop of glibc's benchtests bench-malloc-thread. Each worker keeps a working
 * set of 1024 blocks and ITERATIONS times frees a random one and allocates a block in its
 * place, its size drawn from a table of 8000 sizes of 4 to 32767 bytes, as many of each power of
 * two as of the next (so small blocks dominate). Prints a checksum so the work cannot be skipped.
 * usage: glibc-thread [THREADS] [ITERATIONS] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { WORKING_SET = 1024, SIZES = 8000 };

static size_t size_table[SIZES];
static uint32_t index_table[SIZES];

struct job {
    long iterations;
    uint64_t sum;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    unsigned char **set = calloc(WORKING_SET, sizeof *set);
    if (!set)
        abort();
    for (long i = 0; i < j->iterations; i++) {
        size_t n = size_table[(size_t)i % SIZES];
        uint32_t k = (index_table[(size_t)i % SIZES] + (uint32_t)(i / SIZES)) % WORKING_SET;
        if (set[k])
            j->sum += set[k][0];
        free(set[k]);
        set[k] = malloc(n);
        if (!set[k])
            abort();
        set[k][0] = (unsigned char)n;
    }
    for (int k = 0; k < WORKING_SET; k++)
        free(set[k]);
    free(set);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    long iterations = argc > 2 ? atol(argv[2]) : 10000000;
    if (threads < 1 || threads > 64 || iterations < 1) {
        fprintf(stderr, "usage: glibc-thread [THREADS 1..64] [ITERATIONS]\n");
        return 2;
    }
    uint64_t x = 42;
    for (int i = 0; i < SIZES; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned e = 2 + (unsigned)((x >> 33) % 13);
        size_table[i] = ((size_t)1 << e) + (size_t)((x >> 11) % ((uint64_t)1 << e));
        index_table[i] = (uint32_t)((x >> 40) % WORKING_SET);
    }
    pthread_t th[64];
    struct job jobs[64];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){ .iterations = iterations };
        if (pthread_create(&th[i], NULL, worker, &jobs[i]))
            abort();
    }
    uint64_t sum = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        sum += jobs[i].sum;
    }
    printf("glibc-thread %d x %ld: %llu\n", threads, iterations, (unsigned long long)sum);
    return 0;
}
