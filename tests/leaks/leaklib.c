/* leaklib.c: libzmmleak.so, a shared library that leaks for the leaks suite (scenario `library`).
 * Same rules as leaks.c: no frame pointers, no inlining, no tail calls at the marked lines, and
 * each call the checker expects in a stack is on a line marked with a comment naming it. */
#include <stdlib.h>

#include "leaklib.h"

#include "keep.h"

#define EXPORT __attribute__((visibility("default")))  /* as in leaklib.h */

/* static: its name comes from the symbol table or DWARF, not from the dynamic symbols */
NOIPA static void *zmmleak_inner(size_t n)
{
    void *p = malloc(n); /* @lib-inner */
    KEEP(p);
    return p;
}

EXPORT NOIPA void *zmmleak_make(size_t n)
{
    void *p = zmmleak_inner(n); /* @lib-make */
    KEEP(p);
    return p;
}
