/* process.c: owns the process's life under zmm. Start-up reads the options once and
 * configures every layer, from the floor up, on the first allocation call (which may come
 * before the library's constructor) and sets the mode the allocation paths read: ZMM_ALLOC=0
 * leaves heap_tls NULL so that every call goes to the system; tracking and ZMM_DEBUG leave it
 * NULL so that every call takes the checked path. A fork child resets the locks and is a
 * request boundary. Exit writes the statistics, checks the heap and writes the leak report.
 * alloc.c and posix.c, above it, start it through process_ready(). */
#include "process.h"
#include "capture.h"
#include "checked.h"
#include "chunk.h"
#include "debug.h"
#include "depot.h"
#include "heap.h"
#include "huge.h"
#include "limit.h"
#include "options.h"
#include "os.h"
#include "out.h"
#include "registry.h"
#include "report.h"
#include "request.h"
#include "stats.h"
#include "sys.h"
#include "track.h"
#include "verify.h"
#include "world.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

struct process_mode process_mode;
atomic_int process_state;

/* Fork: nothing is locked before it. glibc takes its stdio lock after the prepare handlers,
 * and a thread holding that lock may be in malloc: a zmm lock held across fork would deadlock
 * them (jemalloc and tcmalloc hang there). The child resets the locks, sets the other threads'
 * heaps aside and starts the request thread again when it is needed. */
static void process_fork_child(void)
{
    registry_after_fork();
    chunk_after_fork();
    huge_after_fork();
    heap_after_fork();
    depot_after_fork();
    request_after_fork();
    if (process_mode.tracking)
        track_forked();
}

ZMM_COLD void process_boot(void)
{
    int expect = 0;
    if (!atomic_compare_exchange_strong(&process_state, &expect, 1)) {
        while (atomic_load_explicit(&process_state, memory_order_acquire) != 2)
            sched_yield();
        return;
    }
    options_load(environ);
    sys_init();
    os_configure((enum mem_type)zmm_opt.mem_type, zmm_opt.huge_pages, zmm_opt.fail_map.first,
                 zmm_opt.fail_map.last);
    chunk_configure(zmm_opt.compact);
    world_configure((unsigned)zmm_opt.world);
    limit_set(zmm_opt.memory_limit);
    struct process_mode m = { .system_only = !zmm_opt.alloc };
    m.stacks = zmm_opt.leaks != LEAKS_OFF || zmm_opt.request_retained;
    m.tracking = !m.system_only && (m.stacks || zmm_opt.request_reclaim || zmm_opt.request_limit != OPT_UNSET) &&
                 options_selects_program(zmm_opt.only.s);
    if (m.tracking) {
        sys_one_arena();
        capture_configure((unsigned)zmm_opt.stack_depth);
        scan_enable();
        report_configure(zmm_opt.report.s, zmm_opt.report_format == FORMAT_JSON, zmm_opt.suppressions.s,
                         zmm_opt.leaks == LEAKS_REACHABLE);
        request_configure(m.stacks, zmm_opt.request_retained, zmm_opt.request_reclaim,
                          zmm_opt.request_limit, checked_reclaim);
    }
    debug_configure(zmm_opt.debug.poison_alloc, zmm_opt.debug.poison_free, zmm_opt.debug.padding,
                    zmm_opt.debug.check_on_exit);
    m.checked = m.tracking || (!m.system_only && debug_opts.on);
    checked_configure(m.tracking, m.stacks);
    heap_init(!m.checked);
    process_mode = m;
    atomic_store_explicit(&process_state, 2, memory_order_release);
    pthread_atfork(NULL, NULL, process_fork_child);   /* may allocate: after start-up */
}

void zmm_start(void)
{
    process_ready();
    if (zmm_opt.stats || process_mode.tracking)
        out_keep_stderr();
    /* A variable that names a signal always installs its handler: a boundary with nothing
     * to report still counts the request. */
    request_start((int)zmm_opt.request_signal);
}

/* ZMM_DEBUG=check_on_exit: a fault stops the process with its line; silent on success, but
 * for the statistics. */
static void check_at_exit(void)
{
    struct verify_counts c;
    verify_heaps(&c);
    if (!zmm_opt.stats)
        return;
    struct out o;
    out_open(&o, out_report_fd());
    out_printf(&o, "zmm: ZMM_DEBUG: heap check at exit: %zu heap(s), %zu chunk(s), %zu free block(s), "
                   "%zu freed by other threads: no fault\n", c.heaps, c.chunks, c.free_blocks, c.remote_blocks);
    out_flush(&o);
}

void zmm_exit(void)
{
    if (zmm_opt.stats)
        stats_write(out_report_fd(), "at exit");
    if (process_mode.checked && debug_opts.check_on_exit)
        check_at_exit();
    if (!process_mode.tracking)
        return;
    request_flush();
    if (zmm_opt.leaks == LEAKS_OFF)
        return;
    /* A fork child reports what it allocated itself: the blocks born before the fork are the
     * parent's (and its report's), and roots here where the child has written them. */
    struct report_opts ro = { .when = "at exit", .trigger = "exit", .at_exit = true,
                              .request = atomic_load(&track_request), .first = track_born,
                              .last = track_born ? UINT32_MAX : 0, .born = track_born };
    if (report_leaks(&ro, NULL) && zmm_opt.leak_exitcode != OPT_UNSET) {
        /* ZMM_LEAK_EXITCODE: the status replaces the program's; its output is flushed
         * first, as exit would have done after this destructor. */
        fflush(NULL);
        _exit((int)zmm_opt.leak_exitcode);
    }
}

uint32_t zmm_request_next(const char *trigger)
{
    process_ready();
    return request_next(trigger);
}

const char *zmm_engine_version(void) { return ZMM_VERSION; }
size_t zmm_usage_bytes(void) { return stats_in_use(); }
size_t zmm_peak_bytes(void) { return limit_peak(); }
void zmm_stats_to(int fd) { stats_write(fd, "on request"); }

int zmm_limit_bytes(size_t bytes)
{
    process_ready();
    limit_set(bytes);
    return 0;
}
