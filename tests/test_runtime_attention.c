/* tsr_attention_forward, the attention kernels built into the library,
 * through the public API on interp and emu: FlashAttention's tolerance rule
 * against the double-precision reference on odd shapes with grouped-query
 * attention, every dtype and mask, head dims 64, 128 and 256; then the
 * errors it reports, and that a specialization is compiled once per
 * context. The same for tsr_attention_backward (dQ, dK, dV within the rule,
 * the same bits when repeated), and its workspace from the context's
 * allocator: running out there is TSR_ERR_OUT_OF_MEMORY with nothing
 * leaked. tsr_attention_forward_ex: windows, soft-capping, ALiBi and packed
 * batches through the API on interp and emu, and its option errors. */
#include "attn_bwd_check.h"
#include "attn_check.h"
#include "attn_decode_check.h"
#include "attn_ext_check.h"
#include "rt_suite.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef struct {
    tsr_context *ctx;
    bool causal;
} Runner;

/* attn_check's runner: the host tensors to the device, the call, back. */
static bool run_api(TirFunc *f, KernelArg *args, int nargs, void *arg, StrBuf *err)
{
    (void)f;
    (void)nargs;
    Runner *r = arg;
    DevTensor d[5];
    for (int i = 0; i < 5; i++)
        dev_upload(r->ctx, &args[i].tensor, &d[i]);
    tsr_status s = tsr_attention_forward(r->ctx, &d[0].t, &d[1].t, &d[2].t, &d[3].t, &d[4].t, (float)args[5].scalar,
                                         r->causal, NULL);
    if (s == TSR_OK)
        s = tsr_stream_synchronize(r->ctx, NULL);
    if (s != TSR_OK)
        sb_printf(err, "%s: %s", tsr_status_name(s), tsr_context_error(r->ctx));
    dev_download(r->ctx, &d[3], &args[3].tensor);
    dev_download(r->ctx, &d[4], &args[4].tensor);
    for (int i = 0; i < 5; i++)
        dev_free(r->ctx, &d[i]);
    return s == TSR_OK;
}

typedef struct {
    int B, Hq, Hkv, Sq, Sk;
} Shape;

static void check(tsr_device_kind kind, DType dt, int D, bool causal, const Shape *shapes, int nshapes)
{
    Runner r = { suite_context(kind), causal };
    for (int i = 0; i < nshapes; i++) {
        const Shape *sh = &shapes[i];
        AttnShape s = { sh->B, sh->Hq, sh->Hkv, sh->Sq, sh->Sk, D, causal, 1.0 / sqrt((double)D) };
        AttnErrors e = attn_check_run(NULL, dt, s, 500 + (uint64_t)i, run_api, &r);
        char what[96];
        snprintf(what, sizeof what, "tsr_attention_forward on %s", tsr_context_device_name(r.ctx));
        attn_check_assert(&e, dt, &s, what);
    }
    tsr_context_destroy(r.ctx);
}

static const Shape odd[] = { { 2, 4, 2, 113, 203 }, { 1, 3, 1, 1, 1 }, { 1, 2, 2, 64, 77 } };
static const Shape small[] = { { 1, 2, 1, 68, 45 } }; /* LSE rows of 16-byte multiples: the aligned variant */

static void interp_all(void **state)
{
    (void)state;
    for (int dt = 0; dt < 2; dt++)
        for (int D = 64; D <= 256; D *= 2)
            for (int c = 0; c < 2; c++)
                check(TSR_DEVICE_INTERP, dt ? DT_BF16 : DT_F16, D, c, odd, 3);
}

static void emu_f16_d64(void **state)
{
    (void)state;
    check(TSR_DEVICE_EMU, DT_F16, 64, false, odd, 3);
    check(TSR_DEVICE_EMU, DT_F16, 64, true, odd, 3);
}

static void emu_bf16_d128(void **state)
{
    (void)state;
    check(TSR_DEVICE_EMU, DT_BF16, 128, true, small, 1);
    check(TSR_DEVICE_EMU, DT_BF16, 128, false, small, 1);
}

static void emu_f16_d256(void **state)
{
    (void)state;
    check(TSR_DEVICE_EMU, DT_F16, 256, true, small, 1);
}

/* attn_bwd_check's runner: the host tensors to the device, the call, the
 * gradients back. */
static bool run_api_backward(AttnBwdTensors *t, double scale, void *arg, StrBuf *err)
{
    Runner *r = arg;
    HostTensor *in[6] = { &t->q, &t->k, &t->v, &t->o, &t->lse, &t->dout };
    DevTensor d[6], g[ATTN_NGRAD];
    for (int i = 0; i < 6; i++)
        dev_upload(r->ctx, in[i], &d[i]);
    for (int i = 0; i < ATTN_NGRAD; i++)
        dev_upload(r->ctx, &t->grad[i], &g[i]);
    tsr_status s = tsr_attention_backward(r->ctx, &d[0].t, &d[1].t, &d[2].t, &d[3].t, &d[4].t, &d[5].t,
                                          &g[ATTN_DQ].t, &g[ATTN_DK].t, &g[ATTN_DV].t, (float)scale, r->causal, NULL);
    if (s == TSR_OK)
        s = tsr_stream_synchronize(r->ctx, NULL);
    if (s != TSR_OK)
        sb_printf(err, "%s: %s", tsr_status_name(s), tsr_context_error(r->ctx));
    for (int i = 0; i < ATTN_NGRAD; i++) {
        dev_download(r->ctx, &g[i], &t->grad[i]);
        dev_free(r->ctx, &g[i]);
    }
    for (int i = 0; i < 6; i++)
        dev_free(r->ctx, &d[i]);
    return s == TSR_OK;
}

static void check_backward(tsr_device_kind kind, DType dt, int D, bool causal, const Shape *shapes, int nshapes)
{
    Runner r = { suite_context(kind), causal };
    for (int i = 0; i < nshapes; i++) {
        const Shape *sh = &shapes[i];
        AttnShape s = { sh->B, sh->Hq, sh->Hkv, sh->Sq, sh->Sk, D, causal, 1.0 / sqrt((double)D) };
        AttnBwdErrors e = attn_bwd_check_run(dt, s, 700 + (uint64_t)i, true, run_api_backward, &r);
        char what[96];
        snprintf(what, sizeof what, "tsr_attention_backward on %s", tsr_context_device_name(r.ctx));
        attn_bwd_check_assert(&e, dt, &s, what);
    }
    tsr_context_destroy(r.ctx);
}

static const Shape bwd_shapes[] = { { 2, 4, 2, 37, 50 }, { 1, 2, 1, 70, 9 } };

static void backward_interp(void **state)
{
    (void)state;
    for (int dt = 0; dt < 2; dt++)
        for (int c = 0; c < 2; c++)
            check_backward(TSR_DEVICE_INTERP, dt ? DT_BF16 : DT_F16, 64, c, bwd_shapes, 2);
    check_backward(TSR_DEVICE_INTERP, DT_BF16, 128, true, bwd_shapes, 1);
    check_backward(TSR_DEVICE_INTERP, DT_F16, 256, false, bwd_shapes + 1, 1);
}

static void backward_emu(void **state)
{
    (void)state;
    check_backward(TSR_DEVICE_EMU, DT_F16, 64, true, bwd_shapes, 2);
    check_backward(TSR_DEVICE_EMU, DT_BF16, 128, false, bwd_shapes + 1, 1);
}

/* Tensors for the error cases, on a host device. */
typedef struct {
    int64_t qs[4], ks[4], ls[3];
    DLTensor q, k, v, o, lse;
    void *mem;
} Attn;

static void attn_tensors(Attn *a, int D, DLDataType dt)
{
    int64_t qs[4] = { 1, 4, 33, D }, ks[4] = { 1, 2, 40, D }, ls[3] = { 1, 4, 33 };
    memcpy(a->qs, qs, sizeof qs);
    memcpy(a->ks, ks, sizeof ks);
    memcpy(a->ls, ls, sizeof ls);
    a->mem = calloc(4 * 33 * (size_t)D * 8 + 4096, 1);
    DLTensor base = { a->mem, { kDLCPU, 0 }, 4, dt, a->qs, NULL, 0 };
    a->q = a->o = base;
    a->k = a->v = base;
    a->k.shape = a->v.shape = a->ks;
    a->lse = base;
    a->lse.ndim = 3;
    a->lse.shape = a->ls;
    a->lse.dtype.code = kDLFloat;
    a->lse.dtype.bits = 32;
}

static void errors(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(TSR_DEVICE_INTERP);
    DLDataType f16 = { kDLFloat, 16, 1 }, f32 = { kDLFloat, 32, 1 };
    Attn a;
    attn_tensors(&a, 64, f16);
    tsr_status s = tsr_attention_forward(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, 0.125f, 0, NULL);
    assert_int_equal(s, TSR_OK);
    tsr_cache_stats st;
    tsr_context_cache_stats(ctx, &st);

    assert_int_equal(tsr_attention_forward(ctx, NULL, &a.k, &a.v, &a.o, &a.lse, 1, 0, NULL), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "q is NULL"));
    assert_int_equal(tsr_attention_forward(ctx, &a.q, &a.k, &a.v, &a.o, NULL, 1, 0, NULL), TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "lse is NULL"));

    DLTensor q = a.q;
    q.dtype = f32;
    assert_int_equal(tsr_attention_forward(ctx, &q, &a.k, &a.v, &a.o, &a.lse, 1, 0, NULL), TSR_ERR_UNSUPPORTED);
    assert_non_null(strstr(tsr_context_error(ctx), "q is float32"));

    q = a.q;
    q.ndim = 3;
    assert_int_equal(tsr_attention_forward(ctx, &q, &a.k, &a.v, &a.o, &a.lse, 1, 0, NULL), TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_context_error(ctx), "tensor 'q' must have 4 dimensions"));

    int64_t odd_d[4] = { 1, 4, 33, 40 };
    q = a.q;
    q.shape = odd_d;
    assert_int_equal(tsr_attention_forward(ctx, &q, &a.k, &a.v, &a.o, &a.lse, 1, 0, NULL), TSR_ERR_UNSUPPORTED);
    assert_non_null(strstr(tsr_context_error(ctx), "head dim 40"));

    int64_t three_heads[4] = { 1, 3, 33, 64 }, three_lse[3] = { 1, 3, 33 };
    q = a.q;
    q.shape = three_heads;
    DLTensor o = a.o, lse = a.lse;
    o.shape = three_heads;
    lse.shape = three_lse;
    assert_int_equal(tsr_attention_forward(ctx, &q, &a.k, &a.v, &o, &lse, 1, 0, NULL), TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_context_error(ctx), "q has 3 heads (dimension 1) and k has 2"));

    /* The kernel's own checks, reported on the context. */
    lse = a.lse;
    lse.dtype = f16;
    assert_int_equal(tsr_attention_forward(ctx, &a.q, &a.k, &a.v, &a.o, &lse, 1, 0, NULL), TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_context_error(ctx), "tensor 'LSE' must have dtype f32"));
    int64_t wrong_d[4] = { 1, 4, 33, 128 };
    o = a.o;
    o.shape = wrong_d;
    assert_int_equal(tsr_attention_forward(ctx, &a.q, &a.k, &a.v, &o, &a.lse, 1, 0, NULL), TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_context_error(ctx), "dimension 3 of tensor 'O' must be 64, not 128"));
    int64_t wrong_sq[4] = { 1, 4, 34, 64 };
    o.shape = wrong_sq;
    assert_int_equal(tsr_attention_forward(ctx, &a.q, &a.k, &a.v, &o, &a.lse, 1, 0, NULL), TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_context_error(ctx), "dimension 'Sq' is 33"));

    /* Each specialization is compiled once per context. */
    assert_int_equal(tsr_attention_forward(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, 0.125f, 0, NULL), TSR_OK);
    tsr_cache_stats st2;
    tsr_context_cache_stats(ctx, &st2);
    assert_true(st2.hits == st.hits && st2.misses == st.misses);
    free(a.mem);
    tsr_context_destroy(ctx);

    /* On emu: the PTX is made once, then kept: the aligned variant when the
     * module is compiled, and the one with scalar accesses at the first
     * launch, as LSE's rows (33 floats) are not multiples of 16 bytes. */
    ctx = suite_context(TSR_DEVICE_EMU);
    attn_tensors(&a, 64, f16);
    s = tsr_attention_forward(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, 0.125f, 1, NULL);
    if (s != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));
    tsr_context_cache_stats(ctx, &st);
    assert_int_equal(st.hits + st.misses, 2);
    assert_int_equal(tsr_attention_forward(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, 0.125f, 1, NULL), TSR_OK);
    tsr_context_cache_stats(ctx, &st2);
    assert_int_equal(st2.hits + st2.misses, 2);
    free(a.mem);
    tsr_context_destroy(ctx);
}

/* attn_ext_check's runner for tsr_attention_forward_ex: the arguments of
 * kernels/attention_ext.tsr back to the API's tensors (a packed batch's
 * [1, H, total, D] views as [total, H, D], its lse as [Hq, total]) and
 * options. */
typedef struct {
    tsr_context *ctx;
    const AttnExtCase *c;
} ExtRunner;

static HostTensor unview(HostTensor t, bool packed, bool lse)
{
    if (!packed)
        return t;
    HostTensor u = t;
    int64_t shape[3] = { t.shape[2], t.shape[1], t.shape[3] };
    u.rank = lse ? 2 : 3;
    if (lse) {
        u.shape[0] = t.shape[1];
        u.shape[1] = t.shape[2];
        u.strides[0] = t.shape[2];
        u.strides[1] = 1;
    } else {
        memcpy(u.shape, shape, sizeof shape);
        u.strides[0] = shape[1] * shape[2];
        u.strides[1] = shape[2];
        u.strides[2] = 1;
    }
    return u;
}

static bool run_api_ext(TirFunc *f, KernelArg *args, int nargs, void *arg, StrBuf *err)
{
    (void)f;
    (void)nargs;
    ExtRunner *r = arg;
    bool packed = r->c->seq_q != NULL;
    DevTensor d[8];
    HostTensor h[8];
    for (int i = 0; i < 8; i++) {
        h[i] = i < 5 ? unview(args[i].tensor, packed, i == 4) : args[i].tensor;
        if (i < 5 || (i < 7 && packed) || (i == 7 && r->c->alibi))
            dev_upload(r->ctx, &h[i], &d[i]);
    }
    tsr_attention_options o;
    tsr_attention_options_init(&o);
    o.scale = (float)args[8].scalar;
    o.causal = r->c->s.causal;
    o.local = r->c->f.local;
    o.window_left = r->c->f.window_left;
    o.window_right = r->c->f.window_right;
    o.softcap = (float)r->c->f.softcap;
    o.alibi_slopes = r->c->alibi ? &d[7].t : NULL;
    o.cu_seqlens_q = packed ? &d[5].t : NULL;
    o.cu_seqlens_k = packed ? &d[6].t : NULL;
    o.max_seqlen_q = (int)args[12].scalar;
    tsr_status s = tsr_attention_forward_ex(r->ctx, &d[0].t, &d[1].t, &d[2].t, &d[3].t, &d[4].t, &o, NULL);
    if (s == TSR_OK)
        s = tsr_stream_synchronize(r->ctx, NULL);
    if (s != TSR_OK)
        sb_printf(err, "%s: %s", tsr_status_name(s), tsr_context_error(r->ctx));
    dev_download(r->ctx, &d[3], &h[3]);
    dev_download(r->ctx, &d[4], &h[4]);
    for (int i = 0; i < 8; i++)
        if (i < 5 || (i < 7 && packed) || (i == 7 && r->c->alibi))
            dev_free(r->ctx, &d[i]);
    return s == TSR_OK;
}

static void check_ext(tsr_device_kind kind, DType dt, const AttnExtCase *c)
{
    ExtRunner r = { suite_context(kind), c };
    AttnErrors e = attn_ext_check_run(NULL, dt, c, 900, run_api_ext, &r);
    char what[96];
    snprintf(what, sizeof what, "tsr_attention_forward_ex on %s", tsr_context_device_name(r.ctx));
    attn_ext_check_assert(&e, dt, c, what);
    tsr_context_destroy(r.ctx);
}

/* Every feature through the API: a dense batch with a causal window, soft-
 * capping and ALiBi, and a packed batch with empty and length-1 sequences,
 * on interp (D 64 and 256, the latter's small blocks) and emu. */
static void forward_ex(void **state)
{
    (void)state;
    static const int sq[] = { 0, 1, 50, 17 }, sk[] = { 3, 1, 70, 0 };
    for (int k = 0; k < 2; k++) {
        tsr_device_kind kind = k ? TSR_DEVICE_EMU : TSR_DEVICE_INTERP;
        AttnExtCase dense;
        memset(&dense, 0, sizeof dense);
        dense.s = (AttnShape){ 2, 4, 2, 70, 90, 64, true, 0.125 };
        dense.f.local = true;
        dense.f.window_left = 20;
        dense.f.window_right = -1;
        dense.f.softcap = 4.0;
        dense.alibi = true;
        check_ext(kind, DT_F16, &dense);
        AttnExtCase packed;
        memset(&packed, 0, sizeof packed);
        packed.s = (AttnShape){ 4, 2, 1, 0, 0, k ? 64 : 256, false, 1.0 / 16 };
        packed.seq_q = sq;
        packed.seq_k = sk;
        check_ext(kind, DT_BF16, &packed);
    }
}

/* attn_decode_check's runner for tsr_attention_forward_ex with a block
 * table: the caches, table and lengths to the device, the call, o and lse
 * back (the library keeps its own split workspace). */
typedef struct {
    tsr_context *ctx;
    int splits; /* 0: the library's choice */
} DecodeRunner;

static bool run_api_decode(const AttnDecodeCase *c, AttnDecodeTensors *t, void *arg, StrBuf *err)
{
    DecodeRunner *r = arg;
    HostTensor *h[8] = { &t->q, &t->kc, &t->vc, &t->o, &t->lse, &t->bt, &t->seqk, &t->slopes };
    DevTensor d[8];
    for (int i = 0; i < 8; i++)
        dev_upload(r->ctx, h[i], &d[i]);
    tsr_attention_options o;
    tsr_attention_options_init(&o);
    o.scale = (float)t->scale;
    o.causal = c->causal;
    o.block_table = &d[5].t;
    o.cache_seqlens = &d[6].t;
    o.num_splits = r->splits;
    o.local = c->f.local;
    o.window_left = c->f.window_left;
    o.window_right = c->f.window_right;
    o.softcap = (float)c->f.softcap;
    o.alibi_slopes = c->alibi ? &d[7].t : NULL;
    tsr_status s = tsr_attention_forward_ex(r->ctx, &d[0].t, &d[1].t, &d[2].t, &d[3].t, &d[4].t, &o, NULL);
    if (s == TSR_OK)
        s = tsr_stream_synchronize(r->ctx, NULL);
    if (s != TSR_OK)
        sb_printf(err, "%s: %s", tsr_status_name(s), tsr_context_error(r->ctx));
    dev_download(r->ctx, &d[3], &t->o);
    dev_download(r->ctx, &d[4], &t->lse);
    for (int i = 0; i < 8; i++)
        dev_free(r->ctx, &d[i]);
    return s == TSR_OK;
}

/* Decoding through the API on interp and emu: GQA 4 with Sq 3 and a page
 * that does not divide the lengths, given splits and the library's, then
 * with a window, soft-capping and ALiBi. */
static void forward_ex_decode(void **state)
{
    (void)state;
    static const int seqk[] = { 45, 0, 130 };
    for (int k = 0; k < 2; k++) {
        DecodeRunner r = { suite_context(k ? TSR_DEVICE_EMU : TSR_DEVICE_INTERP), 0 };
        for (int splits = 0; splits <= 6; splits += 3) {
            AttnDecodeCase c = { 3, 8, 2, 3, k ? 128 : 64, true, 24, splits ? splits : 1, seqk, { 0 }, false };
            if (splits == 6) { /* the features */
                AttnFeatures f = { true, 30, 0, 4.0, NULL };
                c.f = f;
                c.alibi = true;
            }
            r.splits = splits;
            AttnErrors e = attn_decode_check_with(k ? DT_BF16 : DT_F16, &c, 77 + (uint64_t)splits, run_api_decode, &r);
            attn_decode_check_assert(&e, k ? DT_BF16 : DT_F16, &c, "tsr_attention_forward_ex (block_table)");
        }
        tsr_context_destroy(r.ctx);
    }
}

static void forward_ex_errors(void **state)
{
    (void)state;
    tsr_context *ctx = suite_context(TSR_DEVICE_INTERP);
    DLDataType f16 = { kDLFloat, 16, 1 }, i32 = { kDLInt, 32, 1 };
    Attn a;
    attn_tensors(&a, 64, f16);
    tsr_attention_options o;
    tsr_attention_options_init(&o);
    assert_int_equal(tsr_attention_forward_ex(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &o, NULL), TSR_OK);
    assert_int_equal(tsr_attention_forward_ex(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, NULL, NULL),
                     TSR_ERR_INVALID_ARGUMENT);
    o.softcap = -1;
    assert_int_equal(tsr_attention_forward_ex(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &o, NULL),
                     TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "softcap -1"));
    o.softcap = 0;
    int64_t three[1] = { 3 };
    DLTensor slopes = { a.mem, { kDLCPU, 0 }, 1, f16, three, NULL, 0 };
    o.alibi_slopes = &slopes;
    assert_int_equal(tsr_attention_forward_ex(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &o, NULL), TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_context_error(ctx), "alibi_slopes must be float32 [Hq] = [4]"));
    o.alibi_slopes = NULL;
    DLTensor cu = { a.mem, { kDLCPU, 0 }, 1, i32, three, NULL, 0 };
    o.cu_seqlens_q = &cu;
    assert_int_equal(tsr_attention_forward_ex(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &o, NULL),
                     TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "both cu_seqlens_q and cu_seqlens_k"));
    o.cu_seqlens_k = &cu;
    assert_int_equal(tsr_attention_forward_ex(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &o, NULL), TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_context_error(ctx), "tensor 'q' must have 3 dimensions [total, H, D]"));
    /* Decoding: a block table needs the lengths, and takes no cu_seqlens. */
    o.cu_seqlens_q = o.cu_seqlens_k = NULL;
    int64_t bts[2] = { 1, 2 };
    DLTensor table = { a.mem, { kDLCPU, 0 }, 2, i32, bts, NULL, 0 };
    o.block_table = &table;
    assert_int_equal(tsr_attention_forward_ex(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &o, NULL),
                     TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "a block_table needs cache_seqlens"));
    o.cache_seqlens = &cu;
    o.cu_seqlens_q = o.cu_seqlens_k = &cu;
    assert_int_equal(tsr_attention_forward_ex(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &o, NULL), TSR_ERR_UNSUPPORTED);
    assert_non_null(strstr(tsr_context_error(ctx), "decoding from a paged cache takes no cu_seqlens"));
    o.cu_seqlens_q = o.cu_seqlens_k = NULL;
    o.block_table = o.cache_seqlens = NULL;
    /* A struct from a newer version with a field set that this one does
     * not know; one older than the first is refused too. */
    struct {
        tsr_attention_options o;
        int future;
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.o.struct_size = sizeof newer;
    newer.future = 1;
    assert_int_equal(tsr_attention_forward_ex(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &newer.o, NULL),
                     TSR_ERR_UNSUPPORTED);
    newer.future = 0;
    assert_int_equal(tsr_attention_forward_ex(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &newer.o, NULL), TSR_OK);
    newer.o.struct_size = sizeof(size_t);
    assert_int_equal(tsr_attention_forward_ex(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &newer.o, NULL),
                     TSR_ERR_INVALID_ARGUMENT);
    free(a.mem);
    tsr_context_destroy(ctx);
}

/* An allocator that fails its allocation number fail_at (1-based; 0:
 * never) and counts what is live. */
typedef struct {
    long allocs, frees, fail_at;
} Counter;

static void *count_alloc(void *user, size_t size, size_t align)
{
    Counter *c = user;
    if (c->fail_at && c->allocs + 1 == c->fail_at)
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1))
        return NULL;
    c->allocs++;
    return p;
}

static void count_free(void *user, void *ptr, size_t size)
{
    (void)size;
    ((Counter *)user)->frees++;
    free(ptr);
}

static void backward_errors(void **state)
{
    (void)state;
    Counter c = { 0 };
    tsr_allocator alloc = { count_alloc, count_free, &c };
    tsr_context_options opts;
    tsr_context_options_init(&opts);
    opts.device = TSR_DEVICE_INTERP;
    opts.allocator = &alloc;
    opts.host_threads = 1;
    tsr_context *ctx;
    assert_int_equal(tsr_context_create(&opts, &ctx), TSR_OK);
    DLDataType f16 = { kDLFloat, 16, 1 }, bf16 = { kDLBfloat, 16, 1 };
    Attn a;
    attn_tensors(&a, 64, f16);
    DLTensor dout = a.o, dq = a.q, dk = a.k, dv = a.v;
    tsr_status s = tsr_attention_backward(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &dout, &dq, &dk, &dv, 0.125f, 1, NULL);
    if (s != TSR_OK)
        fail_msg("%s", tsr_context_error(ctx));

    assert_int_equal(tsr_attention_backward(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &dout, NULL, &dk, &dv, 1, 0, NULL),
                     TSR_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tsr_context_error(ctx), "tsr_attention_backward: dq is NULL"));
    DLTensor bad = dk;
    bad.dtype = bf16;
    assert_int_equal(tsr_attention_backward(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &dout, &dq, &bad, &dv, 1, 0, NULL),
                     TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_context_error(ctx), "tensor 'dK' must have dtype f16"));
    bad = dv;
    bad.ndim = 2;
    assert_int_equal(tsr_attention_backward(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &dout, &dq, &dk, &bad, 1, 0, NULL),
                     TSR_ERR_LAUNCH);
    assert_non_null(strstr(tsr_context_error(ctx), "tensor 'dv' must have 4 dimensions"));

    /* Every allocation of a call, made to fail in turn (the specializations
     * are compiled already): TSR_ERR_OUT_OF_MEMORY, nothing leaked but the
     * message, and then the call works again. */
    long before = c.allocs;
    assert_int_equal(tsr_attention_backward(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &dout, &dq, &dk, &dv, 1, 1, NULL),
                     TSR_OK);
    long used = c.allocs - before;
    assert_true(used >= 1 + 3); /* the workspace, and each launch's arrays */
    for (long f = 1; f <= used; f++) {
        long live = c.allocs - c.frees;
        c.fail_at = c.allocs + f;
        s = tsr_attention_backward(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &dout, &dq, &dk, &dv, 1, 1, NULL);
        c.fail_at = 0;
        if (s != TSR_ERR_OUT_OF_MEMORY || !strstr(tsr_context_error(ctx), "memory"))
            fail_msg("allocation %ld of tsr_attention_backward failing: %s: %s", f, tsr_status_name(s),
                     tsr_context_error(ctx));
        assert_true(c.allocs - c.frees <= live + 1);
    }
    assert_int_equal(tsr_attention_backward(ctx, &a.q, &a.k, &a.v, &a.o, &a.lse, &dout, &dq, &dk, &dv, 1, 1, NULL),
                     TSR_OK);
    free(a.mem);
    tsr_context_destroy(ctx);
    assert_int_equal(c.allocs, c.frees);
}

int main(void)
{
    suite_default_cache_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errors),        cmocka_unit_test(interp_all),    cmocka_unit_test(emu_f16_d64),
        cmocka_unit_test(emu_bf16_d128), cmocka_unit_test(emu_f16_d256),  cmocka_unit_test(backward_errors),
        cmocka_unit_test(backward_interp), cmocka_unit_test(backward_emu),
        cmocka_unit_test(forward_ex),      cmocka_unit_test(forward_ex_errors), cmocka_unit_test(forward_ex_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
