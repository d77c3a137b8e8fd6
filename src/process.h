/* process.h: the process's life under zmm (start-up, fork, exit), the mode it runs in, and
 * zmm.h's calls. */
#ifndef ZMM_PROCESS_H
#define ZMM_PROCESS_H

#include <stdatomic.h>
#include "defs.h"

/* Set once, by start-up. */
struct process_mode {
    bool system_only;           /* ZMM_ALLOC=0: every call goes to the system allocator */
    bool tracking;              /* ZMM_LEAKS or a ZMM_REQUEST_* that needs records, in a selected program */
    bool stacks;                /* tracking with stacks: reports (ZMM_LEAKS, ZMM_REQUEST_RETAINED) */
    bool checked;               /* tracking or ZMM_DEBUG: every call takes the checked path */
};
extern struct process_mode process_mode;
extern atomic_int process_state;        /* 0 not started, 1 starting, 2 ready */

void process_boot(void);

/* Started (on the first call, from static storage: no dlsym, no allocation)? True when zmm's
 * heap serves the calls, false under ZMM_ALLOC=0. */
ZMM_INLINE bool process_ready(void)
{
    if (ZMM_UNLIKELY(atomic_load_explicit(&process_state, memory_order_acquire) != 2))
        process_boot();
    return !process_mode.system_only;
}

/* The library's constructor and destructor. */
void zmm_start(void);
void zmm_exit(void);

/* zmm.h's API. A request boundary (TRIGGER "api"): returns the new request. */
uint32_t zmm_request_next(const char *trigger);
const char *zmm_engine_version(void);
size_t zmm_usage_bytes(void);
size_t zmm_peak_bytes(void);
int zmm_limit_bytes(size_t bytes);
void zmm_stats_to(int fd);

#endif
