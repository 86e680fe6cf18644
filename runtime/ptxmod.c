/* PTX that Tessera did not generate (tessera.h, "PTX written elsewhere"):
 * loading it as a module of kernels with declared parameters, tensor maps
 * made from C (tsr_tensor_map_encode), and launches with explicit grid,
 * block and shared memory (tsr_kernel_launch_ptx). The kernels share the
 * module and kernel handles of DSL kernels; their one variant holds the
 * whole PTX, loaded by the device as a DSL kernel's is. */
#include "abi.h"
#include "device/device.h"
#include "target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- declarations */

static int kind_size(tsr_ptx_param_kind k)
{
    switch (k) {
    case TSR_PTX_TENSOR_IN:
    case TSR_PTX_TENSOR_OUT:
    case TSR_PTX_I64:
    case TSR_PTX_F64: return 8;
    case TSR_PTX_I32:
    case TSR_PTX_F32: return 4;
    case TSR_PTX_TENSOR_MAP: return ABI_TMAP_BYTES;
    }
    return 0; /* not a kind */
}

static const char *kind_name(tsr_ptx_param_kind k)
{
    static const char *const names[] = { "?", "TSR_PTX_TENSOR_IN", "TSR_PTX_TENSOR_OUT", "TSR_PTX_I32", "TSR_PTX_I64",
                                         "TSR_PTX_F32", "TSR_PTX_F64", "TSR_PTX_TENSOR_MAP" };
    return kind_size(k) ? names[k] : names[0];
}

void rt_ptx_decl_free(tsr_context *ctx, PtxDecl *d)
{
    if (!d)
        return;
    if (d->name)
        rt_free(ctx, d->name, strlen(d->name) + 1);
    rt_free(ctx, d->params, sizeof *d->params * (size_t)(d->nparams + 1));
    rt_free(ctx, d, sizeof *d);
}

static PtxDecl *decl_copy(tsr_context *ctx, const tsr_ptx_kernel *k)
{
    PtxDecl *d = rt_alloc(ctx, sizeof *d);
    if (!d)
        return NULL;
    size_t n = strlen(k->name);
    d->nparams = k->nparams;
    d->name = rt_alloc(ctx, n + 1);
    d->params = rt_alloc(ctx, sizeof *d->params * (size_t)(k->nparams + 1));
    if (!d->name || !d->params) {
        rt_ptx_decl_free(ctx, d);
        return NULL;
    }
    memcpy(d->name, k->name, n);
    if (k->nparams)
        memcpy(d->params, k->params, sizeof *d->params * (size_t)k->nparams);
    return d;
}

/* The form of the declarations: names, counts, kinds. */
static tsr_status check_decls(tsr_context *ctx, const tsr_ptx_kernel *kernels, int n)
{
    if (n < 1 || !kernels)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_module_load_ptx: %d kernels declared with kernels = %p", n,
                       (const void *)kernels);
    for (int i = 0; i < n; i++) {
        const tsr_ptx_kernel *k = &kernels[i];
        if (!k->name || k->nparams < 0 || (k->nparams > 0 && !k->params) || k->nparams > CODEGEN_MAX_PARAM_SLOTS)
            return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT,
                           "tsr_module_load_ptx: kernel %d is declared with name %s and %d parameters at %p", i,
                           k->name ? k->name : "NULL", k->nparams, (const void *)k->params);
        for (int p = 0; p < k->nparams; p++)
            if (!kind_size(k->params[p]))
                return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT,
                               "tsr_module_load_ptx: parameter %d of kernel '%s' has kind %d, which is not a "
                               "tsr_ptx_param_kind",
                               p, k->name, (int)k->params[p]);
    }
    return TSR_OK;
}

/* The declared parameters against the PTX's, as the emulator reads them. */
static tsr_status check_params(tsr_context *ctx, EmuModule *em, const tsr_ptx_kernel *k)
{
    EmuKernelInfo info;
    StrBuf err;
    sb_init_soft(&err);
    int rc = emu_kernel_info(em, k->name, &info, &err);
    sb_free(&err);
    if (rc) {
        StrBuf names;
        sb_init_soft(&names);
        for (int i = 0; i < emu_kernel_count(em); i++)
            sb_printf(&names, "%s'%s'", i ? ", " : "", emu_kernel_name(em, i));
        tsr_status s = rt_fail(ctx, TSR_ERR_NOT_FOUND, "tsr_module_load_ptx: the PTX has no kernel '%s' (it has %s)",
                               k->name, names.data ? names.data : "none");
        sb_free(&names);
        return s;
    }
    if (info.nparams != k->nparams)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT,
                       "tsr_module_load_ptx: kernel '%s' takes %d parameters in the PTX, %d are declared", k->name,
                       info.nparams, k->nparams);
    for (int p = 0; p < k->nparams; p++) {
        const EmuParamInfo *pi = &info.params[p];
        bool map = k->params[p] == TSR_PTX_TENSOR_MAP;
        if (pi->size != (size_t)kind_size(k->params[p]) || (map && pi->align < ABI_TMAP_ALIGN))
            return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT,
                           "tsr_module_load_ptx: parameter %d of kernel '%s' is %zu bytes aligned to %zu in the PTX; "
                           "%s is %d bytes%s",
                           p, k->name, pi->size, pi->align, kind_name(k->params[p]), kind_size(k->params[p]),
                           map ? " aligned to 64 (.param .align 64 .b8 name[128])" : "");
    }
    return TSR_OK;
}

/* -------------------------------------------------------------- loading */

static tsr_status add_ptx_kernel(tsr_module *m, const tsr_ptx_kernel *decl)
{
    tsr_context *ctx = m->ctx;
    tsr_kernel *k = rt_alloc(ctx, sizeof *k);
    if (!k)
        return rt_fail(ctx, TSR_ERR_OUT_OF_MEMORY, "out of host memory");
    tsr_status s = rt_module_add_kernel(m, k);
    if (s != TSR_OK) {
        rt_free(ctx, k, sizeof *k);
        return s;
    }
    KernelVariant *v = &k->var[VARIANT_ALIGNED];
    v->used = true;
    if (!(k->ptx = decl_copy(ctx, decl)) || !(v->ptx = malloc(m->len + 1)))
        return rt_fail(ctx, TSR_ERR_OUT_OF_MEMORY, "out of host memory");
    memcpy(v->ptx, m->source, m->len + 1);
    StrBuf err;
    sb_init_soft(&err);
    s = ctx->dev->load(ctx, decl->name, v, &err);
    if (s != TSR_OK)
        rt_fail_text(ctx, s, err.data);
    sb_free(&err);
    v->ready = s == TSR_OK;
    return s;
}

tsr_status tsr_module_load_ptx(tsr_context *ctx, const char *ptx, size_t len, const tsr_ptx_kernel *kernels,
                               int nkernels, tsr_module **out)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (!out || !ptx)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_module_load_ptx: %s is NULL", out ? "ptx" : "out");
    *out = NULL;
    if ((s = check_decls(ctx, kernels, nkernels)) != TSR_OK)
        return s;
    if (!ctx->dev->runs_ptx)
        return rt_fail(ctx, TSR_ERR_UNSUPPORTED, "tsr_module_load_ptx: the %s device runs no PTX (use emu or cuda)",
                       ctx->dev->name);
    /* The emulator's reading of the PTX checks the declarations; on cuda,
     * PTX it cannot read is left to the driver. */
    EmuModule *em = NULL;
    StrBuf err;
    sb_init_soft(&err);
    int rc = emu_module_load(ptx, len, &em, &err);
    if (rc == EMU_OUT_OF_MEMORY || (rc != EMU_OK && ctx->dev->kind == TSR_DEVICE_EMU))
        s = rt_fail_text(ctx, rc == EMU_OUT_OF_MEMORY ? TSR_ERR_OUT_OF_MEMORY : TSR_ERR_DEVICE, err.data);
    sb_free(&err);
    for (int i = 0; s == TSR_OK && em && i < nkernels; i++)
        s = check_params(ctx, em, &kernels[i]);
    emu_module_free(em);
    if (s != TSR_OK)
        return s;
    tsr_module *m = rt_module_new(ctx);
    if (!m)
        return TSR_ERR_OUT_OF_MEMORY;
    static const char name[] = "<ptx>";
    m->source = rt_alloc(ctx, len + 1);
    m->name = rt_alloc(ctx, sizeof name);
    if (!m->source || !m->name) {
        tsr_module_destroy(m);
        return rt_fail(ctx, TSR_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    memcpy(m->source, ptx, len);
    m->len = len;
    memcpy(m->name, name, sizeof name);
    snprintf(m->target, sizeof m->target, "%s", target_of_ptx(m->source)->name);
    for (int i = 0; s == TSR_OK && i < nkernels; i++)
        s = add_ptx_kernel(m, &kernels[i]);
    if (s != TSR_OK) {
        tsr_module_destroy(m);
        return s;
    }
    *out = m;
    return TSR_OK;
}

/* ---------------------------------------------------------- tensor maps */

/* What follows the device's 128 bytes in a tsr_tensor_map. */
typedef struct {
    uint32_t magic;
    int32_t device_kind, ordinal;
    uint32_t pad;
    uint64_t lo, bytes; /* the memory the map's tensor spans */
    uint32_t check;     /* FNV-1a of the map and the fields before it */
} MapTrailer;

enum { MAP_MAGIC = 0x4d525354u /* "TSRM" */ };
_Static_assert(ABI_TMAP_BYTES + sizeof(MapTrailer) <= sizeof(tsr_tensor_map), "tsr_tensor_map holds a map");

static uint32_t fnv(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static uint32_t map_check(const tsr_tensor_map *m)
{
    return fnv((const unsigned char *)m, ABI_TMAP_BYTES + offsetof(MapTrailer, check));
}

/* CUDA's element type (EMU_TMAP_*) of a DLPack dtype, or -1. */
static int map_dtype(DLDataType t)
{
    if (t.lanes != 1)
        return -1;
    switch (t.code) {
    case kDLUInt: return t.bits == 8 ? EMU_TMAP_U8 : t.bits == 16 ? EMU_TMAP_U16 : t.bits == 32 ? EMU_TMAP_U32
                                                      : t.bits == 64 ? EMU_TMAP_U64 : -1;
    case kDLInt: return t.bits == 8 ? EMU_TMAP_U8 : t.bits == 16 ? EMU_TMAP_U16 : t.bits == 32 ? EMU_TMAP_S32
                                                      : t.bits == 64 ? EMU_TMAP_S64 : -1;
    case kDLFloat: return t.bits == 16 ? EMU_TMAP_F16 : t.bits == 32 ? EMU_TMAP_F32 : t.bits == 64 ? EMU_TMAP_F64 : -1;
    case kDLBfloat: return t.bits == 16 ? EMU_TMAP_BF16 : -1;
    default: return -1;
    }
}

/* The memory a tensor of elements of `esize` bytes spans, from its lowest
 * element; false when it does not fit in the address space. */
static bool span_of(const char *data, int rank, const int64_t *shape, const int64_t *strides, int64_t esize,
                    const char **lo, size_t *bytes)
{
    int64_t below = 0, above = 0;
    *lo = data;
    *bytes = 0;
    for (int d = 0; d < rank; d++) {
        if (shape[d] == 0)
            return true;
        int64_t off;
        if (shape[d] < 0 || __builtin_mul_overflow(shape[d] - 1, strides[d], &off) ||
            __builtin_add_overflow(off < 0 ? below : above, off, off < 0 ? &below : &above))
            return false;
    }
    int64_t n;
    if (__builtin_sub_overflow(above, below, &n) || __builtin_add_overflow(n, 1, &n) ||
        __builtin_mul_overflow(n, esize, &n) || __builtin_mul_overflow(below, esize, &below) ||
        (uintptr_t)data < (uintptr_t)-below || UINTPTR_MAX - ((uintptr_t)data + (uintptr_t)below) < (uintptr_t)n)
        return false;
    *lo = data + below;
    *bytes = (size_t)n;
    return true;
}

/* The DLTensor checks both entry points share: a tensor of the context's
 * device, with a shape, a span that fits; its view as a TmaTensor (dtype
 * -1 when TMA has none) and its span. On cuda the memory must be the GPU's. */
static tsr_status tensor_of(tsr_context *ctx, const char *what, const DLTensor *t, TmaTensor *tt, const char **lo,
                            size_t *bytes, StrBuf *err)
{
    if (!rt_on_device(ctx, t->device)) {
        sb_printf(err, "%s is on %s:%d, but the context runs on %s", what, rt_dl_device_name(t->device.device_type),
                  t->device.device_id, ctx->device_name);
        return TSR_ERR_LAUNCH;
    }
    int64_t esize = ((int64_t)t->dtype.bits * t->dtype.lanes + 7) / 8;
    if (t->ndim < 0 || t->ndim > RT_TMA_MAX_RANK || (t->ndim > 0 && !t->shape) || esize <= 0) {
        sb_printf(err, "%s has %d dimensions%s and elements of %lld bytes (Tessera takes 0 to 5 dimensions)", what,
                  t->ndim, t->ndim > 0 && !t->shape ? " but no shape" : "", (long long)esize);
        return TSR_ERR_LAUNCH;
    }
    memset(tt, 0, sizeof *tt);
    tt->data = t->data ? (const char *)t->data + t->byte_offset : NULL;
    tt->dtype = map_dtype(t->dtype);
    tt->rank = t->ndim;
    int64_t dense = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        tt->shape[d] = t->shape[d];
        tt->strides[d] = t->strides ? t->strides[d] : dense;
        if (__builtin_mul_overflow(dense, t->shape[d] > 0 ? t->shape[d] : 1, &dense))
            dense = INT64_MAX;
    }
    if (!span_of(tt->data, tt->rank, tt->shape, tt->strides, esize, lo, bytes)) {
        sb_printf(err, "%s: its shape and strides span more memory than an address can reach", what);
        return TSR_ERR_LAUNCH;
    }
    if (*bytes && !tt->data) {
        sb_printf(err, "%s has elements but no data (NULL)", what);
        return TSR_ERR_LAUNCH;
    }
    if (!*bytes || !ctx->dev->check_tensor)
        return TSR_OK;
    /* The device's check of the memory: the span as bytes. */
    HostTensor h = { (void *)*lo, DT_BOOL, 1, { (int64_t)*bytes }, { 1 } };
    return ctx->dev->check_tensor(ctx, what, &h, err);
}

tsr_status tsr_tensor_map_encode(tsr_context *ctx, const DLTensor *t, int rank, const uint32_t *box,
                                 tsr_tma_swizzle swizzle, tsr_tensor_map *out)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (!t || !box || !out)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_tensor_map_encode: %s is NULL",
                       !t ? "the tensor" : !box ? "box" : "out");
    if (!ctx->dev->tensor_map_encode)
        return rt_fail(ctx, TSR_ERR_UNSUPPORTED, "tsr_tensor_map_encode: the %s device runs no TMA", ctx->dev->name);
    if (rank != t->ndim || (int)swizzle < TSR_TMA_SWIZZLE_NONE || swizzle > TSR_TMA_SWIZZLE_128B)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT,
                       "tsr_tensor_map_encode: %s (rank %d given for a tensor of %d dimensions, swizzle %d)",
                       rank != t->ndim ? "the box's rank is not the tensor's" : "unknown swizzle", rank, t->ndim,
                       (int)swizzle);
    StrBuf err;
    sb_init_soft(&err);
    TmaTensor tt;
    const char *lo;
    size_t bytes;
    s = tensor_of(ctx, "the tensor", t, &tt, &lo, &bytes, &err);
    if (s == TSR_OK && tt.dtype < 0) {
        char name[32];
        rt_dl_dtype_name(t->dtype, name, sizeof name);
        sb_printf(&err, "TMA has no %s elements", name);
        s = TSR_ERR_INVALID_ARGUMENT;
    }
    if (s == TSR_OK && !rt_tma_fit(&tt, &err))
        s = TSR_ERR_INVALID_ARGUMENT;
    EmuTensorMapDesc d;
    if (s == TSR_OK) {
        int ibox[RT_TMA_MAX_RANK];
        for (int i = 0; i < rank; i++)
            ibox[i] = box[i] > 65536 ? 65536 : (int)box[i]; /* the rules refuse anything past 256 */
        rt_tma_describe(&tt, ibox, (int)swizzle, &d);
        if (!rt_tma_check(&d, &err))
            s = TSR_ERR_INVALID_ARGUMENT;
    }
    memset(out, 0, sizeof *out);
    if (s == TSR_OK)
        s = ctx->dev->tensor_map_encode(ctx, &d, out, &err);
    if (s != TSR_OK) {
        memset(out, 0, sizeof *out);
        s = rt_fail(ctx, s, "tsr_tensor_map_encode: %s", err.data ? err.data : "failed");
        sb_free(&err);
        return s;
    }
    sb_free(&err);
    MapTrailer tr = { MAP_MAGIC, (int32_t)ctx->dev->kind, ctx->ordinal, 0, (uint64_t)(uintptr_t)lo, bytes, 0 };
    memcpy((unsigned char *)out + ABI_TMAP_BYTES, &tr, sizeof tr);
    tr.check = map_check(out);
    memcpy((unsigned char *)out + ABI_TMAP_BYTES, &tr, sizeof tr);
    return TSR_OK;
}

/* ------------------------------------------------------------ launching */

/* Argument i as its declared kind into val (8 bytes, or the map's 128),
 * adding the memory it lets the kernel touch to regions. */
static tsr_status put_arg(tsr_context *ctx, tsr_ptx_param_kind kind, int i, const tsr_ptx_arg *a, unsigned char *val,
                          EmuRegion *regions, int *nregions, StrBuf *err)
{
    char what[48];
    snprintf(what, sizeof what, "argument %d", i);
    switch (kind) {
    case TSR_PTX_TENSOR_IN:
    case TSR_PTX_TENSOR_OUT: {
        if (!a->tensor) {
            sb_printf(err, "%s is declared %s: give its DLTensor in .tensor", what, kind_name(kind));
            return TSR_ERR_LAUNCH;
        }
        TmaTensor tt;
        const char *lo;
        size_t bytes;
        tsr_status s = tensor_of(ctx, what, a->tensor, &tt, &lo, &bytes, err);
        if (s != TSR_OK)
            return s;
        uint64_t p = (uint64_t)(uintptr_t)tt.data;
        memcpy(val, &p, 8);
        if (bytes)
            regions[(*nregions)++] = (EmuRegion){ lo, bytes, kind == TSR_PTX_TENSOR_OUT };
        return TSR_OK;
    }
    case TSR_PTX_I32: {
        if (a->i < INT32_MIN || a->i > (int64_t)UINT32_MAX) {
            sb_printf(err, "%s (%lld) does not fit in 32 bits", what, (long long)a->i);
            return TSR_ERR_LAUNCH;
        }
        uint32_t v = (uint32_t)a->i;
        memcpy(val, &v, 4);
        return TSR_OK;
    }
    case TSR_PTX_I64: memcpy(val, &a->i, 8); return TSR_OK;
    case TSR_PTX_F32: {
        float v = (float)a->f;
        memcpy(val, &v, 4);
        return TSR_OK;
    }
    case TSR_PTX_F64: memcpy(val, &a->f, 8); return TSR_OK;
    case TSR_PTX_TENSOR_MAP: {
        MapTrailer tr;
        if (a->map)
            memcpy(&tr, (const unsigned char *)a->map + ABI_TMAP_BYTES, sizeof tr);
        if (!a->map || tr.magic != MAP_MAGIC || tr.check != map_check(a->map)) {
            sb_printf(err, "%s is declared TSR_PTX_TENSOR_MAP: give a tensor map made by tsr_tensor_map_encode in .map%s",
                      what, a->map ? " (these bytes are not one)" : "");
            return TSR_ERR_LAUNCH;
        }
        if (tr.device_kind != (int32_t)ctx->dev->kind || tr.ordinal != ctx->ordinal) {
            sb_printf(err, "%s is a tensor map made for another device (%s:%d), but the context runs on %s", what,
                      tr.device_kind == TSR_DEVICE_CUDA ? "cuda" : tr.device_kind == TSR_DEVICE_EMU ? "emu" : "?",
                      tr.ordinal, ctx->device_name);
            return TSR_ERR_LAUNCH;
        }
        memcpy(val, a->map, ABI_TMAP_BYTES);
        if (tr.bytes) /* TMA may load and store */
            regions[(*nregions)++] = (EmuRegion){ (const void *)(uintptr_t)tr.lo, (size_t)tr.bytes, true };
        return TSR_OK;
    }
    }
    return TSR_ERR_LAUNCH;
}

/* The grid, block and shared memory against the device's and the kernel's
 * limits. */
static tsr_status check_dims(tsr_context *ctx, const KernelVariant *v, const tsr_launch_dims *d, StrBuf *err)
{
    uint64_t threads = (uint64_t)d->block[0] * d->block[1] * d->block[2];
    int max = ctx->max_threads;
    if (v->attrs.max_threads > 0 && v->attrs.max_threads < max)
        max = v->attrs.max_threads;
    if (!threads || threads > (uint64_t)max) {
        sb_printf(err, "a block of %u x %u x %u threads; the device and kernel allow 1 to %d", d->block[0],
                  d->block[1], d->block[2], max);
        return TSR_ERR_LAUNCH;
    }
    for (int i = 0; i < 3; i++)
        if (d->grid[i] > ctx->max_grid[i]) {
            sb_printf(err, "%u blocks in grid dimension %c; the device allows at most %lld", d->grid[i], "xyz"[i],
                      (long long)ctx->max_grid[i]);
            return TSR_ERR_LAUNCH;
        }
    if (d->dynamic_smem > v->attrs.max_dynamic_smem) {
        sb_printf(err, "%zu bytes of dynamic shared memory; the kernel may use at most %zu", d->dynamic_smem,
                  v->attrs.max_dynamic_smem);
        return TSR_ERR_LAUNCH;
    }
    return TSR_OK;
}

tsr_status tsr_kernel_launch_ptx(tsr_kernel *k, const tsr_launch_dims *dims, const tsr_ptx_arg *args, int nargs,
                                 void *stream)
{
    if (!k)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_context *ctx = k->mod->ctx;
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (!k->ptx)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT,
                       "tsr_kernel_launch_ptx: kernel '%s' is compiled from the DSL: launch it with tsr_kernel_launch "
                       "or tsr_kernel_launch_args",
                       k->f->name);
    const PtxDecl *decl = k->ptx;
    if (!dims || nargs != decl->nparams || (nargs > 0 && !args))
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT,
                       "tsr_kernel_launch_ptx: kernel '%s' takes %d arguments; %d given%s%s", decl->name,
                       decl->nparams, nargs, nargs > 0 && !args ? " with args = NULL" : "",
                       !dims ? ", and dims is NULL" : "");
    /* The values (128 bytes each, a map's size), the pointers to them, the regions. */
    size_t n = (size_t)nargs + 1;
    size_t total = n * ABI_TMAP_BYTES + n * sizeof(void *) + n * sizeof(EmuRegion);
    unsigned char *vals = rt_alloc(ctx, total);
    if (!vals)
        return rt_fail(ctx, TSR_ERR_OUT_OF_MEMORY, "out of host memory");
    void **ptrs = (void **)(vals + n * ABI_TMAP_BYTES);
    EmuRegion *regions = (EmuRegion *)(ptrs + n);
    int nregions = 0;
    StrBuf err;
    sb_init_soft(&err);
    KernelVariant *v = &k->var[VARIANT_ALIGNED];
    for (int i = 0; s == TSR_OK && i < nargs; i++) {
        ptrs[i] = vals + (size_t)i * ABI_TMAP_BYTES;
        s = put_arg(ctx, decl->params[i], i, &args[i], ptrs[i], regions, &nregions, &err);
    }
    if (s == TSR_OK)
        s = check_dims(ctx, v, dims, &err);
    if (s == TSR_OK && (uint64_t)dims->grid[0] * dims->grid[1] * dims->grid[2] > 0) {
        RawLaunch r = { decl->name, { dims->grid[0], dims->grid[1], dims->grid[2] },
                        { dims->block[0], dims->block[1], dims->block[2] }, dims->dynamic_smem, ptrs, regions, nregions };
        s = ctx->dev->launch_raw(ctx, v, &r, stream, &err);
    }
    if (s != TSR_OK)
        rt_fail(ctx, s, "kernel '%s': %s", decl->name, err.data ? err.data : "launch failed");
    sb_free(&err);
    rt_free(ctx, vals, total);
    return s;
}
