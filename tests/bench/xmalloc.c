/* xmalloc: producer/consumer across threads (after xmalloc-test). Producers allocate blocks
 * of 16..512 bytes and hand them through a bounded ring to consumers, which free them: every
 * free is a remote free. usage: xmalloc [PAIRS] [BLOCKS_PER_PRODUCER] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { RING = 4096 };

struct ring {
    void *_Atomic cell[RING];
    long blocks;
    uint64_t sum;
};

static void *producer(void *arg)
{
    struct ring *r = arg;
    uint64_t x = (uintptr_t)arg;
    for (long i = 0; i < r->blocks; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = 16 + (x >> 40) % 497;
        unsigned char *p = malloc(n);
        p[0] = (unsigned char)n;
        void *_Atomic *c = &r->cell[i % RING];
        while (atomic_load_explicit(c, memory_order_acquire))
            ;
        atomic_store_explicit(c, p, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct ring *r = arg;
    for (long i = 0; i < r->blocks; i++) {
        void *_Atomic *c = &r->cell[i % RING];
        unsigned char *p;
        while (!(p = atomic_load_explicit(c, memory_order_acquire)))
            ;
        atomic_store_explicit(c, NULL, memory_order_release);
        r->sum += p[0];
        free(p);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int pairs = argc > 1 ? atoi(argv[1]) : 1;
    long blocks = argc > 2 ? atol(argv[2]) : 5000000;
    if (pairs < 1 || pairs > 16 || blocks < 1) {
        fprintf(stderr, "usage: xmalloc [PAIRS 1..16] [BLOCKS]\n");
        return 2;
    }
    struct ring *rings = calloc((size_t)pairs, sizeof *rings);
    pthread_t th[32];
    for (int i = 0; i < pairs; i++) {
        rings[i].blocks = blocks;
        pthread_create(&th[2 * i], NULL, producer, &rings[i]);
        pthread_create(&th[2 * i + 1], NULL, consumer, &rings[i]);
    }
    uint64_t sum = 0;
    for (int i = 0; i < 2 * pairs; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < pairs; i++)
        sum += rings[i].sum;
    free(rings);
    printf("xmalloc %d x %ld: %llu\n", pairs, blocks, (unsigned long long)sum);
    return 0;
}
