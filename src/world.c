/* world.c: owns stopping the world, in process and without ptrace (so it works under gdb and
 * strace). Every other thread of the process is sent WORLD_SIGNAL; its handler saves the
 * thread's registers and stack pointer, says so, and waits until world_resume. Threads that
 * block the signal are left running and marked missed (their stack pointer is read from
 * /proc when they sit in a system call). The handler does only async-signal-safe work and
 * chains to a handler the program had for the same signal. The thread table is mapped once
 * and never unmapped, since a late handler may still look at it. */
#include "world.h"
#include "os.h"
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define STOP_WAIT_NS 2000000000L        /* a thread that takes longer is missed */

static struct world_thread *table;
static size_t count;
static _Atomic int active;
static _Atomic unsigned epoch;
static _Atomic int inside;              /* handlers not yet returned */
static struct sigaction chained;
static int world_signal;

static pid_t tid_self(void) { return (pid_t)syscall(SYS_gettid); }

static void futex_wait(_Atomic unsigned *word, unsigned value)
{
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic unsigned *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, __INT_MAX__, NULL, NULL, 0);
}

static struct world_thread *thread_of(pid_t tid)
{
    for (size_t i = 0; i < count; i++)
        if (table[i].tid == tid)
            return &table[i];
    return NULL;
}

static void chain(int sig, siginfo_t *si, void *ctx)
{
    if (chained.sa_flags & SA_SIGINFO) {
        if (chained.sa_sigaction)
            chained.sa_sigaction(sig, si, ctx);
    } else if (chained.sa_handler != SIG_DFL && chained.sa_handler != SIG_IGN) {
        chained.sa_handler(sig);
    }
}

static void world_handler(int sig, siginfo_t *si, void *ctx)
{
    int saved = errno;
    struct world_thread *t = NULL;
    if (si->si_code == SI_TKILL && si->si_pid == getpid() && atomic_load(&active))
        t = thread_of(tid_self());
    if (!t) {
        chain(sig, si, ctx);
        errno = saved;
        return;
    }
    atomic_fetch_add(&inside, 1);
    unsigned e = atomic_load(&epoch);
    const ucontext_t *uc = ctx;
    memcpy(t->regs, uc->uc_mcontext.gregs, sizeof t->regs);
    if (uc->uc_mcontext.fpregs)
        memcpy(t->vregs, uc->uc_mcontext.fpregs->_xmm, sizeof t->vregs);
    t->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    int expect = WORLD_SIGNALLED;
    if (atomic_compare_exchange_strong(&t->state, &expect, WORLD_STOPPED))
        while (atomic_load(&epoch) == e)
            futex_wait(&epoch, e);
    atomic_fetch_sub(&inside, 1);
    errno = saved;
}

static bool world_install(void)
{
    if (world_signal)
        return true;
    if (!table)
        table = os_map_meta(WORLD_MAX * sizeof *table);
    if (!table)
        return false;
    int sig = SIGRTMAX - 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = world_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(sig, &sa, &chained) != 0)
        return false;
    world_signal = sig;
    return true;
}

/* Does thread TID block SIG? (from /proc/self/task/TID/status: SigBlk, in hex) */
static bool blocks_signal(pid_t tid, int sig)
{
    char path[64], buf[2048];
    out_format(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
        return false;
    buf[len] = '\0';
    const char *p = strstr(buf, "SigBlk:");
    if (!p)
        return false;
    for (p += 7; *p == ' ' || *p == '\t'; p++)
        continue;
    uint64_t mask = 0;
    for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
        mask = mask << 4 | (uint64_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
    return mask >> (sig - 1) & 1;
}

/* The stack pointer of thread TID if it sits in a system call, else 0. */
static uintptr_t syscall_sp(pid_t tid)
{
    char path[64], buf[256];
    out_format(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0 || buf[0] < '0' || buf[0] > '9')
        return 0;
    buf[len] = '\0';
    /* "nr arg1 .. arg6 sp pc": the eighth field */
    const char *p = buf;
    for (int field = 0; field < 7 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    uintptr_t sp = 0;
    if (p && p[0] == '0' && p[1] == 'x')
        for (p += 2; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
            sp = sp << 4 | (uintptr_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
    return sp;
}

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Adds the threads not yet in the table and signals them; returns how many were added. */
static size_t world_gather(pid_t self)
{
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t added = 0;
    char buf[4096];
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            const struct linux_dirent64 *d = (const void *)(buf + off);
            off += d->d_reclen;
            pid_t tid = 0;
            for (const char *c = d->d_name; *c >= '0' && *c <= '9'; c++)
                tid = tid * 10 + (*c - '0');
            if (tid <= 0 || tid == self || thread_of(tid))
                continue;
            struct world_thread *t = count < WORLD_MAX ? &table[count++] : NULL;
            if (!t)
                continue;
            memset(t, 0, sizeof *t);
            t->tid = tid;
            added++;
            if (blocks_signal(tid, world_signal)) {
                t->sp = syscall_sp(tid);
                atomic_store(&t->state, WORLD_MISSED);
                continue;
            }
            atomic_store(&t->state, WORLD_SIGNALLED);
            if (syscall(SYS_tgkill, getpid(), tid, world_signal) != 0)
                atomic_store(&t->state, WORLD_GONE);
        }
    }
    close(fd);
    return added;
}

static long elapsed_ns(const struct timespec *from)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - from->tv_sec) * 1000000000L + (now.tv_nsec - from->tv_nsec);
}

/* Waits until no thread is still only signalled; the slow ones are missed. */
static void world_wait(const struct timespec *since)
{
    for (;;) {
        bool waiting = false;
        for (size_t i = 0; i < count; i++)
            if (atomic_load(&table[i].state) == WORLD_SIGNALLED)
                waiting = true;
        if (!waiting)
            return;
        if (elapsed_ns(since) > STOP_WAIT_NS)
            break;
        struct timespec nap = { 0, 50000 };
        nanosleep(&nap, NULL);
    }
    for (size_t i = 0; i < count; i++) {
        int expect = WORLD_SIGNALLED;
        if (atomic_compare_exchange_strong(&table[i].state, &expect, WORLD_MISSED))
            table[i].sp = syscall_sp(table[i].tid);
    }
}

size_t world_stop(struct world_thread **threads)
{
    count = 0;
    *threads = NULL;
    if (!world_install())
        return 0;
    atomic_store(&active, 1);
    pid_t self = tid_self();
    struct timespec since;
    clock_gettime(CLOCK_MONOTONIC, &since);
    /* Threads born while the first ones stop show up in a later listing. */
    for (int round = 0; round < 4 && world_gather(self); round++)
        world_wait(&since);
    *threads = table;
    return count;
}

void world_resume(void)
{
    if (!world_signal)
        return;
    atomic_store(&active, 0);
    atomic_fetch_add(&epoch, 1);
    futex_wake_all(&epoch);
    while (atomic_load(&inside))
        sched_yield();
}
