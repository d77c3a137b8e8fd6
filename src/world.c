/* world.c: owns stopping the world, two ways, the first that works: ptrace, as LeakSanitizer
 * does (a raw tracer task seizes and interrupts every other thread, reads their registers,
 * and lets them go at world_resume), or, when ptrace cannot be had, a signal every other
 * thread's handler answers by saving its registers and waiting. Each way is described at its
 * section below. A process with no other thread stops nothing (task.c lists them). The thread
 * table is mapped once and never unmapped, since a late handler may still look at it. */
#include "world.h"
#include "libc.h"
#include "options.h"
#include "os.h"
#include "out.h"
#include "task.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define STOP_WAIT_NS 2000000000L        /* a thread that takes longer is missed */
#define STOP_ROUNDS 16                  /* listings of the threads while new ones appear */

enum { MODE_AUTO = WORLD_AUTO, MODE_PTRACE = WORLD_PTRACE, MODE_SIGNAL = WORLD_SIGNAL };
enum { BY_NONE, BY_PTRACE, BY_SIGNAL };

static struct world_thread *table;
static size_t count;
static int mode = MODE_AUTO;            /* MODE_*, from ZMM_WORLD (world_configure) */
static int stopped_by;                  /* BY_*: how the current stop was made */
static long since;                      /* when the current stop began (libc_now_ns) */

/* ---- time, in raw system calls (the tracer shares the scanner's errno and TLS) --------- */

#if defined(__x86_64__)
#define WORLD_PTRACE 1                  /* the tracer's clone and registers are x86-64's */
#else
#define WORLD_PTRACE 0
#endif

RAW_SAFE static long elapsed_ns(void)
{
    return libc_now_ns() - since;
}

RAW_SAFE static void nap(long ns)
{
    struct timespec ts = { 0, ns };
    libc_sys(SYS_nanosleep, &ts, 0, 0, 0);
}

/* ---- the table ---------------------------------------------------------------------- */

RAW_SAFE static struct world_thread *thread_of(pid_t tid)
{
    for (size_t i = 0; i < count; i++)
        if (table[i].tid == tid)
            return &table[i];
    return NULL;
}

static long note_other(pid_t tid, void *ctx)
{
    (void)tid;
    *(bool *)ctx = true;
    return -1;                          /* one is enough */
}

/* ---- ptrace: the tracer ------------------------------------------------------------- */

/* ptrace, as LeakSanitizer does (x86-64): a tracer task, cloned raw (CLONE_VM | CLONE_FS |
 * CLONE_FILES | CLONE_UNTRACED: the process's memory and descriptors, but a process of its own,
 * since a thread cannot trace its own group, and none of a debugger's), seizes every other
 * thread of the process and interrupts it (PTRACE_SEIZE, PTRACE_INTERRUPT: no signal is sent),
 * waits for each to stop, reads its registers into the table, says so on a futex and waits for
 * world_resume; then it detaches them all (passing on a signal that stopped one meanwhile) and
 * exits. A thread that blocks signals stops too, and one that sleeps in a system call restarts
 * it when it is let go, as under a debugger: nanosleep, poll, select, futex waits and reads see
 * no EINTR (epoll_wait and sigtimedwait do: the kernel never restarts them after any stop).
 * The tracer shares the scanner's TLS, so it makes raw system calls only (no errno, no libc
 * call that could touch either), on a stack of its own in this file's mapping; it blocks every
 * signal, dies with the scanner (PR_SET_PDEATHSIG), and the kernel lets go of whatever a dying
 * tracer held. Yama's ptrace_scope 1 needs prctl(PR_SET_PTRACER) naming it. */

#if WORLD_PTRACE

#define TRACER RAW_SAFE __attribute__((noinline))

enum { PHASE_IDLE, PHASE_GO, PHASE_STOPPED, PHASE_FAILED, PHASE_RESUME };

static struct {
    _Atomic unsigned phase;             /* PHASE_*, the futex both sides wait on */
    _Atomic int tracer;                 /* its tid while it lives (CLONE_CHILD_CLEARTID) */
    pid_t pid, self;                    /* the process; the scanning thread, never traced */
    long tid;                           /* the tracer, until it is reaped */
    size_t waiting;                     /* seized threads not yet stopped, missed or gone */
    long failure;                       /* the negative errno that made the tracer give up */
    const char *step;                   /* and where */
} ctl;

/* clone(FLAGS, STACK, &*TID, TID, 0) running FN(ARG) on STACK, then exit(2) of that task
 * alone; returns the new task's id or a negative errno. */
long world_clone(unsigned long flags, void *stack, _Atomic int *tid, int (*fn)(void *), void *arg)
    __attribute__((visibility("hidden")));
__asm__(".text\n"
        ".p2align 4\n"
        ".globl world_clone\n"
        ".hidden world_clone\n"
        ".type world_clone, @function\n"
        "world_clone:\n"
        "    and $-16, %rsi\n"
        "    sub $16, %rsi\n"
        "    mov %rcx, 8(%rsi)\n"           /* fn, popped by the child */
        "    mov %r8, (%rsi)\n"             /* arg */
        "    mov %rdx, %r10\n"              /* child_tid, cleared at its exit */
        "    xor %r8d, %r8d\n"              /* tls: unchanged (CLONE_SETTLS is not asked) */
        "    mov $56, %eax\n"               /* SYS_clone (flags, stack, parent_tid, child_tid) */
        "    syscall\n"
        "    test %rax, %rax\n"
        "    jnz 1f\n"
        "    xor %ebp, %ebp\n"
        "    pop %rdi\n"
        "    pop %rax\n"
        "    call *%rax\n"
        "    mov %eax, %edi\n"
        "    mov $60, %eax\n"               /* SYS_exit: the tracer only */
        "    syscall\n"
        "    hlt\n"
        "1:  ret\n"
        ".size world_clone, .-world_clone\n");

static TRACER void tracer_regs(struct world_thread *t)
{
    struct user_regs_struct u;
    if (libc_sys(SYS_ptrace, PTRACE_GETREGS, t->tid, 0, &u) != 0) {
        atomic_store(&t->state, WORLD_GONE);    /* killed while stopped */
        return;
    }
    uint64_t *g = t->regs;
    g[REG_R8] = u.r8, g[REG_R9] = u.r9, g[REG_R10] = u.r10, g[REG_R11] = u.r11;
    g[REG_R12] = u.r12, g[REG_R13] = u.r13, g[REG_R14] = u.r14, g[REG_R15] = u.r15;
    g[REG_RDI] = u.rdi, g[REG_RSI] = u.rsi, g[REG_RBP] = u.rbp, g[REG_RBX] = u.rbx;
    g[REG_RDX] = u.rdx, g[REG_RAX] = u.rax, g[REG_RCX] = u.rcx, g[REG_RSP] = u.rsp;
    g[REG_RIP] = u.rip, g[REG_EFL] = u.eflags;
    t->sp = u.rsp;
    struct user_fpregs_struct f;
    if (libc_sys(SYS_ptrace, PTRACE_GETFPREGS, t->tid, 0, &f) == 0)
        memcpy(t->vregs, f.xmm_space, sizeof t->vregs);
    atomic_store(&t->state, WORLD_STOPPED);
}

/* What waitpid said of TID. */
static TRACER void tracer_status(pid_t tid, int status)
{
    struct world_thread *t = thread_of(tid);
    if (!t || !t->traced)
        return;
    int state = atomic_load(&t->state);
    if (state == WORLD_SIGNALLED)
        ctl.waiting--;
    if (!WIFSTOPPED(status)) {          /* exited, or killed */
        t->traced = 0;
        atomic_store(&t->state, WORLD_GONE);
        return;
    }
    if (state == WORLD_STOPPED || state == WORLD_GONE)
        return;
    /* PTRACE_EVENT_STOP: our interrupt, or a group stop the detach resumes; no event: a signal
     * on its way to the thread, held in its delivery stop and passed on at the detach */
    t->inject = (status >> 16) == 0 ? WSTOPSIG(status) : 0;
    tracer_regs(t);
}

static TRACER long tracer_seize(pid_t tid, void *ctx)
{
    size_t *added = ctx;
    if (thread_of(tid) || count >= WORLD_MAX)
        return 0;
    struct world_thread *t = &table[count];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    long r = libc_sys(SYS_ptrace, PTRACE_SEIZE, tid, 0, 0);
    if (r == -EPERM && task_gone(tid))          /* a zombie cannot be traced */
        r = -ESRCH;
    if (r == -ESRCH) {
        atomic_store(&t->state, WORLD_GONE);
        count++;
        return 0;
    }
    if (r != 0) {
        ctl.step = "PTRACE_SEIZE";
        return r;
    }
    t->traced = 1;
    atomic_store(&t->state, WORLD_SIGNALLED);
    ctl.waiting++;
    count++;
    (*added)++;
    libc_sys(SYS_ptrace, PTRACE_INTERRUPT, tid, 0, 0);       /* ESRCH: exiting; wait says so */
    return 0;
}

/* Until every thread of the table from FIRST on has stopped or gone, or time is up: those
 * left are missed (running, still seized; the detach or the tracer's exit lets them go). */
static TRACER void tracer_wait(size_t first)
{
    for (unsigned idle = 0; ctl.waiting;) {
        int status;
        long tid = libc_sys(SYS_wait4, -1, &status, __WALL | WNOHANG, 0);
        if (tid > 0) {
            tracer_status((pid_t)tid, status);
            idle = 0;
            continue;
        }
        if (tid == -ECHILD) {           /* none of them is left */
            for (size_t i = first; i < count; i++)
                if (atomic_load(&table[i].state) == WORLD_SIGNALLED)
                    atomic_store(&table[i].state, WORLD_GONE);
            break;
        }
        if (tid < 0 && tid != -EINTR)
            break;
        if (++idle < 64) {
            libc_sys(SYS_sched_yield, 0, 0, 0, 0);
            continue;
        }
        if (elapsed_ns() > STOP_WAIT_NS)
            break;
        if (idle % 64 == 0)             /* a main thread that exits is never reported */
            for (size_t i = first; i < count; i++)
                if (atomic_load(&table[i].state) == WORLD_SIGNALLED && task_gone(table[i].tid)) {
                    atomic_store(&table[i].state, WORLD_GONE);
                    ctl.waiting--;
                }
        nap(idle < 1000 ? 20000 : 200000);
    }
    for (size_t i = first; i < count; i++)
        if (atomic_load(&table[i].state) == WORLD_SIGNALLED) {
            table[i].sp = task_syscall_sp(table[i].tid);
            atomic_store(&table[i].state, WORLD_MISSED);
        }
    ctl.waiting = 0;
}

static TRACER void tracer_detach_all(void)
{
    for (size_t i = 0; i < count; i++)
        if (table[i].traced) {
            libc_sys(SYS_ptrace, PTRACE_DETACH, table[i].tid, 0, table[i].inject);
            table[i].traced = 0;
        }
}

static TRACER int tracer_main(void *arg)
{
    (void)arg;
    libc_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0);
    if (libc_sys(SYS_getppid, 0, 0, 0, 0) != ctl.pid)
        return 1;                       /* the scanner is gone already */
    while (atomic_load(&ctl.phase) == PHASE_IDLE)
        libc_futex_wait(&ctl.phase, PHASE_IDLE, 0);
    if (atomic_load(&ctl.phase) != PHASE_GO)
        return 1;
    long r = 0;
    /* Threads born while the first ones stop show up in a later listing; once a listing
     * adds none, every thread that could make one is stopped. */
    for (int round = 0; round < STOP_ROUNDS && r == 0; round++) {
        size_t first = count, added = 0;
        r = task_list(ctl.self, tracer_seize, &added);
        if (r < 0 && !ctl.step)
            ctl.step = "listing /proc/self/task";
        if (r < 0 || !added)
            break;
        tracer_wait(first);
    }
    if (r < 0) {
        tracer_detach_all();
        ctl.failure = r;
        atomic_store(&ctl.phase, PHASE_FAILED);
        libc_futex_wake(&ctl.phase, INT_MAX);
        return 1;
    }
    atomic_store(&ctl.phase, PHASE_STOPPED);
    libc_futex_wake(&ctl.phase, INT_MAX);
    while (atomic_load(&ctl.phase) == PHASE_STOPPED)
        libc_futex_wait(&ctl.phase, PHASE_STOPPED, 0);
    tracer_detach_all();
    return 0;
}

/* ---- ptrace: the scanner's side --------------------------------------------------- */

static int yama_scope = -1;             /* /proc/sys/kernel/yama/ptrace_scope; 0 without Yama */

static int read_yama(void)
{
    char buf[8];
    const char *p = buf;
    uint64_t scope = 0;
    libc_read_file("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof buf);
    return libc_parse_dec(&p, 9, &scope) ? (int)scope : 0;
}

/* Waits for the tracer to exit, and reaps it. */
static void tracer_reap(long tid)
{
    long r;
    do
        r = libc_sys(SYS_wait4, tid, 0, __WALL, 0);
    while (r == -EINTR);
    int alive;
    /* reaped by another thread: the kernel's wake at the tracer's exit (CLONE_CHILD_CLEARTID)
     * is a shared futex's, which no private waiter sees */
    while (r < 0 && (alive = atomic_load(&ctl.tracer)) != 0)
        libc_sys(SYS_futex, &ctl.tracer, FUTEX_WAIT, alive, 0);
}

static bool ptrace_stop(pid_t self)
{
    static bool warned;
    if (yama_scope < 0)
        yama_scope = read_yama();
    if (yama_scope >= 3) {
        ctl.step = "Yama's ptrace_scope 3", ctl.failure = -EPERM;
        goto failed;
    }
    ctl.pid = getpid();
    ctl.self = self;
    ctl.failure = 0;
    ctl.step = NULL;
    ctl.waiting = 0;
    atomic_store(&ctl.phase, PHASE_IDLE);
    count = 0;
    /* The tracer starts with every signal blocked: a handler of the program must never run
     * on its stack and TLS. */
    uint64_t all = ~(uint64_t)0, old;
    libc_sys(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof all);
    long tid = world_clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_UNTRACED | CLONE_PARENT_SETTID |
                           CLONE_CHILD_CLEARTID, (char *)table + WORLD_BYTES, &ctl.tracer, tracer_main, NULL);
    libc_sys(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, sizeof old);
    if (tid < 0) {
        ctl.step = "clone", ctl.failure = tid;
        goto failed;
    }
    ctl.tid = tid;
    if (yama_scope == 1)
        libc_sys(SYS_prctl, PR_SET_PTRACER, tid, 0, 0);
    atomic_store(&ctl.phase, PHASE_GO);
    libc_futex_wake(&ctl.phase, INT_MAX);
    unsigned phase;
    while ((phase = atomic_load(&ctl.phase)) == PHASE_GO && atomic_load(&ctl.tracer))
        libc_futex_wait(&ctl.phase, PHASE_GO, 10000000L);
    if (phase == PHASE_STOPPED)
        return true;
    tracer_reap(tid);
    ctl.tid = 0;                   /* it let go of every thread before it said so */
    if (!ctl.step)
        ctl.step = "the tracer", ctl.failure = -ECHILD;
failed:
    count = 0;
    if (mode == MODE_PTRACE && !warned) {
        warned = true;
        out_warn("ZMM_WORLD=ptrace: the threads cannot be stopped with ptrace (%s: errno %ld); "
                 "signals stop them instead", ctl.step, -ctl.failure);
    }
    return false;
}

static void ptrace_resume(void)
{
    atomic_store(&ctl.phase, PHASE_RESUME);
    libc_futex_wake(&ctl.phase, INT_MAX);
    if (ctl.tid)
        tracer_reap(ctl.tid);
    ctl.tid = 0;
}

#else
static bool ptrace_stop(pid_t self) { (void)self; return false; }
static void ptrace_resume(void) {}
#endif

/* ---- signals ------------------------------------------------------------------------ */

/* Signals, when ptrace cannot be had for a scan (ptrace_scope 3, a seccomp filter, a debugger
 * already tracing a thread, no task left to clone, ZMM_WORLD=signal; silently, one warning
 * with ZMM_WORLD=ptrace): every other thread is sent WORLD_STOP_SIGNAL (SIGRTMAX - 2); its
 * handler saves the thread's registers and stack pointer, says so, and waits until
 * world_resume. Threads that block the signal are left running and marked missed (their stack
 * pointer is read from /proc when they sit in a system call). The handler does only
 * async-signal-safe work and chains to a handler the program had for the same signal; it is
 * installed on the first such scan. */

static _Atomic int active;
static _Atomic unsigned epoch;
static _Atomic int inside;              /* handlers not yet returned */
static struct sigaction chained;
static int world_signal;

static pid_t tid_self(void) { return (pid_t)libc_sys(SYS_gettid, 0, 0, 0, 0); }

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
            libc_futex_wait(&epoch, e, 0);
    atomic_fetch_sub(&inside, 1);
    errno = saved;
}

static bool world_install(void)
{
    if (world_signal)
        return true;
    int sig = WORLD_STOP_SIGNAL;
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

/* Adds a thread not yet in the table and signals it. */
static long signal_one(pid_t tid, void *ctx)
{
    if (thread_of(tid) || count >= WORLD_MAX)
        return 0;
    struct world_thread *t = &table[count++];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    (*(size_t *)ctx)++;
    if (task_gone(tid)) {               /* a main thread that exited: no handler will run */
        atomic_store(&t->state, WORLD_GONE);
        return 0;
    }
    if (task_blocks_signal(tid, world_signal)) {
        t->sp = task_syscall_sp(tid);
        atomic_store(&t->state, WORLD_MISSED);
        return 0;
    }
    atomic_store(&t->state, WORLD_SIGNALLED);
    if (syscall(SYS_tgkill, getpid(), tid, world_signal) != 0)
        atomic_store(&t->state, WORLD_GONE);
    return 0;
}

/* Waits until no thread is still only signalled; the slow ones are missed, those that
 * exited before their handler ran are gone. */
static void signal_wait(void)
{
    for (unsigned naps = 0;; naps++) {
        bool waiting = false;
        for (size_t i = 0; i < count; i++) {
            int expect = WORLD_SIGNALLED;
            if (atomic_load(&table[i].state) != WORLD_SIGNALLED)
                continue;
            if (naps % 16 == 15 && task_gone(table[i].tid) &&
                atomic_compare_exchange_strong(&table[i].state, &expect, WORLD_GONE))
                continue;
            waiting = true;
        }
        if (!waiting)
            return;
        if (elapsed_ns() > STOP_WAIT_NS)
            break;
        nap(50000);
    }
    for (size_t i = 0; i < count; i++) {
        int expect = WORLD_SIGNALLED;
        if (atomic_compare_exchange_strong(&table[i].state, &expect, WORLD_MISSED))
            table[i].sp = task_syscall_sp(table[i].tid);
    }
}

static void signal_stop(pid_t self)
{
    count = 0;
    if (!world_install())
        return;
    atomic_store(&active, 1);
    /* Threads born while the first ones stop show up in a later listing. */
    for (int round = 0; round < 4; round++) {
        size_t added = 0;
        task_list(self, signal_one, &added);
        if (!added)
            break;
        signal_wait();
    }
}

static void signal_resume(void)
{
    atomic_store(&active, 0);
    atomic_fetch_add(&epoch, 1);
    libc_futex_wake(&epoch, INT_MAX);
    while (atomic_load(&inside))
        sched_yield();
}

/* ---- the interface ---------------------------------------------------------------- */

void world_configure(unsigned how)
{
    mode = (int)how;
}

size_t world_stop(struct world_thread **threads)
{
    count = 0;
    *threads = NULL;
    stopped_by = BY_NONE;
    if (!table)
        table = os_map_meta(WORLD_BYTES);
    if (!table)
        return 0;
    *threads = table;                   /* scan.c never reads it as roots, even empty */
    int saved = errno;
    pid_t self = tid_self();
    bool others = false;
    if (!task_open() || task_list(self, note_other, &others) != -1 || !others) {
        errno = saved;                  /* nothing else runs (or nothing can be listed) */
        return 0;
    }
    since = libc_now_ns();
    if (WORLD_PTRACE && mode != MODE_SIGNAL && ptrace_stop(self))
        stopped_by = BY_PTRACE;
    else {
        signal_stop(self);
        stopped_by = BY_SIGNAL;
    }
    errno = saved;
    return count;
}

void world_resume(void)
{
    int saved = errno;
    if (stopped_by == BY_PTRACE)
        ptrace_resume();
    else if (stopped_by == BY_SIGNAL)
        signal_resume();
    stopped_by = BY_NONE;
    task_close();
    errno = saved;
}
