/* task.c: owns reading /proc/self/task: which threads the process has and what the kernel
 * says of each (whether it has exited, its stack pointer in a system call, its blocked
 * signals). The directory is open only between task_open and task_close (while world.c stops
 * the world). Everything but task_blocks_signal makes raw system calls only (no errno, no
 * TLS): world.c's tracer, which shares the scanner's TLS, calls it. */
#include "task.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

static int task_dir = -1;

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

bool task_open(void)
{
    task_dir = (int)libc_sys(SYS_openat, AT_FDCWD, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    return task_dir >= 0;
}

void task_close(void)
{
    if (task_dir >= 0)
        libc_sys(SYS_close, task_dir, 0, 0, 0);
    task_dir = -1;
}

RAW_SAFE long task_list(pid_t self, long (*fn)(pid_t tid, void *ctx), void *ctx)
{
    char buf[2048];
    long n, ret = 0;
    if (libc_sys(SYS_lseek, task_dir, 0, SEEK_SET, 0) < 0)
        return -EBADF;
    while ((n = libc_sys(SYS_getdents64, task_dir, buf, sizeof buf, 0)) > 0) {
        for (long off = 0; off < n;) {
            const struct linux_dirent64 *d = (const void *)(buf + off);
            off += d->d_reclen;
            const char *name = d->d_name;
            uint64_t tid;
            if (!libc_parse_dec(&name, INT32_MAX, &tid) || tid == 0 || (pid_t)tid == self)
                continue;               /* "." and ".." */
            long r = fn((pid_t)tid, ctx);
            if (r < 0)
                return r;
        }
    }
    return n < 0 ? n : ret;
}

/* The text of /proc/self/task/TID/NAME in BUF; its length, or a negative errno. */
RAW_SAFE static long task_read(pid_t tid, const char *name, char *buf, size_t size)
{
    char path[32], digits[12];
    size_t len = 0, d = 0;
    for (unsigned v = (unsigned)tid; d == 0 || v; v /= 10)
        digits[d++] = (char)('0' + v % 10);
    while (d)
        path[len++] = digits[--d];
    path[len++] = '/';
    for (; *name && len < sizeof path - 1; name++)
        path[len++] = *name;
    path[len] = '\0';
    long fd = libc_sys(SYS_openat, task_dir, path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return fd;
    long n = libc_sys(SYS_read, fd, buf, size - 1, 0);
    libc_sys(SYS_close, fd, 0, 0, 0);
    if (n < 0)
        return n;
    buf[n] = '\0';
    return n;
}

/* SigBlk of its status, in hex */
bool task_blocks_signal(pid_t tid, int sig)
{
    char buf[2048];
    if (task_read(tid, "status", buf, sizeof buf) <= 0)
        return false;
    const char *p = strstr(buf, "SigBlk:");
    if (!p)
        return false;
    for (p += 7; *p == ' ' || *p == '\t'; p++)
        continue;
    return libc_parse_hex(&p) >> (sig - 1) & 1;
}

RAW_SAFE uintptr_t task_syscall_sp(pid_t tid)
{
    char buf[256];
    if (task_read(tid, "syscall", buf, sizeof buf) <= 0 || buf[0] < '0' || buf[0] > '9')
        return 0;
    /* "nr arg1 .. arg6 sp pc": the eighth field */
    const char *p = buf;
    for (int field = 0; field < 7 && *p; p++)
        field += *p == ' ';
    if (p[0] != '0' || p[1] != 'x')
        return 0;
    p += 2;
    return (uintptr_t)libc_parse_hex(&p);
}

RAW_SAFE bool task_gone(pid_t tid)
{
    char buf[512];
    if (task_read(tid, "stat", buf, sizeof buf) <= 0)
        return true;
    const char *p = NULL;
    for (const char *c = buf; *c; c++)
        if (*c == ')')
            p = c;
    return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X' || p[2] == 'x';
}
