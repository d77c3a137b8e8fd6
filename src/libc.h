/* libc.h: the floor, small helpers every layer may use, each written once (as mimalloc's
 * libc.c): number parsing, /proc/self/maps and /proc/self/exe, ELF segments, the random seed
 * and mixer, atomic maxima, raw system calls, the clock and the futex. It calls nothing of
 * zmm's: every other file sits above it (README.md, "Repository layout", gives the order of
 * the layers; a file calls what is below it, never above). */
#ifndef ZMM_LIBC_H
#define ZMM_LIBC_H

#include <stdatomic.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <time.h>
#include "defs.h"

/* For what runs where neither errno nor the TLS is its own (world.c's tracer, on a raw clone,
 * calls only RAW_SAFE functions and libc_sys): sanitizer instrumentation would use the TLS,
 * and libc's string functions may be a sanitizer's interceptors. */
#define RAW_SAFE __attribute__((no_sanitize("address", "undefined")))

/* ---- numbers ----------------------------------------------------------------------------- */

/* The hex digits (either case) at *P, none giving 0; *P is left past them. */
RAW_SAFE uint64_t libc_parse_hex(const char **p);
/* The decimal digits at *P, at least one, into V, at most MAX; *P is left past them. False
 * (V and *P unchanged) without a digit or past MAX. */
RAW_SAFE bool libc_parse_dec(const char **p, uint64_t max, uint64_t *v);

/* ---- names and files --------------------------------------------------------------------- */

/* What follows PATH's last '/' (all of it without one). */
const char *libc_basename(const char *path);
/* The executable's path (/proc/self/exe) in BUF, NUL-terminated, cut to SIZE - 1 bytes; its
 * length, 0 (and "") when it cannot be read. */
size_t libc_exe_path(char *buf, size_t size);
/* The first SIZE - 1 bytes at most of the file PATH in BUF, NUL-terminated; how many, or -1
 * (and "") when it cannot be opened or read. errno is left as it was. */
long libc_read_file(const char *path, char *buf, size_t size);

/* ---- /proc/self/maps --------------------------------------------------------------------- */

struct libc_mapping {
    uintptr_t lo, hi;
    uint64_t offset;
    char perms[5];              /* "rw-p", NUL-terminated */
    const char *path;           /* "" for none; valid until the next libc_maps_next */
};

/* A reader of /proc/self/maps, a block at a time into its own buffer (no allocation): open,
 * next until false, close. A line longer than the buffer has its path cut. */
struct libc_maps {
    int fd;
    bool skip;                  /* dropping the rest of a line that was cut */
    size_t have, start;         /* buf[start..have): read, not yet returned */
    char buf[4096];
};

bool libc_maps_open(struct libc_maps *m);
bool libc_maps_next(struct libc_maps *m, struct libc_mapping *out);
void libc_maps_close(struct libc_maps *m);

/* ---- ELF --------------------------------------------------------------------------------- */

/* Calls FN for each loaded segment, with permission FLAG (PF_X, PF_W), of the ELF object whose
 * header is mapped at EHDR (libzmm's own: &__ehdr_start). */
void libc_segments(const void *ehdr, unsigned flag, void (*fn)(uintptr_t lo, uintptr_t hi, void *ctx),
                   void *ctx);

/* ---- randomness -------------------------------------------------------------------------- */

/* splitmix64's finaliser: every bit of X moves about half of the result's. */
static inline uint64_t libc_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A seed: the kernel's random bytes for this process (AT_RANDOM) mixed with the time stamp
 * counter, the pid and a count of calls, so that each call, and a fork child's, differs. */
uint64_t libc_random_seed(void);

/* ---- atomics ----------------------------------------------------------------------------- */

/* *AT becomes V if V is beyond it (relaxed: for peaks and bounds, not for ordering). */
#define LIBC_ATOMIC_EXTREME_(name, type, beyond)                                              \
    static inline void name(_Atomic type *at, type v)                                         \
    {                                                                                         \
        type cur = atomic_load_explicit(at, memory_order_relaxed);                            \
        while (v beyond cur &&                                                                \
               !atomic_compare_exchange_weak_explicit(at, &cur, v, memory_order_relaxed,      \
                                                      memory_order_relaxed))                  \
            ;                                                                                 \
    }
LIBC_ATOMIC_EXTREME_(libc_atomic_max, size_t, >)
LIBC_ATOMIC_EXTREME_(libc_atomic_max16, uint16_t, >)
LIBC_ATOMIC_EXTREME_(libc_atomic_min16, uint16_t, <)
#undef LIBC_ATOMIC_EXTREME_

/* ---- raw system calls, the clock and the futex ------------------------------------------- */

/* A system call that touches neither errno nor the TLS: the result, or a negative errno
 * (elsewhere than x86-64, through libc's syscall with errno kept). */
#if defined(__x86_64__)
RAW_SAFE static inline long libc_sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#else
#include <errno.h>
#include <unistd.h>
static inline long libc_sys6(long n, long a, long b, long c, long d, long e, long f)
{
    int saved = errno;
    long ret = syscall(n, a, b, c, d, e, f);
    if (ret == -1)
        ret = -errno;
    errno = saved;
    return ret;
}
#endif
#define libc_sys(n, a, b, c, d) libc_sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

/* The monotonic clock, in nanoseconds. */
RAW_SAFE static inline long libc_now_ns(void)
{
    struct timespec now;
    libc_sys(SYS_clock_gettime, CLOCK_MONOTONIC, &now, 0, 0);
    return now.tv_sec * 1000000000L + now.tv_nsec;
}

/* Sleeps while *WORD is VALUE, at most TIMEOUT_NS (0: no limit); a wake, a signal or a
 * spurious return end it early: the caller looks at *WORD again. Process-private. */
RAW_SAFE static inline void libc_futex_wait(_Atomic unsigned *word, unsigned value, long timeout_ns)
{
    struct timespec ts = { timeout_ns / 1000000000L, timeout_ns % 1000000000L };
    libc_sys6(SYS_futex, (long)word, FUTEX_WAIT_PRIVATE, value, timeout_ns ? (long)&ts : 0, 0, 0);
}

/* Wakes up to COUNT waiters on WORD (INT_MAX: all). Async-signal-safe. */
RAW_SAFE static inline void libc_futex_wake(_Atomic unsigned *word, int count)
{
    libc_sys6(SYS_futex, (long)word, FUTEX_WAKE_PRIVATE, count, 0, 0, 0);
}

#endif
