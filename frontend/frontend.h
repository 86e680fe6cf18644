/* The front half of the compiler as one call: source text to optimized TIR
 * (parse, sema, TIR passes). */
#ifndef TSR_FRONTEND_H
#define TSR_FRONTEND_H

#include "sema.h"

/* Returns NULL when the program has errors (they are in diag). pass_dump:
 * when not NULL, receives the TIR after every pass. */
TirModule *frontend_compile(const Source *src, const Define *defs, int ndefs, const char *kernel, Diag *diag,
                            StrBuf *pass_dump);

#endif
