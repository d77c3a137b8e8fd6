/* The floor's helpers (libc.h): the hex and decimal parsers (bounds, where they stop), the
 * /proc/self/maps reader (every mapping in order, the ones holding a stack variable, a static
 * and this code with their permissions and path, a line longer than its buffer), base names,
 * the executable's path, ELF segments, atomic maxima under contention, the seed and the futex. */
#include "libc.h"
#include "unit.h"

#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

extern const ElfW(Ehdr) __ehdr_start;

static void check_parsers(void)
{
    static const struct { const char *in; uint64_t v; size_t used; } hex[] = {
        { "0", 0, 1 }, { "7f3a-", 0x7f3a, 4 }, { "DEADbeef ", 0xdeadbeef, 8 }, { "g1", 0, 0 },
        { "", 0, 0 }, { "ffffffffffffffff", UINT64_MAX, 16 }, { "00000010x", 16, 8 },
    };
    for (size_t i = 0; i < sizeof hex / sizeof hex[0]; i++) {
        const char *p = hex[i].in;
        uint64_t v = libc_parse_hex(&p);
        CHECK(v == hex[i].v && p == hex[i].in + hex[i].used, "hex '%s' -> %llx, %zu used", hex[i].in,
              (unsigned long long)v, (size_t)(p - hex[i].in));
    }
    static const struct { const char *in; uint64_t max; bool ok; uint64_t v; size_t used; } dec[] = {
        { "0", 10, true, 0, 1 }, { "64", 64, true, 64, 2 }, { "65", 64, false, 0, 0 },
        { "123abc", 1000, true, 123, 3 }, { "abc", 1000, false, 0, 0 }, { "", 5, false, 0, 0 },
        { "18446744073709551615", UINT64_MAX, true, UINT64_MAX, 20 },
        { "18446744073709551616", UINT64_MAX, false, 0, 0 }, { "9", 8, false, 0, 0 },
        { "007", 7, true, 7, 3 }, { "-1", 10, false, 0, 0 },
    };
    for (size_t i = 0; i < sizeof dec / sizeof dec[0]; i++) {
        const char *p = dec[i].in;
        uint64_t v = 4242;
        bool ok = libc_parse_dec(&p, dec[i].max, &v);
        CHECK(ok == dec[i].ok && v == (ok ? dec[i].v : 4242) && p == dec[i].in + dec[i].used,
              "dec '%s' (max %llu) -> %d %llu, %zu used", dec[i].in, (unsigned long long)dec[i].max, ok,
              (unsigned long long)v, (size_t)(p - dec[i].in));
    }
}

static int static_word = 1;

/* Every mapping in address order; those holding HERE, a static and this function found. */
static void check_maps(void)
{
    int here = 0;
    struct { uintptr_t at; const char *perms; bool found; } want[] = {
        { (uintptr_t)&here, "rw-p", false }, { (uintptr_t)&static_word, "rw-p", false },
        { (uintptr_t)&check_maps, "r-xp", false },
    };
    char exe[4096];
    CHECK(libc_exe_path(exe, sizeof exe) > 0 && exe[0] == '/', "exe path '%s'", exe);
    struct libc_maps m;
    struct libc_mapping e;
    CHECK(libc_maps_open(&m), "maps open");
    uintptr_t last = 0;
    size_t lines = 0;
    while (libc_maps_next(&m, &e)) {
        lines++;
        CHECK(e.lo < e.hi && e.lo >= last, "mapping %zu: %lx-%lx after %lx", lines, (unsigned long)e.lo,
              (unsigned long)e.hi, (unsigned long)last);
        CHECK(strlen(e.perms) == 4 && (e.perms[3] == 'p' || e.perms[3] == 's'), "perms '%s'", e.perms);
        last = e.hi;
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
            if (want[i].at >= e.lo && want[i].at < e.hi) {
                want[i].found = true;
                CHECK(!strcmp(e.perms, want[i].perms), "mapping %zu holds it: '%s', not '%s'", i, e.perms,
                      want[i].perms);
                if (i == 2)
                    CHECK(!strcmp(e.path, exe) && e.offset % 4096 == 0 && e.offset < (1u << 24),
                          "code in '%s' at offset %llx, not in '%s'", e.path, (unsigned long long)e.offset, exe);
                if (i == 0)
                    CHECK(!strcmp(e.path, "[stack]"), "stack path '%s'", e.path);
            }
    }
    libc_maps_close(&m);
    CHECK(lines > 10, "%zu mappings", lines);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(want[i].found, "mapping %zu not found", i);
}

/* A file whose path is longer than the reader's buffer, mapped twice around a gap: its lines
 * are cut, and the lines after them still read whole. */
static void check_long_line(void)
{
    char path[6000], top[64], cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    snprintf(top, sizeof top, "/tmp/zmm-unit-libc-%d", (int)getpid());
    size_t n = strlen(top);
    memcpy(path, top, n + 1);
    char part[250];
    memset(part, 'd', sizeof part - 1);
    part[sizeof part - 1] = '\0';
    int depth = 0;
    bool ok = mkdir(top, 0700) == 0 && chdir(top) == 0;
    while (ok && n < sizeof path - 300) {               /* open() takes no path this long */
        ok = mkdir(part, 0700) == 0;
        if (ok && (ok = chdir(part) == 0))
            depth++, n += (size_t)snprintf(path + n, sizeof path - n, "/%s", part);
    }
    snprintf(path + n, sizeof path - n, "/file");
    int fd = ok ? open("file", O_RDWR | O_CREAT, 0600) : -1;
    CHECK(fd >= 0 && strlen(path) > sizeof ((struct libc_maps *)0)->buf, "long file (%zu bytes)", strlen(path));
    CHECK(fd < 0 || ftruncate(fd, 4096) == 0, "ftruncate");
    char *area = mmap(NULL, 3 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *a = fd < 0 ? NULL : mmap(area, 4096, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
    void *b = fd < 0 ? NULL : mmap(area + 2 * 4096, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
    CHECK(a == area && b == area + 2 * 4096, "mapped");
    if (fd >= 0)
        close(fd);
    struct libc_maps m;
    struct libc_mapping e;
    unsigned seen = 0;
    uintptr_t last = 0;
    libc_maps_open(&m);
    while (libc_maps_next(&m, &e)) {
        uintptr_t at = (uintptr_t)area;
        CHECK(e.lo < e.hi && e.lo >= last, "after the long line: %lx-%lx after %lx", (unsigned long)e.lo,
              (unsigned long)e.hi, (unsigned long)last);
        last = e.hi;
        if (e.lo == at) {
            seen |= 1;
            CHECK(e.hi == at + 4096 && !strcmp(e.perms, "r--p") && !strncmp(e.path, path, 100) &&
                  strlen(e.path) < strlen(path), "first: %s %zu bytes of path", e.perms, strlen(e.path));
        } else if (e.lo == at + 4096) {
            seen |= 2;
            CHECK(e.hi == at + 2 * 4096 && !strcmp(e.perms, "---p") && !e.path[0], "gap: %s '%.20s'", e.perms, e.path);
        } else if (e.lo == at + 2 * 4096) {
            seen |= 4;
            CHECK(e.hi == at + 3 * 4096 && !strcmp(e.perms, "r--s"), "second: %s", e.perms);
        }
    }
    libc_maps_close(&m);
    CHECK(seen == 7, "long-path mappings seen: %x", seen);
    munmap(area, 3 * 4096);
    unlink("file");
    for (; depth > 0; depth--)
        if (chdir("..") != 0 || rmdir(part) != 0)
            break;
    rmdir(top);
    CHECK(chdir(cwd) == 0, "back to %s", cwd);
}

static void widen(uintptr_t lo, uintptr_t hi, void *ctx)
{
    uintptr_t *r = ctx;
    r[0] = lo < r[0] ? lo : r[0];
    r[1] = hi > r[1] ? hi : r[1];
}

static void check_names_and_segments(void)
{
    CHECK(!strcmp(libc_basename("/usr/lib/libc.so.6"), "libc.so.6"), "basename");
    CHECK(!strcmp(libc_basename("plain"), "plain") && !strcmp(libc_basename("dir/"), ""), "basename plain");
    char small[8];
    size_t n = libc_exe_path(small, sizeof small);
    CHECK(n == 7 && strlen(small) == 7, "exe path cut: %zu '%s'", n, small);
    char buf[64];
    CHECK(libc_read_file("/proc/self/nonexistent", buf, sizeof buf) == -1 && !buf[0], "missing file");
    char exe[4096], comm[64];
    libc_exe_path(exe, sizeof exe);
    snprintf(comm, sizeof comm, "%.15s\n", libc_basename(exe));      /* the kernel keeps 15 bytes */
    CHECK(libc_read_file("/proc/self/comm", buf, sizeof buf) > 0 && !strcmp(buf, comm), "comm '%s'", buf);
    CHECK(libc_read_file("/proc/self/maps", buf, 5) == 4 && strlen(buf) == 4, "cut read '%s'", buf);
    uintptr_t x[2] = { UINTPTR_MAX, 0 }, w[2] = { UINTPTR_MAX, 0 };
    libc_segments(&__ehdr_start, PF_X, widen, x);
    libc_segments(&__ehdr_start, PF_W, widen, w);
    CHECK((uintptr_t)&check_names_and_segments >= x[0] && (uintptr_t)&check_names_and_segments < x[1],
          "code %lx-%lx", (unsigned long)x[0], (unsigned long)x[1]);
    CHECK((uintptr_t)&static_word >= w[0] && (uintptr_t)&static_word < w[1] &&
          !((uintptr_t)&static_word >= x[0] && (uintptr_t)&static_word < x[1]), "data %lx-%lx", (unsigned long)w[0],
          (unsigned long)w[1]);
}

#define RACERS 4
#define RACE_STEPS 100000
static atomic_size_t top;
static _Atomic uint16_t low = UINT16_MAX, high;

static void *race(void *arg)
{
    uint64_t x = (uintptr_t)arg;
    for (unsigned i = 0; i < RACE_STEPS; i++) {
        x = libc_mix64(x + i);
        libc_atomic_max(&top, (size_t)(x % 1000000));
        libc_atomic_min16(&low, (uint16_t)(x % 60000 + 7));
        libc_atomic_max16(&high, (uint16_t)(x % 60000 + 7));
    }
    return NULL;
}

static void check_atomics(void)
{
    pthread_t t[RACERS];
    for (uintptr_t i = 0; i < RACERS; i++)
        pthread_create(&t[i], NULL, race, (void *)(i + 1));
    for (unsigned i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    size_t want = 0;
    uint16_t lo = UINT16_MAX, hi = 0;
    for (uint64_t i = 1; i <= RACERS; i++) {
        uint64_t x = i;
        for (unsigned k = 0; k < RACE_STEPS; k++) {
            x = libc_mix64(x + k);
            want = x % 1000000 > want ? x % 1000000 : want;
            lo = x % 60000 + 7 < lo ? (uint16_t)(x % 60000 + 7) : lo;
            hi = x % 60000 + 7 > hi ? (uint16_t)(x % 60000 + 7) : hi;
        }
    }
    CHECK(atomic_load(&top) == want, "max %zu, not %zu", atomic_load(&top), want);
    CHECK(atomic_load(&low) == lo && atomic_load(&high) == hi, "min %u max %u, not %u %u", atomic_load(&low),
          atomic_load(&high), lo, hi);
    libc_atomic_max(&top, 3);
    CHECK(atomic_load(&top) == want, "a smaller value lowered the max");
}

static _Atomic unsigned word;

static void *waker(void *arg)
{
    (void)arg;
    struct timespec ms = { 0, 20000000 };
    nanosleep(&ms, NULL);
    atomic_store(&word, 1);
    libc_futex_wake(&word, INT32_MAX);
    return NULL;
}

static void check_seed_and_futex(void)
{
    CHECK(libc_mix64(0) == 0 && libc_mix64(1) != 1 && libc_mix64(1) != libc_mix64(2), "mix64");
    uint64_t a = libc_random_seed(), b = libc_random_seed();
    CHECK(a != b && a && b, "seeds %llx %llx", (unsigned long long)a, (unsigned long long)b);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    libc_futex_wait(&word, 0, 30000000L);                   /* times out */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ns = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
    CHECK(ns >= 25000000L, "waited %ld ns", ns);
    libc_futex_wait(&word, 5, 0);                            /* not the value: returns at once */
    pthread_t t;
    pthread_create(&t, NULL, waker, NULL);
    while (atomic_load(&word) == 0)
        libc_futex_wait(&word, 0, 0);
    pthread_join(t, NULL);
    CHECK(libc_sys(SYS_getpid, 0, 0, 0, 0) == getpid() && libc_sys(SYS_close, -1, 0, 0, 0) == -9, "raw calls");
}

int main(void)
{
    check_parsers();
    check_maps();
    check_long_line();
    check_names_and_segments();
    check_atomics();
    check_seed_and_futex();
    return UNIT_DONE();
}
