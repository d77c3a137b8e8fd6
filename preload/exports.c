/* exports.c: the ABI of libzmm.so. Every exported name is a one-line forward into src/;
 * the version script (zmm.map) exports exactly these, with no version node. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "process.h"
#include "fd.h"
#include "zmm.h"

#define EXPORT __attribute__((visibility("default")))

/* Names glibc exports without declaring them. */
void cfree(void *p);
void free_sized(void *p, size_t n);
void free_aligned_sized(void *p, size_t align, size_t n);
void *dlopen(const char *file, int mode);
void *__libc_malloc(size_t n);
void __libc_free(void *p);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void *__libc_valloc(size_t n);
void *__libc_pvalloc(size_t n);

EXPORT void *malloc(size_t n) { return zmm_malloc(n); }
EXPORT void free(void *p) { zmm_free(p); }
EXPORT void *calloc(size_t n, size_t m) { return zmm_calloc(n, m); }
EXPORT void *realloc(void *p, size_t n) { return zmm_realloc(p, n); }
EXPORT void *reallocarray(void *p, size_t n, size_t m) { return zmm_reallocarray(p, n, m); }
EXPORT int posix_memalign(void **out, size_t align, size_t n) { return zmm_posix_memalign(out, align, n); }
EXPORT void *aligned_alloc(size_t align, size_t n) { return zmm_memalign(align, n); }
EXPORT void *memalign(size_t align, size_t n) { return zmm_memalign(align, n); }
EXPORT void *valloc(size_t n) { return zmm_valloc(n); }
EXPORT void *pvalloc(size_t n) { return zmm_pvalloc(n); }
EXPORT size_t malloc_usable_size(void *p) { return zmm_usable_size(p); }
EXPORT void free_sized(void *p, size_t n) { zmm_free_sized(p, n); }
EXPORT void free_aligned_sized(void *p, size_t align, size_t n) { zmm_free_aligned_sized(p, align, n); }
EXPORT void cfree(void *p) { zmm_free(p); }
EXPORT int malloc_trim(size_t pad) { return zmm_malloc_trim(pad); }
EXPORT int mallopt(int param, int value) { return zmm_mallopt(param, value); }
EXPORT struct mallinfo mallinfo(void) { return zmm_mallinfo(); }
EXPORT struct mallinfo2 mallinfo2(void) { return zmm_mallinfo2(); }
EXPORT void malloc_stats(void) { zmm_malloc_stats(); }
EXPORT int malloc_info(int options, FILE *f) { return zmm_malloc_info(options, f); }

EXPORT void *__libc_malloc(size_t n) { return zmm_malloc(n); }
EXPORT void __libc_free(void *p) { zmm_free(p); }
EXPORT void *__libc_calloc(size_t n, size_t m) { return zmm_calloc(n, m); }
EXPORT void *__libc_realloc(void *p, size_t n) { return zmm_realloc(p, n); }
EXPORT void *__libc_memalign(size_t align, size_t n) { return zmm_memalign(align, n); }
EXPORT void *__libc_valloc(size_t n) { return zmm_valloc(n); }
EXPORT void *__libc_pvalloc(size_t n) { return zmm_pvalloc(n); }

/* PHP opens extensions with RTLD_DEEPBIND, which would bind their malloc to libc's. */
EXPORT void *dlopen(const char *file, int mode) { return zmm_dlopen(file, mode); }
/* libunwind makes a pipe on its first unwind, at the lowest free numbers: zmm moves it up. */
EXPORT int pipe2(int fds[2], int flags) { return fd_pipe2(fds, flags); }

EXPORT const char *zmm_version(void) { return zmm_engine_version(); }
EXPORT size_t zmm_memory_usage(void) { return zmm_usage_bytes(); }
EXPORT size_t zmm_memory_peak(void) { return zmm_peak_bytes(); }
EXPORT int zmm_set_memory_limit(size_t bytes) { return zmm_limit_bytes(bytes); }
EXPORT void zmm_stats_print(int fd) { zmm_stats_to(fd); }
EXPORT unsigned zmm_request_begin(void) { return zmm_request_next("api"); }
EXPORT unsigned zmm_request_end(void) { return zmm_request_next("api"); }
