/* Conversions to and from the 8-bit floats (e4m3, e5m2). They are stored as
 * their bits in i8 registers (LLVM has no fp8 type), and converted two at a
 * time by the instructions sm_89 brought: cvt.rn.f16x2.e4m3x2 (exact) and
 * cvt.rn.satfinite.e4m3x2.f32 (round to nearest even; beyond the largest
 * finite value, infinities included, the largest value with the sign kept;
 * NaN to 0x7f), the same bits support/dtype.c's conversions give the
 * interpreter (dsl/README.md §10.3). Every other source or target dtype goes
 * through f32, which is exact for fp8, f16 and bf16 values. */
#include "codegen_internal.h"

static const char *fp8_ptx(DType dt) { return dt == DT_E4M3 ? "e4m3x2" : "e5m2x2"; }

/* Two fp8 codes (lo, hi) as the f16 pair cvt makes of them, each as half. */
static void unpack_pair(Emitter *em, DType dt, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef out[2])
{
    LLVMBuilderRef b = em->b;
    LLVMValueRef pair = LLVMBuildOr(
        b, LLVMBuildZExt(b, lo, em->t_i16, ""),
        LLVMBuildShl(b, LLVMBuildZExt(b, hi, em->t_i16, ""), LLVMConstInt(em->t_i16, 8, 0), ""), "");
    InlinePtx a;
    ptx_begin(&a, em, 0);
    int d = ptx_out(&a, em->t_i32), s = ptx_in(&a, pair);
    ptx_text(&a, "cvt.rn.f16x2.%s $%d, $%d;", fp8_ptx(dt), d, s);
    LLVMValueRef h2 = ptx_call(&a);
    out[0] = LLVMBuildBitCast(b, LLVMBuildTrunc(b, h2, em->t_i16, ""), em->t_f16, "");
    out[1] = LLVMBuildBitCast(b, LLVMBuildTrunc(b, LLVMBuildLShr(b, h2, em_i32(em, 16), ""), em->t_i16, ""),
                              em->t_f16, "");
}

/* Two f32 values as fp8 codes, rounded and saturated by one cvt. The pair
 * is widened to 32 bits inside the asm: LLVM then packs the codes for a
 * vector store from 32-bit registers with bfi, as for other bytes, instead
 * of from a 16-bit one whose other half it leaves unwritten. */
static void pack_pair(Emitter *em, DType dt, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef out[2])
{
    LLVMBuilderRef b = em->b;
    InlinePtx a;
    ptx_begin(&a, em, 0);
    int d = ptx_out(&a, em->t_i32), sh = ptx_in(&a, hi), sl = ptx_in(&a, lo);
    ptx_text(&a, "{ .reg .b16 t; cvt.rn.satfinite.%s.f32 t, $%d, $%d; cvt.u32.u16 $%d, t; }", fp8_ptx(dt), sh, sl, d);
    LLVMValueRef p = ptx_call(&a);
    out[0] = LLVMBuildTrunc(b, p, em->t_i8, "");
    out[1] = LLVMBuildTrunc(b, LLVMBuildLShr(b, p, em_i32(em, 8), ""), em->t_i8, "");
}

bool em_fp8_supported(Emitter *em, SrcPos pos, DType from, DType to)
{
    if (em->target->sm >= 89)
        return true;
    em_error(em, pos, "converting %s to %s needs sm_89 or later (cvt with .%s); this target is sm_%d", dtype_name(from),
             dtype_name(to), fp8_ptx(dtype_is_fp8(to) ? to : from), em->target->sm);
    return false;
}

/* One pair of registers: fp8 sources are widened to f16 (exact) and then
 * cast as f16 values; fp8 targets take f32 values. */
static void cast_pair(Emitter *em, LLVMValueRef v[2], DType from, DType to, LLVMValueRef r[2])
{
    if (dtype_is_fp8(from)) {
        unpack_pair(em, from, v[0], v[1], r);
        if (!dtype_is_fp8(to)) {
            r[0] = em_cast_elem(em, r[0], DT_F16, to);
            r[1] = em_cast_elem(em, r[1], DT_F16, to);
            return;
        }
        v[0] = r[0];
        v[1] = r[1];
        from = DT_F16;
    }
    pack_pair(em, to, em_cast_elem(em, v[0], from, DT_F32), em_cast_elem(em, v[1], from, DT_F32), r);
}

void em_fp8_cast(Emitter *em, const LLVMValueRef *x, int n, DType from, DType to, LLVMValueRef *out)
{
    for (int i = 0; i < n; i += 2) {
        bool two = i + 1 < n;
        LLVMValueRef v[2] = { x[i], two ? x[i + 1] : x[i] }, r[2];
        cast_pair(em, v, from, to, r);
        out[i] = r[0];
        if (two)
            out[i + 1] = r[1];
    }
}
