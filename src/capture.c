/* capture.c: owns the stack a new block is born with in tracked mode, and each thread's cache
 * of the stacks it saw last. Most allocations come from a call site that repeats its whole
 * stack: the cache is keyed by the frame address of the capture and remembers, for each
 * frame, where its return address was found; when those words still hold the same return
 * addresses, the depot id is known without unwinding. Only the thread's own stack is cached
 * (not a signal stack or a coroutine's), and a heap adopted by another thread starts its
 * cache afresh. Unwinding and storing run under the re-entry guard. */
#include "capture.h"
#include "depot.h"
#include "os.h"
#include "stack.h"
#include "track.h"

#include <string.h>

#define CAP_BITS 7                      /* sets */
#define CAP_WAYS 16
#define CAP_ENTRIES (((size_t)1 << CAP_BITS) * CAP_WAYS)
static __thread uintptr_t *cap_mine __attribute__((tls_model("initial-exec")));   /* whose cache */
static __thread unsigned cap_rotor __attribute__((tls_model("initial-exec")));    /* next way to fill */
static unsigned depth = 16;

void capture_configure(unsigned frames)
{
    depth = frames;
}

/* The set for KEY in the cache of H's thread, or NULL: CAP_WAYS tags (the keys, side by
 * side, so that a lookup reads one line) and their entries. An entry is the depot id (with
 * TRACK_RUNTIME) and the frame count in one word, then for each frame the offset of its
 * return-address slot from the key and the return address. A set holds the stacks of
 * several call paths that reach malloc at the same depth. The cache describes one thread's
 * stack: a heap adopted by another thread starts it afresh. */
struct cap_set {
    uintptr_t *tags, *entries;
};

static bool cap_set(struct zmm_heap *h, uintptr_t key, size_t stride, struct cap_set *set)
{
    if (!h)
        return false;
    uintptr_t *c = h->stack_cache;
    if (!c) {
        c = h->stack_cache = os_map_meta(align_up(CAP_ENTRIES * (1 + stride) * sizeof(uintptr_t), PAGE_SIZE));
        if (!c)
            return false;
    }
    if (ZMM_UNLIKELY(cap_mine != c)) {  /* a heap another thread had: its stacks are not ours */
        memset(c, 0, CAP_ENTRIES * sizeof *c);
        cap_mine = c;
    }
    size_t first = ((key >> 4) * 0x9e3779b97f4a7c15ull >> (64 - CAP_BITS)) * CAP_WAYS;
    set->tags = c + first;
    set->entries = c + CAP_ENTRIES + first * stride;
    return true;
}

/* The call site at the same depth mostly repeats the whole stack: the slots where the
 * remembered return addresses were found still holding them says so, one load a frame. */
static bool cap_same(const uintptr_t *e, uintptr_t key)
{
    unsigned n = (unsigned)(e[0] >> 32);
    for (unsigned i = 0; i < n; i++)
        if (*(const uintptr_t *)(key + e[1 + 2 * i]) != e[2 + 2 * i])
            return false;
    return true;
}

uint32_t capture_stack(struct zmm_heap *h)
{
    uintptr_t key = (uintptr_t)__builtin_frame_address(0);
    size_t stride = 1 + 2 * (size_t)depth;
    struct cap_set set;
    bool cached = stack_on_home(key) && cap_set(h, key, stride, &set);
    for (unsigned w = 0; cached && w < CAP_WAYS; w++)
        if (set.tags[w] == key && cap_same(set.entries + w * stride, key))
            return (uint32_t)set.entries[w * stride];
    uintptr_t pcs[STACK_CAPTURE_MAX], slots[STACK_CAPTURE_MAX];
    track_busy_set(true);
    unsigned n = stack_capture(pcs, depth, cached ? slots : NULL, key);
    uint32_t id = depot_put(pcs, n);
    track_busy_set(false);
    id |= n == 0 || stack_in_loader(pcs[0]) ? TRACK_RUNTIME : 0;
    if (cached && n && slots[0]) {
        unsigned w = cap_rotor++ % CAP_WAYS;
        uintptr_t *e = set.entries + w * stride;
        set.tags[w] = key;
        e[0] = (uintptr_t)n << 32 | id;
        for (unsigned i = 0; i < n; i++) {
            e[1 + 2 * i] = slots[i] - key;
            e[2 + 2 * i] = pcs[i];
        }
    }
    return id;
}
