/* Semantic analysis: specializes each kernel with its compile-time
 * parameters, checks names, dtypes and tile shapes, folds compile-time
 * expressions, and builds the kernel's TIR in the same walk. */
#ifndef TSR_SEMA_H
#define TSR_SEMA_H

#include "ast.h"
#include "tir.h"

typedef struct {
    const char *name;
    const char *value;
} Define;

enum { SEMA_MAX_TILE_ELEMS = 1 << 20 };

/* Builds the TIR of every kernel in prog (or only the one named only_kernel,
 * when not NULL). Returns NULL if any error was reported to diag. */
TirModule *sema_program(const AstProgram *prog, const Define *defs, int ndefs, const char *only_kernel,
                        Diag *diag);

#endif
