/* Fuzzes the option parser (src/options.c) through its entry points: each kind's parser against
 * a model of its syntax (and a refused value must leave the output alone), options_load over an
 * environment made from the input (every field must end as the last entry naming it says, or
 * its default), and options_selects_program over a name list.
 *
 * Input: byte 0 picks the target; the rest is the text (cut at the first NUL for one value;
 * split at '\n' or NUL into environment entries for options_load). */
#include "fuzz.h"
#include "options.h"

#include <limits.h>
#include <signal.h>

typedef bool (*parser_fn)(const char *, void *);

static const struct row {
    const char *name;
    parser_fn parse;
    void *field;
    size_t size;
    const char *def;
} rows[] = {
#define ROW_(name, kind, field, def, desc) \
    { "ZMM_" #name, options_parse_##kind, &zmm_opt.field, sizeof zmm_opt.field, def },
    ZMM_OPTIONS(ROW_)
#undef ROW_
};
enum { ROWS = sizeof rows / sizeof rows[0] };

static const parser_fn parsers[] = {
    options_parse_size, options_parse_flag, options_parse_memtype, options_parse_leaks,
    options_parse_format, options_parse_exitcode, options_parse_depth, options_parse_signal,
    options_parse_text,
};
enum { PARSERS = sizeof parsers / sizeof parsers[0] };

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* Digits as a number, saturating at ULLONG_MAX. */
static unsigned long long digits_value(const char *s, size_t n)
{
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return ULLONG_MAX;
        v = v * 10 + d;
    }
    return v;
}

static bool one_of(const char *s, const char *const *names, size_t n, size_t *index)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, names[i])) {
            *index = i;
            return true;
        }
    return false;
}

/* What the parser of kind K must make of S: false for a refusal, else *V (sizes and names). */
static bool model(unsigned k, const char *s, size_t *v)
{
    static const char *const flags[] = { "0", "no", "off", "false", "1", "yes", "on", "true" };
    static const char *const memtypes[] = { "mmap_anon", "mmap_zero", "malloc" };
    static const char *const formats[] = { "text", "json" };
    size_t i;
    switch (k) {
    case 0: {   /* size: digits (fewer than 32), K/M/G, B; -1 or adaptive unset */
        if (!strcmp(s, "-1") || !strcmp(s, "adaptive")) {
            *v = OPT_UNSET;
            return true;
        }
        size_t n = strspn(s, "0123456789");
        if (n == 0 || n >= 32)
            return false;
        const char *t = s + n;
        unsigned shift = 0;
        if (*t == 'k' || *t == 'K') shift = 10, t++;
        else if (*t == 'm' || *t == 'M') shift = 20, t++;
        else if (*t == 'g' || *t == 'G') shift = 30, t++;
        if (*t == 'b' || *t == 'B')
            t++;
        if (*t)
            return false;
        unsigned long long d = digits_value(s, n);
        if (d > (unsigned long long)PTRDIFF_MAX >> shift)
            return false;
        *v = (size_t)(d << shift);
        return true;
    }
    case 1:
        if (!one_of(s, flags, 8, &i))
            return false;
        *v = i >= 4;
        return true;
    case 2:
        return one_of(s, memtypes, 3, v);
    case 3:
        if (!strcmp(s, "reachable")) {
            *v = LEAKS_REACHABLE;
            return true;
        }
        return model(1, s, v);
    case 4:
        return one_of(s, formats, 2, v);
    case 5: {
        if (!*s || !strcmp(s, "unchanged")) {
            *v = OPT_UNSET;
            return true;
        }
        if (!all_digits(s))
            return false;
        unsigned long long d = digits_value(s, strlen(s));
        *v = (size_t)d;
        return d >= 1 && d <= 255;
    }
    case 6: {
        if (!all_digits(s))
            return false;
        unsigned long long d = digits_value(s, strlen(s));
        *v = (size_t)d;
        return d >= 1 && d <= STACK_DEPTH_MAX;
    }
    default:
        return false;
    }
}

/* Signals have too many spellings for a small model: check the result's range, and that the
 * plain spellings give what they name. */
static void check_signal(const char *s, bool ok, size_t v)
{
    if (!ok)
        return;
    if (!strcmp(s, "none") || !strcmp(s, "0")) {
        FUZZ_CHECK(v == 0, "'%s' -> %zu", s, v);
        return;
    }
    FUZZ_CHECK(v >= 1 && v <= (size_t)SIGRTMAX, "'%s' -> %zu", s, v);
    FUZZ_CHECK(v != SIGKILL && v != SIGSTOP && v != (size_t)SIGRTMAX - 2, "'%s' -> %zu", s, v);
    if (all_digits(s))
        FUZZ_CHECK(v == digits_value(s, strlen(s)), "'%s' -> %zu", s, v);
}

static void fuzz_parser(unsigned k, const char *s)
{
    union {
        size_t n;
        opt_text_t t;
    } out, before;
    memset(&out, 0xa5, sizeof out);
    before = out;
    bool ok = parsers[k](s, &out);
    if (!ok) {
        FUZZ_CHECK(!memcmp(&out, &before, sizeof out), "parser %u refused '%s' but changed its output", k, s);
        return;
    }
    if (k == 8) {
        FUZZ_CHECK(strlen(s) < sizeof out.t.s && !strcmp(out.t.s, s), "text '%s'", s);
        FUZZ_CHECK(!memcmp(out.t.s + strlen(s) + 1, before.t.s + strlen(s) + 1,
                           sizeof out.t.s - strlen(s) - 1), "text wrote past its NUL");
        return;
    }
    FUZZ_CHECK(!memcmp((char *)&out + sizeof(size_t), (char *)&before + sizeof(size_t),
                       sizeof out - sizeof(size_t)), "parser %u wrote past a size_t", k);
    if (k == 7) {
        check_signal(s, ok, out.n);
        return;
    }
    size_t want = 0;
    bool want_ok = model(k, s, &want);
    FUZZ_CHECK(want_ok == ok, "parser %u: '%s' %s, the model %s", k, s, ok ? "accepted" : "refused",
               want_ok ? "accepts" : "refuses");
    FUZZ_CHECK(want == out.n, "parser %u: '%s' -> %zu, the model says %zu", k, s, out.n, want);
}

/* The structured kinds (targets past the others, so that the corpus keeps its meaning):
 * ZMM_DEBUG's items and ZMM_FAIL_MAP's range, each against what its syntax allows. */
static void fuzz_structured(unsigned j, const char *s)
{
    union {
        struct opt_debug d;
        struct opt_failmap f;
        unsigned char b[64];
    } out, before;
    memset(&out, 0xa5, sizeof out);
    before = out;
    bool ok = j == 0 ? options_parse_debug(s, &out) : options_parse_failmap(s, &out);
    if (!ok) {
        FUZZ_CHECK(!memcmp(&out, &before, sizeof out), "structured %u refused '%s' but changed its output", j, s);
    } else if (j == 0) {
        size_t n = sizeof out.d;
        FUZZ_CHECK(!memcmp(out.b + n, before.b + n, sizeof out - n), "debug wrote past its value");
        FUZZ_CHECK(out.d.poison_alloc >= -1 && out.d.poison_alloc <= 255 && out.d.poison_free >= -1 &&
                   out.d.poison_free <= 255 && out.d.padding <= 4096 && (out.d.padding & 7) == 0 &&
                   out.d.check_on_exit <= 1, "debug '%s' -> %d %d %u %u", s, out.d.poison_alloc,
                   out.d.poison_free, out.d.padding, out.d.check_on_exit);
        static const char *const items[] = { "poison_alloc", "poison_free", "padding", "check_on_exit" };
        if (strcmp(s, "none"))
            for (const char *p = s; *p;) {
                size_t len = strcspn(p, ","), i = 0;
                while (len && i < 4 && !(!strncmp(p, items[i], strlen(items[i])) &&
                                         (p[strlen(items[i])] == '=' || strlen(items[i]) == len)))
                    i++;
                FUZZ_CHECK(i < 4, "debug '%s' accepted an unknown item", s);
                p += len + (p[len] == ',');
            }
        else
            FUZZ_CHECK(out.d.poison_alloc == -1 && out.d.poison_free == -1 && !out.d.padding &&
                       !out.d.check_on_exit, "debug none is not all off");
    }
    if (j != 1)
        return;
    size_t n = strlen(s), plus = n && s[n - 1] == '+';
    bool digits = n > plus && n - plus < 24;
    for (size_t i = 0; digits && i < n - plus; i++)
        digits = s[i] >= '0' && s[i] <= '9';
    unsigned long long v = digits ? digits_value(s, n - plus) : 0;
    bool want = !n || !strcmp(s, "none") || (digits && v >= 1 && v <= (unsigned long long)PTRDIFF_MAX);
    FUZZ_CHECK(ok == want, "fail map '%s' %s, the model %s", s, ok ? "accepted" : "refused", want ? "accepts" : "refuses");
    if (ok && want) {
        size_t sz = sizeof out.f;
        FUZZ_CHECK(!memcmp(out.b + sz, before.b + sz, sizeof out - sz), "fail map wrote past its value");
        FUZZ_CHECK(out.f.first == (size_t)v && out.f.last == (plus ? SIZE_MAX : (size_t)v),
                   "fail map '%s' -> %zu..%zu", s, out.f.first, out.f.last);
    }
}

/* The parser of the row's kind, from its function pointer. */
static bool row_parse(const struct row *r, const char *value, void *out)
{
    return r->parse(value, out);
}

static void fuzz_load(char *text, size_t len)
{
    char *env[65];
    size_t n = 0;
    char *start = text;
    for (size_t i = 0; i <= len && n < 64; i++)
        if (i == len || text[i] == '\n' || text[i] == '\0') {
            text[i] = '\0';
            env[n++] = start;
            start = text + i + 1;
        }
    env[n] = NULL;

    /* The model: each row starts at its default; an entry NAME=VALUE naming it sets VALUE, or
     * the default again when VALUE is refused. */
    static union {
        size_t n;
        opt_text_t t;
    } want[ROWS];
    for (size_t r = 0; r < ROWS; r++) {
        memset(&want[r], 0, sizeof want[r]);
        FUZZ_CHECK(row_parse(&rows[r], rows[r].def, &want[r]), "default of %s refused", rows[r].name);
    }
    for (size_t e = 0; e < n; e++)
        for (size_t r = 0; r < ROWS; r++) {
            size_t nl = strlen(rows[r].name);
            if (strncmp(env[e], rows[r].name, nl) || env[e][nl] != '=')
                continue;
            if (!row_parse(&rows[r], env[e] + nl + 1, &want[r]))
                row_parse(&rows[r], rows[r].def, &want[r]);
        }

    fuzz_quiet(1);
    options_load(env);
    fuzz_quiet(0);
    for (size_t r = 0; r < ROWS; r++) {
        if (rows[r].size == sizeof(opt_text_t))
            FUZZ_CHECK(!strcmp(((opt_text_t *)rows[r].field)->s, want[r].t.s), "%s='%s', expected '%s'",
                       rows[r].name, ((opt_text_t *)rows[r].field)->s, want[r].t.s);
        else if (rows[r].size == sizeof(size_t))
            FUZZ_CHECK(*(size_t *)rows[r].field == want[r].n, "%s=%zu, expected %zu", rows[r].name,
                       *(size_t *)rows[r].field, want[r].n);
        else   /* a structured kind: no padding in it */
            FUZZ_CHECK(!memcmp(rows[r].field, &want[r], rows[r].size), "%s differs from the model", rows[r].name);
    }
    FUZZ_CHECK(zmm_opt.stack_depth >= 1 && zmm_opt.stack_depth <= STACK_DEPTH_MAX, "depth %zu",
               zmm_opt.stack_depth);
}

/* The basename of /proc/self/exe and of argv[0], as options.c reads them (at most SIZE - 1
 * bytes). */
static void basename_into(const char *path, char *out, size_t size)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    n = n < size - 1 ? n : size - 1;
    memcpy(out, b, n);
    out[n] = '\0';
}

static void own_names(char *exe, char *arg0, size_t size)
{
    char buf[1024];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    basename_into(buf, exe, size);
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    basename_into(buf, arg0, size);
}

static void fuzz_selects(const char *list)
{
    static char exe[256], arg0[256];
    if (!exe[0])
        own_names(exe, arg0, sizeof exe);
    bool want = !list[0];
    for (const char *p = list; *p && !want;) {
        size_t n = strcspn(p, ",");
        want = n && ((strlen(exe) == n && !strncmp(p, exe, n)) || (strlen(arg0) == n && !strncmp(p, arg0, n)));
        p += n + (p[n] == ',');
    }
    FUZZ_CHECK(options_selects_program(list) == want, "ZMM_ONLY='%s' (exe %s, argv[0] %s)", list, exe, arg0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    static char text[8193];
    unsigned target = data[0] % (PARSERS + 5);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (target < PARSERS)
        fuzz_parser(target, text);
    else if (target == PARSERS)
        fuzz_load(text, size - 1);
    else if (target == PARSERS + 1)
        fuzz_selects(text);
    else if (target > PARSERS + 2)
        fuzz_structured(target - PARSERS - 3, text);
    else {   /* every parser on the same text */
        for (unsigned k = 0; k < PARSERS; k++)
            fuzz_parser(k, text);
        fuzz_structured(0, text);
        fuzz_structured(1, text);
    }
    return 0;
}
