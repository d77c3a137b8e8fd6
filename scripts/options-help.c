/* options-help.c: makes the built `zmm` CLI from its configured script: the line "=options.h="
 * becomes one entry per row of src/options.h's table (name, default, description), so that
 * `zmm --help` lists exactly what the library reads. A build tool (scripts/meson.build), not
 * part of libzmm.so: it includes the table and nothing else of the engine. The in-tree script
 * runs it to print the same entries (env_help in zmm.in); the cli suite checks that they agree
 * with the README's table.
 * Usage: options-help SCRIPT OUTPUT (OUTPUT is made executable), or options-help alone: the
 * entries, on standard output. */
#include "options.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

enum { WIDTH = 100, INDENT = 31 };

/* "  ZMM_NAME=DEFAULT  description" (just ZMM_NAME for an empty default), the words wrapped at
 * WIDTH columns, continuation lines indented to the description. */
static void entry(FILE *out, const char *name, const char *def, const char *desc)
{
    char head[256];
    snprintf(head, sizeof head, "%s%s%s", name, *def ? "=" : "", def);
    int col = fprintf(out, "  %-*s", INDENT - 3, head);
    bool first = true;
    for (const char *w = desc; *w;) {
        size_t n = strcspn(w, " ");
        if (!first && col + 1 + (int)n > WIDTH) {
            col = fprintf(out, "\n%*s", INDENT - 1, "") - 1;
            first = true;
        }
        col += fprintf(out, " %.*s", (int)n, w);
        first = false;
        w += n;
        w += strspn(w, " ");
    }
    fputc('\n', out);
}

static void entries(FILE *out)
{
#define ENTRY_(name, kind, field, def, desc) entry(out, "ZMM_" #name, def, desc);
    ZMM_OPTIONS(ENTRY_)
#undef ENTRY_
}

int main(int argc, char **argv)
{
    if (argc == 1) {
        entries(stdout);
        return fflush(stdout) ? 1 : 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: options-help [SCRIPT OUTPUT]\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "r"), *out = fopen(argv[2], "w");
    if (!in || !out) {
        perror(in ? argv[2] : argv[1]);
        return 1;
    }
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, in)) {
        if (strcmp(line, "=options.h=\n")) {
            fputs(line, out);
            continue;
        }
        found++;
        entries(out);
    }
    if (found != 1) {
        fprintf(stderr, "options-help: %s: %d lines \"=options.h=\", expected 1\n", argv[1], found);
        return 1;
    }
    if (ferror(in) || fclose(out) || chmod(argv[2], 0755)) {
        perror(argv[2]);
        return 1;
    }
    fclose(in);
    return 0;
}
