/* Stopping the world, white box: N other threads, half of them spinning in user space with a
 * value of their own in r13 (and the signals blocked, every other one), half sleeping in
 * nanosleep; each world_stop lists exactly those N, stopped, with their registers (r13) and a
 * stack pointer; nothing is left stopped or traced after world_resume, and no sleeper sees
 * EINTR (ptrace: ZMM_WORLD unset or ptrace; with ZMM_WORLD=signal the sleepers do).
 *
 * usage: unit-world                       the checks, 8 threads, 50 stops
 *        unit-world bench N STOPS [spin]   the mean time of a stop and resume with N sleeping
 *                                          (or spinning) threads, in microseconds */
#include "options.h"
#include "world.h"
#include "unit.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define MAGIC 0x7a6d6d0000000000ull

static atomic_int quit;
static atomic_int ready;
static atomic_uint eintr;

struct worker {
    pid_t tid;
    uint64_t value;                     /* in r13 while it spins */
    bool spin, block;
};

static void spin(uint64_t value)
{
    __asm__ volatile("mov %[v], %%r13\n\t"
                     "1: pause\n\t"
                     "cmpl $0, %[quit]\n\t"
                     "je 1b\n\t"
                     "xor %%r13d, %%r13d\n\t"
                     :
                     : [v] "r"(value), [quit] "m"(quit)
                     : "r13", "memory", "cc");
}

static void *work(void *arg)
{
    struct worker *w = arg;
    w->tid = gettid();
    if (w->block) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
    }
    atomic_fetch_add(&ready, 1);
    if (w->spin) {
        spin(w->value);
        return NULL;
    }
    while (!atomic_load(&quit)) {
        struct timespec ms = { 0, 20000000 };
        if (nanosleep(&ms, NULL) != 0 && errno == EINTR)
            atomic_fetch_add(&eintr, 1);
    }
    return NULL;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* N threads: MIX, every other one spins, one in four blocks the signals; else all spin
 * (SPINNING) or all sleep. */
static struct worker *start(unsigned n, bool mix, bool spinning, pthread_t *threads)
{
    struct worker *w = calloc(n, sizeof *w);
    atomic_store(&quit, 0);
    atomic_store(&ready, 0);
    for (unsigned i = 0; i < n; i++) {
        w[i] = (struct worker){ .value = MAGIC + i, .spin = mix ? i % 2 : spinning, .block = mix && i % 4 == 1 };
        if (pthread_create(&threads[i], NULL, work, &w[i]) != 0)
            abort();
    }
    while ((unsigned)atomic_load(&ready) < n)
        usleep(1000);
    usleep(20000);                      /* they are in their loops */
    return w;
}

static void stop_all(unsigned n, pthread_t *threads, struct worker *w)
{
    atomic_store(&quit, 1);
    for (unsigned i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    free(w);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench(unsigned n, unsigned stops, bool spinning)
{
    pthread_t *threads = calloc(n, sizeof *threads);
    double *times = calloc(stops, sizeof *times);
    struct worker *w = start(n, false, spinning, threads);
    struct world_thread *t;
    size_t listed = 0;
    for (unsigned i = 0; i < stops; i++) {
        double t0 = now_us();
        listed = world_stop(&t);
        world_resume();
        times[i] = now_us() - t0;
        usleep(2000);
    }
    qsort(times, stops, sizeof *times, by_value);
    const char *by = getenv("ZMM_WORLD");
    printf("world: %-6s %2u %s threads: %zu listed, stop+resume median %.0f us, p10 %.0f us, p90 %.0f us\n",
           by && *by ? by : "auto", n, spinning ? "spinning" : "sleeping", listed, times[stops / 2],
           times[stops / 10], times[stops * 9 / 10]);
    stop_all(n, threads, w);
    free(times);
    free(threads);
    return 0;
}

int main(int argc, char **argv)
{
    /* the engine's options are not loaded here: ZMM_WORLD read as the preload's start-up would */
    const char *how = getenv("ZMM_WORLD");
    size_t how_mode = WORLD_AUTO;
    if (how && !options_parse_world(how, &how_mode))
        how_mode = WORLD_AUTO;
    world_configure((unsigned)how_mode);
    if (argc >= 4 && !strcmp(argv[1], "bench"))
        return bench((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]), argc > 4 && !strcmp(argv[4], "spin"));

    struct world_thread *t;
    CHECK(world_stop(&t) == 0, "a process with one thread stops nothing");
    world_resume();

    enum { N = 8, STOPS = 50 };
    pthread_t threads[N];
    struct worker *w = start(N, true, false, threads);
    for (unsigned s = 0; s < STOPS; s++) {
        size_t n = world_stop(&t);
        CHECK(n == N, "stop %u: %zu threads listed, not %d", s, n, N);
        for (unsigned i = 0; i < N; i++) {
            const struct world_thread *x = NULL;
            for (size_t j = 0; j < n; j++)
                if (t[j].tid == w[i].tid)
                    x = &t[j];
            CHECK(x != NULL, "stop %u: thread %u not listed", s, i);
            if (!x)
                continue;
            bool ptrace = !getenv("ZMM_WORLD") || strcmp(getenv("ZMM_WORLD"), "signal");
            /* with signals, a thread that blocks them is missed */
            int state = atomic_load(&x->state);
            CHECK(state == WORLD_STOPPED || (!ptrace && w[i].block && state == WORLD_MISSED),
                  "stop %u: thread %u in state %d", s, i, state);
            CHECK(state != WORLD_STOPPED || x->sp, "stop %u: thread %u has no stack pointer", s, i);
            CHECK(state != WORLD_STOPPED || !w[i].spin || x->regs[REG_R13] == w[i].value,
                  "stop %u: thread %u: r13 %#lx, not %#lx", s, i, (unsigned long)x->regs[REG_R13],
                  (unsigned long)w[i].value);
        }
        world_resume();
        usleep(5000);
    }
    /* After the last resume nobody traces or stops the threads. */
    for (unsigned i = 0; i < N; i++) {
        char path[64], buf[2048];
        snprintf(path, sizeof path, "/proc/self/task/%d/status", w[i].tid);
        FILE *f = fopen(path, "r");
        size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[len] = '\0';
        const char *tracer = strstr(buf, "TracerPid:\t"), *state = strstr(buf, "State:\t");
        CHECK(tracer && atol(tracer + 11) == 0, "thread %u still traced", i);
        CHECK(state && state[7] != 't' && state[7] != 'T', "thread %u still stopped: %.20s", i, state);
    }
    stop_all(N, threads, w);
    const char *mode = getenv("ZMM_WORLD");
    if (!mode || strcmp(mode, "signal"))
        CHECK(atomic_load(&eintr) == 0, "%u nanosleep calls returned EINTR", atomic_load(&eintr));
    else
        printf("with signals: %u nanosleep calls returned EINTR\n", atomic_load(&eintr));
    return UNIT_DONE();
}
