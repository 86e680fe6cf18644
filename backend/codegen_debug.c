/* device_print and device_assert (ir/tir.h, PRINT and ASSERT) as CUDA's
 * device-side printf and assert: calls of the driver's vprintf(format,
 * arguments) and __assertfail(message, file, line, function, char size),
 * which PTX declares extern and the CUDA driver (or the emulator,
 * runtime/emu/sched.c) provides. A printed line's format comes from
 * tir_print_format, so the interpreter prints the same text; its arguments
 * sit in a buffer in local memory, each aligned to its size as vprintf
 * reads them. */
#include "codegen_internal.h"

#include <string.h>

/* A NUL-terminated constant string in global memory, as a generic pointer. */
static LLVMValueRef global_string(Emitter *em, const char *text)
{
    LLVMValueRef init = LLVMConstStringInContext(em->ctx, text, (unsigned)strlen(text), false);
    LLVMValueRef g = LLVMAddGlobalInAddressSpace(em->mod, LLVMTypeOf(init), "str", 1);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, true);
    LLVMSetLinkage(g, LLVMPrivateLinkage);
    return LLVMBuildAddrSpaceCast(em->b, g, LLVMPointerTypeInContext(em->ctx, 0), "");
}

static LLVMValueRef declared(Emitter *em, const char *name, LLVMTypeRef fty)
{
    LLVMValueRef fn = LLVMGetNamedFunction(em->mod, name);
    return fn ? fn : LLVMAddFunction(em->mod, name, fty);
}

/* A value as vprintf takes it: doubles for floats (fp8 codes, held in i8
 * registers, widened exactly by em_fp8_cast first), i64, else i32 (u8 and
 * bool zero-extended, i8 sign-extended). */
static LLVMValueRef print_arg(Emitter *em, DType dt, LLVMValueRef x)
{
    LLVMTypeRef dbl = LLVMDoubleTypeInContext(em->ctx);
    if (dtype_is_fp8(dt))
        em_fp8_cast(em, &x, 1, dt, DT_F32, &x);
    if (dtype_is_float(dt))
        return LLVMBuildFPExt(em->b, x, dbl, "");
    if (dt == DT_I8)
        return LLVMBuildSExt(em->b, x, em->t_i32, "");
    if (dt == DT_U8 || dt == DT_BOOL)
        return LLVMBuildZExt(em->b, x, em->t_i32, "");
    return x;
}

/* Runs the code the caller emits next only where cond holds (NULL: always);
 * returns the block to continue in, for end_when. */
static LLVMBasicBlockRef begin_when(Emitter *em, LLVMValueRef cond, const char *what)
{
    if (!cond)
        return NULL;
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(em->ctx, em->fn, what);
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(em->ctx, em->fn, "");
    LLVMBuildCondBr(em->b, cond, then, done);
    LLVMPositionBuilderAtEnd(em->b, then);
    return done;
}

static void end_when(Emitter *em, LLVMBasicBlockRef done)
{
    if (!done)
        return;
    LLVMBuildBr(em->b, done);
    LLVMPositionBuilderAtEnd(em->b, done);
}

void em_print(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    ValId tile = TIR_NONE;
    for (int i = 0; i < in->nargs; i++)
        if (tir_type(f, in->args[i]).rank)
            tile = in->args[i];
    const Layout *l = tile != TIR_NONE ? em_layout(em, tile) : NULL;
    int rank = l ? tir_type(f, tile).rank : 0, n = l ? layout_nregs(l) : 1;
    /* the fields: program ids, index, values */
    LLVMTypeRef types[3 + 2 + TIR_MAX_PRINTED];
    int nf = 0;
    for (int i = 0; i < 3 + rank; i++)
        types[nf++] = em->t_i32;
    for (int i = 0; i < in->nargs; i++) {
        DType dt = tir_type(f, in->args[i]).dt;
        if (dtype_is_fp8(dt) && !em_fp8_supported(em, in->pos, dt, DT_F32)) /* printing converts */
            return;
        types[nf++] = dtype_is_float(dt) ? LLVMDoubleTypeInContext(em->ctx) : dt == DT_I64 ? em->t_i64 : em->t_i32;
    }
    LLVMTypeRef st = LLVMStructTypeInContext(em->ctx, types, (unsigned)nf, false);
    LLVMValueRef buf = LLVMBuildAlloca(em->entry_b, st, "print_args");
    LLVMTypeRef ptr = LLVMPointerTypeInContext(em->ctx, 0);
    LLVMTypeRef params[2] = { ptr, ptr };
    LLVMTypeRef fty = LLVMFunctionType(em->t_i32, params, 2, false);
    LLVMValueRef vprintf = declared(em, "vprintf", fty);
    StrBuf fmt;
    sb_init(&fmt);
    tir_print_format(f, in, &fmt);
    LLVMValueRef format = global_string(em, fmt.data);
    sb_free(&fmt);
    /* Replicas do not print; scalars are printed by thread 0 alone. */
    LLVMValueRef owner = l ? em_owner_mask(em, l) : LLVMBuildICmp(em->b, LLVMIntEQ, em->tid, em_i32(em, 0), "");
    LLVMBasicBlockRef done = begin_when(em, owner, "print");
    int li = tile != TIR_NONE ? tir_val(f, tile)->layout : TIR_NONE;
    for (int r = 0; r < n; r++) {
        LLVMValueRef fields[3 + 2 + TIR_MAX_PRINTED];
        int k = 0;
        for (int d = 0; d < 3; d++)
            fields[k++] = em->pid[d];
        for (int d = 0; d < rank; d++)
            fields[k++] = em_lcoord(em, li, r, d);
        for (int i = 0; i < in->nargs; i++)
            fields[k++] = print_arg(em, tir_type(f, in->args[i]).dt, em_reg(em, in->args[i], r));
        for (int i = 0; i < k; i++)
            LLVMBuildStore(em->b, fields[i], LLVMBuildStructGEP2(em->b, st, buf, (unsigned)i, ""));
        LLVMValueRef args[2] = { format, buf };
        LLVMBuildCall2(em->b, fty, vprintf, args, 2, "");
    }
    end_when(em, done);
}

void em_assert(Emitter *em, const TirInst *in)
{
    TirFunc *f = em->f;
    EVal *c = em_val(em, in->args[0]);
    LLVMValueRef any_false = NULL;
    for (int r = 0; r < c->n; r++) {
        LLVMValueRef bad = LLVMBuildNot(em->b, c->e[r], "");
        any_false = any_false ? LLVMBuildOr(em->b, any_false, bad, "") : bad;
    }
    LLVMTypeRef ptr = LLVMPointerTypeInContext(em->ctx, 0);
    LLVMTypeRef params[5] = { ptr, ptr, em->t_i32, ptr, em->t_i64 };
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(em->ctx), params, 5, false);
    LLVMValueRef assertfail = declared(em, "__assertfail", fty);
    LLVMBasicBlockRef done = begin_when(em, any_false, "assert_failed");
    LLVMValueRef args[5] = { global_string(em, f->texts.data[in->ival]), global_string(em, f->texts.data[in->ival + 1]),
                             em_i32(em, in->pos.line), global_string(em, f->name), em_i64(em, 1) };
    LLVMBuildCall2(em->b, fty, assertfail, args, 5, "");
    end_when(em, done);
}
