/* The heaps, white box: a thread's heap is abandoned when it exits (its held runs given back
 * to the bitmap) and adopted, lists and blocks and all, by the next new thread, while a
 * thread that attaches at the same time gets a heap of its own; a block freed by another
 * thread goes on the owner's remote list, signed with its key, counted as pending, and is
 * drained (small blocks to their bins, large runs to the run lists) on the owner's next
 * allocation; heap_trim drains, sweeps, gives back the held runs and the emptied chunk, keeps
 * live blocks, and returns what it gave; verify_heaps (once heap_check) counts the heaps,
 * chunks, free and remote blocks of a sane process, and stops the process with one line on
 * each kind of corruption (forked children), in any heap, abandoned ones too. */
#include "heap.h"
#include "verify.h"
#include "unit.h"
#include "fault.h"

#include <pthread.h>

#define SIZE5 96u       /* bin 5 */

static struct zmm_heap *h0;

/* ---- a thread that runs one function on its own heap ----------------------------------- */

static void run_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fn, arg) == 0, "pthread_create");
    pthread_join(t, NULL);
}

/* ---- abandon and adopt ----------------------------------------------------------------- */

struct first {
    struct zmm_heap *h;
    void *small[3], *large, *held;
    size_t held_pages;                  /* runs.pages after the free of HELD */
};

static void *first_thread(void *arg)
{
    struct first *f = arg;
    f->h = heap_attach();
    if (!f->h)
        return NULL;
    for (int i = 0; i < 3; i++)
        f->small[i] = heap_alloc_small(f->h, 3);
    f->large = heap_alloc_large(f->h, 4, 1);
    f->held = heap_alloc_large(f->h, 2, 1);
    heap_free_large(f->h, f->held);
    f->held_pages = f->h->runs.pages;
    bin_free(&f->h->bins, 3, f->small[2]);
    return NULL;
}

struct second {
    struct first *f;
    struct zmm_heap *h, *self;
    int state;
    void *popped, *run;
};

static void *second_thread(void *arg)
{
    struct second *s = arg;
    s->h = heap_attach();
    if (!s->h)
        return NULL;
    s->self = heap_self;
    s->state = s->h->state;
    s->popped = heap_alloc_small(s->h, 3);      /* the block the first thread freed */
    s->run = heap_alloc_large(s->h, 2, 1);      /* the pages of its held run */
    /* Everything of the first thread's given back, by this thread, as the owner. */
    for (int i = 0; i < 3; i++)
        bin_free(&s->h->bins, 3, s->f->small[i]);
    heap_free_large(s->h, s->f->large);
    heap_free_large(s->h, s->run);
    return NULL;
}

static pthread_barrier_t both;

static void *attach_and_wait(void *arg)
{
    *(struct zmm_heap **)arg = heap_attach();
    pthread_barrier_wait(&both);        /* neither exits before both attached */
    return NULL;
}

/* ---- remote frees ---------------------------------------------------------------------- */

struct remote {
    void *a, *b, *large;
    struct zmm_heap *h;
    uint64_t before, after;             /* the freer's remote_bytes */
    struct zmm_slot *list_head;         /* h0's bin 5 list, seen by the freer after its frees */
};

static void *remote_thread(void *arg)
{
    struct remote *r = arg;
    r->h = heap_attach();
    if (!r->h)
        return NULL;
    r->before = r->h->remote_bytes;
    heap_free_remote(h0, r->a, SIZE5, r->h);
    heap_free_remote(h0, r->b, SIZE5, NULL);        /* a thread without a heap */
    heap_free_remote(h0, r->large, 3 * PAGE_SIZE, r->h);
    r->after = r->h->remote_bytes;
    r->list_head = h0->bins.free[5];
    return NULL;
}

static void *free_one_remote(void *arg)
{
    heap_free_remote(h0, arg, bin_size[PG_BIN(chunk_of(arg)->map[page_of(arg)])], heap_attach());
    return NULL;
}

static bool on_list(const struct zmm_slot *s, const void *p)
{
    for (; s; s = s->next)
        if (s == p)
            return true;
    return false;
}

/* ---- verify_heaps's faults ---------------------------------------------------------------- */

static struct verify_counts hc;

static void check_heaps(void *arg)
{
    (void)arg;
    verify_heaps(&hc);
}

static void flip_and_check(void *arg)
{
    ((struct zmm_slot *)arg)->check ^= 1;
    verify_heaps(&hc);
}

static void cycle_and_check(void *arg)
{
    struct zmm_slot *s = arg;
    s->next = s;
    s->check = slot_check(h0->bins.key, s, s);      /* a well-signed loop */
    verify_heaps(&hc);
}

static void wrong_bin_and_check(void *arg)
{
    slot_push(&h0->bins, 10, arg);                   /* a bin 9 block on bin 10's list */
    h0->bins.slots[10] += 1;
    verify_heaps(&hc);
}

static void remap_and_check(void *arg)
{
    chunk_of(arg)->map[page_of(arg)] = PG_FREED_ENTRY(PG_LARGE_ENTRY(2));
    verify_heaps(&hc);
}

static void miscount_and_check(void *arg)
{
    (void)arg;
    h0->runs.count[1]++;
    verify_heaps(&hc);
}

static void header_and_check(void *arg)
{
    ((struct zmm_chunk *)arg)->free_pages--;
    verify_heaps(&hc);
}

static void flip_and_drain(void *arg)
{
    ((struct zmm_slot *)arg)->check ^= 1;
    heap_alloc_small(h0, 9);
}

int main(void)
{
    heap_init(true);
    h0 = heap_attach();
    CHECK(h0 != NULL && heap_self == h0 && heap_tls == h0, "main thread's heap %p, self %p, tls %p", (void *)h0,
          (void *)heap_self, (void *)heap_tls);
    if (!h0)
        return UNIT_DONE();
    CHECK(h0->state == HEAP_ACTIVE && (h0->bins.key & 1) && h0->shared_key == h0->bins.key, "new heap's state and key");

    /* ---- a heap abandoned by its thread, adopted by the next ------------------------------ */
    struct first f = { 0 };
    run_thread(first_thread, &f);
    struct zmm_heap *h1 = f.h;
    CHECK(h1 && h1 != h0, "first thread's heap %p (main's %p)", (void *)h1, (void *)h0);
    if (!h1 || !f.small[0] || !f.large || !f.held)
        return UNIT_DONE();
    CHECK(f.held_pages == 2, "a freed 2-page run not held (%zu pages held)", f.held_pages);
    CHECK(h1->state == HEAP_ABANDONED, "exited thread's heap state %d", h1->state);
    CHECK(h1->runs.pages == 0 && h1->runs.list[2] == NULL && chunk_of(f.held)->held_pages == 0,
          "held runs not given back at exit: %zu pages", h1->runs.pages);
    CHECK(PG_KIND(chunk_of(f.held)->map[page_of(f.held)]) == PG_FREE, "held run's page entry %x at exit",
          (unsigned)chunk_of(f.held)->map[page_of(f.held)]);
    CHECK(chunk_of(f.small[0])->owner == h1 && chunk_of(f.large)->owner == h1, "chunk owners after exit");
    CHECK(heap_self == h0, "main's heap changed");
    struct heap_totals t;
    heap_totals(&t);
    CHECK(t.heaps == 2 && t.abandoned == 1, "totals: %zu heaps, %zu abandoned", t.heaps, t.abandoned);

    struct second s = { .f = &f };
    run_thread(second_thread, &s);
    CHECK(s.h == h1 && s.self == h1 && s.state == HEAP_ACTIVE, "second thread adopted %p (state %d), wanted %p",
          (void *)s.h, s.state, (void *)h1);
    CHECK(s.popped == f.small[2], "adopted bin list gave %p, the first thread freed %p", s.popped, f.small[2]);
    CHECK(s.run == f.held, "adopted heap's 2-page run at %p, the run given back at exit was %p", s.run, f.held);
    CHECK(h1->state == HEAP_ABANDONED && h1->large_pages == 0, "second exit: state %d, %zu large pages",
          h1->state, h1->large_pages);
    heap_totals(&t);
    CHECK(t.heaps == 2 && t.abandoned == 1, "after adoption: %zu heaps, %zu abandoned", t.heaps, t.abandoned);

    /* Two threads at once, one abandoned heap: one adopts it, the other gets a new one. */
    struct zmm_heap *ha = NULL, *hb = NULL;
    pthread_barrier_init(&both, NULL, 2);
    pthread_t ta, tb;
    pthread_create(&ta, NULL, attach_and_wait, &ha);
    pthread_create(&tb, NULL, attach_and_wait, &hb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&both);
    CHECK(ha && hb && ha != hb && (ha == h1 || hb == h1) && ha != h0 && hb != h0,
          "two threads attached %p and %p (abandoned %p, main %p)", (void *)ha, (void *)hb, (void *)h1, (void *)h0);
    heap_totals(&t);
    CHECK(t.heaps == 3 && t.abandoned == 2, "after two exits: %zu heaps, %zu abandoned", t.heaps, t.abandoned);

    /* ---- remote frees ------------------------------------------------------------------ */
    struct remote r = { .a = heap_alloc_small(h0, 5), .b = heap_alloc_small(h0, 5), .large = heap_alloc_large(h0, 3, 1) };
    void *keep = heap_alloc_small(h0, 5);
    CHECK(r.a && r.b && r.large && keep, "blocks for the remote frees");
    uint64_t frees5 = h0->bins.frees[5], large_frees = h0->large_frees, drained = h0->drained_bytes;
    struct zmm_slot *head5 = h0->bins.free[5];
    run_thread(remote_thread, &r);
    uint64_t pending = 2 * SIZE5 + 3 * PAGE_SIZE;
    struct zmm_slot *rl = atomic_load(&h0->remote);
    CHECK(rl == r.large && r.large && ((struct zmm_slot *)r.large)->next == r.b &&
          ((struct zmm_slot *)r.b)->next == r.a && ((struct zmm_slot *)r.a)->next == NULL,
          "remote list %p, wanted large %p -> %p -> %p", (void *)rl, r.large, r.b, r.a);
    CHECK(slot_is_free(h0->shared_key, r.a) && slot_is_free(h0->shared_key, r.b) &&
          slot_is_free(h0->shared_key, r.large), "remote blocks not signed with the owner's key");
    CHECK(r.list_head == head5 && h0->bins.free[5] == head5 && !on_list(head5, r.a) && !on_list(head5, r.b),
          "a remote free touched the owner's bin list");
    CHECK(h0->bins.frees[5] == frees5, "a remote free counted as the owner's");
    CHECK(r.after - r.before == SIZE5 + 3 * PAGE_SIZE, "freer's remote bytes %lu",
          (unsigned long)(r.after - r.before));
    heap_totals(&t);
    CHECK(t.pending_bytes == pending, "pending bytes %lu, wanted %lu", (unsigned long)t.pending_bytes,
          (unsigned long)pending);
    /* The owner's next allocation drains them: a and b to bin 5 (a on top), the run held. */
    void *p = heap_alloc_small(h0, 5);
    CHECK(atomic_load(&h0->remote) == NULL, "remote list not drained");
    CHECK(p == r.a, "first block after the drain %p, wanted %p", p, r.a);
    CHECK(h0->bins.frees[5] == frees5 + 2 && h0->large_frees == large_frees + 1, "drained frees counted: %lu, %lu",
          (unsigned long)(h0->bins.frees[5] - frees5), (unsigned long)(h0->large_frees - large_frees));
    CHECK(h0->drained_bytes - drained == pending, "drained bytes %lu", (unsigned long)(h0->drained_bytes - drained));
    heap_totals(&t);
    CHECK(t.pending_bytes == 0, "pending after the drain %lu", (unsigned long)t.pending_bytes);
    CHECK(h0->runs.list[3] == r.large, "drained large run not held (list of 3 pages: %p)", (void *)h0->runs.list[3]);
    CHECK(heap_alloc_small(h0, 5) == r.b && heap_alloc_large(h0, 3, 1) == r.large, "drained blocks reused");

    /* ---- heap_trim ---------------------------------------------------------------------- */
    /* Bin 5 all free, 100 blocks of bin 7 (4 runs) all free, one of them freed remotely, the
     * 3-page run held; one bin 9 block stays live. */
    bin_free(&h0->bins, 5, r.a);
    bin_free(&h0->bins, 5, r.b);
    bin_free(&h0->bins, 5, keep);
    heap_free_large(h0, r.large);
    void *b7[100];
    for (int i = 0; i < 100; i++)
        b7[i] = heap_alloc_small(h0, 7);
    void *live = heap_alloc_small(h0, 9);
    for (int i = 1; i < 100; i++)
        bin_free(&h0->bins, 7, b7[i]);
    run_thread(free_one_remote, b7[0]);
    CHECK(atomic_load(&h0->remote) == b7[0], "remote free before the trim");
    CHECK(h0->runs.pages == 3 && h0->bins.slots[7] == 4 * 32 && h0->chunks.count == 1,
          "before the trim: %zu held pages, %lu bin 7 slots, %zu chunks", h0->runs.pages,
          (unsigned long)h0->bins.slots[7], h0->chunks.count);
    size_t got = heap_trim(h0);
    struct zmm_chunk *c0 = chunk_of(live);
    size_t want = (size_t)(4 + bin_pages[5]) * PAGE_SIZE + (size_t)c0->free_pages * PAGE_SIZE;
    CHECK(got == want, "trim returned %zu, wanted %zu (5 pages of runs and the chunk's %u free pages)", got, want,
          c0->free_pages);
    CHECK(atomic_load(&h0->remote) == NULL, "trim left the remote list");
    CHECK(h0->bins.slots[7] == 0 && h0->bins.free[7] == NULL && h0->bins.slots[5] == 0 && h0->bins.free[5] == NULL,
          "trim left runs: bin 7 %lu slots, bin 5 %lu", (unsigned long)h0->bins.slots[7], (unsigned long)h0->bins.slots[5]);
    CHECK(h0->runs.pages == 0 && h0->runs.list[3] == NULL && c0->held_pages == 0, "trim left held runs: %zu pages",
          h0->runs.pages);
    CHECK(h0->bins.slots[9] == bin_count[9] && !slot_is_free(h0->bins.key, live) &&
          c0->map[page_of(live)] == PG_SMALL_ENTRY(9, 0) && h0->chunks.count == 1,
          "trim touched the live block's run or chunk");
    CHECK(c0->free_pages == CHUNK_PAGES - FIRST_PAGE - bin_pages[9], "chunk after the trim: %u free pages",
          c0->free_pages);
    bin_free(&h0->bins, 9, live);
    got = heap_trim(h0);
    CHECK(got >= (size_t)bin_pages[9] * PAGE_SIZE && h0->chunks.count == 0 && h0->chunks.head == NULL,
          "the last trim returned %zu, %zu chunks left", got, h0->chunks.count);

    /* ---- verify_heaps on a sane process ------------------------------------------------ */
    struct verify_counts c1, c2, c3, c4;
    verify_heaps(&c1);
    heap_totals(&t);
    CHECK(c1.heaps == t.heaps + 1, "verify_heaps saw %zu heaps, %zu and the orphan exist", c1.heaps, t.heaps);
    CHECK(c1.remote_blocks == 0, "remote blocks %zu", c1.remote_blocks);
    void *x = heap_alloc_small(h0, 9);              /* a new chunk, a run of 21 carved */
    verify_heaps(&c2);
    CHECK(c2.free_blocks == c1.free_blocks + bin_count[9] - 1 && c2.chunks == c1.chunks + 1,
          "after a carve: %zu free blocks (%zu before), %zu chunks (%zu before)", c2.free_blocks, c1.free_blocks,
          c2.chunks, c1.chunks);
    void *r1 = heap_alloc_large(h0, 1, 1), *r2 = heap_alloc_large(h0, 1, 1);
    heap_free_large(h0, r1);                        /* held: a free block too */
    verify_heaps(&c3);
    CHECK(c3.free_blocks == c2.free_blocks + 1 && c3.chunks == c2.chunks, "after a held run: %zu free blocks",
          c3.free_blocks);
    run_thread(free_one_remote, x);
    verify_heaps(&c4);
    CHECK(c4.remote_blocks == 1 && c4.free_blocks == c3.free_blocks, "after a remote free: %zu remote, %zu free",
          c4.remote_blocks, c4.free_blocks);
    struct child_result cr;
    run_child(check_heaps, NULL, &cr);
    CHECK(cr.status == 0 && cr.len == 0, "verify_heaps of a sane process in a child: status %x, said %s", cr.status, cr.out);

    /* ---- verify_heaps on a corrupted one, each in a child ------------------------------- */
    struct zmm_slot *deep = h0->bins.free[9]->next->next;
    EXPECT_FAULT(flip_and_check, deep, "corrupted free list (bin 9, 192-byte blocks) at %p", (void *)deep);
    EXPECT_FAULT(cycle_and_check, h0->bins.free[9], "corrupted free list (bin 9, 192-byte blocks) at %p",
                 (void *)h0->bins.free[9]);
    void *y = bin_pop(&h0->bins, 9);               /* no drain: x stays on the remote list */
    EXPECT_FAULT(wrong_bin_and_check, y, "heap check: free list of bin 10 holds %p, in a page whose map entry is %x",
                 y, (unsigned)PG_SMALL_ENTRY(9, 0));
    EXPECT_FAULT(remap_and_check, r1, "heap check: list of 1-page runs holds %p, in a page whose map entry is %x",
                 r1, (unsigned)PG_FREED_ENTRY(PG_LARGE_ENTRY(2)));
    EXPECT_FAULT(miscount_and_check, NULL, "heap check: list of 1-page runs holds 1 runs, counted 2");
    EXPECT_FAULT(flip_and_check, x, "heap check: corrupted remote free list at %p", x);
    EXPECT_FAULT(flip_and_drain, x, "corrupted remote free list at %p", x);
    struct zmm_chunk *cx = chunk_of(x);
    EXPECT_FAULT(header_and_check, cx, "chunk %p: bitmap has %u pages in use, header says %u free", (void *)cx,
                 (unsigned)(CHUNK_PAGES - cx->free_pages), cx->free_pages - 1);
    /* An abandoned heap is checked too: the first thread's (no thread holds it now) has its
     * bin 3 run's blocks free. */
    CHECK(h1->state == HEAP_ABANDONED && h1->bins.free[3] != NULL, "abandoned heap with free blocks");
    if (h1->bins.free[3])
        EXPECT_FAULT(flip_and_check, h1->bins.free[3], "corrupted free list (bin 3, 64-byte blocks) at %p",
                     (void *)h1->bins.free[3]);
    verify_heaps(&c1);
    CHECK(c1.remote_blocks == 1 && c1.free_blocks == c4.free_blocks - 1, "the children changed the parent");
    (void)r2;
    return UNIT_DONE();
}
