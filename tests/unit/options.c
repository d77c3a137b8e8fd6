/* Option parsing: PHP's size syntax, flags, memory types, bad values keep the default. */
#include "options.h"
#include "unit.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    static const struct { const char *in; size_t out; } sizes[] = {
        { "0", 0 }, { "4096", 4096 }, { "128M", 128u << 20 }, { "128m", 128u << 20 },
        { "1G", (size_t)1 << 30 }, { "64K", 64u << 10 }, { "2MB", 2u << 20 }, { "-1", OPT_UNSET },
        { "adaptive", OPT_UNSET },
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t v = 7;
        CHECK(options_parse_size(sizes[i].in, &v) && v == sizes[i].out, "%s -> %zu", sizes[i].in, v);
    }
    static const char *const bad_sizes[] = { "", "M", "12Q", "-2", "1.5G", "99999999999999999999", "9999999999G", " 1" };
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        size_t v = 7;
        CHECK(!options_parse_size(bad_sizes[i], &v) && v == 7, "'%s' accepted", bad_sizes[i]);
    }
    size_t f = 9;
    CHECK(options_parse_flag("1", &f) && f == 1, "flag 1");
    CHECK(options_parse_flag("off", &f) && f == 0, "flag off");
    CHECK(!options_parse_flag("2", &f) && f == 0, "flag 2 accepted");
    size_t m = 9;
    CHECK(options_parse_memtype("mmap_zero", &m) && m == MEM_MMAP_ZERO, "mmap_zero");
    CHECK(options_parse_memtype("malloc", &m) && m == MEM_MALLOC, "malloc");
    CHECK(!options_parse_memtype("shm", &m) && m == MEM_MALLOC, "shm accepted");

    size_t k = 9;
    CHECK(options_parse_leaks("reachable", &k) && k == LEAKS_REACHABLE, "leaks reachable");
    CHECK(options_parse_leaks("yes", &k) && k == LEAKS_ON, "leaks yes");
    CHECK(!options_parse_leaks("all", &k) && k == LEAKS_ON, "leaks all accepted");
    CHECK(options_parse_format("json", &k) && k == FORMAT_JSON, "json");
    CHECK(!options_parse_format("xml", &k) && k == FORMAT_JSON, "xml accepted");
    CHECK(options_parse_exitcode("23", &k) && k == 23, "exit code 23");
    CHECK(options_parse_exitcode("unchanged", &k) && k == OPT_UNSET, "exit code unchanged");
    const char *bad_codes[] = { "0", "256", "-3", "2x", "99999999999999999999999" };
    for (size_t i = 0; i < sizeof bad_codes / sizeof bad_codes[0]; i++)
        CHECK(!options_parse_exitcode(bad_codes[i], &k) && k == OPT_UNSET, "exit code '%s'", bad_codes[i]);
    CHECK(options_parse_depth("64", &k) && k == 64, "depth 64");
    CHECK(!options_parse_depth("65", &k) && !options_parse_depth("0", &k) && k == 64, "depth range");
    size_t sig = 99;
    CHECK(options_parse_signal("USR2", &sig) && sig == SIGUSR2, "USR2");
    CHECK(options_parse_signal("SIGUSR1", &sig) && sig == SIGUSR1, "SIGUSR1");
    CHECK(options_parse_signal("12", &sig) && sig == 12, "12");
    CHECK(options_parse_signal("RTMIN+3", &sig) && sig == (size_t)SIGRTMIN + 3, "RTMIN+3");
    CHECK(options_parse_signal("none", &sig) && sig == 0, "none");
    const char *bad_signals[] = { "KILL", "SIGSTOP", "9", "65", "USR3", "RTMAX-2", "" };
    for (size_t i = 0; i < sizeof bad_signals / sizeof bad_signals[0]; i++)
        CHECK(!options_parse_signal(bad_signals[i], &sig) && sig == 0, "signal '%s' accepted", bad_signals[i]);
    opt_text_t t = { "old" };
    CHECK(options_parse_text("/tmp/r.%p", &t) && !strcmp(t.s, "/tmp/r.%p"), "text");
    static char longer[sizeof t.s + 8];
    memset(longer, 'x', sizeof longer - 1);
    CHECK(!options_parse_text(longer, &t) && !strcmp(t.s, "/tmp/r.%p"), "overlong text accepted");

    /* Loading: good values land, a bad one keeps the default, unknown names are ignored. */
    char *env[] = { "ZMM_MEMORY_LIMIT=64M", "ZMM_STATS=yes", "ZMM_COMPACT=lots", "ZMM_ALLOC=0",
                    "ZMM_MEM_TYPE=mmap_zero", "ZMM_STATSX=1", "PATH=/bin", NULL };
    options_load(env);
    CHECK(zmm_opt.memory_limit == 64u << 20, "limit %zu", zmm_opt.memory_limit);
    CHECK(zmm_opt.stats == 1, "stats %zu", zmm_opt.stats);
    CHECK(zmm_opt.compact == OPT_UNSET, "compact %zu (bad value must keep the default)", zmm_opt.compact);
    CHECK(zmm_opt.alloc == 0, "alloc %zu", zmm_opt.alloc);
    CHECK(zmm_opt.mem_type == MEM_MMAP_ZERO, "mem_type %zu", zmm_opt.mem_type);
    CHECK(zmm_opt.huge_pages == 0, "huge_pages %zu", zmm_opt.huge_pages);
    CHECK(zmm_opt.stack_depth == 16 && !strcmp(zmm_opt.report.s, "stderr"), "tracking defaults");
    char *leaks[] = { "ZMM_LEAKS=1", "ZMM_REPORT=/tmp/r.%p", "ZMM_STACK_DEPTH=100", "ZMM_ONLY=sort,cat", NULL };
    options_load(leaks);
    CHECK(zmm_opt.leaks == LEAKS_ON && !strcmp(zmm_opt.report.s, "/tmp/r.%p"), "leaks, report");
    CHECK(zmm_opt.stack_depth == 16, "depth %zu (bad value must keep the default)", zmm_opt.stack_depth);
    CHECK(!strcmp(zmm_opt.only.s, "sort,cat") && zmm_opt.leak_exitcode == OPT_UNSET, "only, exit code");
    char *none[] = { NULL };
    options_load(none);
    CHECK(zmm_opt.memory_limit == OPT_UNSET && zmm_opt.alloc == 1 && zmm_opt.stats == 0, "defaults");
    return UNIT_DONE();
}
