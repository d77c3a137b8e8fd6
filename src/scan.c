/* scan.c: owns reachability, as LeakSanitizer classifies it. With every heap held and the
 * other threads stopped, the roots (below) are read conservatively, and the stopped threads'
 * registers; blocks the runtime allocated for itself are roots too. Every aligned word that
 * points into a live block (interior pointers included, resolved through the page map) marks
 * it, and marked blocks are read in turn. What stays unmarked leaked: indirectly if another
 * leaked block points to it, directly otherwise. The result is copied out before the world
 * resumes; marks are cleared. */
#include "scan.h"
#include "heap.h"
#include "libc.h"
#include "os.h"
#include "registry.h"
#include "track.h"
#include "world.h"

#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RED_ZONE 128                    /* bytes below a stack pointer that may be live */
#define MAX_EXCLUDED 12

extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

struct range {
    uintptr_t lo, hi;
};

struct pending {
    uintptr_t start;
    size_t size;
};

struct scan {
    const struct scan_opts *opts;
    struct pending *queue;              /* blocks marked and not yet read: queue[head..depth) */
    size_t head, depth, live;
    uintptr_t heap_lo, heap_hi;         /* bounds of zmm's slots */
    struct range excluded[MAX_EXCLUDED];
    unsigned excluded_count;
    struct world_thread *threads;
    size_t thread_count;
    uintptr_t self_sp, self_tp;
    struct scan_result *out;
    uint32_t born;                      /* fork child: only blocks born since (request >=) */
    int pagemap;                        /* fork child: /proc/self/pagemap, or -1 */
};

static void exclude(struct scan *s, const void *p, size_t size)
{
    if (p && s->excluded_count < MAX_EXCLUDED)
        s->excluded[s->excluded_count++] = (struct range){ (uintptr_t)p, (uintptr_t)p + size };
}

/* zmm's own writable segments: its caches keep addresses of blocks long gone (a huge mapping
 * taken from the cache again is live under an old entry's address). */
static void exclude_segment(uintptr_t lo, uintptr_t hi, void *ctx)
{
    lo &= ~(uintptr_t)(PAGE_SIZE - 1);
    exclude(ctx, (void *)lo, align_up(hi, PAGE_SIZE) - lo);
}

/* ---- marking ----------------------------------------------------------------------- */

static void mark_word(struct scan *s, uintptr_t w)
{
    if (w < s->heap_lo || w >= s->heap_hi)
        return;
    uintptr_t start;
    size_t size;
    struct zmm_rec *r = track_find(w, &start, &size);
    if (!r || r->request < s->born || (atomic_load_explicit(&r->state, memory_order_relaxed) & REC_REACHED))
        return;
    atomic_fetch_or_explicit(&r->state, REC_REACHED, memory_order_relaxed);
    if (s->depth < s->live) {
        __builtin_prefetch((const void *)start);
        s->queue[s->depth++] = (struct pending){ start, size };
    }
}

static void mark_words(struct scan *s, uintptr_t lo, uintptr_t hi)
{
    for (uintptr_t p = align_up(lo, sizeof(uintptr_t)); p + sizeof(uintptr_t) <= hi; p += sizeof(uintptr_t))
        mark_word(s, *(const uintptr_t *)p);
}

/* First in, first out: a block is read long after its prefetch, while the others queued
 * ahead of it are (lists and trees are walked side by side, not one cache miss at a time).
 * Every block is queued at most once, so the queue never passes LIVE entries. */
static void mark_drain(struct scan *s)
{
    while (s->head < s->depth) {
        struct pending b = s->queue[s->head++];
        mark_words(s, b.start, b.start + b.size);
    }
    s->head = s->depth = 0;
}

/* Which pages of [page, page + size) to read: those in memory; in a fork child, those written
 * since the fork (the others hold what they held then, when no block born since existed). */
static bool pages_to_read(struct scan *s, uintptr_t page, size_t size, unsigned char *vec)
{
    size = align_up(size, PAGE_SIZE);
    if (s->pagemap >= 0)
        return os_written(s->pagemap, (const void *)page, size, vec);
    return os_resident((const void *)page, size, vec);
}

/* Words of [lo, hi) in pages that are in memory, skipping zmm's chunks and huge blocks. */
static void mark_resident(struct scan *s, uintptr_t lo, uintptr_t hi)
{
    unsigned char vec[CHUNK_PAGES];
    lo &= ~(uintptr_t)(sizeof(uintptr_t) - 1);
    while (lo < hi) {
        uintptr_t start, end;
        bool ours = registry_at(lo, &start, &end) != 0;
        if (!ours)                      /* nothing of zmm's, or past a huge mapping's end */
            end = (lo & ~(uintptr_t)CHUNK_MASK) + CHUNK_SIZE;
        end = end < hi ? end : hi;
        if (!ours) {
            uintptr_t page = lo & ~(uintptr_t)(PAGE_SIZE - 1);
            if (pages_to_read(s, page, end - page, vec)) {
                for (uintptr_t p = lo; p < end;) {
                    uintptr_t next = ((p & ~(uintptr_t)(PAGE_SIZE - 1)) + PAGE_SIZE);
                    next = next < end ? next : end;
                    if (vec[(p - page) >> PAGE_SHIFT] & 1)
                        mark_words(s, p, next);
                    p = next;
                }
            }
        }
        lo = end;
    }
}

/* A root range, less the excluded ranges from index EX on. */
static void mark_root(struct scan *s, uintptr_t lo, uintptr_t hi, unsigned ex)
{
    for (; ex < s->excluded_count && lo < hi; ex++) {
        const struct range *x = &s->excluded[ex];
        if (x->lo < hi && x->hi > lo) {
            mark_root(s, lo, x->lo, ex + 1);
            mark_root(s, x->hi, hi, ex + 1);
            return;
        }
    }
    if (lo < hi)
        mark_resident(s, lo, hi);
}

/* ---- roots ------------------------------------------------------------------------- */

/* Roots: every readable and writable private mapping outside zmm's heap (data and bss of each
 * object, other threads' stacks from their stack pointer up, TLS, the program's own mappings).
 * Never read as roots: the stack of the thread that is exiting (its values are stale), stacks
 * of threads that have exited (cached by glibc), memory below a stack pointer, zmm's scratch
 * memory, pages that are not in memory. */

static bool contains(const struct libc_mapping *m, uintptr_t a)
{
    return a >= m->lo && a < m->hi;
}

/* At exit the frames of exit itself, of the handlers it runs and of zmm are dead, and hold
 * stale values from calls that returned long ago; the frames of exit's caller and above are
 * the program's (a forked child often exits from deep inside with live locals). The caller's
 * frame starts above the return address into exit() and exit's own frame (glibc 2.36: one
 * padding word, "sub $8, %rsp"). Not found: the whole stack is dead, up to FALLBACK. */
static uintptr_t exit_caller(const struct libc_mapping *m, uintptr_t sp, uintptr_t fallback)
{
    const uint8_t *code = (const uint8_t *)(uintptr_t)&exit;
    if (code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa)
        code += 4;                                          /* endbr64 */
    size_t pad = code[0] == 0x48 && code[1] == 0x83 && code[2] == 0xec ? code[3] : 0;
    uintptr_t lo = (uintptr_t)&exit, hi = lo + 64;
    for (uintptr_t p = align_up(sp, sizeof(uintptr_t)); p + sizeof(uintptr_t) <= m->hi; p += sizeof(uintptr_t)) {
        uintptr_t w = *(const uintptr_t *)p;
        if (w > lo && w <= hi)
            return p + sizeof(uintptr_t) + pad < fallback ? p + sizeof(uintptr_t) + pad : fallback;
    }
    return fallback;
}

/* Where exited threads' stacks and thread descriptors were, so that the scanner does not take
 * the stale values on a cached (dead) thread stack for roots, but still reads the descriptor
 * above it. A ring: the oldest are forgotten. Written under the heap list's lock, which the
 * scan holds. */
#define DEAD_STACKS 1024
static uintptr_t dead_sp[DEAD_STACKS], dead_tp[DEAD_STACKS];
static size_t dead_next;

static void thread_exited(void)
{
    dead_sp[dead_next % DEAD_STACKS] = (uintptr_t)__builtin_frame_address(0);
    dead_tp[dead_next++ % DEAD_STACKS] = (uintptr_t)pthread_self();
}

void scan_enable(void)
{
    heap_on_thread_exit(thread_exited);
}

/* The part of mapping M that holds roots: a live stack from its lowest stack pointer up, the
 * exiting thread's stack not at all (but its thread block, when it is there), a dead thread's
 * stack not at all but its thread descriptor (glibc keeps the thread's DTV and its return
 * value there until the stack is reused or freed). */
static void mark_mapping(struct scan *s, const struct libc_mapping *m, const struct libc_mapping *prev)
{
    uintptr_t lo = m->lo;
    bool live_stack = false;
    for (size_t i = 0; i < s->thread_count; i++) {
        uintptr_t sp = s->threads[i].sp;
        if (sp && contains(m, sp) && atomic_load(&s->threads[i].state) != WORLD_GONE) {
            uintptr_t from = sp > m->lo + RED_ZONE ? sp - RED_ZONE : m->lo;
            lo = live_stack && lo < from ? lo : from;
            live_stack = true;
        }
    }
    if (contains(m, s->self_sp)) {
        if (s->opts->at_exit)
            lo = exit_caller(m, s->self_sp, contains(m, s->self_tp) ? s->self_tp : m->hi);
        else if (s->opts->own_thread)
            lo = contains(m, s->self_tp) ? s->self_tp : m->hi;
        else
            lo = live_stack && lo < s->opts->stack_from ? lo : s->opts->stack_from;
        live_stack = true;
    }
    if (!live_stack && prev && prev->hi == m->lo && !strcmp(prev->perms, "---p")) {
        size_t n = dead_next < DEAD_STACKS ? dead_next : DEAD_STACKS;
        for (size_t i = 0; i < n; i++)
            if (contains(m, dead_sp[i])) {
                lo = contains(m, dead_tp[i]) ? dead_tp[i] : m->hi;
                break;
            }
    }
    mark_root(s, lo, m->hi, 0);
}

/* The roots: the private writable mappings of MAPS but for devices (/dev/zero is memory) and
 * the brk heap, which is glibc's, and only zmm's own work uses it once zmm is in place (libdw,
 * libunwind): its freed memory holds stale addresses of mappings long gone; then the stopped
 * threads' registers. */
static void mark_roots(struct scan *s, struct libc_maps *maps)
{
    struct libc_mapping m, prev = { 0 };
    bool have_prev = false;
    while (libc_maps_next(maps, &m)) {
        bool device = !strncmp(m.path, "/dev/", 5) && strncmp(m.path, "/dev/zero", 9);
        if (m.perms[0] == 'r' && m.perms[1] == 'w' && m.perms[3] == 'p' && !device && strcmp(m.path, "[heap]"))
            mark_mapping(s, &m, have_prev ? &prev : NULL);
        prev = m;
        have_prev = true;
    }
    for (size_t i = 0; i < s->thread_count; i++)
        if (atomic_load(&s->threads[i].state) == WORLD_STOPPED) {
            const struct world_thread *t = &s->threads[i];
            mark_words(s, (uintptr_t)t->regs, (uintptr_t)(t->regs + 23));
            mark_words(s, (uintptr_t)t->vregs, (uintptr_t)(t->vregs + 32));
        }
}

/* ---- the pass over every live block ------------------------------------------------ */

static void count_live(uintptr_t start, size_t size, struct zmm_rec *r, void *ctx)
{
    struct scan *s = ctx;
    if (r->request < s->born)
        return;
    s->live++;
    s->heap_lo = start < s->heap_lo ? start : s->heap_lo;
    s->heap_hi = start + size + 1 > s->heap_hi ? start + size + 1 : s->heap_hi;
}

static void seed_runtime(uintptr_t start, size_t size, struct zmm_rec *r, void *ctx)
{
    struct scan *s = ctx;
    uint32_t st = atomic_load_explicit(&r->state, memory_order_relaxed);
    if ((st & REC_RUNTIME) && !(st & REC_REACHED) && r->request >= s->born) {
        atomic_fetch_or_explicit(&r->state, REC_REACHED, memory_order_relaxed);
        if (s->depth < s->live)
            s->queue[s->depth++] = (struct pending){ start, size };
    }
}

/* Fork child: a block born before the fork is a root, read where this process has written it
 * since (in the pages it alone maps); the rest of it is as it was then. */
static void mark_inherited(uintptr_t start, size_t size, struct zmm_rec *r, void *ctx)
{
    struct scan *s = ctx;
    if (r->request >= s->born)
        return;
    for (uintptr_t p = start, end = start + size; p < end;) {
        uintptr_t next = (p & ~(uintptr_t)(PAGE_SIZE - 1)) + PAGE_SIZE;
        next = next < end ? next : end;
        if (track_written(p))
            mark_words(s, p, next);
        p = next;
    }
}

/* A leaked block: what it points to that is unreached is an indirect leak. */
static void mark_indirect(uintptr_t start, size_t size, struct zmm_rec *r, void *ctx)
{
    struct scan *s = ctx;
    if (r->request < s->born || (atomic_load_explicit(&r->state, memory_order_relaxed) & REC_REACHED))
        return;
    for (uintptr_t p = start; p + sizeof(uintptr_t) <= start + size; p += sizeof(uintptr_t)) {
        uintptr_t w = *(const uintptr_t *)p, at;
        size_t n;
        struct zmm_rec *t = w >= s->heap_lo && w < s->heap_hi ? track_find(w, &at, &n) : NULL;
        if (t && t != r && t->request >= s->born && !(atomic_load_explicit(&t->state, memory_order_relaxed) & REC_REACHED))
            atomic_fetch_or_explicit(&t->state, REC_INDIRECT, memory_order_relaxed);
    }
}

static void collect(uintptr_t start, size_t size, struct zmm_rec *r, void *ctx)
{
    struct scan *s = ctx;
    uint32_t st = atomic_load_explicit(&r->state, memory_order_relaxed);
    if (st & (REC_REACHED | REC_INDIRECT))     /* (a record's page is written only if marked) */
        atomic_fetch_and_explicit(&r->state, ~(uint32_t)(REC_REACHED | REC_INDIRECT), memory_order_relaxed);
    if (st & REC_RUNTIME)
        return;
    if (s->opts->first && (r->request < s->opts->first || r->request > s->opts->last))
        return;
    unsigned kind = !(st & REC_REACHED) ? (st & REC_INDIRECT ? SCAN_INDIRECT : SCAN_DIRECT)
                  : s->opts->reachable ? SCAN_REACHABLE : 0;
    struct scan_result *out = s->out;
    if (kind && out->items && out->count < s->live)     /* no items: no memory, marks cleared */
        out->items[out->count++] = (struct scan_item){ r->stack, kind, size, start, r->request };
}

/* ---- the scan ---------------------------------------------------------------------- */

/* Every live block, or in a fork child those in pages written since the fork (the others
 * are the parent's, unchanged: neither candidates nor roots that can hold a new pointer). */
static void walk(struct scan *s, void (*fn)(uintptr_t start, size_t size, struct zmm_rec *r, void *ctx))
{
    if (s->born)
        track_walk_written(fn, s);
    else
        track_walk(fn, s);
}

/* A fork child's scan: what was written since the fork, read from /proc/self/pagemap. */
static void born_begin(struct scan *s)
{
    s->pagemap = os_pagemap_open();
    track_written_begin(s->pagemap);
}

static void born_end(struct scan *s)
{
    track_written_end();
    if (s->pagemap >= 0)
        close(s->pagemap);
}

bool scan_run(const struct scan_opts *opts, struct scan_result *out)
{
    struct scan s = { .opts = opts, .heap_lo = UINTPTR_MAX, .out = out, .born = opts->born, .pagemap = -1 };
    *out = (struct scan_result){ 0 };
    s.self_sp = (uintptr_t)__builtin_frame_address(0);
    s.self_tp = (uintptr_t)pthread_self();
    heap_lock_all();
    if (s.born)
        born_begin(&s);
    walk(&s, count_live);
    if (!s.live) {                      /* no block to classify: no world to stop */
        heap_unlock_all();
        if (s.born)
            born_end(&s);
        return true;
    }
    s.thread_count = world_stop(&s.threads);
    size_t live = s.live;
    out->bytes = live * sizeof(struct scan_item);
    out->items = os_map_scratch(out->bytes);
    s.queue = os_map_scratch(live * sizeof(struct pending));
    struct libc_maps maps;              /* read as the roots are marked: nothing maps meanwhile */
    maps.fd = -1;
    bool ok = out->items && s.queue && libc_maps_open(&maps);
    if (ok) {
        exclude(&s, out->items, out->bytes);
        exclude(&s, s.queue, live * sizeof(struct pending));
        exclude(&s, s.threads, WORLD_BYTES);     /* copies of registers, the tracer's stack */
        libc_segments(&__ehdr_start, PF_W, exclude_segment, &s);
        walk(&s, seed_runtime);
        mark_drain(&s);
        if (s.born)
            walk(&s, mark_inherited);
        mark_roots(&s, &maps);
        mark_drain(&s);
        walk(&s, mark_indirect);
    }
    walk(&s, collect);
    world_resume();
    heap_unlock_all();
    libc_maps_close(&maps);
    os_unmap_scratch(s.queue, live * sizeof(struct pending));
    if (s.born)
        born_end(&s);
    if (!ok) {
        scan_release(out);
        return false;
    }
    return true;
}

void scan_release(struct scan_result *out)
{
    os_unmap_scratch(out->items, out->bytes);
    *out = (struct scan_result){ 0 };
}
