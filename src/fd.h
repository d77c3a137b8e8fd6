/* fd.h: zmm's own file descriptors, kept where programs do not look and checked before use. */
#ifndef ZMM_FD_H
#define ZMM_FD_H

#include <sys/types.h>
#include "defs.h"

/* A descriptor zmm keeps, and the file it was when zmm took it. */
struct fd_mark {
    int fd;                     /* -1: none */
    dev_t dev;
    ino_t ino;
};

/* The lowest number zmm's kept descriptors take: the program's soft RLIMIT_NOFILE, above
 * which it cannot open (lowered by 32 when the hard limit leaves no room; see fd.c). */
int fd_floor(void);
/* FD moved to fd_floor() or above, close-on-exec; the original number is closed. Returns the
 * new number, or FD itself (close-on-exec) when no number up there is free. */
int fd_move(int fd);
/* A copy of FD at fd_floor() or above, close-on-exec; -1 if there is none to be had. */
int fd_copy(int fd);
/* Remembers FD (-1 for none) and the file it is now. */
void fd_mark(struct fd_mark *m, int fd);
/* Is M's descriptor still the file zmm took (the program may have closed it and opened one
 * of its own under the same number)? */
bool fd_valid(const struct fd_mark *m);
/* Is M's number now another open file (not merely closed)? */
bool fd_taken(const struct fd_mark *m);

/* While ON, pipes the calling thread makes (libunwind's, for its memory checks) are zmm's
 * and go up with fd_move. */
void fd_claim(bool on);
/* pipe2(2), exported: the program's pipes are left as they are. */
int fd_pipe2(int fds[2], int flags);

#endif
