/* options.h: the ZMM_* environment options, one table. */
#ifndef ZMM_OPTIONS_H
#define ZMM_OPTIONS_H

#include "defs.h"

enum mem_type { MEM_MMAP_ANON, MEM_MMAP_ZERO, MEM_MALLOC };

/*  X(NAME,        kind,    field,        default,     description) */
#define ZMM_OPTIONS(X) \
    X(ALLOC,        flag,    alloc,        "1",         "0 passes every call to the system allocator (as USE_ZEND_ALLOC=0)") \
    X(HUGE_PAGES,   flag,    huge_pages,   "0",         "1 backs chunks with transparent huge pages (as USE_ZEND_ALLOC_HUGE_PAGES)") \
    X(MEM_TYPE,     memtype, mem_type,     "mmap_anon", "where chunks come from: mmap_anon, mmap_zero or malloc (as ZEND_MM_MEM_TYPE)") \
    X(COMPACT,      size,    compact,      "adaptive",  "bytes of empty chunks kept for reuse; 0 gives them back at once (as ZEND_MM_COMPACT)") \
    X(MEMORY_LIMIT, size,    memory_limit, "-1",        "bytes of heap past which allocation fails with PHP's message; -1 is unlimited") \
    X(STATS,        flag,    stats,        "0",         "1 writes heap statistics at exit")

#define OPT_UNSET ((size_t)-1)   /* "adaptive" / "-1" for size options */

struct zmm_options {
#define FIELD_(name, kind, field, def, desc) size_t field;
    ZMM_OPTIONS(FIELD_)
#undef FIELD_
};

extern struct zmm_options zmm_opt;

/* Reads every option once from the environment; a bad value warns, naming the variable,
 * and keeps the default. envp may be NULL (then /proc/self/environ is read). */
void options_load(char **envp);

/* Parsers, exposed for the unit tests. Return false on a malformed value. */
bool options_parse_size(const char *s, size_t *out);
bool options_parse_flag(const char *s, size_t *out);
bool options_parse_memtype(const char *s, size_t *out);

#endif
