/* symbol.h: program counters to names, only while a report is written: the loaded object and
 * offset always; function (demangled) and file:line from libdw when the object has them. */
#ifndef ZMM_SYMBOL_H
#define ZMM_SYMBOL_H

#include "defs.h"

struct symbol {
    uintptr_t pc;            /* the address looked up: a call site (return address - 1) */
    char object[512];        /* full path of the loaded object holding pc; "" if none */
    uintptr_t offset;        /* pc - the object's load bias, as LeakSanitizer's (module+0x..) */
    char function[512];      /* demangled name of the (innermost inlined) function; "" unknown */
    char file[512];          /* source file as the debug information names it, joined to its
                              * unit's directory when that is absolute; "" unknown */
    unsigned line;           /* 0 unknown; file is "" exactly when line is 0 */
};

/* Opens a session (libdw through dlopen, the list of loaded objects); symbol_lookup works
 * without one too, with object and offset only. May allocate: the caller routes that to the
 * system allocator. */
void symbol_begin(void);
void symbol_lookup(uintptr_t pc, struct symbol *s);
/* Ends the session; libdw stays open for the next one (symbol_close closes it). */
void symbol_end(void);
void symbol_close(void);

#endif
