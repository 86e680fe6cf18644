/* Binding a kernel's arguments, checking them before a launch, and
 * launching. Validation turns the bound DLTensors into HostTensor views and
 * lets kernel_bind_args (interp.c) check dtypes, ranks, constant dims and the
 * consistency of symbolic dims; what it adds is what the generated code and
 * the devices need: the device of each tensor, element alignment, a
 * contiguous last dim, the alignment that picks the kernel variant, and the
 * limits on the grid, threads and shared memory. */
#include "abi.h"
#include "codegen.h"
#include "device/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------------- binding */

tsr_status rt_dsl_kernel(tsr_kernel *k, const char *fn)
{
    if (k->f)
        return TSR_OK;
    return rt_fail(k->mod->ctx, TSR_ERR_INVALID_ARGUMENT,
                   "%s: kernel '%s' was loaded from PTX: launch it with tsr_kernel_launch_ptx", fn, k->ptx->name);
}

static tsr_status param_at(tsr_kernel *k, int i, bool tensor, const char *fn)
{
    tsr_status s = rt_dsl_kernel(k, fn);
    if (s != TSR_OK)
        return s;
    if (i < 0 || i >= k->f->params.len)
        return rt_fail(k->mod->ctx, TSR_ERR_INVALID_ARGUMENT, "%s: argument %d is out of range: kernel '%s' takes %d", fn, i,
                       k->f->name, k->f->params.len);
    const TirParam *p = &k->f->params.data[i];
    if (p->is_tensor != tensor)
        return rt_fail(k->mod->ctx, TSR_ERR_INVALID_ARGUMENT, "%s: parameter '%s' (argument %d) of kernel '%s' is a %s", fn,
                       p->name, i, k->f->name, p->is_tensor ? "tensor" : "scalar");
    return TSR_OK;
}

/* Copies a tensor's description into a, which then owns its shape and
 * strides; the data stays the caller's. */
static void bind_tensor(BoundArg *a, const DLTensor *t)
{
    a->set = true;
    a->t = *t;
    /* A rank the kernels cannot have is kept as a number, reported at launch. */
    bool fits = t->ndim >= 0 && t->ndim <= TSR_MAX_RANK;
    a->t.shape = t->shape && fits ? a->shape : NULL;
    a->t.strides = t->strides && fits ? a->strides : NULL;
    for (int d = 0; fits && d < t->ndim; d++) {
        if (t->shape)
            a->shape[d] = t->shape[d];
        if (t->strides)
            a->strides[d] = t->strides[d];
    }
}

tsr_status tsr_kernel_set_tensor(tsr_kernel *k, int i, const DLTensor *t)
{
    if (!k)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_status s = rt_enter(k->mod->ctx);
    if (s == TSR_OK)
        s = param_at(k, i, true, "tsr_kernel_set_tensor");
    if (s != TSR_OK)
        return s;
    if (!t)
        return rt_fail(k->mod->ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_kernel_set_tensor: the DLTensor for '%s' is NULL",
                       k->f->params.data[i].name);
    bind_tensor(&k->args[i], t);
    return TSR_OK;
}

tsr_status tsr_kernel_set_scalar(tsr_kernel *k, int i, double value)
{
    if (!k)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_status s = rt_enter(k->mod->ctx);
    if (s == TSR_OK)
        s = param_at(k, i, false, "tsr_kernel_set_scalar");
    if (s != TSR_OK)
        return s;
    k->args[i].set = true;
    k->args[i].scalar = value;
    return TSR_OK;
}

static tsr_status index_of(tsr_kernel *k, const char *name, int *i)
{
    tsr_status s0 = rt_dsl_kernel(k, "setting an argument by name");
    if (s0 != TSR_OK)
        return s0;
    *i = tsr_kernel_param_index(k, name);
    if (*i >= 0)
        return TSR_OK;
    StrBuf names;
    sb_init_soft(&names);
    for (int j = 0; j < k->f->params.len; j++)
        sb_printf(&names, "%s%s", j ? ", " : "", k->f->params.data[j].name);
    tsr_status s = rt_fail(k->mod->ctx, name ? TSR_ERR_NOT_FOUND : TSR_ERR_INVALID_ARGUMENT,
                           "kernel '%s' has no parameter named '%s' (its parameters: %s)", k->f->name,
                           name ? name : "(null)", names.data ? names.data : "none");
    sb_free(&names);
    return s;
}

tsr_status tsr_kernel_set_tensor_by_name(tsr_kernel *k, const char *name, const DLTensor *t)
{
    int i;
    if (!k)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_status s = index_of(k, name, &i);
    return s == TSR_OK ? tsr_kernel_set_tensor(k, i, t) : s;
}

tsr_status tsr_kernel_set_scalar_by_name(tsr_kernel *k, const char *name, double value)
{
    int i;
    if (!k)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_status s = index_of(k, name, &i);
    return s == TSR_OK ? tsr_kernel_set_scalar(k, i, value) : s;
}

/* ------------------------------------------------------------ validation */

const char *rt_dl_device_name(DLDeviceType t)
{
    switch (t) {
    case kDLCPU: return "kDLCPU";
    case kDLCUDA: return "kDLCUDA";
    case kDLCUDAHost: return "kDLCUDAHost";
    case kDLCUDAManaged: return "kDLCUDAManaged";
    default: return "a device Tessera does not run on";
    }
}

bool rt_on_device(const tsr_context *ctx, DLDevice d)
{
    DLDevice want = ctx->dl_device;
    if (want.device_type == kDLCPU)
        return d.device_type == kDLCPU;
    return (d.device_type == kDLCUDA || d.device_type == kDLCUDAManaged) && d.device_id == want.device_id;
}

/* The view of bound tensor i as a HostTensor, after the checks that must
 * come before kernel_bind_args can read it. */
static tsr_status tensor_view(tsr_kernel *k, const BoundArg *args, int i, HostTensor *h, StrBuf *err)
{
    const TirParam *p = &k->f->params.data[i];
    const DLTensor *t = &args[i].t;
    tsr_context *ctx = k->mod->ctx;
    if (!rt_on_device(ctx, t->device)) {
        sb_printf(err, "tensor '%s' is on %s:%d, but the context runs on %s: its tensors must be %s:%d", p->name,
                  rt_dl_device_name(t->device.device_type), t->device.device_id, ctx->device_name,
                  rt_dl_device_name(ctx->dl_device.device_type), ctx->dl_device.device_id);
        return TSR_ERR_LAUNCH;
    }
    DType dt;
    if (!rt_dtype_from_dl(t->dtype, &dt)) {
        char name[32];
        rt_dl_dtype_name(t->dtype, name, sizeof name);
        sb_printf(err, "tensor '%s' has dtype %s, which Tessera does not support; it must be %s", p->name, name,
                  dtype_name(p->dt));
        return TSR_ERR_LAUNCH;
    }
    if (t->ndim < 0 || t->ndim > TIR_MAX_RANK) {
        sb_printf(err, "tensor '%s' must have %d dimensions, not %d", p->name, p->rank, t->ndim);
        return TSR_ERR_LAUNCH;
    }
    if (t->ndim > 0 && !t->shape) {
        sb_printf(err, "tensor '%s' has no shape (DLTensor.shape is NULL)", p->name);
        return TSR_ERR_LAUNCH;
    }
    memset(h, 0, sizeof *h);
    h->data = t->data ? (char *)t->data + t->byte_offset : NULL;
    h->dt = dt;
    h->rank = t->ndim;
    /* Contiguous strides of a shape whose elements do not fit in 63 bits
     * saturate; the extent check after kernel_bind_args refuses them. */
    int64_t stride = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        h->shape[d] = t->shape[d];
        h->strides[d] = t->strides ? t->strides[d] : stride;
        if (__builtin_mul_overflow(stride, t->shape[d] > 0 ? t->shape[d] : 1, &stride))
            stride = INT64_MAX;
    }
    return TSR_OK;
}

static uint64_t param_bit(int i) { return i < 64 ? (uint64_t)1 << i : ~(uint64_t)0; }

/* Checks after kernel_bind_args: layout and alignment. Sets bit i of
 * *unaligned when the tensor needs element-wise accesses, and of *tma_unfit
 * when no tensor map can describe it. */
static tsr_status tensor_layout(tsr_kernel *k, int i, const HostTensor *h, uint64_t *unaligned, uint64_t *tma_unfit,
                                StrBuf *err)
{
    const TirParam *p = &k->f->params.data[i];
    int64_t es = dtype_size(h->dt);
    int last = h->rank - 1;
    const char *lo;
    size_t bytes;
    if (!rt_tensor_extent(h, &lo, &bytes)) {
        sb_printf(err,
                  "tensor '%s': its shape and strides span more memory than an address can reach (offsets overflow "
                  "64 bits or wrap around the data pointer)",
                  p->name);
        return TSR_ERR_LAUNCH;
    }
    if (last >= 0 && h->shape[last] > 1 && h->strides[last] != 1) {
        sb_printf(err,
                  "tensor '%s': dimension %d, the last, has stride %lld; it must be 1 (the last dimension must be "
                  "contiguous)",
                  p->name, last, (long long)h->strides[last]);
        return TSR_ERR_LAUNCH;
    }
    uintptr_t addr = (uintptr_t)h->data;
    if (addr % (uintptr_t)es) {
        sb_printf(err, "tensor '%s': its data pointer %p is not aligned to its element size (%d bytes)", p->name, h->data,
                  (int)es);
        return TSR_ERR_LAUNCH;
    }
    bool vectors, tma;
    rt_tensor_access(h, &vectors, &tma);
    if (!vectors)
        *unaligned |= param_bit(i);
    if (!tma)
        *tma_unfit |= param_bit(i);
    return TSR_OK;
}

void rt_tensor_access(const HostTensor *h, bool *vectors, bool *tma)
{
    int64_t es = dtype_size(h->dt);
    *vectors = (uintptr_t)h->data % 16 == 0;
    for (int d = 0; d + 1 < h->rank; d++)
        if (h->shape[d] > 1 && (h->strides[d] * es) % 16)
            *vectors = false;
    StrBuf why;
    sb_init_soft(&why);
    TmaTensor tt;
    *tma = rt_tma_tensor(h, &tt) && rt_tma_fit(&tt, &why);
    sb_free(&why);
}

/* The sizes of a launch's arrays (from the context's allocator). */
static size_t args_bytes(const TirFunc *f) { return sizeof(KernelArg) * (size_t)(f->params.len + 1); }
static size_t syms_bytes(const TirFunc *f) { return sizeof(int32_t) * (size_t)(f->syms.len + 1); }

static void launch_free(tsr_kernel *k, Launch *l)
{
    tsr_context *ctx = k->mod->ctx;
    rt_free(ctx, l->args, args_bytes(k->f));
    rt_free(ctx, l->syms, syms_bytes(k->f));
    if (l->maps)
        rt_free(ctx, l->maps, (size_t)l->ntma * ABI_TMAP_BYTES);
    memset(l, 0, sizeof *l);
}

/* Everything a launch with these arguments checks, in order; fills l. */
static tsr_status validate(tsr_kernel *k, const BoundArg *args, Launch *l, StrBuf *err)
{
    TirFunc *f = k->f;
    tsr_context *ctx = k->mod->ctx;
    memset(l, 0, sizeof *l);
    l->nargs = f->params.len;
    l->args = rt_alloc(ctx, args_bytes(f));
    l->syms = rt_alloc(ctx, syms_bytes(f));
    if (!l->args || !l->syms) {
        sb_puts(err, "out of host memory");
        return TSR_ERR_OUT_OF_MEMORY;
    }
    for (int i = 0; i < l->nargs; i++) {
        const TirParam *p = &f->params.data[i];
        if (!args[i].set) {
            sb_printf(err, "argument %d ('%s') of kernel '%s' is not set", i, p->name, f->name);
            return TSR_ERR_LAUNCH;
        }
        l->args[i].is_tensor = p->is_tensor;
        if (p->is_tensor) {
            tsr_status s = tensor_view(k, args, i, &l->args[i].tensor, err);
            if (s != TSR_OK)
                return s;
        }
        l->args[i].scalar = args[i].scalar;
    }
    if (!kernel_bind_args(f, l->args, l->nargs, l->syms, err))
        return TSR_ERR_LAUNCH;
    for (int i = 0; i < l->nargs; i++) {
        if (!l->args[i].is_tensor)
            continue;
        tsr_status s = tensor_layout(k, i, &l->args[i].tensor, &l->unaligned, &l->tma_unfit, err);
        if (s == TSR_OK && ctx->dev->check_tensor)
            s = ctx->dev->check_tensor(ctx, f->params.data[i].name, &l->args[i].tensor, err);
        if (s != TSR_OK)
            return s;
    }
    InterpStatus gs = kernel_eval_grid_status(f, l->args, l->syms, l->grid, err);
    if (gs != INTERP_OK)
        return gs == INTERP_OUT_OF_MEMORY ? TSR_ERR_OUT_OF_MEMORY : TSR_ERR_LAUNCH;
    /* Only symbolic last dims matter to code generation (vector widths); the
     * others would make variants that differ in nothing. */
    l->divisible = 0;
    for (int i = 0; i < f->params.len; i++) {
        const TirParam *p = &f->params.data[i];
        int s = p->is_tensor ? p->dim_sym[p->rank - 1] : TIR_NONE;
        if (s != TIR_NONE && s < 64 && l->syms[s] % 8 == 0)
            l->divisible |= (uint64_t)1 << s;
    }
    for (int i = 0; i < 3; i++)
        if (l->grid[i] > ctx->max_grid[i]) {
            sb_printf(err, "kernel '%s' needs %lld blocks in grid dimension %c; the device allows at most %lld", f->name,
                      (long long)l->grid[i], "xyz"[i], (long long)ctx->max_grid[i]);
            return TSR_ERR_LAUNCH;
        }
    return TSR_OK;
}

/* The variant a launch runs, prepared. A variant that asks for a tensor map
 * of a tensor TMA cannot take (its strides, alignment or emptiness) is
 * passed over for the one that accesses that tensor element by element,
 * where code generation asks for no map (TirFunc.tma's contract). */
static tsr_status prepare_for(tsr_kernel *k, const Launch *l, int *which, StrBuf *err)
{
    tsr_context *ctx = k->mod->ctx;
    /* Launches in other threads may pick, compile and load variants of this
     * kernel at the same time; once ready, a variant never changes. */
    pthread_mutex_lock(&ctx->work_lock);
    *which = rt_variant_for(k, l->unaligned, l->divisible);
    tsr_status s = rt_prepare_variant(k, *which, err);
    uint64_t unfit = s == TSR_OK ? k->var[*which].tma_params & l->tma_unfit : 0;
    if (unfit) {
        *which = rt_variant_for(k, l->unaligned | unfit, l->divisible);
        s = rt_prepare_variant(k, *which, err);
    }
    pthread_mutex_unlock(&ctx->work_lock);
    if (s == TSR_OK && (k->var[*which].tma_params & l->tma_unfit)) {
        sb_printf(err, "internal error: the variant of kernel '%s' for these tensors asks for a tensor map of a tensor "
                       "TMA cannot take",
                  k->f->name);
        return TSR_ERR_LAUNCH;
    }
    return s;
}

/* A tensor map encoded earlier: the description it was made from. */
struct TmaCacheEntry {
    bool valid;
    EmuTensorMapDesc desc;
    unsigned char map[ABI_TMAP_BYTES];
};

/* The map of request r for tensor t into map: from the variant's cache when
 * an earlier launch encoded the same description (pointer, shape, strides),
 * else checked and encoded by the device and remembered. */
static tsr_status tensor_map(tsr_kernel *k, KernelVariant *v, int r, const HostTensor *t, unsigned char *map,
                             StrBuf *err)
{
    tsr_context *ctx = k->mod->ctx;
    const TmaRequest *q = &v->tma[r];
    const char *name = k->f->params.data[q->param].name;
    EmuTensorMapDesc d;
    TmaTensor tt;
    rt_tma_tensor(t, &tt); /* validation found its dtype: the variant asks for its map */
    rt_tma_describe(&tt, q->box, q->swizzle, &d);
    if (!ctx->dev->tensor_map_encode) {
        sb_printf(err, "kernel '%s' takes a tensor map of '%s', which the %s device cannot make", k->f->name, name,
                  ctx->dev->name);
        return TSR_ERR_UNSUPPORTED;
    }
    tsr_status s = TSR_OK;
    pthread_mutex_lock(&ctx->work_lock);
    if (!v->maps)
        v->maps = calloc((size_t)v->ntma * TMA_CACHE_WAYS, sizeof *v->maps);
    struct TmaCacheEntry *e = NULL, *ways = v->maps ? v->maps + (size_t)r * TMA_CACHE_WAYS : NULL;
    for (int w = 0; ways && w < TMA_CACHE_WAYS && !e; w++)
        if (ways[w].valid && !memcmp(&ways[w].desc, &d, sizeof d))
            e = &ways[w];
    if (e) {
        memcpy(map, e->map, ABI_TMAP_BYTES);
    } else if (!rt_tma_check(&d, err)) {
        sb_printf(err, " (the tensor map of '%s' for kernel '%s')", name, k->f->name);
        s = TSR_ERR_LAUNCH;
    } else if ((s = ctx->dev->tensor_map_encode(ctx, &d, map, err)) != TSR_OK) {
        sb_printf(err, " (the tensor map of '%s' for kernel '%s')", name, k->f->name);
    } else if (ways) {
        e = &ways[v->map_turn++ % TMA_CACHE_WAYS];
        e->valid = true;
        memcpy(&e->desc, &d, sizeof d);
        memcpy(e->map, map, ABI_TMAP_BYTES);
    }
    pthread_mutex_unlock(&ctx->work_lock);
    return s;
}

/* The tensor maps the launch's variant takes, into l->maps. */
static tsr_status tensor_maps(tsr_kernel *k, KernelVariant *v, Launch *l, StrBuf *err)
{
    if (!v->ntma)
        return TSR_OK;
    if (!(l->maps = rt_alloc(k->mod->ctx, (size_t)v->ntma * ABI_TMAP_BYTES))) {
        sb_puts(err, "out of host memory");
        return TSR_ERR_OUT_OF_MEMORY;
    }
    l->tma = v->tma;
    l->ntma = v->ntma;
    for (int r = 0; r < v->ntma; r++) {
        tsr_status s = tensor_map(k, v, r, &l->args[v->tma[r].param].tensor, l->maps + (size_t)r * ABI_TMAP_BYTES, err);
        if (s != TSR_OK)
            return s;
    }
    return TSR_OK;
}

/* The variant a launch runs, prepared, its tensor maps, and the device
 * limits it must fit. */
static tsr_status pick_variant(tsr_kernel *k, Launch *l, KernelVariant **out, StrBuf *err)
{
    tsr_context *ctx = k->mod->ctx;
    *out = NULL;
    if (!ctx->dev->runs_ptx)
        return TSR_OK;
    int which;
    tsr_status s = prepare_for(k, l, &which, err);
    if (s != TSR_OK)
        return s;
    KernelVariant *v = &k->var[which];
    if ((s = tensor_maps(k, v, l, err)) != TSR_OK)
        return s;
    int max_threads = ctx->max_threads;
    if (v->attrs.max_threads > 0 && v->attrs.max_threads < max_threads)
        max_threads = v->attrs.max_threads;
    if (v->threads > max_threads) {
        sb_printf(err, "kernel '%s' needs %d threads per block; the device allows %d", k->f->name, v->threads,
                  max_threads);
        return TSR_ERR_LAUNCH;
    }
    if (v->smem_bytes > v->attrs.max_dynamic_smem) {
        sb_printf(err, "kernel '%s' needs %zu bytes of shared memory per block; the device allows at most %zu",
                  k->f->name, v->smem_bytes, v->attrs.max_dynamic_smem);
        return TSR_ERR_LAUNCH;
    }
    *out = v;
    return TSR_OK;
}

/* The grid a launch runs (Launch.blocks): the program's, or for a
 * persistent kernel (TSR_COMPILE_PERSISTENT) as many blocks as the device
 * holds at once, at most one per instance, in x. */
static tsr_status launch_blocks(tsr_kernel *k, const KernelVariant *v, Launch *l, StrBuf *err)
{
    tsr_context *ctx = k->mod->ctx;
    memcpy(l->blocks, l->grid, sizeof l->blocks);
    if (!k->mod->persistent || !ctx->dev->resident_blocks)
        return TSR_OK;
    int64_t tiles = l->grid[0] * l->grid[1] * l->grid[2];
    if (tiles > INT32_MAX) {
        sb_printf(err, "persistent kernel '%s' has %lld instances (a grid of %lld x %lld x %lld); at most %d can be run",
                  k->f->name, (long long)tiles, (long long)l->grid[0], (long long)l->grid[1], (long long)l->grid[2],
                  INT32_MAX);
        return TSR_ERR_LAUNCH;
    }
    int64_t resident = ctx->dev->resident_blocks(ctx, v);
    l->blocks[0] = tiles < resident ? tiles : resident;
    l->blocks[1] = l->blocks[2] = 1;
    return TSR_OK;
}

/* tsr_kernel_grid (the program's grid) and tsr_kernel_launch_grid (the
 * blocks a launch runs, which picks the kernel's variant), named fn. */
static tsr_status grid_of(tsr_kernel *k, int64_t grid[3], const char *fn, bool launched)
{
    if (!k)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_status s = rt_enter(k->mod->ctx);
    if (s != TSR_OK)
        return s;
    if (!grid)
        return rt_fail(k->mod->ctx, TSR_ERR_INVALID_ARGUMENT, "%s: grid is NULL", fn);
    if ((s = rt_dsl_kernel(k, fn)) != TSR_OK)
        return s;
    Launch l;
    StrBuf err;
    sb_init_soft(&err);
    KernelVariant *v = NULL;
    s = validate(k, k->args, &l, &err);
    if (s == TSR_OK && launched)
        s = pick_variant(k, &l, &v, &err);
    if (s == TSR_OK && launched)
        s = launch_blocks(k, v, &l, &err);
    if (s == TSR_OK)
        memcpy(grid, launched ? l.blocks : l.grid, sizeof l.grid);
    else
        rt_fail_text(k->mod->ctx, s, err.data);
    launch_free(k, &l);
    sb_free(&err);
    return s;
}

tsr_status tsr_kernel_grid(tsr_kernel *k, int64_t grid[3]) { return grid_of(k, grid, "tsr_kernel_grid", false); }

tsr_status tsr_kernel_launch_grid(tsr_kernel *k, int64_t grid[3])
{
    return grid_of(k, grid, "tsr_kernel_launch_grid", true);
}

/* Validates and launches with these arguments (the kernel's bound ones or a
 * call's own); the message of a failure goes on the context. */
static tsr_status launch(tsr_kernel *k, const BoundArg *args, void *stream)
{
    tsr_context *ctx = k->mod->ctx;
    Launch l;
    StrBuf err;
    sb_init_soft(&err);
    KernelVariant *v = NULL;
    tsr_status s = validate(k, args, &l, &err);
    if (s == TSR_OK)
        s = pick_variant(k, &l, &v, &err);
    if (s == TSR_OK && l.grid[0] * l.grid[1] * l.grid[2] > 0)
        s = launch_blocks(k, v, &l, &err);
    if (s == TSR_OK && l.grid[0] * l.grid[1] * l.grid[2] > 0)
        s = ctx->dev->launch(ctx, k, v, &l, stream, &err);
    if (s != TSR_OK)
        rt_fail_text(ctx, s, err.data);
    launch_free(k, &l);
    sb_free(&err);
    return s;
}

tsr_status tsr_kernel_launch(tsr_kernel *k, void *stream)
{
    if (!k)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_status s = rt_enter(k->mod->ctx);
    if (s == TSR_OK)
        s = rt_dsl_kernel(k, "tsr_kernel_launch");
    return s == TSR_OK ? launch(k, k->args, stream) : s;
}

/* The arguments of one call as bound arguments (*out from the context's
 * allocator, nargs + 1 of them). */
static tsr_status call_args(tsr_kernel *k, const tsr_arg *args, int nargs, BoundArg **out)
{
    tsr_context *ctx = k->mod->ctx;
    const TirFunc *f = k->f;
    *out = NULL;
    if (nargs != f->params.len || (nargs > 0 && !args))
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_kernel_launch_args: kernel '%s' takes %d arguments, %d given%s",
                       f->name, f->params.len, nargs, nargs > 0 && !args ? " with args = NULL" : "");
    BoundArg *b = rt_alloc(ctx, sizeof *b * (size_t)(nargs + 1));
    if (!b)
        return rt_fail(ctx, TSR_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int i = 0; i < nargs; i++) {
        const TirParam *p = &f->params.data[i];
        if (p->is_tensor != (args[i].tensor != NULL)) {
            rt_free(ctx, b, sizeof *b * (size_t)(nargs + 1));
            return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT,
                           "tsr_kernel_launch_args: argument %d of kernel '%s' ('%s') is a %s: give %s", i, f->name,
                           p->name, p->is_tensor ? "tensor" : "scalar",
                           p->is_tensor ? "its DLTensor in .tensor" : "its value in .scalar and .tensor = NULL");
        }
        if (p->is_tensor)
            bind_tensor(&b[i], args[i].tensor);
        b[i].set = true;
        b[i].scalar = args[i].scalar;
    }
    *out = b;
    return TSR_OK;
}

tsr_status tsr_kernel_launch_args(tsr_kernel *k, const tsr_arg *args, int nargs, void *stream)
{
    if (!k)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_status s = rt_enter(k->mod->ctx);
    BoundArg *bound = NULL;
    if (s == TSR_OK)
        s = rt_dsl_kernel(k, "tsr_kernel_launch_args");
    if (s == TSR_OK)
        s = call_args(k, args, nargs, &bound);
    if (s == TSR_OK)
        s = launch(k, bound, stream);
    if (bound)
        rt_free(k->mod->ctx, bound, sizeof *bound * (size_t)(nargs + 1));
    return s;
}

/* ------------------------------------------------------------ parameters */

int rt_param_slots(const TirFunc *f, const Launch *l, size_t *bytes)
{
    AbiSlot slots[CODEGEN_MAX_PARAM_SLOTS];
    int n = abi_slots_with(f, l->tma, l->ntma, slots, CODEGEN_MAX_PARAM_SLOTS);
    size_t off = 0;
    for (int i = 0; i < n && i < CODEGEN_MAX_PARAM_SLOTS; i++) {
        size_t sz = (size_t)abi_slot_size(slots[i].kind), al = (size_t)abi_slot_align(slots[i].kind);
        off = (off + al - 1) / al * al + sz;
    }
    *bytes = off;
    return n;
}

bool rt_pack_params(const TirFunc *f, const Launch *l, const size_t *offsets, const size_t *sizes, int nparams,
                    unsigned char *buf, size_t max, void **args, StrBuf *err)
{
    int n = abi_slots_with(f, l->tma, l->ntma, NULL, 0);
    if (nparams >= 0 && nparams != n) {
        sb_printf(err, "internal error: kernel '%s' has %d PTX parameters, the ABI says %d", f->name, nparams, n);
        return false;
    }
    if (n > CODEGEN_MAX_PARAM_SLOTS) { /* code generation refuses these kernels */
        sb_printf(err, "internal error: kernel '%s' has %d PTX parameters", f->name, n);
        return false;
    }
    AbiSlot slots[CODEGEN_MAX_PARAM_SLOTS];
    abi_slots_with(f, l->tma, l->ntma, slots, n);
    size_t off = 0;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        const AbiSlot *s = &slots[i];
        size_t sz = (size_t)abi_slot_size(s->kind), al = (size_t)abi_slot_align(s->kind);
        off = offsets ? offsets[i] : (off + al - 1) / al * al;
        if ((sizes && sizes[i] != sz) || off + sz > max) {
            sb_printf(err, "internal error: PTX parameter %d of kernel '%s' does not match the ABI (%zu bytes at %zu)", i,
                      f->name, sz, off);
            ok = false;
            break;
        }
        unsigned char *dst = buf + off;
        args[i] = dst;
        const KernelArg *a = s->param != TIR_NONE ? &l->args[s->param] : NULL;
        DType dt = a ? f->params.data[s->param].dt : DT_I32;
        switch (s->kind) {
        case ABI_PTR: {
            uint64_t p = (uint64_t)(uintptr_t)a->tensor.data;
            memcpy(dst, &p, 8);
            break;
        }
        case ABI_I64: {
            /* a tensor's stride, or an i64 scalar (in range: kernel_bind_args) */
            int64_t v = f->params.data[s->param].is_tensor ? a->tensor.strides[s->dim] : (int64_t)a->scalar;
            memcpy(dst, &v, 8);
            break;
        }
        case ABI_I32: {
            /* u32 through uint32_t: its values above 2^31 do not fit an int32_t */
            int32_t v = !a                ? l->syms[s->dim]
                        : dt == DT_BOOL ? a->scalar != 0
                        : dt == DT_U32  ? (int32_t)(uint32_t)a->scalar
                                        : (int32_t)a->scalar;
            memcpy(dst, &v, 4);
            break;
        }
        case ABI_F32: {
            float v = (float)a->scalar;
            memcpy(dst, &v, 4);
            break;
        }
        case ABI_B16: {
            uint16_t v = dt == DT_BF16 ? f32_to_bf16_bits((float)a->scalar) : f32_to_f16_bits((float)a->scalar);
            memcpy(dst, &v, 2);
            break;
        }
        case ABI_TMAP: memcpy(dst, l->maps + (size_t)s->dim * ABI_TMAP_BYTES, ABI_TMAP_BYTES); break;
        }
        off += sz;
    }
    return ok;
}
