/* out.h: formatted output without allocation: a fixed buffer flushed with write(2). */
#ifndef ZMM_OUT_H
#define ZMM_OUT_H

#include <stdarg.h>
#include "defs.h"

struct out {
    int fd;
    size_t len;
    char buf[1024];
};

void out_open(struct out *o, int fd);
void out_flush(struct out *o);
void out_write(struct out *o, const char *s, size_t n);
/* printf subset: %s %c %d %u %ld %lu %zu %zd %x %lx %p %%, with an optional width
 * (right-aligned, or left-aligned with '-'). */
void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void out_vprintf(struct out *o, const char *fmt, va_list ap);

/* The same format into BUF (SIZE > 0 bytes, NUL-terminated, at most sizeof(struct out's buf)
 * - 1 characters); returns the length. */
size_t out_format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The fd reports go to: the copy of stderr taken at start-up (programs close fd 2 at exit)
 * while it is still that file, else fd 2. */
int out_report_fd(void);
void out_keep_stderr(void);

/* One line "zmm: ..." on stderr, nothing else. */
void out_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line "zmm: ..." on stderr, then abort(): heap misuse or corruption. */
_Noreturn void out_fault(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
