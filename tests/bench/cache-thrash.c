/* cache-thrash: active false sharing (after Hoard's test of that name). Each worker
 * ITERATIONS times allocates a small object, writes each of its bytes REPETITIONS times and frees
 * it. An allocator that carves the workers' objects out of one cache line makes them fight over
 * it. Prints a checksum so the work cannot be skipped.
 * usage: cache-thrash [THREADS] [ITERATIONS] [OBJECT_SIZE] [REPETITIONS] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct job {
    long iterations;
    size_t size;
    long repetitions;
    uint64_t sum;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    for (long i = 0; i < j->iterations; i++) {
        volatile unsigned char *p = malloc(j->size);
        if (!p)
            abort();
        for (size_t b = 0; b < j->size; b++)
            p[b] = (unsigned char)i;
        for (long r = 0; r < j->repetitions; r++)
            for (size_t b = 0; b < j->size; b++)
                p[b] = (unsigned char)(p[b] + 1);
        j->sum += p[0];
        free((void *)p);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    long iterations = argc > 2 ? atol(argv[2]) : 1000;
    long size = argc > 3 ? atol(argv[3]) : 8;
    long repetitions = argc > 4 ? atol(argv[4]) : 200000;
    if (threads < 1 || threads > 64 || iterations < 1 || size < 1 || repetitions < 1) {
        fprintf(stderr, "usage: cache-thrash [THREADS 1..64] [ITERATIONS] [OBJECT_SIZE] [REPETITIONS]\n");
        return 2;
    }
    pthread_t th[64];
    struct job jobs[64];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){ .iterations = iterations, .size = (size_t)size, .repetitions = repetitions };
        if (pthread_create(&th[i], NULL, worker, &jobs[i]))
            abort();
    }
    uint64_t sum = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        sum += jobs[i].sum;
    }
    printf("cache-thrash %d x %ld x %ld x %ld: %llu\n", threads, iterations, size, repetitions,
           (unsigned long long)sum);
    return 0;
}
