/* Diagnostics in a compiler's format:
 *   file.tsr:12:17: error: message
 *       the source line
 *                   ^
 * Messages accumulate in a buffer so the CLI can print them and the C API can
 * hand them back with a status code. */
#ifndef TSR_DIAG_H
#define TSR_DIAG_H

#include "util.h"

/* A position in a source: byte offset, 1-based line and column. */
typedef struct {
    int off, line, col;
} SrcPos;

typedef struct {
    const char *name; /* shown in messages, e.g. the file path */
    const char *text; /* NUL-terminated */
    size_t len;
} Source;

typedef struct {
    const Source *src;
    StrBuf out;
    int nerrors;
    int max_errors; /* stop recording after this many; 0 means 20 */
    bool api_defines; /* compile-time values come from tsr_compile_options.defines, not -D NAME=VALUE */
    bool out_of_memory; /* a stage ran out of memory (support/oom.h); there is an error saying so */
} Diag;

void diag_init(Diag *d, const Source *src);
void diag_free(Diag *d);
void diag_error(Diag *d, SrcPos pos, const char *fmt, ...) TSR_PRINTF(3, 4);
void diag_verror(Diag *d, SrcPos pos, const char *fmt, va_list ap);
/* A note attached to the previous error (no count). */
void diag_note(Diag *d, SrcPos pos, const char *fmt, ...) TSR_PRINTF(3, 4);
/* An error with no position (for example, a bad -D define). */
void diag_error_nopos(Diag *d, const char *fmt, ...) TSR_PRINTF(2, 3);
bool diag_full(const Diag *d);

#endif
