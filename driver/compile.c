/* The compile driver: the pipeline of compile.h, in one place. */
#include "compile.h"

#include "ast.h"
#include "oom.h"
#include "passes.h"

#include <stdio.h>
#include <string.h>

/* Each stage runs guarded (support/oom.h): running out of memory in it is
 * reported in diag (an error, and out_of_memory set) instead of aborting. */
static void free_module(void *m) { tir_module_free(m); }
static void free_func(void *f) { tir_func_free(f); }

static void ran_out(Diag *diag)
{
    diag->out_of_memory = true;
    diag_error_nopos(diag, "out of memory");
}

typedef struct {
    const Source *src;
    const Define *defs;
    int ndefs;
    const char *kernel;
    Diag *diag;
    StrBuf *dump;
    TirModule *result;
} TirJob;

static void tir_job(void *arg)
{
    TirJob *j = arg;
    Arena *arena = oom_arena_open();
    AstProgram *prog = parse_program(arena, j->src, j->diag);
    TirModule *m = NULL;
    if (j->diag->nerrors == 0)
        m = sema_program(prog, j->defs, j->ndefs, j->kernel, j->diag);
    oom_arena_close(arena);
    if (!m)
        return;
    int slot = oom_defer(free_module, m);
    for (int i = 0; i < m->funcs.len; i++)
        tir_run_passes(m->funcs.data[i], j->dump);
    oom_undefer(slot);
    j->result = m;
}

TirModule *compile_tir(const Source *src, const Define *defs, int ndefs, const char *kernel, Diag *diag,
                       StrBuf *dump)
{
    TirJob j = { src, defs, ndefs, kernel, diag, dump, NULL };
    if (!oom_run(tir_job, &j)) {
        ran_out(diag);
        return NULL;
    }
    return j.result;
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

static bool layout_unguarded(TirFunc *f, const Target *t, Diag *diag, StrBuf *dump)
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

typedef struct {
    TirFunc *f;
    const Target *t;
    const CodegenOptions *o;
    bool want_llvm;
    StrBuf *dump;
    CodegenResult *out;
    Diag *diag;
    bool ok;
} CodegenJob;

static void layout_job(void *arg)
{
    CodegenJob *j = arg;
    j->ok = layout_unguarded(j->f, j->t, j->diag, j->dump);
}

bool compile_layout(TirFunc *f, const Target *t, Diag *diag, StrBuf *dump)
{
    CodegenJob j = { .f = f, .t = t, .dump = dump, .diag = diag };
    if (!oom_run(layout_job, &j)) {
        ran_out(diag);
        return false;
    }
    return j.ok;
}

/* The copy of the kernel that is laid out and emitted belongs to the stage. */
static void ptx_job(void *arg)
{
    CodegenJob *j = arg;
    TirFunc *copy = tir_func_clone(j->f);
    int slot = oom_defer(free_func, copy);
    copy->no_overlap = j->o->no_overlap;
    j->ok = layout_unguarded(copy, j->t, j->diag, j->dump) &&
            codegen_emit(copy, j->t, j->o, j->want_llvm, j->out, j->diag);
    oom_undefer(slot);
    tir_func_free(copy);
}

bool compile_ptx(const TirFunc *f, const CodegenOptions *o, bool want_llvm, StrBuf *dump, CodegenResult *out,
                 Diag *diag)
{
    memset(out, 0, sizeof *out);
    const Target *t = compile_target(o->target, diag);
    if (!t)
        return false;
    CodegenJob j = { (TirFunc *)f, t, o, want_llvm, dump, out, diag, false };
    if (!oom_run(ptx_job, &j)) {
        codegen_result_free(out); /* what it had made before memory ran out */
        ran_out(diag);
        return false;
    }
    return j.ok;
}
