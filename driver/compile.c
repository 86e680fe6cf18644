/* The compile driver: the pipeline of compile.h, in one place. */
#include "compile.h"

#include "ast.h"
#include "passes.h"

#include <stdio.h>
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
        char why[192];
        target_unknown_message(why, sizeof why, name);
        diag_error_nopos(diag, "%s", why);
    }
    return t;
}

/* Where the first value whose layout is too big is made (the kernel when
 * no value has it). */
static SrcPos too_big_at(const TirFunc *f, TType *type)
{
    for (ValId v = 0; v < f->vals.len; v++) {
        const TirVal *val = &f->vals.data[v];
        if (val->layout == TIR_NONE || !f->layouts.data[val->layout].too_big)
            continue;
        *type = val->type;
        return val->def != TIR_NONE ? f->insts.data[val->def].pos : f->pos;
    }
    type->rank = 0;
    return f->pos;
}

bool compile_layout(TirFunc *f, const Target *t, Diag *diag, StrBuf *dump)
{
    if (!codegen_check(f, t, diag))
        return false;
    tir_run_codegen_passes(f, t, dump);
    if (f->layout_too_big) {
        TType type;
        SrcPos pos = too_big_at(f, &type);
        char shape[64] = "";
        for (int d = 0, n = 0; d < type.rank && n < (int)sizeof shape; d++)
            n += snprintf(shape + n, sizeof shape - (size_t)n, "%s%d", d ? ", " : "", type.shape[d]);
        diag_error(diag, pos,
                   "this %s%s%s needs more than 2^%d registers per thread in kernel '%s' (%d warps); use smaller "
                   "tiles, loop over parts of it, or give the kernel more warps",
                   type.rank ? "tile [" : "value", shape, type.rank ? "]" : "", LAYOUT_MAX_REG, f->name, f->warps);
        return false;
    }
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
