/* alloc.h: the C allocation API with glibc 2.36's contracts, and zmm's own calls. */
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

/* Start-up (library constructor) and exit (library destructor). */
void zmm_start(void);
void zmm_exit(void);

/* zmm.h's API. A request boundary (TRIGGER "api" or "request"): returns the new request. */
uint32_t zmm_request_next(const char *trigger);
const char *zmm_engine_version(void);
size_t zmm_usage_bytes(void);
size_t zmm_peak_bytes(void);
int zmm_limit_bytes(size_t bytes);
void zmm_stats_to(int fd);

#endif
