/* options.c: owns the ZMM_* options: the table in options.h is the only list, read here once,
 * at the first allocation, from environ (or /proc/self/environ when libc has not set environ
 * yet), and every value's text is parsed here, structured ones (ZMM_DEBUG, ZMM_FAIL_MAP) too:
 * the layers get values. No getenv, no allocation. A malformed value gives one warning, one
 * format for every kind, naming the variable and the default it keeps; the program always
 * runs on. A parser leaves its output alone when it refuses a value. */
#include "options.h"
#include "libc.h"
#include "out.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

struct zmm_options zmm_opt;

static bool set_number(void *out, size_t v)
{
    *(size_t *)out = v;
    return true;
}

/* S is one of NAMES: its index. */
static bool parse_name(const char *s, const char *const *names, size_t count, void *out)
{
    for (size_t i = 0; i < count; i++)
        if (!strcmp(s, names[i]))
            return set_number(out, i);
    return false;
}

bool options_parse_flag(const char *s, void *out)
{
    static const char *const off[] = { "0", "no", "off", "false" }, *const on[] = { "1", "yes", "on", "true" };
    size_t i;
    if (parse_name(s, off, 4, &i))
        return set_number(out, 0);
    if (parse_name(s, on, 4, &i))
        return set_number(out, 1);
    return false;
}

/* Digits only, at most MAX. */
static bool parse_uint(const char *s, size_t max, size_t *v)
{
    uint64_t u;
    if (!libc_parse_dec(&s, max, &u) || *s)
        return false;
    *v = (size_t)u;
    return true;
}

/* PHP's size syntax: digits with an optional K, M or G suffix; -1 (or "adaptive") unset. */
bool options_parse_size(const char *s, void *out)
{
    if (!strcmp(s, "-1") || !strcmp(s, "adaptive"))
        return set_number(out, OPT_UNSET);
    uint64_t v;
    if (!libc_parse_dec(&s, ZMM_SIZE_MAX, &v))
        return false;
    unsigned shift = 0;
    switch (*s) {
    case 'k': case 'K': shift = 10; s++; break;
    case 'm': case 'M': shift = 20; s++; break;
    case 'g': case 'G': shift = 30; s++; break;
    default: break;
    }
    if (*s == 'b' || *s == 'B')
        s++;
    if (*s || v > (ZMM_SIZE_MAX >> shift))
        return false;
    return set_number(out, (size_t)v << shift);
}

bool options_parse_memtype(const char *s, void *out)
{
    static const char *const names[] = { "mmap_anon", "mmap_zero", "malloc" };
    return parse_name(s, names, 3, out);
}

/* A flag, or "reachable". */
bool options_parse_leaks(const char *s, void *out)
{
    if (!strcmp(s, "reachable"))
        return set_number(out, LEAKS_REACHABLE);
    return options_parse_flag(s, out);
}

bool options_parse_format(const char *s, void *out)
{
    static const char *const names[] = { "text", "json" };
    return parse_name(s, names, 2, out);
}

bool options_parse_exitcode(const char *s, void *out)
{
    size_t v;
    if (!strcmp(s, "unchanged") || !*s)
        return set_number(out, OPT_UNSET);
    return parse_uint(s, 255, &v) && v > 0 && set_number(out, v);
}

bool options_parse_depth(const char *s, void *out)
{
    size_t v;
    return parse_uint(s, STACK_DEPTH_MAX, &v) && v > 0 && set_number(out, v);
}

/* A signal by name (with or without SIG), by number, or RTMIN+N / RTMAX-N; "none" is 0. Not
 * KILL or STOP, which cannot be caught, nor the one zmm stops threads with. */
bool options_parse_signal(const char *s, void *out)
{
    static const struct { const char *name; int sig; } names[] = {
        { "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "USR1", SIGUSR1 },
        { "USR2", SIGUSR2 }, { "ALRM", SIGALRM }, { "TERM", SIGTERM }, { "CONT", SIGCONT },
        { "WINCH", SIGWINCH }, { "PWR", SIGPWR }, { "URG", SIGURG },
    };
    if (!strcmp(s, "none") || !strcmp(s, "0"))
        return set_number(out, 0);
    if (!strncmp(s, "SIG", 3))
        s += 3;
    size_t v = 0, n;
    if (!strncmp(s, "RTMIN+", 6) && parse_uint(s + 6, 64, &n))
        v = (size_t)SIGRTMIN + n;
    else if (!strncmp(s, "RTMAX-", 6) && parse_uint(s + 6, 64, &n) && n <= (size_t)SIGRTMAX)
        v = (size_t)SIGRTMAX - n;
    else if (parse_uint(s, 64, &n))
        v = n;
    else
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (!strcmp(s, names[i].name))
                v = (size_t)names[i].sig;
    if (v == 0 || v > (size_t)SIGRTMAX || v == SIGKILL || v == SIGSTOP || v == (size_t)WORLD_STOP_SIGNAL)
        return false;
    return set_number(out, v);
}

bool options_parse_world(const char *s, void *out)
{
    static const char *const names[] = { "auto", "ptrace", "signal" };
    return parse_name(s, names, 3, out);
}

bool options_parse_text(const char *s, void *out)
{
    opt_text_t *t = out;
    size_t n = strlen(s);
    if (n >= sizeof t->s)
        return false;
    memcpy(t->s, s, n + 1);
    return true;
}

/* Digits, or 0x and hex digits, LEN bytes of them (followed by ',' or the end), at most MAX. */
static bool parse_number(const char *s, size_t len, size_t max, size_t *v)
{
    const char *p = s, *end = s + len;
    uint64_t u;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        p += 2;
        u = libc_parse_hex(&p);
        if (p != end || len - 2 > 16 || u > max)
            return false;
    } else if (!libc_parse_dec(&p, max, &u) || p != end) {
        return false;
    }
    *v = (size_t)u;
    return true;
}

/* One NAME[=VALUE] item of ZMM_DEBUG into O; false if it is not one of the items. */
static bool parse_debug_item(const char *s, size_t len, struct opt_debug *o)
{
    const char *eq = memchr(s, '=', len);
    size_t name = eq ? (size_t)(eq - s) : len, vlen = eq ? len - name - 1 : 0;
    const char *v = eq ? eq + 1 : NULL;
    size_t n;
    if (name == 12 && !memcmp(s, "poison_alloc", 12)) {
        if (v && !parse_number(v, vlen, 255, &n))
            return false;
        o->poison_alloc = v ? (int)n : 0xAB;
    } else if (name == 11 && !memcmp(s, "poison_free", 11)) {
        if (v && !parse_number(v, vlen, 255, &n))
            return false;
        o->poison_free = v ? (int)n : 0xCD;
    } else if (name == 7 && !memcmp(s, "padding", 7)) {
        if (v && !parse_number(v, vlen, 4096, &n))
            return false;
        o->padding = v ? (uint32_t)align_up(n, 8) : 16;
    } else if (name == 13 && !memcmp(s, "check_on_exit", 13) && !v) {
        o->check_on_exit = 1;
    } else {
        return false;
    }
    return true;
}

/* ZMM_DEBUG: "none", or comma-separated items poison_alloc[=BYTE], poison_free[=BYTE],
 * padding[=N] (0..4096) and check_on_exit; BYTE and N decimal or 0x hex. */
bool options_parse_debug(const char *s, void *out)
{
    struct opt_debug o = { .poison_alloc = -1, .poison_free = -1 };
    if (strcmp(s, "none"))
        for (const char *p = s; *p;) {
            size_t len = strcspn(p, ",");
            if (len && !parse_debug_item(p, len, &o))
                return false;
            p += len + (p[len] == ',');
        }
    *(struct opt_debug *)out = o;
    return true;
}

/* ZMM_FAIL_MAP: "none" (or empty), N or N+, N from 1. */
bool options_parse_failmap(const char *s, void *out)
{
    struct opt_failmap f = { 0, 0 };
    if (*s && strcmp(s, "none")) {
        uint64_t n;
        if (!libc_parse_dec(&s, ZMM_SIZE_MAX, &n) || !n)
            return false;
        bool after = *s == '+';
        if (s[after])
            return false;
        f.first = (size_t)n;
        f.last = after ? SIZE_MAX : (size_t)n;
    }
    *(struct opt_failmap *)out = f;
    return true;
}

struct option_row {
    const char *name;
    bool (*parse)(const char *, void *);
    void *field;
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
    char entry[1100];
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

bool options_selects_program(const char *list)
{
    if (!list[0])
        return true;
    char exe_path[1024], arg0_path[1024];       /* argv[0]: cmdline's first string */
    libc_exe_path(exe_path, sizeof exe_path);
    libc_read_file("/proc/self/cmdline", arg0_path, sizeof arg0_path);
    const char *exe = libc_basename(exe_path), *arg0 = libc_basename(arg0_path);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n && ((strlen(exe) == n && !strncmp(p, exe, n)) || (strlen(arg0) == n && !strncmp(p, arg0, n))))
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}
