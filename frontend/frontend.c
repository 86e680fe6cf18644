/* Source to optimized TIR: parse, check, build, run the TIR passes. */
#include "frontend.h"
#include "passes.h"

TirModule *frontend_compile(const Source *src, const Define *defs, int ndefs, const char *kernel, Diag *diag,
                            StrBuf *pass_dump)
{
    Arena arena;
    arena_init(&arena);
    AstProgram *prog = parse_program(&arena, src, diag);
    TirModule *m = NULL;
    if (diag->nerrors == 0)
        m = sema_program(prog, defs, ndefs, kernel, diag);
    arena_free(&arena);
    if (!m)
        return NULL;
    for (int i = 0; i < m->funcs.len; i++)
        tir_run_passes(m->funcs.data[i], pass_dump);
    return m;
}
