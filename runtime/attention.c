/* tsr_attention_forward(_ex) and tsr_attention_backward: flash attention
 * from the kernels built into the library, on the public API. Each
 * specialization (kernel, dtype, head dim, mask, features, target) is
 * compiled once per context, from the sources embedded at build time
 * (kernels/attention.tsr, attention_ext.tsr, attention_bwd.tsr,
 * attention_decode.tsr, attention_fp8.tsr) with the
 * block sizes of kernels/attention_config.c, and kept in a list on the
 * context. */
#include "attention_config.h"
#include "rt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The features of kernels/attention_ext.tsr, each a compile-time flag. */
enum {
    FEAT_LOCAL = 1 << 0,
    FEAT_SOFTCAP = 1 << 1,
    FEAT_ALIBI = 1 << 2,
    FEAT_VARLEN = 1 << 3,
};

/* The dK/dV kernel's specializations where its config splits it: dK
 * alone, dV alone (0: both). */
enum {
    DKDV_ONLY_DK = 1,
    DKDV_ONLY_DV = 2,
};

struct AttnEntry {
    AttnEntry *next;
    const char *kernel_name; /* one of the TSR_ATTENTION_* names */
    DType dt;
    int head_dim;
    bool causal;
    unsigned features; /* FEAT_*: attention_ext.tsr's flags; the decoding split kernel's BM | BN << 8 |
                        * FEAT_* << 16; the dK/dV kernel's DKDV_* */
    char target[16];
    tsr_module *mod;
    tsr_kernel *kernel;
};

void rt_attention_release(tsr_context *ctx)
{
    while (ctx->attn) {
        AttnEntry *e = ctx->attn;
        ctx->attn = e->next;
        tsr_module_destroy(e->mod);
        rt_free(ctx, e, sizeof *e);
    }
}

/* The defines of one specialization: T and D always; the blocks (and warps)
 * and the mask for the kernels that take them; attention.tsr's pipeline
 * depth where its table row sets one; the feature flags for
 * attention_ext.tsr. Returns how many. */
typedef struct {
    char d[16], bm[16], bn[16], w[16], stages[16];
    tsr_define defs[12];
} Defines;

static int make_defines(Defines *x, const char *kernel, const char *target, DType dt, int head_dim, bool causal,
                        unsigned features)
{
    AttnBlocks b = { 0, 0, 0 };
    bool ext = !strcmp(kernel, TSR_ATTENTION_EXT_KERNEL), fp8 = !strcmp(kernel, TSR_ATTENTION_FP8_KERNEL);
    bool widen = false;
    int stages = 0;
    unsigned flag_features = ext ? features : 0; /* FEAT_* given as defines */
    int nflags = ext ? 4 : 0;
    if (fp8) {
        AttnConfig cfg = attention_fp8_config(target, head_dim, causal, &widen);
        b.bm = cfg.bm;
        b.bn = cfg.bn;
        b.warps = cfg.warps;
    } else if (!strcmp(kernel, TSR_ATTENTION_KERNEL) || ext) {
        AttnConfig cfg = ext ? attention_ext_config(target, dt, head_dim, causal, features & FEAT_VARLEN)
                             : attention_config(target, dt, head_dim, causal);
        b.bm = cfg.bm;
        b.bn = cfg.bn;
        b.warps = cfg.warps;
        stages = ext ? 0 : cfg.stages;
    } else if (!strcmp(kernel, TSR_ATTENTION_DECODE_SPLIT)) {
        AttnBlocks d = { (int)(features & 0xff), (int)(features >> 8 & 0xff), 4 };
        b = d;
        flag_features = features >> 16;
        nflags = 3; /* no VARLEN */
    } else if (!strcmp(kernel, TSR_ATTENTION_DECODE_COMBINE)) {
        b = attention_decode_combine_config(target, dt, head_dim);
    } else if (!strcmp(kernel, TSR_ATTENTION_BWD_DKDV)) {
        b = attention_bwd_config(target, dt, head_dim, causal).dkdv;
    } else if (!strcmp(kernel, TSR_ATTENTION_BWD_DQ)) {
        b = attention_bwd_config(target, dt, head_dim, causal).dq;
    }
    snprintf(x->d, sizeof x->d, "%d", head_dim);
    snprintf(x->bm, sizeof x->bm, "%d", b.bm);
    snprintf(x->bn, sizeof x->bn, "%d", b.bn);
    snprintf(x->w, sizeof x->w, "%d", b.warps);
    int n = 0;
    x->defs[n++] = (tsr_define){ "T", dtype_name(dt) };
    x->defs[n++] = (tsr_define){ "D", x->d };
    if (b.bm) /* not the preprocessing kernel, which has no mask or blocks to tune */
        x->defs[n++] = (tsr_define){ "BM", x->bm };
    if (b.bn) { /* nor the decoding's combine kernel, which has rows only */
        x->defs[n++] = (tsr_define){ "BN", x->bn };
        x->defs[n++] = (tsr_define){ "CAUSAL", causal ? "true" : "false" };
    }
    if (b.warps)
        x->defs[n++] = (tsr_define){ "W", x->w };
    snprintf(x->stages, sizeof x->stages, "%d", stages);
    if (stages)
        x->defs[n++] = (tsr_define){ "STAGES", x->stages };
    if (fp8) { /* features: the output's dtype */
        x->defs[n++] = (tsr_define){ "OT", features ? "f16" : "bf16" };
        x->defs[n++] = (tsr_define){ "WIDEN", widen ? "true" : "false" };
    }
    if (!strcmp(kernel, TSR_ATTENTION_BWD_DKDV) && features) {
        x->defs[n++] = (tsr_define){ "WANT_DK", features == DKDV_ONLY_DV ? "false" : "true" };
        x->defs[n++] = (tsr_define){ "WANT_DV", features == DKDV_ONLY_DK ? "false" : "true" };
    }
    static const char *const flags[] = { "LOCAL", "SOFTCAP", "ALIBI", "VARLEN" };
    for (int i = 0; i < nflags; i++)
        x->defs[n++] = (tsr_define){ flags[i], flag_features & (1u << i) ? "true" : "false" };
    return n;
}

/* The embedded source that holds kernel, and its file name. */
static const char *source_of(const char *kernel, const char **name)
{
    if (!strcmp(kernel, TSR_ATTENTION_KERNEL)) {
        *name = "attention.tsr";
        return tsr_attention_source;
    }
    if (!strcmp(kernel, TSR_ATTENTION_EXT_KERNEL)) {
        *name = "attention_ext.tsr";
        return tsr_attention_ext_source;
    }
    if (!strcmp(kernel, TSR_ATTENTION_FP8_KERNEL)) {
        *name = "attention_fp8.tsr";
        return tsr_attention_fp8_source;
    }
    if (!strcmp(kernel, TSR_ATTENTION_DECODE_SPLIT) || !strcmp(kernel, TSR_ATTENTION_DECODE_COMBINE)) {
        *name = "attention_decode.tsr";
        return tsr_attention_decode_source;
    }
    *name = "attention_bwd.tsr";
    return tsr_attention_bwd_source;
}

static tsr_status specialization(tsr_context *ctx, const char *kernel, DType dt, int head_dim, bool causal,
                                 unsigned features, tsr_kernel **out)
{
    const char *target = tsr_context_default_target(ctx);
    /* Threads may look up and add at once; two that compile the same
     * specialization both add it, and the first added is found after. */
    pthread_mutex_lock(&ctx->work_lock);
    *out = NULL;
    for (AttnEntry *e = ctx->attn; e && !*out; e = e->next)
        if (e->kernel_name == kernel && e->dt == dt && e->head_dim == head_dim && e->causal == causal &&
            e->features == features && !strcmp(e->target, target))
            *out = e->kernel;
    pthread_mutex_unlock(&ctx->work_lock);
    if (*out)
        return TSR_OK;
    const char *source_name;
    const char *source = source_of(kernel, &source_name);
    Defines defs;
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.defines = defs.defs;
    co.ndefines = make_defines(&defs, kernel, target, dt, head_dim, causal, features);
    co.kernel = kernel;
    co.source_name = source_name;
    tsr_module *mod;
    tsr_status s = tsr_module_compile(ctx, source, strlen(source), &co, &mod);
    if (s != TSR_OK)
        return s;
    AttnEntry *e = rt_alloc(ctx, sizeof *e);
    if (!e) {
        tsr_module_destroy(mod);
        return rt_fail(ctx, TSR_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    e->kernel_name = kernel;
    e->dt = dt;
    e->head_dim = head_dim;
    e->causal = causal;
    e->features = features;
    snprintf(e->target, sizeof e->target, "%s", target);
    e->mod = mod;
    tsr_module_get_kernel(mod, kernel, &e->kernel);
    pthread_mutex_lock(&ctx->work_lock);
    e->next = ctx->attn;
    ctx->attn = e;
    pthread_mutex_unlock(&ctx->work_lock);
    *out = e->kernel;
    return TSR_OK;
}

/* The scalar arguments of a launch: names and values. */
typedef struct {
    const char *const *names;
    const double *values;
    int n;
} Scalars;

/* Launches one attention kernel with its tensor parameters named in params
 * (in the order of ts) and the scalars sc. The arguments go with the call,
 * not on the shared kernel: threads may run attention on one context at
 * once. */
static tsr_status launch(tsr_context *ctx, tsr_kernel *kern, const char *const *params, const DLTensor *const *ts,
                         int ntensors, const Scalars *sc, void *stream)
{
    enum { MAX_ARGS = 16 };
    tsr_arg args[MAX_ARGS];
    int nargs = ntensors + sc->n;
    if (tsr_kernel_param_count(kern) != nargs || nargs > MAX_ARGS)
        return rt_fail(ctx, TSR_ERR_DEVICE, "internal error: the attention kernel takes %d parameters, not %d",
                       tsr_kernel_param_count(kern), nargs);
    for (int i = 0; i < nargs; i++) {
        const char *name = i < ntensors ? params[i] : sc->names[i - ntensors];
        int at = tsr_kernel_param_index(kern, name);
        if (at < 0)
            return rt_fail(ctx, TSR_ERR_DEVICE, "internal error: the attention kernel has no parameter %s", name);
        args[at].tensor = i < ntensors ? ts[i] : NULL;
        args[at].scalar = i < ntensors ? 0.0 : sc->values[i - ntensors];
    }
    return tsr_kernel_launch_args(kern, args, nargs, stream); /* a failure's message is on the context */
}

static const char *const scale_name[] = { "scale" };

/* What both passes check before compiling anything: no NULL tensor, q's
 * dtype (f16 or bf16; e4m3 or e5m2 when fp8), `rank` dimensions where names[i] is a q-like tensor (the first nq:
 * 4 for [B, H, S, D], 3 for a packed [total, H, D]), a head dim the kernels
 * take, whole groups of query heads (k's heads in its dimension kvh). The
 * launches check the rest (dtypes and shapes against the kernels'
 * parameters). */
static tsr_status check_args(tsr_context *ctx, const char *fn, const DLTensor *const *ts, const char *const *names,
                             int n, int nq, int rank, int kvh, bool fp8, DType *dt)
{
    for (int i = 0; i < n; i++)
        if (!ts[i])
            return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, names[i]);
    const DLTensor *q = ts[0], *k = ts[1];
    if (!rt_dtype_from_dl(q->dtype, dt) || (fp8 ? !dtype_is_fp8(*dt) : *dt != DT_F16 && *dt != DT_BF16)) {
        char name[32];
        rt_dl_dtype_name(q->dtype, name, sizeof name);
        return rt_fail(ctx, TSR_ERR_UNSUPPORTED, "%s takes float16 or bfloat16 tensors%s; q is %s", fn,
                       fn[strlen(fn) - 1] == 'x' ? " (or float8_e4m3fn / float8_e5m2 ones)" : "", name);
    }
    for (int i = 0; i < nq; i++)
        if (ts[i]->ndim != rank || !ts[i]->shape)
            return rt_fail(ctx, TSR_ERR_LAUNCH, "tensor '%s' must have %d dimensions %s, not %d", names[i], rank,
                           rank == 4 ? "[B, H, S, D]" : "[total, H, D]", ts[i]->ndim);
    int64_t head_dim = q->shape[rank - 1], hq = q->shape[1], hkv = k->shape[kvh];
    if (head_dim <= 0 || head_dim > 256 || head_dim % 16)
        return rt_fail(ctx, TSR_ERR_UNSUPPORTED,
                       "head dim %lld: the attention kernels take multiples of 16 up to 256 (64, 128 and 256 are tuned)",
                       (long long)head_dim);
    if (hq > 0 && (hkv <= 0 || hq % hkv))
        return rt_fail(ctx, TSR_ERR_LAUNCH,
                       "q has %lld heads (dimension 1) and k has %lld (dimension %d): the query heads must be a "
                       "multiple of the key/value heads",
                       (long long)hq, (long long)hkv, kvh);
    return TSR_OK;
}

tsr_status tsr_attention_forward(tsr_context *ctx, const DLTensor *q, const DLTensor *k, const DLTensor *v,
                                 const DLTensor *o, const DLTensor *lse, float scale, int causal, void *stream)
{
    tsr_attention_options opts;
    tsr_attention_options_init(&opts);
    opts.scale = scale;
    opts.causal = causal;
    return tsr_attention_forward_ex(ctx, q, k, v, o, lse, &opts, stream);
}

void tsr_attention_options_init(tsr_attention_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

/* The size of the first tsr_attention_options: what struct_size 0 means. */
#define ATTENTION_OPTIONS_V1 (offsetof(tsr_attention_options, max_seqlen_q) + sizeof(int))

/* The kernel's [1, H, total, D] view of a packed [total, H, D] tensor (or
 * [1, H, total] of a packed lse [H, total]: `lse`), the same memory. shape
 * and strides are the view's storage. */
static DLTensor packed_view(const DLTensor *t, bool lse, int64_t *shape, int64_t *strides)
{
    DLTensor v = *t;
    int n = t->ndim;
    int64_t st[3], acc = 1;
    for (int i = n - 1; i >= 0; i--) { /* the given strides, or the compact ones */
        st[i] = t->strides ? t->strides[i] : acc;
        acc *= t->shape[i] > 0 ? t->shape[i] : 1;
    }
    if (lse) { /* [H, total] -> [1, H, total] */
        int64_t sh[3] = { 1, t->shape[0], t->shape[1] }, sd[3] = { 0, st[0], st[1] };
        memcpy(shape, sh, sizeof sh);
        memcpy(strides, sd, sizeof sd);
    } else { /* [total, H, D] -> [1, H, total, D] */
        int64_t sh[4] = { 1, t->shape[1], t->shape[0], t->shape[2] }, sd[4] = { 0, st[1], st[0], st[2] };
        memcpy(shape, sh, sizeof sh);
        memcpy(strides, sd, sizeof sd);
    }
    v.ndim = lse ? 3 : 4;
    v.shape = shape;
    v.strides = strides;
    return v;
}

/* An empty 1-D tensor of dtype code/bits for a parameter the kernel does
 * not read, on like's memory (a launch needs a data pointer). */
static DLTensor empty_like(const DLTensor *like, uint8_t code, uint8_t bits, int64_t *shape)
{
    DLTensor e;
    memset(&e, 0, sizeof e);
    e.data = like->data;
    e.device = like->device;
    e.ndim = 1;
    e.dtype = (DLDataType){ code, bits, 1 };
    *shape = 0;
    e.shape = shape;
    e.byte_offset = like->byte_offset;
    return e;
}

/* The options' own checks: numbers in range and the optional tensors'
 * dtypes and shapes (hq: the query heads). */
static tsr_status check_options(tsr_context *ctx, const tsr_attention_options *o, int64_t hq)
{
    const char *fn = "tsr_attention_forward_ex";
    if (!(o->softcap >= 0) || isinf(o->softcap))
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "%s: softcap %g must be 0 (off) or a positive number", fn,
                       (double)o->softcap);
    if (!isfinite(o->scale))
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "%s: scale %g is not finite", fn, (double)o->scale);
    const DLTensor *a = o->alibi_slopes;
    if (a && (a->ndim != 1 || !a->shape || a->shape[0] != hq || a->dtype.code != kDLFloat || a->dtype.bits != 32 ||
              a->dtype.lanes != 1))
        return rt_fail(ctx, TSR_ERR_LAUNCH, "%s: alibi_slopes must be float32 [Hq] = [%lld]", fn, (long long)hq);
    if (o->cu_seqlens_q) {
        const DLTensor *cq = o->cu_seqlens_q, *ck = o->cu_seqlens_k;
        for (int i = 0; i < 2; i++) {
            const DLTensor *c = i ? ck : cq;
            if (c->ndim != 1 || !c->shape || c->shape[0] < 1 || c->dtype.code != kDLInt || c->dtype.bits != 32 ||
                c->dtype.lanes != 1)
                return rt_fail(ctx, TSR_ERR_LAUNCH, "%s: %s must be int32 [B + 1]", fn,
                               i ? "cu_seqlens_k" : "cu_seqlens_q");
        }
        if (cq->shape[0] != ck->shape[0])
            return rt_fail(ctx, TSR_ERR_LAUNCH, "%s: cu_seqlens_q has %lld entries and cu_seqlens_k %lld", fn,
                           (long long)cq->shape[0], (long long)ck->shape[0]);
        if (o->max_seqlen_q < 0)
            return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "%s: max_seqlen_q %d is negative", fn, o->max_seqlen_q);
    }
    return TSR_OK;
}

static unsigned features_of(const tsr_attention_options *o)
{
    return (o->local ? FEAT_LOCAL : 0) | (o->softcap > 0 ? FEAT_SOFTCAP : 0) | (o->alibi_slopes ? FEAT_ALIBI : 0) |
           (o->cu_seqlens_q ? FEAT_VARLEN : 0);
}

/* Clamps a window extent to what an i32 holds: a negative one is open, and
 * one beyond the sequence sees as much as an open one. */
static double extent(int local, int x)
{
    return local ? (double)(x < 0 ? -1 : x) : -1.0;
}

/* The [B, Hkv, G * Sq, ...] view of a [B, Hq, Sq, ...] tensor (G = Hq /
 * Hkv) that packs a GQA group's query heads into one tile: possible when
 * the heads' rows are evenly spaced (stride of dimension 1 = Sq times that
 * of dimension 2), as in a contiguous tensor. False when they are not. */
static bool grouped_view(const DLTensor *t, int64_t hkv, DLTensor *v, int64_t *shape, int64_t *strides)
{
    int n = t->ndim;
    int64_t st[4], acc = 1;
    for (int i = n - 1; i >= 0; i--) {
        st[i] = t->strides ? t->strides[i] : acc;
        acc *= t->shape[i] > 0 ? t->shape[i] : 1;
    }
    int64_t g = t->shape[1] / hkv;
    if (g > 1 && t->shape[2] > 0 && st[1] != t->shape[2] * st[2])
        return false;
    *v = *t;
    for (int i = 0; i < n; i++) {
        shape[i] = t->shape[i];
        strides[i] = st[i];
    }
    shape[1] = hkv;
    shape[2] = g * t->shape[2];
    strides[1] = g * st[1];
    v->shape = shape;
    v->strides = strides;
    return true;
}

/* The number of splits when the options leave it to the library: enough
 * programs to fill a large GPU twice (132 SMs), at most one per page of the
 * longest sequence the block table holds. */
static int auto_splits(int64_t programs, int64_t max_pages)
{
    int64_t want = programs > 0 ? (2 * 132 + programs - 1) / programs : 1;
    want = want > max_pages ? max_pages : want;
    return want < 1 ? 1 : want > 256 ? 256 : (int)want;
}

/* The decoding options' own checks, before the tensors' (the window,
 * soft-cap and ALiBi options are check_options'). */
static tsr_status check_decode_options(tsr_context *ctx, const tsr_attention_options *op)
{
    const char *fn = "tsr_attention_forward_ex";
    if (op->cu_seqlens_q || op->cu_seqlens_k)
        return rt_fail(ctx, TSR_ERR_UNSUPPORTED,
                       "%s: decoding from a paged cache takes no cu_seqlens (cache_seqlens gives each sequence's "
                       "keys; every sequence has q's Sq new tokens)",
                       fn);
    if (!op->cache_seqlens)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "%s: a block_table needs cache_seqlens", fn);
    if (op->num_splits < 0)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "%s: num_splits %d is negative", fn, op->num_splits);
    return TSR_OK;
}

/* Decoding against a paged cache (opts->block_table): the split kernel,
 * then the combine kernel, of kernels/attention_decode.tsr, with the
 * partial results in a workspace from tsr_malloc. */
static tsr_status decode(tsr_context *ctx, const DLTensor *q, const DLTensor *k, const DLTensor *v, const DLTensor *o,
                         const DLTensor *lse, const tsr_attention_options *op, DType dt, float scale, void *stream)
{
    const char *fn = "tsr_attention_forward_ex";
    const DLTensor *bt = op->block_table, *sk = op->cache_seqlens;
    if (bt->ndim != 2 || !bt->shape || bt->dtype.code != kDLInt || bt->dtype.bits != 32 || bt->dtype.lanes != 1)
        return rt_fail(ctx, TSR_ERR_LAUNCH, "%s: block_table must be int32 [B, pages per sequence]", fn);
    if (k->shape[1] < 1)
        return rt_fail(ctx, TSR_ERR_LAUNCH, "%s: the cache's pages hold %lld keys", fn, (long long)k->shape[1]);
    int64_t B = q->shape[0], hkv = k->shape[2], sq = q->shape[2];
    int64_t gshape[3][4], gstrides[3][4];
    DLTensor gq, go, gl;
    if (!grouped_view(q, hkv, &gq, gshape[0], gstrides[0]) || !grouped_view(o, hkv, &go, gshape[1], gstrides[1]) ||
        !grouped_view(lse, hkv, &gl, gshape[2], gstrides[2]))
        return rt_fail(ctx, TSR_ERR_LAUNCH,
                       "%s: q, o and lse must hold each head's rows evenly spaced (as contiguous tensors do) to "
                       "pack a group's query heads into one tile",
                       fn);
    int64_t rows = q->shape[1] / hkv * sq, page = k->shape[1];
    int head_dim = (int)q->shape[3];
    const char *target = tsr_context_default_target(ctx);
    AttnBlocks blk = attention_decode_config(target, dt, head_dim, (int)(rows > 1 << 20 ? 1 << 20 : rows),
                                             (int)(page > 1 << 20 ? 1 << 20 : page));
    int64_t row_blocks = (rows + blk.bm - 1) / blk.bm;
    int splits = op->num_splits ? op->num_splits : auto_splits(B * hkv * row_blocks, bt->shape[1]);
    tsr_kernel *ks, *kc;
    tsr_status s = specialization(ctx, TSR_ATTENTION_DECODE_SPLIT, dt, head_dim, op->causal != 0,
                                  (unsigned)blk.bm | (unsigned)blk.bn << 8 | features_of(op) << 16, &ks);
    if (s == TSR_OK)
        s = specialization(ctx, TSR_ATTENTION_DECODE_COMBINE, dt, head_dim, false, 0, &kc);
    if (s != TSR_OK)
        return s;
    /* The workspace: partial outputs f32 [splits, B * Hkv, rows, D], then
     * their LSEs f32 [splits, B * Hkv, rows]. */
    int64_t oshape[4] = { splits, B * hkv, rows, head_dim }, lshape[3] = { splits, B * hkv, rows };
    size_t n_lse = (size_t)splits * (size_t)(B * hkv) * (size_t)rows, n_out = n_lse * (size_t)head_dim;
    void *ws = NULL;
    if ((s = tsr_malloc(ctx, sizeof(float) * (n_out + n_lse + 4), &ws)) != TSR_OK)
        return s;
    DLTensor opart, lpart;
    memset(&opart, 0, sizeof opart);
    opart.data = ws;
    opart.device = q->device;
    opart.ndim = 4;
    opart.dtype = (DLDataType){ kDLFloat, 32, 1 };
    opart.shape = oshape;
    lpart = opart;
    lpart.ndim = 3;
    lpart.shape = lshape;
    lpart.byte_offset = sizeof(float) * ((n_out + 3) / 4 * 4); /* 16-byte aligned */
    int64_t eshape;
    DLTensor slopes = op->alibi_slopes ? *op->alibi_slopes : empty_like(lse, kDLFloat, 32, &eshape);
    static const char *const sp[] = { "Q", "KC", "VC", "BT", "SeqK", "Slopes", "OP", "LP" };
    const DLTensor *st[] = { &gq, k, v, bt, sk, &slopes, &opart, &lpart };
    static const char *const snames[] = { "scale", "sq", "wl", "wr", "cap" };
    double sv[5] = { scale, (double)sq, extent(op->local, op->window_left), extent(op->local, op->window_right),
                     op->softcap };
    Scalars ssc = { snames, sv, 5 }, none = { NULL, NULL, 0 };
    static const char *const cp[] = { "OP", "LP", "O", "LSE" };
    const DLTensor *ct[] = { &opart, &lpart, &go, &gl };
    s = launch(ctx, ks, sp, st, 8, &ssc, stream);
    if (s == TSR_OK)
        s = launch(ctx, kc, cp, ct, 4, &none, stream);
    if (s != TSR_OK) { /* keep the first failure's message */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", tsr_context_error(ctx));
        tsr_free(ctx, ws);
        return rt_fail(ctx, s, "%s", msg);
    }
    return tsr_free(ctx, ws);
}

static bool is_fp8(const DLTensor *q)
{
    DType dt;
    return q && rt_dtype_from_dl(q->dtype, &dt) && dtype_is_fp8(dt);
}

/* A descale factor of the options: 0 means 1. */
static double descale(float x) { return x != 0 ? x : 1.0; }

/* The fp8 forward (kernels/attention_fp8.tsr): q, k, v e4m3 or e5m2 [B, H,
 * S, D], o bf16 or f16, lse f32; the descales of the options; no other
 * feature (yet). */
static tsr_status forward_fp8(tsr_context *ctx, const DLTensor *const *ts, const tsr_attention_options *op,
                              void *stream)
{
    const char *fn = "tsr_attention_forward_ex";
    static const char *const names[] = { "q", "k", "v", "o", "lse" };
    if (features_of(op) || op->block_table)
        return rt_fail(ctx, TSR_ERR_UNSUPPORTED,
                       "%s: fp8 attention takes no window, soft-cap, ALiBi, cu_seqlens or paged cache (yet)", fn);
    float dq = op->descale_q, dk = op->descale_k, dv = op->descale_v;
    if (!isfinite(dq) || !isfinite(dk) || !isfinite(dv) || !isfinite(op->scale))
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "%s: scale and descale factors must be finite", fn);
    DType dt, odt;
    tsr_status s = check_args(ctx, fn, ts, names, 5, 4, 4, 1, true, &dt);
    if (s != TSR_OK)
        return s;
    if (ts[4]->ndim != 3 || !ts[4]->shape)
        return rt_fail(ctx, TSR_ERR_LAUNCH, "tensor 'lse' must have 3 dimensions [B, Hq, Sq], not %d", ts[4]->ndim);
    if (!rt_dtype_from_dl(ts[3]->dtype, &odt) || (odt != DT_BF16 && odt != DT_F16)) {
        char name[32];
        rt_dl_dtype_name(ts[3]->dtype, name, sizeof name);
        return rt_fail(ctx, TSR_ERR_LAUNCH, "%s: the output o of fp8 attention is bfloat16 or float16, not %s", fn,
                       name);
    }
    int head_dim = (int)ts[0]->shape[3];
    float scale = op->scale != 0 ? op->scale : (float)(1.0 / sqrt((double)head_dim));
    tsr_kernel *kern;
    if ((s = specialization(ctx, TSR_ATTENTION_FP8_KERNEL, dt, head_dim, op->causal != 0, odt == DT_F16, &kern)) !=
        TSR_OK)
        return s;
    static const char *const params[] = { "Q", "K", "V", "O", "LSE" };
    static const char *const snames[] = { "scale", "descale_q", "descale_k", "descale_v" };
    double sv[4] = { scale, descale(dq), descale(dk), descale(dv) };
    Scalars sc = { snames, sv, 4 };
    return launch(ctx, kern, params, ts, 5, &sc, stream);
}

tsr_status tsr_attention_forward_ex(tsr_context *ctx, const DLTensor *q, const DLTensor *k, const DLTensor *v,
                                    const DLTensor *o, const DLTensor *lse, const tsr_attention_options *opts,
                                    void *stream)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    tsr_attention_options given;
    const char *why;
    if (!opts)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_attention_forward_ex: opts is NULL");
    if ((s = rt_read_options(opts, opts->struct_size, ATTENTION_OPTIONS_V1, &given, sizeof given, &why)) != TSR_OK)
        return rt_fail(ctx, s, "tsr_attention_options: %s", why);
    if (!given.cu_seqlens_q != !given.cu_seqlens_k)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT,
                       "tsr_attention_forward_ex: give both cu_seqlens_q and cu_seqlens_k, or neither");
    unsigned features = features_of(&given);
    bool packed = features & FEAT_VARLEN;
    const DLTensor *ts[] = { q, k, v, o, lse };
    static const char *const names[] = { "q", "k", "v", "o", "lse" };
    DType dt;
    if (given.block_table) { /* decoding: k and v are the paged cache [pages, P, Hkv, D] */
        if ((s = check_decode_options(ctx, &given)) != TSR_OK)
            return s;
        if ((s = check_args(ctx, "tsr_attention_forward_ex", ts, names, 5, 4, 4, 2, false, &dt)) != TSR_OK ||
            (s = check_options(ctx, &given, q->shape[1])) != TSR_OK)
            return s;
        float sc = given.scale != 0 ? given.scale : (float)(1.0 / sqrt((double)q->shape[3]));
        return decode(ctx, q, k, v, o, lse, &given, dt, sc, stream);
    }
    if (is_fp8(q))
        return forward_fp8(ctx, ts, &given, stream);
    if ((s = check_args(ctx, "tsr_attention_forward", ts, names, 5, 4, packed ? 3 : 4, 1, false, &dt)) != TSR_OK)
        return s;
    if (lse->ndim != (packed ? 2 : 3) || !lse->shape)
        return rt_fail(ctx, TSR_ERR_LAUNCH, "tensor 'lse' must have %s, not %d dimensions",
                       packed ? "2 dimensions [Hq, total]" : "3 dimensions [B, Hq, Sq]", lse->ndim);
    if ((s = check_options(ctx, &given, q->shape[1])) != TSR_OK)
        return s;
    int head_dim = (int)q->shape[packed ? 2 : 3];
    float scale = given.scale != 0 ? given.scale : (float)(1.0 / sqrt((double)head_dim));
    tsr_kernel *kern = NULL;
    if (!features) { /* the plain kernel */
        if ((s = specialization(ctx, TSR_ATTENTION_KERNEL, dt, head_dim, given.causal != 0, 0, &kern)) != TSR_OK)
            return s;
        static const char *const params[] = { "Q", "K", "V", "O", "LSE" };
        double sv[1] = { scale };
        Scalars sc = { scale_name, sv, 1 };
        return launch(ctx, kern, params, ts, 5, &sc, stream);
    }
    if ((s = specialization(ctx, TSR_ATTENTION_EXT_KERNEL, dt, head_dim, given.causal != 0, features, &kern)) != TSR_OK)
        return s;
    int64_t shapes[5][4], strides[5][4], eshape[3];
    DLTensor views[5];
    for (int i = 0; i < 5; i++)
        views[i] = packed ? packed_view(ts[i], i == 4, shapes[i], strides[i]) : *ts[i];
    DLTensor cuq = packed ? *given.cu_seqlens_q : empty_like(lse, kDLInt, 32, &eshape[0]);
    DLTensor cuk = packed ? *given.cu_seqlens_k : empty_like(lse, kDLInt, 32, &eshape[1]);
    DLTensor slopes = given.alibi_slopes ? *given.alibi_slopes : empty_like(lse, kDLFloat, 32, &eshape[2]);
    static const char *const params[] = { "Q", "K", "V", "O", "LSE", "CuQ", "CuK", "Slopes" };
    const DLTensor *args[] = { &views[0], &views[1], &views[2], &views[3], &views[4], &cuq, &cuk, &slopes };
    static const char *const snames[] = { "scale", "wl", "wr", "cap", "max_sq" };
    double sv[5] = { scale, extent(given.local, given.window_left), extent(given.local, given.window_right),
                     given.softcap, packed ? given.max_seqlen_q : (double)q->shape[2] };
    Scalars sc = { snames, sv, 5 };
    return launch(ctx, kern, params, args, 8, &sc, stream);
}

tsr_status tsr_attention_backward(tsr_context *ctx, const DLTensor *q, const DLTensor *k, const DLTensor *v,
                                  const DLTensor *o, const DLTensor *lse, const DLTensor *dout, const DLTensor *dq,
                                  const DLTensor *dk, const DLTensor *dv, float scale, int causal, void *stream)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    /* The 4-D tensors first, lse last. */
    const DLTensor *ts[] = { q, k, v, o, dout, dq, dk, dv, lse };
    static const char *const names[] = { "q", "k", "v", "o", "dout", "dq", "dk", "dv", "lse" };
    DType dt;
    if ((s = check_args(ctx, "tsr_attention_backward", ts, names, 9, 8, 4, 1, false, &dt)) != TSR_OK)
        return s;
    int head_dim = (int)q->shape[3];
    bool c = causal != 0;
    /* dkdv[1] is the dV launch where the config splits the kernel, else NULL */
    tsr_kernel *pre, *dkdv[2] = { NULL, NULL }, *dqk;
    bool split = attention_bwd_config(tsr_context_default_target(ctx), dt, head_dim, c).dkdv_split;
    if ((s = specialization(ctx, TSR_ATTENTION_BWD_PRE, dt, head_dim, c, 0, &pre)) != TSR_OK ||
        (s = specialization(ctx, TSR_ATTENTION_BWD_DKDV, dt, head_dim, c, split ? DKDV_ONLY_DK : 0, &dkdv[0])) !=
            TSR_OK ||
        (split && (s = specialization(ctx, TSR_ATTENTION_BWD_DKDV, dt, head_dim, c, DKDV_ONLY_DV, &dkdv[1])) !=
                      TSR_OK) ||
        (s = specialization(ctx, TSR_ATTENTION_BWD_DQ, dt, head_dim, c, 0, &dqk)) != TSR_OK)
        return s;

    /* The workspace: Delta, f32 [B, Hq, Sq], contiguous, on the device (from
     * the context's allocator on emu and interp). */
    int64_t dshape[3] = { q->shape[0], q->shape[1], q->shape[2] };
    size_t bytes = sizeof(float);
    for (int i = 0; i < 3; i++)
        bytes *= (size_t)(dshape[i] > 0 ? dshape[i] : 0);
    if (bytes == 0) /* an empty Delta still needs a pointer */
        bytes = sizeof(float);
    void *ws = NULL;
    if ((s = tsr_malloc(ctx, bytes, &ws)) != TSR_OK)
        return s;
    DLTensor delta;
    memset(&delta, 0, sizeof delta);
    delta.data = ws;
    delta.device = q->device;
    delta.ndim = 3;
    delta.dtype = (DLDataType){ kDLFloat, 32, 1 };
    delta.shape = dshape;
    static const char *const pre_params[] = { "O", "dO", "Delta" };
    const DLTensor *pre_ts[] = { o, dout, &delta };
    static const char *const dkdv_params[] = { "Q", "K", "V", "dO", "LSE", "Delta", "dK", "dV" };
    const DLTensor *dkdv_ts[] = { q, k, v, dout, lse, &delta, dk, dv };
    static const char *const dq_params[] = { "Q", "K", "V", "dO", "LSE", "Delta", "dQ" };
    const DLTensor *dq_ts[] = { q, k, v, dout, lse, &delta, dq };
    double sv[1] = { scale };
    Scalars none = { NULL, NULL, 0 }, with_scale = { scale_name, sv, 1 };
    s = launch(ctx, pre, pre_params, pre_ts, 3, &none, stream);
    if (s == TSR_OK)
        s = launch(ctx, dkdv[0], dkdv_params, dkdv_ts, 8, &with_scale, stream);
    if (s == TSR_OK && dkdv[1])
        s = launch(ctx, dkdv[1], dkdv_params, dkdv_ts, 8, &with_scale, stream);
    if (s == TSR_OK)
        s = launch(ctx, dqk, dq_params, dq_ts, 7, &with_scale, stream);
    /* On cuda tsr_free waits for the launches that use the workspace. Keep
     * the first failure's message. */
    if (s != TSR_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", tsr_context_error(ctx));
        tsr_free(ctx, ws);
        return rt_fail(ctx, s, "%s", msg);
    }
    return tsr_free(ctx, ws);
}
