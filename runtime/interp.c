/* The TIR interpreter (see interp.h). Every value is a dense row-major array
 * of TirElem; f16/bf16 elements are kept as f32 values rounded to their
 * precision, so each operation rounds exactly as a GPU stores the result. dot
 * and reductions accumulate in f32. Program instances are spread over host
 * threads; each thread has its own value storage. */
#include "interp.h"
#include "oom.h"
#include "printf_fmt.h"
#include "tir_eval.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    TirFunc *f;
    const KernelArg *args;
    const int32_t *syms;
    TirElem **vals; /* storage per value, allocated on first use */
    int64_t pid[3], npid[3];
    struct Job *job; /* the launch a worker's programs come from */
} Interp;

typedef struct Job {
    TirFunc *f;
    const KernelArg *args;
    const int32_t *syms;
    int64_t grid[3];
    atomic_llong next;
    atomic_int out_of_memory; /* a worker ran out: the others stop too */
    atomic_int failed;        /* an assertion failed: no more programs start */
    StrBuf failure;           /* its message, written by the worker that set `failed` */
} Job;

static TirElem *storage(Interp *in, ValId v)
{
    if (!in->vals[v])
        in->vals[v] = tsr_xmalloc(sizeof(TirElem) * (size_t)ttype_numel(tir_type(in->f, v)));
    return in->vals[v];
}

static int64_t numel(Interp *in, ValId v) { return ttype_numel(tir_type(in->f, v)); }

static void copy_val(Interp *in, ValId dst, ValId src)
{
    if (dst != src)
        memcpy(storage(in, dst), storage(in, src), sizeof(TirElem) * (size_t)numel(in, src));
}

/* Whether a scalar argument is an integer of integer dtype dt (any i64
 * below 2^63 in magnitude: doubles beyond 2^53 are integers, if not every
 * integer). */
static bool scalar_fits(double v, DType dt)
{
    if (v != floor(v))
        return false; /* fractions, NaN and infinities */
    if (dt == DT_I64)
        return v >= -0x1p63 && v < 0x1p63;
    return v >= -0x1p63 && v < 0x1p63 && int_fits((int64_t)v, dt);
}

static TirElem scalar_param(const KernelArg *a, DType dt)
{
    TirElem e;
    if (dtype_is_float(dt))
        e.f = round_to_dtype((float)a->scalar, dt);
    else if (dt == DT_BOOL)
        e.i = a->scalar != 0;
    else if (scalar_fits(a->scalar, dt))
        e.i = (int64_t)a->scalar;
    else
        e.i = 0; /* kernel_bind_args rejects it; never convert out of range (undefined in C) */
    return e;
}

/* fp8 NaN codes as f32 NaNs that remember them: the GPU code moves fp8
 * bytes unchanged from a load to a store (a copy, a select, a transpose),
 * so a NaN keeps its sign and payload; the interpreter, which holds fp8
 * values as floats, would write every NaN back as the canonical 0x7f. A NaN
 * read from an fp8 tensor carries its code in the low bits (a quiet NaN
 * with a mark), and a store into an fp8 tensor writes a marked NaN's code
 * as it was; conversions (dtype_round) make canonical NaNs, as cvt does.
 * An fp8 value is stored exactly: an e5m2 infinity stays one (only a
 * conversion saturates, §10.3). */
enum { FP8_NAN_MARK = 0x7fc00100, FP8_NAN_MASK = 0x7fffff00 };

static float fp8_load(uint8_t code, DType dt)
{
    float f = fp8_bits_to_f32(code, dt);
    if (!isnan(f))
        return f;
    uint32_t bits = (code & 0x80u ? 0x80000000u : 0u) | FP8_NAN_MARK | code;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint8_t fp8_store(float f, DType dt)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if (isnan(f) && (bits & FP8_NAN_MASK) == FP8_NAN_MARK && isnan(fp8_bits_to_f32((uint8_t)bits, dt)))
        return (uint8_t)bits;
    if (isinf(f) && dt == DT_E5M2)
        return (uint8_t)(signbit(f) ? 0xfc : 0x7c);
    return f32_to_fp8_bits(f, dt);
}

/* Reads element `off` of a tensor as a TirElem of its dtype. */
static TirElem read_elem(const HostTensor *t, int64_t off)
{
    TirElem e;
    switch (t->dt) {
    case DT_F32: e.f = ((const float *)t->data)[off]; break;
    case DT_F16: e.f = f16_bits_to_f32(((const uint16_t *)t->data)[off]); break;
    case DT_BF16: e.f = bf16_bits_to_f32(((const uint16_t *)t->data)[off]); break;
    case DT_I32: e.i = ((const int32_t *)t->data)[off]; break;
    case DT_I8: e.i = ((const int8_t *)t->data)[off]; break;
    case DT_U8: e.i = ((const uint8_t *)t->data)[off]; break;
    case DT_U32: e.i = ((const uint32_t *)t->data)[off]; break;
    case DT_I64: e.i = ((const int64_t *)t->data)[off]; break;
    case DT_E4M3:
    case DT_E5M2: e.f = fp8_load(((const uint8_t *)t->data)[off], t->dt); break;
    default: e.i = ((const uint8_t *)t->data)[off] != 0; break;
    }
    return e;
}

static void write_elem(const HostTensor *t, int64_t off, TirElem e)
{
    switch (t->dt) {
    case DT_F32: ((float *)t->data)[off] = e.f; break;
    case DT_F16: ((uint16_t *)t->data)[off] = f32_to_f16_bits(e.f); break;
    case DT_BF16: ((uint16_t *)t->data)[off] = f32_to_bf16_bits(e.f); break;
    case DT_I32: ((int32_t *)t->data)[off] = (int32_t)e.i; break;
    case DT_I8: ((int8_t *)t->data)[off] = (int8_t)e.i; break;
    case DT_U8: ((uint8_t *)t->data)[off] = (uint8_t)e.i; break;
    case DT_U32: ((uint32_t *)t->data)[off] = (uint32_t)e.i; break;
    case DT_I64: ((int64_t *)t->data)[off] = e.i; break;
    case DT_E4M3:
    case DT_E5M2: ((uint8_t *)t->data)[off] = fp8_store(e.f, t->dt); break;
    default: ((uint8_t *)t->data)[off] = (uint8_t)(e.i != 0); break;
    }
}

/* Loads or stores a tile: walks the tile's elements in row-major order and
 * the matching tensor coordinates; elements outside the tensor read 0 and
 * are not written. */
static void exec_access(Interp *in, const TirInst *ins)
{
    const TirParam *p = &in->f->params.data[ins->param];
    const HostTensor *t = &in->args[ins->param].tensor;
    int64_t start[TIR_MAX_RANK], len[TIR_MAX_RANK];
    for (int d = 0; d < p->rank; d++) {
        start[d] = storage(in, ins->args[d])[0].i;
        len[d] = ins->lens[d] ? ins->lens[d] : 1;
    }
    bool is_store = ins->op == TIR_STORE;
    TirElem *tile = storage(in, is_store ? ins->args[ins->nargs - 1] : ins->res[0]);
    int64_t idx[TIR_MAX_RANK] = { 0 };
    int64_t n = 1;
    for (int d = 0; d < p->rank; d++)
        n *= len[d];
    /* Rows of the innermost dim are handled together. */
    int inner = p->rank - 1;
    for (int64_t k = 0; k < n; k += len[inner]) {
        int64_t base = 0;
        bool row_ok = true;
        /* Offsets are computed only for elements inside the tensor: outside,
         * coordinate times stride may overflow (a huge stride on a dim of 1). */
        for (int d = 0; d < inner; d++) {
            int64_t c = start[d] + idx[d];
            if (c < 0 || c >= t->shape[d])
                row_ok = false;
            else
                base += c * t->strides[d];
        }
        for (int64_t j = 0; j < len[inner]; j++) {
            int64_t c = start[inner] + j;
            bool ok = row_ok && c >= 0 && c < t->shape[inner];
            if (is_store) {
                if (ok)
                    write_elem(t, base + c * t->strides[inner], tile[k + j]);
            } else {
                tile[k + j] = ok ? read_elem(t, base + c * t->strides[inner]) : (TirElem){ .i = 0 };
            }
        }
        for (int d = inner - 1; d >= 0; d--) {
            if (++idx[d] < len[d])
                break;
            idx[d] = 0;
        }
    }
}

/* The element of operand a of ins for element k of the access: a scalar
 * operand serves every element. */
static TirElem arg_elem(Interp *in, const TirInst *ins, int a, int64_t k)
{
    return storage(in, ins->args[a])[tir_type(in->f, ins->args[a]).rank ? k : 0];
}

/* The offset in t of element k of a gather or scatter, or -1 when its
 * coordinates lie outside the tensor. */
static int64_t indexed_offset(Interp *in, const TirInst *ins, const HostTensor *t, int rank, int64_t k)
{
    int64_t off = 0;
    for (int d = 0; d < rank; d++) {
        int64_t c = arg_elem(in, ins, d, k).i;
        if (c < 0 || c >= t->shape[d])
            return -1;
        off += c * t->strides[d];
    }
    return off;
}

/* f32 bits with a subnormal flushed to a zero of its sign, as the GPU's
 * atomic f32 add takes its operands and writes its result. */
static float flush_f32(float x) { return fabsf(x) < 0x1p-126f ? copysignf(0.0f, x) : x; }

/* Whether x comes after old in the order GPU atomic max and min give f32
 * bit patterns (backend/codegen_mem.c): a value with the sign bit clear is
 * compared as a signed integer, one with the sign bit set as an unsigned one
 * in reverse -- the float order, with NaNs placed by their bits. */
static bool f32_bits_after(uint32_t x, uint32_t old)
{
    return (x >> 31) ? x < old : (int32_t)x > (int32_t)old;
}

/* The new value of an element of dtype dt after an atomic of kind k with
 * operand x (dsl/README.md §8.3). */
static TirElem atomic_apply(int k, DType dt, TirElem old, TirElem x)
{
    if (k == SCATTER_ADD) {
        TirElem r;
        if (dt == DT_F32)
            r.f = flush_f32(flush_f32(old.f) + flush_f32(x.f));
        else if (dtype_is_float(dt))
            r.f = round_to_dtype(old.f + x.f, dt);
        else
            r.i = int_wrap((int64_t)((uint64_t)old.i + (uint64_t)x.i), dt);
        return r;
    }
    bool after;
    if (dt == DT_F32) {
        uint32_t xb, ob;
        memcpy(&xb, &x.f, 4);
        memcpy(&ob, &old.f, 4);
        after = k == SCATTER_MAX ? f32_bits_after(xb, ob) : (xb != ob && !f32_bits_after(xb, ob));
    } else if (dtype_is_signed(dt)) {
        after = k == SCATTER_MAX ? x.i > old.i : x.i < old.i;
    } else {
        after = k == SCATTER_MAX ? (uint64_t)x.i > (uint64_t)old.i : (uint64_t)x.i < (uint64_t)old.i;
    }
    return after ? x : old;
}

/* Element `off` of t updated atomically (program instances run on several
 * host threads): a compare-and-swap loop on the element's bytes. */
static void atomic_update(const HostTensor *t, int64_t off, int kind, TirElem x)
{
    int size = dtype_size(t->dt);
    uint8_t *p = (uint8_t *)t->data + off * size;
    uint64_t old_bits = 0, new_bits = 0;
    HostTensor cur = *t, next = *t; /* one element each, for read_elem and write_elem */
    cur.data = &old_bits;
    next.data = &new_bits;
    for (;;) {
        switch (size) {
        case 2: old_bits = __atomic_load_n((uint16_t *)p, __ATOMIC_RELAXED); break;
        case 4: old_bits = __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED); break;
        default: old_bits = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED); break;
        }
        new_bits = 0;
        write_elem(&next, 0, atomic_apply(kind, t->dt, read_elem(&cur, 0), x));
        bool done;
        switch (size) {
        case 2: {
            uint16_t o = (uint16_t)old_bits;
            done = __atomic_compare_exchange_n((uint16_t *)p, &o, (uint16_t)new_bits, false, __ATOMIC_SEQ_CST,
                                               __ATOMIC_RELAXED);
            break;
        }
        case 4: {
            uint32_t o = (uint32_t)old_bits;
            done = __atomic_compare_exchange_n((uint32_t *)p, &o, (uint32_t)new_bits, false, __ATOMIC_SEQ_CST,
                                               __ATOMIC_RELAXED);
            break;
        }
        default:
            done = __atomic_compare_exchange_n((uint64_t *)p, &old_bits, new_bits, false, __ATOMIC_SEQ_CST,
                                               __ATOMIC_RELAXED);
            break;
        }
        if (done)
            return;
    }
}

/* A gather reads each element at its coordinates (0 outside the tensor); a
 * scatter writes, or atomically combines, each element whose mask is true
 * and whose coordinates lie inside the tensor. */
static void exec_indexed(Interp *in, const TirInst *ins)
{
    const TirParam *p = &in->f->params.data[ins->param];
    const HostTensor *t = &in->args[ins->param].tensor;
    bool scatter = ins->op == TIR_SCATTER;
    ValId elems = scatter ? ins->args[ins->nargs - 1] : ins->res[0];
    TirElem *tile = storage(in, elems);
    for (int64_t k = 0, n = numel(in, elems); k < n; k++) {
        int64_t off = indexed_offset(in, ins, t, p->rank, k);
        if (!scatter) {
            tile[k] = off >= 0 ? read_elem(t, off) : (TirElem){ .i = 0 };
        } else if (off >= 0 && arg_elem(in, ins, p->rank, k).i) {
            if (ins->kind == SCATTER_STORE)
                write_elem(t, off, tile[k]);
            else
                atomic_update(t, off, ins->kind, tile[k]);
        }
    }
}

/* Argument k of a PRINT line, for fmt_apply: the values in order. */
typedef struct {
    const uint64_t *bits;
    int n, next;
} LineArgs;

static bool next_line_arg(void *ctx, int bytes, uint64_t *bits)
{
    LineArgs *a = ctx;
    (void)bytes; /* every argument is stored as 64 bits */
    if (a->next >= a->n)
        return false;
    *bits = a->bits[a->next++];
    return true;
}

/* One line per element (tir_print_format), to stdout in one write. */
static void exec_print(Interp *in, const TirInst *ins)
{
    StrBuf fmt, line;
    sb_init(&fmt);
    sb_init(&line);
    tir_print_format(in->f, ins, &fmt);
    TType shape = ttype_scalar(DT_I32);
    for (int a = 0; a < ins->nargs; a++)
        if (tir_type(in->f, ins->args[a]).rank)
            shape = tir_type(in->f, ins->args[a]);
    uint64_t *bits = tsr_xmalloc(sizeof(uint64_t) * (size_t)(3 + shape.rank + ins->nargs));
    for (int64_t k = 0, n = ttype_numel(shape); k < n; k++) {
        int nb = 0;
        for (int d = 0; d < 3; d++)
            bits[nb++] = (uint64_t)(uint32_t)in->pid[d];
        for (int d = 0, rest = (int)k; d < shape.rank; d++) { /* row-major index */
            int inner = d + 1 < shape.rank ? shape.shape[d + 1] : 1;
            bits[nb++] = (uint64_t)(uint32_t)(rest / inner);
            rest %= inner;
        }
        for (int a = 0; a < ins->nargs; a++) {
            TirElem e = arg_elem(in, ins, a, k);
            if (dtype_is_float(tir_type(in->f, ins->args[a]).dt)) {
                double d = e.f;
                memcpy(&bits[nb++], &d, sizeof d);
            } else {
                bits[nb++] = (uint64_t)e.i;
            }
        }
        LineArgs la = { bits, nb, 0 };
        FmtArgs fa = { next_line_arg, NULL, &la };
        line.len = 0;
        if (line.data)
            line.data[0] = 0;
        fmt_apply(&line, fmt.data, &fa);
        fputs(line.data, stdout);
    }
    free(bits);
    sb_free(&fmt);
    sb_free(&line);
}

/* A false element fails the launch with the assertion's message; the first
 * failure is the one reported, and no program starts after it. */
static void exec_assert(Interp *in, const TirInst *ins)
{
    const TirElem *c = storage(in, ins->args[0]);
    for (int64_t k = 0, n = numel(in, ins->args[0]); k < n; k++) {
        if (c[k].i)
            continue;
        if (in->job && atomic_exchange(&in->job->failed, 1) == 0)
            sb_printf(&in->job->failure, "assertion failed: %s (%s:%d) in program (%lld, %lld, %lld)",
                      in->f->texts.data[ins->ival], in->f->texts.data[ins->ival + 1], ins->pos.line,
                      (long long)in->pid[0], (long long)in->pid[1], (long long)in->pid[2]);
        return;
    }
}

static void exec_broadcast(Interp *in, ValId src, ValId dst)
{
    TType st = tir_type(in->f, src), dt = tir_type(in->f, dst);
    const TirElem *a = storage(in, src);
    TirElem *out = storage(in, dst);
    int64_t sstride[TIR_MAX_RANK], s = 1;
    for (int d = dt.rank - 1; d >= 0; d--) {
        sstride[d] = st.shape[d] == 1 ? 0 : s;
        s *= st.shape[d];
    }
    int64_t n = ttype_numel(dt), idx[TIR_MAX_RANK] = { 0 };
    for (int64_t k = 0; k < n; k++) {
        int64_t off = 0;
        for (int d = 0; d < dt.rank; d++)
            off += idx[d] * sstride[d];
        out[k] = a[off];
        for (int d = dt.rank - 1; d >= 0; d--) {
            if (++idx[d] < dt.shape[d])
                break;
            idx[d] = 0;
        }
    }
}

static void exec_dot(Interp *in, const TirInst *ins)
{
    TType ta = tir_type(in->f, ins->args[0]), tb = tir_type(in->f, ins->args[1]);
    int M = ta.shape[0], K = ta.shape[1], N = tb.shape[1];
    const TirElem *a = storage(in, ins->args[0]), *b = storage(in, ins->args[1]);
    TirElem *out = storage(in, ins->res[0]);
    const TirElem *c = ins->nargs == 3 ? storage(in, ins->args[2]) : NULL;
    float *row = tsr_xmalloc(sizeof(float) * (size_t)N); /* nothing allocates while it lives */
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++)
            row[j] = c ? c[(int64_t)i * N + j].f : 0.0f;
        for (int k = 0; k < K; k++) {
            float x = a[(int64_t)i * K + k].f;
            const TirElem *brow = b + (int64_t)k * N;
            for (int j = 0; j < N; j++)
                row[j] += x * brow[j].f;
        }
        for (int j = 0; j < N; j++)
            out[(int64_t)i * N + j].f = row[j];
    }
    free(row);
}

static void exec_reduce(Interp *in, const TirInst *ins)
{
    TType t = tir_type(in->f, ins->args[0]);
    int64_t outer = 1, len = t.shape[ins->axis], inner = 1;
    for (int d = 0; d < ins->axis; d++)
        outer *= t.shape[d];
    for (int d = ins->axis + 1; d < t.rank; d++)
        inner *= t.shape[d];
    const TirElem *a = storage(in, ins->args[0]);
    TirElem *out = storage(in, ins->res[0]);
    bool fl = dtype_is_float(t.dt);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const TirElem *p = a + o * len * inner + i;
            TirElem r = p[0];
            float facc = p[0].f;
            for (int64_t k = 1; k < len; k++) {
                TirElem x = p[k * inner];
                if (ins->kind == REDUCE_SUM) {
                    if (fl)
                        facc += x.f;
                    else
                        r.i = int_wrap((int64_t)((uint64_t)r.i + (uint64_t)x.i), t.dt);
                } else if (fl) {
                    facc = ins->kind == REDUCE_MAX ? fmaxf(facc, x.f) : fminf(facc, x.f);
                } else {
                    r.i = ins->kind == REDUCE_MAX ? (x.i > r.i ? x.i : r.i) : (x.i < r.i ? x.i : r.i);
                }
            }
            if (fl)
                r.f = round_to_dtype(facc, t.dt);
            out[o * inner + i] = r;
        }
}

static void exec_block(Interp *in, BlockId b);

static const TirInst *block_yield(Interp *in, BlockId b)
{
    TirBlock *bl = tir_block(in->f, b);
    return tir_inst(in->f, bl->insts.data[bl->insts.len - 1]);
}

static void exec_for(Interp *in, const TirInst *ins)
{
    TirFunc *f = in->f;
    TirBlock *body = tir_block(f, ins->blocks[0]);
    int nc = ins->nres;
    int64_t lb = storage(in, ins->args[0])[0].i, ub = storage(in, ins->args[1])[0].i,
            step = storage(in, ins->args[2])[0].i;
    for (int i = 0; i < nc; i++)
        copy_val(in, body->args.data[1 + i], ins->args[3 + i]);
    const TirInst *y = block_yield(in, ins->blocks[0]);
    for (int64_t iv = lb; step > 0 && iv < ub; iv += step) { /* sema makes run-time steps <= 0 empty loops */
        storage(in, body->args.data[0])[0].i = (int32_t)iv;
        exec_block(in, ins->blocks[0]);
        /* Yielded values may be other loop arguments: go through the results. */
        for (int i = 0; i < nc; i++)
            copy_val(in, ins->res[i], y->args[i]);
        for (int i = 0; i < nc; i++)
            copy_val(in, body->args.data[1 + i], ins->res[i]);
        if (ins->kind == TIR_FOR_EXIT && !storage(in, y->args[nc])[0].i)
            break; /* the body said stop */
    }
    for (int i = 0; i < nc; i++)
        copy_val(in, ins->res[i], body->args.data[1 + i]);
}

static void exec_inst(Interp *in, const TirInst *ins)
{
    TirFunc *f = in->f;
    switch (ins->op) {
    case TIR_CONST: storage(in, ins->res[0])[0] = tir_const_elem(ins, tir_type(f, ins->res[0]).dt); break;
    case TIR_PARAM:
        storage(in, ins->res[0])[0] = scalar_param(&in->args[ins->param], f->params.data[ins->param].dt);
        break;
    case TIR_DIM: storage(in, ins->res[0])[0].i = in->syms[ins->sym]; break;
    case TIR_PROGRAM_ID: storage(in, ins->res[0])[0].i = (int32_t)in->pid[ins->axis]; break;
    case TIR_NUM_PROGRAMS: storage(in, ins->res[0])[0].i = (int32_t)in->npid[ins->axis]; break;
    case TIR_SPLAT: {
        TirElem v = storage(in, ins->args[0])[0];
        TirElem *out = storage(in, ins->res[0]);
        for (int64_t k = 0, n = numel(in, ins->res[0]); k < n; k++)
            out[k] = v;
        break;
    }
    case TIR_BROADCAST: exec_broadcast(in, ins->args[0], ins->res[0]); break;
    case TIR_EXPAND_DIMS:
    case TIR_RESHAPE: /* row-major storage: the same elements in the same order */
    case TIR_CONVERT: copy_val(in, ins->res[0], ins->args[0]); break;
    case TIR_TRANSPOSE: {
        TType t = tir_type(f, ins->args[0]);
        const TirElem *a = storage(in, ins->args[0]);
        TirElem *out = storage(in, ins->res[0]);
        for (int i = 0; i < t.shape[0]; i++)
            for (int j = 0; j < t.shape[1]; j++)
                out[(int64_t)j * t.shape[0] + i] = a[(int64_t)i * t.shape[1] + j];
        break;
    }
    case TIR_ARANGE: {
        int32_t s = storage(in, ins->args[0])[0].i;
        TirElem *out = storage(in, ins->res[0]);
        for (int64_t k = 0, n = numel(in, ins->res[0]); k < n; k++)
            out[k].i = (int32_t)((uint32_t)s + (uint32_t)k);
        break;
    }
    case TIR_SELECT: {
        const TirElem *c = storage(in, ins->args[0]), *a = storage(in, ins->args[1]), *b = storage(in, ins->args[2]);
        TirElem *out = storage(in, ins->res[0]);
        for (int64_t k = 0, n = numel(in, ins->res[0]); k < n; k++)
            out[k] = c[k].i ? a[k] : b[k];
        break;
    }
    case TIR_DOT: exec_dot(in, ins); break;
    case TIR_REDUCE: exec_reduce(in, ins); break;
    case TIR_LOAD:
    case TIR_STORE: exec_access(in, ins); break;
    case TIR_GATHER:
    case TIR_SCATTER: exec_indexed(in, ins); break;
    case TIR_PRINT: exec_print(in, ins); break;
    case TIR_ASSERT: exec_assert(in, ins); break;
    case TIR_FOR: exec_for(in, ins); break;
    case TIR_IF: {
        BlockId b = storage(in, ins->args[0])[0].i ? ins->blocks[0] : ins->blocks[1];
        exec_block(in, b);
        const TirInst *y = block_yield(in, b);
        for (int i = 0; i < ins->nres; i++)
            copy_val(in, ins->res[i], y->args[i]);
        break;
    }
    case TIR_YIELD: break; /* read by the owner */
    default:
        if (tir_op_is_binary(ins->op)) {
            tir_eval_binary(ins->op, tir_type(f, ins->args[0]).dt, numel(in, ins->res[0]), storage(in, ins->args[0]),
                            storage(in, ins->args[1]), storage(in, ins->res[0]));
        } else if (tir_op_is_unary(ins->op)) {
            tir_eval_unary(ins->op, tir_type(f, ins->args[0]).dt, tir_type(f, ins->res[0]).dt,
                           numel(in, ins->res[0]), storage(in, ins->args[0]), storage(in, ins->res[0]));
        } else {
            tsr_die("interp: op %s", tir_op_name(ins->op));
        }
    }
}

static void exec_block(Interp *in, BlockId b)
{
    TirBlock *bl = tir_block(in->f, b);
    for (int i = 0; i < bl->insts.len; i++)
        exec_inst(in, tir_inst(in->f, bl->insts.data[i]));
}

/* ------------------------------------------------------------- launching */

bool kernel_bind_args(TirFunc *f, const KernelArg *args, int nargs, int32_t *sym_vals, StrBuf *err)
{
    if (nargs != f->params.len) {
        sb_printf(err, "kernel '%s' takes %d arguments, %d given", f->name, f->params.len, nargs);
        return false;
    }
    for (int s = 0; s < f->syms.len; s++)
        sym_vals[s] = -1;
    for (int i = 0; i < nargs; i++) {
        const TirParam *p = &f->params.data[i];
        if (args[i].is_tensor != p->is_tensor) {
            sb_printf(err, "argument '%s' must be a %s", p->name, p->is_tensor ? "tensor" : "scalar");
            return false;
        }
        if (!p->is_tensor) {
            if (dtype_is_int(p->dt) && !scalar_fits(args[i].scalar, p->dt)) {
                sb_printf(err, "scalar argument '%s' must be an integer in the range of %s, not %g", p->name,
                          dtype_name(p->dt), args[i].scalar);
                return false;
            }
            continue;
        }
        const HostTensor *t = &args[i].tensor;
        if (t->dt != p->dt) {
            sb_printf(err, "tensor '%s' must have dtype %s, not %s", p->name, dtype_name(p->dt), dtype_name(t->dt));
            return false;
        }
        if (t->rank != p->rank) {
            sb_printf(err, "tensor '%s' must have %d dimensions, not %d", p->name, p->rank, t->rank);
            return false;
        }
        bool empty = false;
        for (int d = 0; d < p->rank; d++) {
            int64_t n = t->shape[d];
            if (n < 0 || n > INT32_MAX) {
                sb_printf(err, "dimension %d of tensor '%s' is %lld, outside 0..2^31-1", d, p->name, (long long)n);
                return false;
            }
            empty |= n == 0;
            if (p->dim_sym[d] == TIR_NONE) {
                if (n != p->dim_const[d]) {
                    sb_printf(err, "dimension %d of tensor '%s' must be %lld, not %lld", d, p->name,
                              (long long)p->dim_const[d], (long long)n);
                    return false;
                }
                continue;
            }
            int s = p->dim_sym[d];
            if (sym_vals[s] >= 0 && sym_vals[s] != n) {
                const TirSym *sym = &f->syms.data[s];
                sb_printf(err, "dimension '%s' is %d in tensor '%s' but %lld in tensor '%s' (dimension %d)", sym->name,
                          sym_vals[s], f->params.data[sym->param].name, (long long)n, p->name, d);
                return false;
            }
            sym_vals[s] = (int32_t)n;
        }
        /* A tensor without elements is never accessed: frameworks hand
         * these out with NULL data. */
        if (!t->data && !empty) {
            sb_printf(err, "tensor '%s' has a null data pointer", p->name);
            return false;
        }
    }
    return true;
}

/* A block run as a guarded stage (support/oom.h): running out of memory
 * unwinds to here; the values' storage belongs to the Interp, which the
 * caller frees either way. */
typedef struct {
    Interp *in;
    BlockId b;
} BlockRun;

static void run_block(void *arg)
{
    BlockRun *r = arg;
    exec_block(r->in, r->b);
}

static bool exec_guarded(Interp *in, BlockId b)
{
    BlockRun r = { in, b };
    return oom_run(run_block, &r);
}

static void free_vals(Interp *in)
{
    if (!in->vals)
        return;
    for (int v = 0; v < in->f->vals.len; v++)
        free(in->vals[v]);
    free(in->vals);
    in->vals = NULL;
}

static InterpStatus out_of_memory(StrBuf *err)
{
    sb_puts(err, "out of host memory in the interpreter");
    return INTERP_OUT_OF_MEMORY;
}

InterpStatus kernel_eval_grid_status(TirFunc *f, const KernelArg *args, const int32_t *sym_vals, int64_t grid[3],
                                     StrBuf *err)
{
    Interp in = { 0 };
    in.f = f;
    in.args = args;
    in.syms = sym_vals;
    in.vals = calloc((size_t)f->vals.len + 1, sizeof(TirElem *));
    if (!in.vals)
        return out_of_memory(err);
    if (!exec_guarded(&in, f->grid_block)) {
        free_vals(&in);
        return out_of_memory(err);
    }
    InterpStatus s = INTERP_OK;
    for (int i = 0; i < 3; i++) {
        grid[i] = storage(&in, f->grid[i])[0].i;
        if (s == INTERP_OK && (grid[i] < 0 || (i > 0 && grid[i] > 65535))) {
            sb_printf(err, "grid size %d of kernel '%s' is %lld, outside 0..%d", i, f->name, (long long)grid[i],
                      i ? 65535 : INT32_MAX);
            s = INTERP_ERROR;
        }
    }
    free_vals(&in);
    return s;
}

bool kernel_eval_grid(TirFunc *f, const KernelArg *args, const int32_t *sym_vals, int64_t grid[3], StrBuf *err)
{
    return kernel_eval_grid_status(f, args, sym_vals, grid, err) == INTERP_OK;
}



/* The programs a worker takes, one after another. */
static void run_programs(void *arg)
{
    Interp *in = arg;
    Job *job = in->job;
    int64_t total = job->grid[0] * job->grid[1] * job->grid[2];
    while (!atomic_load(&job->out_of_memory) && !atomic_load(&job->failed)) {
        int64_t k = atomic_fetch_add(&job->next, 1);
        if (k >= total)
            break;
        in->pid[0] = k % job->grid[0];
        in->pid[1] = (k / job->grid[0]) % job->grid[1];
        in->pid[2] = k / (job->grid[0] * job->grid[1]);
        exec_block(in, job->f->body);
    }
}

static void *worker(void *arg)
{
    Job *job = arg;
    Interp in = { 0 };
    in.f = job->f;
    in.args = job->args;
    in.syms = job->syms;
    in.job = job;
    in.vals = calloc((size_t)job->f->vals.len + 1, sizeof(TirElem *));
    for (int i = 0; i < 3; i++)
        in.npid[i] = job->grid[i];
    if (!in.vals || !oom_run(run_programs, &in))
        atomic_store(&job->out_of_memory, 1);
    free_vals(&in);
    return NULL;
}

InterpStatus interp_launch_status(TirFunc *f, const KernelArg *args, int nargs, int threads, StrBuf *err)
{
    int32_t *syms = calloc((size_t)f->syms.len + 1, sizeof(int32_t));
    if (!syms)
        return out_of_memory(err);
    Job job = { 0 };
    atomic_init(&job.out_of_memory, 0);
    atomic_init(&job.failed, 0);
    sb_init_soft(&job.failure);
    InterpStatus s = kernel_bind_args(f, args, nargs, syms, err) ? kernel_eval_grid_status(f, args, syms, job.grid, err)
                                                                 : INTERP_ERROR;
    bool ok = s == INTERP_OK;
    if (ok && job.grid[0] * job.grid[1] * job.grid[2] > 0) {
        job.f = f;
        job.args = args;
        job.syms = syms;
        atomic_init(&job.next, 0);
        if (threads <= 0) {
            long n = sysconf(_SC_NPROCESSORS_ONLN);
            threads = n > 0 ? (int)n : 1;
        }
        int64_t total = job.grid[0] * job.grid[1] * job.grid[2];
        if (threads > total)
            threads = (int)total;
        if (threads > 64)
            threads = 64;
        pthread_t tids[64];
        int started = 0;
        for (int i = 1; i < threads; i++)
            if (pthread_create(&tids[started], NULL, worker, &job) == 0)
                started++;
        worker(&job);
        for (int i = 0; i < started; i++)
            pthread_join(tids[i], NULL);
        if (atomic_load(&job.out_of_memory)) {
            s = out_of_memory(err);
        } else if (atomic_load(&job.failed)) {
            sb_puts(err, job.failure.data);
            s = INTERP_ERROR;
        }
    }
    sb_free(&job.failure);
    free(syms);
    return s;
}

bool interp_launch(TirFunc *f, const KernelArg *args, int nargs, int threads, StrBuf *err)
{
    return interp_launch_status(f, args, nargs, threads, err) == INTERP_OK;
}
