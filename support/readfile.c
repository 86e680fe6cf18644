/* Bounded reads of regular files (see readfile.h). */
#define _POSIX_C_SOURCE 200809L
#include "readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Why a file of this kind and size is not read (errno set to match), or
 * NULL when it may be. */
static const char *refuse(const struct stat *st, size_t max)
{
    if (S_ISDIR(st->st_mode)) {
        errno = EISDIR;
        return "is a directory";
    }
    if (!S_ISREG(st->st_mode)) {
        errno = EINVAL;
        return "is not a regular file (a FIFO, socket or device)";
    }
    if (st->st_size < 0 || (unsigned long long)st->st_size > max) {
        errno = EFBIG;
        return "is too large";
    }
    return NULL;
}

char *tsr_read_regular_file(const char *path, size_t max, size_t *len, const char **why)
{
    *len = 0;
    /* O_NONBLOCK: opening a FIFO with no writer would wait forever. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *why = strerror(errno);
        return NULL;
    }
    int saved = 0;
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) != 0)
        *why = strerror(errno);
    else if (!(*why = refuse(&st, max)) && !(buf = malloc((size_t)st.st_size + 1))) {
        errno = ENOMEM;
        *why = "out of memory";
    }
    /* Reads what fstat promised; a file that grew since is cut there, one
     * that shrank ends early. */
    size_t n = 0, want = buf ? (size_t)st.st_size : 0;
    while (buf && n < want) {
        ssize_t r = read(fd, buf + n, want - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            saved = errno;
            *why = strerror(errno);
            free(buf);
            buf = NULL;
        } else if (r == 0) {
            break;
        } else {
            n += (size_t)r;
        }
    }
    if (!buf)
        saved = errno;
    close(fd);
    errno = saved;
    if (buf) {
        buf[n] = 0;
        *len = n;
    }
    return buf;
}
