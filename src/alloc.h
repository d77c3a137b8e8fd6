/* alloc.h: the C allocation API with glibc 2.36's contracts: alloc.c's calls, then posix.c's. */
#ifndef ZMM_ALLOC_H
#define ZMM_ALLOC_H

#include <stdio.h>
#include "defs.h"

struct mallinfo;
struct mallinfo2;

void *zmm_malloc(size_t n);
void zmm_free(void *p);
void *zmm_calloc(size_t n, size_t m);
void *zmm_realloc(void *p, size_t n);
/* ALIGN: a power of two. */
void *zmm_aligned(size_t align, size_t n);

void *zmm_reallocarray(void *p, size_t n, size_t m);
int zmm_posix_memalign(void **out, size_t align, size_t n);
void *zmm_memalign(size_t align, size_t n);
void *zmm_valloc(size_t n);
void *zmm_pvalloc(size_t n);
size_t zmm_usable_size(void *p);
void zmm_free_sized(void *p, size_t n);
void zmm_free_aligned_sized(void *p, size_t align, size_t n);
int zmm_malloc_trim(size_t pad);
int zmm_mallopt(int param, int value);
struct mallinfo zmm_mallinfo(void);
struct mallinfo2 zmm_mallinfo2(void);
void zmm_malloc_stats(void);
int zmm_malloc_info(int options, FILE *f);
void *zmm_dlopen(const char *file, int mode);

#endif
