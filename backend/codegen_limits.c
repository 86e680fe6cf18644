/* The target's resource limits checked when a kernel is compiled, at the
 * source position of what needs the resource, rather than when it is
 * launched: the shared memory a block asks for. (Registers per block are
 * checked by codegen_check, values per thread by the layout pass.) */
#include "codegen_internal.h"

#include <stdio.h>

/* The shared bytes an instruction holds on its own: a loaded tile kept in
 * shared memory, or all the stages of a pipelined buffer it copies into. */
static size_t held_bytes(const TirFunc *f, const TirInst *in, int *stages)
{
    *stages = 1;
    if (in->op == TIR_ASYNC_COPY) {
        const TirBuffer *b = &f->buffers.data[in->buf];
        *stages = b->stages;
        return (size_t)b->stages * (size_t)ttype_numel(b->type) * (size_t)dtype_size(b->type.dt);
    }
    if (in->op != TIR_LOAD || in->smem < 0)
        return 0;
    TType t = tir_type(f, in->res[0]);
    return (size_t)ttype_numel(t) * (size_t)dtype_size(t.dt);
}

bool codegen_check_smem(const TirFunc *f, const Target *t, Diag *diag)
{
    if (f->smem_bytes <= t->smem_per_block)
        return true;
    const TirInst *big = NULL;
    size_t big_bytes = 0;
    int big_stages = 1;
    for (InstId i = 0; i < f->insts.len; i++) {
        int stages;
        size_t bytes = held_bytes(f, &f->insts.data[i], &stages);
        if (bytes > big_bytes) {
            big = &f->insts.data[i];
            big_bytes = bytes;
            big_stages = stages;
        }
    }
    char part[160] = "";
    if (big) {
        const TirParam *p = &f->params.data[big->param];
        snprintf(part, sizeof part, "; the largest part is this slice of '%s' (%zu bytes%s)", p->name, big_bytes,
                 big_stages > 1 ? ", all its pipeline stages" : "");
    }
    diag_error(diag, big ? big->pos : f->pos,
               "kernel '%s' needs %zu bytes of shared memory per block, more than the %zu a block may have on %s%s: "
               "use smaller tiles or fewer pipeline stages",
               f->name, f->smem_bytes, t->smem_per_block, t->name, part);
    return false;
}
