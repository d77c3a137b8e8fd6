/* huge.h: blocks too big for a chunk, each in a CHUNK-aligned mapping of its own. */
#ifndef ZMM_HUGE_H
#define ZMM_HUGE_H

#include "defs.h"

/* A mapping of at least SIZE bytes at an ALIGN-aligned address (ALIGN >= CHUNK_SIZE);
 * *ZEROED tells whether it is fresh from the OS. NULL when memory or the limit is exhausted. */
void *huge_alloc(size_t size, size_t align, bool *zeroed);
void huge_free(void *p, uint64_t entry);
/* Resize in place or by moving the pages (no copy); NULL if neither could be done. */
void *huge_resize(void *p, uint64_t entry, size_t size);
ZMM_INLINE size_t huge_size(uint64_t entry) { return (size_t)(entry & ~(uint64_t)(PAGE_SIZE - 1)); }
size_t huge_trim(void);
void huge_after_fork(void);

struct huge_stats {
    size_t live, live_bytes, cached, cached_bytes, peak_bytes;
};
void huge_stats(struct huge_stats *s);

#endif
