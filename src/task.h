/* task.h: the other threads of the process, as /proc/self/task lists them. */
#ifndef ZMM_TASK_H
#define ZMM_TASK_H

#include <sys/types.h>
#include "libc.h"

/* Opens /proc/self/task for the calls below (until task_close); false if it cannot. */
bool task_open(void);
void task_close(void);
/* Calls FN(tid, ctx) for each thread listed but the caller SELF; a negative errno if the
 * listing failed, else what FN returned last that was negative, else 0. */
RAW_SAFE long task_list(pid_t self, long (*fn)(pid_t tid, void *ctx), void *ctx);
/* Has thread TID exited (a zombie, or no longer listed)? */
RAW_SAFE bool task_gone(pid_t tid);
/* The stack pointer of thread TID if it sits in a system call, else 0. */
RAW_SAFE uintptr_t task_syscall_sp(pid_t tid);
/* Does thread TID block SIG? */
bool task_blocks_signal(pid_t tid, int sig);

#endif
