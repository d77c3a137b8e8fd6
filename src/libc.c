/* libc.c: the floor, the small helpers libc.h lists, each written once for every file above:
 * number parsing, the executable's path and base names, /proc/self/maps line by line, ELF
 * segments, the random seed. It calls nothing of zmm's, never allocates and keeps errno.
 * Everything here works before libc has finished starting up; the parsers are RAW_SAFE
 * (world.c's tracer calls them). */
#include "libc.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

/* ---- numbers ----------------------------------------------------------------------------- */

RAW_SAFE static unsigned digit_of(char c)
{
    return c >= '0' && c <= '9' ? (unsigned)(c - '0')
         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
}

RAW_SAFE uint64_t libc_parse_hex(const char **p)
{
    uint64_t v = 0;
    for (unsigned d; (d = digit_of(**p)) < 16; (*p)++)
        v = v << 4 | d;
    return v;
}

RAW_SAFE bool libc_parse_dec(const char **p, uint64_t max, uint64_t *v)
{
    const char *s = *p;
    uint64_t n = 0;
    unsigned d;
    for (; (d = digit_of(*s)) < 10; s++) {
        if (d > max || n > (max - d) / 10)
            return false;
        n = n * 10 + d;
    }
    if (s == *p)
        return false;
    *v = n;
    *p = s;
    return true;
}

/* ---- names and files --------------------------------------------------------------------- */

const char *libc_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

size_t libc_exe_path(char *buf, size_t size)
{
    int saved = errno;
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    errno = saved;
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

long libc_read_file(const char *path, char *buf, size_t size)
{
    int saved = errno;
    long len = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        for (len = 0; (size_t)len < size - 1;) {
            ssize_t n = read(fd, buf + len, size - 1 - (size_t)len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                len = n < 0 ? -1 : len;
                break;
            }
            len += n;
        }
        close(fd);
    }
    buf[len > 0 ? len : 0] = '\0';
    errno = saved;
    return len;
}

/* ---- /proc/self/maps --------------------------------------------------------------------- */

bool libc_maps_open(struct libc_maps *m)
{
    int saved = errno;
    m->fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    m->skip = false;
    m->have = m->start = 0;
    errno = saved;
    return m->fd >= 0;
}

void libc_maps_close(struct libc_maps *m)
{
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
}

/* The next line, NUL-terminated in the buffer; NULL at the end. A line that does not fit is
 * cut, and the rest of it dropped. */
static char *maps_line(struct libc_maps *m)
{
    for (;;) {
        char *at = m->buf + m->start;
        char *nl = memchr(at, '\n', m->have - m->start);
        m->start = nl ? (size_t)(nl - m->buf) + 1 : m->skip ? m->have : m->start;
        if (nl && m->skip) {
            m->skip = false;
            continue;
        }
        if (nl) {
            *nl = '\0';
            return at;
        }
        memmove(m->buf, m->buf + m->start, m->have - m->start);
        m->have -= m->start;
        m->start = 0;
        ssize_t n = 0;
        if (m->have < sizeof m->buf - 1) {
            do
                n = read(m->fd, m->buf + m->have, sizeof m->buf - 1 - m->have);
            while (n < 0 && errno == EINTR);
        }
        if (n > 0) {
            m->have += (size_t)n;
            continue;
        }
        if (!m->have)                   /* the end (or an error) */
            return NULL;
        m->buf[m->have] = '\0';         /* the last line without its newline, or a cut one */
        m->skip = m->have == sizeof m->buf - 1;
        m->start = m->have;
        return m->buf;
    }
}

/* "lo-hi perms offset dev inode   path" */
bool libc_maps_next(struct libc_maps *m, struct libc_mapping *out)
{
    int saved = errno;
    const char *p = m->fd >= 0 ? maps_line(m) : NULL;
    errno = saved;
    if (!p)
        return false;
    out->lo = (uintptr_t)libc_parse_hex(&p);
    p += *p == '-';
    out->hi = (uintptr_t)libc_parse_hex(&p);
    while (*p == ' ')
        p++;
    for (int i = 0; i < 4; i++)
        out->perms[i] = *p && *p != ' ' ? *p++ : '-';
    out->perms[4] = '\0';
    while (*p == ' ')
        p++;
    out->offset = libc_parse_hex(&p);
    for (int field = 0; field < 2; field++) {       /* dev, inode */
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    while (*p == ' ')
        p++;
    out->path = p;
    return true;
}

/* ---- ELF --------------------------------------------------------------------------------- */

void libc_segments(const void *ehdr, unsigned flag, void (*fn)(uintptr_t lo, uintptr_t hi, void *ctx),
                   void *ctx)
{
    const ElfW(Ehdr) *eh = ehdr;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
    uintptr_t bias = (uintptr_t)eh;
    for (unsigned i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
            bias = (uintptr_t)eh - ph[i].p_vaddr;
    for (unsigned i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & flag))
            fn(bias + ph[i].p_vaddr, bias + ph[i].p_vaddr + ph[i].p_memsz, ctx);
}

/* ---- randomness -------------------------------------------------------------------------- */

uint64_t libc_random_seed(void)
{
    static _Atomic uint64_t calls;
    uint64_t r[2] = { 0, 0 };
    int saved = errno;
    const void *at_random = (const void *)getauxval(AT_RANDOM);
    errno = saved;
    if (at_random)
        memcpy(r, at_random, sizeof r);             /* the kernel does not align it */
    uint64_t n = atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    uint64_t pid = (uint64_t)libc_sys(SYS_getpid, 0, 0, 0, 0);
    return libc_mix64(r[0] ^ libc_mix64(r[1] ^ __builtin_ia32_rdtsc() ^ pid << 32 ^ n));
}
