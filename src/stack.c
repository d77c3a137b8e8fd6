/* stack.c: owns stack capture. libunwind's unw_backtrace (DWARF unwind tables, cached per
 * thread: full stacks on code built without frame pointers) is loaded with dlopen and
 * RTLD_LOCAL on the first capture, so its backtrace and _Unwind_* symbols never interpose on
 * the program's; without it, glibc's backtrace. Frames inside libzmm are cut off: a stack
 * starts at the function that called malloc. The caller holds the re-entry guard (loading
 * and unwinding may allocate). The pipe libunwind opens to check addresses is zmm's: fd.c
 * moves it up, out of the program's way. */
#include "stack.h"
#include "fd.h"
#include "libc.h"
#include "sys.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

struct text_range {
    uintptr_t lo, hi;
};

static int (*unwind)(void **buf, int size);
static atomic_int loaded;               /* 0 not tried, 1 tried */
static struct text_range self_text, loader_text;

static void widen(uintptr_t lo, uintptr_t hi, void *ctx)
{
    struct text_range *r = ctx;
    r->lo = lo < r->lo ? lo : r->lo;
    r->hi = hi > r->hi ? hi : r->hi;
}

/* The executable segments of the ELF object whose header is at EHDR. */
static struct text_range text_of(const void *ehdr)
{
    struct text_range r = { UINTPTR_MAX, 0 };
    libc_segments(ehdr, PF_X, widen, &r);
    return r;
}

static int glibc_backtrace(void **buf, int size)
{
    return backtrace(buf, size);
}

static void stack_load(void)
{
    self_text = text_of(&__ehdr_start);
    uintptr_t base = getauxval(AT_BASE);
    if (base)
        loader_text = text_of((const void *)base);
    void *lib = sys_dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    void *fn = lib ? dlsym(lib, "unw_backtrace") : NULL;
    if (fn)
        memcpy(&unwind, &fn, sizeof fn);    /* ISO C has no object-to-function cast */
    else
        unwind = glibc_backtrace;
    atomic_store_explicit(&loaded, 1, memory_order_release);
}

static bool in_range(const struct text_range *r, uintptr_t pc)
{
    return pc >= r->lo && pc < r->hi;
}

/* ---- finding the return-address slots --------------------------------------------- */

/* The calling thread's own stack: the mapping that holds its thread descriptor (glibc puts it
 * at the top of a thread's stack) or, in the main thread, the end of the stack the kernel set
 * up; found among the process's mappings on the thread's first capture. From a frame on it, every word up
 * to that anchor is mapped for as long as the thread lives. A frame elsewhere (a signal stack, a
 * coroutine's, which the program may unmap at any time) is never searched: its stacks are
 * unwound every time. */
extern void *__libc_stack_end;
static __thread struct text_range home __attribute__((tls_model("initial-exec")));
static __thread bool home_tried __attribute__((tls_model("initial-exec")));

/* The readable mapping holding AT. */
static bool mapping_of(uintptr_t at, struct text_range *r)
{
    struct libc_maps maps;
    struct libc_mapping m;
    bool found = false;
    if (!libc_maps_open(&maps))
        return false;
    while (!found && libc_maps_next(&maps, &m))
        found = at >= m.lo && at < m.hi && m.perms[0] == 'r';
    libc_maps_close(&maps);
    if (found)
        *r = (struct text_range){ m.lo, m.hi };
    return found;
}

bool stack_on_home(uintptr_t at)
{
    if (ZMM_UNLIKELY(!home_tried)) {
        home_tried = true;
        uintptr_t anchor = gettid() == getpid() ? (uintptr_t)__libc_stack_end : (uintptr_t)pthread_self();
        if (!mapping_of(anchor, &home))
            home = (struct text_range){ 0, 0 };
        else
            home.hi = anchor;           /* every frame lies below it, never in a neighbour */
    }
    return in_range(&home, at);
}

/* Where each of PCS[0..N) is stored on the thread's own stack, searching upward from FROM (on
 * it) in order: the return-address slots; false if not all are there, within SLOT_SEARCH
 * bytes of each other. */
#define SLOT_SEARCH ((uintptr_t)64 << 10)

static bool find_slots(const uintptr_t *pcs, unsigned n, uintptr_t from, uintptr_t *slots)
{
    uintptr_t p = align_up(from, sizeof(uintptr_t)), limit = p + SLOT_SEARCH;
    for (unsigned i = 0; i < n; i++) {
        for (;; p += sizeof(uintptr_t)) {
            if (p >= limit || p + sizeof(uintptr_t) > home.hi)
                return false;
            if (*(const uintptr_t *)p == pcs[i])
                break;
        }
        slots[i] = p;
        p += sizeof(uintptr_t);
        limit = p + SLOT_SEARCH;
    }
    return true;
}

unsigned stack_capture(uintptr_t *pcs, unsigned depth, uintptr_t *slots, uintptr_t from)
{
    if (!atomic_load_explicit(&loaded, memory_order_acquire))
        stack_load();
    void *buf[STACK_DEPTH_MAX + STACK_SKIP_MAX];
    fd_claim(true);                     /* libunwind's pipe (made on its first use) goes up */
    int n = unwind(buf, (int)(depth + STACK_SKIP_MAX));
    fd_claim(false);
    int first = 0;
    while (first < n && in_range(&self_text, (uintptr_t)buf[first]))
        first++;
    unsigned kept = 0;
    for (int i = first; i < n && kept < depth; i++)
        pcs[kept++] = (uintptr_t)buf[i];
    if (slots && !(stack_on_home(from) && find_slots(pcs, kept, from, slots)))
        slots[0] = 0;
    return kept;
}

bool stack_in_loader(uintptr_t pc)
{
    return in_range(&loader_text, pc);
}
