/* tsr_attention_forward and tsr_attention_backward: flash attention from the
 * kernels built into the library, on the public API. Each specialization
 * (kernel, dtype, head dim, mask, target) is compiled once per context, from
 * the sources embedded at build time (kernels/attention.tsr,
 * kernels/attention_bwd.tsr) with the block sizes of
 * kernels/attention_config.c, and kept in a list on the context. */
#include "attention_config.h"
#include "rt.h"

#include <stdio.h>
#include <string.h>

struct AttnEntry {
    AttnEntry *next;
    const char *kernel_name; /* one of the TSR_ATTENTION_* names */
    DType dt;
    int head_dim;
    bool causal;
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
 * and the mask for the kernels that take them. Returns how many. */
typedef struct {
    char d[16], bm[16], bn[16], w[16];
    tsr_define defs[6];
} Defines;

static int make_defines(Defines *x, const char *kernel, const char *target, DType dt, int head_dim, bool causal)
{
    AttnBlocks b = { 0, 0, 0 };
    if (!strcmp(kernel, TSR_ATTENTION_KERNEL)) {
        AttnConfig cfg = attention_config(target, dt, head_dim, causal);
        b.bm = cfg.bm;
        b.bn = cfg.bn;
        b.warps = cfg.warps;
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
    if (b.bm) { /* not the preprocessing kernel, which has no mask or blocks to tune */
        x->defs[n++] = (tsr_define){ "BM", x->bm };
        x->defs[n++] = (tsr_define){ "BN", x->bn };
        x->defs[n++] = (tsr_define){ "CAUSAL", causal ? "true" : "false" };
    }
    if (b.warps)
        x->defs[n++] = (tsr_define){ "W", x->w };
    return n;
}

static tsr_status specialization(tsr_context *ctx, const char *kernel, DType dt, int head_dim, bool causal,
                                 tsr_kernel **out)
{
    const char *target = tsr_context_default_target(ctx);
    /* Threads may look up and add at once; two that compile the same
     * specialization both add it, and the first added is found after. */
    pthread_mutex_lock(&ctx->work_lock);
    *out = NULL;
    for (AttnEntry *e = ctx->attn; e && !*out; e = e->next)
        if (e->kernel_name == kernel && e->dt == dt && e->head_dim == head_dim && e->causal == causal &&
            !strcmp(e->target, target))
            *out = e->kernel;
    pthread_mutex_unlock(&ctx->work_lock);
    if (*out)
        return TSR_OK;
    bool forward = !strcmp(kernel, TSR_ATTENTION_KERNEL);
    const char *source = forward ? tsr_attention_source : tsr_attention_bwd_source;
    Defines defs;
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.defines = defs.defs;
    co.ndefines = make_defines(&defs, kernel, target, dt, head_dim, causal);
    co.kernel = kernel;
    co.source_name = forward ? "attention.tsr" : "attention_bwd.tsr";
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

/* Launches one attention kernel with its tensor parameters named in params
 * (in the order of ts) and, last, the scalar `scale` when with_scale. The
 * arguments go with the call, not on the shared kernel: threads may run
 * attention on one context at once. */
static tsr_status launch(tsr_context *ctx, tsr_kernel *kern, const char *const *params, const DLTensor *const *ts,
                         int ntensors, bool with_scale, float scale, void *stream)
{
    enum { MAX_ARGS = 10 };
    tsr_arg args[MAX_ARGS];
    int nargs = ntensors + with_scale;
    if (tsr_kernel_param_count(kern) != nargs)
        return rt_fail(ctx, TSR_ERR_DEVICE, "internal error: the attention kernel takes %d parameters, not %d",
                       tsr_kernel_param_count(kern), nargs);
    for (int i = 0; i < nargs; i++) {
        const char *name = i < ntensors ? params[i] : "scale";
        int at = tsr_kernel_param_index(kern, name);
        if (at < 0)
            return rt_fail(ctx, TSR_ERR_DEVICE, "internal error: the attention kernel has no parameter %s", name);
        args[at].tensor = i < ntensors ? ts[i] : NULL;
        args[at].scalar = scale;
    }
    return tsr_kernel_launch_args(kern, args, nargs, stream); /* a failure's message is on the context */
}

/* What both passes check before compiling anything: no NULL tensor, q's
 * dtype, 4 dimensions where names[i] is 4-D (the first n4), a head dim the
 * kernels take, whole groups of query heads. The launches check the rest
 * (dtypes and shapes against the kernels' parameters). */
static tsr_status check_args(tsr_context *ctx, const char *fn, const DLTensor *const *ts, const char *const *names,
                             int n, int n4, DType *dt)
{
    for (int i = 0; i < n; i++)
        if (!ts[i])
            return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, names[i]);
    const DLTensor *q = ts[0], *k = ts[1];
    if (!rt_dtype_from_dl(q->dtype, dt) || (*dt != DT_F16 && *dt != DT_BF16)) {
        char name[32];
        rt_dl_dtype_name(q->dtype, name, sizeof name);
        return rt_fail(ctx, TSR_ERR_UNSUPPORTED, "attention takes float16 or bfloat16 tensors; q is %s", name);
    }
    for (int i = 0; i < n4; i++)
        if (ts[i]->ndim != 4 || !ts[i]->shape)
            return rt_fail(ctx, TSR_ERR_LAUNCH, "tensor '%s' must have 4 dimensions [B, H, S, D], not %d", names[i],
                           ts[i]->ndim);
    int64_t head_dim = q->shape[3], hq = q->shape[1], hkv = k->shape[1];
    if (head_dim <= 0 || head_dim > 256 || head_dim % 16)
        return rt_fail(ctx, TSR_ERR_UNSUPPORTED,
                       "head dim %lld: the attention kernels take multiples of 16 up to 256 (64, 128 and 256 are tuned)",
                       (long long)head_dim);
    if (hq > 0 && (hkv <= 0 || hq % hkv))
        return rt_fail(ctx, TSR_ERR_LAUNCH,
                       "q has %lld heads (dimension 1) and k has %lld: the query heads must be a multiple of the "
                       "key/value heads",
                       (long long)hq, (long long)hkv);
    return TSR_OK;
}

tsr_status tsr_attention_forward(tsr_context *ctx, const DLTensor *q, const DLTensor *k, const DLTensor *v,
                                 const DLTensor *o, const DLTensor *lse, float scale, int causal, void *stream)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    const DLTensor *ts[] = { q, k, v, o, lse };
    static const char *const names[] = { "q", "k", "v", "o", "lse" };
    static const char *const params[] = { "Q", "K", "V", "O", "LSE" };
    DType dt;
    if ((s = check_args(ctx, "tsr_attention_forward", ts, names, 5, 4, &dt)) != TSR_OK)
        return s;
    tsr_kernel *kern = NULL;
    s = specialization(ctx, TSR_ATTENTION_KERNEL, dt, (int)q->shape[3], causal != 0, &kern);
    if (s != TSR_OK)
        return s;
    return launch(ctx, kern, params, ts, 5, true, scale, stream);
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
    if ((s = check_args(ctx, "tsr_attention_backward", ts, names, 9, 8, &dt)) != TSR_OK)
        return s;
    int head_dim = (int)q->shape[3];
    bool c = causal != 0;
    tsr_kernel *pre, *dkdv, *dqk;
    if ((s = specialization(ctx, TSR_ATTENTION_BWD_PRE, dt, head_dim, c, &pre)) != TSR_OK ||
        (s = specialization(ctx, TSR_ATTENTION_BWD_DKDV, dt, head_dim, c, &dkdv)) != TSR_OK ||
        (s = specialization(ctx, TSR_ATTENTION_BWD_DQ, dt, head_dim, c, &dqk)) != TSR_OK)
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
    s = launch(ctx, pre, pre_params, pre_ts, 3, false, scale, stream);
    if (s == TSR_OK)
        s = launch(ctx, dkdv, dkdv_params, dkdv_ts, 8, true, scale, stream);
    if (s == TSR_OK)
        s = launch(ctx, dqk, dq_params, dq_ts, 7, true, scale, stream);
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
