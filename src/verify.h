/* verify.h: ZMM_DEBUG=check_on_exit's walk over every heap. */
#ifndef ZMM_VERIFY_H
#define ZMM_VERIFY_H

#include "defs.h"

struct heap_check {
    size_t heaps, chunks, free_blocks, remote_blocks;
};

/* With every heap held, each free list (links, keys, the page each block is in), each list of
 * held runs, each remote list and each chunk (chunk_verify) is checked; a fault stops the
 * process with one line. The heaps of a fork's parent's other threads are left out. */
void verify_heaps(struct heap_check *c);

#endif
