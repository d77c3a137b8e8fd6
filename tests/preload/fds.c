/* fds: zmm's descriptors are never the program's (issue 13). One scenario per run; fds.sh
 * checks what the program and zmm wrote.
 *   daemon DATA     leaks a 4242-byte block, ends a request when zmm_request_end exists (its
 *                   report opens libdw's view of the process), then does what a daemon does:
 *                   closes every descriptor above 2, opens DATA and puts it under every number
 *                   from 3 to the soft RLIMIT_NOFILE (a program that uses all it may), writes
 *                   "data 1\n", allocates (libunwind works on), leaks a 2424-byte block, ends
 *                   a request again, writes "data 2\n" and exits. DATA must then hold exactly
 *                   the program's two lines; zmm's reports go to stderr.
 *   count           allocates, ends a request (stacks captured, a report written), then prints
 *                   every open descriptor below 256 but 0, 1, 2 and the one listing them:
 *                   "zmm fds below 256: ..." ("none" when there are none).
 *   zero DATA       (ZMM_MEM_TYPE=mmap_zero) closes every descriptor above 2, puts DATA (full
 *                   of 'x') under every number as above, then maps new memory: 8 chunks' worth
 *                   of calloc'ed and malloc'ed blocks must read as zeros, never as DATA. */
#include "zmm_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>

static void *volatile sink;

__attribute__((noinline)) static void leak(size_t n)
{
    char *p = malloc(n); /* the block's only pointer dies with this frame */
    memset(p, 1, n);
    sink = NULL;
}

static unsigned request_end(void)
{
    unsigned (*end)(void);
    *(void **)&end = dlsym(RTLD_DEFAULT, "zmm_request_end");
    return end ? end() : 0;
}

/* Every descriptor above 2 closed; FILE opened and put under every number from 3 up to the
 * soft limit (at most 4096). Returns the first of them. */
static int take_every_number(const char *file, int flags)
{
    struct rlimit r;
    int top = getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < 4096 ? (int)r.rlim_cur : 4096;
    for (int fd = 3; fd < top; fd++)
        close(fd);
    int fd = open(file, flags, 0644);
    if (fd < 0)
        FATAL("open %s", file);
    for (int n = fd + 1; n < top; n++)
        if (dup2(fd, n) != n)
            FATAL("dup2 %d", n);
    return fd;
}

static void churn(void)
{
    void *p[200];
    for (int i = 0; i < 200; i++)
        p[i] = malloc((size_t)(i * 37 % 5000) + 1);
    for (int i = 0; i < 200; i++)
        free(p[i]);
}

int main(int argc, char **argv)
{
    require_zmm();
    const char *what = argc > 1 ? argv[1] : "count";
    if (!strcmp(what, "daemon") && argc > 2) {
        leak(4242);
        churn();
        request_end();
        int fd = take_every_number(argv[2], O_WRONLY | O_CREAT | O_TRUNC);
        CHECK(write(fd, "data 1\n", 7) == 7, "write");
        churn();
        leak(2424);
        request_end();
        CHECK(write(fd, "data 2\n", 7) == 7, "write");
    } else if (!strcmp(what, "count")) {
        churn();
        leak(100);
        request_end();
        churn();
        DIR *d = opendir("/proc/self/fd");
        CHECK(d != NULL, "opendir");
        char list[4096] = "";
        size_t len = 0;
        for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
            int fd = atoi(e->d_name);
            if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d) || fd >= 256)
                continue;
            len += (size_t)snprintf(list + len, sizeof list - len, " %d", fd);
            if (len >= sizeof list)
                break;
        }
        if (d)
            closedir(d);
        printf("zmm fds below 256:%s\n", len ? list : " none");
    } else if (!strcmp(what, "zero") && argc > 2) {
        int fd = take_every_number(argv[2], O_RDONLY);
        int zeros = 1;
        for (int i = 0; i < 64; i++) {
            size_t n = (size_t)256 << 10;
            unsigned char *c = calloc(1, n), *m = malloc(n), *h = calloc(1, (size_t)3 << 20);
            CHECK(c && m && h, "allocation %d", i);
            for (size_t k = 0; c && h && k < n; k += 512)
                zeros &= !c[k] && !h[k] && !h[n + k];
            sink = m;
        }
        CHECK(zeros, "new memory reads as zeros, not as the program's file");
        close(fd);
    } else {
        FATAL("usage: fds daemon DATA | count | zero DATA");
    }
    return test_result();
}
