/* `tessera-bench attention`: for each configuration, Tessera's flash
 * attention (tsr_attention_forward) and the reference attention of
 * kernels/attention_naive.tsr, which materializes the score matrix, run on
 * one device on the same random inputs. Each is checked once on poisoned
 * outputs against the double-precision reference (kernels/reference.h), all
 * rows for small shapes and sampled rows and heads for large ones, then
 * timed. A backward configuration times tsr_attention_backward (on O and
 * LSE from one forward run) and checks dQ, dK and dV against the reference
 * gradients of the whole problem, or of its first group of heads when that
 * is too big, or not at all when even that is (no reference implementation
 * of the backward pass is timed). Timing is on cuda with CUDA events around each launch after a warm-up, the L2
 * flushed before each run by a fill kernel over a buffer larger than L2; on
 * emu and interp with the host clock (CPU times). */
#define _POSIX_C_SOURCE 200809L
#include "attention_config.h"
#include "bench.h"
#include "npy.h"
#include "reference.h"
#include "rng.h"
#include "util.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The fill kernel that flushes the L2 cache between timed runs. */
static const char flush_source[] =
    "kernel l2_flush<BLOCK: int = 4096>(X: out i32[N], v: i32) grid (cdiv(N, BLOCK)) warps 4\n"
    "{\n"
    "    X[program_id(0) * BLOCK : +BLOCK] = v;\n"
    "}\n";

enum { L2_FLUSH_BYTES = 256 << 20, CPU_FLUSH_BYTES = 1 << 20 };
/* The reference's score and probability matrices of one batch of heads at
 * most this large (more heads are done in several launches). */
static const double REF_MATRIX_BYTES = 3.0 * (1 << 30);
/* Configurations with at most this many multiply-adds in the check get every
 * row checked. */
static const double CHECK_ALL_MACS = 1 << 26;
/* The backward's reference gradients: of the whole problem up to this many
 * multiply-adds of Q K^T, else of one group of heads up to the second. */
static const double BWD_CHECK_ALL_MACS = 1 << 28, BWD_CHECK_GROUP_MACS = 1u << 31;

/* ------------------------------------------------------------ utilities */


/* Elements as 16-bit host words: f16 and bf16 bits, or an fp8 code. */
static uint16_t to_bits(float f, DType dt)
{
    if (dtype_is_fp8(dt))
        return f32_to_fp8_bits(f, dt);
    return dt == DT_BF16 ? f32_to_bf16_bits(f) : f32_to_f16_bits(f);
}

static float from_bits(uint16_t h, DType dt)
{
    if (dtype_is_fp8(dt))
        return fp8_bits_to_f32((uint8_t)h, dt);
    return dt == DT_BF16 ? bf16_bits_to_f32(h) : f16_bits_to_f32(h);
}

/* The dtype of the outputs: the inputs', but bf16 for fp8 inputs (as
 * FlashAttention-3 stores them). */
static DType out_dtype(DType dt) { return dtype_is_fp8(dt) ? DT_BF16 : dt; }

static DLDataType dl_type(DType dt)
{
    DLDataType d = { kDLFloat, 16, 1 };
    if (dt == DT_BF16)
        d.code = kDLBfloat;
    else if (dt == DT_F32)
        d.bits = 32;
    else if (dtype_is_fp8(dt))
        d = (DLDataType){ dt == DT_E4M3 ? NPY_DL_FLOAT8_E4M3FN : NPY_DL_FLOAT8_E5M2, 8, 1 };
    return d;
}

void bench_progress(bool quiet, const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

/* ----------------------------------------------------------- the inputs */

/* Random normal inputs of one dtype (q, k, v and the backward's dout):
 * bits for the device and their exact values as floats for the references.
 * Made once per dtype at the largest size a configuration needs; a
 * configuration uses the first elements. */
enum { NINPUTS = 4 };
typedef struct {
    DType dt;
    int64_t n;
    uint16_t *bits[NINPUTS];
    float *vals[NINPUTS];
} Inputs;

static void inputs_free(Inputs *in)
{
    for (int i = 0; i < NINPUTS; i++) {
        free(in->bits[i]);
        free(in->vals[i]);
        in->bits[i] = NULL;
        in->vals[i] = NULL;
    }
    in->n = 0;
}

static bool inputs_make(Inputs *in, DType dt, int64_t n, uint64_t seed)
{
    inputs_free(in);
    in->dt = dt;
    in->n = n;
    for (int i = 0; i < NINPUTS; i++) {
        in->bits[i] = malloc(sizeof(uint16_t) * (size_t)n);
        in->vals[i] = malloc(sizeof(float) * (size_t)n);
        if (!in->bits[i] || !in->vals[i])
            return false;
        SplitMix r = { seed * 3 + (uint64_t)i + 1 };
        for (int64_t j = 0; j < n; j++) {
            uint16_t b = to_bits((float)splitmix_normal(&r), dt);
            in->bits[i][j] = b;
            in->vals[i][j] = from_bits(b, dt);
        }
    }
    return true;
}

/* ------------------------------------------------------------- the device */

typedef struct {
    char key[48];
    tsr_module *mod;
    tsr_kernel *kernel;
} CachedKernel;

typedef struct {
    const BenchOptions *o;
    const BenchHooks *hooks;
    BenchRun *run;
    tsr_context *ctx;
    bool cuda;
    tsr_event *ev[2];
    tsr_kernel *flush;
    void *flush_buf;
    CachedKernel kernels[64];
    int nkernels;
    char msg[1024]; /* why the last call failed */
} Bench;

/* Keeps the message of a failed call (from the handle that has it). */
static tsr_status failed(Bench *b, tsr_status s, const char *what, const char *msg)
{
    if (s != TSR_OK)
        snprintf(b->msg, sizeof b->msg, "%s: %s: %s", what, tsr_status_name(s), msg && *msg ? msg : "no message");
    return s;
}

#define CTX_CALL(b, what, call) failed((b), (call), (what), tsr_context_error((b)->ctx))
#define KERNEL_CALL(b, k, what, call) failed((b), (call), (what), tsr_kernel_error(k))

typedef struct {
    void *mem;
    DLTensor t;
    int64_t shape[4];
    size_t bytes;
} DevTensor;

static tsr_status dev_tensor(Bench *b, DevTensor *d, DType dt, int ndim, const int64_t *shape)
{
    memset(d, 0, sizeof *d);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        d->shape[i] = shape[i];
        n *= (size_t)shape[i];
    }
    d->bytes = n * (size_t)dtype_size(dt);
    d->t.device = tsr_context_dl_device(b->ctx);
    d->t.ndim = ndim;
    d->t.dtype = dl_type(dt);
    d->t.shape = d->shape;
    tsr_status s = CTX_CALL(b, "tsr_malloc", tsr_malloc(b->ctx, d->bytes, &d->mem));
    d->t.data = d->mem;
    return s;
}

static void dev_free(Bench *b, DevTensor *d)
{
    if (d->mem)
        tsr_free(b->ctx, d->mem);
    d->mem = NULL;
}

/* Heads [h0, h0 + nh) of batch element bi of a [B, H, S, D] tensor, as a
 * [1, nh, S, D] tensor (shape: 4 elements for the view). */
static DLTensor head_view(const DevTensor *d, int bi, int h0, int nh, int64_t *shape)
{
    DLTensor v = d->t;
    int64_t H = d->shape[1], S = d->shape[2], D = d->shape[3];
    shape[0] = 1;
    shape[1] = nh;
    shape[2] = S;
    shape[3] = D;
    v.shape = shape;
    v.byte_offset = (uint64_t)(((int64_t)bi * H + h0) * S * D) * (uint64_t)(d->t.dtype.bits / 8);
    return v;
}

/* A kernel of a small module (src, named source_name in diagnostics),
 * compiled once per run. */
static tsr_status get_kernel(Bench *b, const char *src, const char *source_name, const char *name,
                             const tsr_define *defs, int ndefs, tsr_kernel **out)
{
    char key[48];
    int len = snprintf(key, sizeof key, "%s", name);
    for (int i = 0; i < ndefs && len < (int)sizeof key; i++)
        len += snprintf(key + len, sizeof key - (size_t)len, ":%s", defs[i].value);
    for (int i = 0; i < b->nkernels; i++)
        if (!strcmp(b->kernels[i].key, key)) {
            *out = b->kernels[i].kernel;
            return TSR_OK;
        }
    if (b->nkernels == (int)TSR_ARRAY_LEN(b->kernels))
        return failed(b, TSR_ERR_OUT_OF_MEMORY, name, "too many reference kernels");
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.defines = defs;
    co.ndefines = ndefs;
    co.kernel = name;
    co.source_name = source_name;
    CachedKernel *c = &b->kernels[b->nkernels];
    tsr_status s = CTX_CALL(b, "compiling a kernel", tsr_module_compile(b->ctx, src, strlen(src), &co, &c->mod));
    if (s == TSR_OK)
        s = failed(b, tsr_module_get_kernel(c->mod, name, &c->kernel), name, tsr_module_error(c->mod));
    if (s != TSR_OK) {
        tsr_module_destroy(c->mod);
        c->mod = NULL;
        return s;
    }
    snprintf(c->key, sizeof c->key, "%s", key);
    b->nkernels++;
    *out = c->kernel;
    return TSR_OK;
}

/* Queues the L2 flush (cuda only). The launch is asynchronous: the host
 * prepares the timed launch while the GPU flushes, so the host's launch
 * overhead stays out of the time. */
static tsr_status flush_l2(Bench *b, int round)
{
    if (!b->cuda && !(b->hooks && b->hooks->flush_on_cpu))
        return TSR_OK;
    size_t bytes = b->cuda ? L2_FLUSH_BYTES : CPU_FLUSH_BYTES;
    if (!b->flush) {
        tsr_status s = get_kernel(b, flush_source, "l2_flush", "l2_flush", NULL, 0, &b->flush);
        if (s == TSR_OK)
            s = CTX_CALL(b, "tsr_malloc (L2 flush)", tsr_malloc(b->ctx, bytes, &b->flush_buf));
        if (s != TSR_OK)
            return s;
        b->run->l2_flush_bytes = bytes;
    }
    int64_t shape[1] = { (int64_t)(bytes / 4) };
    DLTensor t = { b->flush_buf, tsr_context_dl_device(b->ctx), 1, { kDLInt, 32, 1 }, shape, NULL, 0 };
    tsr_status s = KERNEL_CALL(b, b->flush, "l2_flush", tsr_kernel_set_tensor(b->flush, 0, &t));
    if (s == TSR_OK)
        s = KERNEL_CALL(b, b->flush, "l2_flush", tsr_kernel_set_scalar(b->flush, 1, round & 0xffff));
    if (s == TSR_OK)
        s = KERNEL_CALL(b, b->flush, "l2_flush", tsr_kernel_launch(b->flush, NULL));
    return s;
}

static tsr_status upload(Bench *b, DevTensor *d, const uint16_t *bits)
{
    if (d->t.dtype.bits != 8)
        return CTX_CALL(b, "tsr_memcpy", tsr_memcpy(b->ctx, d->mem, bits, d->bytes, TSR_COPY_HOST_TO_DEVICE, NULL));
    uint8_t *codes = malloc(d->bytes ? d->bytes : 1); /* fp8: one byte an element */
    if (!codes)
        return failed(b, TSR_ERR_OUT_OF_MEMORY, "upload", "out of host memory");
    for (size_t i = 0; i < d->bytes; i++)
        codes[i] = (uint8_t)bits[i];
    tsr_status s =
        CTX_CALL(b, "tsr_memcpy", tsr_memcpy(b->ctx, d->mem, codes, d->bytes, TSR_COPY_HOST_TO_DEVICE, NULL));
    free(codes);
    return s;
}

/* ------------------------------------------------------ implementations */

typedef struct {
    DevTensor q, k, v, o, lse;      /* Tessera's */
    DevTensor slopes, cuq, cuk;     /* its features' tensors (--alibi, --varlen) */
    DevTensor table, seqk;          /* --paged: k and v are the caches, these their block table and lengths */
    DevTensor dout, dq, dk, dv;     /* and its backward's */
    DevTensor ref_o, scores, probs; /* the reference's */
    int heads_per_launch;           /* of the reference */
    float scale;
} Buffers;

typedef enum { IMPL_TESSERA, IMPL_REFERENCE } Impl;

/* Binds the named tensors and launches. */
static tsr_status launch(Bench *b, tsr_kernel *k, const char *const *names, const DLTensor *const *ts, int n)
{
    tsr_status s = TSR_OK;
    for (int i = 0; i < n && s == TSR_OK; i++)
        s = tsr_kernel_set_tensor_by_name(k, names[i], ts[i]);
    if (s == TSR_OK)
        s = tsr_kernel_launch(k, NULL);
    return KERNEL_CALL(b, k, tsr_kernel_name(k), s);
}

/* Tessera's forward kernel with the blocks of o->forward_config (a
 * candidate of `tessera-bench tune`), launched directly. */
static tsr_status run_forward_config(Bench *b, const BenchConfig *c, Buffers *x)
{
    const AttnConfig *cfg = b->o->forward_config;
    char d[16], bm[16], bn[16], w[16], st[16];
    snprintf(d, sizeof d, "%d", c->D);
    snprintf(bm, sizeof bm, "%d", cfg->bm);
    snprintf(bn, sizeof bn, "%d", cfg->bn);
    snprintf(w, sizeof w, "%d", cfg->warps ? cfg->warps : 4);
    snprintf(st, sizeof st, "%d", cfg->stages ? cfg->stages : 2);
    tsr_define defs[] = { { "T", dtype_name(c->dt) }, { "D", d }, { "BM", bm }, { "BN", bn },
                          { "CAUSAL", c->causal ? "true" : "false" }, { "W", w }, { "STAGES", st } };
    tsr_kernel *k;
    tsr_status s = get_kernel(b, tsr_attention_source, "attention.tsr", TSR_ATTENTION_KERNEL, defs,
                              (int)TSR_ARRAY_LEN(defs), &k);
    if (s == TSR_OK)
        s = KERNEL_CALL(b, k, "attention_fwd", tsr_kernel_set_scalar_by_name(k, "scale", x->scale));
    static const char *const names[] = { "Q", "K", "V", "O", "LSE" };
    const DLTensor *ts[] = { &x->q.t, &x->k.t, &x->v.t, &x->o.t, &x->lse.t };
    return s == TSR_OK ? launch(b, k, names, ts, 5) : s;
}

static tsr_status run_tessera(Bench *b, const BenchConfig *c, Buffers *x)
{
    if (b->o->forward_config && !c->backward && !bench_features_on(&c->feat))
        return run_forward_config(b, c, x);
    if (c->backward)
        return CTX_CALL(b, "tsr_attention_backward",
                        tsr_attention_backward(b->ctx, &x->q.t, &x->k.t, &x->v.t, &x->o.t, &x->lse.t, &x->dout.t,
                                               &x->dq.t, &x->dk.t, &x->dv.t, x->scale, c->causal, NULL));
    if (!bench_features_on(&c->feat))
        return CTX_CALL(b, "tsr_attention_forward",
                        tsr_attention_forward(b->ctx, &x->q.t, &x->k.t, &x->v.t, &x->o.t, &x->lse.t, x->scale,
                                              c->causal, NULL));
    tsr_attention_options op;
    tsr_attention_options_init(&op);
    op.scale = x->scale;
    op.causal = c->causal;
    op.local = c->feat.local;
    op.window_left = c->feat.window_left;
    op.window_right = c->feat.window_right;
    op.softcap = (float)c->feat.softcap;
    op.alibi_slopes = c->feat.alibi ? &x->slopes.t : NULL;
    if (c->feat.nvarlen) {
        op.cu_seqlens_q = &x->cuq.t;
        op.cu_seqlens_k = &x->cuk.t;
        op.max_seqlen_q = c->Sq;
    }
    if (c->feat.paged) {
        op.block_table = &x->table.t;
        op.cache_seqlens = &x->seqk.t;
        op.num_splits = c->feat.splits;
    }
    return CTX_CALL(b, "tsr_attention_forward_ex",
                    tsr_attention_forward_ex(b->ctx, &x->q.t, &x->k.t, &x->v.t, &x->o.t, &x->lse.t, &op, NULL));
}

/* The reference: for each batch element and each group of heads whose
 * matrices fit in memory, scores, softmax and P V. */
static tsr_status run_reference(Bench *b, const BenchConfig *c, Buffers *x)
{
    char d[16], bm_pv[16];
    snprintf(d, sizeof d, "%d", c->D);
    snprintf(bm_pv, sizeof bm_pv, "%d", c->D > 128 ? 32 : 64);
    const char *t = dtype_name(c->dt);
    tsr_define sdefs[] = { { "T", t }, { "D", d }, { "CAUSAL", c->causal ? "true" : "false" } };
    tsr_define mdefs[] = { { "T", t } };
    tsr_define pdefs[] = { { "T", t }, { "D", d }, { "BM", bm_pv } };
    tsr_kernel *ks, *km, *kp;
    tsr_status s = get_kernel(b, tsr_attention_naive_source, "attention_naive.tsr", "attn_scores", sdefs, 3, &ks);
    if (s == TSR_OK)
        s = get_kernel(b, tsr_attention_naive_source, "attention_naive.tsr", "attn_softmax", mdefs, 1, &km);
    if (s == TSR_OK)
        s = get_kernel(b, tsr_attention_naive_source, "attention_naive.tsr", "attn_pv", pdefs, 3, &kp);
    if (s == TSR_OK)
        s = KERNEL_CALL(b, ks, "attn_scores", tsr_kernel_set_scalar_by_name(ks, "scale", x->scale));
    int group = c->Hq / c->Hkv;
    for (int bi = 0; bi < c->B && s == TSR_OK; bi++)
        for (int h0 = 0; h0 < c->Hq && s == TSR_OK; h0 += x->heads_per_launch) {
            int nh = c->Hq - h0 < x->heads_per_launch ? c->Hq - h0 : x->heads_per_launch;
            int64_t qs[4], kvs[4], os[4], ms[4] = { 1, nh, c->Sq, c->Sk };
            DLTensor q = head_view(&x->q, bi, h0, nh, qs);
            DLTensor k = head_view(&x->k, bi, h0 / group, nh / group, kvs);
            DLTensor v = head_view(&x->v, bi, h0 / group, nh / group, kvs);
            DLTensor o = head_view(&x->ref_o, bi, h0, nh, os);
            DLTensor sc = x->scores.t, p = x->probs.t;
            sc.shape = ms;
            p.shape = ms;
            static const char *const sn[] = { "Q", "K", "S" }, *const mn[] = { "S", "P" },
                                     *const pn[] = { "P", "V", "O" };
            const DLTensor *st[] = { &q, &k, &sc }, *mt[] = { &sc, &p }, *pt[] = { &p, &v, &o };
            s = launch(b, ks, sn, st, 3);
            if (s == TSR_OK)
                s = launch(b, km, mn, mt, 2);
            if (s == TSR_OK)
                s = launch(b, kp, pn, pt, 3);
        }
    return s;
}

static tsr_status run_impl(Bench *b, Impl impl, const BenchConfig *c, Buffers *x)
{
    return impl == IMPL_TESSERA ? run_tessera(b, c, x) : run_reference(b, c, x);
}

/* ------------------------------------------------------------ the check */

/* The problems the rows checked belong to: the dense batch (one problem
 * of B) or each sequence of a packed one (B = 1 each, its inputs gathered
 * into the reference's [1, H, S, D] layout). */
typedef struct {
    AttnShape s;
    AttnInputs in;
    int64_t q0;      /* packed: the sequence's first row of the packed tensors */
    bool owned;      /* in's arrays are this problem's copies */
} RefProblem;

/* The rows checked and their double-precision reference (and the
 * yardstick: the same rows in the kernel's precision). A row is named by
 * its index in the memory order of O's rows: (b, h, r) of [B, Hq, Sq], or
 * (t, h) of a packed [total, Hq]; its output starts at row * D either
 * way. */
typedef struct {
    const BenchConfig *c;
    const Inputs *in;
    int64_t n, total_rows;
    int64_t *row;
    double *o, *lse;
    float *lowp;
    int nthreads;
    RefProblem *prob;
    int nprob;
    AttnFeatures feat;
    float *slopes;
} RefRows;

/* The problem, head and row of the checked row `row`, and its LSE's index
 * (LSE is [B, Hq, Sq], or [Hq, total] when packed). */
static const RefProblem *row_of(const RefRows *rr, int64_t row, int *bi, int *h, int *r, int64_t *lse_at)
{
    const BenchConfig *c = rr->c;
    if (!c->feat.nvarlen) {
        *r = (int)(row % c->Sq);
        *h = (int)(row / c->Sq % c->Hq);
        *bi = (int)(row / c->Sq / c->Hq);
        *lse_at = row;
        return &rr->prob[0];
    }
    int64_t t = row / c->Hq, total = rr->total_rows / c->Hq;
    *h = (int)(row % c->Hq);
    *bi = 0;
    *lse_at = (int64_t)*h * total + t;
    int p = 0;
    while (p + 1 < rr->nprob && rr->prob[p + 1].q0 <= t)
        p++;
    *r = (int)(t - rr->prob[p].q0);
    return &rr->prob[p];
}

static void *ref_rows_worker(void *arg)
{
    RefRows *rr = ((void **)arg)[0];
    int id = (int)(intptr_t)((void **)arg)[1];
    const BenchConfig *c = rr->c;
    for (int64_t i = id; i < rr->n; i += rr->nthreads) {
        int bi, h, r;
        int64_t lse_at;
        const RefProblem *p = row_of(rr, rr->row[i], &bi, &h, &r, &lse_at);
        ref_attention_row_ext(&p->s, &rr->feat, &p->in, bi, h, r, rr->o + i * c->D, &rr->lse[i]);
        if (dtype_is_fp8(c->dt)) /* FlashAttention-3's precision; fp8 takes no features */
            ref_attention_row_fp8(&p->s, &p->in, out_dtype(c->dt), bi, h, r, rr->lowp + i * c->D);
        else
            ref_attention_row_lowp_ext(&p->s, &rr->feat, &p->in, c->dt, bi, h, r, rr->lowp + i * c->D);
    }
    return NULL;
}

static void ref_rows_free(RefRows *rr)
{
    for (int p = 0; p < rr->nprob; p++)
        if (rr->prob[p].owned) {
            free((void *)rr->prob[p].in.q);
            free((void *)rr->prob[p].in.k);
            free((void *)rr->prob[p].in.v);
        }
    free(rr->prob);
    free(rr->slopes);
    free(rr->row);
    free(rr->o);
    free(rr->lse);
    free(rr->lowp);
    memset(rr, 0, sizeof *rr);
}

/* Rows first .. first + len - 1 of a packed [total, H, D] array as a
 * [1, H, len, D] one. */
static float *gather_rows(const float *src, int H, int D, int64_t first, int len)
{
    float *dst = malloc(sizeof(float) * ((size_t)H * (size_t)len * (size_t)D + 1));
    for (int h = 0; dst && h < H; h++)
        for (int r = 0; r < len; r++)
            memcpy(dst + ((int64_t)h * len + r) * D, src + ((first + r) * H + h) * D, sizeof(float) * (size_t)D);
    return dst;
}

/* The problems of c: one dense one, or a sequence each. */
static bool ref_problems(RefRows *rr, const BenchConfig *c, const Inputs *in)
{
    AttnShape s = { c->B, c->Hq, c->Hkv, c->Sq, c->Sk, c->D, c->causal, 1.0 / sqrt((double)c->D) };
    rr->nprob = c->feat.nvarlen ? c->feat.nvarlen : 1;
    rr->prob = calloc((size_t)rr->nprob, sizeof *rr->prob);
    rr->slopes = malloc(sizeof(float) * (size_t)c->Hq);
    if (!rr->prob || !rr->slopes)
        return false;
    for (int h = 0; h < c->Hq; h++)
        rr->slopes[h] = bench_alibi_slope(h, c->Hq);
    AttnFeatures f = { c->feat.local, c->feat.window_left, c->feat.window_right, c->feat.softcap,
                       c->feat.alibi ? rr->slopes : NULL };
    rr->feat = f;
    if (!c->feat.nvarlen) {
        rr->prob[0].s = s;
        rr->prob[0].in = (AttnInputs){ in->vals[0], in->vals[1], in->vals[2] };
        rr->total_rows = (int64_t)c->B * c->Hq * c->Sq;
        return true;
    }
    int64_t t = 0;
    for (int p = 0; p < rr->nprob; p++) {
        RefProblem *q = &rr->prob[p];
        int len = c->feat.varlen[p];
        q->s = s;
        q->s.B = 1;
        q->s.Sq = q->s.Sk = len;
        q->q0 = t;
        q->owned = true;
        q->in.q = gather_rows(in->vals[0], c->Hq, c->D, t, len);
        q->in.k = gather_rows(in->vals[1], c->Hkv, c->D, t, len);
        q->in.v = gather_rows(in->vals[2], c->Hkv, c->D, t, len);
        if (!q->in.q || !q->in.k || !q->in.v)
            return false;
        t += len;
    }
    rr->total_rows = t * c->Hq;
    return true;
}

/* Picks the rows (all, or check_rows of them: the first and last row of the
 * first and last head, the rest at random) and computes their references on
 * all cores. */
static bool ref_rows_make(RefRows *rr, const BenchConfig *c, const Inputs *in, int sample, uint64_t seed)
{
    memset(rr, 0, sizeof *rr);
    rr->c = c;
    rr->in = in;
    if (!ref_problems(rr, c, in))
        return false;
    int64_t rows = rr->total_rows;
    bool all = (double)rows * c->Sk * c->D <= CHECK_ALL_MACS || rows <= sample;
    rr->n = all ? rows : sample;
    rr->row = malloc(sizeof(int64_t) * (size_t)(rr->n + 1));
    rr->o = malloc(sizeof(double) * (size_t)(rr->n * c->D + 1));
    rr->lse = malloc(sizeof(double) * (size_t)(rr->n + 1));
    rr->lowp = malloc(sizeof(float) * (size_t)(rr->n * c->D + 1));
    if (!rr->row || !rr->o || !rr->lse || !rr->lowp)
        return false;
    if (rr->n == 0)
        return true;
    SplitMix rng = { seed };
    for (int64_t i = 0; i < rr->n; i++)
        rr->row[i] = all ? i : i == 0 ? 0 : i == 1 ? rows - 1 : (int64_t)(splitmix_next(&rng) % (uint64_t)rows);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    rr->nthreads = (int)(cores < 1 ? 1 : cores > 32 ? 32 : cores);
    if (rr->nthreads > rr->n)
        rr->nthreads = (int)rr->n;
    pthread_t th[32];
    bool started[32] = { false };
    void *args[32][2];
    for (int t = 0; t < rr->nthreads; t++) {
        args[t][0] = rr;
        args[t][1] = (void *)(intptr_t)t;
        started[t] = t > 0 && pthread_create(&th[t], NULL, ref_rows_worker, args[t]) == 0;
    }
    for (int t = 0; t < rr->nthreads; t++)
        if (!started[t])
            ref_rows_worker(args[t]); /* this thread's share, and any a thread could not take */
    for (int t = 1; t < rr->nthreads; t++)
        if (started[t])
            pthread_join(th[t], NULL);
    return true;
}

/* Downloads an implementation's output (and Tessera's LSE) after the check
 * run and measures it against the reference rows. Elements still holding the
 * poison (NaN) anywhere in the outputs count as unwritten. */
static bool check_outputs(Bench *b, Impl impl, const BenchConfig *c, Buffers *x, const RefRows *rr, ImplResult *res)
{
    const DevTensor *o = impl == IMPL_TESSERA ? &x->o : &x->ref_o;
    DType odt = out_dtype(c->dt); /* 16-bit: the reference attention runs no fp8 */
    int64_t n = (int64_t)(o->bytes / 2);
    uint16_t *out = malloc(o->bytes);
    float *lse = impl == IMPL_TESSERA ? malloc(x->lse.bytes) : NULL;
    bool ok = out && (impl != IMPL_TESSERA || lse);
    if (ok)
        ok = CTX_CALL(b, "tsr_memcpy", tsr_memcpy(b->ctx, out, o->mem, o->bytes, TSR_COPY_DEVICE_TO_HOST, NULL)) ==
             TSR_OK;
    if (ok && lse)
        ok = CTX_CALL(b, "tsr_memcpy",
                      tsr_memcpy(b->ctx, lse, x->lse.mem, x->lse.bytes, TSR_COPY_DEVICE_TO_HOST, NULL)) == TSR_OK;
    if (ok) {
        if (impl == IMPL_TESSERA && b->hooks && b->hooks->corrupt_output && rr->n)
            out[rr->row[0] * c->D] = to_bits(from_bits(out[rr->row[0] * c->D], odt) + 0.5f, odt);
        for (int64_t i = 0; i < n; i++)
            res->unwritten += isnan(from_bits(out[i], odt));
        for (int64_t i = 0; lse && i < (int64_t)(x->lse.bytes / 4); i++)
            res->unwritten += isnan(lse[i]);
        res->err = 0;
        res->lse_err = lse ? 0 : -1;
        for (int64_t i = 0; i < rr->n; i++) {
            int64_t row = rr->row[i], at;
            int bi, h, r;
            row_of(rr, row, &bi, &h, &r, &at);
            for (int d = 0; d < c->D; d++) {
                double got = from_bits(out[row * c->D + d], odt);
                if (!isnan(got))
                    res->err = fmax(res->err, fabs(got - rr->o[i * c->D + d]));
            }
            if (lse && !isnan(lse[at])) {
                double want = rr->lse[i], e;
                if (isinf(want))
                    e = lse[at] == want ? 0.0 : INFINITY;
                else
                    e = fabs(lse[at] - want) / (1.0 + fabs(want));
                res->lse_err = fmax(res->lse_err, e);
            }
        }
    }
    free(out);
    free(lse);
    return ok;
}

/* The backward's reference gradients (dQ, dK, dV) of the part checked: a
 * prefix of each tensor, the whole problem or its first group of query
 * heads with their key/value head in batch 0 (shape s), in float64 and in
 * the kernel's precision, and each gradient's bound by FlashAttention's
 * rule (the slack scaled to the gradient's magnitude, which grows with the
 * number of rows summed). n[g] is 0 when nothing is checked. */
typedef struct {
    AttnShape s;
    int64_t n[3];
    double *ref[3];
    double err_lowp[3], bound[3];
} BwdRef;

static void bwd_ref_free(BwdRef *br)
{
    for (int g = 0; g < 3; g++)
        free(br->ref[g]);
    memset(br, 0, sizeof *br);
}

static bool bwd_ref_make(BwdRef *br, const BenchConfig *c, const Inputs *in, double tolerance_scale)
{
    memset(br, 0, sizeof *br);
    AttnShape s = { c->B, c->Hq, c->Hkv, c->Sq, c->Sk, c->D, c->causal, 1.0 / sqrt((double)c->D) };
    double macs = (double)c->B * c->Hq * c->Sq * c->Sk * c->D;
    if (macs > BWD_CHECK_ALL_MACS) {
        s.B = 1;
        s.Hq = c->Hq / c->Hkv;
        s.Hkv = 1;
        macs = (double)s.Hq * c->Sq * c->Sk * c->D;
    }
    br->s = s;
    if (macs > BWD_CHECK_GROUP_MACS)
        return true;
    br->n[0] = (int64_t)s.B * s.Hq * s.Sq * s.D;
    br->n[1] = br->n[2] = (int64_t)s.B * s.Hkv * s.Sk * s.D;
    double *low[3] = { NULL, NULL, NULL };
    bool ok = true;
    for (int g = 0; g < 3; g++) {
        br->ref[g] = malloc(sizeof(double) * (size_t)(br->n[g] + 1));
        low[g] = malloc(sizeof(double) * (size_t)(br->n[g] + 1));
        ok &= br->ref[g] && low[g];
    }
    if (ok) {
        AttnInputs ai = { in->vals[0], in->vals[1], in->vals[2] };
        ref_attention_backward(&s, &ai, in->vals[3], br->ref[0], br->ref[1], br->ref[2]);
        ref_attention_backward_lowp(&s, &ai, in->vals[3], c->dt, low[0], low[1], low[2]);
        for (int g = 0; g < 3; g++) {
            double mag = 0;
            for (int64_t i = 0; i < br->n[g]; i++) {
                br->err_lowp[g] = fmax(br->err_lowp[g], fabs(low[g][i] - br->ref[g][i]));
                mag = fmax(mag, fabs(br->ref[g][i]));
            }
            br->bound[g] = (2 * br->err_lowp[g] + attention_slack(c->dt) * fmax(1.0, mag)) * tolerance_scale;
        }
    }
    for (int g = 0; g < 3; g++)
        free(low[g]);
    return ok;
}

/* Downloads the gradients after the check run and measures them against
 * the reference; the result's err, and the configuration's err_lowp and
 * bound, are those of the gradient nearest its bound. Elements still holding
 * the poison anywhere count as unwritten. */
static bool check_gradients(Bench *b, const BenchConfig *c, Buffers *x, const BwdRef *br, BenchResult *r,
                            ImplResult *res)
{
    const DevTensor *grads[3] = { &x->dq, &x->dk, &x->dv };
    bool ok = true;
    double worst = -1;
    res->lse_err = -1;
    for (int g = 0; g < 3 && ok; g++) {
        const DevTensor *d = grads[g];
        uint16_t *out = malloc(d->bytes + 2);
        ok = out && CTX_CALL(b, "tsr_memcpy", tsr_memcpy(b->ctx, out, d->mem, d->bytes, TSR_COPY_DEVICE_TO_HOST,
                                                         NULL)) == TSR_OK;
        if (ok && g == 0 && b->hooks && b->hooks->corrupt_output && br->n[0])
            out[0] = to_bits(from_bits(out[0], c->dt) + 0.5f, c->dt);
        double err = 0;
        for (int64_t i = 0; ok && i < (int64_t)(d->bytes / 2); i++) {
            double got = from_bits(out[i], c->dt);
            if (isnan(got))
                res->unwritten++;
            else if (i < br->n[g])
                err = fmax(err, fabs(got - br->ref[g][i]));
        }
        double ratio = br->n[g] ? err / br->bound[g] : 0;
        if (ok && ratio > worst) {
            worst = ratio;
            res->err = err;
            r->err_lowp = br->err_lowp[g];
            r->bound = br->bound[g];
        }
        free(out);
    }
    return ok;
}

/* Times `reps` runs after `warmup` ones; each timed run is bracketed by
 * events, after an L2 flush on cuda. */
static tsr_status time_impl(Bench *b, Impl impl, const BenchConfig *c, Buffers *x, TimeStats *st)
{
    const BenchRun *run = b->run;
    tsr_status s = TSR_OK;
    for (int i = 0; i < run->warmup && s == TSR_OK; i++)
        s = run_impl(b, impl, c, x);
    if (s == TSR_OK)
        s = CTX_CALL(b, "tsr_context_synchronize", tsr_context_synchronize(b->ctx));
    double *times = calloc((size_t)run->reps, sizeof(double));
    if (!times)
        return failed(b, TSR_ERR_OUT_OF_MEMORY, "timing", "out of host memory");
    for (int i = 0; i < run->reps && s == TSR_OK; i++) {
        float ms = 0;
        s = flush_l2(b, i);
        if (s == TSR_OK)
            s = CTX_CALL(b, "tsr_event_record", tsr_event_record(b->ev[0], NULL));
        if (s == TSR_OK)
            s = run_impl(b, impl, c, x);
        if (s == TSR_OK)
            s = CTX_CALL(b, "tsr_event_record", tsr_event_record(b->ev[1], NULL));
        if (s == TSR_OK)
            s = CTX_CALL(b, "tsr_event_elapsed_ms", tsr_event_elapsed_ms(b->ev[0], b->ev[1], &ms));
        times[i] = ms;
    }
    if (s == TSR_OK)
        *st = bench_time_stats(times, run->reps);
    free(times);
    return s;
}

static void set_status(ImplResult *res, const char *text)
{
    /* The first line is enough for a table cell. */
    size_t len = strcspn(text, "\n");
    if (len >= sizeof res->status)
        len = sizeof res->status - 1;
    memcpy(res->status, text, len);
    res->status[len] = 0;
}

/* One implementation on one configuration: the check (against rr, or br
 * for a backward configuration) on poisoned outputs, then the timing. */
static void measure_impl(Bench *b, Impl impl, BenchResult *r, Buffers *x, const RefRows *rr, const BwdRef *br)
{
    ImplResult *res = impl == IMPL_TESSERA ? &r->tessera : &r->reference;
    DevTensor *outs[3] = { &x->ref_o, NULL, NULL };
    if (r->c.backward) {
        outs[0] = &x->dq;
        outs[1] = &x->dk;
        outs[2] = &x->dv;
    } else if (impl == IMPL_TESSERA) {
        outs[0] = &x->o;
        outs[1] = &x->lse;
    }
    tsr_status s = TSR_OK;
    for (int i = 0; i < 3 && outs[i] && s == TSR_OK; i++)
        s = CTX_CALL(b, "tsr_memset", tsr_memset(b->ctx, outs[i]->mem, 0xff, outs[i]->bytes, NULL));
    if (s == TSR_OK)
        s = run_impl(b, impl, &r->c, x);
    if (s == TSR_OK)
        s = CTX_CALL(b, "synchronize", tsr_context_synchronize(b->ctx));
    bool checked = s == TSR_OK && (r->c.backward ? check_gradients(b, &r->c, x, br, r, res)
                                                 : check_outputs(b, impl, &r->c, x, rr, res));
    if (!checked) {
        set_status(res, b->msg);
        return;
    }
    res->pass = res->err <= r->bound && res->unwritten == 0 && (res->lse_err < 0 || res->lse_err <= 1e-4);
    if (time_impl(b, impl, &r->c, x, &res->t) != TSR_OK) {
        set_status(res, b->msg);
        return;
    }
    res->ran = true;
    res->tflops = res->t.median > 0 ? r->flops / (res->t.median * 1e-3) / 1e12 : 0;
    set_status(res, "ok");
}


/* A backward configuration: O and LSE from one forward run, then the
 * backward measured. */
static void measure_backward(Bench *b, BenchResult *r, const Inputs *in)
{
    const BenchConfig *c = &r->c;
    if (bench_features_on(&c->feat)) {
        set_status(&r->tessera, "skipped (the backward pass takes no window, soft-cap, ALiBi, packing or paging)");
        set_status(&r->reference, "skipped (no reference backward)");
        return;
    }
    Buffers x;
    memset(&x, 0, sizeof x);
    x.scale = (float)(1.0 / sqrt((double)c->D));
    int64_t qs[4] = { c->B, c->Hq, c->Sq, c->D }, ks[4] = { c->B, c->Hkv, c->Sk, c->D }, ls[3] = { c->B, c->Hq, c->Sq };
    DevTensor *four[8] = { &x.q, &x.k, &x.v, &x.o, &x.dout, &x.dq, &x.dk, &x.dv };
    bool kv_shaped[8] = { false, true, true, false, false, false, true, true };
    tsr_status s = TSR_OK;
    for (int i = 0; i < 8 && s == TSR_OK; i++)
        s = dev_tensor(b, four[i], c->dt, 4, kv_shaped[i] ? ks : qs);
    if (s == TSR_OK)
        s = dev_tensor(b, &x.lse, DT_F32, 3, ls);
    DevTensor *ins[4] = { &x.q, &x.k, &x.v, &x.dout };
    for (int i = 0; i < 4 && s == TSR_OK; i++)
        s = upload(b, ins[i], in->bits[i]);
    BenchConfig fwd = *c;
    fwd.backward = false;
    if (s == TSR_OK)
        s = run_tessera(b, &fwd, &x);
    BwdRef br;
    memset(&br, 0, sizeof br);
    if (s == TSR_OK && !bwd_ref_make(&br, c, in, b->o->tolerance_scale))
        s = failed(b, TSR_ERR_OUT_OF_MEMORY, "reference gradients", "out of host memory");
    if (s == TSR_OK) {
        r->rows_checked = br.n[0] ? (int64_t)br.s.B * br.s.Hq * br.s.Sq : 0;
        r->all_rows = br.n[0] && br.s.B == c->B && br.s.Hq == c->Hq;
        measure_impl(b, IMPL_TESSERA, r, &x, NULL, &br);
        if (r->tessera.ran && !br.n[0])
            set_status(&r->tessera, "ok; not checked (the float64 reference would take too long)");
    } else {
        set_status(&r->tessera, b->msg);
    }
    set_status(&r->reference, "skipped (no reference backward)");
    bwd_ref_free(&br);
    DevTensor *all[] = { &x.q, &x.k, &x.v, &x.o, &x.lse, &x.dout, &x.dq, &x.dk, &x.dv };
    for (size_t i = 0; i < TSR_ARRAY_LEN(all); i++)
        dev_free(b, all[i]);
}

/* A packed batch's tensors (--varlen): q and o [total, Hq, D], k and v
 * [total, Hkv, D], lse [Hq, total], and cu_seqlens (the same for queries
 * and keys) on the device. */
static tsr_status packed_tensors(Bench *b, const BenchConfig *c, Buffers *x)
{
    int32_t cu[BENCH_MAX_LIST + 1] = { 0 };
    for (int i = 0; i < c->feat.nvarlen; i++)
        cu[i + 1] = cu[i] + c->feat.varlen[i];
    int64_t total = cu[c->feat.nvarlen];
    int64_t qs[3] = { total, c->Hq, c->D }, ks[3] = { total, c->Hkv, c->D }, ls[2] = { c->Hq, total },
            cs[1] = { c->feat.nvarlen + 1 };
    tsr_status s = dev_tensor(b, &x->q, c->dt, 3, qs);
    if (s == TSR_OK)
        s = dev_tensor(b, &x->k, c->dt, 3, ks);
    if (s == TSR_OK)
        s = dev_tensor(b, &x->v, c->dt, 3, ks);
    if (s == TSR_OK)
        s = dev_tensor(b, &x->o, c->dt, 3, qs);
    if (s == TSR_OK)
        s = dev_tensor(b, &x->lse, DT_F32, 2, ls);
    DevTensor *cus[2] = { &x->cuq, &x->cuk };
    for (int i = 0; i < 2 && s == TSR_OK; i++) {
        s = dev_tensor(b, cus[i], DT_F32, 1, cs); /* 4-byte elements; the dtype follows */
        cus[i]->t.dtype = (DLDataType){ kDLInt, 32, 1 };
        if (s == TSR_OK)
            s = CTX_CALL(b, "tsr_memcpy",
                         tsr_memcpy(b->ctx, cus[i]->mem, cu, cus[i]->bytes, TSR_COPY_HOST_TO_DEVICE, NULL));
    }
    return s;
}

/* A decoding step's paged cache (--paged P): the keys and values of the
 * dense [B, Hkv, Sk, D] inputs (which the reference reads) scattered into
 * pages of P rows, [pages, P, Hkv, D], in an order a seeded shuffle gives
 * (a block table is rarely in order); the block table and the lengths (Sk
 * each). */
static tsr_status paged_tensors(Bench *b, const BenchConfig *c, const Inputs *in, Buffers *x)
{
    int P = c->feat.paged, per = (c->Sk + P - 1) / P;
    int64_t np = (int64_t)c->B * per;
    int64_t cs[4] = { np > 0 ? np : 1, P, c->Hkv, c->D }, ts[2] = { c->B, per > 0 ? per : 1 }, ls[1] = { c->B };
    size_t page_elems = (size_t)P * (size_t)c->Hkv * (size_t)c->D;
    int32_t *table = calloc((size_t)(ts[0] * ts[1]), sizeof(int32_t)), *lens = malloc(sizeof(int32_t) * (size_t)c->B);
    uint16_t *cache = calloc((size_t)cs[0] * page_elems, sizeof(uint16_t));
    tsr_status s = table && lens && cache ? TSR_OK : failed(b, TSR_ERR_OUT_OF_MEMORY, "paged cache", "out of host memory");
    SplitMix rng = { 99 };
    for (int64_t i = 0; s == TSR_OK && i < np; i++) { /* a shuffled assignment of pages */
        int64_t j = (int64_t)(splitmix_next(&rng) % (uint64_t)(i + 1));
        table[i] = table[j];
        table[j] = (int32_t)i;
    }
    DevTensor *caches[2] = { &x->k, &x->v };
    for (int t = 0; t < 2 && s == TSR_OK; t++) {
        const uint16_t *src = in->bits[1 + t];
        for (int bi = 0; bi < c->B; bi++)
            for (int h = 0; h < c->Hkv; h++)
                for (int j = 0; j < c->Sk; j++) {
                    int64_t page = table[(int64_t)bi * per + j / P], row = j % P;
                    memcpy(cache + ((page * P + row) * c->Hkv + h) * c->D,
                           src + (((int64_t)bi * c->Hkv + h) * c->Sk + j) * c->D, sizeof(uint16_t) * (size_t)c->D);
                }
        s = dev_tensor(b, caches[t], c->dt, 4, cs);
        if (s == TSR_OK)
            s = upload(b, caches[t], cache);
    }
    for (int bi = 0; bi < c->B; bi++)
        lens[bi] = c->Sk;
    if (s == TSR_OK)
        s = dev_tensor(b, &x->table, DT_F32, 2, ts); /* 4-byte elements; the dtype follows */
    if (s == TSR_OK)
        s = dev_tensor(b, &x->seqk, DT_F32, 1, ls);
    x->table.t.dtype = x->seqk.t.dtype = (DLDataType){ kDLInt, 32, 1 };
    if (s == TSR_OK)
        s = CTX_CALL(b, "tsr_memcpy",
                     tsr_memcpy(b->ctx, x->table.mem, table, x->table.bytes, TSR_COPY_HOST_TO_DEVICE, NULL));
    if (s == TSR_OK)
        s = CTX_CALL(b, "tsr_memcpy",
                     tsr_memcpy(b->ctx, x->seqk.mem, lens, x->seqk.bytes, TSR_COPY_HOST_TO_DEVICE, NULL));
    free(table);
    free(lens);
    free(cache);
    return s;
}

/* The ALiBi slopes of --alibi on the device. */
static tsr_status alibi_tensor(Bench *b, const BenchConfig *c, Buffers *x)
{
    int64_t hs[1] = { c->Hq };
    float slopes[1 << 12];
    for (int h = 0; h < c->Hq; h++)
        slopes[h] = bench_alibi_slope(h, c->Hq);
    tsr_status s = dev_tensor(b, &x->slopes, DT_F32, 1, hs);
    if (s == TSR_OK)
        s = CTX_CALL(b, "tsr_memcpy",
                     tsr_memcpy(b->ctx, x->slopes.mem, slopes, x->slopes.bytes, TSR_COPY_HOST_TO_DEVICE, NULL));
    return s;
}

static void measure_config(Bench *b, BenchResult *r, const Inputs *in)
{
    if (r->c.backward) {
        measure_backward(b, r, in);
        return;
    }
    const BenchConfig *c = &r->c;
    const BenchOptions *o = b->o;
    Buffers x;
    memset(&x, 0, sizeof x);
    x.scale = (float)(1.0 / sqrt((double)c->D));
    int64_t qs[4] = { c->B, c->Hq, c->Sq, c->D }, ks[4] = { c->B, c->Hkv, c->Sk, c->D }, ls[3] = { c->B, c->Hq, c->Sq };
    tsr_status s = c->feat.nvarlen ? packed_tensors(b, c, &x) : TSR_OK;
    if (s == TSR_OK && !c->feat.nvarlen)
        s = dev_tensor(b, &x.q, c->dt, 4, qs);
    bool dense_kv = !c->feat.nvarlen && !c->feat.paged;
    if (s == TSR_OK && dense_kv)
        s = dev_tensor(b, &x.k, c->dt, 4, ks);
    if (s == TSR_OK && dense_kv)
        s = dev_tensor(b, &x.v, c->dt, 4, ks);
    if (s == TSR_OK && c->feat.paged)
        s = paged_tensors(b, c, in, &x);
    if (s == TSR_OK && !c->feat.nvarlen)
        s = dev_tensor(b, &x.o, out_dtype(c->dt), 4, qs);
    if (s == TSR_OK && !c->feat.nvarlen)
        s = dev_tensor(b, &x.lse, DT_F32, 3, ls);
    if (s == TSR_OK && c->feat.alibi)
        s = alibi_tensor(b, c, &x);
    if (s == TSR_OK)
        s = upload(b, &x.q, in->bits[0]);
    if (s == TSR_OK && !c->feat.paged)
        s = upload(b, &x.k, in->bits[1]);
    if (s == TSR_OK && !c->feat.paged)
        s = upload(b, &x.v, in->bits[2]);
    RefRows rr;
    memset(&rr, 0, sizeof rr);
    if (s == TSR_OK && !ref_rows_make(&rr, c, in, o->check_rows, o->seed + 17))
        s = failed(b, TSR_ERR_OUT_OF_MEMORY, "reference rows", "out of host memory");
    if (s != TSR_OK) {
        set_status(&r->tessera, b->msg);
        set_status(&r->reference, b->msg);
    } else {
        r->rows_checked = rr.n;
        r->all_rows = rr.n == rr.total_rows;
        r->err_lowp = 0;
        for (int64_t i = 0; i < rr.n * c->D; i++)
            r->err_lowp = fmax(r->err_lowp, fabs((double)rr.lowp[i] - rr.o[i]));
        r->bound = bench_bound(out_dtype(c->dt), r->err_lowp, o->tolerance_scale);
        measure_impl(b, IMPL_TESSERA, r, &x, &rr, NULL);
        dev_free(b, &x.lse); /* room for the reference's matrices */
    }
    if (s == TSR_OK && o->reference && dtype_is_fp8(c->dt)) {
        set_status(&r->reference, "skipped (the reference attention has no fp8)");
    } else if (s == TSR_OK && o->reference && bench_features_on(&c->feat)) {
        set_status(&r->reference, "skipped (the reference attention has no window, soft-cap, ALiBi, packing or paging)");
    } else if (s == TSR_OK && o->reference) {
        int group = c->Hq / c->Hkv;
        double per_head = (double)c->Sq * c->Sk * (4 + dtype_size(c->dt));
        int fit = (int)(REF_MATRIX_BYTES / per_head) / group * group;
        x.heads_per_launch = fit < group ? group : fit > c->Hq ? c->Hq : fit;
        int64_t ms[4] = { 1, x.heads_per_launch, c->Sq, c->Sk };
        s = dev_tensor(b, &x.ref_o, c->dt, 4, qs);
        if (s == TSR_OK)
            s = dev_tensor(b, &x.scores, DT_F32, 4, ms);
        if (s == TSR_OK)
            s = dev_tensor(b, &x.probs, c->dt, 4, ms);
        if (s == TSR_OK)
            measure_impl(b, IMPL_REFERENCE, r, &x, &rr, NULL);
        else
            set_status(&r->reference, b->msg);
    } else if (s == TSR_OK) {
        set_status(&r->reference, "skipped (--no-reference)");
    }
    ref_rows_free(&rr);
    DevTensor *all[] = { &x.q, &x.k, &x.v, &x.o, &x.lse, &x.ref_o, &x.scores, &x.probs, &x.slopes, &x.cuq, &x.cuk,
                         &x.table, &x.seqk };
    for (size_t i = 0; i < TSR_ARRAY_LEN(all); i++)
        dev_free(b, all[i]);
}

/* ------------------------------------------------------------------ run */

static void run_info(Bench *b, const BenchOptions *o)
{
    BenchRun *run = b->run;
    run->kind = tsr_context_device_kind(b->ctx);
    snprintf(run->device_name, sizeof run->device_name, "%s", tsr_context_device_name(b->ctx));
    snprintf(run->target, sizeof run->target, "%s", tsr_context_default_target(b->ctx));
    run->no_warp_specialize = (o->compile_flags & TSR_COMPILE_NO_WARP_SPECIALIZE) != 0;
    run->no_overlap = (o->compile_flags & TSR_COMPILE_NO_OVERLAP) != 0;
    run->no_pingpong = (o->compile_flags & TSR_COMPILE_NO_PINGPONG) != 0;
    run->persistent = (o->compile_flags & TSR_COMPILE_PERSISTENT) != 0;
    run->cpu_times = run->kind != TSR_DEVICE_CUDA;
    run->reps = o->reps > 0 ? o->reps : run->cpu_times ? 3 : 20;
    run->warmup = o->warmup >= 0 ? o->warmup : run->cpu_times ? 0 : 3;
    if (o->peak_tflops > 0) {
        run->peak_tflops = o->peak_tflops;
        run->peak_source = "--peak";
    } else if (!run->cpu_times) {
        run->peak_tflops = bench_peak_tflops(run->device_name, &run->peak_source);
    } else {
        run->peak_source = "none (CPU)";
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(run->date, sizeof run->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    bench_commit(run->commit, sizeof run->commit);
    bench_features_text(&o->feat, run->features, sizeof run->features);
}

/* Destroys the bench's handles, then its context (every handle made is
 * destroyed: the runtime's destroy order). */
static void bench_release(Bench *b)
{
    for (int i = 0; i < b->nkernels; i++)
        tsr_module_destroy(b->kernels[i].mod);
    tsr_event_destroy(b->ev[0]);
    tsr_event_destroy(b->ev[1]);
    tsr_context_destroy(b->ctx);
}

int bench_attention_run(const BenchOptions *o, const BenchHooks *hooks, BenchRun *run, BenchResult **results)
{
    *results = NULL;
    memset(run, 0, sizeof *run);
    Bench b;
    memset(&b, 0, sizeof b);
    b.o = o;
    b.hooks = hooks;
    b.run = run;
    tsr_context_options co;
    tsr_context_options_init(&co);
    co.device = o->device;
    co.target = o->target;
    co.compile_flags = o->compile_flags;
    if (tsr_context_create(&co, &b.ctx) != TSR_OK) {
        fprintf(stderr, "tessera-bench: cannot use the device: %s\n", tsr_context_error(b.ctx));
        tsr_context_destroy(b.ctx);
        return -1;
    }
    b.cuda = tsr_context_device_kind(b.ctx) == TSR_DEVICE_CUDA;
    run_info(&b, o);
    if (tsr_event_create(b.ctx, &b.ev[0]) != TSR_OK || tsr_event_create(b.ctx, &b.ev[1]) != TSR_OK) {
        fprintf(stderr, "tessera-bench: cannot create events: %s\n", tsr_context_error(b.ctx));
        bench_release(&b);
        return -1;
    }
    BenchConfig *configs = malloc(sizeof(BenchConfig) * 4096);
    int n = bench_configs(o, run->kind, configs, 4096);
    BenchResult *r = calloc((size_t)(n ? n : 1), sizeof *r);
    bench_progress(o->quiet, "tessera-bench: %d configurations on %s (%s times), %d warm-up and %d timed runs each\n", n,
             run->device_name, run->cpu_times ? "CPU" : "GPU", run->warmup, run->reps);
    Inputs in;
    memset(&in, 0, sizeof in);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < n; i++) {
        r[i].c = configs[i];
        r[i].flops = bench_flops(&configs[i]);
        const BenchConfig *c = &configs[i];
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        /* The first configuration always runs: a limit skips the rest. */
        if (i > 0 && o->time_limit > 0 &&
            (double)(now.tv_sec - start.tv_sec) + 1e-9 * (now.tv_nsec - start.tv_nsec) > o->time_limit) {
            set_status(&r[i].tessera, "skipped (--time-limit)");
            set_status(&r[i].reference, "skipped (--time-limit)");
            continue;
        }
        if (!in.n || in.dt != c->dt) {
            /* the largest tensor that any configuration of this dtype needs */
            int64_t need = 0;
            for (int j = i; j < n && configs[j].dt == c->dt; j++) {
                const BenchConfig *d = &configs[j];
                int64_t q = (int64_t)d->B * d->Hq * d->Sq * d->D, kv = (int64_t)d->B * d->Hkv * d->Sk * d->D;
                need = need > q ? need : q;
                need = need > kv ? need : kv;
            }
            if (!inputs_make(&in, c->dt, need, o->seed + (uint64_t)c->dt)) {
                fprintf(stderr, "tessera-bench: out of host memory for %lld inputs\n", (long long)need);
                n = i;
                break;
            }
        }
        bench_progress(o->quiet, "[%d/%d] %s D=%d %s%s B=%d H=%d/%d Sq=%d Sk=%d ...", i + 1, n, dtype_name(c->dt), c->D,
                 c->causal ? "causal" : "full", c->backward ? " backward" : "", c->B, c->Hq, c->Hkv, c->Sq, c->Sk);
        measure_config(&b, &r[i], &in);
        if (r[i].tessera.ran)
            bench_progress(o->quiet, " tessera %.3f ms %s", r[i].tessera.t.median, r[i].tessera.pass ? "ok" : "FAILED CHECK");
        else
            bench_progress(o->quiet, " tessera: %s", r[i].tessera.status);
        if (r[i].reference.ran)
            bench_progress(o->quiet, ", reference %.3f ms %s", r[i].reference.t.median, r[i].reference.pass ? "ok" : "FAILED CHECK");
        bench_progress(o->quiet, "\n");
    }
    inputs_free(&in);
    free(configs);
    bench_release(&b);
    *results = r;
    return n;
}

bool bench_skipped(const ImplResult *m) { return !strncmp(m->status, "skipped", 7); }

int bench_exit_status(const BenchResult *r, int n)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            const ImplResult *m = k ? &r[i].reference : &r[i].tessera;
            if (!bench_skipped(m) && (!m->ran || !m->pass))
                return 1;
        }
    return 0;
}
