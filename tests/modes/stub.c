/* stub.c: stand-ins for libzmm.so that the modes canary (canary.py) gives run.py, each wrong in
 * one way that one check of run.py must catch. All but `nomalloc` export the malloc family,
 * forwarding to glibc's allocator, so that the binding check passes and the other checks are
 * the ones put to the proof:
 *   nomalloc  (STUB_NOMALLOC)  no malloc at all: the binding check must fail
 *   corrupt   (STUB_CORRUPT)   writes a line to stdout at exit: a mode that corrupts output
 *   badreport (STUB_BADREPORT) writes a report that is not JSON where ZMM_REPORT says
 *   deaf      (STUB_DEAF)      writes a well-formed exit report but never installs a handler
 *                              for ZMM_REQUEST_SIGNAL: no boundary can be sent
 *   numb      (STUB_NUMB)      installs the handler but counts no request: its exit report
 *                              says request 1 after boundaries were sent
 * A stub writes its report with write(2) from static buffers, like zmm. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int zmm_stub(void);
int zmm_stub(void) { return 1; }

#ifndef STUB_NOMALLOC
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

EXPORT void *malloc(size_t n) { return __libc_malloc(n); }
EXPORT void free(void *p) { __libc_free(p); }
EXPORT void *calloc(size_t n, size_t m) { return __libc_calloc(n, m); }
EXPORT void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
EXPORT void *memalign(size_t a, size_t n) { return __libc_memalign(a, n); }
EXPORT void *aligned_alloc(size_t a, size_t n) { return __libc_memalign(a, n); }
EXPORT void *valloc(size_t n) { return __libc_valloc(n); }
EXPORT void *pvalloc(size_t n) { return __libc_pvalloc(n); }
EXPORT int posix_memalign(void **p, size_t a, size_t n)
{
    void *q = __libc_memalign(a, n);
    if (!q)
        return 12;  /* ENOMEM */
    *p = q;
    return 0;
}
#endif

#if defined(STUB_BADREPORT) || defined(STUB_DEAF) || defined(STUB_NUMB)
/* The report file: ZMM_REPORT with %p replaced by the pid. */
static void write_report(const char *text)
{
    const char *spec = getenv("ZMM_REPORT");
    if (!spec)
        return;
    char path[1024];
    size_t n = 0;
    for (const char *s = spec; *s && n < sizeof path - 24; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            n += (size_t)snprintf(path + n, sizeof path - n, "%d", (int)getpid());
            s++;
        } else {
            path[n++] = *s;
        }
    }
    path[n] = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (write(fd, text, strlen(text)) < 0) {
        /* nothing to do */
    }
    close(fd);
}
#endif

#if defined(STUB_DEAF) || defined(STUB_NUMB)
static void good_report(void)
{
    static char buf[2048];
    char prog[512];
    ssize_t k = readlink("/proc/self/exe", prog, sizeof prog - 1);
    prog[k > 0 ? k : 0] = '\0';
    snprintf(buf, sizeof buf,
             "{\"zmm_report\": 1, \"pid\": %d, \"program\": \"%s\", \"trigger\": \"exit\", \"request\": 1, "
             "\"leaks\": [], \"summary\": {\"direct_bytes\": 0, \"direct_blocks\": 0, \"indirect_bytes\": 0, "
             "\"indirect_blocks\": 0, \"reachable_bytes\": 0, \"reachable_blocks\": 0, \"suppressed_bytes\": 0, "
             "\"suppressed_blocks\": 0}}\n", (int)getpid(), prog);
    write_report(buf);
}
#endif

#ifdef STUB_NUMB
static void ignore(int sig) { (void)sig; }
__attribute__((constructor)) static void numb_start(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ignore;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
}
#endif

__attribute__((destructor)) static void stub_exit(void)
{
#ifdef STUB_CORRUPT
    static const char line[] = "stub: this line is not the program's\n";
    if (write(1, line, sizeof line - 1) < 0) {
        /* nothing to do */
    }
#endif
#ifdef STUB_BADREPORT
    write_report("{\"zmm_report\": 1, \"pid\": this is not JSON\n");
#endif
#if defined(STUB_DEAF) || defined(STUB_NUMB)
    good_report();
#endif
}
