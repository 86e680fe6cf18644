/* printf formats applied one conversion at a time (see printf_fmt.h). */
#include "printf_fmt.h"

#include <string.h>

/* One conversion of a double, a 64-bit or a 32-bit integer with the
 * conversion text spec (which already holds the right length modifier). */
static void apply_one(StrBuf *out, const char *spec, char conv, uint64_t bits, int bytes, const FmtArgs *a)
{
    if (strchr("fFeEgGaA", conv)) {
        double d;
        memcpy(&d, &bits, sizeof d);
        sb_printf(out, spec, d);
    } else if (conv == 's') {
        char buf[512];
        sb_printf(out, spec, a->string ? a->string(a->ctx, bits, buf, sizeof buf) : "?");
    } else if (conv == 'p') {
        sb_printf(out, "0x%llx", (unsigned long long)bits);
    } else if (bytes == 8) {
        if (strchr("di", conv))
            sb_printf(out, spec, (long long)bits);
        else
            sb_printf(out, spec, (unsigned long long)bits);
    } else if (strchr("dic", conv)) {
        sb_printf(out, spec, (int)(int32_t)(uint32_t)bits);
    } else {
        sb_printf(out, spec, (unsigned)(uint32_t)bits);
    }
}

void fmt_apply(StrBuf *out, const char *fmt, const FmtArgs *a)
{
    const char *p = fmt;
    while (*p) {
        if (*p != '%') {
            sb_putc(out, *p++);
            continue;
        }
        if (p[1] == '%') {
            sb_putc(out, '%');
            p += 2;
            continue;
        }
        /* %[flags][width][.precision][length]conversion */
        const char *q = p + 1;
        q += strspn(q, "-+ #0");
        q += strspn(q, "0123456789");
        if (*q == '.') {
            q++;
            q += strspn(q, "0123456789");
        }
        const char *len = q;
        q += strspn(q, "hlLjzt");
        size_t nlen = (size_t)(q - len);
        char conv = *q;
        if (!conv || !strchr("diuxXocfFeEgGaAsp", conv) || nlen > 2) {
            sb_putc(out, *p++); /* not a conversion: copied as written */
            continue;
        }
        bool wide = strchr("fFeEgGaAsp", conv) || (nlen && strchr("lLjzt", len[nlen - 1]) && conv != 'c');
        int bytes = wide ? 8 : 4;
        uint64_t bits = 0;
        if (!a->next(a->ctx, bytes, &bits)) {
            sb_putn(out, p, (size_t)(q + 1 - p));
            p = q + 1;
            continue;
        }
        /* The spec as C's printf takes it: length ll for 64-bit integers,
         * none for doubles, strings and 32-bit values (h and hh kept). */
        char spec[64];
        size_t head = (size_t)(len - p);
        if (head > sizeof spec - 8)
            head = sizeof spec - 8;
        memcpy(spec, p, head);
        size_t n = head;
        if (bytes == 8 && strchr("diuxXo", conv)) {
            spec[n++] = 'l';
            spec[n++] = 'l';
        } else if (!wide && nlen && len[0] == 'h') {
            memcpy(spec + n, len, nlen);
            n += nlen;
        }
        spec[n++] = conv;
        spec[n] = 0;
        apply_one(out, spec, conv, bits, bytes, a);
        p = q + 1;
    }
}
