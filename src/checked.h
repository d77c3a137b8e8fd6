/* checked.h: the calls of tracked mode (ZMM_LEAKS, the ZMM_REQUEST_* options that need
 * records) and of ZMM_DEBUG, which take every call off the fast paths. */
#ifndef ZMM_CHECKED_H
#define ZMM_CHECKED_H

#include "block.h"

/* Start-up: TRACKING keeps a record of every block, STACKS with its allocating stack. */
void checked_configure(bool tracking, bool stacks);

/* N bytes (ALIGN 0: malloc's alignment, else a power of two above it); NULL with ENOMEM. */
void *checked_alloc(size_t align, size_t n);
/* Block P, classified as B, freed. */
void checked_free(void *p, const struct block *b);
/* P freed as the program's free would (ZMM_REQUEST_RECLAIM's release of a leaked block). */
void checked_reclaim(void *p);
/* Block P of zmm's, classified as B, resized to N bytes (N > 0); NULL with ENOMEM (P kept). */
void *checked_realloc(void *p, const struct block *b, size_t n);
/* A system-allocator block P resized to N (N > 0), or freed (N 0), or (P NULL) N bytes of
 * alignment ALIGN allocated there: with every signal blocked (see checked.c). */
void *checked_sys(void *p, size_t align, size_t n);
/* Usable bytes of block P, classified as B: the program's under ZMM_DEBUG. */
size_t checked_usable(const void *p, const struct block *b);

#endif
