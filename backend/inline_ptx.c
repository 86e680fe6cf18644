/* The one builder of inline PTX (see InlinePtx in codegen_internal.h): the
 * text, its operands with their constraints, clobbers and flags, made into
 * an LLVM inline-asm call. */
#include "codegen_internal.h"
#include "oom.h"

#include <stdarg.h>
#include <string.h>

void ptx_begin(InlinePtx *a, Emitter *em, unsigned flags)
{
    memset(a, 0, sizeof *a);
    a->em = em;
    a->flags = flags;
    sb_init(&a->text);
}

void ptx_text(InlinePtx *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&a->text, fmt, ap);
    va_end(ap);
}

/* The register class PTX gives a value of type t. */
static const char *constraint_of(Emitter *em, LLVMTypeRef t)
{
    if (t == em->t_i16 || t == em->t_f16 || t == em->t_bf16)
        return "h";
    if (t == em->t_i32)
        return "r";
    if (t == em->t_f32)
        return "f";
    if (t == em->t_i64 || t == em->t_ptr_g)
        return "l";
    tsr_die("inline PTX: an operand of a type PTX has no register class for");
}

int ptx_out(InlinePtx *a, LLVMTypeRef t)
{
    tsr_assert(a->nin == 0 && a->nout < PTX_MAX_OPERANDS); /* outputs are numbered first */
    a->out_types[a->nout] = t;
    return a->nout++;
}

static int add_in(InlinePtx *a, LLVMValueRef v, int tied)
{
    tsr_assert(a->nin < PTX_MAX_OPERANDS && (tied < 0 || tied < a->nout));
    a->in_vals[a->nin] = v;
    a->in_tied[a->nin] = tied;
    return a->nout + a->nin++;
}

int ptx_in(InlinePtx *a, LLVMValueRef v) { return add_in(a, v, -1); }

int ptx_in_tied(InlinePtx *a, LLVMValueRef v, int out) { return add_in(a, v, out); }

LLVMValueRef ptx_call(InlinePtx *a)
{
    Emitter *em = a->em;
    StrBuf cons;
    sb_init(&cons);
    for (int i = 0; i < a->nout; i++)
        sb_printf(&cons, "%s=%s", i ? "," : "", constraint_of(em, a->out_types[i]));
    LLVMTypeRef in_types[PTX_MAX_OPERANDS];
    for (int i = 0; i < a->nin; i++) {
        in_types[i] = LLVMTypeOf(a->in_vals[i]);
        const char *sep = a->nout + i ? "," : "";
        if (a->in_tied[i] >= 0)
            sb_printf(&cons, "%s%d", sep, a->in_tied[i]);
        else
            sb_printf(&cons, "%s%s", sep, constraint_of(em, in_types[i]));
    }
    if (a->flags & PTX_CLOBBERS_MEMORY)
        sb_printf(&cons, "%s~{memory}", a->nout + a->nin ? "," : "");
    /* Nothing between ptx_begin and here allocates with Tessera's
     * allocator, so the texts are the only memory to give back when one of
     * them could not grow: truncated inline PTX must not reach LLVM. */
    if (a->text.failed || cons.failed) {
        sb_free(&cons);
        sb_free(&a->text);
        oom_fail(0);
    }
    LLVMTypeRef rt = a->nout == 0   ? LLVMVoidTypeInContext(em->ctx)
                     : a->nout == 1 ? a->out_types[0]
                                    : LLVMStructTypeInContext(em->ctx, a->out_types, (unsigned)a->nout, 0);
    LLVMTypeRef fty = LLVMFunctionType(rt, in_types, (unsigned)a->nin, 0);
    const char *text = a->text.data ? a->text.data : "";
    LLVMValueRef fn = LLVMGetInlineAsm(fty, text, strlen(text), cons.data ? cons.data : "", cons.len,
                                       (a->flags & PTX_SIDE_EFFECTS) != 0, 0, LLVMInlineAsmDialectATT, 0);
    LLVMValueRef call = LLVMBuildCall2(em->b, fty, fn, a->in_vals, (unsigned)a->nin, "");
    if (a->flags & PTX_CONVERGENT) {
        unsigned kind = LLVMGetEnumAttributeKindForName("convergent", strlen("convergent"));
        LLVMAddCallSiteAttribute(call, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(em->ctx, kind, 0));
    }
    sb_free(&cons);
    sb_free(&a->text);
    return call;
}
