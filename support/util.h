/* Small things every part of Tessera uses: internal-error reporting, checked
 * allocation, and a growable string buffer used by all the IR printers. */
#ifndef TSR_UTIL_H
#define TSR_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if defined(__GNUC__)
#define TSR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define TSR_NORETURN __attribute__((noreturn))
#else
#define TSR_PRINTF(a, b)
#define TSR_NORETURN
#endif

#define TSR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* An internal error: a bug in Tessera, never a mistake in the user's program.
 * It names the C file and line and aborts. */
TSR_NORETURN void tsr_die_at(const char *file, int line, const char *fmt, ...) TSR_PRINTF(3, 4);
#define tsr_die(...) tsr_die_at(__FILE__, __LINE__, __VA_ARGS__)
#define tsr_unreachable() tsr_die_at(__FILE__, __LINE__, "unreachable code reached")
#define tsr_assert(c) ((c) ? (void)0 : tsr_die_at(__FILE__, __LINE__, "assertion failed: %s", #c))

/* Allocation that cannot return NULL: when memory runs out it unwinds a
 * guarded compile stage (support/oom.h), elsewhere it is an internal error. */
void *tsr_xmalloc(size_t n);
void *tsr_xcalloc(size_t n, size_t size);
void *tsr_xrealloc(void *p, size_t n);
char *tsr_xstrdup(const char *s);

/* A growable, always NUL-terminated string. When it cannot grow inside a
 * guarded compile stage (support/oom.h), or anywhere when it was made with
 * sb_init_soft, it keeps what it has, drops every later append and sets
 * failed; elsewhere that is an internal error. */
typedef struct {
    char *data;
    size_t len, cap;
    bool failed;
    bool soft; /* running out of memory sets failed, never aborts */
} StrBuf;

void sb_init(StrBuf *sb);
/* For text built where no guard runs whose loss the caller survives: the
 * message of a failing API call (cut short rather than ending the
 * process), a JIT cache entry's path or header (checked with .failed before
 * use: the cache is then skipped). */
void sb_init_soft(StrBuf *sb);
void sb_free(StrBuf *sb);
void sb_putc(StrBuf *sb, char c);
void sb_puts(StrBuf *sb, const char *s);
void sb_putn(StrBuf *sb, const char *s, size_t n);
void sb_printf(StrBuf *sb, const char *fmt, ...) TSR_PRINTF(2, 3);
void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap);
/* Takes the buffer's string; the StrBuf is left empty. Free it with free(). */
char *sb_take(StrBuf *sb);

/* The whole file at path, NUL-terminated (*len_out bytes before the NUL),
 * or NULL with errno set: only a regular file is read, opened without
 * blocking (readfile.h), so a FIFO or a device cannot hang the caller. */
char *tsr_read_file(const char *path, size_t *len_out);

bool tsr_is_pow2(int64_t v);
int64_t tsr_cdiv(int64_t a, int64_t b);

#endif
