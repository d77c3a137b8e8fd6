/* sys.h: the system allocator (glibc's own malloc family), found without dlsym. */
#ifndef ZMM_SYS_H
#define ZMM_SYS_H

#include "defs.h"

void *sys_malloc(size_t n);
void *sys_calloc(size_t n, size_t m);
void *sys_realloc(void *p, size_t n);
void *sys_memalign(size_t align, size_t n);
void sys_free(void *p);
size_t sys_usable_size(void *p);
/* libc's dlopen, for the RTLD_DEEPBIND wrapper. */
void *sys_dlopen(const char *file, int mode);

/* Under tracking: glibc serves zmm's own work (libdw, libunwind) from its main arena only,
 * the brk heap that the leak scan skips, not from per-thread arenas it would read. */
void sys_one_arena(void);
/* Called once at start-up, before anything is allocated. */
void sys_init(void);
/* Might P have come from the system allocator? (true once zmm has used it, or when P lies
 * in the brk heap); a pointer that is neither zmm's nor the system's is a fault. */
bool sys_owns(const void *p);

#endif
