/* Fuzzes the suppression file parser and matcher (src/suppress.c): suppress_load on a file
 * holding the input, against a model of the format (trimmed lines, '#' comments, leak:PATTERN
 * entries in order after the built-ins, at most 64 KiB read, cut after its last whole line),
 * then suppress_match and suppress_glob against a plain recursive glob.
 *
 * Input: byte 0 picks the target. Load: the rest is the file, and its last 3 lines (if any)
 * are also used as a frame's function, file and object to match. Glob: the rest is
 * PATTERN NUL STRING. */
#include "fuzz.h"
#include "suppress.h"

#include <stdbool.h>

#define TEXT_MAX ((size_t)64 << 10)
#define ENTRIES_MAX 1024u

static char path[64];
static int file_fd = -1;
static unsigned builtins;

static void cleanup(void)
{
    if (path[0])
        unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_init();
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/zmm-fuzz-supp-XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    file_fd = mkstemp(path);
    if (file_fd < 0) {
        perror("mkstemp");
        exit(1);
    }
    atexit(cleanup);
    suppress_load(NULL);
    builtins = suppress_count();
    return 0;
}

/* ---- the model ------------------------------------------------------------------------- */

/* LeakSanitizer's rule: a leading '^' anchors at the start and a trailing '$' at the end;
 * otherwise the pattern may match anywhere (as if '*' stood there). '*' is any run, any other
 * character itself; the empty string matches nothing. Dynamic programming over the whole of
 * S: row[j] is "the pattern so far matches S's first j characters". */
static bool model_glob(const char *pattern, const char *s)
{
    static bool row[4096 + 2];
    size_t sn = strlen(s);
    if (!sn || sn > 4096)
        return false;
    bool start = pattern[0] == '^';
    if (start)
        pattern++;
    size_t pn = strlen(pattern);
    bool end = pn && pattern[pn - 1] == '$';
    if (end)
        pn--;
    for (size_t j = 0; j <= sn; j++)
        row[j] = start ? j == 0 : true;          /* an implicit leading '*' */
    for (size_t i = 0; i < pn; i++) {
        if (pattern[i] == '*') {
            for (size_t j = 1; j <= sn; j++)
                row[j] = row[j] || row[j - 1];
        } else {
            for (size_t j = sn; j > 0; j--)
                row[j] = row[j - 1] && s[j - 1] == pattern[i];
            row[0] = false;
        }
    }
    if (!end)                                    /* an implicit trailing '*' */
        for (size_t j = 0; j < sn; j++)
            if (row[j])
                return true;
    return row[sn];
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The user entries the file must give, "leak:..." trimmed, in order. */
static unsigned model_load(const uint8_t *data, size_t size, char **entries, char *buf)
{
    size_t len = size;
    if (len > TEXT_MAX) {
        len = TEXT_MAX;
        const uint8_t *nl = memrchr(data, '\n', len);
        len = nl ? (size_t)(nl - data) + 1 : 0;
    }
    memcpy(buf, data, len);
    buf[len] = '\0';
    unsigned n = 0;
    for (char *line = buf; *line;) {
        char *end = strchr(line, '\n');
        char *next = end ? end + 1 : line + strlen(line);
        if (end)
            *end = '\0';
        while (is_space(*line))
            line++;
        size_t l = strlen(line);
        while (l && is_space(line[l - 1]))
            line[--l] = '\0';
        if (!strncmp(line, "leak:", 5) && n < ENTRIES_MAX - builtins)
            entries[n++] = line;
        line = next;
    }
    return n;
}

static void write_file(const uint8_t *data, size_t size)
{
    FUZZ_CHECK(ftruncate(file_fd, 0) == 0, "ftruncate");
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(file_fd, data + done, size - done, (off_t)done);
        FUZZ_CHECK(w > 0, "pwrite");
        done += (size_t)w;
    }
}

/* The last K lines of DATA (K <= 3) as a frame; fields cut to fit. */
static void frame_from(const uint8_t *data, size_t size, struct symbol *f)
{
    memset(f, 0, sizeof *f);
    char *fields[3] = { f->function, f->file, f->object };
    size_t end = size;
    for (int k = 0; k < 3 && end > 0; k++) {
        size_t start = end;
        while (start > 0 && data[start - 1] != '\n')
            start--;
        size_t n = end - start;
        if (n > 511)
            n = 511;
        memcpy(fields[k], data + start, n);
        fields[k][n] = '\0';
        end = start ? start - 1 : 0;
    }
}

static void fuzz_load(const uint8_t *data, size_t size)
{
    static char model_buf[TEXT_MAX + 1];
    static char *want[ENTRIES_MAX];
    write_file(data, size);
    unsigned n = model_load(data, size, want, model_buf);

    fuzz_quiet(1);
    suppress_load(path);
    fuzz_quiet(0);
    FUZZ_CHECK(suppress_count() == builtins + n, "%u suppressions, the model says %u + %u",
               suppress_count(), builtins, n);
    for (unsigned i = 0; i < suppress_count(); i++) {
        FUZZ_CHECK(suppress_is_builtin(i) == (i < builtins), "entry %u builtin flag", i);
        if (i >= builtins)
            FUZZ_CHECK(!strcmp(suppress_text(i), want[i - builtins]), "entry %u is '%s', the model says '%s'",
                       i, suppress_text(i), want[i - builtins]);
    }
    FUZZ_CHECK(!strcmp(suppress_text(suppress_count()), ""), "text past the end");

    static struct symbol frames[2];
    frame_from(data, size, &frames[0]);
    snprintf(frames[1].function, sizeof frames[1].function, "%s", "main");
    snprintf(frames[1].object, sizeof frames[1].object, "%s", "/usr/bin/zmm-fuzz");
    int got = suppress_match(frames, 2);
    int expect = -1;
    for (unsigned i = 0; i < suppress_count() && expect < 0; i++) {
        const char *p = suppress_text(i) + 5;
        for (unsigned f = 0; f < 2 && expect < 0; f++)
            if (model_glob(p, frames[f].function) || model_glob(p, frames[f].file) ||
                model_glob(p, frames[f].object))
                expect = (int)i;
    }
    FUZZ_CHECK(got == expect, "suppress_match gave %d, the model %d", got, expect);
}

static void fuzz_glob(const uint8_t *data, size_t size)
{
    static char buf[4097];
    if (size > 4096)
        size = 4096;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *pattern = buf;
    size_t pl = strlen(buf);
    const char *s = pl < size ? buf + pl + 1 : "";
    bool got = suppress_glob(pattern, s), want = model_glob(pattern, s);
    FUZZ_CHECK(got == want, "suppress_glob('%s', '%s') = %d, the model says %d", pattern, s, got, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > TEXT_MAX + 4096)
        return 0;
    if (data[0] & 1)
        fuzz_glob(data + 1, size - 1);
    else
        fuzz_load(data + 1, size - 1);
    return 0;
}
