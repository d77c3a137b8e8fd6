/* fd.c: owns zmm's file descriptors. Every descriptor zmm keeps past the call that opened it
 * (the copy of stderr reports go to, the /dev/zero of ZMM_MEM_TYPE=mmap_zero, libunwind's
 * memory-check pipe, the files libdw keeps open between reports) is moved up, to fd_floor()
 * or above, close-on-exec: programs that dup2 onto low numbers, count their descriptors
 * (CPython's tests list every one below the limit) or open files never meet one. A program
 * may still close it (daemons close everything above 2) and open a file of its own under the
 * same number, so each is marked with its file (st_dev, st_ino) and checked again before zmm
 * writes to it or reads from it. */
#include "fd.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int floor_fd;                    /* 0 until computed */
static bool above_limit;                /* floor_fd is the soft RLIMIT_NOFILE: see fd_floor */
static __thread bool claiming __attribute__((tls_model("initial-exec")));

/* Where the program cannot reach, as valgrind does: at its soft RLIMIT_NOFILE, which the
 * program cannot open or dup2 past without raising it (zmm raises it for the moment of a
 * move). When the hard limit leaves no room above, the soft limit is lowered by 32 once and
 * zmm keeps the top 32 numbers (a program then gets EMFILE 32 descriptors earlier; its
 * children inherit the lower limit, and their zmm finds room above it). Limits past 65536 are
 * left alone, with zmm just under 65536: the kernel's table grows to the highest number in use
 * and fork copies it. A tiny limit gives its top half. */
int fd_floor(void)
{
    if (ZMM_UNLIKELY(!floor_fd)) {
        struct rlimit r;
        if (getrlimit(RLIMIT_NOFILE, &r) != 0)
            r.rlim_cur = r.rlim_max = 1024;
        int f;
        if (r.rlim_cur > 65536) {
            f = 65536 - 32;
        } else if (r.rlim_cur < 64) {
            f = (int)r.rlim_cur / 2;
        } else if (r.rlim_cur < r.rlim_max) {
            f = (int)r.rlim_cur;
            above_limit = true;
        } else {
            struct rlimit lower = { r.rlim_cur - 32, r.rlim_max };
            f = (int)lower.rlim_cur;
            above_limit = setrlimit(RLIMIT_NOFILE, &lower) == 0;
        }
        floor_fd = f < 10 ? 10 : f;
    }
    return floor_fd;
}

/* F_DUPFD_CLOEXEC at the floor or above; -1 when there is no room. */
static int dup_high(int fd)
{
    int floor = fd_floor();
    if (!above_limit)
        return fcntl(fd, F_DUPFD_CLOEXEC, floor);
    struct rlimit r, raised;
    if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur > (rlim_t)floor)
        return fcntl(fd, F_DUPFD_CLOEXEC, floor);   /* the program raised its own limit */
    raised = (struct rlimit){ r.rlim_max < (rlim_t)floor + 64 ? r.rlim_max : (rlim_t)floor + 64, r.rlim_max };
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0)
        return -1;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, floor);
    setrlimit(RLIMIT_NOFILE, &r);
    return high;
}

int fd_copy(int fd)
{
    int saved = errno;
    int high = fd < 0 ? -1 : dup_high(fd);
    errno = saved;
    return high;
}

int fd_move(int fd)
{
    if (fd < 0)
        return fd;
    int saved = errno;
    int high = fd >= fd_floor() ? -1 : dup_high(fd);
    if (high >= 0)
        close(fd);
    else
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    errno = saved;
    return high >= 0 ? high : fd;
}

void fd_mark(struct fd_mark *m, int fd)
{
    struct stat st;
    m->fd = fd >= 0 && fstat(fd, &st) == 0 ? fd : -1;
    m->dev = m->fd >= 0 ? st.st_dev : 0;
    m->ino = m->fd >= 0 ? st.st_ino : 0;
}

bool fd_valid(const struct fd_mark *m)
{
    struct stat st;
    int saved = errno;
    bool same = m->fd >= 0 && fstat(m->fd, &st) == 0 && st.st_dev == m->dev && st.st_ino == m->ino;
    errno = saved;
    return same;
}

bool fd_taken(const struct fd_mark *m)
{
    int saved = errno;
    bool taken = !fd_valid(m) && fcntl(m->fd, F_GETFD) != -1;
    errno = saved;
    return taken;
}

void fd_claim(bool on)
{
    claiming = on;
}

int fd_pipe2(int fds[2], int flags)
{
    int pair[2];
    long r = syscall(SYS_pipe2, pair, flags);
    if (r != 0)
        return -1;                      /* syscall set errno */
    if (ZMM_UNLIKELY(claiming)) {
        pair[0] = fd_move(pair[0]);
        pair[1] = fd_move(pair[1]);
    }
    fds[0] = pair[0];
    fds[1] = pair[1];
    return 0;
}
