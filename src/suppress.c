/* suppress.c: owns the suppression list, LeakSanitizer's "leak:PATTERN" format: the built-in
 * entries first, then the lines of the ZMM_SUPPRESSIONS file in the order written. All of it
 * lives in static storage (the file's text is kept in one buffer and cut into lines in
 * place); past SUPP_TEXT_MAX bytes or SUPP_MAX entries the rest is ignored with one warning.
 * A line that is not "leak:PATTERN" warns once, naming the file and the line, and is skipped.
 * Matching never allocates; the list changes only in suppress_load. */
#include "suppress.h"
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define SUPP_TEXT_MAX  ((size_t)64 << 10)
#define SUPP_MAX       1024u
#define LEAK_PREFIX    "leak:"

/* Built-in suppressions, "leak:PATTERN" lines ended by NULL: memory the C runtime keeps on
 * purpose, never a program's own leaks. What the dynamic loader
 * allocates for itself (DTVs, link maps) is a root already (track.c marks those blocks); these
 * name the same kind of memory where it is reached through a frame of the program, as
 * LeakSanitizer's own list does: TLS blocks of dlopen'd objects (glibc bug 12650) and the
 * thread blocks glibc hands out for new threads. */
static const char *const builtin[] = {
    "leak:*tls_get_addr*",
    "leak:^_dl_allocate_tls",
    NULL
};

static struct {
    const char *text;       /* "leak:PATTERN" as written */
    const char *pattern;    /* text + 5 */
    bool builtin;
} entries[SUPP_MAX];
static unsigned count;
static char file_text[SUPP_TEXT_MAX + 1];

static bool add(const char *text, bool is_builtin)
{
    if (count == SUPP_MAX)
        return false;
    entries[count].text = text;
    entries[count].pattern = text + sizeof LEAK_PREFIX - 1;
    entries[count].builtin = is_builtin;
    count++;
    return true;
}

/* ---- reading the file ------------------------------------------------------------------ */

/* The file's first SUPP_TEXT_MAX bytes, NUL-terminated, cut after its last whole line when
 * there was more; returns the length, or -1 when it cannot be opened or read. */
static ssize_t read_file(const char *path, bool *truncated)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    *truncated = false;
    for (;;) {
        char probe;
        char *dst = len < SUPP_TEXT_MAX ? file_text + len : &probe;
        size_t room = len < SUPP_TEXT_MAX ? SUPP_TEXT_MAX - len : 1;
        ssize_t r = read(fd, dst, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        if (dst == &probe) {
            *truncated = true;
            break;
        }
        len += (size_t)r;
    }
    close(fd);
    if (*truncated) {
        char *nl = memrchr(file_text, '\n', len);
        len = nl ? (size_t)(nl - file_text) + 1 : 0;
    }
    file_text[len] = '\0';
    return (ssize_t)len;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The start of LINE trimmed at both ends, in place. */
static char *trim(char *line)
{
    while (is_space(*line))
        line++;
    size_t n = strlen(line);
    while (n && is_space(line[n - 1]))
        line[--n] = '\0';
    return line;
}

static void warn_line(const char *path, unsigned lineno, const char *line, const char *why)
{
    char shown[81];
    size_t n = strlen(line);
    bool cut = n > sizeof shown - 1;
    memcpy(shown, line, cut ? sizeof shown - 1 : n);
    shown[cut ? sizeof shown - 1 : n] = '\0';
    out_warn("ZMM_SUPPRESSIONS: %s:%u: %s in \"%s%s\", line ignored", path, lineno, why, shown,
             cut ? "..." : "");
}

/* A "type:" prefix other than leak: is a suppression zmm does not do; anything else is not a
 * suppression at all. */
static const char *line_problem(const char *line)
{
    if (!strncmp(line, LEAK_PREFIX, sizeof LEAK_PREFIX - 1))
        return NULL;
    size_t type = strspn(line, "abcdefghijklmnopqrstuvwxyz_");
    if (type && line[type] == ':')
        return "unsupported suppression type (only leak: is used)";
    return "malformed suppression (expected leak:PATTERN)";
}

static void parse(const char *path, char *text)
{
    unsigned lineno = 0;
    bool full = false;
    while (*text) {
        char *end = strchr(text, '\n');
        if (end)
            *end = '\0';
        lineno++;
        char *line = trim(text);
        text = end ? end + 1 : text + strlen(text);
        if (!line[0] || line[0] == '#')
            continue;
        const char *why = line_problem(line);
        if (why) {
            warn_line(path, lineno, line, why);
            continue;
        }
        if (!add(line, false) && !full) {
            full = true;
            out_warn("ZMM_SUPPRESSIONS: %s:%u: more than %u suppressions, the rest are ignored",
                     path, lineno, SUPP_MAX);
        }
    }
}

void suppress_load(const char *path)
{
    count = 0;
    for (size_t i = 0; builtin[i]; i++)
        add(builtin[i], true);
    if (!path || !path[0])
        return;
    bool truncated = false;
    ssize_t len = read_file(path, &truncated);
    if (len < 0) {
        file_text[0] = '\0';
        out_warn("ZMM_SUPPRESSIONS: cannot read %s, using the built-in suppressions only", path);
        return;
    }
    if (truncated)
        out_warn("ZMM_SUPPRESSIONS: %s is longer than %zu bytes, the rest is ignored", path,
                 SUPP_TEXT_MAX);
    parse(path, file_text);
}

/* ---- matching ---------------------------------------------------------------------------- */

/* '*' matches any run; START anchors P at the start of S, END at its end. Backtracks to the
 * last '*' only, which is enough for globs (linear in practice, O(|p|·|s|) at worst). */
static bool glob_run(const char *p, size_t pn, const char *s, bool start, bool end)
{
    size_t sn = strlen(s), pi = 0, si = 0;
    size_t star_p = SIZE_MAX, star_s = 0;
    if (!start)
        star_p = 0;       /* an implicit '*' before the pattern */
    for (;;) {
        if (pi == pn && (!end || si == sn))
            return true;
        if (pi < pn && p[pi] == '*') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < pn && si < sn && p[pi] == s[si]) {
            pi++;
            si++;
            continue;
        }
        if (star_p == SIZE_MAX || star_s >= sn)
            return false;
        pi = star_p;
        si = ++star_s;
    }
}

bool suppress_glob(const char *pattern, const char *s)
{
    if (!s || !s[0] || !pattern)
        return false;
    bool start = pattern[0] == '^';
    if (start)
        pattern++;
    size_t pn = strlen(pattern);
    bool end = pn && pattern[pn - 1] == '$';
    if (end)
        pn--;
    return glob_run(pattern, pn, s, start, end);
}

int suppress_match(const struct symbol *frames, unsigned n)
{
    for (unsigned i = 0; i < count; i++) {
        const char *p = entries[i].pattern;
        for (unsigned f = 0; f < n; f++) {
            if (suppress_glob(p, frames[f].function) || suppress_glob(p, frames[f].file)
                || suppress_glob(p, frames[f].object))
                return (int)i;
        }
    }
    return -1;
}

unsigned suppress_count(void)
{
    return count;
}

const char *suppress_text(unsigned i)
{
    return i < count ? entries[i].text : "";
}

bool suppress_is_builtin(unsigned i)
{
    return i < count && entries[i].builtin;
}
