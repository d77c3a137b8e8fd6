/* Symbols, white box: object and offset with and without a session, function, file and line
 * from this test's own debug information (a call site, an inlined function, a function's
 * address), libc's symbol table, C++ demangling through the runtime's __cxa_demangle, an
 * unmapped address, and several sessions in one process. */
#include "symbol.h"
#include "unit.h"

#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern void _start(void);   /* crt1.o's entry point */

static char exe[512];
static uintptr_t exe_bias;
static bool have_libdw;

static int first_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    exe_bias = info->dlpi_addr;
    return 1;
}

/* The call site in the caller: its return address - 1, as the report code passes it. */
static ZMM_NOINLINE uintptr_t call_site(void)
{
    uintptr_t pc = (uintptr_t)__builtin_return_address(0) - 1;
    __asm__ volatile("" ::: "memory");
    return pc;
}

static inline __attribute__((always_inline)) uintptr_t inlined_helper(unsigned *line)
{
    uintptr_t pc = call_site(); *line = __LINE__;
    return pc;
}

static ZMM_NOINLINE uintptr_t outer_function(unsigned *line)
{
    uintptr_t pc = inlined_helper(line);
    __asm__ volatile("" ::: "memory");
    return pc;
}

/* A C function under a C++ (Itanium ABI) name: hello::world(int). */
ZMM_NOINLINE int mangled_function(int x) __asm__("_ZN5hello5worldEi");
ZMM_NOINLINE int mangled_function(int x)
{
    __asm__ volatile("" ::: "memory");
    return x + 1;
}

/* A name longer than struct symbol's fields that no demangler accepts. */
#define TEN "_abcdefgh_"
#define HUNDRED TEN TEN TEN TEN TEN TEN TEN TEN TEN TEN
ZMM_NOINLINE int long_function(int x) __asm__("_Z" HUNDRED HUNDRED HUNDRED HUNDRED HUNDRED HUNDRED);
ZMM_NOINLINE int long_function(int x)
{
    __asm__ volatile("" ::: "memory");
    return x + 2;
}

static bool copy_libm(const char *to)
{
    void *h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
    struct link_map *map = NULL;
    if (!h || dlinfo(h, RTLD_DI_LINKMAP, &map) != 0 || !map)
        return false;
    FILE *in = fopen(map->l_name, "rb"), *out = fopen(to, "wb");
    bool ok = in && out;
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    if (in)
        fclose(in);
    if (out)
        ok &= fclose(out) == 0;
    return ok;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcmp(s + n - t, tail);
}

static void check_object_only(uintptr_t pc, const char *when)
{
    struct symbol s;
    memset(&s, 0x5a, sizeof s);
    symbol_lookup(pc, &s);
    CHECK(s.pc == pc, "%s: pc %lx", when, (unsigned long)s.pc);
    CHECK(!strcmp(s.object, exe), "%s: object '%s', expected '%s'", when, s.object, exe);
    CHECK(s.offset == pc - exe_bias, "%s: offset %lx", when, (unsigned long)s.offset);
    CHECK(!s.function[0] && !s.file[0] && s.line == 0, "%s: function '%s' file '%s' line %u",
          when, s.function, s.file, s.line);
}

static void check_call_site(uintptr_t pc, unsigned line, const char *function, const char *when)
{
    struct symbol s;
    memset(&s, 0x5a, sizeof s);
    symbol_lookup(pc, &s);
    CHECK(!strcmp(s.object, exe) && s.offset == pc - exe_bias, "%s: object '%s' +%lx", when,
          s.object, (unsigned long)s.offset);
    if (!have_libdw) {
        CHECK(!s.file[0] && s.line == 0, "%s: file without libdw", when);
        return;
    }
    CHECK(!strcmp(s.function, function), "%s: function '%s', expected '%s'", when, s.function, function);
    CHECK(ends_with(s.file, "symbol.c"), "%s: file '%s'", when, s.file);
    CHECK(s.file[0] == '/' && access(s.file, R_OK) == 0, "%s: file '%s' not a full path to this test",
          when, s.file);
    CHECK(s.line == line, "%s: line %u, expected %u", when, s.line, line);
}

int main(void)
{
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0, "readlink /proc/self/exe");
    exe[n > 0 ? n : 0] = '\0';
    dl_iterate_phdr(first_object, NULL);
#if ZMM_HAVE_LIBDW
    void *dw = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    CHECK(dw == NULL, "libdw is loaded before the first session");
    dw = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    have_libdw = dw != NULL;
    if (dw)
        dlclose(dw);
#endif
    if (!have_libdw)
        fprintf(stderr, "libdw.so.1 not available: checking objects and offsets only\n");

    /* No session yet: object and offset only. */
    uintptr_t pc = call_site(); unsigned call_line = __LINE__;
    check_object_only(pc, "before symbol_begin");

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    symbol_begin();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "symbol_begin: %.2f ms\n",
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);

    check_call_site(pc, call_line, "main", "call site in main");

    /* The innermost function is the inlined one; its call is on its own line. */
    unsigned inl_line = 0;
    uintptr_t inl = outer_function(&inl_line);
    check_call_site(inl, inl_line, "inlined_helper", "inlined call site");

    /* A function's own address (+1: inside its first instruction). */
    struct symbol s;
    uintptr_t fn = (uintptr_t)&call_site + 1;
    symbol_lookup(fn, &s);
    CHECK(!strcmp(s.object, exe) && s.offset == fn - exe_bias, "function address: object '%s'", s.object);
    if (have_libdw) {
        CHECK(!strcmp(s.function, "call_site"), "function address: '%s'", s.function);
        CHECK(ends_with(s.file, "symbol.c") && s.line > 0, "function address: %s:%u", s.file, s.line);
    }

    /* crt1's _start has no debug information, though the units around it have: a name from
     * the symbol table, no file:line. */
    uintptr_t start = (uintptr_t)&_start + 1;
    symbol_lookup(start, &s);
    CHECK(!strcmp(s.object, exe), "_start: object '%s'", s.object);
    if (have_libdw)
        CHECK(!strcmp(s.function, "_start") && !s.file[0] && s.line == 0, "_start: '%s' %s:%u",
              s.function, s.file, s.line);

    /* libc, through its symbol table (no debug information needed). */
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    void *wr = libc ? dlsym(libc, "write") : NULL;
    CHECK(wr != NULL, "write in libc.so.6");
    uintptr_t lpc = (uintptr_t)wr + 1;
    symbol_lookup(lpc, &s);
    CHECK(strstr(s.object, "libc.so.6") != NULL, "libc object '%s'", s.object);
    CHECK(s.offset > 0 && s.offset < lpc, "libc offset %lx", (unsigned long)s.offset);
    CHECK(strstr(s.function, "write") != NULL, "libc function '%s'", s.function);

    /* Demangling: a mangled name stays mangled until a C++ runtime is loaded. */
    uintptr_t mpc = (uintptr_t)&mangled_function + 1;
    symbol_lookup(mpc, &s);
    if (have_libdw && !dlsym(RTLD_DEFAULT, "__cxa_demangle"))
        CHECK(!strcmp(s.function, "_ZN5hello5worldEi"), "mangled, no C++ runtime: '%s'", s.function);
    void *cxx = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL);
    if (cxx) {
        symbol_lookup(mpc, &s);
        if (have_libdw)
            CHECK(!strcmp(s.function, "hello::world(int)"), "demangled: '%s'", s.function);
    } else {
        fprintf(stderr, "libstdc++.so.6 not available: demangling not checked\n");
    }

    /* A name too long for the field: cut, NUL-terminated. */
    symbol_lookup((uintptr_t)&long_function + 1, &s);
    if (have_libdw)
        CHECK(strlen(s.function) == sizeof s.function - 1 && !strncmp(s.function, "_Z" TEN, 12),
              "long name: %zu bytes", strlen(s.function));

    /* An object whose path is too long for the field: a copy of libm (a file of its own, so
     * not the libm libstdc++ loaded) opened through a long path. */
    char dir[1024] = "/tmp/zmm-symbol-XXXXXX", lib[1100];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    size_t top = strlen(dir);
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(dir);
        dir[len] = '/';
        memset(dir + len + 1, 'd', 200);
        dir[len + 201] = '\0';
        CHECK(mkdir(dir, 0700) == 0, "mkdir");
    }
    snprintf(lib, sizeof lib, "%s/libm.so.6", dir);
    CHECK(copy_libm(lib), "copy libm to %s", lib);
    void *libm = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    void *frexp_fn = libm ? dlsym(libm, "frexp") : NULL;
    CHECK(frexp_fn != NULL, "libm through %s", lib);
    if (frexp_fn) {
        symbol_lookup((uintptr_t)frexp_fn + 1, &s);
        CHECK(strlen(s.object) == sizeof s.object - 1 && !strncmp(s.object, lib, sizeof s.object - 1),
              "long object: %zu bytes: %s", strlen(s.object), s.object);
        CHECK(s.offset > 0 && s.offset < (uintptr_t)frexp_fn, "long object: offset %lx", (unsigned long)s.offset);
        CHECK(strstr(s.function, "frexp") != NULL, "long object: function '%s' at %p", s.function, frexp_fn);
    }
    unlink(lib);
    for (int i = 0; i < 3; i++) {
        rmdir(dir);
        *strrchr(dir, '/') = '\0';
    }
    CHECK(strlen(dir) == top && rmdir(dir) == 0, "rmdir %s", dir);

    /* The vDSO: mapped, but not a file. */
    uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (vdso) {
        symbol_lookup(vdso + 16, &s);
        CHECK(s.object[0] && strcmp(s.object, exe) && s.offset == 16, "vdso: '%s' +%lx", s.object,
              (unsigned long)s.offset);
    }

    /* Nothing mapped there. */
    memset(&s, 0x5a, sizeof s);
    symbol_lookup(0x10, &s);
    CHECK(s.pc == 0x10 && !s.object[0] && s.offset == 0 && !s.function[0] && !s.file[0] && s.line == 0,
          "unmapped: object '%s' function '%s'", s.object, s.function);
    symbol_lookup(UINTPTR_MAX, &s);
    CHECK(!s.object[0] && !s.function[0], "top of the address space: '%s'", s.object);

    symbol_end();
    check_object_only(pc, "after symbol_end");
    symbol_end();
    check_object_only(pc, "after a second symbol_end");

    /* Sessions again, and a begin without an end. */
    for (int i = 0; i < 3; i++) {
        symbol_begin();
        check_call_site(pc, call_line, "main", "later session");
    }
    symbol_begin();
    symbol_end();
    check_object_only(pc, "after the last session");
    return UNIT_DONE();
}
