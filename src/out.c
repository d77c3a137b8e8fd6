/* out.c: the only writer of text. Everything goes through a fixed buffer on the caller's
 * stack and write(2): no stdio, no allocation, so it is safe inside malloc, at exit and
 * after the program closed stderr (reports use a copy of fd 2 taken at start-up, kept high by
 * fd.c and written to only while it is still that file; else fd 2 as it is then).
 * Writes are retried on EINTR and partial writes; errno is left as it was. */
#include "out.h"
#include "fd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fd_mark report_copy = { .fd = -1 };

void out_open(struct out *o, int fd)
{
    o->fd = fd;
    o->len = 0;
}

void out_flush(struct out *o)
{
    int saved = errno;
    size_t done = 0;
    while (done < o->len) {
        ssize_t w = write(o->fd, o->buf + done, o->len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    o->len = 0;
    errno = saved;
}

void out_write(struct out *o, const char *s, size_t n)
{
    while (n) {
        size_t room = sizeof o->buf - o->len;
        size_t k = n < room ? n : room;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
        if (o->len == sizeof o->buf)
            out_flush(o);
    }
}

static void out_pad(struct out *o, char c, int n)
{
    while (n-- > 0)
        out_write(o, &c, 1);
}

static void out_field(struct out *o, const char *s, size_t n, int width, bool left)
{
    if (!left)
        out_pad(o, ' ', width - (int)n);
    out_write(o, s, n);
    if (left)
        out_pad(o, ' ', width - (int)n);
}

static size_t fmt_unsigned(char *end, unsigned long long v, unsigned base)
{
    size_t n = 0;
    do {
        end[-(ptrdiff_t)++n] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    return n;
}

void out_vprintf(struct out *o, const char *fmt, va_list ap)
{
    char num[32];
    char *end = num + sizeof num;
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            const char *lit = f;
            while (f[1] && f[1] != '%')
                f++;
            out_write(o, lit, (size_t)(f - lit) + 1);
            continue;
        }
        f++;
        bool left = false;
        int width = 0;
        if (*f == '-') {
            left = true;
            f++;
        }
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        int lng = 0;
        while (*f == 'l' || *f == 'z') {
            lng = 1;
            f++;
        }
        unsigned long long u;
        long long s;
        size_t n;
        switch (*f) {
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            out_field(o, str, strlen(str), width, left);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            out_field(o, &c, 1, width, left);
            break;
        }
        case 'd':
            s = lng ? va_arg(ap, long) : va_arg(ap, int);
            u = s < 0 ? 0ull - (unsigned long long)s : (unsigned long long)s;
            n = fmt_unsigned(end, u, 10);
            if (s < 0)
                end[-(ptrdiff_t)++n] = '-';
            out_field(o, end - n, n, width, left);
            break;
        case 'u':
        case 'x':
            u = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            n = fmt_unsigned(end, u, *f == 'x' ? 16 : 10);
            out_field(o, end - n, n, width, left);
            break;
        case 'p':
            u = (uintptr_t)va_arg(ap, void *);
            n = fmt_unsigned(end, u, 16);
            end[-(ptrdiff_t)++n] = 'x';
            end[-(ptrdiff_t)++n] = '0';
            out_field(o, end - n, n, width, left);
            break;
        case '%':
            out_write(o, "%", 1);
            break;
        default:
            return;
        }
    }
}

void out_printf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    out_vprintf(o, fmt, ap);
    va_end(ap);
}

size_t out_format(char *buf, size_t size, const char *fmt, ...)
{
    struct out o;
    out_open(&o, -1);
    va_list ap;
    va_start(ap, fmt);
    out_vprintf(&o, fmt, ap);
    va_end(ap);
    size_t n = o.len < size ? o.len : size - 1;
    memcpy(buf, o.buf, n);
    buf[n] = '\0';
    return n;
}

void out_keep_stderr(void)
{
    if (report_copy.fd < 0)
        fd_mark(&report_copy, fd_copy(2));
}

int out_report_fd(void)
{
    return fd_valid(&report_copy) ? report_copy.fd : 2;
}

static void out_line(const char *fmt, va_list ap)
{
    struct out o;
    out_open(&o, 2);
    out_write(&o, "zmm: ", 5);
    out_vprintf(&o, fmt, ap);
    out_write(&o, "\n", 1);
    out_flush(&o);
}

void out_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    out_line(fmt, ap);
    va_end(ap);
}

void out_fault(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    out_line(fmt, ap);
    va_end(ap);
    abort();
}
