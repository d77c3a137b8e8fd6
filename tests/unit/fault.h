/* fault.h: a fault test for the white-box tests. out_fault writes one line "zmm: ..." on
 * stderr and aborts: expect_fault runs a function in a forked child whose stderr is a pipe,
 * and checks that the child was killed by SIGABRT after writing exactly that one line.
 * Include after unit.h. */
#ifndef ZMM_UNIT_FAULT_H
#define ZMM_UNIT_FAULT_H

#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the child did: its output (up to 1023 bytes) and how it ended. */
struct child_result {
    char out[1024];
    size_t len;
    int status;
};

/* FN(ARG) in a forked child with stderr to a pipe and no core file; the child _exits 0 if FN
 * returns. A child that neither ends nor faults within 10 seconds gets SIGALRM. */
static void run_child(void (*fn)(void *), void *arg, struct child_result *r)
{
    int fds[2];
    memset(r, 0, sizeof *r);
    r->status = -1;
    if (pipe(fds) != 0)
        return;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit none = { 0, 0 };
        setrlimit(RLIMIT_CORE, &none);
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        alarm(10);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    for (;;) {
        ssize_t n = read(fds[0], r->out + r->len, sizeof r->out - 1 - r->len);
        if (n <= 0)
            break;
        r->len += (size_t)n;
    }
    close(fds[0]);
    if (pid > 0)
        waitpid(pid, &r->status, 0);
}

/* FN(ARG) must stop the child with abort() after writing "zmm: " LINE "\n" and nothing else.
 * LINE is a printf format. */
#define EXPECT_FAULT(fn, arg, ...) expect_fault(__FILE__, __LINE__, fn, arg, __VA_ARGS__)

static __attribute__((format(printf, 5, 6))) void expect_fault(const char *file, int line, void (*fn)(void *),
                                                               void *arg, const char *fmt, ...)
{
    char want[1024];
    int k = snprintf(want, sizeof want, "zmm: ");
    va_list ap;
    va_start(ap, fmt);
    k += vsnprintf(want + k, sizeof want - (size_t)k, fmt, ap);
    va_end(ap);
    snprintf(want + k, sizeof want - (size_t)k, "\n");
    struct child_result r;
    run_child(fn, arg, &r);
    bool aborted = r.status != -1 && WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT;
    bool said = strcmp(r.out, want) == 0;
    if (!aborted || !said) {
        unit_failures++;
        fprintf(stderr, "%s:%d: check failed: fault expected\n  wanted: SIGABRT, %s", file, line, want);
        if (r.status == -1)
            fprintf(stderr, "  got: no child\n");
        else if (WIFSIGNALED(r.status))
            fprintf(stderr, "  got: signal %d, %s%s", WTERMSIG(r.status), r.len ? r.out : "(nothing)\n",
                    r.len && r.out[r.len - 1] != '\n' ? "\n" : "");
        else
            fprintf(stderr, "  got: exit %d, %s%s", WEXITSTATUS(r.status), r.len ? r.out : "(nothing)\n",
                    r.len && r.out[r.len - 1] != '\n' ? "\n" : "");
    }
}

#endif
