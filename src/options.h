/* options.h: the ZMM_* environment options, one table. Its default and description columns
 * are also what `zmm --help` lists (scripts/options-help.c writes them into the built CLI). */
#ifndef ZMM_OPTIONS_H
#define ZMM_OPTIONS_H

#include "defs.h"
#include "os.h"     /* enum mem_type */

enum world_mode { WORLD_AUTO, WORLD_PTRACE, WORLD_SIGNAL };

/*  X(NAME,        kind,    field,        default,     description) */
#define ZMM_OPTIONS(X) \
    X(ALLOC,        flag,    alloc,        "1",         "0 passes every call to the system allocator (as USE_ZEND_ALLOC=0)") \
    X(HUGE_PAGES,   flag,    huge_pages,   "0",         "1 backs chunks with transparent huge pages (as USE_ZEND_ALLOC_HUGE_PAGES)") \
    X(MEM_TYPE,     memtype, mem_type,     "mmap_anon", "where chunks come from: mmap_anon, mmap_zero or malloc (as ZEND_MM_MEM_TYPE)") \
    X(COMPACT,      size,    compact,      "adaptive",  "bytes of empty chunks kept for reuse; 0 gives them back at once (as ZEND_MM_COMPACT)") \
    X(MEMORY_LIMIT, size,    memory_limit, "-1",        "bytes of heap past which allocation fails with PHP's message; -1 is unlimited") \
    X(STATS,        flag,    stats,        "0",         "1 writes heap statistics at exit") \
    X(DEBUG,        debug,   debug,        "none",      "heap debugging, comma-separated: poison_alloc[=BYTE], poison_free[=BYTE], padding[=N] (0..4096), check_on_exit (as ZEND_MM_DEBUG)") \
    X(LEAKS,        leaks,   leaks,        "0",         "1 tracks every block and reports leaks at exit; reachable also lists reachable blocks") \
    X(REPORT,       text,    report,       "stderr",    "where reports go: stderr, or a file path (%p is the pid); appended") \
    X(REPORT_FORMAT, format, report_format, "text",     "text (LeakSanitizer's shape) or json (one object per line)") \
    X(LEAK_EXITCODE, exitcode, leak_exitcode, "unchanged", "exit status (1..255) when leaks are found at exit") \
    X(SUPPRESSIONS, text,    suppressions, "",          "file of leak:PATTERN lines (function, source file or object)") \
    X(STACK_DEPTH,  depth,   stack_depth,  "16",        "frames kept per allocation stack (1..64)") \
    X(ONLY,         text,    only,         "",          "track and report only in these executables: name[,name]") \
    X(REQUEST_RECLAIM, flag, request_reclaim, "0",      "1 frees the unreachable blocks of each ended request") \
    X(REQUEST_SIGNAL, signal, request_signal, "none",   "signal that marks a request boundary: USR2, SIGUSR1, 12, RTMIN+3 ...") \
    X(REQUEST_RETAINED, flag, request_retained, "0",    "1 also lists, per stack, the blocks born in an ended request that are still reachable") \
    X(REQUEST_LIMIT, size,   request_limit, "-1",       "bytes born in one request and still live past which allocation fails with PHP's message; -1 is unlimited") \
    X(FAIL_MAP,     failmap, fail_map,     "none",      "fault injection for tests: the Nth mapping zmm asks the OS for fails (N+: and every later one)") \
    X(WORLD,        world,   world,        "auto",      "how threads are stopped for a scan: auto (ptrace, else signals), ptrace (warn when it falls back) or signal")

#define OPT_UNSET ((size_t)-1)   /* "adaptive" / "-1" for size options, "unchanged" exit code */
#define STACK_DEPTH_MAX 64      /* frames kept at most (ZMM_STACK_DEPTH's ceiling; stack.c's) */
#define WORLD_STOP_SIGNAL (SIGRTMAX - 2)    /* world.c stops threads with it: not for requests */
enum leaks_mode { LEAKS_OFF, LEAKS_ON, LEAKS_REACHABLE };
enum report_format { FORMAT_TEXT, FORMAT_JSON };

/* The value of each kind: a number, the text itself for the text kind, or the items of a
 * structured one (no padding in them, so that two values compare with memcmp). */
typedef struct { char s[1024]; } opt_text_t;
struct opt_debug {              /* ZMM_DEBUG's items ("none" or empty: all off) */
    int poison_alloc;           /* byte new blocks are filled with, or -1 */
    int poison_free;            /* byte freed blocks are filled with, or -1 */
    uint32_t padding;           /* canary bytes after each block, a multiple of 8, or 0 */
    uint32_t check_on_exit;     /* 0 or 1 */
};
struct opt_failmap {            /* ZMM_FAIL_MAP: mappings FIRST..LAST fail (counted from 1) */
    size_t first;               /* 0 for none */
    size_t last;                /* FIRST for "N", SIZE_MAX for "N+" */
};
#define OPT_TYPE_flag     size_t
#define OPT_TYPE_size     size_t
#define OPT_TYPE_memtype  size_t
#define OPT_TYPE_leaks    size_t
#define OPT_TYPE_format   size_t
#define OPT_TYPE_exitcode size_t
#define OPT_TYPE_depth    size_t
#define OPT_TYPE_signal   size_t
#define OPT_TYPE_world    size_t
#define OPT_TYPE_text     opt_text_t
#define OPT_TYPE_debug    struct opt_debug
#define OPT_TYPE_failmap  struct opt_failmap

struct zmm_options {
#define FIELD_(name, kind, field, def, desc) OPT_TYPE_##kind field;
    ZMM_OPTIONS(FIELD_)
#undef FIELD_
};

extern struct zmm_options zmm_opt;

/* Reads every option once from the environment; a bad value warns, naming the variable,
 * and keeps the default: the one line "zmm: ZMM_NAME=VALUE is not valid; using the default
 * (DEFAULT)", whatever the kind. envp may be NULL (then /proc/self/environ is read). */
void options_load(char **envp);

/* Is this process one that LIST (ZMM_ONLY: name[,name]; empty for all) names? By the
 * basename of the executable or of argv[0]. */
bool options_selects_program(const char *list);

/* Parsers, exposed for the unit tests. Return false on a malformed value (OUT is then
 * unchanged). OUT points to the kind's OPT_TYPE. */
bool options_parse_size(const char *s, void *out);
bool options_parse_flag(const char *s, void *out);
bool options_parse_memtype(const char *s, void *out);
bool options_parse_leaks(const char *s, void *out);
bool options_parse_format(const char *s, void *out);
bool options_parse_exitcode(const char *s, void *out);
bool options_parse_depth(const char *s, void *out);
bool options_parse_signal(const char *s, void *out);
bool options_parse_world(const char *s, void *out);
bool options_parse_text(const char *s, void *out);
bool options_parse_debug(const char *s, void *out);
bool options_parse_failmap(const char *s, void *out);

#endif
