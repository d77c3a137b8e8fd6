/* report.c: owns leak reports. A report scans, groups the leaked blocks by kind and stack,
 * symbolises each group's stack (only now, never at allocation time), drops the groups a
 * suppression matches (counting them), and writes LeakSanitizer's text shape with PHP's
 * closing line, or one JSON object on one line. It runs under the re-entry guard: whatever
 * it or libdw allocates comes from the system allocator, never from the tracked heap, and
 * it holds no heap lock while it writes, so threads still allocating are never blocked. */
#include "report.h"
#include "depot.h"
#include "libc.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "out.h"
#include "scan.h"
#include "suppress.h"
#include "symbol.h"
#include "track.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

struct group {
    uint32_t stack, kind;
    uint64_t bytes, blocks;
    int suppressed;                 /* index of the matching suppression, or -1 */
};

struct totals {
    uint64_t bytes[4], blocks[4];   /* by SCAN_* kind */
    uint64_t suppressed_bytes, suppressed_blocks;
};

#define SUPPRESS_SHOWN 64           /* rows of the "Suppressions used" table */

struct used {
    uint64_t count, bytes;
};

/* ---- sorting (no allocation) ------------------------------------------------------- */

typedef int (*cmp_fn)(const void *, const void *);

static void swap_bytes(uint8_t *a, uint8_t *b, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        uint8_t t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

static void sift(uint8_t *base, size_t size, size_t root, size_t n, cmp_fn cmp)
{
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0)
            child++;
        if (cmp(base + root * size, base + child * size) >= 0)
            return;
        swap_bytes(base + root * size, base + child * size, size);
    }
}

static void sort_items(void *items, size_t n, size_t size, cmp_fn cmp)
{
    uint8_t *base = items;
    for (size_t i = n / 2; i-- > 0;)
        sift(base, size, i, n, cmp);
    for (size_t end = n; end-- > 1;) {
        swap_bytes(base, base + end * size, size);
        sift(base, size, 0, end, cmp);
    }
}

static int by_request(const void *a, const void *b)
{
    const struct scan_item *x = a, *y = b;
    return x->request < y->request ? -1 : x->request > y->request;
}

static int by_kind_stack(const void *a, const void *b)
{
    const struct scan_item *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

static int by_kind_bytes(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->blocks != y->blocks)
        return x->blocks > y->blocks ? -1 : 1;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

/* ---- grouping and suppressions ----------------------------------------------------- */

/* Symbolises the frames of STACK into FRAMES; returns how many. */
static unsigned frames_of(uint32_t stack, struct symbol *frames)
{
    const uintptr_t *pcs;
    unsigned n = depot_get(stack, &pcs);
    for (unsigned i = 0; i < n; i++)
        symbol_lookup(pcs[i] - 1, &frames[i]);
    return n;
}

static size_t group_items(struct scan_item *items, size_t count, struct group *groups)
{
    sort_items(items, count, sizeof *items, by_kind_stack);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const struct scan_item *it = &items[i];
        if (!n || groups[n - 1].kind != it->kind || groups[n - 1].stack != it->stack)
            groups[n++] = (struct group){ it->stack, it->kind, 0, 0, -1 };
        groups[n - 1].bytes += it->size;
        groups[n - 1].blocks++;
    }
    sort_items(groups, n, sizeof *groups, by_kind_bytes);
    return n;
}

static void apply_suppressions(struct group *groups, size_t n, struct totals *t, struct used *used,
                               struct symbol *frames)
{
    for (size_t i = 0; i < n; i++) {
        struct group *g = &groups[i];
        if (g->kind != SCAN_REACHABLE)
            g->suppressed = suppress_match(frames, frames_of(g->stack, frames));
        if (g->suppressed >= 0) {
            t->suppressed_bytes += g->bytes;
            t->suppressed_blocks += g->blocks;
            if (g->suppressed < SUPPRESS_SHOWN) {
                used[g->suppressed].count += g->blocks;
                used[g->suppressed].bytes += g->bytes;
            }
            continue;
        }
        t->bytes[g->kind] += g->bytes;
        t->blocks[g->kind] += g->blocks;
    }
}

/* ---- text -------------------------------------------------------------------------- */

static void text_frame(struct out *o, unsigned i, const struct symbol *s)
{
    out_printf(o, "    #%u 0x%lx", i, (unsigned long)s->pc);
    if (s->function[0])
        out_printf(o, " in %s", s->function);
    if (s->file[0] && s->line)
        out_printf(o, " %s:%u", libc_basename(s->file), s->line);
    if (s->object[0])
        out_printf(o, " (%s+0x%lx)", libc_basename(s->object), (unsigned long)s->offset);
    else                                /* unloaded before the report, as LeakSanitizer says */
        out_printf(o, " (<unknown module>)");
    out_write(o, "\n", 1);
}

static const char *const kind_text[] = { "", "Direct leak", "Indirect leak", "Reachable memory" };
static const char *const kind_text_retained[] = { "", "Direct leak", "Indirect leak", "Retained memory" };

static void text_report(struct out *o, const struct report_opts *ro, const struct group *groups, size_t n,
                        const struct totals *t, const struct used *used, struct symbol *frames)
{
    const char *const *kinds = ro->retained ? kind_text_retained : kind_text;
    bool leaked = t->blocks[SCAN_DIRECT] + t->blocks[SCAN_INDIRECT] > 0;
    bool kept = t->blocks[SCAN_REACHABLE] > 0;
    out_printf(o, "==%d==zmm: %s (%s)\n\n", (int)getpid(),
               leaked ? "detected memory leaks" : kept ? "memory retained" : "no leaks found", ro->when);
    for (size_t i = 0; i < n; i++) {
        const struct group *g = &groups[i];
        if (g->suppressed >= 0)
            continue;
        out_printf(o, "%s of %lu byte(s) in %lu object(s) allocated from:\n", kinds[g->kind],
                   (unsigned long)g->bytes, (unsigned long)g->blocks);
        unsigned depth = frames_of(g->stack, frames);
        for (unsigned f = 0; f < depth; f++)
            text_frame(o, f, &frames[f]);
        out_write(o, "\n", 1);
    }
    if (t->suppressed_blocks) {
        out_printf(o, "-----------------------------------------------------\n"
                      "Suppressions used:\n  count      bytes template\n");
        for (unsigned i = 0; i < suppress_count() && i < SUPPRESS_SHOWN; i++)
            if (used[i].count)
                out_printf(o, "%7lu %10lu %s\n", (unsigned long)used[i].count,
                           (unsigned long)used[i].bytes, suppress_text(i));
        out_printf(o, "-----------------------------------------------------\n\n");
    }
    uint64_t bytes = t->bytes[SCAN_DIRECT] + t->bytes[SCAN_INDIRECT];
    uint64_t blocks = t->blocks[SCAN_DIRECT] + t->blocks[SCAN_INDIRECT];
    uint64_t untracked = atomic_load_explicit(&track_untracked, memory_order_relaxed);
    if (untracked)
        out_printf(o, "zmm: %lu block(s) were served without a record (out of memory): their leaks are "
                      "not in this report.\n", (unsigned long)untracked);
    out_printf(o, "SUMMARY: zmm: %lu byte(s) leaked in %lu allocation(s).\n", (unsigned long)bytes,
               (unsigned long)blocks);
    if (ro->retained)
        out_printf(o, "RETAINED: zmm: %lu byte(s) in %lu allocation(s) born in %s still reachable.\n",
                   (unsigned long)t->bytes[SCAN_REACHABLE], (unsigned long)t->blocks[SCAN_REACHABLE], ro->when);
    out_printf(o, "=== Total %lu memory leaks detected ===\n", (unsigned long)blocks);
}

/* ---- JSON -------------------------------------------------------------------------- */

static void json_string(struct out *o, const char *s)
{
    if (!s[0]) {
        out_write(o, "null", 4);
        return;
    }
    out_write(o, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            out_printf(o, "\\%c", c);
        else if (c < 0x20)
            out_printf(o, "\\u%04x", c);
        else
            out_write(o, s, 1);
    }
    out_write(o, "\"", 1);
}

static void json_frame(struct out *o, const struct symbol *s)
{
    out_printf(o, "{\"address\": \"0x%lx\", \"function\": ", (unsigned long)s->pc);
    json_string(o, s->function);
    out_write(o, ", \"file\": ", 10);
    json_string(o, s->file);
    if (s->line)
        out_printf(o, ", \"line\": %u, \"object\": ", s->line);
    else
        out_printf(o, ", \"line\": null, \"object\": ");
    json_string(o, s->object);
    out_printf(o, ", \"offset\": \"0x%lx\"}", (unsigned long)s->offset);
}

static const char *const kind_json[] = { "", "direct", "indirect", "reachable" };
static const char *const kind_json_retained[] = { "", "direct", "indirect", "retained" };

static void json_report(struct out *o, const struct report_opts *ro, const struct group *groups,
                        size_t n, const struct totals *t, struct symbol *frames)
{
    const char *const *kinds = ro->retained ? kind_json_retained : kind_json;
    char exe[512];
    libc_exe_path(exe, sizeof exe);
    out_printf(o, "{\"zmm_report\": 1, \"pid\": %d, \"program\": ", (int)getpid());
    json_string(o, exe);
    out_printf(o, ", \"trigger\": \"%s\", \"request\": %u, \"leaks\": [", ro->trigger, ro->request);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const struct group *g = &groups[i];
        if (g->suppressed >= 0)
            continue;
        out_printf(o, "%s{\"kind\": \"%s\", \"bytes\": %lu, \"blocks\": %lu, \"stack\": [", first ? "" : ", ",
                   kinds[g->kind], (unsigned long)g->bytes, (unsigned long)g->blocks);
        first = false;
        unsigned depth = frames_of(g->stack, frames);
        for (unsigned f = 0; f < depth; f++) {
            if (f)
                out_write(o, ", ", 2);
            json_frame(o, &frames[f]);
        }
        out_write(o, "]}", 2);
    }
    out_printf(o, "], \"summary\": {\"direct_bytes\": %lu, \"direct_blocks\": %lu, \"indirect_bytes\": %lu, "
                  "\"indirect_blocks\": %lu, \"reachable_bytes\": %lu, \"reachable_blocks\": %lu, "
                  "\"suppressed_bytes\": %lu, \"suppressed_blocks\": %lu, \"untracked_blocks\": %lu}}\n",
               (unsigned long)t->bytes[SCAN_DIRECT], (unsigned long)t->blocks[SCAN_DIRECT],
               (unsigned long)t->bytes[SCAN_INDIRECT], (unsigned long)t->blocks[SCAN_INDIRECT],
               (unsigned long)t->bytes[SCAN_REACHABLE], (unsigned long)t->blocks[SCAN_REACHABLE],
               (unsigned long)t->suppressed_bytes, (unsigned long)t->suppressed_blocks,
               (unsigned long)atomic_load_explicit(&track_untracked, memory_order_relaxed));
}

/* ---- where reports go -------------------------------------------------------------- */

static struct {
    const char *where;          /* ZMM_REPORT */
    bool json;                  /* ZMM_REPORT_FORMAT=json */
    const char *suppressions;   /* ZMM_SUPPRESSIONS */
    bool reachable;             /* ZMM_LEAKS=reachable */
} config = { .where = "stderr", .suppressions = "" };

void report_configure(const char *where, bool json, const char *suppressions, bool reachable)
{
    config.where = where;
    config.json = json;
    config.suppressions = suppressions;
    config.reachable = reachable;
}

/* ZMM_REPORT: stderr (the copy taken at start-up), or a file, %p the pid, appended. */
static int report_open(void)
{
    const char *spec = config.where;
    if (!spec[0] || !strcmp(spec, "stderr"))
        return out_report_fd();
    char path[1100];
    size_t n = 0;
    for (const char *p = spec; *p && n < sizeof path - 16; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            n += out_format(path + n, sizeof path - n, "%d", (int)getpid());
            p++;
        } else {
            path[n++] = *p;
        }
    }
    path[n] = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        out_warn("ZMM_REPORT=%s: cannot open %s; writing the report to stderr", spec, path);
        return out_report_fd();
    }
    return fd;
}

/* ---- one frame, for a fault line ----------------------------------------------------- */

void report_where(uintptr_t pc, char *buf, size_t cap)
{
    static struct symbol s;             /* faults stop the process: one at a time */
    symbol_begin();
    symbol_lookup(pc, &s);
    symbol_end();
    if (s.function[0] && s.line)
        out_format(buf, cap, "%s %s:%u", s.function, libc_basename(s.file), s.line);
    else if (s.function[0])
        out_format(buf, cap, "%s (%s+0x%lx)", s.function, libc_basename(s.object), (unsigned long)s.offset);
    else
        out_format(buf, cap, "%s+0x%lx", s.object[0] ? libc_basename(s.object) : "?", (unsigned long)s.offset);
}

/* ---- the report -------------------------------------------------------------------- */

struct writer {
    struct group *groups;           /* room for every item of the scan */
    struct symbol *frames;
    bool symbols;                   /* a symbol session is open */
};

/* A report with no block in it is still owed at exit in JSON (one object per process), and
 * when tracking could not see some blocks (the report says so). */
static bool owed_empty(const struct report_opts *ro)
{
    return ro->at_exit && (config.json ||
                           atomic_load_explicit(&track_untracked, memory_order_relaxed));
}

/* The report of ITEMS[0..COUNT), the blocks of one report (RO, with WHEN and REQUEST for its
 * header); true if it has unsuppressed leaks. Nothing to name, nothing loaded: a clean report
 * (but at exit in JSON, or with blocks the tracking could not see) writes nothing. */
static bool report_part(const struct report_opts *ro, struct writer *w, struct scan_item *items, size_t count)
{
    static struct used used[SUPPRESS_SHOWN];
    size_t n = group_items(items, count, w->groups);
    bool owed = owed_empty(ro);
    if (!n && !owed)
        return false;
    if (n && !w->symbols) {
        symbol_begin();
        suppress_load(config.suppressions);
        w->symbols = true;
    }
    struct totals t = { 0 };
    memset(used, 0, sizeof used);
    apply_suppressions(w->groups, n, &t, used, w->frames);
    bool leaked = t.blocks[SCAN_DIRECT] + t.blocks[SCAN_INDIRECT] > 0;
    bool kept = ro->retained && t.blocks[SCAN_REACHABLE] > 0;
    if (leaked || kept || owed) {       /* a clean request is quiet */
        struct out o;
        out_open(&o, report_open());
        if (config.json)
            json_report(&o, ro, w->groups, n, &t, w->frames);
        else
            text_report(&o, ro, w->groups, n, &t, used, w->frames);
        out_flush(&o);
        if (o.fd != out_report_fd())
            close(o.fd);
    }
    return leaked;
}

static bool report_scan(const struct report_opts *ro, struct scan_result *leaked_blocks)
{
    bool was = track_busy_set(true);
    struct scan_opts so = { .at_exit = ro->at_exit, .own_thread = ro->own_thread,
                            .reachable = config.reachable || ro->retained,
                            .first = ro->first, .last = ro->last, .born = ro->born,
                            .stack_from = ro->stack_from };
    struct scan_result r;
    bool leaked = false;
    if (leaked_blocks)
        *leaked_blocks = (struct scan_result){ 0 };
    if (!scan_run(&so, &r)) {
        out_warn("not enough memory to scan the heap; no leak report");
        track_busy_set(was);
        return false;
    }
    if (ro->silent) {                   /* reclaim only: no groups, no symbols */
        if (leaked_blocks)
            *leaked_blocks = r;
        else
            scan_release(&r);
        track_busy_set(was);
        return false;
    }
    if (!r.count && !owed_empty(ro)) {
        if (leaked_blocks)                 /* nothing to say */
            *leaked_blocks = r;
        else
            scan_release(&r);
        track_busy_set(was);
        return false;
    }
    size_t gbytes = (r.count ? r.count : 1) * sizeof(struct group);
    struct writer w = { os_map_scratch(gbytes), os_map_scratch(STACK_DEPTH_MAX * sizeof(struct symbol)), false };
    if (w.groups && w.frames && !ro->per_request) {
        leaked = report_part(ro, &w, r.items, r.count);
    } else if (w.groups && w.frames) {
        sort_items(r.items, r.count, sizeof *r.items, by_request);
        for (size_t i = 0, j; i < r.count; i = j) {
            for (j = i + 1; j < r.count && r.items[j].request == r.items[i].request;)
                j++;
            char when[32];
            out_format(when, sizeof when, "request %u", r.items[i].request);
            struct report_opts one = *ro;
            one.when = when;
            one.request = r.items[i].request;
            leaked |= report_part(&one, &w, r.items + i, j - i);
        }
    }
    if (w.symbols)
        symbol_end();                   /* at exit too: nothing is freed while the process ends */
    os_unmap_scratch(w.frames, STACK_DEPTH_MAX * sizeof(struct symbol));
    os_unmap_scratch(w.groups, gbytes);
    if (leaked_blocks)
        *leaked_blocks = r;
    else
        scan_release(&r);
    track_busy_set(was);
    return leaked;
}

static spinlock_t report_lock;      /* one report at a time (libdw's session is one) */

bool report_leaks(const struct report_opts *ro, struct scan_result *leaked)
{
    spin_lock(&report_lock);
    bool found = report_scan(ro, leaked);
    spin_unlock(&report_lock);
    return found;
}
