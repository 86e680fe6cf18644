/* The compile driver: the pipeline of compile.h, in one place. */
#include "compile.h"

#include "ast.h"
#include "passes.h"

#include <string.h>

TirModule *compile_tir(const Source *src, const Define *defs, int ndefs, const char *kernel, Diag *diag,
                       StrBuf *dump)
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
        tir_run_passes(m->funcs.data[i], dump);
    return m;
}

const Target *compile_target(const char *name, Diag *diag)
{
    const Target *t = name ? target_lookup(name) : target_default();
    if (!t) {
        char names[128];
        target_names(names, sizeof names, ", ", " or ");
        diag_error_nopos(diag, "unknown target '%s' (use %s)", name, names);
    }
    return t;
}

bool compile_layout(TirFunc *f, const Target *t, Diag *diag, StrBuf *dump)
{
    if (!codegen_check(f, t, diag))
        return false;
    tir_run_codegen_passes(f, t, dump);
    return true;
}

bool compile_ptx(const TirFunc *f, const CodegenOptions *o, bool want_llvm, StrBuf *dump, CodegenResult *out,
                 Diag *diag)
{
    memset(out, 0, sizeof *out);
    const Target *t = compile_target(o->target, diag);
    if (!t)
        return false;
    TirFunc *copy = tir_func_clone(f);
    bool ok = compile_layout(copy, t, diag, dump) && codegen_emit(copy, t, o, want_llvm, out, diag);
    tir_func_free(copy);
    return ok;
}
