/* Tensor-core fragments: mma.sync (m16n8k16 and m16n8k8 with f16, bf16 and
 * tf32 inputs, f32 or f16 accumulators; m16n8k32 with e4m3/e5m2 inputs, in
 * any pairing, and f32 accumulators, sm_89's fp8 form), ldmatrix, stmatrix
 * and movmatrix.
 * Fragment layouts follow the PTX ISA's tables (groupID g = lane >> 2,
 * threadID_in_group t = lane & 3). The products are exact and are summed in
 * double precision, then rounded once to the accumulator type; hardware sums
 * in a different order and precision, so results can differ from a GPU's in
 * the last bits. */
#include <string.h>

#include "emu_internal.h"

enum { IN_F16, IN_BF16, IN_TF32, IN_E4M3, IN_E5M2 };

static double in_elem(int kind, uint32_t v)
{
    switch (kind) {
    case IN_F16: return emu_f16_to_f32((uint16_t)v);
    case IN_BF16: return emu_bf16_to_f32((uint16_t)v);
    case IN_E4M3: return emu_fp_to_double(FMT_E4M3, v & 0xff);
    case IN_E5M2: return emu_fp_to_double(FMT_E5M2, v & 0xff);
    default: return f32_of(v & 0xffffe000u); /* tf32: the low 13 bits are ignored */
    }
}

static int need_full_warp(Warp *w, const Insn *in, uint32_t mask)
{
    if (mask != FULL_MASK)
        return emu_fault(w, in, -1,
                         "needs all 32 lanes of the warp (executing lanes 0x%08x)", mask);
    return 0;
}

/* The register slot of element i of a vector operand. */
static uint64_t *vreg(Warp *w, const Operand *v, int i)
{
    const Operand *e = &w->cta->k->vec[v->idx + i];
    return e->kind == OK_SINK ? NULL : w->r + (size_t)e->idx * WARP_SIZE;
}

static const uint64_t *vsrc(Warp *w, const Insn *in, const Operand *v, int i)
{
    return opv(w, in, &w->cta->k->vec[v->idx + i]);
}

/* mma.sync.aligned.shape.row.col.dtype.atype.btype.ctype d, a, b, c
 * in->mode: input kind; in->sub: k (8 or 16); in->ty: dtype; in->ty2: ctype. */
static int exec_mma(Warp *w, const Insn *in, uint32_t mask)
{
    if (need_full_warp(w, in, mask))
        return -1;
    for (int i = 1; i <= 3; i++)
        if (check_src(w, in, &in->op[i], mask))
            return -1;
    int K = in->sub, kind = in->mode, bkind = K == 32 ? in->fmt : kind; /* fp8: a and b may differ */
    const uint64_t *ar[4], *br[2], *cr[4];
    int na = kind == IN_TF32 || K >= 16 ? 4 : 2, nb = kind == IN_TF32 || K >= 16 ? 2 : 1;
    int nc = in->ty2 == TY_F32 ? 4 : 2;
    for (int i = 0; i < na; i++)
        ar[i] = vsrc(w, in, &in->op[1], i);
    for (int i = 0; i < nb; i++)
        br[i] = vsrc(w, in, &in->op[2], i);
    for (int i = 0; i < nc; i++)
        cr[i] = vsrc(w, in, &in->op[3], i);
    double A[16][32], B[32][8], C[16][8];
    for (unsigned l = 0; l < WARP_SIZE; l++) {
        unsigned g = l >> 2, t = l & 3;
        if (K == 32) { /* four 8-bit elements a register, 4t .. 4t+3 along k */
            for (int r = 0; r < 4; r++)
                for (int e = 0; e < 4; e++)
                    A[g + 8 * (r & 1)][4 * t + e + 16 * (r >> 1)] = in_elem(kind, (uint32_t)ar[r][l] >> (8 * e));
            for (int r = 0; r < 2; r++)
                for (int e = 0; e < 4; e++)
                    B[4 * t + e + 16 * r][g] = in_elem(bkind, (uint32_t)br[r][l] >> (8 * e));
        } else if (kind == IN_TF32) {
            for (int r = 0; r < 4; r++)
                A[g + 8 * (r & 1)][t + 4 * (r >> 1)] = in_elem(kind, (uint32_t)ar[r][l]);
            for (int r = 0; r < 2; r++)
                B[t + 4 * r][g] = in_elem(kind, (uint32_t)br[r][l]);
        } else {
            for (int r = 0; r < na; r++) {
                uint32_t v = (uint32_t)ar[r][l];
                A[g + 8 * (r & 1)][2 * t + 8 * (r >> 1)] = in_elem(kind, v);
                A[g + 8 * (r & 1)][2 * t + 1 + 8 * (r >> 1)] = in_elem(kind, v >> 16);
            }
            for (int r = 0; r < nb; r++) {
                uint32_t v = (uint32_t)br[r][l];
                B[2 * t + 8 * r][g] = in_elem(kind, v);
                B[2 * t + 1 + 8 * r][g] = in_elem(kind, v >> 16);
            }
        }
        if (nc == 4) {
            for (int i = 0; i < 4; i++)
                C[g + 8 * (i >> 1)][2 * t + (i & 1)] = f32_of(cr[i][l]);
        } else {
            for (int r = 0; r < 2; r++) {
                uint32_t v = (uint32_t)cr[r][l];
                C[g + 8 * r][2 * t] = emu_f16_to_f32((uint16_t)v);
                C[g + 8 * r][2 * t + 1] = emu_f16_to_f32((uint16_t)(v >> 16));
            }
        }
    }
    float D[16][8];
    for (int i = 0; i < 16; i++) {
        /* eight independent sums (one per column, each in k order), kept in
           registers */
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        for (int k = 0; k < K; k++) {
            double a = A[i][k];
            const double *b = B[k];
            s0 += a * b[0];
            s1 += a * b[1];
            s2 += a * b[2];
            s3 += a * b[3];
            s4 += a * b[4];
            s5 += a * b[5];
            s6 += a * b[6];
            s7 += a * b[7];
        }
        const double sum[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
        for (int j = 0; j < 8; j++)
            D[i][j] = (float)(sum[j] + C[i][j]);
    }
    const Operand *e = &w->cta->k->vec[in->op[0].idx];
    if (in->ty == TY_F32) {
        for (int i = 0; i < 4; i++) {
            uint64_t *d = vreg(w, &in->op[0], i);
            if (!d)
                continue;
            for (unsigned l = 0; l < WARP_SIZE; l++) {
                float v = D[(l >> 2) + 8 * (i >> 1)][2 * (l & 3) + (i & 1)];
                d[l] = v != v ? 0x7fffffffu : f32_bits(v);
            }
        }
    } else {
        for (int r = 0; r < 2; r++) {
            uint64_t *d = vreg(w, &in->op[0], r);
            if (!d)
                continue;
            for (unsigned l = 0; l < WARP_SIZE; l++) {
                const float *row = D[(l >> 2) + 8 * r];
                uint64_t lo = emu_f32_to_f16_rn(f32_bits(row[2 * (l & 3)]));
                uint64_t hi = emu_f32_to_f16_rn(f32_bits(row[2 * (l & 3) + 1]));
                d[l] = hi << 16 | lo;
            }
        }
    }
    for (int i = 0; i < in->op[0].nelem; i++)
        mark_def(w, &e[i], mask);
    return 0;
}

static int decode_mma(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_SHAPE) | MCB(MC_LAYOUT), MF_SYNC | MF_ALIGNED))
        return -1;
    if (!(m->flags & MF_SYNC) || !(m->flags & MF_ALIGNED))
        return emu_dec_error(d, s, "mma needs .sync.aligned");
    if (m->shape != SHAPE_M16N8K16 && m->shape != SHAPE_M16N8K8 && m->shape != SHAPE_M16N8K32)
        return emu_dec_error(d, s, "only the m16n8k16, m16n8k8 and m16n8k32 shapes are supported");
    if (m->nlayout != 2 || m->layout[0] != LAYOUT_ROW || m->layout[1] != LAYOUT_COL)
        return emu_dec_error(d, s, "mma of this shape needs .row.col");
    if (m->ntype != 4)
        return emu_dec_error(d, s, "mma needs four types (d, a, b, c)");
    int dt = m->type[0], at = m->type[1], bt = m->type[2], ct = m->type[3];
    int K = m->shape == SHAPE_M16N8K16 ? 16 : m->shape == SHAPE_M16N8K32 ? 32 : 8;
    int kind, bkind = 0;
    bool f8a = at == TY_E4M3 || at == TY_E5M2, f8b = bt == TY_E4M3 || bt == TY_E5M2;
    if (K == 32 || f8a || f8b) { /* sm_89's fp8 form: m16n8k32, f32 accumulators only */
        if (K != 32 || !f8a || !f8b)
            return emu_dec_error(d, s, "mma with .%s/.%s inputs of this shape is not supported (fp8: m16n8k32)",
                                 emu_types[at].name, emu_types[bt].name);
        if (dt != TY_F32 || ct != TY_F32)
            return emu_dec_error(d, s, "unsupported accumulator types .%s/.%s (fp8 mma: .f32)", emu_types[dt].name,
                                 emu_types[ct].name);
        kind = at == TY_E4M3 ? IN_E4M3 : IN_E5M2;
        bkind = bt == TY_E4M3 ? IN_E4M3 : IN_E5M2;
    } else if (at != bt)
        return emu_dec_error(d, s, "different types for a and b");
    else if (at == TY_F16)
        kind = IN_F16;
    else if (at == TY_BF16)
        kind = IN_BF16;
    else if (at == TY_TF32 && K == 8)
        kind = IN_TF32;
    else
        return emu_dec_error(d, s, "mma with .%s inputs of this shape is not supported",
                         emu_types[at].name);
    if ((dt != TY_F32 && dt != TY_F16) || (ct != TY_F32 && ct != TY_F16) ||
        (kind != IN_F16 && (dt != TY_F32 || ct != TY_F32)))
        return emu_dec_error(d, s, "unsupported accumulator types .%s/.%s", emu_types[dt].name,
                         emu_types[ct].name);
    int na = kind == IN_TF32 || K >= 16 ? 4 : 2, nb = kind == IN_TF32 || K >= 16 ? 2 : 1;
    int nd = dt == TY_F32 ? 4 : 2, nc = ct == TY_F32 ? 4 : 2;
    if (emu_dec_nops(d, s, 4, 4) ||
        emu_dec_vec(d, s, &s->ops[0], nd, dt == TY_F32 ? TY_F32 : TY_B32, true, false, &in->op[0]) ||
        emu_dec_vec(d, s, &s->ops[1], na, TY_B32, false, false, &in->op[1]) ||
        emu_dec_vec(d, s, &s->ops[2], nb, TY_B32, false, false, &in->op[2]) ||
        emu_dec_vec(d, s, &s->ops[3], nc, ct == TY_F32 ? TY_F32 : TY_B32, false, false, &in->op[3]))
        return -1;
    in->nops = 4;
    in->ty = (uint8_t)dt;
    in->ty2 = (uint8_t)ct;
    in->sub = (uint8_t)K;
    in->mode = (uint8_t)kind;
    in->fmt = (uint8_t)bkind;
    in->exec = exec_mma;
    return 0;
}

/* ---- ldmatrix, stmatrix, movmatrix ----------------------------------------------- */

/* The host address of row `row` of matrix `mat`, given by lane 8*mat + row. */
static uint8_t *matrix_row(Warp *w, const Insn *in, int mat, int row, bool write)
{
    unsigned src = (unsigned)(8 * mat + row);
    int space;
    uint8_t *p = emu_resolve_fast(w, in, (int)src, in->space, addr_of(w, &in->op[in->mode], src), 16,
                             write, &space);
    if (!p)
        return NULL;
    if (space != SP_SHARED) {
        emu_fault(w, in, (int)src, "matrix row address is not in shared memory");
        return NULL;
    }
    return p;
}

/* Element (r, c) of an 8x8 b16 matrix as lane l holds it in a fragment:
 * lane l has row l/4, columns 2(l%4) and 2(l%4)+1 (transposed: the columns
 * are rows). */
static void frag_pos(unsigned l, int h, bool trans, int *r, int *c)
{
    int row = (int)(l / 4), col = (int)(2 * (l % 4)) + h;
    *r = trans ? col : row;
    *c = trans ? row : col;
}

/* ldmatrix: op[0] vector d, op[1] address; in->vec matrices, in->flags trans. */
static int exec_ldmatrix(Warp *w, const Insn *in, uint32_t mask)
{
    uint32_t addr_lanes = (uint32_t)((1ull << (8 * in->vec)) - 1);
    if (need_full_warp(w, in, mask) || check_src(w, in, &in->op[1], addr_lanes))
        return -1;
    Cta *c = w->cta;
    bool trans = in->flags & MF_TRANS;
    uint16_t m[8][8];
    for (int j = 0; j < in->vec; j++) {
        for (int r = 0; r < 8; r++) {
            uint8_t *p = matrix_row(w, in, j, r, false);
            if (!p)
                return -1;
            if (c->race && emu_race_access(w, in, 8 * j + r, (uint32_t)(p - c->smem), 16, NULL, w->icount))
                return -1;
            if (emu_smem_read(w, in, 8 * j + r, (uint32_t)(p - c->smem), 16))
                return -1;
            memcpy(m[r], p, 16);
        }
        uint64_t *d = vreg(w, &in->op[0], j);
        for (unsigned l = 0; l < WARP_SIZE; l++) {
            int r0, c0, r1, c1;
            frag_pos(l, 0, trans, &r0, &c0);
            frag_pos(l, 1, trans, &r1, &c1);
            d[l] = (uint64_t)m[r1][c1] << 16 | m[r0][c0];
        }
        mark_def(w, &w->cta->k->vec[in->op[0].idx + j], mask);
    }
    return 0;
}

/* stmatrix: op[0] address, op[1] vector of sources. */
static int exec_stmatrix(Warp *w, const Insn *in, uint32_t mask)
{
    if (need_full_warp(w, in, mask) || check_src(w, in, &in->op[1], mask))
        return -1;
    Cta *c = w->cta;
    bool trans = in->flags & MF_TRANS;
    for (int j = 0; j < in->vec; j++) {
        uint16_t m[8][8];
        const uint64_t *v = vsrc(w, in, &in->op[1], j);
        for (unsigned l = 0; l < WARP_SIZE; l++)
            for (int h = 0; h < 2; h++) {
                int r, cc;
                frag_pos(l, h, trans, &r, &cc);
                m[r][cc] = (uint16_t)(v[l] >> (16 * h));
            }
        for (int r = 0; r < 8; r++) {
            uint8_t *p = matrix_row(w, in, j, r, true);
            if (!p)
                return -1;
            if (c->race &&
                emu_race_access(w, in, 8 * j + r, (uint32_t)(p - c->smem), 16, (uint8_t *)m[r], w->icount))
                return -1;
            emu_smem_written(c, (uint32_t)(p - c->smem), 16);
            memcpy(p, m[r], 16);
        }
    }
    return 0;
}

static int decode_ldst_matrix(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    bool st = d->op_arg == 1;
    int ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_SHAPE) | MCB(MC_NUM) | MCB(MC_SPACE),
                  MF_SYNC | MF_ALIGNED | MF_TRANS) ||
        emu_dec_type(d, s, m, TYB(TY_B16), &ty))
        return -1;
    if (!(m->flags & MF_SYNC) || !(m->flags & MF_ALIGNED) || m->shape != SHAPE_M8N8 || !m->num)
        return emu_dec_error(d, s, "needs .sync.aligned.m8n8 and .x1, .x2 or .x4");
    int space = m->nspace ? m->space[0] : SP_GENERIC;
    if (space != SP_SHARED && space != SP_GENERIC)
        return emu_dec_error(d, s, "matrix rows must be in shared memory");
    if (emu_dec_nops(d, s, 2, 2))
        return -1;
    int va = st ? 1 : 0, aa = st ? 0 : 1;
    if (emu_dec_vec(d, s, &s->ops[va], m->num, TY_B32, !st, false, &in->op[va]) ||
        emu_dec_addr(d, s, &s->ops[aa], &space, &in->op[aa]))
        return -1;
    in->nops = 2;
    in->vec = m->num;
    in->space = (uint8_t)space;
    in->mode = (uint8_t)aa; /* which operand holds the address */
    in->flags = m->flags & MF_TRANS;
    in->exec = st ? exec_stmatrix : exec_ldmatrix;
    return 0;
}

/* movmatrix.sync.aligned.m8n8.trans.b16 d, a */
static int exec_movmatrix(Warp *w, const Insn *in, uint32_t mask)
{
    if (need_full_warp(w, in, mask) || check_src(w, in, &in->op[1], mask))
        return -1;
    uint16_t m[8][8];
    const uint64_t *a = opv(w, in, &in->op[1]);
    for (unsigned l = 0; l < WARP_SIZE; l++)
        for (int h = 0; h < 2; h++) {
            int r, c;
            frag_pos(l, h, false, &r, &c);
            m[r][c] = (uint16_t)(a[l] >> (16 * h));
        }
    uint64_t *d = opd(w, &in->op[0]);
    for (unsigned l = 0; l < WARP_SIZE; l++) {
        int r0, c0, r1, c1;
        frag_pos(l, 0, true, &r0, &c0);
        frag_pos(l, 1, true, &r1, &c1);
        d[l] = (uint64_t)m[r1][c1] << 16 | m[r0][c0];
    }
    mark_def(w, &in->op[0], mask);
    return 0;
}

static int decode_movmatrix(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    int ty;
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_SHAPE), MF_SYNC | MF_ALIGNED | MF_TRANS) ||
        emu_dec_type(d, s, m, TYB(TY_B16), &ty))
        return -1;
    if (!(m->flags & MF_TRANS) || m->shape != SHAPE_M8N8)
        return emu_dec_error(d, s, "needs .m8n8.trans");
    if (emu_dec_nops(d, s, 2, 2) || emu_dec_dst(d, s, &s->ops[0], TY_B32, &in->op[0]) ||
        emu_dec_src(d, s, &s->ops[1], TY_B32, &in->op[1]))
        return -1;
    in->nops = 2;
    in->exec = exec_movmatrix;
    return 0;
}

const OpDesc emu_ops_mma[] = {
    {"mma", decode_mma, 0},
    {"ldmatrix", decode_ldst_matrix, 0},
    {"stmatrix", decode_ldst_matrix, 1},
    {"movmatrix", decode_movmatrix, 0},
    {NULL, NULL, 0},
};
