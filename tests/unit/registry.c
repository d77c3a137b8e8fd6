/* The registry, white box: chunk and huge entries set, read and cleared; every address of a
 * slot reads its slot's entry; a huge block's head and inner entries, across a leaf boundary,
 * and registry_at's bounds of the mapping; lookups of addresses never registered (no leaf
 * made for them); the first and last slot of the address space and of a leaf; addresses past
 * the 48 bits refused (not wrapped onto a low slot); the aux words; the walk (every non-zero
 * entry once, in address order, none cleared); leaves made by many threads at once (each
 * round, four threads set slots of one missing leaf: no entry lost). Nothing here maps
 * memory at the addresses registered: the registry never touches it. */
#include "registry.h"
#include "unit.h"

#include <pthread.h>
#include <stdatomic.h>

#define LEAF_SPAN   ((uintptr_t)1 << (CHUNK_SHIFT + REG_LEAF_BITS))      /* 32 GiB */
#define SLOT(leaf, i) ((uintptr_t)(leaf) * LEAF_SPAN + ((uintptr_t)(i) << CHUNK_SHIFT))
#define VA_END      ((uintptr_t)1 << REG_VA_BITS)

static bool leaf_made(uintptr_t addr)
{
    return atomic_load(&registry_top[addr >> (CHUNK_SHIFT + REG_LEAF_BITS)]) != NULL;
}

/* ---- the walk ------------------------------------------------------------------------ */

struct seen {
    uintptr_t slot[256];
    uint64_t entry[256];
    size_t n;
};

static void collect(uintptr_t slot, uint64_t entry, void *ctx)
{
    struct seen *s = ctx;
    if (s->n < 256) {
        s->slot[s->n] = slot;
        s->entry[s->n] = entry;
    }
    s->n++;
}

/* The walk reports exactly the N (slot, entry) pairs of WANT, in that (address) order. */
static void check_walk(const char *when, const uintptr_t *slots, const uint64_t *entries, size_t n)
{
    static struct seen s;
    s.n = 0;
    registry_walk(collect, &s);
    CHECK(s.n == n, "%s: the walk reported %zu entries, %zu set", when, s.n, n);
    for (size_t i = 0; i < n && i < s.n; i++)
        CHECK(s.slot[i] == slots[i] && s.entry[i] == entries[i], "%s: walk entry %zu is (%lx, %lx), wanted (%lx, %lx)",
              when, i, (unsigned long)s.slot[i], (unsigned long)s.entry[i], (unsigned long)slots[i],
              (unsigned long)entries[i]);
}

/* ---- leaves made by many threads at once ------------------------------------------------ */

#define RACERS 4
#define RACE_LEAVES 256
#define RACE_SLOTS 4
static pthread_barrier_t race_round;

/* Each round, every racer sets its slots of the same fresh leaf at once: all of them may find
 * the leaf missing, and the entries of each must land in the one leaf that stays. */
static void *racer(void *arg)
{
    uintptr_t k = (uintptr_t)arg;
    for (uintptr_t leaf = 100; leaf < 100 + RACE_LEAVES; leaf++) {
        pthread_barrier_wait(&race_round);
        for (uintptr_t i = k; i < RACE_SLOTS * RACERS; i += RACERS)
            if (!registry_set(SLOT(leaf, i), REG_CHUNK))
                return (void *)1;
    }
    return NULL;
}

int main(void)
{
    /* ---- nothing registered yet: every lookup says unknown, and makes no leaf ---------- */
    uintptr_t a = SLOT(1, 5);                       /* a slot in leaf 1 */
    CHECK(!leaf_made(a), "leaf 1 exists before anything was registered");
    CHECK(registry_get(a) == 0 && registry_get(a + 12345) == 0, "unregistered address has an entry");
    CHECK(registry_aux(a, false) == NULL, "aux of a missing leaf without create");
    uintptr_t lo = 1, hi = 1;
    CHECK(registry_at(a + 100, &lo, &hi) == 0 && lo == a && hi == a + CHUNK_SIZE,
          "registry_at of an unregistered address: [%lx, %lx)", (unsigned long)lo, (unsigned long)hi);
    CHECK(!leaf_made(a), "a lookup made a leaf");
    check_walk("empty registry", NULL, NULL, 0);

    /* ---- a chunk entry: every byte of its slot, and only those ------------------------- */
    CHECK(registry_set(a, REG_CHUNK), "set a chunk entry");
    CHECK(leaf_made(a), "no leaf after a set");
    CHECK(registry_get(a) == REG_CHUNK, "chunk entry at its first byte: %lx", (unsigned long)registry_get(a));
    CHECK(registry_get(a + CHUNK_SIZE / 2 + 3) == REG_CHUNK, "chunk entry in the middle");
    CHECK(registry_get(a + CHUNK_SIZE - 1) == REG_CHUNK, "chunk entry at its last byte");
    CHECK(registry_get(a + CHUNK_SIZE) == 0, "the next slot has the chunk's entry");
    CHECK(registry_get(a - 1) == 0, "the previous slot has the chunk's entry");
    CHECK(registry_get(a + LEAF_SPAN) == 0, "the same slot of the next leaf has the chunk's entry");
    CHECK(registry_at(a + 4097, &lo, &hi) == REG_CHUNK && lo == a && hi == a + CHUNK_SIZE,
          "registry_at of a chunk: [%lx, %lx)", (unsigned long)lo, (unsigned long)hi);
    CHECK(registry_get(SLOT(1, 6)) == 0 && registry_get(SLOT(1, 4)) == 0, "neighbour slots in a made leaf");

    /* Setting a slot with another address of it changes the same entry. */
    CHECK(registry_set(a + CHUNK_SIZE - 8, REG_CHUNK | REG_FREED), "set by an interior address");
    CHECK(registry_get(a) == (REG_CHUNK | REG_FREED), "interior set did not reach the slot: %lx",
          (unsigned long)registry_get(a));
    CHECK(registry_set(a, REG_CHUNK), "set back");

    /* ---- removal --------------------------------------------------------------------- */
    uintptr_t b = SLOT(1, 9);
    CHECK(registry_set(b, REG_CHUNK), "set a second chunk");
    CHECK(registry_set(b, 0), "clear it");
    CHECK(registry_get(b) == 0 && registry_get(b + 77) == 0, "cleared entry still reads %lx",
          (unsigned long)registry_get(b));
    CHECK(registry_get(a) == REG_CHUNK, "clearing a neighbour cleared the chunk");
    {
        uintptr_t s[] = { a };
        uint64_t e[] = { REG_CHUNK };
        check_walk("one chunk, one cleared", s, e, 1);
    }

    /* ---- a huge block across a leaf boundary ------------------------------------------- */
    /* Head in the last-but-one slot of leaf 2, 5 MiB + a page: three slots, the third the
     * first of leaf 3. */
    uintptr_t h = SLOT(2, REG_LEAF_SLOTS - 2);
    size_t hsize = (5u << 20) + PAGE_SIZE;
    uint64_t head = hsize | REG_HUGE;
    CHECK(registry_set_huge(h, hsize, head), "set a huge block");
    CHECK(registry_get(h) == head, "huge head entry %lx", (unsigned long)registry_get(h));
    CHECK(registry_get(h + CHUNK_SIZE + 5) == ((1u << 3) | REG_HUGE_INNER), "first inner entry %lx",
          (unsigned long)registry_get(h + CHUNK_SIZE + 5));
    CHECK(registry_get(SLOT(3, 0)) == ((2u << 3) | REG_HUGE_INNER), "inner entry in the next leaf %lx",
          (unsigned long)registry_get(SLOT(3, 0)));
    CHECK(registry_get(SLOT(3, 1)) == 0 && registry_get(h - 1) == 0, "slots around the huge block");
    /* registry_at: the mapping's bounds from any slot of it; nothing past its end. */
    uintptr_t last = h + hsize - 1;
    CHECK(registry_at(last, &lo, &hi) == ((2u << 3) | REG_HUGE_INNER) && lo == h && hi == h + hsize,
          "registry_at of the last byte: [%lx, %lx)", (unsigned long)lo, (unsigned long)hi);
    CHECK(registry_at(h + CHUNK_SIZE, &lo, &hi) == ((1u << 3) | REG_HUGE_INNER) && lo == h && hi == h + hsize,
          "registry_at of the second slot: [%lx, %lx)", (unsigned long)lo, (unsigned long)hi);
    CHECK(registry_at(h + 17, &lo, &hi) == head && lo == h && hi == h + hsize,
          "registry_at of the head: [%lx, %lx)", (unsigned long)lo, (unsigned long)hi);
    CHECK(registry_at(h + hsize, &lo, &hi) == 0, "registry_at past the mapping's end, in its last slot");
    CHECK(registry_at(SLOT(3, 0) + CHUNK_SIZE - 1, &lo, &hi) == 0, "registry_at at the end of the last slot");
    /* A cached huge block (freed mark) keeps its bounds. */
    CHECK(registry_set(h, head | REG_FREED), "mark freed");
    CHECK(registry_at(last, &lo, &hi) == ((2u << 3) | REG_HUGE_INNER) && hi == h + hsize,
          "registry_at of a freed huge block: [%lx, %lx)", (unsigned long)lo, (unsigned long)hi);
    CHECK(registry_set(h, head), "mark live");
    {
        uintptr_t s[] = { a, h, h + CHUNK_SIZE, SLOT(3, 0) };
        uint64_t e[] = { REG_CHUNK, head, (1u << 3) | REG_HUGE_INNER, (2u << 3) | REG_HUGE_INNER };
        check_walk("a chunk and a huge block", s, e, 4);
    }
    /* A huge block of exactly two slots: the slot after it is not its. */
    uintptr_t h2 = SLOT(1, 20);
    CHECK(registry_set_huge(h2, 2 * CHUNK_SIZE, 2 * CHUNK_SIZE | REG_HUGE), "set a 4 MiB huge block");
    CHECK(registry_get(h2 + 2 * CHUNK_SIZE) == 0 && registry_at(h2 + 2 * CHUNK_SIZE, &lo, &hi) == 0,
          "slot past a 4 MiB block");
    CHECK(registry_at(h2 + 2 * CHUNK_SIZE - 1, &lo, &hi) == ((1u << 3) | REG_HUGE_INNER) && lo == h2 &&
          hi == h2 + 2 * CHUNK_SIZE, "last byte of a 4 MiB block: [%lx, %lx)", (unsigned long)lo, (unsigned long)hi);
    /* Cleared, every slot of it. */
    CHECK(registry_set_huge(h, hsize, 0), "clear the huge block");
    CHECK(registry_get(h) == 0 && registry_get(h + CHUNK_SIZE) == 0 && registry_get(SLOT(3, 0)) == 0,
          "huge entries left after clearing: %lx %lx %lx", (unsigned long)registry_get(h),
          (unsigned long)registry_get(h + CHUNK_SIZE), (unsigned long)registry_get(SLOT(3, 0)));
    CHECK(registry_set_huge(h2, 2 * CHUNK_SIZE, 0), "clear the 4 MiB block");
    CHECK(registry_get(h2) == 0 && registry_get(h2 + CHUNK_SIZE) == 0, "4 MiB block's entries left");

    /* ---- the extremes of the address space --------------------------------------------- */
    uintptr_t top = VA_END - CHUNK_SIZE;            /* the last slot of the last leaf */
    CHECK(registry_get(top) == 0 && registry_get(VA_END - 1) == 0, "last slot before a set");
    CHECK(registry_set(0, REG_CHUNK), "set the slot of address 0");
    CHECK(registry_set(top, REG_CHUNK), "set the last slot of the address space");
    CHECK(registry_get(0) == REG_CHUNK && registry_get(CHUNK_SIZE - 1) == REG_CHUNK, "entry of slot 0");
    CHECK(registry_get(top) == REG_CHUNK && registry_get(VA_END - 1) == REG_CHUNK, "entry of the last slot");
    CHECK(registry_get(top - 1) == 0 && registry_get(CHUNK_SIZE) == 0, "neighbours of the extreme slots");
    /* Past 48 bits: refused, and not wrapped onto slot 0 or any other. */
    CHECK(!registry_set(VA_END, REG_HUGE), "an address past 48 bits was accepted");
    CHECK(!registry_set(VA_END + SLOT(1, 5), 0), "clearing past 48 bits was accepted");
    CHECK(registry_get(0) == REG_CHUNK && registry_get(a) == REG_CHUNK, "a set past 48 bits changed a low slot");
    CHECK(registry_get(VA_END) == 0 && registry_get(VA_END + a) == 0 && registry_get(UINTPTR_MAX) == 0,
          "an address past 48 bits has an entry");
    CHECK(registry_at(VA_END + a, &lo, &hi) == 0, "registry_at past 48 bits");
    CHECK(registry_aux(VA_END + a, true) == NULL && registry_aux(UINTPTR_MAX, false) == NULL, "aux past 48 bits");
    /* A huge block that would run past the end: refused, nothing set. */
    uintptr_t near = VA_END - 2 * CHUNK_SIZE;
    CHECK(!registry_set_huge(near, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE | REG_HUGE), "a huge block past 48 bits");
    CHECK(registry_get(near) == 0 && registry_get(top) == REG_CHUNK, "a refused huge block left entries: %lx %lx",
          (unsigned long)registry_get(near), (unsigned long)registry_get(top));
    /* The first and last slot of one leaf. */
    uintptr_t f = SLOT(4, 0), l = SLOT(4, REG_LEAF_SLOTS - 1);
    CHECK(registry_set(l, REG_CHUNK) && registry_set(f, REG_CHUNK), "first and last slot of leaf 4");
    CHECK(registry_get(f) == REG_CHUNK && registry_get(l + CHUNK_SIZE - 1) == REG_CHUNK, "leaf 4's extreme slots");
    CHECK(registry_get(l + CHUNK_SIZE) == 0 && registry_get(f - 1) == 0, "leaves 3 and 5 next to leaf 4");
    {
        uintptr_t s[] = { 0, a, f, l, top };
        uint64_t e[] = { REG_CHUNK, REG_CHUNK, REG_CHUNK, REG_CHUNK, REG_CHUNK };
        check_walk("the extremes", s, e, 5);
    }
    CHECK(registry_set(l, 0) && registry_set(0, 0), "clear leaf 4's last slot and slot 0");
    {
        uintptr_t s[] = { a, f, top };
        uint64_t e[] = { REG_CHUNK, REG_CHUNK, REG_CHUNK };
        check_walk("the extremes cleared", s, e, 3);
    }

    /* ---- aux words: one per slot, beside the entries, not over them ------------------- */
    _Atomic(void *) *xa = registry_aux(a, false), *xa2 = registry_aux(a + CHUNK_SIZE - 1, true);
    _Atomic(void *) *xb = registry_aux(a + CHUNK_SIZE, true);
    CHECK(xa != NULL && xa == xa2, "aux of a slot: %p %p", (void *)xa, (void *)xa2);
    CHECK(xb == xa + 1, "aux of the next slot %p, slot's %p", (void *)xb, (void *)xa);
    if (xa && xb) {
        CHECK(atomic_load(xa) == NULL, "fresh aux word not NULL");
        atomic_store(xa, (void *)&unit_failures);
        atomic_store(xb, (void *)0x5555aaaa);
        CHECK(registry_get(a) == REG_CHUNK && registry_get(a + CHUNK_SIZE) == 0, "an aux store changed entries");
        CHECK(registry_set(a, REG_CHUNK | REG_FREED) && atomic_load(xa) == (void *)&unit_failures,
              "an entry store changed the aux word");
        CHECK(registry_set(a, 0) && atomic_load(xa) == (void *)&unit_failures, "the aux word outlives its entry");
        uintptr_t s[] = { f, top };
        uint64_t e[] = { REG_CHUNK, REG_CHUNK };
        check_walk("aux words are not entries", s, e, 2);
    }
    uintptr_t fresh = SLOT(9, 3);
    CHECK(registry_aux(fresh, false) == NULL && !leaf_made(fresh), "aux without create made a leaf");
    _Atomic(void *) *xf = registry_aux(fresh, true);
    CHECK(xf != NULL && leaf_made(fresh) && registry_aux(fresh, false) == xf, "aux with create");
    CHECK(registry_get(fresh) == 0, "a leaf made for aux has an entry");

    /* ---- many threads making the same leaves --------------------------------------------- */
    registry_set(f, 0);
    registry_set(top, 0);
    pthread_t t[RACERS];
    pthread_barrier_init(&race_round, NULL, RACERS);
    for (uintptr_t k = 0; k < RACERS; k++)
        pthread_create(&t[k], NULL, racer, (void *)k);
    bool refused = false;
    for (int k = 0; k < RACERS; k++) {
        void *r;
        pthread_join(t[k], &r);
        refused |= r != NULL;
    }
    pthread_barrier_destroy(&race_round);
    CHECK(!refused, "a racer's set failed");
    unsigned missing = 0;
    for (uintptr_t leaf = 100; leaf < 100 + RACE_LEAVES; leaf++)
        for (uintptr_t i = 0; i < RACE_SLOTS * RACERS; i++)
            missing += registry_get(SLOT(leaf, i)) != REG_CHUNK;
    CHECK(missing == 0, "%u entries lost while leaves were made by %d threads", missing, RACERS);
    static struct seen s;
    s.n = 0;
    registry_walk(collect, &s);
    CHECK(s.n == RACE_LEAVES * RACE_SLOTS * RACERS, "the walk after the race reported %zu entries", s.n);
    return UNIT_DONE();
}
