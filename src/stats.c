/* stats.c: owns the statistics views of the heap: the ZMM_STATS table (at exit, or through
 * zmm_stats_print), mallinfo2, malloc_stats in glibc's format, and malloc_info's XML.
 * Figures are read from every heap's counters without stopping other threads: exact when
 * they are quiet, a close snapshot when they are not. "In use" counts whole blocks (bin
 * sizes, pages), "committed" the pages and mappings behind them. */
#include "stats.h"
#include "chunk.h"
#include "heap.h"
#include "huge.h"
#include "limit.h"
#include "options.h"
#include "out.h"

#include <pthread.h>
#include <unistd.h>

struct summary {
    struct heap_totals t;
    struct chunk_stats c;
    struct huge_stats h;
    size_t small_bytes, small_blocks, large_bytes, large_blocks, free_small_bytes;
    size_t in_use;      /* less what other threads freed and the owners have not drained */
};

static void summarise(struct summary *s)
{
    heap_totals(&s->t);
    chunk_stats(&s->c);
    huge_stats(&s->h);
    s->small_bytes = s->small_blocks = s->free_small_bytes = 0;
    for (unsigned b = 0; b < BIN_COUNT; b++) {
        uint64_t live = s->t.allocs[b] - s->t.frees[b];
        s->small_blocks += live;
        s->small_bytes += live * bin_size[b];
        s->free_small_bytes += (s->t.slots[b] - live) * bin_size[b];
    }
    s->large_blocks = s->t.large_allocs - s->t.large_frees;
    s->large_bytes = s->t.large_pages << PAGE_SHIFT;
    s->in_use = s->small_bytes + s->large_bytes + s->h.live_bytes;
    s->in_use = s->in_use > s->t.pending_bytes ? s->in_use - s->t.pending_bytes : 0;
}

size_t stats_in_use(void)
{
    struct summary s;
    summarise(&s);
    return s.in_use;
}

void stats_write(int fd, const char *when)
{
    struct summary s;
    summarise(&s);
    struct out o;
    out_open(&o, fd);
    size_t limit = limit_get();
    out_printf(&o, "==%d==zmm: heap statistics (%s)\n", (int)getpid(), when);
    out_printf(&o, "  in use     %14zu bytes (small %zu in %zu blocks, large %zu in %zu, huge %zu in %zu",
               s.in_use, s.small_bytes, s.small_blocks, s.large_bytes, s.large_blocks, s.h.live_bytes, s.h.live);
    if (s.t.pending_bytes)
        out_printf(&o, ", less %zu freed by other threads", (size_t)s.t.pending_bytes);
    out_printf(&o, ")\n");
    size_t committed = limit_in_use();
    committed = committed > s.t.credit ? committed - s.t.credit : 0;
    out_printf(&o, "  committed  %14zu bytes, peak %zu bytes", committed, limit_peak());
    if (limit == OPT_UNSET)
        out_printf(&o, ", no limit\n");
    else
        out_printf(&o, ", limit %zu bytes\n", limit);
    out_printf(&o, "  chunks     %14zu in use, %zu cached, peak %zu (%zu bytes mapped)\n",
               s.c.in_use, s.c.cached, s.c.peak, s.c.mapped * CHUNK_SIZE);
    out_printf(&o, "  huge       %14zu live, %zu cached (%zu bytes), peak %zu bytes\n",
               s.h.live, s.h.cached, s.h.cached_bytes, s.h.peak_bytes);
    out_printf(&o, "  heaps      %14zu (%zu abandoned by exited threads)\n", s.t.heaps, s.t.abandoned);
    out_printf(&o, "  %4s %6s %14s %14s %12s %12s\n", "bin", "size", "allocs", "frees", "live", "free");
    for (unsigned b = 0; b < BIN_COUNT; b++) {
        if (!s.t.allocs[b])
            continue;
        uint64_t live = s.t.allocs[b] - s.t.frees[b];
        out_printf(&o, "  %4u %6u %14lu %14lu %12lu %12lu\n", b, (unsigned)bin_size[b],
                   (unsigned long)s.t.allocs[b], (unsigned long)s.t.frees[b], (unsigned long)live,
                   (unsigned long)(s.t.slots[b] - live));
    }
    out_printf(&o, "  %4s %6s %14lu %14lu %12lu\n", "large", "pages", (unsigned long)s.t.large_allocs,
               (unsigned long)s.t.large_frees, (unsigned long)s.large_blocks);
    out_flush(&o);
}

struct mallinfo2 stats_mallinfo2(void)
{
    struct summary s;
    summarise(&s);
    size_t in_use = s.small_bytes + s.large_bytes;
    size_t arena = s.c.in_use * CHUNK_SIZE;
    return (struct mallinfo2){
        .arena = arena,
        .ordblks = s.c.in_use,
        .hblks = s.h.live,
        .hblkhd = s.h.live_bytes,
        .uordblks = in_use,
        .fordblks = arena > in_use ? arena - in_use : 0,
        .keepcost = s.c.cached * CHUNK_SIZE,
    };
}

/* glibc's format, to stderr, with cancellation off so a pending cancel cannot cut it short. */
void stats_malloc_stats(void)
{
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    struct mallinfo2 m = stats_mallinfo2();
    struct huge_stats h;
    huge_stats(&h);
    struct out o;
    out_open(&o, 2);
    out_printf(&o, "Arena 0:\nsystem bytes     = %10zu\nin use bytes     = %10zu\n", m.arena, m.uordblks);
    out_printf(&o, "Total (incl. mmap):\nsystem bytes     = %10zu\nin use bytes     = %10zu\n",
               m.arena + m.hblkhd, m.uordblks + m.hblkhd);
    out_printf(&o, "max mmap regions = %10zu\nmax mmap bytes   = %10zu\n", h.live, h.peak_bytes);
    out_flush(&o);
    pthread_setcancelstate(old, NULL);
}

int stats_malloc_info(int options, FILE *f)
{
    if (options != 0)
        return -1;
    struct mallinfo2 m = stats_mallinfo2();
    struct heap_totals t;
    heap_totals(&t);
    char buf[4096];
    int n = 0;
    n += snprintf(buf + n, sizeof buf - (size_t)n, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n");
    for (unsigned b = 0; b < BIN_COUNT && n < (int)sizeof buf - 128; b++)
        if (t.slots[b] > t.allocs[b] - t.frees[b])
            n += snprintf(buf + n, sizeof buf - (size_t)n, "  <size from=\"%u\" to=\"%u\" total=\"%lu\" count=\"%lu\"/>\n",
                          b ? bin_size[b - 1] + 1u : 1u, (unsigned)bin_size[b],
                          (unsigned long)((t.slots[b] - (t.allocs[b] - t.frees[b])) * bin_size[b]),
                          (unsigned long)(t.slots[b] - (t.allocs[b] - t.frees[b])));
    n += snprintf(buf + n, sizeof buf - (size_t)n,
                  "</sizes>\n<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
                  "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
                  "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
                  "<aspace type=\"total\" size=\"%zu\"/>\n<aspace type=\"mprotect\" size=\"%zu\"/>\n"
                  "</heap>\n<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
                  "<system type=\"current\" size=\"%zu\"/>\n<system type=\"max\" size=\"%zu\"/>\n"
                  "</malloc>\n",
                  m.ordblks, m.fordblks, m.arena, limit_peak(), m.arena, m.arena, m.hblks, m.hblkhd,
                  m.arena + m.hblkhd, limit_peak());
    if (n < 0 || n >= (int)sizeof buf)
        n = (int)sizeof buf - 1;
    return fwrite(buf, 1, (size_t)n, f) == (size_t)n ? 0 : -1;
}
