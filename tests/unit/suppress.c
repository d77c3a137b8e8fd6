/* Suppressions, white box: LeakSanitizer's glob ('*', '^', '$', substring otherwise), the
 * file format (comments, blank lines, whitespace, other types and malformed lines skipped),
 * matching by function, file or object in load order, and files that cannot be read or are
 * too long. */
#include "suppress.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/zmm-suppress-XXXXXX";

static const char *write_file(const char *name, const char *text, size_t len)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot create %s", path);
    if (f) {
        fwrite(text, 1, len, f);
        fclose(f);
    }
    return path;
}

static struct symbol frame(const char *function, const char *file, const char *object)
{
    struct symbol s = { .pc = 0x1234 };
    snprintf(s.function, sizeof s.function, "%s", function);
    snprintf(s.file, sizeof s.file, "%s", file);
    snprintf(s.object, sizeof s.object, "%s", object);
    return s;
}

static unsigned user_count(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < suppress_count(); i++)
        n += !suppress_is_builtin(i);
    return n;
}

static unsigned builtin_count(void)
{
    return suppress_count() - user_count();
}

/* The index of the user suppression written as TEXT, or -1. */
static int find(const char *text)
{
    for (unsigned i = 0; i < suppress_count(); i++)
        if (!suppress_is_builtin(i) && !strcmp(suppress_text(i), text))
            return (int)i;
    return -1;
}

int main(void)
{
    static const struct { const char *pattern, *s; bool match; } globs[] = {
        /* substring */
        { "foo", "foo", true }, { "foo", "xfooy", true }, { "foo", "fo", false },
        { "foo", "FOO", false }, { "", "anything", true },
        /* '*' */
        { "a*c", "abc", true }, { "a*c", "ac", true }, { "a*c", "xxaZZZcyy", true },
        { "a*c", "ca", false }, { "*", "x", true }, { "**", "x", true }, { "a*b*c", "aXbYc", true },
        { "a*b*c", "aXcYb", false }, { "std::*::alloc", "std::vector<int>::alloc", true },
        /* '^' */
        { "^foo", "foobar", true }, { "^foo", "barfoo", false }, { "^", "x", true },
        { "^*bar", "foobar", true }, { "^f*r", "foobar", true }, { "^o*r", "foobar", false },
        /* '$' */
        { "bar$", "foobar", true }, { "bar$", "barfoo", false }, { "foo$", "foofoo", true },
        { "o*$", "foo", true }, { "b*r$", "barbar", true }, { "b*r$", "barbax", false },
        /* both */
        { "^foo$", "foo", true }, { "^foo$", "foox", false }, { "^foo$", "xfoo", false },
        { "^f*o$", "fxxo", true }, { "^f*o$", "fxxox", false }, { "^*$", "x", true },
        /* literal '^' and '$' inside, and the empty string never matches */
        { "a^b", "xa^by", true }, { "a$b", "a$b", true }, { "", "", false }, { "*", "", false },
        { "^$", "", false }, { "foo", "", false },
    };
    for (size_t i = 0; i < sizeof globs / sizeof globs[0]; i++)
        CHECK(suppress_glob(globs[i].pattern, globs[i].s) == globs[i].match, "glob '%s' vs '%s'",
              globs[i].pattern, globs[i].s);
    CHECK(!suppress_glob("foo", NULL), "glob against NULL");

    CHECK(mkdtemp(dir) != NULL, "mkdtemp");

    /* Built-ins only. */
    suppress_load(NULL);
    unsigned builtins = suppress_count();
    CHECK(user_count() == 0, "built-ins only: %u user suppressions", user_count());
    for (unsigned i = 0; i < builtins; i++)
        CHECK(!strncmp(suppress_text(i), "leak:", 5), "built-in '%s'", suppress_text(i));
    suppress_load("");
    CHECK(suppress_count() == builtins && user_count() == 0, "empty path");

    /* A file with every kind of line. */
    static const char text[] =
        "# zmm suppressions\n"
        "\n"
        "   \t\n"
        "leak:leaky_function\n"
        "  leak:*/vendor/*.c  \r\n"
        "\t# indented comment\n"
        "interceptor_via_fun:foo\n"
        "this is not a suppression\n"
        ":nothing\n"
        "leak:libfoo.so\n"
        "leak:^init_\n"
        "leak:^exact$\n"
        "LEAK:upper\n"
        "leak:last_line_without_newline";
    const char *path = write_file("supp.txt", text, sizeof text - 1);
    fprintf(stderr, "(the 4 warnings below are expected)\n");
    suppress_load(path);
    CHECK(builtin_count() == builtins, "built-ins kept: %u", builtin_count());
    CHECK(user_count() == 6, "%u suppressions loaded, expected 6", user_count());
    static const char *const loaded[] = {
        "leak:leaky_function", "leak:*/vendor/*.c", "leak:libfoo.so", "leak:^init_", "leak:^exact$",
        "leak:last_line_without_newline",
    };
    for (size_t i = 0; i < sizeof loaded / sizeof loaded[0]; i++)
        CHECK(find(loaded[i]) == (int)(builtins + i), "'%s' at %d", loaded[i], find(loaded[i]));
    CHECK(find("leak:upper") < 0 && find("interceptor_via_fun:foo") < 0, "other types loaded");
    for (unsigned i = 0; i < builtins; i++)
        CHECK(suppress_is_builtin(i), "entry %u should be built in", i);
    CHECK(!suppress_is_builtin(suppress_count()) && !strcmp(suppress_text(suppress_count()), ""),
          "out of range");

    /* Matching: by function, by file, by object; any frame; the first in load order. */
    struct symbol frames[3] = {
        frame("malloc", "", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
        frame("", "", "/opt/app/bin/app"),
        frame("main", "/src/app/main.c", "/opt/app/bin/app"),
    };
    CHECK(suppress_match(frames, 3) == -1, "nothing should match");
    CHECK(suppress_match(frames, 0) == -1, "no frames");

    frames[1] = frame("leaky_function", "", "/opt/app/bin/app");
    CHECK(suppress_match(frames, 3) == find("leak:leaky_function"), "by function: %d", suppress_match(frames, 3));
    CHECK(suppress_match(frames, 1) == -1, "only the first frame");

    frames[1] = frame("helper", "/src/app/vendor/zlib.c", "/opt/app/bin/app");
    CHECK(suppress_match(frames, 3) == find("leak:*/vendor/*.c"), "by file: %d", suppress_match(frames, 3));

    frames[1] = frame("", "", "/usr/lib/libfoo.so.2");
    CHECK(suppress_match(frames, 3) == find("leak:libfoo.so"), "by object: %d", suppress_match(frames, 3));

    frames[1] = frame("init_tables", "", "/opt/app/bin/app");
    CHECK(suppress_match(frames, 3) == find("leak:^init_"), "anchored: %d", suppress_match(frames, 3));
    frames[1] = frame("reinit_tables", "", "/opt/app/bin/app");
    CHECK(suppress_match(frames, 3) == -1, "anchor ignored: %d", suppress_match(frames, 3));
    frames[1] = frame("exact", "", "");
    CHECK(suppress_match(frames, 3) == find("leak:^exact$"), "exact: %d", suppress_match(frames, 3));
    frames[1] = frame("exactly", "", "");
    CHECK(suppress_match(frames, 3) == -1, "exact+: %d", suppress_match(frames, 3));

    /* Two frames match different suppressions: the earlier suppression wins, whatever the frame. */
    frames[0] = frame("init_x", "", "");
    frames[2] = frame("leaky_function", "", "");
    CHECK(suppress_match(frames, 3) == find("leak:leaky_function"), "load order: %d", suppress_match(frames, 3));

    /* Loading again forgets the previous file. */
    static const char other[] = "leak:other\n";
    suppress_load(write_file("other.txt", other, sizeof other - 1));
    CHECK(user_count() == 1 && find("leak:other") == (int)builtins, "reload: %u", user_count());
    CHECK(suppress_match(frames, 3) == -1, "old suppressions still match");

    /* Unreadable: one warning, built-ins only. */
    fprintf(stderr, "(the 2 warnings below are expected)\n");
    suppress_load("/nonexistent/zmm-suppressions.txt");
    CHECK(suppress_count() == builtins && user_count() == 0, "missing file: %u", suppress_count());
    suppress_load(dir);
    CHECK(suppress_count() == builtins && user_count() == 0, "directory: %u", suppress_count());

    /* Too many lines and too many bytes: the first ones count, the rest is ignored. */
    size_t cap = 128u << 10, len = 0;
    char *big = malloc(cap);
    for (unsigned i = 0; len + 32 < cap; i++)
        len += (size_t)snprintf(big + len, cap - len, "leak:function_%u\n", i);
    fprintf(stderr, "(the 3 warnings below are expected)\n");
    suppress_load(write_file("big.txt", big, len));
    CHECK(suppress_count() == 1024, "big file: %u suppressions", suppress_count());
    CHECK(find("leak:function_0") == (int)builtins, "first of the big file");
    char last[64];
    snprintf(last, sizeof last, "leak:function_%u", 1023 - builtins);
    CHECK(find(last) == 1023, "last kept: %s at %d", last, find(last));

    /* Over 64 KiB in few lines: a cut line is dropped, whole lines before it are kept. */
    len = 0;
    for (unsigned i = 0; i < 3; i++) {
        len += (size_t)snprintf(big + len, cap - len, "leak:long_%u_", i);
        memset(big + len, 'x', 30000);
        len += 30000;
        big[len++] = '\n';
    }
    suppress_load(write_file("long.txt", big, len));
    CHECK(user_count() == 2, "long lines: %u", user_count());
    free(big);

    suppress_load(NULL);
    CHECK(user_count() == 0, "reset");

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "%s", cmd);
    return UNIT_DONE();
}
