/* request.h: request boundaries by signal, and the worker thread that reports them. */
#ifndef ZMM_REQUEST_H
#define ZMM_REQUEST_H

#include "defs.h"

/* Handles SIG (0: none) from now on; CROSS reports (and reclaims) the requests FIRST..LAST that
 * ended since it last ran, on the worker thread (or, for the ones still queued at exit, on the
 * exiting thread). With CROSS NULL (nothing is tracked) a boundary only counts the request,
 * and no worker is started. */
void request_start(int sig, void (*cross)(uint32_t first, uint32_t last, bool at_exit));
/* At exit: the boundaries the worker has not reported yet, reported by the calling thread. */
void request_flush(void);
void request_after_fork(void);
/* Starts the worker again where it is missing (in a fork child); cheap when it runs. */
void request_ensure_worker(void);

#endif
