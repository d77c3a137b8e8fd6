/* scan.h: which live blocks nothing points to any more. */
#ifndef ZMM_SCAN_H
#define ZMM_SCAN_H

#include "defs.h"

enum { SCAN_DIRECT = 1, SCAN_INDIRECT, SCAN_REACHABLE };

struct scan_opts {
    bool at_exit;               /* the calling thread is exiting: its stack holds no roots */
    bool own_thread;            /* the calling thread is zmm's: its stack holds no roots */
    bool reachable;             /* also list reachable blocks (SCAN_REACHABLE) */
    uint32_t first, last;       /* only blocks born in requests FIRST..LAST; 0, 0 for all */
    uint32_t born;              /* a fork child's first request (0: not a fork child): blocks
                                   born before it are roots, read only where written since */
    uintptr_t stack_from;       /* not at exit: the caller's stack holds roots from here up */
};

struct scan_item {
    uint32_t stack;             /* depot id */
    uint32_t kind;              /* SCAN_* */
    uint64_t size;              /* requested bytes */
    uintptr_t start;            /* the block */
    uint32_t request;           /* the request it was born in */
};

struct scan_result {
    struct scan_item *items;    /* in scratch memory: scan_release gives it back */
    size_t count, bytes;
};

/* Start-up, in tracked mode: the scan learns where exiting threads leave their stacks. */
void scan_enable(void);
/* Stops the world, classifies every live block, resumes; false if memory for the scan was
 * not to be had (nothing is reported then). */
bool scan_run(const struct scan_opts *opts, struct scan_result *out);
void scan_release(struct scan_result *out);

#endif
