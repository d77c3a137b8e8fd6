/* Option parsing: PHP's size syntax, flags, memory types, ZMM_DEBUG's items, ZMM_FAIL_MAP's
 * ranges; bad values keep the default, with the one warning line every kind shares. */
#include "options.h"
#include "unit.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What options_load(ENV) writes on fd 2, into OUT. */
static void load_warnings(char **env, char *out, size_t size)
{
    int p[2], saved = dup(2);
    if (saved < 0 || pipe(p)) {
        out[0] = '\0';
        return;
    }
    dup2(p[1], 2);
    close(p[1]);
    options_load(env);
    dup2(saved, 2);
    close(saved);
    ssize_t n = read(p[0], out, size - 1);
    close(p[0]);
    out[n > 0 ? n : 0] = '\0';
}

static bool debug_is(const struct opt_debug *d, int alloc, int freed, uint32_t padding, uint32_t check)
{
    return d->poison_alloc == alloc && d->poison_free == freed && d->padding == padding &&
           d->check_on_exit == check;
}

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
    CHECK(options_parse_memtype("mmap_anon", &m) && m == MEM_MMAP_ANON, "mmap_anon");
    CHECK(!options_parse_memtype("", &m) && !options_parse_memtype("MMAP_ANON", &m) && m == MEM_MMAP_ANON,
          "memtype '' or MMAP_ANON accepted");

    /* ZMM_DEBUG: items with PHP's defaults (0xAB, 0xCD, 16), values decimal or hex, padding
     * rounded up to 8; "none" and "" are all off. */
    struct opt_debug d = { 1, 2, 3, 4 };
    CHECK(options_parse_debug("none", &d) && debug_is(&d, -1, -1, 0, 0), "debug none");
    d = (struct opt_debug){ 1, 2, 3, 4 };
    CHECK(options_parse_debug("", &d) && debug_is(&d, -1, -1, 0, 0), "debug ''");
    CHECK(options_parse_debug("poison_alloc,poison_free,padding,check_on_exit", &d) &&
          debug_is(&d, 0xAB, 0xCD, 16, 1), "debug defaults: %d %d %u %u", d.poison_alloc, d.poison_free,
          d.padding, d.check_on_exit);
    CHECK(options_parse_debug("poison_alloc=0x5a,,padding=13", &d) && debug_is(&d, 0x5a, -1, 16, 0),
          "debug values: %d %d %u", d.poison_alloc, d.poison_free, d.padding);
    CHECK(options_parse_debug("poison_free=0,padding=4096", &d) && debug_is(&d, -1, 0, 4096, 0), "debug 0, 4096");
    CHECK(options_parse_debug("padding=0", &d) && debug_is(&d, -1, -1, 0, 0), "debug padding=0");
    static const char *const bad_debug[] = {
        "padding=99999", "padding=4097", "poison_alloc=0x100", "poison_alloc=256", "poison_free=",
        "poison_free=x", "frobnicate", "check_on_exit=1", "padding=16,bogus", "none,padding", "Padding",
        " padding", "padding=0x",
    };
    for (size_t i = 0; i < sizeof bad_debug / sizeof bad_debug[0]; i++) {
        d = (struct opt_debug){ 1, 2, 3, 4 };
        CHECK(!options_parse_debug(bad_debug[i], &d) && debug_is(&d, 1, 2, 3, 4), "debug '%s' accepted", bad_debug[i]);
    }

    /* ZMM_FAIL_MAP: N (that mapping), N+ (it and every later one), "none" or "" (none). */
    struct opt_failmap fm = { 7, 7 };
    CHECK(options_parse_failmap("3", &fm) && fm.first == 3 && fm.last == 3, "fail map 3");
    CHECK(options_parse_failmap("30+", &fm) && fm.first == 30 && fm.last == SIZE_MAX, "fail map 30+");
    CHECK(options_parse_failmap("none", &fm) && fm.first == 0 && fm.last == 0, "fail map none");
    fm = (struct opt_failmap){ 7, 7 };
    CHECK(options_parse_failmap("", &fm) && fm.first == 0 && fm.last == 0, "fail map ''");
    static const char *const bad_maps[] = { "0", "0+", "+", "x7", "7x", "7++", "+7", "-1", " 7", "99999999999999999999999" };
    for (size_t i = 0; i < sizeof bad_maps / sizeof bad_maps[0]; i++) {
        fm = (struct opt_failmap){ 7, 7 };
        CHECK(!options_parse_failmap(bad_maps[i], &fm) && fm.first == 7 && fm.last == 7, "fail map '%s' accepted",
              bad_maps[i]);
    }

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
    CHECK(debug_is(&zmm_opt.debug, -1, -1, 0, 0) && zmm_opt.fail_map.first == 0 && zmm_opt.mem_type == MEM_MMAP_ANON,
          "defaults of the structured kinds");

    /* Good structured values land, and every bad value, whatever its kind, gives the same one
     * line naming the variable, the value and the default it keeps. */
    char *kinds[] = { "ZMM_DEBUG=padding=32,check_on_exit", "ZMM_FAIL_MAP=5+", "ZMM_MEM_TYPE=malloc", NULL };
    char warned[2048];
    load_warnings(kinds, warned, sizeof warned);
    CHECK(!warned[0], "good values warned: %s", warned);
    CHECK(debug_is(&zmm_opt.debug, -1, -1, 32, 1), "debug loaded");
    CHECK(zmm_opt.fail_map.first == 5 && zmm_opt.fail_map.last == SIZE_MAX, "fail map loaded");
    CHECK(zmm_opt.mem_type == MEM_MALLOC, "mem type loaded");
    char *bad[] = { "ZMM_DEBUG=padding=99999", "ZMM_FAIL_MAP=x7", "ZMM_MEM_TYPE=shm", "ZMM_COMPACT=lots", NULL };
    load_warnings(bad, warned, sizeof warned);
    CHECK(!strcmp(warned, "zmm: ZMM_DEBUG=padding=99999 is not valid; using the default (none)\n"
                          "zmm: ZMM_FAIL_MAP=x7 is not valid; using the default (none)\n"
                          "zmm: ZMM_MEM_TYPE=shm is not valid; using the default (mmap_anon)\n"
                          "zmm: ZMM_COMPACT=lots is not valid; using the default (adaptive)\n"),
          "warnings:\n%s", warned);
    CHECK(debug_is(&zmm_opt.debug, -1, -1, 0, 0) && zmm_opt.fail_map.first == 0 && zmm_opt.mem_type == MEM_MMAP_ANON,
          "bad values keep the defaults");
    return UNIT_DONE();
}
