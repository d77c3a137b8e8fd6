/* suppress.h: LeakSanitizer-style suppressions: "leak:PATTERN" lines that match a frame's
 * function, source file or object; built-in ones for memory the C runtime keeps on purpose. */
#ifndef ZMM_SUPPRESS_H
#define ZMM_SUPPRESS_H

#include "symbol.h"

/* Forgets what was loaded, takes the built-in list, then the file at PATH (NULL or "" for
 * none). An unreadable file or a malformed line warns once, naming ZMM_SUPPRESSIONS and the
 * line, and is skipped. No allocation. */
void suppress_load(const char *path);
/* Index of the first suppression matching any of the N frames, or -1. */
int suppress_match(const struct symbol *frames, unsigned n);
unsigned suppress_count(void);
/* "leak:PATTERN" as written (built-ins included), for the "Suppressions used" table. */
const char *suppress_text(unsigned i);
bool suppress_is_builtin(unsigned i);
/* Glob match as LeakSanitizer's: '*' any run, '^' and '$' anchor; otherwise a substring. */
bool suppress_glob(const char *pattern, const char *s);

#endif
