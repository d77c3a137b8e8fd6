/* world.c: request boundaries while the program's threads sleep in system calls, or block every
 * signal. ROUNDS times, each sleeper allocates a block of its own size (born in the current
 * request), keeps the only pointer to it in its stack or in a register, and sleeps about a
 * second in its call; meanwhile the main thread leaks one block of LEAK_SIZE bytes on purpose
 * and ends the request with zmm_request_end (found with dlsym). Then each sleeper checks that
 * its call saw no EINTR, that its block still holds its bytes, and frees it (a block reclaimed
 * under it would be freed twice: zmm aborts).
 *
 * The sleepers: nanosleep through a raw system call with the pointer in r12 only;
 * clock_nanosleep, poll, select, a condition variable's timed wait and a read from a pipe
 * (woken by the main thread) with the pointer in their stack; a thread that blocks every
 * signal and sleeps in nanosleep with the pointer in its stack; a thread that blocks every
 * signal and spins in user space with the pointer in r12 only (no system call: /proc shows no
 * stack pointer for it, only a stop reads its registers); and, listed apart because the kernel
 * makes them return EINTR after any stop (ptrace(2), BUGS), epoll_wait and sigtimedwait.
 *
 * After each boundary every thread must be as it was before: running, and traced by whoever
 * traced the main thread at the start (nobody, or a debugger), never left to zmm's tracer.
 *
 * With "seccomp", a filter makes every ptrace call fail with EPERM (installed before the threads
 * start, so zmm's tracer inherits it too): zmm must stop the threads with signals instead.
 *
 * Prints one line per sleeper, "NAME: EINTR N, bad N", then "world: R rounds, E EINTR, B bad,
 * T left traced" (E counts the sleepers that must see none); exits 1 if E, B or T is not 0.
 * usage: world ROUNDS [seccomp] */

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LEAK_SIZE 7777
#define KEY ((uintptr_t)0x5a5a5a5a5a5a5a5aull)
#if defined(__GNUC__) && !defined(__clang__)
#define NOINLINE __attribute__((noinline, noclone))
#else
#define NOINLINE __attribute__((noinline))
#endif

enum kind { NANOSLEEP_R12, CLOCK_NANOSLEEP, POLL, SELECT, COND, READ, BLOCKED_SLEEP, BLOCKED_SPIN,
            EPOLL, SIGTIMEDWAIT, KINDS };
static const char *const names[KINDS] = {
    "nanosleep (r12)", "clock_nanosleep", "poll", "select", "pthread_cond_timedwait", "read",
    "blocked nanosleep", "blocked spin (r12)", "epoll_wait", "sigtimedwait",
};
#define MUST_NOT_EINTR(k) ((k) < EPOLL)

static size_t size_of(enum kind k) { return 4096 + 48 * (size_t)k; }

static atomic_uint go;                  /* the round the sleepers may start */
static atomic_uint asleep;              /* sleepers about to sleep in this round */
static atomic_uint done;                /* sleepers done with this round */
static atomic_int release_spin;
static unsigned eintr[KINDS], bad[KINDS];
static int pipe_fds[2];
static int epoll_fd;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

/* The block, filled, under a mask: the plain pointer is nowhere once this returns. */
static NOINLINE uintptr_t alloc_hidden(size_t size)
{
    unsigned char *p = malloc(size);
    if (!p)
        abort();
    for (size_t i = 0; i < size; i++)
        p[i] = (unsigned char)(i * 7 + size);
    return (uintptr_t)p ^ KEY;
}

/* Stale copies of the pointer below the stack pointer (malloc's frames) are wiped. */
static NOINLINE void scrub(void)
{
    volatile char buf[64 << 10];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = 0;
}

static NOINLINE bool intact(uintptr_t hidden, size_t size)
{
    const unsigned char *p = (const unsigned char *)(hidden ^ KEY);
    for (size_t i = 0; i < size; i++)
        if (p[i] != (unsigned char)(i * 7 + size))
            return false;
    return true;
}

/* nanosleep(TS) by a raw system call; the plain pointer in r12 only, the other registers
 * that the kernel keeps cleared. Returns the call's result (-EINTR...). */
static NOINLINE long sleep_r12(uintptr_t *hidden, const struct timespec *ts)
{
    long ret;
    uintptr_t h = *hidden;
    __asm__ volatile("mov %[h], %%r12\n\t"
                     "xor %[key], %%r12\n\t"
                     "xor %[h], %[h]\n\t"
                     "xor %%edx, %%edx\n\t"
                     "xor %%r8d, %%r8d\n\t"
                     "xor %%r9d, %%r9d\n\t"
                     "xor %%r10d, %%r10d\n\t"
                     "xor %%esi, %%esi\n\t"
                     "mov $35, %%eax\n\t"               /* SYS_nanosleep (ts, NULL) */
                     "syscall\n\t"
                     "mov %%r12, %[h]\n\t"
                     "xor %[key], %[h]\n\t"
                     "xor %%r12d, %%r12d\n\t"
                     : [h] "+&b"(h), "=&a"(ret)
                     : [key] "r"(KEY), "D"(ts)
                     : "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "memory", "cc");
    *hidden = h;
    return ret;
}

/* Spins in user space until the main thread releases it; the plain pointer in r12 only. */
static NOINLINE void spin_r12(uintptr_t *hidden)
{
    uintptr_t h = *hidden;
    __asm__ volatile("mov %[h], %%r12\n\t"
                     "xor %[key], %%r12\n\t"
                     "xor %[h], %[h]\n\t"
                     "xor %%eax, %%eax\n\t"
                     "xor %%ecx, %%ecx\n\t"
                     "xor %%edx, %%edx\n\t"
                     "xor %%esi, %%esi\n\t"
                     "xor %%edi, %%edi\n\t"
                     "xor %%r8d, %%r8d\n\t"
                     "xor %%r9d, %%r9d\n\t"
                     "xor %%r10d, %%r10d\n\t"
                     "xor %%r11d, %%r11d\n\t"
                     "1: pause\n\t"
                     "cmpl $0, %[flag]\n\t"
                     "je 1b\n\t"
                     "mov %%r12, %[h]\n\t"
                     "xor %[key], %[h]\n\t"
                     "xor %%r12d, %%r12d\n\t"
                     : [h] "+&b"(h)
                     : [key] "r"(KEY), [flag] "m"(release_spin)
                     : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "memory", "cc");
    *hidden = h;
}

/* One sleep of about a second in K's call, the block held in the stack (or r12); true if the
 * call returned EINTR. */
static NOINLINE bool sleep_once(enum kind k, uintptr_t *hidden)
{
    volatile uintptr_t slot = *hidden ^ KEY;    /* the plain pointer, in this frame */
    *hidden = 0;
    struct timespec second = { 1, 0 };
    int r = 0;
    atomic_fetch_add(&asleep, 1);
    switch (k) {
    case NANOSLEEP_R12:
        *hidden = slot ^ KEY;
        slot = 0;
        r = sleep_r12(hidden, &second) == -EINTR ? -1 : 0;
        errno = EINTR;
        break;
    case CLOCK_NANOSLEEP:
        r = clock_nanosleep(CLOCK_MONOTONIC, 0, &second, NULL);
        errno = r;
        r = r ? -1 : 0;
        break;
    case POLL:
        r = poll(NULL, 0, 1000);
        break;
    case SELECT: {
        struct timeval tv = { 1, 0 };
        r = select(0, NULL, NULL, NULL, &tv);
        break;
    }
    case COND: {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&mutex);
        int e;
        while ((e = pthread_cond_timedwait(&cond, &mutex, &until)) == 0)
            continue;                   /* never signalled: spurious wake-ups only */
        pthread_mutex_unlock(&mutex);
        r = e == ETIMEDOUT ? 0 : -1;
        errno = e;
        break;
    }
    case READ: {
        char c;
        r = read(pipe_fds[0], &c, 1) == 1 ? 0 : -1;
        break;
    }
    case BLOCKED_SLEEP:
        r = nanosleep(&second, NULL);
        break;
    case BLOCKED_SPIN:
        *hidden = slot ^ KEY;
        slot = 0;
        spin_r12(hidden);
        break;
    case EPOLL: {
        struct epoll_event ev;
        r = epoll_wait(epoll_fd, &ev, 1, 1000);
        break;
    }
    case SIGTIMEDWAIT: {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);       /* blocked in this thread, never sent */
        r = sigtimedwait(&set, NULL, &second);
        if (r < 0 && errno == EAGAIN)
            r = 0;
        break;
    }
    default:
        break;
    }
    bool interrupted = r < 0 && errno == EINTR;
    if (slot)
        *hidden = slot ^ KEY;
    return interrupted;
}

struct sleeper {
    enum kind kind;
    unsigned rounds;
};

static void *sleeper(void *arg)
{
    const struct sleeper *s = arg;
    sigset_t set;
    sigemptyset(&set);
    if (s->kind == BLOCKED_SLEEP || s->kind == BLOCKED_SPIN)
        sigfillset(&set);
    else if (s->kind == SIGTIMEDWAIT)
        sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (unsigned round = 1; round <= s->rounds; round++) {
        while (atomic_load(&go) < round)
            usleep(1000);
        uintptr_t hidden = alloc_hidden(size_of(s->kind));
        scrub();
        if (sleep_once(s->kind, &hidden))
            eintr[s->kind]++;
        if (!hidden || !intact(hidden, size_of(s->kind)))
            bad[s->kind]++;
        else
            free((void *)(hidden ^ KEY));
        atomic_fetch_add(&done, 1);
    }
    return NULL;
}

/* TracerPid of thread TID (NULL: the calling thread), or -1; *STOPPED when it sits in a stop. */
static long tracer_of(const char *tid, bool *stopped)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, tid ? "/proc/self/task/%s/status" : "/proc/thread-self/status", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *state = strstr(buf, "\nState:\t"), *tracer = strstr(buf, "\nTracerPid:\t");
    if (stopped)
        *stopped = state && (state[8] == 't' || state[8] == 'T');
    return tracer ? atol(tracer + 12) : -1;
}

/* Threads traced by another than the main thread's tracer at the start (EXPECTED), or stopped
 * when that was nobody. */
static unsigned left_traced(long expected)
{
    unsigned wrong = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            bool stopped = false;
            long tracer = tracer_of(e->d_name, &stopped);
            /* under a debugger its own stops come and go */
            if (tracer >= 0 && (tracer != expected || (stopped && !expected))) {
                fprintf(stderr, "world: thread %s is traced by %ld%s\n", e->d_name, tracer,
                        stopped ? ", stopped" : "");
                wrong++;
            }
        }
    if (d)
        closedir(d);
    return wrong;
}

/* Every ptrace call fails with EPERM, in this thread and those it creates from now on. */
static void forbid_ptrace(void)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof code / sizeof code[0], code };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("world: seccomp");
        exit(2);
    }
}

static NOINLINE void leak(void)
{
    volatile char *p = malloc(LEAK_SIZE);
    if (p)
        p[0] = 1;
}

int main(int argc, char **argv)
{
    unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 3;
    unsigned (*request_end)(void);
    *(void **)&request_end = dlsym(RTLD_DEFAULT, "zmm_request_end");
    if (!request_end) {
        fprintf(stderr, "world: zmm_request_end not found (run under LD_PRELOAD=libzmm.so)\n");
        return 2;
    }
    if (pipe(pipe_fds) != 0 || (epoll_fd = epoll_create1(0)) < 0)
        return 2;
    if (argc > 2 && !strcmp(argv[2], "seccomp"))
        forbid_ptrace();
    long tracer = tracer_of(NULL, NULL);
    unsigned traced = 0;
    static struct sleeper sleepers[KINDS];
    pthread_t threads[KINDS];
    for (int k = 0; k < KINDS; k++) {
        sleepers[k] = (struct sleeper){ (enum kind)k, rounds };
        if (pthread_create(&threads[k], NULL, sleeper, &sleepers[k]) != 0)
            return 2;
    }
    for (unsigned round = 1; round <= rounds; round++) {
        atomic_store(&asleep, 0);
        atomic_store(&done, 0);
        atomic_store(&release_spin, 0);
        atomic_store(&go, round);
        while (atomic_load(&asleep) < KINDS)
            usleep(1000);
        usleep(200000);                 /* they are in their calls */
        leak();
        request_end();
        traced += left_traced(tracer);
        atomic_store(&release_spin, 1);
        if (write(pipe_fds[1], "x", 1) != 1)
            return 2;
        while (atomic_load(&done) < KINDS)
            usleep(1000);
    }
    unsigned total_eintr = 0, total_bad = 0;
    for (int k = 0; k < KINDS; k++) {
        pthread_join(threads[k], NULL);
        printf("%s: EINTR %u, bad %u%s\n", names[k], eintr[k], bad[k],
               MUST_NOT_EINTR(k) ? "" : " (the kernel's EINTR after a stop)");
        total_eintr += MUST_NOT_EINTR(k) ? eintr[k] : 0;
        total_bad += bad[k];
    }
    printf("world: %u rounds, %u EINTR, %u bad, %u left traced\n", rounds, total_eintr, total_bad, traced);
    return total_eintr || total_bad || traced;
}
