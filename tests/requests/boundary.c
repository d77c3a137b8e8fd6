/* boundary: the cost of a request boundary on a big heap. Builds a heap of MIB mebibytes in
 * linked lists of mixed-size blocks (32..1024 bytes, all reachable from a global array), then
 * ends ROUNDS requests through zmm_request_end and prints the median wall time of one (the
 * stop-the-world scan of every block, and the report of the request's one leak).
 * usage: boundary [MIB] [ROUNDS]   (under LD_PRELOAD=libzmm.so with ZMM_LEAKS=1, or
 * ZMM_REQUEST_RECLAIM=1) */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LISTS 64

struct node {
    struct node *next;
    char payload[];
};

static struct node *lists[LISTS];
static void *volatile leak;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 100;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    unsigned (*request_end)(void);
    *(void **)&request_end = dlsym(RTLD_DEFAULT, "zmm_request_end");
    if (!request_end || rounds < 1 || rounds > 100) {
        fprintf(stderr, "boundary: needs zmm in LD_PRELOAD (zmm_request_end), ROUNDS 1..100\n");
        return 1;
    }
    size_t total = 0, blocks = 0;
    unsigned x = 12345;
    while (total < mib << 20) {
        x = x * 1103515245u + 12345u;
        size_t n = 32 + (x >> 8) % 993;
        struct node *b = malloc(n);
        if (!b)
            return 1;
        b->next = lists[blocks % LISTS];
        lists[blocks % LISTS] = b;
        total += n;
        blocks++;
    }
    double took[100];
    for (int i = 0; i < rounds; i++) {
        leak = malloc(4096);            /* this request's one leak, forgotten below */
        leak = NULL;
        double t0 = now();
        request_end();
        took[i] = now() - t0;
    }
    qsort(took, (size_t)rounds, sizeof *took, by_value);
    printf("heap %zu MiB in %zu blocks: a boundary takes %.1f ms (median of %d)\n", total >> 20, blocks,
           took[rounds / 2] * 1e3, rounds);
    return 0;
}
