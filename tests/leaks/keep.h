/* keep.h: what the leak programs need so that the stacks in the reports are the ones in the
 * sources: NOIPA keeps a function a frame of its own (not inlined, cloned or merged), and
 * KEEP(p) after a call makes the compiler hold P in a register and assume memory was read, so
 * the call is not a tail call and the allocation and the stores into it cannot be dropped. */
#ifndef ZMM_LEAKS_KEEP_H
#define ZMM_LEAKS_KEEP_H

#if defined(__GNUC__) && !defined(__clang__)
#define NOIPA __attribute__((noipa))
#else
#define NOIPA __attribute__((noinline))
#endif
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

#endif
