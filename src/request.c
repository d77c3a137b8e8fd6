/* request.c: owns requests: their boundaries, by signal (ZMM_REQUEST_SIGNAL) or by zmm.h's
 * call; the report and reclaim of each that ended; and ZMM_REQUEST_LIMIT's count of the bytes
 * born in the current request and still live. The handler does only async-signal-safe work:
 * it ends the current request at once (blocks allocated from then on are born in the next
 * one), queues the ended number and wakes the worker, a zmm thread that scans, reports and
 * reclaims off the program's threads. The worker is started again in a fork child (threads do
 * not survive fork) on the first tracked allocation, and it says once if the program has put
 * a handler of its own in the place of zmm's. */
#include "request.h"
#include "libc.h"
#include "options.h"
#include "out.h"
#include "report.h"
#include "track.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUEUE 256                       /* ended requests waiting for the worker, at most */

static bool tracked, reports, retained, reclaim;   /* request_configure's */
static void (*release)(void *);         /* the free that reclaims a leaked block */
size_t request_byte_limit = OPT_UNSET;
static _Atomic size_t live_bytes;       /* ZMM_REQUEST_LIMIT: born in the current request, live */
static int signo;
static _Atomic uint32_t queue[QUEUE];   /* 0: a slot not written yet (or taken) */
static _Atomic uint32_t queued, taken;  /* counts: queue[i % QUEUE] for taken <= i < queued */
static _Atomic unsigned wake;           /* the worker's futex word */
static _Atomic int worker;              /* 0 none, 1 starting or running */
static _Atomic bool crossing;           /* the worker may be taking or reporting requests */
static _Atomic bool closing;            /* exit: the exiting thread reports the rest */
static bool warned;

void request_configure(bool report, bool retained_too, bool reclaim_them, size_t limit, void (*release_fn)(void *))
{
    tracked = true;
    reports = report;
    retained = retained_too;
    reclaim = reclaim_them;
    request_byte_limit = limit;
    release = release_fn;
}

/* ---- the current request's bytes ---------------------------------------------------- */

/* Ends the current request (async-signal-safe); returns its number. */
static uint32_t request_end(void)
{
    uint32_t ended = track_next_request();
    atomic_store_explicit(&live_bytes, 0, memory_order_relaxed);
    return ended;
}

bool request_may_grow(size_t n)
{
    size_t now = atomic_load_explicit(&live_bytes, memory_order_relaxed);
    if (ZMM_LIKELY(request_byte_limit == OPT_UNSET || (n <= request_byte_limit && now <= request_byte_limit - n)))
        return true;
    out_warn("Allowed memory size of %zu bytes exhausted in request %u (tried to allocate %zu bytes)",
             request_byte_limit, (unsigned)atomic_load(&track_request), n);
    return false;
}

void request_born(size_t n)
{
    if (request_byte_limit != OPT_UNSET)
        atomic_fetch_add_explicit(&live_bytes, n, memory_order_relaxed);
}

/* Takes N from the current request's bytes, stopping at 0 (a boundary may have reset them). */
void request_died(uint32_t request, size_t n)
{
    if (request_byte_limit == OPT_UNSET || !n || request != atomic_load_explicit(&track_request, memory_order_relaxed))
        return;
    size_t v = atomic_load_explicit(&live_bytes, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&live_bytes, &v, v > n ? v - n : 0,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* ---- closing requests ------------------------------------------------------------- */

/* Requests FIRST..LAST are over: report the unreachable blocks of each (ZMM_LEAKS), from one
 * scan, and with ZMM_REQUEST_RECLAIM, free them. */
static void request_close(uint32_t first, uint32_t last, const char *trigger, bool own_thread,
                          bool at_exit, uintptr_t stack_from)
{
    struct report_opts ro = { .trigger = trigger, .first = first, .last = last, .per_request = true,
                              .own_thread = own_thread, .at_exit = at_exit, .stack_from = stack_from,
                              .silent = !reports, .retained = retained };
    struct scan_result leaked;
    report_leaks(&ro, reclaim ? &leaked : NULL);
    if (reclaim) {
        for (size_t i = 0; i < leaked.count; i++)
            if (leaked.items[i].kind != SCAN_REACHABLE)
                release((void *)leaked.items[i].start);
        scan_release(&leaked);
    }
}

/* Ends the current request N (new blocks are born in N + 1 at once); the caller's frames are
 * roots from here up (its registers were saved into them). Returns N + 1. */
static ZMM_NOINLINE uint32_t request_from_api(const char *trigger)
{
    uint32_t ended = request_end();
    if (tracked)
        request_close(ended, ended, trigger, false, false, (uintptr_t)__builtin_frame_address(0));
    return ended + 1;
}

uint32_t request_next(const char *trigger)
{
    __builtin_unwind_init();            /* the caller's registers, onto this frame */
    uint32_t n = request_from_api(trigger);
    __asm__ volatile("" ::: "memory");  /* keeps this frame (no tail call) */
    return n;
}

/* ---- boundaries by signal, and the worker ------------------------------------------- */

static void request_handler(int sig)
{
    (void)sig;
    int saved = errno;
    uint32_t ended = request_end();
    if (!tracked) {                       /* nothing to report or reclaim: the count is all */
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
        request_close(first, last, "request", !at_exit, at_exit, 0);
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

void request_start(int sig)
{
    if (!sig || signo)
        return;
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
    if (tracked)
        request_spawn();
}

void request_flush(void)
{
    if (!signo || !tracked)
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
    atomic_store_explicit(&live_bytes, 0, memory_order_relaxed);
    atomic_store(&worker, 0);
    atomic_store(&crossing, false);     /* the parent's worker is not here */
}

void request_ensure_worker(void)
{
    if (ZMM_UNLIKELY(signo && tracked && !atomic_load_explicit(&worker, memory_order_relaxed)))
        request_spawn();
}
