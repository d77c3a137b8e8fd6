/* report.h: leak reports (ZMM_LEAKS), in the format and to the place the options name. */
#ifndef ZMM_REPORT_H
#define ZMM_REPORT_H

#include "scan.h"

struct report_opts {
    const char *when;           /* the header's parenthesis ("at exit"), but per request */
    const char *trigger;        /* JSON: "exit", "request" or "api" */
    uint32_t request;           /* JSON: the request the report is about, but per request */
    uint32_t first, last;       /* only blocks born in requests FIRST..LAST; 0, 0 for all */
    bool per_request;           /* a report for each of them ("request N"), in order */
    uint32_t born;              /* a fork child's first request: see scan_opts */
    bool at_exit;               /* the calling thread is exiting */
    bool own_thread;            /* the calling thread is zmm's (the request worker) */
    bool silent;                /* scan (for reclaim) but write nothing */
    bool retained;              /* a request's report: also its blocks still reachable */
    uintptr_t stack_from;       /* not at exit: the caller's live stack starts here */
};

/* Start-up: WHERE (ZMM_REPORT: stderr, or a path with %p for the pid), JSON or text,
 * SUPPRESSIONS (a file, or empty), REACHABLE (also list reachable blocks). */
void report_configure(const char *where, bool json, const char *suppressions, bool reachable);
/* Scans once and writes the report (or one per request), one report at a time (libdw's
 * session is one); true if unsuppressed leaks (direct or indirect) were found. Symbols are
 * loaded only when there is something to name.
 * With LEAKED, the leaked blocks themselves (suppressed ones included) are handed over there
 * (scan_release gives the memory back); else LEAKED->count is 0. */
bool report_leaks(const struct report_opts *ro, struct scan_result *leaked);
/* "function file:line" (or what is known) of code address PC, for a fault line; under the
 * re-entry guard. */
void report_where(uintptr_t pc, char *buf, size_t cap);

#endif
