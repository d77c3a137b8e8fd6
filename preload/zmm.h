/* zmm.h: the API of libzmm.so for programs that want to talk to zmm directly.
 * Link with `pkg-config --libs zmm`, or look the functions up with dlsym(RTLD_DEFAULT, ...)
 * so that the program still runs without zmm. */
#ifndef ZMM_H
#define ZMM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, e.g. "0.1.0". */
const char *zmm_version(void);

/* Bytes in live blocks, counted as zmm hands them out (bin sizes, whole pages of large
 * runs, huge mappings): PHP's memory_get_usage(). Exact while other threads are quiet. */
size_t zmm_memory_usage(void);

/* The highest count of bytes committed to blocks (pages of runs and huge mappings, counted
 * in batches of 256 KiB per thread): PHP's memory_get_peak_usage(true). */
size_t zmm_memory_peak(void);

/* Set the memory limit (as ZMM_MEMORY_LIMIT; (size_t)-1 removes it). Returns 0. */
int zmm_set_memory_limit(size_t bytes);

/* Write the ZMM_STATS table to FD now. */
void zmm_stats_print(int fd);

/* Request boundaries. The process starts in request 1; either call ends the current request
 * N and starts N + 1 (returned). With ZMM_LEAKS, N's blocks that nothing points to any more
 * are reported, with the header "(request N)" (a clean request prints nothing); with
 * ZMM_REQUEST_RECLAIM=1 they are then freed. The caller's stack and registers are roots.
 * zmm_request_begin() before a request and zmm_request_end() after it make the time between
 * two requests a request of its own. */
unsigned zmm_request_begin(void);
unsigned zmm_request_end(void);

#ifdef __cplusplus
}
#endif

#endif
