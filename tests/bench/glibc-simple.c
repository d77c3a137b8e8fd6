/* glibc-simple: the small-block loop of glibc's benchtests (bench-malloc-simple). Each
 * worker, ROUNDS times, for each count of 25, 100, 400 and 1600 blocks and each size of 16 to
 * 256 bytes, allocates that many blocks of that size, writes to each and frees them in the
 * order they were allocated. One worker is the main thread alone; more run in threads.
 * Prints a checksum so the work cannot be skipped.
 * usage: glibc-simple [THREADS] [ROUNDS] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { MAX_COUNT = 1600 };

static const size_t counts[] = { 25, 100, 400, 1600 };
static const size_t sizes[] = { 16, 32, 64, 128, 256 };

struct job {
    long rounds;
    uint64_t sum;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    static _Thread_local unsigned char *block[MAX_COUNT];
    for (long r = 0; r < j->rounds; r++)
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
                for (size_t i = 0; i < counts[c]; i++) {
                    block[i] = malloc(sizes[s]);
                    if (!block[i])
                        abort();
                    block[i][0] = (unsigned char)(i + (size_t)r);
                }
                for (size_t i = 0; i < counts[c]; i++) {
                    j->sum += block[i][0];
                    free(block[i]);
                }
            }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    long rounds = argc > 2 ? atol(argv[2]) : 3000;
    if (threads < 1 || threads > 64 || rounds < 1) {
        fprintf(stderr, "usage: glibc-simple [THREADS 1..64] [ROUNDS]\n");
        return 2;
    }
    struct job jobs[64];
    uint64_t sum = 0;
    if (threads == 1) {
        jobs[0] = (struct job){ .rounds = rounds };
        worker(&jobs[0]);
        sum = jobs[0].sum;
    } else {
        pthread_t th[64];
        for (int i = 0; i < threads; i++) {
            jobs[i] = (struct job){ .rounds = rounds };
            if (pthread_create(&th[i], NULL, worker, &jobs[i]))
                abort();
        }
        for (int i = 0; i < threads; i++) {
            pthread_join(th[i], NULL);
            sum += jobs[i].sum;
        }
    }
    printf("glibc-simple %d x %ld: %llu\n", threads, rounds, (unsigned long long)sum);
    return 0;
}
