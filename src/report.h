/* report.h: leak reports (ZMM_LEAKS), in the format and to the place the options name. */
#ifndef ZMM_REPORT_H
#define ZMM_REPORT_H

#include "scan.h"

struct report_opts {
    const char *when;           /* the header's parenthesis: "at exit", "request 3" */
    const char *trigger;        /* JSON: "exit", "request" or "api" */
    uint32_t request;           /* JSON: the request the report is about */
    uint32_t only_request;      /* only blocks born in this request; 0 for all */
    bool at_exit;               /* the calling thread is exiting */
    bool own_thread;            /* the calling thread is zmm's (the request worker) */
    bool silent;                /* scan (for reclaim) but write nothing */
    bool retained;              /* a request's report: also its blocks still reachable */
    uintptr_t stack_from;       /* not at exit: the caller's live stack starts here */
};

/* Scans and writes the report; true if unsuppressed leaks (direct or indirect) were found.
 * With LEAKED, the leaked blocks themselves (suppressed ones included) are handed over there
 * (scan_release gives the memory back); else LEAKED->count is 0. */
bool report_leaks(const struct report_opts *ro, struct scan_result *leaked);
/* "function file:line" (or what is known) of code address PC, for a fault line; under the
 * re-entry guard. */
void report_where(uintptr_t pc, char *buf, size_t cap);

#endif
