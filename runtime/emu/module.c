/* Loading a PTX module: parse (emu_ptx_parse.c), give module variables their host
 * storage, decode every kernel (decode.c). Also the kernel metadata queries. */
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"
#include "oom.h"

/* Host storage for module-level .global and .const variables. */
static int place_module_vars(EmuModule *m, const RawModule *raw, uint64_t *addr, StrBuf *err)
{
    int n = 0;
    for (int i = 0; i < raw->nvars; i++)
        n += !raw->vars[i].is_func_scope &&
             (raw->vars[i].space == SP_GLOBAL || raw->vars[i].space == SP_CONST);
    m->vars = arena_alloc(&m->arena, sizeof *m->vars * (size_t)(n + 1));
    for (int i = 0; i < raw->nvars; i++) {
        const RawVar *v = &raw->vars[i];
        if (v->is_func_scope || (v->space != SP_GLOBAL && v->space != SP_CONST))
            continue;
        if (v->is_extern) {
            sb_printf(err, "ptx:%d: error: .extern variable '%s' cannot be resolved", v->line,
                      v->name);
            return -1;
        }
        if (v->size > (256u << 20)) {
            sb_printf(err, "ptx:%d: error: variable '%s' too large", v->line, v->name);
            return -1;
        }
        size_t al = v->align < 16 ? 16 : v->align;
        uint8_t *p = arena_alloc(&m->arena, v->size + al);
        p = (uint8_t *)(((uintptr_t)p + al - 1) / al * al);
        if (v->init)
            memcpy(p, v->init, v->size);
        addr[i] = (uint64_t)(uintptr_t)p;
        m->vars[m->nvars++] = (ModVar){.name = v->name, .space = v->space, .data = p, .size = v->size};
    }
    return 0;
}

/* The cleanup of a module being loaded when memory runs out (oom.h). */
static void free_module(void *m) { emu_module_free(m); }

typedef struct {
    const char *ptx;
    size_t len;
    EmuModule **out;
    StrBuf *err;
    int rc;
} Load;

/* The load as a guarded stage (oom.h): the module being built is
 * registered, so running out of memory frees it. */
static void load(void *arg)
{
    Load *l = arg;
    const char *ptx = l->ptx;
    size_t len = l->len;
    StrBuf *err = l->err;
    EmuModule *m = tsr_xcalloc(1, sizeof *m);
    arena_init(&m->arena);
    int slot = oom_defer(free_module, m);
    Arena *scratch = oom_arena_open();
    RawModule raw;
    int rc = -1;
    if (emu_ptx_parse(scratch, ptx, len, &raw, err))
        goto out;
    m->sm = raw.sm;
    uint64_t *addr = arena_alloc(scratch, sizeof(uint64_t) * (size_t)(raw.nvars + 1));
    if (place_module_vars(m, &raw, addr, err))
        goto out;
    int nk = 0;
    for (int i = 0; i < raw.nfuncs; i++)
        nk += raw.funcs[i].is_entry && raw.funcs[i].has_body;
    m->kernels = arena_alloc(&m->arena, sizeof *m->kernels * (size_t)(nk + 1));
    for (int i = 0; i < raw.nfuncs; i++) {
        const RawFunc *f = &raw.funcs[i];
        if (!f->is_entry || !f->has_body)
            continue;
        if (emu_decode_function(m, &raw, f, &m->kernels[m->nkernels], addr, err))
            goto out;
        m->nkernels++;
    }
    rc = 0;
out:
    /* Decoded kernels keep pointers to strings of the raw module (register
       names, opcode texts): move the scratch arena into the module. */
    m->scratch = oom_arena_take(scratch);
    oom_undefer(slot);
    if (rc == 0)
        *l->out = m;
    else
        emu_module_free(m);
    l->rc = rc;
}

int emu_module_load(const char *ptx, size_t len, EmuModule **out, StrBuf *err)
{
    *out = NULL;
    Load l = { ptx, len, out, err, EMU_ERROR };
    if (oom_run(load, &l))
        return l.rc;
    if (err->failed) { /* the message itself ran out: start it again */
        sb_free(err);
        sb_init(err);
    }
    sb_puts(err, "emu: out of host memory loading the PTX");
    return EMU_OUT_OF_MEMORY;
}

void emu_module_free(EmuModule *m)
{
    if (!m)
        return;
    arena_free(&m->scratch);
    arena_free(&m->arena);
    free(m);
}

int emu_kernel_count(const EmuModule *m) { return m->nkernels; }

const char *emu_kernel_name(const EmuModule *m, int i)
{
    return i >= 0 && i < m->nkernels ? m->kernels[i].name : NULL;
}

int emu_kernel_info(const EmuModule *m, const char *kernel, EmuKernelInfo *info, StrBuf *err)
{
    for (int i = 0; i < m->nkernels; i++) {
        const Kernel *k = &m->kernels[i];
        if (strcmp(k->name, kernel) != 0)
            continue;
        memset(info, 0, sizeof *info);
        info->nparams = k->nparams;
        info->params = k->params;
        info->param_bytes = k->param_bytes;
        info->static_smem = k->static_smem;
        info->local_bytes = k->local_bytes;
        memcpy(info->maxntid, k->maxntid, sizeof info->maxntid);
        memcpy(info->reqntid, k->reqntid, sizeof info->reqntid);
        info->minnctapersm = k->minnctapersm;
        info->nregs = k->nregs - SR_COUNT + k->npreds - 1;
        return 0;
    }
    sb_printf(err, "emu: no kernel named '%s' in the module", kernel);
    return -1;
}
