/* limit.h: bytes of pages and huge mappings in use, and the memory limit on them. */
#ifndef ZMM_LIMIT_H
#define ZMM_LIMIT_H

#include "defs.h"

/* Count BYTES as in use; false (nothing counted) if that passes the limit. */
bool limit_take(size_t bytes);
void limit_give(size_t bytes);
/* PHP's message, once per failed allocation. */
void limit_exhausted(size_t tried);
/* ZMM_REQUEST_LIMIT's message: REQUEST has LIMIT bytes live and asked for TRIED more. */
void limit_request_exhausted(size_t limit, uint32_t request, size_t tried);
void limit_set(size_t bytes);          /* OPT_UNSET: no limit */
size_t limit_get(void);
size_t limit_in_use(void);
size_t limit_peak(void);

#endif
