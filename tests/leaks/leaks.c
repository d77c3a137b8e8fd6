/* leaks.c: `leaks SCENARIO [STATUS]`, a program with known leaks for the 'leaks' suite.
 *
 * check.py runs it under LD_PRELOAD=libzmm.so with ZMM_LEAKS=1 and compares zmm's report with what
 * this file says. Every call the checker expects in a stack sits alone on a line marked with a
 * comment `@NAME`; check.py reads the line numbers from the markers, so nothing is hard-coded there.
 *
 * The build (meson.build) uses -O2 -fomit-frame-pointer: stacks must be unwound from the unwind
 * tables, as in most distribution binaries. Each function of a stack is noipa (no inlining, no
 * cloning into foo.constprop.0, no merging of identical bodies), and KEEP(p) after each marked call
 * uses its result, so no marked call is a tail call that would drop a frame.
 *
 * Each scenario writes "SCENARIO done" on stdout and exits with STATUS (default 0). It writes with
 * write(2), not stdio: stdout's buffer would be one more block of the C runtime in every report of
 * reachable blocks, and only the `runtime` scenario is about those. Sizes are all different, so
 * the report's order (by bytes, descending) has no ties.
 *
 *   none       allocates and frees, leaks nothing
 *   chain      main -> level1 -> level2 -> level3 -> malloc(1000)
 *   library    main -> zmmleak_make -> zmmleak_inner -> malloc(777), in libzmmleak.so
 *   thread     a joined thread: thread_main -> thread_leaf -> malloc(555)
 *   loop       loop_leaker: 10 x malloc(40) from one stack: one group of 10 objects
 *   global     300 and 100 bytes kept in globals (allocated by kept_alloc, called from two lines),
 *              200 freed, 16 leaked (marker_leak)
 *   interior   interior pointers in globals keep a small (64), a large (100000) and a huge (3 MiB)
 *              block; 24 leaked
 *   kept       global and interior together, without a leak: blocks reachable at exit only
 *   tree       a leaked 32-byte node -> 100 and 200 bytes, the 200 -> 64: 1 direct, 3 indirect
 *   deadlocal  512 bytes whose only pointer is in a stack slot of main (a volatile local) when
 *              main returns: the frames below exit's caller are dead, no roots
 *   family     calloc 10x12, realloc to 300, posix_memalign 100, aligned_alloc 512, strdup 11
 *   deep       30 recursive calls, then malloc(88)
 *   mixed      chain + library + loop (the suppression tests)
 *   runtime    stdio (stdout's buffer), threads with TLS, dlopen of libm: what the C runtime keeps
 *              for itself, never reported, not even as reachable; 8 leaked
 *   live       a thread still running at exit keeps 2000 bytes in a stack slot and 3000 through a
 *              _Thread_local variable (TLS); 8 leaked
 *   busy       two threads still allocating and freeing at exit, their blocks held on their
 *              stacks: the report must come, and name only the 48 bytes main leaked
 *   closed     closes stderr and opens /dev/null, which takes fd 2, then leaks 32: the report
 *              must still reach the stderr the program started with
 *   fork       the parent leaks 333 and keeps a holder block, then forks; the child (a fork
 *              is a boundary: its report covers what it allocated) leaks 111, keeps 444 in
 *              the parent's holder and 555 in a global, and exits; the parent leaks 222 after
 *              waiting for it. The child reports only its 111, the parent 222 and 333
 *   stacks     allocations on stacks other than the thread's own, and through two call paths at
 *              one depth, which the stack cache must tell apart. A signal handler running on an
 *              mmap'ed sigaltstack leaks 1300 (main raises the signal, outside malloc): the
 *              slot search for the frames past the signal frame strays off the signal stack,
 *              into the PROT_NONE page just above it. ucontext coroutines leak 1200 on a stack
 *              that is a malloc'ed block (in zmm's heap) and 1100 on an mmap'ed stack with a
 *              PROT_NONE page just above and below it. The signal's and the coroutines' leaf
 *              allocates and frees 20 blocks from the same call site before the one it leaks
 *              (on the coroutine stacks, those after the first come from the cache). Then
 *              path_leak is reached 500 times each, alternately, from path_a and path_b (same
 *              frame sizes: the same depth, the same cache key), all but the last block of each
 *              freed: 900 leaked through path_a, 800 through path_b. The stacks are unmapped or
 *              freed before exit (a mapping of the program is a root of the scan: stale
 *              pointers left in it would keep the blocks reachable).
 *   stacks-remap  stacks whose mappings change under the stack cache, then 56 leaked: a
 *              coroutine runs on a guarded mapping, which then gets a PROT_NONE page in its
 *              middle and becomes the sigaltstack below it (what was learnt of the mapping is
 *              stale: the slot search strays into the new guard page); then a handler on a
 *              sigaltstack interrupts a coroutine whose stack is a separate mapping just above
 *              it, that stack is unmapped, and the handler runs again at the same depth (a
 *              cached stack remembers slots on the unmapped stack)
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "keep.h"
#include "leaklib.h"

/* ---- chain ---- */
NOIPA static void *level3(size_t n)
{
    void *p = malloc(n); /* @chain-3 */
    KEEP(p);
    return p;
}

NOIPA static void *level2(size_t n)
{
    void *p = level3(n); /* @chain-2 */
    KEEP(p);
    return p;
}

NOIPA static void *level1(size_t n)
{
    void *p = level2(n); /* @chain-1 */
    KEEP(p);
    return p;
}

/* ---- thread ---- */
NOIPA static void *thread_leaf(size_t n)
{
    void *p = malloc(n); /* @thread-leaf */
    KEEP(p);
    return p;
}

NOIPA static void *thread_main(void *arg)
{
    void *p = thread_leaf(555); /* @thread-main */
    KEEP(p);
    /* some traffic that is freed */
    for (int i = 0; i < 100; i++) {
        void *q = malloc((size_t)(16 + i * 8));
        KEEP(q);
        free(q);
    }
    return arg;
}

/* ---- loop ---- */
NOIPA static void loop_leaker(int count, size_t n)
{
    for (int i = 0; i < count; i++) {
        void *p = malloc(n); /* @loop */
        KEEP(p);
    }
}

/* ---- global, interior: blocks kept reachable through globals ---- */
void *volatile g_kept;
void *volatile g_kept_too;
char *volatile g_interior_small;
char *volatile g_interior_large;
char *volatile g_interior_huge;

NOIPA static void *marker_leak(size_t n)
{
    void *p = malloc(n); /* @marker */
    KEEP(p);
    return p;
}

NOIPA static void *kept_alloc(size_t n)
{
    void *p = malloc(n); /* @global-alloc */
    KEEP(p);
    return p;
}

NOIPA static void keep_global(void)
{
    g_kept = kept_alloc(300); /* @global-kept */
    g_kept_too = kept_alloc(100); /* @global-kept-too */
    void *p = malloc(200);
    KEEP(p);
    free(p);
}

NOIPA static void keep_interior(void)
{
    char *s = malloc(64); /* @interior-small */
    KEEP(s);
    char *l = malloc(100000); /* @interior-large */
    KEEP(l);
    char *h = malloc((size_t)3 << 20); /* @interior-huge */
    KEEP(h);
    g_interior_small = s + 40;
    g_interior_large = l + 50000;
    g_interior_huge = h + ((size_t)1 << 20);
}

/* ---- tree: direct and indirect ---- */
struct node {
    void *a;
    void *b;
    char pad[16];
};

NOIPA static struct node *make_tree(void)
{
    struct node *n = malloc(sizeof *n); /* @tree-node */
    KEEP(n);
    n->a = malloc(100); /* @tree-a */
    KEEP(n->a);
    void **b = malloc(200); /* @tree-b */
    KEEP(b);
    b[0] = malloc(64); /* @tree-c */
    KEEP(b[0]);
    n->b = b;
    KEEP(n);
    return n;
}

/* ---- deadlocal ---- */
NOIPA static void *dead_alloc(size_t n)
{
    void *p = malloc(n); /* @dead */
    KEEP(p);
    return p;
}

/* ---- family ---- */
NOIPA static void leak_family(void)
{
    void *c = calloc(10, 12); /* @family-calloc */
    KEEP(c);
    void *r = malloc(10);
    KEEP(r);
    r = realloc(r, 300); /* @family-realloc */
    KEEP(r);
    void *m = NULL;
    if (posix_memalign(&m, 64, 100) != 0) /* @family-memalign */
        abort();
    KEEP(m);
    void *a = aligned_alloc(256, 512); /* @family-aligned */
    KEEP(a);
    char *s = strdup("hello, zmm"); /* @family-strdup */
    KEEP(s);
}

/* ---- deep ---- */
NOIPA static void *recurse(int depth, size_t n)
{
    void *p;
    if (depth == 0)
        p = malloc(n); /* @deep-malloc */
    else
        p = recurse(depth - 1, n); /* @deep-call */
    KEEP(p);
    return p;
}

/* ---- runtime ---- */
/* volatile and not static: gcc drops the stores to a static variable that is never read */
_Thread_local volatile char tls_bytes[256];

static void *runtime_thread(void *arg)
{
    tls_bytes[0] = (char)(size_t)arg;
    char buf[64];
    snprintf(buf, sizeof buf, "thread %d", (int)tls_bytes[0]);
    KEEP(buf);
    return NULL;
}

static void say(const char *what, const char *text);

NOIPA static void runtime(void)
{
    for (int i = 0; i < 4; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, runtime_thread, (void *)(size_t)i) != 0 || pthread_join(t, NULL) != 0)
            abort();
    }
    void *m = dlopen("libm.so.6", RTLD_NOW);
    if (m == NULL)
        abort();
    double (*cosine)(double);
    *(void **)&cosine = dlsym(m, "cos");
    if (cosine == NULL)
        abort();
    char text[64];   /* not printf: stdout's buffer would be listed as reachable, rightly */
    snprintf(text, sizeof text, "%g", cosine(0.0));
    say("cos(0) = ", text);
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        abort();
    char line[256];
    if (fgets(line, sizeof line, f) == NULL)
        abort();
    fclose(f);
}

/* ---- live ---- */
static int live_pipe[2];
_Thread_local void *volatile live_tls;  /* volatile, not static: the store must happen */

NOIPA static void *live_alloc(size_t n)
{
    void *p = malloc(n); /* @live-alloc */
    KEEP(p);
    return p;
}

NOIPA static void *live_thread(void *arg)
{
    void *volatile on_stack = live_alloc(2000); /* @live-stack */
    live_tls = live_alloc(3000); /* @live-tls */
    KEEP(live_tls);
    char c = 1;
    if (write(live_pipe[1], &c, 1) != 1)
        abort();
    for (;;)
        pause();
    KEEP(on_stack);
    return arg;
}

NOIPA static void start_live(void)
{
    pthread_t t;
    char c;
    if (pipe(live_pipe) != 0 || pthread_create(&t, NULL, live_thread, NULL) != 0)
        abort();
    if (read(live_pipe[0], &c, 1) != 1)
        abort();
}

/* ---- busy ---- */
static _Atomic unsigned long busy_rounds;

static void *busy_thread(void *arg)
{
    unsigned x = (unsigned)(size_t)arg;
    void *held[8] = { NULL };
    for (;;) {
        x = x * 1103515245u + 12345u;
        size_t i = (x >> 8) % 8;
        free(held[i]);
        held[i] = malloc(16 + (x >> 12) % 5000);
        KEEP(held[i]);
        busy_rounds++;
    }
    return NULL;
}

NOIPA static void start_busy(void)
{
    for (size_t i = 0; i < 2; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, busy_thread, (void *)(i + 1)) != 0)
            abort();
    }
    while (busy_rounds < 20000)
        sched_yield();
}

/* ---- fork ---- */
NOIPA static void *child_leak(size_t n)
{
    void *p = malloc(n); /* @fork-child */
    KEEP(p);
    return p;
}

NOIPA static void *parent_leak(size_t n)
{
    void *p = malloc(n); /* @fork-parent */
    KEEP(p);
    return p;
}

NOIPA static void *parent_early_leak(size_t n)
{
    void *p = malloc(n); /* @fork-parent-early */
    KEEP(p);
    return p;
}

static void **fork_holder;              /* born in the parent, written by the child */
static void *volatile fork_global;      /* written by the child */

/* ---- stacks ---- */
#define STACKS_SIZE ((size_t)128 << 10)     /* each stack: plenty for malloc and the unwinder */
#define STACKS_WARMUP 20                    /* blocks a leaf frees before the one it leaks */

/* STACKS_SIZE bytes of mmap'ed memory with a PROT_NONE page just below and just above: a read
 * that strays past either end faults. */
static char *guarded_stack(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, STACKS_SIZE + 2 * page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (m == MAP_FAILED || mprotect(m, page, PROT_NONE) != 0 ||
        mprotect(m + page + STACKS_SIZE, page, PROT_NONE) != 0)
        abort();
    return m + page;
}

static void guarded_unmap(char *stack)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (munmap(stack - page, STACKS_SIZE + 2 * page) != 0)
        abort();
}

/* the signal handler, on the sigaltstack */
NOIPA static void *signal_leak(size_t n)
{
    void *p = NULL;
    for (int i = 0; i <= STACKS_WARMUP; i++) {
        free(p);
        p = malloc(n); /* @stacks-signal-leak */
        KEEP(p);
    }
    return p;
}

NOIPA static void stacks_handler(int sig)
{
    void *p = signal_leak(1300); /* @stacks-handler */
    KEEP(p);
    KEEP(sig);
}

NOIPA static void stacks_signal(void)
{
    char *alt = guarded_stack();
    stack_t ss = { .ss_sp = alt, .ss_size = STACKS_SIZE, .ss_flags = 0 };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stacks_handler;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGUSR1, &sa, NULL) != 0)
        abort();
    if (raise(SIGUSR1) != 0) /* @stacks-raise */
        abort();
    stack_t off = { .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
    if (sigaltstack(&off, NULL) != 0)
        abort();
    guarded_unmap(alt);
}

/* coroutines: the body runs on its own stack and returns to co_caller through uc_link */
static ucontext_t co_caller, co_callee;

NOIPA static void *co_leak(size_t n)
{
    void *p = NULL;
    for (int i = 0; i <= STACKS_WARMUP; i++) {
        free(p);
        p = malloc(n); /* @stacks-co-leak */
        KEEP(p);
    }
    return p;
}

NOIPA static void co_heap_body(void)
{
    void *p = co_leak(1200); /* @stacks-co-heap */
    KEEP(p);
}

NOIPA static void co_mapped_body(void)
{
    void *p = co_leak(1100); /* @stacks-co-mapped */
    KEEP(p);
}

NOIPA static void co_run(void (*body)(void), char *stack)
{
    if (getcontext(&co_callee) != 0)
        abort();
    co_callee.uc_stack.ss_sp = stack;
    co_callee.uc_stack.ss_size = STACKS_SIZE;
    co_callee.uc_link = &co_caller;
    makecontext(&co_callee, body, 0);
    if (swapcontext(&co_caller, &co_callee) != 0)
        abort();
}

NOIPA static void stacks_coroutines(void)
{
    char *heap_stack = malloc(STACKS_SIZE);
    if (heap_stack == NULL)
        abort();
    co_run(co_heap_body, heap_stack);
    free(heap_stack);
    char *mapped = guarded_stack();
    co_run(co_mapped_body, mapped);
    guarded_unmap(mapped);
    memset(&co_caller, 0, sizeof co_caller);
    memset(&co_callee, 0, sizeof co_callee);
}

/* one leaf, two callers with the same frame size: the same depth, two stacks */
NOIPA static void *path_leak(size_t n)
{
    void *p = malloc(n); /* @stacks-path-leak */
    KEEP(p);
    return p;
}

NOIPA static void *path_a(size_t n)
{
    void *p = path_leak(n); /* @stacks-path-a */
    KEEP(p);
    return p;
}

NOIPA static void *path_b(size_t n)
{
    void *p = path_leak(n); /* @stacks-path-b */
    KEEP(p);
    return p;
}

NOIPA static void stacks_alternate(int rounds)
{
    void *a = NULL, *b = NULL;
    for (int i = 0; i < rounds; i++) {
        free(a);
        a = path_a(900); /* @stacks-alternate-a */
        KEEP(a);
        free(b);
        b = path_b(800); /* @stacks-alternate-b */
        KEEP(b);
    }
}

/* ---- stacks-remap ---- */
NOIPA static void remap_free(void)
{
    void *p = malloc(40);
    KEEP(p);
    free(p);
}

NOIPA static void remap_handler(int sig)
{
    remap_free();
    KEEP(sig);
}

NOIPA static void remap_raise(void)
{
    if (raise(SIGUSR2) != 0)
        abort();
}

static void remap_altstack(char *lo, size_t size)
{
    stack_t ss = { .ss_sp = lo, .ss_size = size, .ss_flags = size ? 0 : SS_DISABLE };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = remap_handler;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGUSR2, &sa, NULL) != 0)
        abort();
}

NOIPA static void stacks_remap(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    remap_free();                               /* the thread's heap and cache exist */
    /* a mapping seen whole, then split by a PROT_NONE page */
    char *whole = guarded_stack();
    co_run(remap_free, whole);
    if (mprotect(whole + STACKS_SIZE / 2, page, PROT_NONE) != 0)
        abort();
    remap_altstack(whole, STACKS_SIZE / 2);
    remap_raise();
    remap_altstack(NULL, 0);
    guarded_unmap(whole);
    /* slots remembered on a stack that is then unmapped: the signal stack (64 KiB) and, just
     * above it, a coroutine's (32 KiB, MAP_NORESERVE: a mapping of its own, not merged) */
    size_t alt_size = (size_t)64 << 10, co_size = (size_t)32 << 10;
    char *alt = mmap(NULL, alt_size + co_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (alt == MAP_FAILED ||
        mmap(alt + alt_size, co_size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
        abort();
    remap_altstack(alt, alt_size);
    if (getcontext(&co_callee) != 0)
        abort();
    co_callee.uc_stack.ss_sp = alt + alt_size;
    co_callee.uc_stack.ss_size = co_size;
    co_callee.uc_link = &co_caller;
    makecontext(&co_callee, remap_raise, 0);
    if (swapcontext(&co_caller, &co_callee) != 0)
        abort();
    if (munmap(alt + alt_size, co_size) != 0)
        abort();
    remap_raise();
    remap_altstack(NULL, 0);
    if (munmap(alt, alt_size) != 0)
        abort();
}

/* "TEXT\n" on stdout without stdio (no buffer allocated) */
static void say(const char *what, const char *text)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s%s\n", what, text);
    if (n < 0 || (size_t)n >= sizeof buf || write(1, buf, (size_t)n) != n)
        abort();
}

/* ---- none ---- */
NOIPA static void no_leak(void)
{
    void *blocks[64];
    for (int i = 0; i < 64; i++) {
        blocks[i] = malloc((size_t)1 << (i % 22));
        KEEP(blocks[i]);
    }
    for (int i = 0; i < 64; i++)
        free(blocks[i]);
    char *s = strdup("freed");
    KEEP(s);
    free(s);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: leaks SCENARIO [STATUS]\n");
        return 2;
    }
    const char *what = argv[1];
    int status = argc > 2 ? atoi(argv[2]) : 0;
    void *p = NULL;

    if (strcmp(what, "none") == 0) {
        no_leak();
    } else if (strcmp(what, "chain") == 0) {
        p = level1(1000); /* @main-chain */
    } else if (strcmp(what, "library") == 0) {
        p = zmmleak_make(777); /* @main-library */
    } else if (strcmp(what, "thread") == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, thread_main, NULL) != 0 || pthread_join(t, NULL) != 0)
            abort();
    } else if (strcmp(what, "loop") == 0) {
        loop_leaker(10, 40); /* @main-loop */
    } else if (strcmp(what, "global") == 0) {
        keep_global(); /* @main-global */
        p = marker_leak(16); /* @main-global-marker */
    } else if (strcmp(what, "interior") == 0) {
        keep_interior(); /* @main-interior */
        p = marker_leak(24); /* @main-interior-marker */
    } else if (strcmp(what, "kept") == 0) {
        keep_global(); /* @main-kept-global */
        keep_interior(); /* @main-kept-interior */
    } else if (strcmp(what, "tree") == 0) {
        p = make_tree(); /* @main-tree */
    } else if (strcmp(what, "deadlocal") == 0) {
        /* the slot is in main's frame, which is dead once main has returned into exit */
        void *volatile slot = dead_alloc(512); /* @main-deadlocal */
        if (slot == NULL)
            abort();
        say(what, " done");
        return status;
    } else if (strcmp(what, "family") == 0) {
        leak_family(); /* @main-family */
    } else if (strcmp(what, "deep") == 0) {
        p = recurse(30, 88); /* @main-deep */
    } else if (strcmp(what, "mixed") == 0) {
        p = level1(1000); /* @main-mixed-chain */
        KEEP(p);
        p = zmmleak_make(777); /* @main-mixed-library */
        KEEP(p);
        loop_leaker(10, 40); /* @main-mixed-loop */
    } else if (strcmp(what, "runtime") == 0) {
        runtime();
        p = marker_leak(8); /* @main-runtime-marker */
    } else if (strcmp(what, "live") == 0) {
        start_live();
        p = marker_leak(8); /* @main-live-marker */
    } else if (strcmp(what, "busy") == 0) {
        start_busy();
        p = marker_leak(48); /* @main-busy-marker */
    } else if (strcmp(what, "closed") == 0) {
        /* as coreutils do at exit: stderr closed, and here fd 2 reused by another file */
        fclose(stderr);
        if (open("/dev/null", O_WRONLY) != 2)
            abort();
        p = marker_leak(32); /* @main-closed-marker */
    } else if (strcmp(what, "fork") == 0) {
        p = parent_early_leak(333); /* @main-fork-parent-early */
        KEEP(p);
        p = NULL;
        fork_holder = calloc(64, sizeof *fork_holder);
        pid_t child = fork();
        if (child < 0)
            abort();
        if (child == 0) {
            fork_holder[17] = child_leak(444);
            fork_global = child_leak(555);
            p = child_leak(111); /* @main-fork-child */
            KEEP(p);
            exit(0);
        }
        int ws;
        if (waitpid(child, &ws, 0) != child || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
            abort();
        p = parent_leak(222); /* @main-fork-parent */
        char pid[32];
        snprintf(pid, sizeof pid, "%d", (int)child);
        say("child ", pid);
    } else if (strcmp(what, "stacks") == 0) {
        stacks_signal(); /* @main-stacks-signal */
        stacks_coroutines(); /* @main-stacks-coroutines */
        stacks_alternate(500); /* @main-stacks-alternate */
    } else if (strcmp(what, "stacks-remap") == 0) {
        stacks_remap();
        p = marker_leak(56); /* @main-stacks-remap-marker */
    } else {
        fprintf(stderr, "leaks: unknown scenario %s\n", what);
        return 2;
    }
    KEEP(p);
    p = NULL;
    KEEP(p);
    say(what, " done");
    return status;
}
