/* depot.h: each distinct stack stored once, named by a 32-bit id. */
#ifndef ZMM_DEPOT_H
#define ZMM_DEPOT_H

#include "defs.h"

#define DEPOT_NONE 0u   /* the id of "no stack known" */

/* The id of the stack PCS[0..N); DEPOT_NONE when N is 0 or memory is exhausted. */
uint32_t depot_put(const uintptr_t *pcs, unsigned n);
/* The frames of ID (none for DEPOT_NONE). Lock-free; ids stay valid for good. */
unsigned depot_get(uint32_t id, const uintptr_t **pcs);
size_t depot_stacks(void);
void depot_after_fork(void);

#endif
