/* loop: a request loop. Requests whose number is even leak 2 MiB (the block's only pointer dies
 * with handle's frame); every request puts a string in a cache that must survive reclaim.
 * After each request it calls zmm_request_end (found with dlsym, so that it runs without zmm),
 * or with "signal", sends itself SIGUSR2 (ZMM_REQUEST_SIGNAL=USR2) and waits a little for zmm's
 * request thread. Prints the cache check and its RSS at the end (and with "signal", the
 * number of the request zmm_request_end ends then: one more than the signals sent).
 * With "grow" instead (ZMM_REQUEST_LIMIT), each of REQUESTS requests takes 1 MiB blocks until
 * malloc fails, frees half of them, takes more until it fails again, and keeps the rest: prints
 * per request how many it got each time and errno.
 * With "threads" instead (ZMM_REQUEST_RECLAIM), each of REQUESTS rounds starts 8 threads that
 * each return a block they allocated (reached only through glibc's thread descriptor between
 * the thread's exit and its join), ends a request after they have exited and before they are
 * joined, then joins them and checks and frees each block; new threads then reuse the exited
 * ones' cached stacks, whose DTVs glibc also keeps in the descriptor. Prints "threads: R
 * rounds, B bad results".
 * usage: loop REQUESTS [signal|grow|threads] */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE 16

static char *cache[CACHE];
static char *volatile sink;

__attribute__((noinline)) static void handle(unsigned request)
{
    char *block = malloc((size_t)2 << 20); /* @leak */
    memset(block, 'x', (size_t)2 << 20);  /* resident whatever the THP setting */
    sink = block;
    if (request % 2)
        free(block);
    sink = NULL;
    free(cache[request % CACHE]);
    cache[request % CACHE] = strdup("kept in the cache"); /* @cache */
}

/* The stack below main's frame written over: a stale copy of a leaked block's address left
 * there by handle's callees (a freed huge block's mapping is often the next one's) would be
 * read as a root by the conservative scan, as LeakSanitizer would read it. */
__attribute__((noinline)) static void scrub(void)
{
    volatile char area[8192];
    memset((char *)area, 0, sizeof area);
    __asm__ volatile("" : : "r"(area) : "memory");
}

/* Takes 1 MiB blocks into HELD from *N on until malloc fails (at most 64 in all). */
static unsigned take_until_full(char **held, unsigned *n, int *err)
{
    unsigned got = 0;
    for (errno = 0; *n < 64; got++) {
        char *p = malloc((size_t)1 << 20);
        if (!p)
            break;
        p[0] = 1;
        held[(*n)++] = p;
    }
    *err = errno;
    return got;
}

static int grow(unsigned requests, unsigned (*request_end)(void))
{
    static char *held[64 * 64];
    for (unsigned r = 0; r < requests && r < 64; r++) {
        unsigned n = 0;
        int err1, err2;
        char **mine = held + 64 * r;
        unsigned first = take_until_full(mine, &n, &err1);
        for (unsigned i = n / 2; i < n; i++)
            free(mine[i]);
        n /= 2;
        unsigned second = take_until_full(mine, &n, &err2);
        printf("request %u: %u then %u (%s, %s)\n", request_end ? r + 2 : 0, first, second,
               err1 == ENOMEM ? "ENOMEM" : "no error", err2 == ENOMEM ? "ENOMEM" : "no error");
        if (request_end)
            request_end();
    }
    return 0;
}

struct result {
    unsigned magic, round;
};

static void *worker(void *arg)
{
    struct result *r = malloc(sizeof *r);
    r->magic = 0x5eed5eed;
    r->round = (unsigned)(uintptr_t)arg;
    return r;                           /* kept by the thread's descriptor until the join */
}

static int threads(unsigned rounds, unsigned (*request_end)(void))
{
    unsigned bad = 0;
    for (unsigned round = 0; round < rounds; round++) {
        pthread_t t[8];
        for (int i = 0; i < 8; i++)
            if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)round) != 0)
                return 1;
        struct timespec nap = { 0, 5000000 };   /* the threads exit, unjoined */
        nanosleep(&nap, NULL);
        if (request_end)
            request_end();
        for (int i = 0; i < 8; i++) {
            void *v = NULL;
            pthread_join(t[i], &v);
            struct result *r = v;
            bad += !r || r->magic != 0x5eed5eed || r->round != round;
            free(r);
        }
    }
    printf("threads: %u rounds, %u bad results\n", rounds, bad);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned requests = argc > 1 ? (unsigned)atoi(argv[1]) : 6;
    int by_signal = argc > 2 && !strcmp(argv[2], "signal");
    unsigned (*request_end)(void);
    *(void **)&request_end = dlsym(RTLD_DEFAULT, "zmm_request_end");
    if (argc > 2 && !strcmp(argv[2], "threads"))
        return threads(requests, request_end);
    if (argc > 2 && !strcmp(argv[2], "grow")) {
        if (request_end)
            request_end();          /* start-up's allocations stay in request 1 */
        return grow(requests, request_end);
    }
    unsigned current = 1;
    for (unsigned i = 0; i < requests; i++) {
        handle(current);
        scrub();
        if (by_signal) {
            raise(SIGUSR2);
            struct timespec nap = { 0, 20000000 };   /* the report runs on zmm's thread */
            nanosleep(&nap, NULL);
            current++;
        } else {
            current = request_end ? request_end() : current + 1; /* @end */
        }
    }
    unsigned intact = 0;
    for (unsigned i = 0; i < CACHE; i++)
        intact += cache[i] && !strcmp(cache[i], "kept in the cache");
    FILE *f = fopen("/proc/self/statm", "r");
    long pages, rss;
    if (!f || fscanf(f, "%ld %ld", &pages, &rss) != 2)
        return 1;
    fclose(f);
    printf("requests %u, cache %u/%u intact, rss %ld MiB\n", current - 1, intact,
           requests < CACHE ? requests : CACHE, rss * 4096 >> 20);
    if (by_signal && request_end)       /* zmm's count of the boundaries the signals made */
        printf("zmm ended request %u\n", request_end() - 1);
    return 0;
}
