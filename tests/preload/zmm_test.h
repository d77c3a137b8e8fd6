/* zmm_test.h: what every preload test program shares.
 *
 * CHECK(cond, fmt, ...) counts a failure and prints file:line and a message; a program ends with
 * `return test_result();`, which is 0 only if no check failed and at least one ran.
 * require_zmm() is the first call of every program: it fails the program unless malloc really is
 * zmm's (zmm_version is defined and malloc lives in the same object), so that no test can pass
 * because LD_PRELOAD did not take effect. With ZT_LEAK=N in the environment it also leaks one
 * block of N bytes on purpose (zt_deliberate_leak), which a tracked run must report.
 *
 * Define ZMM_TEST_GLIBC when building a program by hand against plain glibc (a sanity check of the
 * test itself): require_zmm() then only says so, and the zmm_* entry points read as absent. */
#ifndef ZMM_TEST_H
#define ZMM_TEST_H

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static int zt_failures;
static int zt_checks;

#define CHECK(cond, ...)                                                             \
    do {                                                                             \
        zt_checks++;                                                                 \
        if (!(cond)) {                                                               \
            zt_failures++;                                                           \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            fflush(stderr);                                                          \
        }                                                                            \
    } while (0)

/* Too many failures in a loop say nothing more: stop early. */
#define CHECK_LIMIT(n)                                                        \
    do {                                                                      \
        if (zt_failures > (n)) {                                              \
            fprintf(stderr, "%s:%d: more than %d failures, stopping\n",       \
                    __FILE__, __LINE__, (n));                                 \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

#define FATAL(...)                                                            \
    do {                                                                      \
        fprintf(stderr, "%s:%d: FATAL: ", __FILE__, __LINE__);                \
        fprintf(stderr, __VA_ARGS__);                                         \
        fputc('\n', stderr);                                                  \
        exit(1);                                                              \
    } while (0)

static inline int test_result(void)
{
    if (zt_checks == 0) {
        fprintf(stderr, "no check ran: failing\n");
        return 1;
    }
    if (zt_failures) {
        fprintf(stderr, "%d of %d checks failed\n", zt_failures, zt_checks);
        return 1;
    }
    printf("all %d checks passed\n", zt_checks);
    return 0;
}

/* malloc(1 MiB) into B[0..MAX) until it fails, filling each block with BYTE; returns how many
 * succeeded and leaves in *ERR the errno of the last call (of the failing one, if any). */
static inline size_t fill_mib_blocks(void **b, size_t max, int byte, int *err)
{
    size_t n = 0;
    for (*err = 0; n < max; n++) {
        errno = 0;
        b[n] = malloc((size_t)1 << 20);
        *err = errno;
        if (!b[n])
            break;
        memset(b[n], byte, (size_t)1 << 20);
    }
    return n;
}

/* Point fd 2 at the temporary file TMP; returns what stderr_restore needs. */
static inline int stderr_redirect(FILE *tmp)
{
    fflush(stderr);
    int saved = dup(2);
    if (saved < 0 || dup2(fileno(tmp), 2) < 0)
        FATAL("dup/dup2 failed");
    return saved;
}

static inline void stderr_restore(int saved)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

/* Hide a value from the optimiser, so that gcc neither folds an allocation away nor warns about
 * a deliberate misuse (-Walloc-size-larger-than, -Wuse-after-free, -Wfree-nonheap-object). */
static inline void *opaque(void *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}

static inline size_t opaque_size(size_t n)
{
    __asm__ volatile("" : "+r"(n));
    return n;
}

/* A symbol as a function pointer, without ISO C's object-to-function pointer warning. */
#define ZT_SYM(fp, handle, name)                                              \
    do {                                                                      \
        void *zt_sym_ = dlsym((handle), (name));                              \
        memcpy(&(fp), &zt_sym_, sizeof zt_sym_);                              \
    } while (0)

/* The path of the object that defines address P, or NULL. */
static inline const char *object_of(const void *p)
{
    Dl_info info;
    if (!p || !dladdr(p, &info) || !info.dli_fname)
        return NULL;
    return info.dli_fname;
}

/* The file name of libzmm as the dynamic linker knows it (NULL under ZMM_TEST_GLIBC). */
static inline const char *zmm_object(void)
{
#ifdef ZMM_TEST_GLIBC
    return NULL;
#else
    return object_of(dlsym(RTLD_DEFAULT, "zmm_version"));
#endif
}

/* True if the global symbol NAME is defined in libzmm. */
static inline int defined_in_zmm(const char *name)
{
    const char *z = zmm_object();
    const char *o = object_of(dlsym(RTLD_DEFAULT, name));
    return z && o && strcmp(z, o) == 0;
}

/* ZT_LEAK=N (leaks-tracked-*): one block of N bytes leaked on purpose, from this function, so
 * that the exit report of a tracked run shows that the program's own blocks were tracked. The
 * pointer lives only in registers (no stale copy in a frame that outlives this one). */
__attribute__((noinline)) static void zt_deliberate_leak(size_t n)
{
    unsigned char *p = malloc(n);
    if (p)
        memset(p, 0x5a, n);
    __asm__ volatile("" : : "r"(p) : "memory");
}

static inline void require_zmm(void)
{
#ifdef ZMM_TEST_GLIBC
    fprintf(stderr, "note: built with ZMM_TEST_GLIBC: not requiring zmm\n");
#else
    void *ver = dlsym(RTLD_DEFAULT, "zmm_version");
    void *mal = dlsym(RTLD_DEFAULT, "malloc");
    const char *zo = object_of(ver);
    const char *mo = object_of(mal);
    if (!ver || !mal || !zo || !mo || strcmp(zo, mo) != 0) {
        fprintf(stderr,
                "require_zmm: not running under zmm (zmm_version=%p in %s, malloc=%p in %s); "
                "LD_PRELOAD=%s\n",
                ver, zo ? zo : "?", mal, mo ? mo : "?",
                getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "(unset)");
        exit(1);
    }
    const char *(*version)(void);
    memcpy(&version, &ver, sizeof ver);
    const char *v = version();
    if (!v || !*v) {
        fprintf(stderr, "require_zmm: zmm_version() returned an empty version\n");
        exit(1);
    }
#endif
    const char *leak = getenv("ZT_LEAK");
    if (leak && *leak)
        zt_deliberate_leak((size_t)strtoul(leak, NULL, 10));
}

/* zmm_memory_usage() through dlsym; (size_t)-1 when absent. */
static inline size_t zt_memory_usage(void)
{
#ifdef ZMM_TEST_GLIBC
    return (size_t)-1;
#else
    size_t (*fn)(void);
    ZT_SYM(fn, RTLD_DEFAULT, "zmm_memory_usage");
    return fn ? fn() : (size_t)-1;
#endif
}

/* A small deterministic PRNG (xorshift64*), so runs are reproducible. */
static inline uint64_t zt_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Fill / verify N bytes with a pattern derived from SEED: byte I is byte I % 8 (little-endian)
 * of word I / 8 of a sequence, so every prefix of a filled block is itself a valid fill and a
 * realloc can be checked on min(old, new) bytes. Words go through memcpy (inlined): any
 * alignment is fine. */
static inline uint64_t zt_word(unsigned seed, size_t k)
{
    return ((uint64_t)seed * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)k * 0xD6E8FEB86659FD93ULL) ^ k;
}

static inline unsigned char zt_byte(unsigned seed, size_t i)
{
    return (unsigned char)(zt_word(seed, i / 8) >> (8 * (i % 8)));
}

static inline void fill_pattern(void *p, size_t n, unsigned seed)
{
    unsigned char *c = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = zt_word(seed, i / 8);
        memcpy(c + i, &w, 8);
    }
    for (; i < n; i++)
        c[i] = zt_byte(seed, i);
}

/* Returns the index of the first wrong byte, or (size_t)-1 if all are right. */
static inline size_t check_pattern(const void *p, size_t n, unsigned seed)
{
    const unsigned char *c = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, c + i, 8);
        if (w != zt_word(seed, i / 8))
            break;
    }
    for (; i < n; i++)
        if (c[i] != zt_byte(seed, i))
            return i;
    return (size_t)-1;
}

#endif
