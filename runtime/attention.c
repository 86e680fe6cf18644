/* tsr_attention_forward: flash attention from the kernels built into the
 * library, on the public API. Each specialization (dtype, head dim, mask,
 * target) is compiled once per context, from the source embedded at build
 * time with the block sizes of kernels/attention_config.c, and kept in a
 * list on the context. */
#include "attention_config.h"
#include "rt.h"

#include <stdio.h>
#include <string.h>

struct AttnEntry {
    AttnEntry *next;
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

static tsr_status specialization(tsr_context *ctx, DType dt, int head_dim, bool causal, tsr_kernel **out)
{
    const char *target = tsr_context_default_target(ctx);
    /* Threads may look up and add at once; two that compile the same
     * specialization both add it, and the first added is found after. */
    pthread_mutex_lock(&ctx->work_lock);
    *out = NULL;
    for (AttnEntry *e = ctx->attn; e && !*out; e = e->next)
        if (e->dt == dt && e->head_dim == head_dim && e->causal == causal && !strcmp(e->target, target))
            *out = e->kernel;
    pthread_mutex_unlock(&ctx->work_lock);
    if (*out)
        return TSR_OK;
    AttnConfig cfg = attention_config(target, dt, head_dim, causal);
    char d[16], bm[16], bn[16];
    snprintf(d, sizeof d, "%d", head_dim);
    snprintf(bm, sizeof bm, "%d", cfg.bm);
    snprintf(bn, sizeof bn, "%d", cfg.bn);
    tsr_define defs[] = { { "T", dtype_name(dt) }, { "D", d },
                          { "BM", bm },            { "BN", bn },
                          { "CAUSAL", causal ? "true" : "false" } };
    tsr_compile_options co;
    memset(&co, 0, sizeof co);
    co.defines = defs;
    co.ndefines = (int)TSR_ARRAY_LEN(defs);
    co.kernel = TSR_ATTENTION_KERNEL;
    co.source_name = "attention.tsr";
    tsr_module *mod;
    tsr_status s = tsr_module_compile(ctx, tsr_attention_source, strlen(tsr_attention_source), &co, &mod);
    if (s != TSR_OK)
        return s;
    AttnEntry *e = rt_alloc(ctx, sizeof *e);
    if (!e) {
        tsr_module_destroy(mod);
        return rt_fail(ctx, TSR_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    e->dt = dt;
    e->head_dim = head_dim;
    e->causal = causal;
    snprintf(e->target, sizeof e->target, "%s", target);
    e->mod = mod;
    tsr_module_get_kernel(mod, TSR_ATTENTION_KERNEL, &e->kernel);
    pthread_mutex_lock(&ctx->work_lock);
    e->next = ctx->attn;
    ctx->attn = e;
    pthread_mutex_unlock(&ctx->work_lock);
    *out = e->kernel;
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
    for (int i = 0; i < 5; i++)
        if (!ts[i])
            return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_attention_forward: %s is NULL", names[i]);
    DType dt;
    if (!rt_dtype_from_dl(q->dtype, &dt) || (dt != DT_F16 && dt != DT_BF16)) {
        char name[32];
        rt_dl_dtype_name(q->dtype, name, sizeof name);
        return rt_fail(ctx, TSR_ERR_UNSUPPORTED, "attention takes float16 or bfloat16 tensors; q is %s", name);
    }
    for (int i = 0; i < 4; i++)
        if (ts[i]->ndim != 4 || !ts[i]->shape)
            return rt_fail(ctx, TSR_ERR_LAUNCH, "tensor '%s' must have 4 dimensions [B, H, S, D], not %d",
                           names[i], ts[i]->ndim);
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
    tsr_kernel *kern = NULL;
    s = specialization(ctx, dt, (int)head_dim, causal != 0, &kern);
    if (s != TSR_OK)
        return s;
    /* The arguments go with the call, not on the shared kernel: threads may
     * run attention on one context at once. */
    static const char *const params[] = { "Q", "K", "V", "O", "LSE", "scale" };
    tsr_arg args[6];
    if (tsr_kernel_param_count(kern) != 6)
        return rt_fail(ctx, TSR_ERR_DEVICE, "internal error: the attention kernel takes %d parameters, not 6",
                       tsr_kernel_param_count(kern));
    for (int i = 0; i < 6; i++) {
        int at = tsr_kernel_param_index(kern, params[i]);
        if (at < 0)
            return rt_fail(ctx, TSR_ERR_DEVICE, "internal error: the attention kernel has no parameter %s", params[i]);
        args[at].tensor = i < 5 ? ts[i] : NULL;
        args[at].scalar = scale;
    }
    return tsr_kernel_launch_args(kern, args, 6, stream); /* a failure's message is on the context */
}
