/* oom: running out of memory under RLIMIT_AS, in many threads at once, in whatever mode zmm is
 * in (oom.sh runs it plain, tracked and under ZMM_DEBUG): every failure must be NULL (or
 * ENOMEM from posix_memalign) with errno ENOMEM, every success a block that holds its bytes,
 * and the process must end normally. glibc's tst-malloc-thread-fail is the model; tracking
 * crashed there when its record pool could not grow (issue 13).
 * Prints "oom: F failures, B bad" (F > 0 is expected: the limit is reached).
 * With "vma": a few blocks are left live, then the process maps single pages until the kernel
 * refuses (vm.max_map_count, as glibc's tst-free-errno does) and exits: zmm's exit work
 * (a leak report) finds no mapping to work in, and must say so rather than crash.
 * With "untracked" (ZMM_LEAKS=1 and ZMM_FAIL_MAP=N, oom.sh): leaks 8 huge blocks, one of whose
 * record tables may be the mapping that fails: the block is served all the same, and the exit
 * report says how many blocks it could not see. */
#include "zmm_test.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define THREADS 8
#define HELD 4096

static int failures, bad;

static size_t size_of(unsigned r)
{
    switch (r % 16) {
    case 0: return (size_t)1 << 20;             /* large */
    case 1: return ((size_t)3 << 20) + r % 4096; /* huge */
    case 2: case 3: return 8192 + r % 60000;
    default: return 1 + r % 600;
    }
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    static __thread unsigned char *held[HELD];
    static __thread size_t held_size[HELD];
    int f = 0, b = 0;
    for (int i = 0; i < 60000; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned slot = (seed >> 8) % HELD;
        if (held[slot]) {                       /* the old block must still hold its bytes */
            b += held[slot][0] != (unsigned char)slot || held[slot][held_size[slot] - 1] != (unsigned char)slot;
            free(held[slot]);
            held[slot] = NULL;
        }
        size_t n = size_of(seed >> 12);
        unsigned char *p = NULL;
        errno = 0;
        switch ((seed >> 4) % 4) {
        case 0: p = malloc(n); break;
        case 1: p = calloc(1, n); b += p && (p[0] || p[n - 1]); break;
        case 2: {
            void *q = NULL;
            int err = posix_memalign(&q, 64, n);
            b += (err == 0) != (q != NULL) || (err && err != ENOMEM);
            p = q;
            if (err)
                errno = err;
            break;
        }
        default: {
            p = malloc(16);
            if (p) {
                unsigned char *q = realloc(p, n);
                if (q)
                    p = q;
                else if (errno == ENOMEM) {
                    free(p);                    /* realloc failed: the old block stays ours */
                    p = NULL;
                }
            }
        }
        }
        if (!p) {
            f++;
            b += errno != ENOMEM;
            continue;
        }
        memset(p, (int)slot, n);
        held[slot] = p;
        held_size[slot] = n;
    }
    for (unsigned i = 0; i < HELD; i++)
        free(held[i]);
    __atomic_add_fetch(&failures, f, __ATOMIC_RELAXED);
    __atomic_add_fetch(&bad, b, __ATOMIC_RELAXED);
    return NULL;
}

static void *volatile keep[16];

/* A huge block whose only pointer dies with this frame; 1 if it was served. */
__attribute__((noinline)) static int leak_huge(void)
{
    char *p = malloc((size_t)3 << 20);
    if (p)
        p[0] = 1;
    __asm__ volatile("" : : "r"(p) : "memory");
    return p != NULL;
}

/* The stack below main's frame written over: no stale copy of a leaked pointer stays there. */
__attribute__((noinline)) static void scrub(void)
{
    volatile char area[16384];
    memset((char *)area, 0, sizeof area);
    __asm__ volatile("" : : "r"(area) : "memory");
}

int main(int argc, char **argv)
{
    require_zmm();
    if (argc > 1 && !strcmp(argv[1], "untracked")) {
        int served = 0;
        for (int i = 0; i < 8; i++)
            served += leak_huge();
        scrub();
        printf("oom untracked: %d served\n", served);
        CHECK(served >= 7, "only %d of 8 served", served);
        return test_result();
    }
    if (argc > 1 && !strcmp(argv[1], "vma")) {
        for (int i = 0; i < 16; i++)
            keep[i] = malloc((size_t)100 << i);
        /* the same page of a file again and again: no two of these mappings merge */
        FILE *file = tmpfile();
        if (!file || ftruncate(fileno(file), 4096) != 0)
            FATAL("tmpfile");
        long maps = 0;
        while (maps < 1000000 && mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fileno(file), 0) != MAP_FAILED)
            maps++;
        printf("oom vma: %s mappings\n", maps > 1000 ? "many" : "few");
        CHECK(maps > 0, "no mapping at all");
        return test_result();
    }
    long pages = 0;
    FILE *statm = fopen("/proc/self/statm", "r");
    if (!statm || fscanf(statm, "%ld", &pages) != 1)
        FATAL("cannot read /proc/self/statm");
    fclose(statm);
    /* what the process has now, 8 thread stacks, and 192 MiB for the heap */
    struct rlimit r = { (rlim_t)pages * 4096 + ((rlim_t)(THREADS * 8 + 192) << 20), RLIM_INFINITY };
    r.rlim_max = r.rlim_cur;
    CHECK(setrlimit(RLIMIT_AS, &r) == 0, "setrlimit");
    pthread_t t[THREADS];
    int started = 0;
    for (int i = 0; i < THREADS; i++)
        started += pthread_create(&t[started], NULL, worker, (void *)(uintptr_t)(i + 1)) == 0;
    CHECK(started > 0, "no thread could start");
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    worker((void *)(uintptr_t)99);              /* and the main thread, alone */
    printf("oom: %s failures, %d bad\n", failures ? "some" : "no", bad);
    CHECK(bad == 0, "%d wrong results", bad);
    CHECK(failures > 0, "the limit was never reached");
    return test_result();
}
