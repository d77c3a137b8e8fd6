/* request.h: request boundaries (by signal or by zmm.h's call), the reports and reclaim of
 * the requests that ended, and ZMM_REQUEST_LIMIT. */
#ifndef ZMM_REQUEST_H
#define ZMM_REQUEST_H

#include "options.h"

/* Start-up, in a tracked process: REPORT writes each ended request's leak report (ZMM_LEAKS),
 * RETAINED with its blocks still reachable; RECLAIM hands each leaked block to RELEASE (the
 * program's free); LIMIT (OPT_UNSET: none) bounds the bytes born in one request and live. */
void request_configure(bool report, bool retained, bool reclaim, size_t limit, void (*release)(void *));
/* Handles SIG (0: none) from now on. In a tracked process (request_configure was called)
 * each boundary is reported (and reclaimed) on zmm's request thread, the ones still queued at
 * exit by the exiting thread; in another a boundary only counts the request, and no thread is
 * started. */
void request_start(int sig);
/* zmm.h's boundary (TRIGGER "api"): ends the current request, reports it at once when
 * tracked; returns the new request's number. */
uint32_t request_next(const char *trigger);
/* At exit: the boundaries the worker has not reported yet, reported by the calling thread. */
void request_flush(void);
void request_after_fork(void);
/* Starts the worker again where it is missing (in a fork child); cheap when it runs. */
void request_ensure_worker(void);

/* ZMM_REQUEST_LIMIT's bytes (OPT_UNSET: none, and the current request's bytes are not kept). */
extern size_t request_byte_limit;
ZMM_INLINE bool request_counting(void) { return request_byte_limit != OPT_UNSET; }
/* ZMM_REQUEST_LIMIT: may the current request grow by N bytes? (false: its message written) */
bool request_may_grow(size_t n);
/* N bytes were born in the current request; N bytes born in REQUEST died. */
void request_born(size_t n);
void request_died(uint32_t request, size_t n);

#endif
