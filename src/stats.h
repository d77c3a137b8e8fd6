/* stats.h: heap statistics: the ZMM_STATS table and glibc's reporting calls. */
#ifndef ZMM_STATS_H
#define ZMM_STATS_H

#include <malloc.h>
#include <stdio.h>
#include "defs.h"

void stats_write(int fd, const char *when);
/* Bytes in live blocks (bin sizes, large pages, huge mappings): PHP's memory_get_usage(). */
size_t stats_in_use(void);
struct mallinfo2 stats_mallinfo2(void);
void stats_malloc_stats(void);
int stats_malloc_info(int options, FILE *f);

#endif
