/* deeplib: a library that the deepbind test opens with RTLD_DEEPBIND. Its malloc and free are
 * whatever the dynamic linker bound for it: with RTLD_DEEPBIND honoured, glibc's; with zmm's
 * dlopen wrapper, zmm's. */
#include <stdlib.h>
#include <string.h>

/* The project builds with -fvisibility=hidden. */
#define EXPORT __attribute__((visibility("default")))

EXPORT void *lib_alloc(size_t n);
EXPORT void lib_free(void *p);
EXPORT void *lib_realloc(void *p, size_t n);
EXPORT void *lib_calloc(size_t n, size_t m);
EXPORT void *lib_malloc_address(void);
EXPORT void *lib_free_address(void);

void *lib_alloc(size_t n)
{
    return malloc(n);
}

void lib_free(void *p)
{
    free(p);
}

void *lib_realloc(void *p, size_t n)
{
    return realloc(p, n);
}

void *lib_calloc(size_t n, size_t m)
{
    return calloc(n, m);
}

/* The addresses this library's references to malloc and free resolved to (through its GOT). */
void *lib_malloc_address(void)
{
    void *(*f)(size_t) = malloc;
    void *r;
    memcpy(&r, &f, sizeof r);
    return r;
}

void *lib_free_address(void)
{
    void (*f)(void *) = free;
    void *r;
    memcpy(&r, &f, sizeof r);
    return r;
}
