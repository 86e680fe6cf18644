/* Modules and kernels: DSL source through the frontend to TIR, and for the
 * PTX devices each kernel through code generation (or the JIT cache) to PTX
 * that the device loads. Code generation rewrites the TIR it is given, so it
 * always works on a fresh frontend result, and the module's own TIR stays
 * as the frontend left it (the interp device runs it; launches read its
 * parameters, symbols and grid). */
#include "abi.h"
#include "codegen.h"
#include "device/device.h"
#include "oom.h"
#include "readfile.h"
#include "target.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *ctx_strndup(tsr_context *ctx, const char *s, size_t n)
{
    char *p = rt_alloc(ctx, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

static char *ctx_strdup(tsr_context *ctx, const char *s) { return ctx_strndup(ctx, s, strlen(s)); }

static void ctx_strfree(tsr_context *ctx, char *s)
{
    if (s)
        rt_free(ctx, s, strlen(s) + 1);
}

/* ------------------------------------------------------------- variants */

/* Generates the PTX of one variant from the kernel's TIR (which the
 * driver copies before laying it out, so variants share it). Diagnostics go
 * to err. */
static tsr_status generate(tsr_kernel *k, const KernelVariant *v, bool want_llvm, CodegenResult *r, StrBuf *err)
{
    tsr_module *m = k->mod;
    Source src = { m->name, m->source, m->len };
    Diag diag;
    diag_init(&diag, &src);
    diag.api_defines = true;
    CodegenOptions co = { .target = m->target, .assume_aligned = true, .unaligned_params = v->unaligned,
                          .divisible_syms = v->divisible, .line_info = m->line_info,
                          .no_warp_specialize = m->no_warp_specialize, .no_overlap = m->no_overlap,
                          .no_pingpong = m->no_pingpong, .persistent = m->persistent };
    bool ok = compile_ptx(k->f, &co, want_llvm, NULL, r, &diag);
    tsr_status s = ok ? TSR_OK : diag.out_of_memory ? TSR_ERR_OUT_OF_MEMORY : TSR_ERR_COMPILE;
    if (!ok)
        sb_puts(err, diag.out_of_memory ? "out of host memory during code generation"
                     : diag.out.data    ? diag.out.data
                                        : "code generation failed");
    diag_free(&diag);
    return s;
}

int rt_variant_for(tsr_kernel *k, uint64_t unaligned, uint64_t divisible)
{
    for (int i = 0; i < MAX_VARIANTS; i++)
        if (k->var[i].used && k->var[i].unaligned == unaligned && k->var[i].divisible == divisible)
            return i;
    for (int i = 0; i < MAX_VARIANTS - 1; i++)
        if (!k->var[i].used) {
            k->var[i].used = true;
            k->var[i].unaligned = unaligned;
            k->var[i].divisible = divisible;
            return i;
        }
    /* The last place holds the variant that suits every launch. */
    KernelVariant *last = &k->var[MAX_VARIANTS - 1];
    last->used = true;
    last->unaligned = ~(uint64_t)0;
    last->divisible = 0;
    return MAX_VARIANTS - 1;
}

/* Whether a variant's tensor maps fit its kernel: each describes a tensor
 * parameter of the kernel, encodable, that the variant does not access
 * element by element (those are the tensors TMA cannot take). Code
 * generation guarantees it; a cache entry must too. */
static bool requests_fit(const tsr_kernel *k, const KernelVariant *v, const TmaRequest *tma, int ntma)
{
    for (int i = 0; i < ntma; i++) {
        StrBuf why;
        sb_init_soft(&why);
        bool ok = abi_tma_request_ok(k->f, &tma[i], &why);
        sb_free(&why);
        int p = tma[i].param;
        if (!ok || (p < 64 ? v->unaligned >> p & 1 : v->unaligned == ~(uint64_t)0))
            return false;
    }
    return true;
}

/* Takes the tensor maps of a variant (malloc'd). */
static void set_requests(KernelVariant *v, TmaRequest *tma, int ntma)
{
    v->tma = tma;
    v->ntma = ntma;
    v->tma_params = 0;
    for (int i = 0; i < ntma; i++)
        v->tma_params |= tma[i].param < 64 ? (uint64_t)1 << tma[i].param : 0;
}

tsr_status rt_prepare_variant(tsr_kernel *k, int which, StrBuf *err)
{
    KernelVariant *v = &k->var[which];
    if (v->ready)
        return TSR_OK;
    tsr_module *m = k->mod;
    tsr_context *ctx = m->ctx;
    if (!v->ptx) {
        bool want_llvm = which == VARIANT_ALIGNED && !k->llvm_ir && (m->kept_ir & TSR_IR_LLVM);
        JitKeyInput in = { m->source, m->len, k->defs, k->f->defines.len, k->f->name, m->target, v->unaligned,
                           v->divisible, m->line_info, m->no_warp_specialize, m->no_overlap, m->no_pingpong,
                           m->persistent };
        char key[65];
        jit_key(&in, key);
        JitEntry e;
        bool hit = !want_llvm && jit_cache_get(&ctx->cache, key, 32 * k->f->warps, CODEGEN_PRODUCER_THREADS, &e);
        if (hit && !requests_fit(k, v, e.tma, e.ntma)) { /* damaged: rebuilt below */
            ctx->cache.stats.hits--;
            ctx->cache.stats.corrupt++;
            free(e.ptx);
            free(e.tma);
            hit = false;
        }
        if (hit) {
            v->ptx = e.ptx;
            v->smem_bytes = e.smem_bytes;
            v->threads = e.threads;
            set_requests(v, e.tma, e.ntma);
        } else {
            ctx->cache.stats.misses++;
            CodegenResult r;
            tsr_status s = generate(k, v, want_llvm, &r, err);
            if (s != TSR_OK)
                return s;
            v->ptx = r.ptx;
            v->smem_bytes = r.smem_bytes;
            v->threads = r.threads;
            set_requests(v, r.tma, r.ntma);
            if (r.llvm_ir)
                k->llvm_ir = r.llvm_ir;
            free(r.kernel_name);
            e.ptx = v->ptx;
            e.smem_bytes = v->smem_bytes;
            e.threads = v->threads;
            e.tma = v->tma;
            e.ntma = v->ntma;
            jit_cache_put(&ctx->cache, key, &e);
        }
    }
    v->attrs.threads = v->threads;
    v->attrs.dynamic_smem = v->smem_bytes;
    if (ctx->dev->runs_ptx) {
        tsr_status s = ctx->dev->load(ctx, rt_kernel_name(k), v, err);
        if (s != TSR_OK)
            return s;
    }
    v->ready = true;
    return TSR_OK;
}

/* --------------------------------------------------------------- modules */

static void kernel_destroy(tsr_context *ctx, tsr_kernel *k)
{
    if (!k)
        return;
    for (int i = 0; i < MAX_VARIANTS; i++) {
        if (k->var[i].handle)
            ctx->dev->unload(ctx, &k->var[i]);
        free(k->var[i].ptx);
        free(k->var[i].tma);
        free(k->var[i].maps);
    }
    free(k->llvm_ir);
    free(k->tir_text);
    if (k->f) {
        rt_free(ctx, k->args, sizeof(BoundArg) * (size_t)(k->f->params.len ? k->f->params.len : 1));
        rt_free(ctx, k->defs, sizeof(Define) * (size_t)(k->f->defines.len ? k->f->defines.len : 1));
    }
    rt_ptx_decl_free(ctx, k->ptx);
    rt_free(ctx, k, sizeof *k);
}

/* Frees everything of a live module but its handle, and takes it off the
 * context's list. */
static void module_release(tsr_module *m)
{
    tsr_context *ctx = m->ctx;
    for (int i = 0; i < m->nkernels; i++)
        kernel_destroy(ctx, m->kernels[i]);
    rt_free(ctx, m->kernels, sizeof(tsr_kernel *) * (size_t)m->cap_kernels);
    if (m->tir)
        tir_module_free(m->tir);
    for (int i = 0; i < m->ndefs; i++) {
        ctx_strfree(ctx, (char *)m->defs[i].name);
        ctx_strfree(ctx, (char *)m->defs[i].value);
    }
    rt_free(ctx, m->defs, sizeof(Define) * (size_t)m->ndefs);
    rt_free(ctx, m->source, m->len + 1);
    ctx_strfree(ctx, m->name);
    pthread_mutex_lock(&ctx->work_lock);
    if (m->prev)
        m->prev->next = m->next;
    else if (ctx->modules == m)
        ctx->modules = m->next;
    if (m->next)
        m->next->prev = m->prev;
    pthread_mutex_unlock(&ctx->work_lock);
    m->kernels = NULL;
    m->nkernels = 0;
    m->tir = NULL;
    m->ctx = NULL;
}

void rt_modules_orphan(tsr_context *ctx)
{
    while (ctx->modules)
        module_release(ctx->modules); /* the handle stays for tsr_module_destroy */
}

void tsr_module_destroy(tsr_module *m)
{
    if (!m)
        return;
    if (m->ctx)
        module_release(m);
    /* The allocator was copied in: the context may be gone already. */
    tsr_allocator a = m->alloc;
    a.free(a.user, m, sizeof *m);
}

static tsr_status oom(tsr_context *ctx) { return rt_fail(ctx, TSR_ERR_OUT_OF_MEMORY, "out of host memory"); }

/* Checks the options and fills the module's copies of what the JIT key and
 * code generation need. */
static tsr_status module_init(tsr_module *m, const char *source, size_t len, const char *name,
                              const tsr_compile_options *o)
{
    tsr_context *ctx = m->ctx;
    const char *target = o->target ? o->target : ctx->default_target;
    if (!target_lookup(target)) {
        char why[192];
        target_unknown_message(why, sizeof why, target);
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "%s", why);
    }
    snprintf(m->target, sizeof m->target, "%s", target);
    if (o->ndefines < 0 || (o->ndefines > 0 && !o->defines))
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "%d defines given with defines = %p", o->ndefines,
                       (const void *)o->defines);
    if (o->keep_ir & ~(unsigned)(TSR_IR_TIR | TSR_IR_LLVM | TSR_IR_PTX))
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "keep_ir has unknown flags 0x%x", o->keep_ir);
    m->kept_ir = o->keep_ir;
    if (o->flags & ~(unsigned)TSR_COMPILE_FLAGS_ALL)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "flags has unknown bits 0x%x", o->flags);
    unsigned flags = o->flags | ctx->compile_flags;
    m->line_info = (flags & TSR_COMPILE_LINE_INFO) != 0;
    m->no_warp_specialize = (flags & TSR_COMPILE_NO_WARP_SPECIALIZE) != 0;
    m->no_overlap = (flags & TSR_COMPILE_NO_OVERLAP) != 0;
    m->no_pingpong = (flags & TSR_COMPILE_NO_PINGPONG) != 0;
    m->persistent = (flags & TSR_COMPILE_PERSISTENT) != 0;
    if (!(m->source = ctx_strndup(ctx, source, len)))
        return oom(ctx);
    m->len = len;
    if (!(m->name = ctx_strdup(ctx, name)))
        return oom(ctx);
    if (o->ndefines && !(m->defs = rt_alloc(ctx, sizeof(Define) * (size_t)o->ndefines)))
        return oom(ctx);
    m->ndefs = o->ndefines; /* filled below; NULL names are skipped when freeing */
    for (int i = 0; i < o->ndefines; i++) {
        const tsr_define *d = &o->defines[i];
        if (!d->name || !d->value)
            return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "define %d has a NULL %s", i, d->name ? "value" : "name");
        if (!(m->defs[i].name = ctx_strdup(ctx, d->name)) || !(m->defs[i].value = ctx_strdup(ctx, d->value)))
            return oom(ctx);
    }
    return TSR_OK;
}

typedef struct {
    TirFunc *f;
    StrBuf text;
} TirText;

static void print_tir(void *arg)
{
    TirText *t = arg;
    tir_print(&t->text, t->f);
}

/* The printed TIR of f, or NULL when memory runs out. */
static char *tir_text(TirFunc *f)
{
    TirText t = { f, { 0 } };
    bool ok = oom_run(print_tir, &t);
    if (!ok || !t.text.data) {
        sb_free(&t.text);
        return NULL;
    }
    return sb_take(&t.text);
}

tsr_module *rt_module_new(tsr_context *ctx)
{
    tsr_module *m = rt_alloc(ctx, sizeof *m);
    if (!m) {
        oom(ctx);
        return NULL;
    }
    m->ctx = ctx;
    m->alloc = ctx->alloc;
    pthread_mutex_lock(&ctx->work_lock);
    m->next = ctx->modules;
    if (ctx->modules)
        ctx->modules->prev = m;
    ctx->modules = m;
    pthread_mutex_unlock(&ctx->work_lock);
    return m;
}

tsr_status rt_module_add_kernel(tsr_module *m, tsr_kernel *k)
{
    tsr_context *ctx = m->ctx;
    if (m->nkernels == m->cap_kernels) {
        int cap = m->cap_kernels ? 2 * m->cap_kernels : 4;
        tsr_kernel **ks = rt_alloc(ctx, sizeof *ks * (size_t)cap);
        if (!ks)
            return oom(ctx);
        if (m->nkernels)
            memcpy(ks, m->kernels, sizeof *ks * (size_t)m->nkernels);
        rt_free(ctx, m->kernels, sizeof *ks * (size_t)m->cap_kernels);
        m->kernels = ks;
        m->cap_kernels = cap;
    }
    m->kernels[m->nkernels++] = k;
    k->mod = m;
    return TSR_OK;
}

static tsr_status add_kernels(tsr_module *m)
{
    tsr_context *ctx = m->ctx;
    int n = m->tir->funcs.len;
    if (!(m->kernels = rt_alloc(ctx, sizeof(tsr_kernel *) * (size_t)(n ? n : 1))))
        return oom(ctx);
    m->cap_kernels = n ? n : 1;
    for (int i = 0; i < n; i++) {
        TirFunc *f = m->tir->funcs.data[i];
        tsr_kernel *k = rt_alloc(ctx, sizeof *k);
        if (!k)
            return oom(ctx);
        m->kernels[m->nkernels++] = k;
        k->mod = m;
        k->f = f;
        k->var[VARIANT_ALIGNED].used = true; /* unaligned: none */
        /* The kernel's own specialization: what code generation recompiles. */
        if (!(k->defs = rt_alloc(ctx, sizeof(Define) * (size_t)(f->defines.len ? f->defines.len : 1))))
            return oom(ctx);
        for (int j = 0; j < f->defines.len; j++) {
            k->defs[j].name = f->defines.data[j].name;
            k->defs[j].value = f->defines.data[j].value;
        }
        if (!(k->args = rt_alloc(ctx, sizeof(BoundArg) * (size_t)(f->params.len ? f->params.len : 1))))
            return oom(ctx);
        if ((m->kept_ir & TSR_IR_TIR) && !(k->tir_text = tir_text(f)))
            return oom(ctx);
    }
    return TSR_OK;
}

void tsr_compile_options_init(tsr_compile_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
}

/* The size of version 0.1's tsr_compile_options: what struct_size 0 means. */
#define COMPILE_OPTIONS_V1 (offsetof(tsr_compile_options, keep_ir) + sizeof(unsigned))

static tsr_status compile(tsr_context *ctx, const char *source, size_t len, const char *name,
                          const tsr_compile_options *opts, tsr_module **out)
{
    tsr_compile_options given;
    tsr_compile_options_init(&given);
    const char *why;
    tsr_status read = opts ? rt_read_options(opts, opts->struct_size, COMPILE_OPTIONS_V1, &given, sizeof given, &why)
                           : TSR_OK;
    if (read != TSR_OK)
        return rt_fail(ctx, read, "tsr_compile_options: %s", why);
    const tsr_compile_options *o = &given;
    tsr_module *m = rt_module_new(ctx);
    if (!m)
        return TSR_ERR_OUT_OF_MEMORY;
    tsr_status s = module_init(m, source, len, o->source_name ? o->source_name : name, o);
    if (s == TSR_OK) {
        Source src = { m->name, m->source, m->len };
        Diag diag;
        diag_init(&diag, &src);
        diag.api_defines = true;
        m->tir = compile_tir(&src, m->defs, m->ndefs, o->kernel, &diag, NULL);
        if (!m->tir)
            s = diag.out_of_memory ? rt_fail(ctx, TSR_ERR_OUT_OF_MEMORY, "out of host memory while compiling")
                                   : rt_fail_text(ctx, TSR_ERR_COMPILE, diag.out.data);
        diag_free(&diag);
    }
    if (s == TSR_OK)
        s = add_kernels(m);
    bool want_ptx = ctx->dev->runs_ptx || (m->kept_ir & (TSR_IR_LLVM | TSR_IR_PTX));
    for (int i = 0; s == TSR_OK && want_ptx && i < m->nkernels; i++) {
        StrBuf err;
        sb_init_soft(&err);
        pthread_mutex_lock(&ctx->work_lock); /* the cache statistics */
        s = rt_prepare_variant(m->kernels[i], VARIANT_ALIGNED, &err);
        pthread_mutex_unlock(&ctx->work_lock);
        if (s != TSR_OK)
            rt_fail_text(ctx, s, err.data);
        sb_free(&err);
    }
    if (s != TSR_OK) {
        tsr_module_destroy(m);
        m = NULL;
    }
    *out = m;
    return s;
}

tsr_status tsr_module_compile(tsr_context *ctx, const char *source, size_t len, const tsr_compile_options *opts,
                              tsr_module **out)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (!out)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_module_compile: out is NULL");
    *out = NULL;
    if (!source)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_module_compile: source is NULL");
    return compile(ctx, source, len, "<string>", opts, out);
}

tsr_status tsr_module_compile_file(tsr_context *ctx, const char *path, const tsr_compile_options *opts,
                                   tsr_module **out)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (!out || !path)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_module_compile_file: %s is NULL",
                       out ? "path" : "out");
    *out = NULL;
    size_t len;
    const char *why;
    char *text = tsr_read_regular_file(path, TSR_MAX_SOURCE_BYTES, &len, &why);
    if (!text)
        return rt_fail(ctx, errno == ENOMEM ? TSR_ERR_OUT_OF_MEMORY : TSR_ERR_IO, "cannot read '%s': %s", path, why);
    s = compile(ctx, text, len, path, opts, out);
    free(text);
    return s;
}

const char *tsr_module_error(const tsr_module *m)
{
    if (!m)
        return "no module (a NULL handle)";
    return m->ctx ? tsr_context_error(m->ctx) : "the module's context was destroyed";
}

int tsr_module_kernel_count(const tsr_module *m) { return m ? m->nkernels : 0; }

const char *tsr_module_kernel_name(const tsr_module *m, int i)
{
    return m && i >= 0 && i < m->nkernels ? rt_kernel_name(m->kernels[i]) : NULL;
}

static tsr_kernel *find_kernel(const tsr_module *m, const char *name)
{
    if (!name)
        return m->nkernels == 1 ? m->kernels[0] : NULL;
    for (int i = 0; i < m->nkernels; i++)
        if (!strcmp(rt_kernel_name(m->kernels[i]), name))
            return m->kernels[i];
    return NULL;
}

tsr_status tsr_module_get_kernel(tsr_module *m, const char *name, tsr_kernel **out)
{
    if (!m || !m->ctx)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_status s = rt_enter(m->ctx);
    if (s != TSR_OK)
        return s;
    if (!out)
        return rt_fail(m->ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_module_get_kernel: out is NULL");
    *out = find_kernel(m, name);
    if (*out)
        return TSR_OK;
    StrBuf names;
    sb_init_soft(&names);
    for (int i = 0; i < m->nkernels; i++)
        sb_printf(&names, "%s'%s'", i ? ", " : "", rt_kernel_name(m->kernels[i]));
    s = name ? rt_fail(m->ctx, TSR_ERR_NOT_FOUND, "no kernel named '%s' in the module (it has %s)", name,
                                  names.data ? names.data : "none")
                        : rt_fail(m->ctx, TSR_ERR_NOT_FOUND, "the module has %d kernels (%s); name the one you want",
                                  m->nkernels, names.data ? names.data : "");
    sb_free(&names);
    return s;
}

const char *tsr_module_ir(const tsr_module *m, const char *kernel, tsr_ir_kind kind)
{
    tsr_kernel *k = m && m->ctx ? find_kernel(m, kernel) : NULL;
    if (!k)
        return NULL;
    switch (kind) {
    case TSR_IR_TIR: return k->tir_text;
    case TSR_IR_LLVM: return k->llvm_ir;
    case TSR_IR_PTX: return k->var[VARIANT_ALIGNED].ptx;
    }
    return NULL;
}

/* --------------------------------------------------------------- kernels */

tsr_module *tsr_kernel_module(const tsr_kernel *k) { return k ? k->mod : NULL; }

const char *tsr_kernel_name(const tsr_kernel *k) { return k ? rt_kernel_name(k) : NULL; }

const char *tsr_kernel_error(const tsr_kernel *k)
{
    return k ? tsr_context_error(k->mod->ctx) : "no kernel (a NULL handle)";
}

int tsr_kernel_param_count(const tsr_kernel *k) { return !k ? 0 : k->f ? k->f->params.len : k->ptx->nparams; }

int tsr_kernel_param_index(const tsr_kernel *k, const char *name)
{
    if (!k || !name || !k->f)
        return -1;
    for (int i = 0; i < k->f->params.len; i++)
        if (!strcmp(k->f->params.data[i].name, name))
            return i;
    return -1;
}

tsr_status tsr_kernel_param_info(tsr_kernel *k, int i, tsr_param_info *out)
{
    if (!k)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_status s = rt_enter(k->mod->ctx);
    if (s != TSR_OK)
        return s;
    if (!out)
        return rt_fail(k->mod->ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_kernel_param_info: out is NULL");
    if (!k->f)
        return rt_fail(k->mod->ctx, TSR_ERR_UNSUPPORTED,
                       "tsr_kernel_param_info: kernel '%s' was loaded from PTX; its parameters are the ones declared",
                       k->ptx->name);
    if (i < 0 || i >= k->f->params.len)
        return rt_fail(k->mod->ctx, TSR_ERR_INVALID_ARGUMENT, "parameter %d of kernel '%s' does not exist (it has %d)",
                       i, k->f->name, k->f->params.len);
    const TirParam *p = &k->f->params.data[i];
    memset(out, 0, sizeof *out);
    out->name = p->name;
    out->is_tensor = p->is_tensor;
    out->is_output = p->is_out;
    out->dtype = rt_dl_dtype(p->dt);
    out->ndim = p->is_tensor ? p->rank : 0;
    for (int d = 0; d < out->ndim; d++) {
        if (p->dim_sym[d] == TIR_NONE) {
            out->dim_values[d] = p->dim_const[d];
        } else {
            out->dim_names[d] = k->f->syms.data[p->dim_sym[d]].name;
            out->dim_values[d] = -1;
        }
    }
    return TSR_OK;
}

tsr_status tsr_kernel_get_attributes(tsr_kernel *k, tsr_kernel_attributes *out)
{
    if (!k)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_status s = rt_enter(k->mod->ctx);
    if (s != TSR_OK)
        return s;
    if (!out)
        return rt_fail(k->mod->ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_kernel_get_attributes: out is NULL");
    memset(out, 0, sizeof *out);
    const KernelVariant *v = &k->var[VARIANT_ALIGNED];
    if (v->ready)
        *out = v->attrs;
    else if (k->f)
        out->threads = 32 * k->f->warps;
    return TSR_OK;
}
