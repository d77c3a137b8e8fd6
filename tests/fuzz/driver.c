/* driver.c: runs a fuzz harness without libFuzzer (any compiler): every input named on the
 * command line (files, or directories of files, in name order), then -runs=N inputs made from
 * them by a fixed-seed mutator (byte flips, inserts, deletes, copies, splices, random tails),
 * so a gcc build fuzzes too, and the same way each time.
 *
 *   driver [-runs=N] [-seed=S] [-max_len=L] [-max_total_time=SECONDS] [-artifact_prefix=P]
 *          [INPUT|DIR]...
 *
 * The options look like libFuzzer's; others starting with '-' are ignored. When an input makes
 * the harness crash or fail a check, the input is written first to P + "crash-<hash>"
 * (default prefix: the current directory), and its path is printed, for a reproducer:
 * `driver crash-<hash>` replays it. Exit status: 0, or the signal's death. */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

struct input {
    uint8_t *data;
    size_t size;
};

static struct input *corpus;
static size_t corpus_n, corpus_cap;
static uint64_t rng;
static const uint8_t *current;
static size_t current_size;
static char artifact_prefix[512] = "./";
static char crash_path[600];

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        perror("driver");
        exit(1);
    }
    return q;
}

static void add(uint8_t *data, size_t size)
{
    if (corpus_n == corpus_cap) {
        corpus_cap = corpus_cap ? corpus_cap * 2 : 64;
        corpus = xrealloc(corpus, corpus_cap * sizeof *corpus);
    }
    corpus[corpus_n].data = data;
    corpus[corpus_n].size = size;
    corpus_n++;
}

static bool read_input(const char *path, size_t max_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    uint8_t *data = NULL;
    size_t size = 0, cap = 0;
    for (;;) {
        if (size == cap) {
            cap = cap ? cap * 2 : 4096;
            data = xrealloc(data, cap);
        }
        size_t r = fread(data + size, 1, cap - size, f);
        if (!r)
            break;
        size += r;
    }
    fclose(f);
    (void)max_len;
    add(data, size);
    return true;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void read_arg(const char *path, size_t max_len)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "driver: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (!read_input(path, max_len))
            fprintf(stderr, "driver: cannot read %s\n", path);
        return;
    }
    DIR *d = opendir(path);
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        names = xrealloc(names, (n + 1) * sizeof *names);
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = xrealloc(NULL, len);
        snprintf(names[n], len, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            read_input(names[i], max_len);
        free(names[i]);
    }
    free(names);
}

/* FNV-1a of the input, for the reproducer's name. */
static uint64_t hash(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* On a crash: the input to a file (only async-signal-safe calls), then die of the signal. */
static void on_crash(int sig)
{
    int err = fuzz_err_fd;
    int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t done = 0;
        while (done < current_size) {
            ssize_t w = write(fd, current + done, current_size - done);
            if (w <= 0)
                break;
            done += (size_t)w;
        }
        close(fd);
    }
    static const char a[] = "driver: the input that crashed is in ";
    if (write(err, a, sizeof a - 1) < 0 || write(err, crash_path, strlen(crash_path)) < 0 ||
        write(err, "\n", 1) < 0) {
        /* nothing more to do */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_one(const uint8_t *data, size_t size)
{
    current = data;
    current_size = size;
    snprintf(crash_path, sizeof crash_path, "%scrash-%016llx", artifact_prefix,
             (unsigned long long)hash(data, size));
    LLVMFuzzerTestOneInput(data, size);
}

/* A new input from the corpus (or from nothing) into BUF; returns its size. */
static size_t mutate(uint8_t *buf, size_t max_len)
{
    size_t n = 0;
    if (corpus_n && next() % 8) {
        const struct input *in = &corpus[next() % corpus_n];
        n = in->size < max_len ? in->size : max_len;
        memcpy(buf, in->data, n);
    }
    unsigned edits = 1 + (unsigned)(next() % 8);
    for (unsigned e = 0; e < edits; e++) {
        switch (next() % 8) {
        case 0: case 1:     /* flip bits */
            if (n)
                buf[next() % n] ^= (uint8_t)(1u << (next() % 8));
            break;
        case 2:             /* a random byte */
            if (n)
                buf[next() % n] = (uint8_t)next();
            break;
        case 3: {           /* insert bytes */
            size_t k = 1 + next() % 8;
            if (n + k > max_len)
                break;
            size_t at = n ? next() % (n + 1) : 0;
            memmove(buf + at + k, buf + at, n - at);
            for (size_t i = 0; i < k; i++)
                buf[at + i] = (uint8_t)next();
            n += k;
            break;
        }
        case 4: {           /* delete bytes */
            if (!n)
                break;
            size_t at = next() % n, k = 1 + next() % 8;
            if (k > n - at)
                k = n - at;
            memmove(buf + at, buf + at + k, n - at - k);
            n -= k;
            break;
        }
        case 5: {           /* copy a run inside */
            if (n < 2)
                break;
            size_t from = next() % n, to = next() % n, k = 1 + next() % 16;
            if (k > n - from)
                k = n - from;
            if (k > n - to)
                k = n - to;
            memmove(buf + to, buf + from, k);
            break;
        }
        case 6: {           /* splice another input's tail */
            if (!corpus_n)
                break;
            const struct input *o = &corpus[next() % corpus_n];
            if (!o->size)
                break;
            size_t from = next() % o->size, at = n ? next() % n : 0;
            size_t k = o->size - from;
            if (at + k > max_len)
                k = max_len - at;
            memcpy(buf + at, o->data + from, k);
            n = at + k;
            break;
        }
        default: {          /* a random tail */
            size_t k = next() % 32;
            if (n + k > max_len)
                k = max_len - n;
            for (size_t i = 0; i < k; i++)
                buf[n + i] = (uint8_t)next();
            n += k;
            break;
        }
        }
    }
    return n;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    unsigned long long runs = 0, seed = 1, max_len = 4096;
    double max_time = 0;
    int err = fcntl(2, F_DUPFD_CLOEXEC, 3);      /* ours: the harness may point fd 2 elsewhere */
    if (err >= 0)
        fuzz_err_fd = err;
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "-runs=", 6))
            runs = strtoull(a + 6, NULL, 10);
        else if (!strncmp(a, "-seed=", 6))
            seed = strtoull(a + 6, NULL, 10);
        else if (!strncmp(a, "-max_len=", 9))
            max_len = strtoull(a + 9, NULL, 10);
        else if (!strncmp(a, "-max_total_time=", 16))
            max_time = strtod(a + 16, NULL);
        else if (!strncmp(a, "-artifact_prefix=", 17))
            snprintf(artifact_prefix, sizeof artifact_prefix, "%s", a + 17);
        else if (a[0] == '-')
            continue;
        else
            read_arg(a, max_len);
    }
    if (!max_len)
        max_len = 1;
    rng = seed * 0x9e3779b97f4a7c15ull + 1;
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGFPE, on_crash);
    signal(SIGILL, on_crash);

    double t0 = now();
    for (size_t i = 0; i < corpus_n; i++)
        run_one(corpus[i].data, corpus[i].size);
    uint8_t *buf = xrealloc(NULL, max_len);
    unsigned long long done = 0;
    for (; done < runs; done++) {
        if (max_time > 0 && done % 64 == 0 && now() - t0 > max_time)
            break;
        size_t n = mutate(buf, max_len);
        run_one(buf, n);
    }
    char line[200];
    int len = snprintf(line, sizeof line, "driver: %zu inputs replayed, %llu generated (seed %llu), %.1f s\n",
                       corpus_n, done, seed, now() - t0);
    if (len > 0 && write(fuzz_err_fd, line, (size_t)len) < 0)
        return 1;
    free(buf);
    for (size_t i = 0; i < corpus_n; i++)
        free(corpus[i].data);
    free(corpus);
    return 0;
}
