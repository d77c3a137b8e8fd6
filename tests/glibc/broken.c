/* broken.c: a malloc that breaks two promises on purpose, to prove that scripts/glibc-tests sees
 * a bad allocator fail: malloc's blocks are 8 bytes off the 16-byte alignment (glibc's
 * tst-mallocalign1 must fail), and free does nothing, so a double free is never caught
 * (tst-tcfree1 and tst-tcfree2 expect SIGABRT and must fail). The rest works: every block
 * carries its size in the 8 bytes before it, on top of glibc's own allocator. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_memalign(size_t align, size_t n);

#define EXPORT __attribute__((visibility("default")))

static void *with_size(char *base, size_t offset, size_t n)
{
    if (!base)
        return NULL;
    memcpy(base + offset - sizeof(size_t), &n, sizeof n);
    return base + offset;
}

static size_t size_of(const void *p)
{
    size_t n;
    memcpy(&n, (const char *)p - sizeof n, sizeof n);
    return n;
}

static int too_large(size_t n, size_t extra)
{
    if (n > PTRDIFF_MAX - extra) {
        errno = ENOMEM;
        return 1;
    }
    return 0;
}

EXPORT void *malloc(size_t n)
{
    return too_large(n, 16) ? NULL : with_size(__libc_malloc(n + 16), 8, n);  /* 8 off */
}

EXPORT void free(void *p)
{
    (void)p;                            /* never freed, so never checked */
}

EXPORT void *calloc(size_t k, size_t n)
{
    if (n && k > SIZE_MAX / n) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = malloc(k * n);
    return p ? memset(p, 0, k * n) : NULL;
}

EXPORT void *realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    void *q = malloc(n);
    if (q)
        memcpy(q, p, size_of(p) < n ? size_of(p) : n);
    return q;
}

EXPORT void *memalign(size_t align, size_t n)
{
    size_t a = 16;
    while (a < align && a <= PTRDIFF_MAX / 2)
        a <<= 1;                        /* a power of two, at least the request */
    return too_large(n, a) ? NULL : with_size(__libc_memalign(a, n + a), a, n);
}

EXPORT void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }
EXPORT void *valloc(size_t n) { return memalign(4096, n); }
EXPORT void *pvalloc(size_t n) { return memalign(4096, (n + 4095) & ~(size_t)4095); }
EXPORT size_t malloc_usable_size(void *p) { return p ? size_of(p) : 0; }

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (!align || (align & (align - 1)) || align % sizeof(void *))
        return EINVAL;
    void *p = memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
