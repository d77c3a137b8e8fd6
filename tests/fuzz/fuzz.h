/* fuzz.h: what the harnesses share. Each harness defines LLVMFuzzerTestOneInput and is linked
 * either with libFuzzer (clang: -fsanitize=fuzzer) or with driver.c, a deterministic replay and
 * mutation driver for any compiler. A failed check prints one "fuzz:" line and aborts, so both
 * drivers keep the input as a reproducer. */
#ifndef ZMM_FUZZ_H
#define ZMM_FUZZ_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The sanitizer runtimes' report fd (weak: absent without a sanitizer). */
void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

/* fd 2 as it was at start: the engine's warnings go to fd 2, which fuzz_quiet() points at
 * /dev/null around each call; check failures and sanitizer reports go here. */
static int fuzz_err_fd = 2;
static int fuzz_null_fd = -1;

__attribute__((unused)) static void fuzz_quiet_init(void)
{
    const char *v = getenv("ZMM_FUZZ_VERBOSE");
    if (fuzz_null_fd >= 0 || (v && *v && strcmp(v, "0")))
        return;
    fuzz_null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    fuzz_err_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (fuzz_null_fd < 0 || fuzz_err_fd < 0) {
        fuzz_err_fd = 2;
        fuzz_null_fd = -1;
        return;
    }
    if (__sanitizer_set_report_fd)
        __sanitizer_set_report_fd((void *)(intptr_t)fuzz_err_fd);
}

/* Around a call that may warn: fd 2 to /dev/null, then back. */
__attribute__((unused)) static void fuzz_quiet(int on)
{
    if (fuzz_null_fd >= 0)
        dup2(on ? fuzz_null_fd : fuzz_err_fd, 2);
}

__attribute__((format(printf, 3, 4), noreturn, unused))
static void fuzz_fail(const char *file, int line, const char *fmt, ...)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "fuzz: %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof buf)
        n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf - 1)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    fuzz_quiet(0);
    if (write(fuzz_err_fd, buf, (size_t)n) < 0) {
        /* nothing more to do */
    }
    abort();
}

#define FUZZ_CHECK(cond, ...) \
    do { if (!(cond)) fuzz_fail(__FILE__, __LINE__, "check failed: " #cond ": " __VA_ARGS__); } while (0)

/* Reads the input a byte at a time; past the end, zeros. */
struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

static inline int fuzz_left(const struct fuzz_in *in) { return in->n > 0; }

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint32_t fuzz_u16(struct fuzz_in *in)
{
    uint32_t a = fuzz_u8(in);
    return a | (uint32_t)fuzz_u8(in) << 8;
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
    uint32_t a = fuzz_u16(in);
    return a | fuzz_u16(in) << 16;
}

#endif
