/* Reading the files Tessera is given (DSL sources, .npy files) or finds
 * (JIT cache entries) without trusting them: only regular files, of bounded
 * size, opened without blocking, so a FIFO, a device or a symlink to
 * /dev/zero in their place is refused at once instead of hanging or eating
 * memory. (tsr_read_file, util.h, reads the same way without a bound.) */
#ifndef TSR_READFILE_H
#define TSR_READFILE_H

#include <stddef.h>

/* The largest DSL source and the largest JIT cache entry read (bytes). */
enum { TSR_MAX_SOURCE_BYTES = 64 << 20, TSR_MAX_ENTRY_BYTES = 64 << 20 };

/* Reads the whole regular file at path, of at most max bytes, into a
 * malloc'd NUL-terminated buffer (*len bytes before the NUL). Returns NULL
 * with *why set to a short reason ("is a directory", "No such file or
 * directory", ...) and errno set (EISDIR, EINVAL for other kinds of file,
 * EFBIG, or what open or read said) otherwise. */
char *tsr_read_regular_file(const char *path, size_t max, size_t *len, const char **why);

#endif
