/* Internal errors, checked allocation and the string buffer. */
#include "util.h"
#include "readfile.h"
#include "oom.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tsr_die_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tessera: internal error at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void *tsr_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom_fail(n);
    return p;
}

void *tsr_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom_fail(n * size);
    return p;
}

void *tsr_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom_fail(n); /* p is still its owner's */
    return q;
}

char *tsr_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = tsr_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

void sb_init(StrBuf *sb)
{
    sb->data = NULL;
    sb->len = sb->cap = 0;
    sb->failed = false;
    sb->soft = false;
}

void sb_init_soft(StrBuf *sb)
{
    sb_init(sb);
    sb->soft = true;
}

void sb_free(StrBuf *sb)
{
    bool soft = sb->soft;
    free(sb->data);
    sb_init(sb);
    sb->soft = soft;
}

/* Room for extra more bytes and the NUL; false when there is none (the
 * buffer has failed: see oom.h). */
static bool sb_reserve(StrBuf *sb, size_t extra)
{
    if (sb->failed)
        return false;
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return true;
    size_t cap = sb->cap ? sb->cap * 2 : 64;
    while (cap < need)
        cap *= 2;
    char *data = realloc(sb->data, cap);
    if (!data) {
        if (!oom_note() && !sb->soft)
            tsr_die("out of memory growing a string to %zu bytes", cap);
        sb->failed = true;
        return false;
    }
    sb->data = data;
    sb->cap = cap;
    return true;
}

void sb_putn(StrBuf *sb, const char *s, size_t n)
{
    if (!sb_reserve(sb, n))
        return;
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = 0;
}

void sb_putc(StrBuf *sb, char c) { sb_putn(sb, &c, 1); }
void sb_puts(StrBuf *sb, const char *s) { sb_putn(sb, s, strlen(s)); }

void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        tsr_die("bad format string '%s'", fmt);
    if (!sb_reserve(sb, (size_t)n))
        return;
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void sb_printf(StrBuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

char *sb_take(StrBuf *sb)
{
    char *s = sb->data ? sb->data : tsr_xstrdup("");
    sb_init(sb);
    return s;
}

char *tsr_read_file(const char *path, size_t *len_out)
{
    size_t len;
    const char *why;
    char *text = tsr_read_regular_file(path, SIZE_MAX - 1, &len, &why);
    if (text && len_out)
        *len_out = len;
    return text;
}

bool tsr_is_pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

int64_t tsr_cdiv(int64_t a, int64_t b)
{
    /* Rounds toward +inf for any signs; b != 0 is the caller's duty. */
    int64_t q = a / b, r = a % b;
    return (r != 0 && ((r > 0) == (b > 0))) ? q + 1 : q;
}
