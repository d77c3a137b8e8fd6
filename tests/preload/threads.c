/* threads SCENARIO: the heap under threads and fork, each scenario a fixed amount of work.
 *   prodcons     blocks cross threads: producers allocate, consumers verify and free
 *   churn        200 short-lived threads; blocks outlive their thread and are freed elsewhere
 *   fork         fork while 3 threads allocate (one through stdio); the child allocates at once
 *   fork-signal  fork from a SIGALRM handler that interrupts threads inside malloc and free
 *                (a fixed number of forks; at least a quarter must come from inside)
 *   exit-dtor    malloc and free from thread-exit destructors (__cxa_thread_atexit_impl,
 *                pthread key destructors in every round), blocks handed to the main thread */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zmm_test.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Blocks carry their size and a seed in the first 16 bytes and a word pattern after that. */
struct hdr {
    size_t size;
    uint64_t seed;
};

static uint64_t word_of(uint64_t seed, size_t i)
{
    return seed * 0x9E3779B97F4A7C15ULL + i * 0xBF58476D1CE4E5B9ULL;
}

static void *make_block(size_t size, uint64_t seed)
{
    if (size < sizeof(struct hdr))
        size = sizeof(struct hdr);
    unsigned char *p = malloc(size);
    if (!p)
        return NULL;
    struct hdr h = {size, seed};
    memcpy(p, &h, sizeof h);
    size_t words = (size - sizeof h) / 8;
    uint64_t *w = (uint64_t *)(void *)(p + sizeof h);
    for (size_t i = 0; i < words; i++)
        w[i] = word_of(seed, i);
    for (size_t i = sizeof h + words * 8; i < size; i++)
        p[i] = (unsigned char)seed;
    return p;
}

/* 0 if the block is intact; else a description in BUF. */
static int verify_block(const void *vp, char *buf, size_t len)
{
    const unsigned char *p = vp;
    struct hdr h;
    memcpy(&h, p, sizeof h);
    if (h.size < sizeof h || h.size > 64 * MiB) {
        snprintf(buf, len, "block %p: bad header size %zu", vp, h.size);
        return 1;
    }
    if (((uintptr_t)p & 15) != 0) {
        snprintf(buf, len, "block %p not 16-byte aligned", vp);
        return 1;
    }
    size_t u = malloc_usable_size((void *)(uintptr_t)vp);
    if (u < h.size) {
        snprintf(buf, len, "block %p: usable %zu < size %zu", vp, u, h.size);
        return 1;
    }
    size_t words = (h.size - sizeof h) / 8;
    const uint64_t *w = (const uint64_t *)(const void *)(p + sizeof h);
    for (size_t i = 0; i < words; i++)
        if (w[i] != word_of(h.seed, i)) {
            snprintf(buf, len, "block %p (%zu bytes): word %zu changed", vp, h.size, i);
            return 1;
        }
    for (size_t i = sizeof h + words * 8; i < h.size; i++)
        if (p[i] != (unsigned char)h.seed) {
            snprintf(buf, len, "block %p (%zu bytes): byte %zu changed", vp, h.size, i);
            return 1;
        }
    return 0;
}

/* Failures found in threads, reported by the main thread. */
static atomic_int thread_failures;
static char first_failure[256];
static pthread_mutex_t failure_lock = PTHREAD_MUTEX_INITIALIZER;

static void thread_fail(const char *msg)
{
    pthread_mutex_lock(&failure_lock);
    if (atomic_fetch_add(&thread_failures, 1) == 0)
        snprintf(first_failure, sizeof first_failure, "%s", msg);
    pthread_mutex_unlock(&failure_lock);
}

static void verify_and_free(void *p)
{
    char msg[200];
    if (verify_block(p, msg, sizeof msg))
        thread_fail(msg);
    free(p);
}

static size_t mixed_size(uint64_t *rng)
{
    uint64_t r = zt_rand(rng);
    unsigned pick = (unsigned)(r % 100);
    r >>= 8;
    if (pick < 80)
        return 16 + (size_t)(r % 497);          /* small */
    if (pick < 95)
        return 512 + (size_t)(r % (16 * KiB));  /* small and large */
    if (pick < 99)
        return 16 * KiB + (size_t)(r % (48 * KiB));
    return 64 * KiB + (size_t)(r % (200000 - 64 * KiB + 1));
}

static void report_thread_failures(void)
{
    int n = atomic_load(&thread_failures);
    CHECK(n == 0, "%d failures in threads, first: %s", n, first_failure);
}

/* ---- prodcons ------------------------------------------------------------------------- */

enum { PC_PRODUCERS = 2, PC_CONSUMERS = 2, PC_PER_PRODUCER = 100000, PC_BATCH = 32,
       PC_QUEUE = 64 };

struct batch {
    int n;
    void *p[PC_BATCH];
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    struct batch q[PC_QUEUE];
    int head, count, producers_left;
    long consumed;
} pc = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
        {{0, {0}}}, 0, 0, PC_PRODUCERS, 0};

static void *producer(void *arg)
{
    uint64_t rng = 0x1234567ULL + (uintptr_t)arg * 7919;
    struct batch b = {0, {0}};
    for (long i = 0; i < PC_PER_PRODUCER; i++) {
        size_t size = mixed_size(&rng);
        void *p = make_block(size, zt_rand(&rng));
        if (!p) {
            thread_fail("producer: malloc returned NULL");
            continue;
        }
        b.p[b.n++] = p;
        if (b.n == PC_BATCH || i == PC_PER_PRODUCER - 1) {
            pthread_mutex_lock(&pc.lock);
            while (pc.count == PC_QUEUE)
                pthread_cond_wait(&pc.not_full, &pc.lock);
            pc.q[(pc.head + pc.count) % PC_QUEUE] = b;
            pc.count++;
            pthread_cond_signal(&pc.not_empty);
            pthread_mutex_unlock(&pc.lock);
            b.n = 0;
        }
    }
    pthread_mutex_lock(&pc.lock);
    pc.producers_left--;
    pthread_cond_broadcast(&pc.not_empty);
    pthread_mutex_unlock(&pc.lock);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    long mine = 0;
    for (;;) {
        pthread_mutex_lock(&pc.lock);
        while (pc.count == 0 && pc.producers_left > 0)
            pthread_cond_wait(&pc.not_empty, &pc.lock);
        if (pc.count == 0) {
            pc.consumed += mine;
            pthread_mutex_unlock(&pc.lock);
            return NULL;
        }
        struct batch b = pc.q[pc.head];
        pc.head = (pc.head + 1) % PC_QUEUE;
        pc.count--;
        pthread_cond_signal(&pc.not_full);
        pthread_mutex_unlock(&pc.lock);
        for (int i = 0; i < b.n; i++) {
            verify_and_free(b.p[i]);
            mine++;
        }
    }
}

static long prodcons_round(void)
{
    pc.head = pc.count = 0;
    pc.producers_left = PC_PRODUCERS;
    pc.consumed = 0;
    pthread_t t[PC_PRODUCERS + PC_CONSUMERS];
    for (int i = 0; i < PC_PRODUCERS; i++)
        if (pthread_create(&t[i], NULL, producer, (void *)(uintptr_t)i))
            FATAL("pthread_create failed");
    for (int i = 0; i < PC_CONSUMERS; i++)
        if (pthread_create(&t[PC_PRODUCERS + i], NULL, consumer, NULL))
            FATAL("pthread_create failed");
    for (int i = 0; i < PC_PRODUCERS + PC_CONSUMERS; i++)
        pthread_join(t[i], NULL);
    return pc.consumed;
}

/* Two rounds with new threads: the second reuses what the first freed (zmm_memory_usage counts
 * committed pages, so it need not fall back to where it started, but it must not keep growing). */
static void scenario_prodcons(void)
{
    size_t u0 = zt_memory_usage();
    long n1 = prodcons_round();
    size_t u1 = zt_memory_usage();
    long n2 = prodcons_round();
    size_t u2 = zt_memory_usage();
    report_thread_failures();
    long want = (long)PC_PRODUCERS * PC_PER_PRODUCER;
    CHECK(n1 == want && n2 == want, "consumed %ld and %ld of %ld blocks", n1, n2, want);
    printf("prodcons: zmm_memory_usage %zu at start, %zu after round 1, %zu after round 2\n", u0,
           u1, u2);
    CHECK(u1 == (size_t)-1 || u2 <= u1 + 4 * MiB,
          "zmm_memory_usage grew from %zu to %zu in a second round that freed all it allocated",
          u1, u2);
}

/* ---- churn ---------------------------------------------------------------------------- */

enum { CH_THREADS = 200, CH_WAVE = 4, CH_BLOCKS = 300, CH_LEFT = CH_BLOCKS / 2 };
static void *churn_left[CH_THREADS][CH_LEFT];

static void *churn_thread(void *arg)
{
    int id = (int)(uintptr_t)arg;
    uint64_t rng = 0xC0FFEEULL + (uint64_t)id * 104729;
    void *mine[CH_BLOCKS];
    for (int i = 0; i < CH_BLOCKS; i++) {
        /* One huge block in every fourth thread, kept for another thread to free. */
        size_t size = (i == 151 && id % 4 == 0) ? 3 * MiB : mixed_size(&rng);
        mine[i] = make_block(size, zt_rand(&rng));
        if (!mine[i])
            thread_fail("churn: malloc returned NULL");
    }
    /* Free half of its own blocks, keep the other half for others to free. */
    for (int i = 0; i < CH_BLOCKS; i++) {
        if (i % 2 == 0) {
            if (mine[i])
                verify_and_free(mine[i]);
        } else {
            churn_left[id][i / 2] = mine[i];
        }
    }
    /* Free half of what a thread of the previous wave (now gone) left behind. */
    if (id >= CH_WAVE)
        for (int i = 0; i < CH_LEFT / 2; i++) {
            void *p = churn_left[id - CH_WAVE][i];
            churn_left[id - CH_WAVE][i] = NULL;
            if (p)
                verify_and_free(p);
        }
    return NULL;
}

static void scenario_churn(void)
{
    size_t base = zt_memory_usage(), at_wave10 = 0;
    int started = 0;
    for (int w = 0; w < CH_THREADS; w += CH_WAVE) {
        pthread_t t[CH_WAVE];
        for (int i = 0; i < CH_WAVE; i++) {
            if (pthread_create(&t[i], NULL, churn_thread, (void *)(uintptr_t)(w + i)))
                FATAL("pthread_create failed");
            started++;
        }
        for (int i = 0; i < CH_WAVE; i++)
            pthread_join(t[i], NULL);
        /* The main thread frees the other half of this wave's leftovers. */
        for (int i = 0; i < CH_WAVE; i++)
            for (int k = CH_LEFT / 2; k < CH_LEFT; k++) {
                void *p = churn_left[w + i][k];
                churn_left[w + i][k] = NULL;
                if (p)
                    verify_and_free(p);
            }
        if (w == 10 * CH_WAVE)
            at_wave10 = zt_memory_usage();
    }
    /* The last wave's first halves have no next wave to free them. */
    for (int id = 0; id < CH_THREADS; id++)
        for (int k = 0; k < CH_LEFT; k++)
            if (churn_left[id][k]) {
                verify_and_free(churn_left[id][k]);
                churn_left[id][k] = NULL;
            }
    report_thread_failures();
    CHECK(started == CH_THREADS, "started %d threads", started);
    /* The heaps of the dead threads are still usable. */
    void *p[1000];
    uint64_t rng = 99;
    for (int i = 0; i < 1000; i++)
        p[i] = make_block(mixed_size(&rng), (uint64_t)i);
    for (int i = 0; i < 1000; i++)
        if (p[i])
            verify_and_free(p[i]);
    report_thread_failures();
    /* The heaps of dead threads are adopted and reused: memory does not grow with the number
     * of threads that came and went (zmm_memory_usage counts committed pages). */
    size_t after = zt_memory_usage();
    printf("churn: zmm_memory_usage %zu at start, %zu after 10 waves, %zu after 50 and every "
           "block freed\n", base, at_wave10, after);
    CHECK(base == (size_t)-1 || after <= at_wave10 + 4 * MiB,
          "zmm_memory_usage %zu after 10 waves of threads, %zu after 50 with every block freed",
          at_wave10, after);
}

/* ---- workers for the fork scenarios --------------------------------------------------- */

static atomic_int stop_workers;
static atomic_long worker_ops;
static _Thread_local volatile sig_atomic_t in_alloc;

/* Frees and mallocs at random (a 3 MiB block now and then) until told to stop; with BURSTS
 * it leaves the CPUs (2 on CI) to the forking thread and its child every 256 operations. */
static void churn_until_stopped(int id, uint64_t seed, size_t fill, bool bursts)
{
    uint64_t rng = seed + (uint64_t)id;
    enum { SLOTS = 256 };
    void *slot[SLOTS] = {0};
    long ops = 0;
    while (!atomic_load_explicit(&stop_workers, memory_order_relaxed)) {
        int i = (int)(zt_rand(&rng) % SLOTS);
        size_t size = (ops % 997 == 0) ? 3 * MiB : mixed_size(&rng);
        in_alloc = 1;
        free(slot[i]);
        slot[i] = malloc(size);
        in_alloc = 0;
        if (!slot[i]) {
            thread_fail("worker: malloc returned NULL");
            continue;
        }
        memset(slot[i], id, size < fill ? size : fill);
        if (++ops % 256 == 0 && bursts)
            sleep_ms(1);
    }
    for (int i = 0; i < SLOTS; i++)
        free(slot[i]);
    atomic_fetch_add(&worker_ops, ops);
}

static void *alloc_worker(void *arg)
{
    churn_until_stopped((int)(uintptr_t)arg, 0xABCDEFULL, 256, true);
    return NULL;
}

/* Allocates inside stdio's locks: fopen/fprintf/fclose, open_memstream, getline, fflush(NULL). */
static void *stdio_worker(void *arg)
{
    (void)arg;
    long ops = 0;
    while (!atomic_load_explicit(&stop_workers, memory_order_relaxed)) {
        FILE *f = fopen("/dev/null", "w");
        if (!f) {
            thread_fail("stdio worker: fopen(/dev/null) failed");
            break;
        }
        fprintf(f, "%ld %s\n", ops, "some text to buffer");
        fclose(f);
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (m) {
            for (int i = 0; i < 50; i++)
                fprintf(m, "line %d of some length to make the stream grow\n", i);
            fclose(m);
        }
        free(buf);
        /* getline grows its buffer with realloc inside the stream's lock. */
        static char text[] = "first line\nsecond, a longer line to make getline grow its buffer "
                             "more than once, and then some more text\nthird\n";
        FILE *g = fmemopen(text, sizeof text - 1, "r");
        if (g) {
            char *line = NULL;
            size_t cap = 0;
            while (getline(&line, &cap, g) > 0)
                ;
            free(line);
            fclose(g);
        }
        fflush(NULL);
        if (++ops % 16 == 0)
            sleep_ms(1);
    }
    atomic_fetch_add(&worker_ops, ops);
    return NULL;
}

/* ---- fork ----------------------------------------------------------------------------- */

enum { FK_FORKS = 50 };

static void child_work(void **inherited, int n_inherited)
{
    alarm(5); /* a deadlocked child dies of SIGALRM and the parent sees it */
    char msg[200];
    /* Blocks the parent's main thread allocated before fork are valid here. */
    for (int i = 0; i < n_inherited; i++) {
        if (verify_block(inherited[i], msg, sizeof msg)) {
            if (write(2, msg, strlen(msg)) < 0 || write(2, "\n", 1) < 0)
                _exit(4);
            _exit(3);
        }
        free(inherited[i]);
    }
    /* Some MB at once: small, large and huge. */
    uint64_t rng = (uint64_t)getpid();
    enum { CHILD_BLOCKS = 250 };
    void *p[CHILD_BLOCKS];
    for (int i = 0; i < CHILD_BLOCKS; i++) {
        size_t size = (i == 0) ? 3 * MiB : mixed_size(&rng);
        p[i] = make_block(size, (uint64_t)i);
        if (!p[i])
            _exit(5);
    }
    for (int i = 0; i < CHILD_BLOCKS; i++) {
        if (verify_block(p[i], msg, sizeof msg))
            _exit(6);
        free(p[i]);
    }
    if (write(1, "ok\n", 3) != 3)
        _exit(7);
    _exit(0);
}

static void scenario_fork(void)
{
    pthread_t t[3];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, alloc_worker, (void *)(uintptr_t)(i + 1)))
            FATAL("pthread_create failed");
    if (pthread_create(&t[2], NULL, stdio_worker, NULL))
        FATAL("pthread_create failed");
    sleep_ms(20);
    int ok_children = 0;
    double start = now();
    for (int f = 0; f < FK_FORKS; f++) {
        enum { INH = 20 };
        void *inherited[INH];
        uint64_t rng = (uint64_t)f + 1;
        for (int i = 0; i < INH; i++) {
            inherited[i] = make_block(i == 0 ? 3 * MiB : mixed_size(&rng), (uint64_t)(f * 100 + i));
            if (!inherited[i])
                FATAL("malloc failed");
        }
        int fds[2];
        if (pipe(fds) != 0)
            FATAL("pipe failed");
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            FATAL("fork failed: %s", strerror(errno));
        if (pid == 0) {
            close(fds[0]);
            if (dup2(fds[1], 1) < 0)
                _exit(8);
            child_work(inherited, INH);
        }
        close(fds[1]);
        char buf[16] = {0};
        size_t got = 0;
        ssize_t r;
        while (got < sizeof buf - 1 && (r = read(fds[0], buf + got, sizeof buf - 1 - got)) != 0) {
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            got += (size_t)r;
        }
        close(fds[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "fork %d: child %s %d", f, WIFEXITED(status) ? "exited with" : "killed by signal",
              WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        CHECK(strcmp(buf, "ok\n") == 0, "fork %d: child printed \"%s\", not ok", f, buf);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && strcmp(buf, "ok\n") == 0)
            ok_children++;
        for (int i = 0; i < INH; i++)
            verify_and_free(inherited[i]);
        CHECK_LIMIT(5);
    }
    atomic_store(&stop_workers, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    report_thread_failures();
    CHECK(ok_children == FK_FORKS, "%d of %d children ok", ok_children, FK_FORKS);
    CHECK(atomic_load(&worker_ops) > 0, "the workers did nothing");
    printf("fork: %d children in %.2f s, %ld worker operations\n", ok_children, now() - start,
           atomic_load(&worker_ops));
}

/* ---- fork-signal ----------------------------------------------------------------------
 * Three workers do nothing but free and malloc, with in_alloc set around the two calls; a
 * SIGALRM every 3 ms, blocked in the main thread, lands in a worker, and its handler forks. The
 * child reads in_alloc (its copy of the interrupted thread's), exits with FS_INSIDE if the fork
 * came from inside malloc or free and 0 if not, and the handler counts that status. A fixed
 * number of forks (FS_FORKS), however long they take; a fork that does not come back for
 * FS_HANG seconds is a hang (a lock held across fork), not slowness.
 * The point is fork from inside the allocator, so the scenario requires it: the workers spend
 * most of their loop inside free and malloc (the rest is a random number and a 64-byte write),
 * and a signal lands at any instant of a running or preempted worker, so most forks must come
 * from inside; a quarter is the floor (FS_INSIDE_SHARE). Blocking SIGALRM around the calls, or a
 * loop that does not allocate, makes it 0. */

enum { FS_FORKS = 300, FS_INSIDE = 42, FS_INSIDE_SHARE = 4, FS_HANG = 30 };

static atomic_int sig_forks;
static atomic_int sig_forks_in_alloc;
static atomic_int sig_errors;

/* No sleeps: the signal lands in malloc or free most of the time. */
static void *signal_worker(void *arg)
{
    churn_until_stopped((int)(uintptr_t)arg, 0x5EEDULL, 64, false);
    return NULL;
}

static void alarm_fork_handler(int sig)
{
    (void)sig;
    int saved = errno;
    int inside = in_alloc;
    pid_t pid = fork();
    if (pid == 0)
        _exit(in_alloc ? FS_INSIDE : 0);    /* the child's own copy of the flag */
    if (pid < 0) {
        atomic_fetch_add(&sig_errors, 1);
        errno = saved;
        return;
    }
    int status;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (r != pid || !WIFEXITED(status) ||
        (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != FS_INSIDE) ||
        (WEXITSTATUS(status) == FS_INSIDE) != (inside != 0))
        atomic_fetch_add(&sig_errors, 1);
    else if (WEXITSTATUS(status) == FS_INSIDE)
        atomic_fetch_add(&sig_forks_in_alloc, 1);
    atomic_fetch_add(&sig_forks, 1);
    errno = saved;
}

static void scenario_fork_signal(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = alarm_fork_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        FATAL("sigaction failed");

    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        if (pthread_create(&t[i], NULL, signal_worker, (void *)(uintptr_t)(i + 1)))
            FATAL("pthread_create failed");
    /* Only the workers take the signal: it lands inside malloc and free. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    struct itimerval it = {{0, 3000}, {0, 3000}};
    if (setitimer(ITIMER_REAL, &it, NULL) != 0)
        FATAL("setitimer failed");
    double last_progress = now();
    int last = 0, stuck = 0;
    while (atomic_load(&sig_forks) < FS_FORKS) {
        sleep_ms(10);
        int n = atomic_load(&sig_forks);
        if (n != last) {
            last = n;
            last_progress = now();
        } else if (now() - last_progress > FS_HANG) {
            stuck = 1;
            break;
        }
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    if (stuck) {
        fprintf(stderr, "fork-signal: no fork from the signal handler came back for %d s after %d "
                "(deadlock in fork or in the child?)\n", FS_HANG, last);
        fflush(stderr);
        _exit(1); /* threads may hold locks forever: do not join */
    }
    atomic_store(&stop_workers, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    report_thread_failures();
    int forks = atomic_load(&sig_forks), inside = atomic_load(&sig_forks_in_alloc);
    CHECK(forks >= FS_FORKS, "only %d forks from the signal handler", forks);
    CHECK(atomic_load(&sig_errors) == 0, "%d forks from the signal handler failed",
          atomic_load(&sig_errors));
    CHECK(inside * FS_INSIDE_SHARE >= forks,
          "only %d of %d forks came from inside malloc/free (at least 1 in %d must)", inside, forks,
          FS_INSIDE_SHARE);
    printf("fork-signal: %d forks from the handler, %d of them from inside malloc/free, %ld worker ops\n",
           forks, inside, atomic_load(&worker_ops));
    /* The heap still works in this process. */
    void *p = make_block(100000, 5);
    CHECK(p != NULL, "malloc after the forks");
    if (p)
        verify_and_free(p);
    report_thread_failures();
}

/* ---- exit-dtor ------------------------------------------------------------------------ */

extern int __cxa_thread_atexit_impl(void (*dtor)(void *), void *obj, void *dso_symbol);
extern void *__dso_handle;

enum { ED_THREADS = 24, ED_HANDED = 16 };

struct exit_state {
    int id;
    int cxa_first, cxa_second, cxa_nested;
    int key_rounds_early, key_rounds_late;
    void *handed[ED_HANDED]; /* blocks allocated during thread exit, freed by main */
    int n_handed;
};

static struct exit_state exit_states[2][ED_THREADS];
static pthread_key_t key_early, key_late;

/* Allocate and free during thread exit; keep one block for the main thread. */
static void exit_work(struct exit_state *st, uint64_t salt)
{
    uint64_t rng = salt;
    void *p[32];
    for (int i = 0; i < 32; i++) {
        size_t size = i == 31 ? 3 * MiB : i == 30 ? 100000 : mixed_size(&rng);
        p[i] = make_block(size, salt + (uint64_t)i);
        if (!p[i])
            thread_fail("exit-dtor: malloc returned NULL during thread exit");
    }
    for (int i = 0; i < 32; i++) {
        if (!p[i])
            continue;
        if (i % 8 == 0 && st->n_handed < ED_HANDED)
            st->handed[st->n_handed++] = p[i];
        else
            verify_and_free(p[i]);
    }
    void *q = realloc(NULL, 200);
    q = realloc(q, 20000);
    free(q);
    q = calloc(10, 1000);
    free(q);
}

static void cxa_nested(void *arg)
{
    struct exit_state *st = arg;
    st->cxa_nested++;
    exit_work(st, 3000 + (uint64_t)st->id);
}

static void cxa_first(void *arg)
{
    struct exit_state *st = arg;
    st->cxa_first++;
    exit_work(st, 1000 + (uint64_t)st->id);
    /* Registered while the thread's destructors run: runs after this one. */
    if (__cxa_thread_atexit_impl(cxa_nested, st, &__dso_handle) != 0)
        thread_fail("exit-dtor: __cxa_thread_atexit_impl from a destructor failed");
}

static void cxa_second(void *arg)
{
    struct exit_state *st = arg;
    st->cxa_second++;
    exit_work(st, 2000 + (uint64_t)st->id);
}

/* A key destructor that re-arms itself, so it runs in every round, after the destructors of
 * every other key (zmm's included) have run in the first one. */
static void key_dtor(void *arg)
{
    struct exit_state *st = arg;
    exit_work(st, 4000 + (uint64_t)st->id * 10 + (uint64_t)st->key_rounds_early);
    st->key_rounds_early++;
    if (pthread_setspecific(key_early, st) != 0)
        thread_fail("exit-dtor: pthread_setspecific from a destructor failed");
}

static void key_dtor_late(void *arg)
{
    struct exit_state *st = arg;
    void *p = malloc(1000);
    if (!p)
        thread_fail("exit-dtor: malloc in the late key destructor returned NULL");
    free(p);
    st->key_rounds_late++;
    if (pthread_setspecific(key_late, st) != 0)
        thread_fail("exit-dtor: pthread_setspecific from a destructor failed");
}

static void *exit_thread(void *arg)
{
    struct exit_state *st = arg;
    if (__cxa_thread_atexit_impl(cxa_first, st, &__dso_handle) != 0)
        thread_fail("exit-dtor: __cxa_thread_atexit_impl failed");
    /* The thread's heap exists from here on (and with it whatever zmm registers). */
    void *p = make_block(5000, 1);
    if (__cxa_thread_atexit_impl(cxa_second, st, &__dso_handle) != 0)
        thread_fail("exit-dtor: __cxa_thread_atexit_impl failed");
    pthread_setspecific(key_early, st);
    pthread_setspecific(key_late, st);
    if (p)
        verify_and_free(p);
    if (st->id % 2)
        pthread_exit(NULL);
    return NULL;
}

static int exit_round(int round)
{
    struct exit_state *states = exit_states[round];
    for (int i = 0; i < ED_THREADS; i++) {
        memset(&states[i], 0, sizeof states[i]);
        states[i].id = i;
    }
    /* Half one after another, half four at a time. */
    for (int i = 0; i < ED_THREADS / 2; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, exit_thread, &states[i]))
            FATAL("pthread_create failed");
        pthread_join(t, NULL);
    }
    for (int i = ED_THREADS / 2; i < ED_THREADS; i += 4) {
        pthread_t t[4];
        for (int k = 0; k < 4; k++)
            if (pthread_create(&t[k], NULL, exit_thread, &states[i + k]))
                FATAL("pthread_create failed");
        for (int k = 0; k < 4; k++)
            pthread_join(t[k], NULL);
    }
    int handed = 0;
    for (int i = 0; i < ED_THREADS; i++) {
        struct exit_state *st = &states[i];
        CHECK(st->cxa_first == 1 && st->cxa_second == 1 && st->cxa_nested == 1,
              "thread %d: __cxa_thread_atexit destructors ran %d/%d/%d times", i, st->cxa_first,
              st->cxa_second, st->cxa_nested);
        CHECK(st->key_rounds_early >= 2 && st->key_rounds_late >= 2,
              "thread %d: key destructors ran %d and %d rounds", i, st->key_rounds_early,
              st->key_rounds_late);
        for (int k = 0; k < st->n_handed; k++) {
            verify_and_free(st->handed[k]);
            handed++;
        }
    }
    report_thread_failures();
    return handed;
}

static void scenario_exit_dtor(void)
{
    if (pthread_key_create(&key_early, key_dtor) != 0)
        FATAL("pthread_key_create failed");
    /* Keys created after many others get destructors that run late in each round. */
    pthread_key_t filler[20];
    for (int i = 0; i < 20; i++)
        pthread_key_create(&filler[i], NULL);
    if (pthread_key_create(&key_late, key_dtor_late) != 0)
        FATAL("pthread_key_create failed");

    size_t u0 = zt_memory_usage();
    int h1 = exit_round(0);
    size_t u1 = zt_memory_usage();
    int h2 = exit_round(1);
    size_t u2 = zt_memory_usage();
    CHECK(h1 >= ED_THREADS * 4 && h2 >= ED_THREADS * 4,
          "only %d and %d blocks handed over from thread exit", h1, h2);
    printf("exit-dtor: zmm_memory_usage %zu at start, %zu after round 1, %zu after round 2\n",
           u0, u1, u2);
    /* Blocks allocated during thread exit and freed elsewhere are not lost. */
    CHECK(u1 == (size_t)-1 || u2 <= u1 + 4 * MiB,
          "zmm_memory_usage grew from %zu to %zu in a second round that freed all it allocated",
          u1, u2);
}

int main(int argc, char **argv)
{
    require_zmm();
    if (argc != 2)
        FATAL("usage: threads prodcons|churn|fork|fork-signal|exit-dtor");
    double start = now();
    const char *s = argv[1];
    if (!strcmp(s, "prodcons"))
        scenario_prodcons();
    else if (!strcmp(s, "churn"))
        scenario_churn();
    else if (!strcmp(s, "fork"))
        scenario_fork();
    else if (!strcmp(s, "fork-signal"))
        scenario_fork_signal();
    else if (!strcmp(s, "exit-dtor"))
        scenario_exit_dtor();
    else
        FATAL("unknown scenario %s", s);
    printf("%s: %.2f s\n", s, now() - start);
    return test_result();
}
