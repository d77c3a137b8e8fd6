/* Option parsing: PHP's size syntax, flags, memory types, bad values keep the default. */
#include "options.h"
#include "unit.h"

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
    char *none[] = { NULL };
    options_load(none);
    CHECK(zmm_opt.memory_limit == OPT_UNSET && zmm_opt.alloc == 1 && zmm_opt.stats == 0, "defaults");
    return UNIT_DONE();
}
