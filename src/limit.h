/* limit.h: bytes of pages and huge mappings in use, and the memory limit on them. */
#ifndef ZMM_LIMIT_H
#define ZMM_LIMIT_H

#include "defs.h"

/* Count BYTES as in use; false (nothing counted) if that passes the limit. */
bool limit_take(size_t bytes);
void limit_give(size_t bytes);
/* A heap's share: *CREDIT bytes counted as in use and not yet used. Taking BYTES from it
 * takes a batch from the count when it falls short (false: that passes the limit); giving
 * BYTES back returns what is beyond two batches to the count. */
bool limit_credit_take(size_t *credit, size_t bytes);
void limit_credit_give(size_t *credit, size_t bytes);
/* PHP's message, once per failed allocation: TRIED, or the size the program asked for when
 * the caller said it with limit_asking (ZMM_DEBUG's blocks are bigger than that). */
void limit_exhausted(size_t tried);
/* The calling thread asks for N bytes (0: forget it) for the message above. */
void limit_asking(size_t n);
void limit_set(size_t bytes);          /* OPT_UNSET: no limit */
size_t limit_get(void);
size_t limit_in_use(void);
size_t limit_peak(void);

#endif
