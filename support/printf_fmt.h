/* printf formats applied to arguments fetched one at a time: the output of
 * device_print in the TIR interpreter, and of vprintf calls (CUDA's device
 * printf, which device_print lowers to) in the PTX emulator, so that both
 * print the same text for the same values. */
#ifndef TSR_PRINTF_FMT_H
#define TSR_PRINTF_FMT_H

#include "util.h"

#include <stdint.h>

typedef struct {
    /* The raw bits of the next argument of `bytes` (4 or 8); false when
     * there is none (the conversion is then printed as it is written). */
    bool (*next)(void *ctx, int bytes, uint64_t *bits);
    /* The NUL-terminated string at address addr (for %s), in buf. */
    const char *(*string)(void *ctx, uint64_t addr, char *buf, size_t n);
    void *ctx;
} FmtArgs;

/* Appends fmt to out with each conversion (%d %i %u %x %X %o %c, with h, hh,
 * l or ll; %f %F %e %E %g %G %a %A of a double; %s; %p; %%) applied to the
 * next argument, taken as CUDA's printf passes it: 8 bytes for doubles,
 * 64-bit integers and pointers, else 4. Flags, width and precision are
 * honoured (not '*'); an unknown conversion is copied as written. */
void fmt_apply(StrBuf *out, const char *fmt, const FmtArgs *a);

#endif
