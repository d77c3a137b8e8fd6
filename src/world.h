/* world.h: stopping every other thread of the process while zmm reads memory. */
#ifndef ZMM_WORLD_H
#define ZMM_WORLD_H

#include <stdatomic.h>
#include <sys/types.h>
#include "defs.h"

#define WORLD_MAX 8192         /* threads listed at most; the table is this long */

enum { WORLD_SIGNALLED = 1, WORLD_STOPPED, WORLD_MISSED, WORLD_GONE };

struct world_thread {
    pid_t tid;
    _Atomic int state;          /* WORLD_*: stopped ones have regs; missed ones may have sp */
    uintptr_t sp;               /* 0 unknown */
    uint64_t regs[23];          /* general registers (NGREG) */
    uint64_t vregs[32];         /* xmm0-15 */
};

/* Stops every other thread (the caller's heap locks held, so none is inside zmm); the table
 * stays valid until world_resume. Returns how many threads it lists. */
size_t world_stop(struct world_thread **threads);
void world_resume(void);

#endif
