/* leaklib.h: the shared library of the leaks suite (libzmmleak.so), linked into `leaks`. */
#ifndef ZMM_LEAKLIB_H
#define ZMM_LEAKLIB_H

#include <stddef.h>

/* Returns a block of N bytes allocated two calls deep inside the library. */
__attribute__((visibility("default"))) void *zmmleak_make(size_t n);

#endif
