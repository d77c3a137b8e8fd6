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
    uint64_t regs[23];          /* general registers (NGREG), in ucontext's order */
    uint64_t vregs[32];         /* xmm0-15 */
    int traced;                 /* world.c's own: seized by its tracer */
    int inject;                 /* world.c's own: the signal to pass on at the detach */
};

/* The table and world.c's other memory (the tracer's stack): one mapping of this many bytes
 * at the table's address, never a root of the scan (it holds copies of registers). */
#define WORLD_TRACER_STACK ((size_t)64 << 10)
#define WORLD_BYTES (align_up(WORLD_MAX * sizeof(struct world_thread), PAGE_SIZE) + WORLD_TRACER_STACK)

/* ZMM_WORLD: enum world_mode of options.h. */
void world_configure(unsigned how);
/* Stops every other thread (the caller's heap locks held, so none is inside zmm); the table
 * stays valid until world_resume. Returns how many threads it lists. */
size_t world_stop(struct world_thread **threads);
void world_resume(void);

#endif
