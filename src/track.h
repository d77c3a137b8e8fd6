/* track.h: tracked mode (ZMM_LEAKS): a record for every live block. */
#ifndef ZMM_TRACK_H
#define ZMM_TRACK_H

#include <stdatomic.h>
#include "heap.h"

/* A live block's record. STATE is REC_LIVE while the block is allocated; the scanner adds
 * its marks while the world is stopped and clears them before it lets go. */
struct zmm_rec {
    uint32_t size;              /* requested bytes (a huge block's: see track_walk) */
    uint32_t stack;             /* depot id of the allocating stack */
    uint32_t request;           /* the request the block was born in */
    _Atomic uint32_t state;
};
enum {
    REC_LIVE = 1,
    REC_RUNTIME = 2,            /* the C runtime's own (allocated by the dynamic loader): a root */
    REC_REACHED = 4,            /* scan: reachable from a root */
    REC_INDIRECT = 8,           /* scan: reachable only from leaked blocks */
};

/* capture_stack's result: a depot id, with this bit when the stack is the runtime's. */
#define TRACK_RUNTIME 0x80000000u

extern _Atomic uint32_t track_request;       /* the current request */
extern _Atomic uint64_t track_untracked;     /* blocks served without a record (no memory) */
extern __thread bool track_guard __attribute__((tls_model("initial-exec")));  /* see track_busy */

/* Ends the current request (async-signal-safe); returns its number. */
uint32_t track_next_request(void);
/* In a fork child: the fork is a boundary; track_born is the child's first request (0 in a
 * process that is no fork child). Its exit report covers the blocks born since. */
extern uint32_t track_born;
void track_forked(void);

/* Is the calling thread inside zmm's own work (capturing, reporting)? Its allocations then go
 * to the system allocator and are never tracked. */
ZMM_INLINE bool track_busy(void) { return track_guard; }
/* Enters (ON) or leaves zmm's own work; returns whether the thread was in it. */
ZMM_INLINE bool track_busy_set(bool on)
{
    bool was = track_guard;
    track_guard = on;
    return was;
}

/* Records block P of N requested bytes from H (held by the caller) with STACK; false when
 * there was no memory for the record (the block is counted in track_untracked). */
bool track_note(struct zmm_heap *h, void *p, size_t n, uint32_t stack);
/* P is being freed: its record is no longer live. With REQUEST, returns its requested bytes
 * and (in *REQUEST) the request it was born in, when it was live; else 0 (and 0). */
size_t track_forget(void *p, uint32_t *request);

/* The live block containing ADDR (its start and requested size), or NULL. */
struct zmm_rec *track_find(uintptr_t addr, uintptr_t *start, size_t *size);
/* Calls FN for every live block. */
void track_walk(void (*fn)(uintptr_t start, size_t size, struct zmm_rec *r, void *ctx), void *ctx);
/* In a fork child, for one scan (every heap held): which pages of zmm's slots were written
 * since the fork, read once from PAGEMAP (/proc/self/pagemap); false without memory for it. */
bool track_written_begin(int pagemap);
void track_written_end(void);
/* Was ADDR's page written since the fork? (true when it cannot be told) */
bool track_written(uintptr_t addr);
/* Calls FN for every live block that overlaps a page written since the fork (every block
 * without track_written_begin). A block allocated since is among them: tracking writes its
 * first bytes. */
void track_walk_written(void (*fn)(uintptr_t start, size_t size, struct zmm_rec *r, void *ctx), void *ctx);

#endif
