/* capture.h: the stack a new block is born with, in tracked mode. */
#ifndef ZMM_CAPTURE_H
#define ZMM_CAPTURE_H

#include "heap.h"

/* DEPTH frames per stack (ZMM_STACK_DEPTH). */
void capture_configure(unsigned depth);
/* The calling stack, captured and stored (under the re-entry guard): a depot id, with
 * TRACK_RUNTIME when it is the C runtime's own. H is the calling thread's heap (NULL if it
 * has none yet), whose cache of recent stacks spares most unwinds. */
uint32_t capture_stack(struct zmm_heap *h);

#endif
