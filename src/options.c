/* options.c: owns the ZMM_* options: the table in options.h is the only list, read here once,
 * at the first allocation, from environ (or /proc/self/environ when libc has not set environ
 * yet). No getenv, no allocation. A malformed value gives one warning naming the variable
 * and the default it keeps; the program always runs on. */
#include "options.h"
#include "out.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

struct zmm_options zmm_opt;

bool options_parse_flag(const char *s, size_t *out)
{
    if (!strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "on") || !strcmp(s, "true")) {
        *out = 1;
        return true;
    }
    if (!strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "off") || !strcmp(s, "false")) {
        *out = 0;
        return true;
    }
    return false;
}

/* PHP's size syntax: digits with an optional K, M or G suffix; -1 (or "adaptive") unset. */
bool options_parse_size(const char *s, size_t *out)
{
    if (!strcmp(s, "-1") || !strcmp(s, "adaptive")) {
        *out = OPT_UNSET;
        return true;
    }
    if (*s < '0' || *s > '9')
        return false;
    size_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (ZMM_SIZE_MAX - 9) / 10)
            return false;
        v = v * 10 + (size_t)(*s - '0');
    }
    unsigned shift = 0;
    switch (*s) {
    case 'k': case 'K': shift = 10; s++; break;
    case 'm': case 'M': shift = 20; s++; break;
    case 'g': case 'G': shift = 30; s++; break;
    default: break;
    }
    if (*s == 'b' || *s == 'B')
        s++;
    if (*s || (v > (ZMM_SIZE_MAX >> shift)))
        return false;
    *out = v << shift;
    return true;
}

bool options_parse_memtype(const char *s, size_t *out)
{
    static const char *const names[] = { "mmap_anon", "mmap_zero", "malloc" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return true;
        }
    return false;
}

struct option_row {
    const char *name;
    bool (*parse)(const char *, size_t *);
    size_t *field;
    const char *def;
};

static const struct option_row table[] = {
#define ROW_(name, kind, field, def, desc) \
    { "ZMM_" #name, options_parse_##kind, &zmm_opt.field, def },
    ZMM_OPTIONS(ROW_)
#undef ROW_
};
enum { OPTION_COUNT = sizeof table / sizeof table[0] };

static void option_set(const struct option_row *r, const char *value)
{
    if (!r->parse(value, r->field)) {
        r->parse(r->def, r->field);
        out_warn("%s=%s is not valid; using the default (%s)", r->name, value, r->def);
    }
}

/* NAME=VALUE: if NAME is one of ours, set it. */
static void option_offer(const char *entry)
{
    if (strncmp(entry, "ZMM_", 4))
        return;
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        size_t n = strlen(table[i].name);
        if (!strncmp(entry, table[i].name, n) && entry[n] == '=')
            option_set(&table[i], entry + n + 1);
    }
}

/* Early in start-up environ may still be NULL: read the kernel's copy, entry by entry. */
static void options_from_proc(void)
{
    int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[4096];
    char entry[512];
    size_t len = 0;
    bool skip = false;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\0') {
                entry[len] = '\0';
                if (!skip)
                    option_offer(entry);
                len = 0;
                skip = false;
            } else if (len < sizeof entry - 1) {
                entry[len++] = buf[i];
            } else {
                skip = true;
            }
        }
    }
    close(fd);
}

void options_load(char **envp)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        table[i].parse(table[i].def, table[i].field);
    if (!envp) {
        options_from_proc();
        return;
    }
    for (char **e = envp; *e; e++)
        option_offer(*e);
}
