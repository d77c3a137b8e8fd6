/* request.c: owns request boundaries by signal (ZMM_REQUEST_SIGNAL). The handler does only
 * async-signal-safe work: it ends the current request at once (blocks allocated from then on
 * are born in the next one), queues the ended number and wakes the worker. The worker is a
 * zmm thread that does the scan, the report and the reclaim off the program's threads, through
 * the function alloc.c hands to request_start. It is started again in a fork child (threads do
 * not survive fork) on the first tracked allocation, and it says once if the program has put
 * a handler of its own in the place of zmm's. */
#include "request.h"
#include "libc.h"
#include "out.h"
#include "track.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUEUE 256                       /* ended requests waiting for the worker, at most */

static void (*cross)(uint32_t first, uint32_t last, bool at_exit);
static int signo;
static _Atomic uint32_t queue[QUEUE];      /* 0: a slot not written yet (or taken) */
static _Atomic uint32_t queued, taken;  /* counts: queue[i % QUEUE] for taken <= i < queued */
static _Atomic unsigned wake;           /* the worker's futex word */
static _Atomic int worker;              /* 0 none, 1 starting or running */
static _Atomic bool crossing;           /* the worker may be taking or reporting requests */
static _Atomic bool closing;            /* exit: the exiting thread reports the rest */
static bool warned;

static void request_handler(int sig)
{
    (void)sig;
    int saved = errno;
    uint32_t ended = track_next_request();
    if (!cross) {                       /* nothing to report or reclaim: the count is all */
        errno = saved;
        return;
    }
    uint32_t slot = atomic_fetch_add(&queued, 1);
    if (slot - atomic_load(&taken) < QUEUE)
        queue[slot % QUEUE] = ended;
    else
        atomic_fetch_sub(&queued, 1);   /* the worker is far behind: this one goes unreported */
    atomic_fetch_add(&wake, 1);
    libc_futex_wake(&wake, 1);
    errno = saved;
}

/* The program replaced zmm's handler (signal or sigaction after start-up): say so once, when
 * seen on two checks in a row. Whether the boundaries go on cannot be told from here: PHP,
 * for one, installs a handler that defers the signal and then calls the one it replaced. */
static void check_handler(void)
{
    static int foreign_checks;
    struct sigaction now;
    if (warned || sigaction(signo, NULL, &now) != 0)
        return;
    foreign_checks = now.sa_handler == request_handler ? 0 : foreign_checks + 1;
    if (foreign_checks < 2)
        return;
    warned = true;
    out_warn("ZMM_REQUEST_SIGNAL: the program installed its own handler for signal %d; request "
             "boundaries by signal go on only if that handler calls the one it replaced "
             "(zmm_request_end() always works)", signo);
}

/* The queued requests, oldest first, taken by one thread only (the worker, or the thread at
 * exit) and crossed together; false if none was queued. A slot a handler has counted but not
 * yet written ends the batch (it is taken next time). */
static bool request_cross(bool at_exit)
{
    uint32_t t = atomic_load(&taken), q = atomic_load(&queued), first = 0, last = 0;
    for (; t != q; t++) {
        uint32_t ended = atomic_exchange(&queue[t % QUEUE], 0);
        if (!ended)
            break;
        first = first ? first : ended;
        last = ended > last ? ended : last;
    }
    atomic_store(&taken, t);
    if (first)
        cross(first, last, at_exit);
    return first != 0;
}

/* The requests ended since the last pass are scanned together, and a long pass (a tenth of a
 * second or more) that took T is followed by T of rest (at most a second), so that a program
 * ending requests faster than its heap can be scanned still runs at least half of the time.
 * A short pass is not: each request of a small heap gets a scan of its own, soon after it
 * ended, while the program's registers and stack still hold what they held then. */
static void *request_worker(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);     /* the program's signals go to its threads */
    for (;;) {
        unsigned seen = atomic_load(&wake);
        atomic_store(&crossing, true);  /* before a take: request_flush waits on it */
        long start = libc_now_ns();
        bool crossed = !atomic_load(&closing) && request_cross(false);
        atomic_store(&crossing, false);
        check_handler();
        long rest = libc_now_ns() - start;
        if (crossed && rest >= 100000000L) {
            struct timespec pause = { 0, rest < 999999999L ? rest : 999999999L };
            nanosleep(&pause, NULL);
        }
        if (crossed)
            continue;
        libc_futex_wait(&wake, seen, 1000000000L);
    }
    return NULL;
}

static void request_spawn(void)
{
    int none = 0;
    if (!atomic_compare_exchange_strong(&worker, &none, 1))
        return;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, (size_t)256 << 10);
    if (pthread_create(&t, &attr, request_worker, NULL) != 0) {
        atomic_store(&worker, 0);
        out_warn("ZMM_REQUEST_SIGNAL: cannot start zmm's request thread; boundaries are queued");
    }
    pthread_attr_destroy(&attr);
}

void request_start(int sig, void (*cross_fn)(uint32_t first, uint32_t last, bool at_exit))
{
    if (!sig || signo)
        return;
    cross = cross_fn;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = request_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) {
        out_warn("ZMM_REQUEST_SIGNAL: cannot handle signal %d", sig);
        return;
    }
    signo = sig;
    if (cross)
        request_spawn();
}

void request_flush(void)
{
    if (!signo || !cross)
        return;
    /* The report the worker is writing is finished first (exit would cut it short, and the
     * reports keep their order), within reason: ten seconds; the rest are reported here. */
    atomic_store(&closing, true);
    for (int i = 0; i < 10000 && atomic_load(&crossing); i++) {
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    request_cross(true);
}

void request_after_fork(void)
{
    atomic_store(&worker, 0);
    atomic_store(&crossing, false);     /* the parent's worker is not here */
}

void request_ensure_worker(void)
{
    if (ZMM_UNLIKELY(signo && cross && !atomic_load_explicit(&worker, memory_order_relaxed)))
        request_spawn();
}
