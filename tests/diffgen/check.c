/* Running one program on every configuration (see check.h). */
#include "check.h"
#include "codegen.h"
#include "compile.h"

#include "diff_run.h"
#include "emu_run.h"
#include "ptxas.h"
#include "rt_suite.h"
#include "tessera.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const verdict_names[V_COUNT] = { "ok", "rejected", "invalid", "mismatch", "device error", "crash", "timeout" };
const char *const verdict_keys[V_COUNT] = { "ok", "rejected", "invalid", "mismatch", "fail", "crash", "timeout" };

/* The values of the header lines: NAME=VALUE words after a prefix. */
typedef struct {
    char name[16];
    char value[32];
} Pair;

typedef struct {
    Pair defs[16], vals[24], tols[8], layouts[16], inits[8];
    int ndefs, nvals, ntols, nlayouts, ninits;
    char assertion[128]; /* `//& MESSAGE`: a device_assert every configuration must report failing */
} Header;

static int parse_pairs(const char *line, Pair *out, int max, bool after_d)
{
    int n = 0;
    for (const char *s = line; *s && *s != '\n' && n < max;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (after_d && s[0] == '-' && s[1] == 'D') { /* "-D NAME=VALUE" */
            s += 2;
            continue;
        }
        size_t len = strcspn(s, " \t\n");
        const char *eq = memchr(s, '=', len);
        if (eq && eq > s) {
            snprintf(out[n].name, sizeof out[n].name, "%.*s", (int)(eq - s), s);
            snprintf(out[n].value, sizeof out[n].value, "%.*s", (int)(len - (size_t)(eq - s) - 1), eq + 1);
            n++;
        }
        s += len;
    }
    return n;
}

static void parse_header(const char *text, Header *h)
{
    memset(h, 0, sizeof *h);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (!strncmp(line, "//!", 3))
            h->ndefs += parse_pairs(line + 3, h->defs + h->ndefs, 16 - h->ndefs, true);
        else if (!strncmp(line, "//@", 3))
            h->nvals += parse_pairs(line + 3, h->vals + h->nvals, 24 - h->nvals, false);
        else if (!strncmp(line, "//%", 3))
            h->ntols += parse_pairs(line + 3, h->tols + h->ntols, 8 - h->ntols, false);
        else if (!strncmp(line, "//~", 3))
            h->nlayouts += parse_pairs(line + 3, h->layouts + h->nlayouts, 16 - h->nlayouts, false);
        else if (!strncmp(line, "//& ", 4))
            snprintf(h->assertion, sizeof h->assertion, "%.*s", (int)strcspn(line + 4, "\n"), line + 4);
        else if (!strncmp(line, "//=", 3))
            h->ninits += parse_pairs(line + 3, h->inits + h->ninits, 8 - h->ninits, false);
    }
}

static const char *lookup(const Pair *p, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(p[i].name, name))
            return p[i].value;
    return NULL;
}

static TirModule *compile(const char *name, const char *text, const Header *h, bool passes, StrBuf *diags)
{
    Define defs[16];
    for (int i = 0; i < h->ndefs; i++)
        defs[i] = (Define){ h->defs[i].name, h->defs[i].value };
    if (!passes)
        setenv("TSR_SKIP_PASSES", "all", 1);
    TirModule *m = compile_string(name, text, defs, h->ndefs, diags);
    unsetenv("TSR_SKIP_PASSES");
    return m;
}

char *check_ptx(const char *text, const char *target)
{
    Header h;
    parse_header(text, &h);
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile("ptx.tsr", text, &h, true, &diags);
    sb_free(&diags);
    if (!m)
        return NULL;
    Source s = { "ptx.tsr", text, strlen(text) };
    Diag diag;
    diag_init(&diag, &s);
    CodegenOptions o = { .target = target };
    CodegenResult r = { 0 };
    char *ptx = NULL;
    if (compile_ptx(m->funcs.data[0], &o, false, NULL, &r, &diag)) {
        ptx = r.ptx;
        r.ptx = NULL;
        codegen_result_free(&r);
    }
    diag_free(&diag);
    tir_module_free(m);
    return ptx;
}

/* A tensor of that shape laid out as the `//~` line says (gen.h,
 * MemLayout): dense, padded rows (a multiple of 16 bytes plus 16), the two
 * leading dims swapped in memory, or the leading dim broadcast (stride 0).
 * Its buffer holds every element the strides reach, padding included. */
static HostTensor tensor_laid_out(DType dt, int rank, const int64_t *shape, const char *layout)
{
    HostTensor t = { 0 };
    t.dt = dt;
    t.rank = rank;
    memcpy(t.shape, shape, (size_t)rank * sizeof *shape);
    int64_t per16 = 16 / dtype_size(dt), n = 1;
    bool padded = layout && !strcmp(layout, "padded"), swapped = layout && !strcmp(layout, "swapped") && rank >= 3;
    for (int d = rank - 1; d >= 0; d--) {
        if (swapped && d == 1)
            continue; /* placed after dim 0 below */
        t.strides[d] = n;
        n *= d == rank - 1 && padded && rank >= 2 ? (shape[d] + per16 - 1) / per16 * per16 + per16 : shape[d];
    }
    if (swapped) {
        t.strides[1] = n;
        n *= shape[1];
    }
    if (layout && !strcmp(layout, "broadcast") && rank >= 2)
        t.strides[0] = 0;
    int64_t extent = 1;
    for (int d = 0; d < rank; d++)
        extent += shape[d] ? (shape[d] - 1) * t.strides[d] : 0;
    t.data = calloc((size_t)extent, (size_t)dtype_size(dt));
    return t;
}

/* The number of elements of a tensor's buffer (its padding included). */
static int64_t buffer_elems(const HostTensor *t)
{
    int64_t extent = 1;
    for (int d = 0; d < t->rank; d++)
        extent += t->shape[d] ? (t->shape[d] - 1) * t->strides[d] : 0;
    return extent;
}

/* The whole buffer as a rank-1 tensor (for filling and poisoning). */
static HostTensor buffer_view(const HostTensor *t)
{
    HostTensor v = *t;
    v.rank = 1;
    v.shape[0] = buffer_elems(t);
    v.strides[0] = 1;
    return v;
}

/* Outputs start poisoned, or as the `//=` line says (atomics' outputs). */
static void init_output(HostTensor *t, const Header *h, const char *name)
{
    HostTensor v = buffer_view(t);
    const char *init = lookup(h->inits, h->ninits, name);
    if (!init) {
        tensor_poison(&v);
        return;
    }
    for (int64_t i = 0; i < v.shape[0]; i++)
        tensor_set(&v, i, strtod(init, NULL));
}

/* fp8 inputs: codes drawn uniformly among those of magnitude up to 2 (so
 * every subnormal and both zeros come up as often as 1.5), never a NaN or
 * an infinity: the generator bounds values by magnitude. */
static void fill_fp8(HostTensor *t, Rng *rng)
{
    for (int64_t i = 0, n = tensor_numel(t); i < n; i++) {
        uint8_t code;
        do
            code = (uint8_t)rng_u64(rng);
        while (!(fabsf(fp8_bits_to_f32(code, t->dt)) <= 2.0f)); /* NaN fails too */
        ((uint8_t *)t->data)[i] = code;
    }
}

/* fp8 inputs named XN* (gen.h, Param.specials): any code, NaN and
 * infinities included. */
static void fill_fp8_specials(HostTensor *t, Rng *rng)
{
    for (int64_t i = 0, n = tensor_numel(t); i < n; i++)
        ((uint8_t *)t->data)[i] = (uint8_t)rng_u64(rng);
}

/* Inputs: floats uniform in [-2, 2] (rounded to the dtype), integers in
 * [-20, 20] (wrapped to unsigned dtypes), fp8 codes as fill_fp8 says. */
static bool make_args(TirFunc *f, const Header *h, uint64_t seed, KernelArg *args, char *why, size_t whylen)
{
    Rng rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < f->params.len; i++) {
        const TirParam *p = &f->params.data[i];
        const char *v = lookup(h->vals, h->nvals, p->name);
        if (!p->is_tensor) {
            args[i] = arg_scalar(v ? strtod(v, NULL) : 0.0);
            continue;
        }
        int64_t shape[TIR_MAX_RANK];
        for (int d = 0; d < p->rank; d++) {
            if (p->dim_sym[d] == TIR_NONE) {
                shape[d] = p->dim_const[d];
                continue;
            }
            const char *sv = lookup(h->vals, h->nvals, f->syms.data[p->dim_sym[d]].name);
            if (!sv) {
                snprintf(why, whylen, "no //@ value for dimension %s", f->syms.data[p->dim_sym[d]].name);
                return false;
            }
            shape[d] = strtoll(sv, NULL, 10);
        }
        HostTensor t = tensor_laid_out(p->dt, p->rank, shape, lookup(h->layouts, h->nlayouts, p->name));
        HostTensor buf = buffer_view(&t);
        if (p->is_out)
            init_output(&t, h, p->name);
        else if (dtype_is_int(p->dt))
            tensor_fill_uniform(&buf, &rng, -20, 21);
        else if (dtype_is_fp8(p->dt) && !strncmp(p->name, "XN", 2))
            fill_fp8_specials(&buf, &rng);
        else if (dtype_is_fp8(p->dt))
            fill_fp8(&buf, &rng);
        else
            tensor_fill_uniform(&buf, &rng, -2, 2);
        args[i] = arg_tensor(t);
    }
    return true;
}

/* A copy of the arguments with fresh outputs of the same layouts (inputs
 * shared). */
static KernelArg *outputs_copy(TirFunc *f, const Header *h, const KernelArg *args)
{
    KernelArg *c = calloc((size_t)f->params.len + 1, sizeof *c);
    for (int i = 0; i < f->params.len; i++) {
        c[i] = args[i];
        if (f->params.data[i].is_out) {
            const HostTensor *t = &args[i].tensor;
            c[i].tensor = *t;
            c[i].tensor.data = calloc((size_t)buffer_elems(t), (size_t)dtype_size(t->dt));
            init_output(&c[i].tensor, h, f->params.data[i].name);
        }
    }
    return c;
}

/* The tensor's elements, dense, in a new tensor; *padding_written counts
 * elements of the buffer outside the tensor that lost their first value
 * (init, or the poison when init is NULL). */
static HostTensor dense_copy(const HostTensor *t, const char *init, int64_t *padding_written)
{
    HostTensor d = tensor_new(t->dt, t->rank, t->shape);
    int64_t n = tensor_numel(t), extent = buffer_elems(t), es = dtype_size(t->dt);
    bool *inside = calloc((size_t)extent, 1);
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0, rest = i;
        for (int k = t->rank - 1; k >= 0; k--) {
            off += rest % t->shape[k] * t->strides[k];
            rest /= t->shape[k];
        }
        memcpy((char *)d.data + i * es, (const char *)t->data + off * es, (size_t)es);
        inside[off] = true;
    }
    HostTensor v = buffer_view(t);
    *padding_written = 0;
    for (int64_t i = 0; i < extent; i++)
        *padding_written += !inside[i] && (init ? tensor_get(&v, i) != strtod(init, NULL) : !tensor_is_poison(&v, i));
    free(inside);
    return d;
}

static void outputs_free(TirFunc *f, KernelArg *args)
{
    for (int i = 0; i < f->params.len; i++)
        if (f->params.data[i].is_out)
            tensor_free(&args[i].tensor);
    free(args);
}

/* Compares every output of a configuration with the reference. */
static bool compare(TirFunc *f, const Header *h, const KernelArg *ref, const KernelArg *dev, const char *config,
                    CheckResult *r)
{
    for (int i = 0; i < f->params.len; i++) {
        const TirParam *p = &f->params.data[i];
        if (!p->is_out)
            continue;
        const char *tv = lookup(h->tols, h->ntols, p->name);
        double tol = tv ? strtod(tv, NULL) : 0.0;
        int64_t pad_ref, pad_dev;
        const char *init = lookup(h->inits, h->ninits, p->name);
        HostTensor da = dense_copy(&ref[i].tensor, init, &pad_ref), db = dense_copy(&dev[i].tensor, init, &pad_dev);
        OutputDiff d = output_diff(&da, &db, tol, 0.0);
        if (d.first < 0 && !pad_ref && !pad_dev) {
            tensor_free(&da);
            tensor_free(&db);
            continue;
        }
        const HostTensor *a = &da, *b = &db;
        if (d.first < 0) {
            r->v = V_MISMATCH;
            snprintf(r->msg, sizeof r->msg, "%s: output %s: %lld elements of the padding between its rows written (interp: %lld)",
                     config, p->name, (long long)pad_dev, (long long)pad_ref);
            tensor_free(&da);
            tensor_free(&db);
            return false;
        }
        int64_t row = a->rank == 2 ? d.first / a->shape[1] : d.first, col = a->rank == 2 ? d.first % a->shape[1] : 0;
        r->v = V_MISMATCH;
        snprintf(r->msg, sizeof r->msg,
                 "%s: output %s: %lld elements written by one side only, %lld values differ (tolerance %.3g); "
                 "first at [%lld, %lld]: interp %.9g%s, %s %.9g%s",
                 config, p->name, (long long)d.written_differ, (long long)d.values_differ, tol, (long long)row,
                 (long long)col, tensor_get(a, d.first), tensor_is_poison(a, d.first) ? " (unwritten)" : "", config,
                 tensor_get(b, d.first), tensor_is_poison(b, d.first) ? " (unwritten)" : "");
        tensor_free(&da);
        tensor_free(&db);
        return false;
    }
    return true;
}

typedef struct {
    const char *name;
    const char *target; /* NULL: the interpreter */
    bool passes;
} Config;

static const Config configs[] = {
    { "interp without optimizations", NULL, false },
    { "emu sm_80", "sm_80", true },
    { "emu sm_90a", "sm_90a", true },
    { "emu sm_80 without optimizations", "sm_80", false },
    { "emu sm_90a without optimizations", "sm_90a", false },
};

/* A program with fp8 runs on sm_89 where the others run on sm_80: fp8 needs
 * sm_89 or later (dsl/README.md section 12), and sm_89 is the one target
 * whose fp8 dots go by mma.sync (sm_90a widens them to f32 first), so the
 * program keeps every check; sm_80's refusal would be the documented limit
 * and check nothing. Any other failure is a finding as before. */
static const Config configs_fp8[] = {
    { "interp without optimizations", NULL, false },
    { "emu sm_89", "sm_89", true },
    { "emu sm_90a", "sm_90a", true },
    { "emu sm_89 without optimizations", "sm_89", false },
    { "emu sm_90a without optimizations", "sm_90a", false },
};
_Static_assert(TSR_ARRAY_LEN(configs) == TSR_ARRAY_LEN(configs_fp8), "the same configurations");

/* The configurations for a program: whether it names an fp8 dtype
 * anywhere (tensors, casts, zeros<e4m3>, ...). */
static const Config *configs_for(const char *text)
{
    return strstr(text, "e4m3") || strstr(text, "e5m2") ? configs_fp8 : configs;
}

/* ptxas, when this machine has it: an independent check that the PTX of
 * the configurations with the passes on assembles. */
static const char *ptxas_path(void)
{
    static char path[512];
    static int found = -1;
    if (found < 0)
        found = ptxas_find(path, sizeof path) && !getenv("TSR_DIFFGEN_NO_PTXAS");
    return found ? path : NULL;
}

static bool assembles(const char *ptx, const Config *c, CheckResult *r)
{
    const char *ptxas = ptxas_path();
    if (!ptxas || !c->passes)
        return true;
    PtxasReport rep;
    StrBuf log;
    sb_init(&log);
    bool ok = ptxas_check(ptxas, ptx, c->target, &rep, &log);
    if (!ok) {
        r->v = V_FAIL;
        snprintf(r->msg, sizeof r->msg, "%s: ptxas rejects the PTX: %s", c->name, log.data ? log.data : "");
    }
    sb_free(&log);
    return ok;
}

/* device_print's lines: while a launch runs, the process's standard output
 * goes to a temporary file; the lines come back sorted (the emulator's
 * threads print in any order), so that every configuration must print the
 * interpreter's lines (dsl/README.md section 9.1: one formatter). */
typedef struct {
    FILE *tmp;
    int saved;
} Capture;

static bool capture_start(Capture *c)
{
    fflush(stdout);
    c->tmp = tmpfile();
    c->saved = c->tmp ? dup(STDOUT_FILENO) : -1;
    if (c->saved < 0 || dup2(fileno(c->tmp), STDOUT_FILENO) < 0) {
        if (c->tmp)
            fclose(c->tmp);
        return false;
    }
    return true;
}

static int cmp_lines(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *capture_end(Capture *c)
{
    fflush(stdout);
    dup2(c->saved, STDOUT_FILENO);
    close(c->saved);
    long n = ftell(c->tmp);
    char *text = calloc((size_t)(n > 0 ? n : 0) + 1, 1);
    rewind(c->tmp);
    size_t got = n > 0 ? fread(text, 1, (size_t)n, c->tmp) : 0;
    text[got] = 0;
    fclose(c->tmp);
    int count = 0;
    for (char *s = text; *s; s++)
        count += *s == '\n';
    char **lines = calloc((size_t)count + 1, sizeof *lines), *save = NULL;
    int k = 0;
    for (char *l = strtok_r(text, "\n", &save); l && k < count + 1; l = strtok_r(NULL, "\n", &save))
        lines[k++] = l;
    qsort(lines, (size_t)k, sizeof *lines, cmp_lines);
    StrBuf sb;
    sb_init(&sb);
    for (int i = 0; i < k; i++)
        sb_printf(&sb, "%s\n", lines[i]);
    free(lines);
    free(text);
    return sb.data ? sb_take(&sb) : calloc(1, 1);
}

/* The first line where two sorted printouts differ, for the message. */
static void first_difference(const char *a, const char *b, char *out, size_t n)
{
    const char *a0 = a;
    while (*a && *a == *b)
        a++, b++;
    while (a > a0 && a[-1] != '\n')
        a--, b--;
    snprintf(out, n, "interp \"%.*s\", here \"%.*s\"", (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
}

static bool run_config(const Config *c, TirFunc *f, KernelArg *args, CheckResult *r)
{
    StrBuf err;
    sb_init(&err);
    bool ok;
    char *ptx = NULL;
    if (!c->target) {
        ok = interp_launch(f, args, f->params.len, 1, &err);
    } else {
        EmuRunOptions o = { 0 };
        o.target = c->target;
        o.check_races = o.check_uninit = true;
        o.host_threads = 1;
        o.ptx = &ptx;
        if (!c->passes)
            setenv("TSR_SKIP_PASSES", "all", 1);
        ok = emu_run_kernel(f, args, f->params.len, &o, &err);
        unsetenv("TSR_SKIP_PASSES");
    }
    if (!ok) {
        const char *m = err.data ? err.data : "(no message)";
        r->v = strstr(m, "is too big for the CUDA cores") ? V_REJECTED : V_FAIL;
        snprintf(r->msg, sizeof r->msg, "%s: %s", c->name, m);
    }
    if (ok && ptx)
        ok = assembles(ptx, c, r);
    free(ptx);
    sb_free(&err);
    return ok;
}

#define CHECK_MAX_PARAMS 64 /* more than the generator writes */
static int runtime_device; /* tsr_device_kind; TSR_DEVICE_AUTO: none */
static bool runtime_only;

void check_set_runtime_device(int kind, bool only)
{
    runtime_device = kind;
    runtime_only = only;
}

/* The launch through the public API on a context of runtime_device: each
 * tensor's buffer (padding included) copied to device memory, the kernel
 * given DLTensors with the same strides, the outputs copied back into
 * args. Stops at the first error, into r. */
typedef struct {
    tsr_context *ctx;
    tsr_module *mod;
    tsr_kernel *k;
    void *mem[CHECK_MAX_PARAMS];
} RtRun;

static bool rt_fail(CheckResult *r, const char *what, const char *msg)
{
    r->v = msg && strstr(msg, "is too big for the CUDA cores") ? V_REJECTED : V_FAIL;
    snprintf(r->msg, sizeof r->msg, "runtime %s: %s", what, msg ? msg : "(no message)");
    return false;
}

static bool rt_bind(RtRun *rr, TirFunc *f, const KernelArg *args, CheckResult *r)
{
    for (int i = 0; i < f->params.len && i < CHECK_MAX_PARAMS; i++) {
        if (!args[i].is_tensor) {
            if (tsr_kernel_set_scalar(rr->k, i, args[i].scalar) != TSR_OK)
                return rt_fail(r, "set_scalar", tsr_kernel_error(rr->k));
            continue;
        }
        const HostTensor *t = &args[i].tensor;
        size_t bytes = (size_t)buffer_elems(t) * (size_t)dtype_size(t->dt);
        if (tsr_malloc(rr->ctx, bytes, &rr->mem[i]) != TSR_OK ||
            tsr_memcpy(rr->ctx, rr->mem[i], t->data, bytes, TSR_COPY_HOST_TO_DEVICE, NULL) != TSR_OK)
            return rt_fail(r, "memory", tsr_context_error(rr->ctx));
        DLTensor dl = { 0 };
        int64_t shape[TIR_MAX_RANK], strides[TIR_MAX_RANK];
        memcpy(shape, t->shape, sizeof shape);
        memcpy(strides, t->strides, sizeof strides);
        dl.data = rr->mem[i];
        dl.device = tsr_context_dl_device(rr->ctx);
        dl.ndim = t->rank;
        dl.dtype = dl_dtype(t->dt);
        dl.shape = shape;
        dl.strides = strides;
        if (tsr_kernel_set_tensor(rr->k, i, &dl) != TSR_OK)
            return rt_fail(r, "set_tensor", tsr_kernel_error(rr->k));
    }
    return true;
}

static bool run_runtime(const char *text, const Header *h, TirFunc *f, KernelArg *args, CheckResult *r)
{
    RtRun rr = { 0 };
    tsr_context_options o;
    tsr_context_options_init(&o);
    o.device = (tsr_device_kind)runtime_device;
    o.cache = TSR_CACHE_OFF;
    o.flags = TSR_EMU_CHECK_RACES | TSR_EMU_CHECK_UNINIT;
    o.host_threads = 1;
    tsr_define defs[16];
    for (int i = 0; i < h->ndefs; i++)
        defs[i] = (tsr_define){ h->defs[i].name, h->defs[i].value };
    tsr_compile_options co;
    tsr_compile_options_init(&co);
    co.defines = defs;
    co.ndefines = h->ndefs;
    bool ok = false;
    if (tsr_context_create(&o, &rr.ctx) != TSR_OK)
        rt_fail(r, "context", rr.ctx ? tsr_context_error(rr.ctx) : "cannot create");
    else if (tsr_module_compile(rr.ctx, text, strlen(text), &co, &rr.mod) != TSR_OK)
        rt_fail(r, "compile", rr.mod ? tsr_module_error(rr.mod) : tsr_context_error(rr.ctx));
    else if (tsr_module_get_kernel(rr.mod, "k", &rr.k) != TSR_OK)
        rt_fail(r, "kernel", tsr_module_error(rr.mod));
    else if (rt_bind(&rr, f, args, r)) {
        if (tsr_kernel_launch(rr.k, NULL) != TSR_OK || tsr_context_synchronize(rr.ctx) != TSR_OK)
            rt_fail(r, "launch", tsr_kernel_error(rr.k));
        else
            ok = true;
        for (int i = 0; ok && i < f->params.len; i++)
            if (f->params.data[i].is_out &&
                tsr_memcpy(rr.ctx, args[i].tensor.data, rr.mem[i],
                           (size_t)buffer_elems(&args[i].tensor) * (size_t)dtype_size(args[i].tensor.dt),
                           TSR_COPY_DEVICE_TO_HOST, NULL) != TSR_OK)
                ok = rt_fail(r, "memory", tsr_context_error(rr.ctx));
    }
    for (int i = 0; i < CHECK_MAX_PARAMS; i++)
        if (rr.mem[i])
            tsr_free(rr.ctx, rr.mem[i]);
    tsr_module_destroy(rr.mod);
    tsr_context_destroy(rr.ctx);
    return ok;
}

/* A program whose device_assert fails (`//&`): the interpreter, without
 * the optimizations too, and every emulator configuration must stop with
 * "assertion failed: MESSAGE" (what the outputs then hold is unspecified). */
static void expect_assertion(const Header *h, const Config *cfgs, TirFunc *f[2], const KernelArg *args,
                             CheckResult *r)
{
    char want[160];
    snprintf(want, sizeof want, "assertion failed: %s", h->assertion);
    static const Config reference = { "interp", NULL, true };
    for (size_t c = 0; c <= TSR_ARRAY_LEN(configs) && r->v == V_OK; c++) {
        const Config *cfg = c ? &cfgs[c - 1] : &reference;
        KernelArg *dev = outputs_copy(f[0], h, args);
        CheckResult one = { V_OK, "" };
        bool ran = run_config(cfg, f[cfg->passes ? 0 : 1], dev, &one);
        outputs_free(f[0], dev);
        if (one.v == V_REJECTED) {
            *r = one;
        } else if (ran || !strstr(one.msg, want)) {
            r->v = ran ? V_MISMATCH : V_FAIL;
            snprintf(r->msg, sizeof r->msg, "%s: expected \"%s\", got %.1100s", cfg->name, want,
                     ran ? "a launch that succeeded" : one.msg);
        }
    }
}

CheckResult check_program(const char *name, const char *text, uint64_t seed)
{
    CheckResult r = { V_OK, "" };
    Header h;
    parse_header(text, &h);
    StrBuf diags;
    sb_init(&diags);
    TirModule *mods[2] = { compile(name, text, &h, true, &diags), NULL };
    if (mods[0])
        mods[1] = compile(name, text, &h, false, &diags);
    if (!mods[0] || !mods[1] || mods[0]->funcs.len != 1) {
        r.v = V_INVALID;
        snprintf(r.msg, sizeof r.msg, "does not compile:\n%s", diags.data ? diags.data : "");
        sb_free(&diags);
        for (int i = 0; i < 2; i++)
            if (mods[i])
                tir_module_free(mods[i]);
        return r;
    }
    sb_free(&diags);
    TirFunc *f[2] = { mods[0]->funcs.data[0], mods[1]->funcs.data[0] };
    KernelArg *args = calloc((size_t)f[0]->params.len + 1, sizeof *args);
    if (!make_args(f[0], &h, seed, args, r.msg, sizeof r.msg)) {
        r.v = V_INVALID;
    } else if (h.assertion[0]) {
        expect_assertion(&h, configs_for(text), f, args, &r);
    } else {
        StrBuf err;
        sb_init(&err);
        Capture cap;
        bool prints = strstr(text, "device_print(") && capture_start(&cap);
        if (!interp_launch(f[0], args, f[0]->params.len, 1, &err)) {
            r.v = V_FAIL;
            snprintf(r.msg, sizeof r.msg, "interp: %s", err.data ? err.data : "");
        }
        char *printed = prints ? capture_end(&cap) : NULL;
        sb_free(&err);
        /* TSR_DIFFGEN_INTERP_ONLY=1: the interpreter alone (a quick look at
         * what a generator change produces). */
        size_t nconfigs = getenv("TSR_DIFFGEN_INTERP_ONLY") || runtime_only ? 0 : TSR_ARRAY_LEN(configs);
        const Config *cfgs = configs_for(text);
        for (size_t c = 0; r.v == V_OK && c < nconfigs; c++) {
            KernelArg *dev = outputs_copy(f[0], &h, args);
            bool captured = printed && capture_start(&cap);
            bool ran = run_config(&cfgs[c], f[cfgs[c].passes ? 0 : 1], dev, &r);
            char *here = captured ? capture_end(&cap) : NULL;
            if (ran && compare(f[0], &h, args, dev, cfgs[c].name, &r) && here && strcmp(here, printed)) {
                char diff[512];
                first_difference(printed, here, diff, sizeof diff);
                r.v = V_MISMATCH;
                snprintf(r.msg, sizeof r.msg, "%s: device_print printed other lines than the interpreter: %s",
                         cfgs[c].name, diff);
            }
            free(here);
            outputs_free(f[0], dev);
        }
        if (r.v == V_OK && runtime_device != TSR_DEVICE_AUTO) {
            KernelArg *dev = outputs_copy(f[0], &h, args);
            char config[64];
            snprintf(config, sizeof config, "runtime %s", runtime_device == TSR_DEVICE_CUDA ? "cuda" : "emu");
            /* The lines are compared on emu only: the manual promises the
             * interpreter's lines there, not from CUDA's printf. */
            bool captured = printed && capture_start(&cap);
            bool ran = run_runtime(text, &h, f[0], dev, &r);
            char *here = captured ? capture_end(&cap) : NULL;
            if (ran && compare(f[0], &h, args, dev, config, &r) && here && runtime_device == TSR_DEVICE_EMU &&
                strcmp(here, printed)) {
                char diff[512];
                first_difference(printed, here, diff, sizeof diff);
                r.v = V_MISMATCH;
                snprintf(r.msg, sizeof r.msg, "%s: device_print printed other lines than the interpreter: %s", config,
                         diff);
            }
            free(here);
            outputs_free(f[0], dev);
        }
        free(printed);
    }
    for (int i = 0; i < f[0]->params.len; i++)
        if (args[i].is_tensor)
            tensor_free(&args[i].tensor);
    free(args);
    tir_module_free(mods[0]);
    tir_module_free(mods[1]);
    return r;
}
