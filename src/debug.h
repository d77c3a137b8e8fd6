/* debug.h: ZMM_DEBUG, PHP's ZEND_MM_DEBUG for any program: poisoned new and freed blocks, a
 * canary after each block, and a check of the whole heap at exit. */
#ifndef ZMM_DEBUG_H
#define ZMM_DEBUG_H

#include "defs.h"

struct debug_opts {
    bool on;                    /* some option is set: every call takes the checked path */
    bool tail;                  /* blocks carry a canary and a tail (padding or poison_free) */
    int poison_alloc;           /* byte new blocks are filled with, or -1 */
    int poison_free;            /* byte freed blocks are filled with, or -1 */
    size_t padding;             /* canary bytes after each block, at least */
    bool check_on_exit;
};
extern struct debug_opts debug_opts;

/* ZMM_DEBUG's items, as options.c parsed them: the poison bytes (-1 for none), the canary
 * bytes after each block (0 for none; rounded up to 8), the heap check at exit. */
void debug_configure(int poison_alloc, int poison_free, size_t padding, bool check_on_exit);

/* Bytes a block of the program needs beyond its own under ZMM_DEBUG (0 without a tail). */
ZMM_INLINE size_t debug_extra(void)
{
    return debug_opts.tail ? debug_opts.padding + 16 : 0;
}

enum debug_fault_kind { DEBUG_OK, DEBUG_OVERFLOW, DEBUG_TAIL, DEBUG_FREED, DEBUG_USE_AFTER_FREE };
struct debug_fault {
    enum debug_fault_kind kind;
    size_t size;                /* the program's bytes in the block */
    size_t past;                /* OVERFLOW: how far past the end the last byte written is */
    size_t offset;              /* USE_AFTER_FREE: the first byte written after free */
};

/* Block P (USABLE bytes) has just been allocated for N bytes: with REUSED (it comes from a
 * free list), the same block freed and poisoned there before is checked (a write after free
 * is reported in *F); then it is poisoned and given its canary and tail. */
void debug_born(void *p, size_t n, size_t usable, bool reused, struct debug_fault *f);
/* Block P (USABLE bytes) of a run just cut: whatever tail a past life left there is wiped. */
void debug_wipe(void *p, size_t usable);
/* Block P is being freed or reallocated: its tail and canary checked (*F), its size returned. */
size_t debug_check(const void *p, size_t usable, struct debug_fault *f);
/* Block P, checked, is being freed: poisoned, its tail marked freed. */
void debug_died(void *p, size_t usable);
/* The program's bytes in block P (malloc_usable_size under ZMM_DEBUG). */
size_t debug_size(const void *p, size_t usable);

#endif
