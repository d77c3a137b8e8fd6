/* crowd: 48 threads on 2 cores. Each allocates (small, and one in five up to 300 KB: large
 * runs), stamps the block, and drops it into a random thread's mailbox, freeing whatever it
 * displaces; it also empties its own mailbox. Threads exit and are replaced four times (their
 * heaps are abandoned and adopted), and the main thread forks while they run. Every block is
 * checked before it is freed, so memory zeroed or reused under a live block is caught. This
 * found chunks purged after they were published in the chunk cache. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zmm_test.h"

enum { T = 48, BOX = 1024, ROUNDS = 5000, GENERATIONS = 4 };

static void *_Atomic box[T][BOX];
static atomic_int bad_blocks;

static unsigned char stamp_of(size_t n) { return (unsigned char)(n * 131 + 7); }

/* A block carries its size in its first 8 bytes and a stamp in the next 8. */
static void release(unsigned char *p)
{
    if (!p)
        return;
    size_t n;
    memcpy(&n, p, sizeof n);
    for (int i = 8; i < 16; i++)
        if (p[i] != stamp_of(n)) {
            atomic_fetch_add(&bad_blocks, 1);
            break;
        }
    free(p);
}

static void *worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    uint64_t x = (uint64_t)me * 977 + 3;
    for (int round = 0; round < ROUNDS; round++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = (x >> 33) % 5 == 0 ? (x >> 40) % 300000 + 16 : (x >> 40) % 512 + 16;
        unsigned char *p = malloc(n);
        if (!p)
            continue;
        memcpy(p, &n, sizeof n);
        memset(p + 8, stamp_of(n), 8);
        int to = (int)((x >> 20) % T);
        release(atomic_exchange(&box[to][(x >> 45) % BOX], p));
        release(atomic_exchange(&box[me][(x >> 10) % BOX], NULL));
    }
    return NULL;
}

int main(void)
{
    require_zmm();
    pthread_t th[T];
    int forks = 0, children_ok = 0;
    for (int gen = 0; gen < GENERATIONS; gen++) {
        for (int i = 0; i < T; i++)
            if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) != 0)
                FATAL("pthread_create failed");
        for (int f = 0; f < 5; f++) {
            pid_t pid = fork();
            if (pid == 0) {
                void *a[100];
                for (int i = 0; i < 100; i++)
                    a[i] = malloc((size_t)i * 1000 + 1);
                for (int i = 0; i < 100; i++)
                    free(a[i]);
                _exit(0);
            }
            int st = 0;
            forks += pid > 0;
            children_ok += pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        }
        for (int i = 0; i < T; i++)
            pthread_join(th[i], NULL);
    }
    for (int t = 0; t < T; t++)
        for (int s = 0; s < BOX; s++)
            release(atomic_exchange(&box[t][s], NULL));
    CHECK(atomic_load(&bad_blocks) == 0, "%d blocks were changed under their owner", atomic_load(&bad_blocks));
    CHECK(forks == 5 * GENERATIONS && children_ok == forks, "%d of %d fork children allocated and exited cleanly",
          children_ok, forks);
    return test_result();
}
