/* `tessera run`: the command line and the arguments of the kernel. A spec
 * (--arg NAME=SPEC) is one of
 *
 *   KIND[:DTYPE][[d0, d1, ...]]   KIND: randn (normal 0, 1), rand (uniform
 *                                 [0, 1)), zeros, ones, arange (0, 1, 2, ...
 *                                 in C order); a dim is a number or a
 *                                 symbol of the kernel (M) known elsewhere
 *   PATH.npy                      a NumPy file (converted to the declared
 *                                 dtype, with a note, when it differs)
 *   NUMBER | true | false         a scalar parameter
 *
 * DTYPE and the shape default to the declaration; symbolic dims come from
 * --dim NAME=VALUE or from the shapes of other tensors, and must agree. */
#define _POSIX_C_SOURCE 200809L
#include "run.h"

#include "npy.h"
#include "rng.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------- command line */

static bool parse_count(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "tessera run: %s takes an integer in %ld..%ld, found '%s'\n", opt, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_real(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= 0)) {
        fprintf(stderr, "tessera run: %s takes a non-negative number, found '%s'\n", opt, s);
        return false;
    }
    *out = v;
    return true;
}

/* NAME=VALUE into list (of RUN_MAX_ITEMS). */
static bool add_pair(const char *opt, const char *s, RunPair *list, int *n)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s) {
        fprintf(stderr, "tessera run: %s needs NAME=VALUE, found '%s'\n", opt, s);
        return false;
    }
    if (*n == RUN_MAX_ITEMS) {
        fprintf(stderr, "tessera run: too many %s options (at most %d)\n", opt, RUN_MAX_ITEMS);
        return false;
    }
    list[*n].name = strndup(s, (size_t)(eq - s));
    list[*n].value = eq + 1;
    (*n)++;
    return true;
}

static bool known_device(const char *opt, const char *s)
{
    static const char *const names[] = { "auto", "cuda", "emu", "interp" };
    for (size_t i = 0; i < TSR_ARRAY_LEN(names); i++)
        if (!strcmp(s, names[i]))
            return true;
    fprintf(stderr, "tessera run: %s takes auto, cuda, emu or interp, found '%s'\n", opt, s);
    return false;
}

/* One option with a value: "--opt VALUE", "--opt=VALUE", "-DNAME=V". */
static bool option_value(int argc, char **argv, int *i, const char *opt, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(opt);
    if (strncmp(a, opt, n) != 0)
        return false;
    if (a[n] == '=' && opt[1] == '-') {
        *val = a + n + 1;
        return true;
    }
    if (!strcmp(opt, "-D") && a[n]) {
        *val = a + n;
        return true;
    }
    if (a[n])
        return false;
    *val = *i + 1 < argc ? argv[++*i] : NULL;
    return true;
}

/* Sets the option opt (one of VALUED) to v. */
static bool set_valued(RunOptions *o, const char *opt, const char *v)
{
    long n;
    if (!strcmp(opt, "-D"))
        return add_pair(opt, v, o->defines, &o->ndefines);
    if (!strcmp(opt, "--arg"))
        return add_pair(opt, v, o->args, &o->nargs);
    if (!strcmp(opt, "--dim"))
        return add_pair(opt, v, o->dims, &o->ndims);
    if (!strcmp(opt, "--device") || !strcmp(opt, "--compare")) {
        if (!known_device(opt, v))
            return false;
        *(opt[2] == 'd' ? &o->device : &o->compare) = v;
        return true;
    }
    if (!strcmp(opt, "--reps") || !strcmp(opt, "--warmup")) {
        if (!parse_count(opt, v, 0, 100000, &n))
            return false;
        *(opt[2] == 'r' ? &o->reps : &o->warmup) = (int)n;
        return true;
    }
    if (!strcmp(opt, "--seed")) {
        if (!parse_count(opt, v, 0, 0x7fffffffL, &n))
            return false;
        o->seed = (uint64_t)n;
        return true;
    }
    if (!strcmp(opt, "--emu-max-insns")) {
        if (!parse_count(opt, v, 1, LONG_MAX, &n))
            return false;
        o->emu_max_insns = (unsigned long long)n;
        return true;
    }
    if (!strcmp(opt, "--atol") || !strcmp(opt, "--rtol"))
        return parse_real(opt, v, opt[2] == 'a' ? &o->atol : &o->rtol);
    const char **slot = !strcmp(opt, "--kernel")      ? &o->kernel
                        : !strcmp(opt, "--target")    ? &o->target
                        : !strcmp(opt, "--reference") ? &o->reference
                                                      : &o->save_dir;
    *slot = v;
    return true;
}

bool run_parse_options(int argc, char **argv, RunOptions *o)
{
    static const char *const valued[] = { "-D",     "--arg",  "--dim",  "--kernel", "--target",    "--device",
                                          "--compare", "--reference", "--save", "--reps", "--warmup", "--seed",
                                          "--atol", "--rtol", "--emu-max-insns" };
    memset(o, 0, sizeof *o);
    o->device = "auto";
    o->warmup = -1;
    o->atol = o->rtol = -1;
    o->emu_checks = true;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *opt = NULL, *v = NULL;
        for (size_t j = 0; j < TSR_ARRAY_LEN(valued) && !opt; j++)
            if (option_value(argc, argv, &i, valued[j], &v))
                opt = valued[j];
        bool ok = true;
        if (opt && !v) {
            fprintf(stderr, "tessera run: %s needs a value\n", opt);
            ok = false;
        } else if (opt) {
            ok = set_valued(o, opt, v);
        } else if (!strcmp(a, "--no-emu-checks")) {
            o->emu_checks = false;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o->quiet = true;
        } else if (!strcmp(a, "--persistent")) {
            o->persistent = true;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "tessera run: unknown option '%s'\n", a);
            ok = false;
        } else if (o->file) {
            fprintf(stderr, "tessera run: more than one input file ('%s' and '%s')\n", o->file, a);
            ok = false;
        } else {
            o->file = a;
        }
        if (!ok)
            return false;
    }
    if (!o->file) {
        fprintf(stderr, "tessera run: no input file\n");
        return false;
    }
    return true;
}

/* ------------------------------------------------------------- specs */

typedef enum { GEN_RANDN, GEN_RAND, GEN_ZEROS, GEN_ONES, GEN_ARANGE, GEN_COUNT } Gen;
static const char *const gen_names[GEN_COUNT] = { "randn", "rand", "zeros", "ones", "arange" };

typedef struct {
    enum { SPEC_GEN, SPEC_FILE, SPEC_SCALAR } kind;
    Gen gen;
    bool has_dtype, has_shape;
    DLDataType dtype;
    int ndim;
    int64_t dims[TSR_MAX_RANK];      /* -1: a symbol, named in syms */
    char syms[TSR_MAX_RANK][64];
    double value;
} Spec;

static const char SPEC_HELP[] = "expected randn, rand, zeros, ones or arange (as KIND[:DTYPE][[d0,d1,...]]), "
                                "a .npy file, or a number for a scalar";

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* [d0, d1, ...]: numbers or names. */
static bool parse_shape_text(const char *arg, const char *s, Spec *sp)
{
    const char *p = s + 1;
    sp->has_shape = true;
    sp->ndim = 0;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == ']' && !p[1])
        return true;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (sp->ndim == TSR_MAX_RANK) {
            fprintf(stderr, "tessera run: --arg %s: more than %d dims in '%s'\n", arg, TSR_MAX_RANK, s);
            return false;
        }
        int d = sp->ndim++;
        if (isdigit((unsigned char)*p)) {
            char *end;
            errno = 0;
            long long v = strtoll(p, &end, 10);
            if (errno || v > 0x7fffffffLL) {
                fprintf(stderr, "tessera run: --arg %s: dim %d of '%s' is too large\n", arg, d, s);
                return false;
            }
            sp->dims[d] = v;
            p = end;
        } else if (isalpha((unsigned char)*p) || *p == '_') {
            size_t len = 0;
            while (isalnum((unsigned char)p[len]) || p[len] == '_')
                len++;
            if (len >= sizeof sp->syms[d]) {
                fprintf(stderr, "tessera run: --arg %s: dim name too long in '%s'\n", arg, s);
                return false;
            }
            memcpy(sp->syms[d], p, len);
            sp->syms[d][len] = 0;
            sp->dims[d] = -1;
            p += len;
        } else {
            fprintf(stderr, "tessera run: --arg %s: dim %d of '%s' must be a number or a dim name\n", arg, d, s);
            return false;
        }
        while (isspace((unsigned char)*p))
            p++;
        if (*p == ',') {
            p++;
        } else if (*p == ']' && !p[1]) {
            return true;
        } else {
            fprintf(stderr, "tessera run: --arg %s: expected ',' or a final ']' in shape '%s'\n", arg, s);
            return false;
        }
    }
}

static bool parse_scalar_text(const char *s, double *v)
{
    if (!strcmp(s, "true") || !strcmp(s, "false")) {
        *v = !strcmp(s, "true");
        return true;
    }
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *s && !*end && !isspace((unsigned char)*s);
}

static bool parse_spec(const char *arg, const char *s, Spec *sp)
{
    memset(sp, 0, sizeof *sp);
    if (ends_with(s, ".npy") || strchr(s, '/')) {
        sp->kind = SPEC_FILE;
        return true;
    }
    if (parse_scalar_text(s, &sp->value)) {
        sp->kind = SPEC_SCALAR;
        return true;
    }
    size_t klen = strcspn(s, ":[");
    sp->kind = SPEC_GEN;
    sp->gen = GEN_COUNT;
    for (int g = 0; g < GEN_COUNT; g++)
        if (strlen(gen_names[g]) == klen && !strncmp(s, gen_names[g], klen))
            sp->gen = (Gen)g;
    if (sp->gen == GEN_COUNT) {
        fprintf(stderr, "tessera run: --arg %s=%s: unknown spec '%.*s'; %s\n", arg, s, (int)klen, s, SPEC_HELP);
        return false;
    }
    const char *p = s + klen;
    if (*p == ':') {
        p++;
        size_t dlen = strcspn(p, "[");
        char name[32];
        if (dlen >= sizeof name)
            dlen = sizeof name - 1;
        memcpy(name, p, dlen);
        name[dlen] = 0;
        if (!npy_dtype_parse(name, &sp->dtype)) {
            fprintf(stderr, "tessera run: --arg %s=%s: unknown dtype '%s' (f32, f16, bf16, i32, bool, ...)\n", arg, s,
                    name);
            return false;
        }
        sp->has_dtype = true;
        p += strcspn(p, "[");
    }
    if (*p == '[')
        return parse_shape_text(arg, p, sp);
    if (*p) {
        fprintf(stderr, "tessera run: --arg %s=%s: unexpected '%s'; %s\n", arg, s, p, SPEC_HELP);
        return false;
    }
    return true;
}

/* --------------------------------------------------------------- dims */

/* The symbolic dims known so far: their values and where each came from. */
typedef struct {
    char names[RUN_MAX_ITEMS * TSR_MAX_RANK][64];
    int64_t values[RUN_MAX_ITEMS * TSR_MAX_RANK];
    char from[RUN_MAX_ITEMS * TSR_MAX_RANK][80];
    int n;
} Dims;

static int dims_find(const Dims *d, const char *name)
{
    for (int i = 0; i < d->n; i++)
        if (!strcmp(d->names[i], name))
            return i;
    return -1;
}

/* Records name = value from `from`, or checks it against what is known. */
static bool dims_bind(Dims *d, const char *name, int64_t value, const char *from)
{
    int i = dims_find(d, name);
    if (i >= 0) {
        if (d->values[i] == value)
            return true;
        fprintf(stderr, "tessera run: shape mismatch: %s is %lld from %s but %lld from %s\n", name,
                (long long)d->values[i], d->from[i], (long long)value, from);
        return false;
    }
    if (d->n == (int)TSR_ARRAY_LEN(d->names) || strlen(name) >= sizeof d->names[0])
        return fprintf(stderr, "tessera run: too many dims\n"), false;
    snprintf(d->names[d->n], sizeof d->names[0], "%s", name);
    snprintf(d->from[d->n], sizeof d->from[0], "%s", from);
    d->values[d->n++] = value;
    return true;
}

/* "f32[M, 64]", as the kernel declares the parameter. */
static void decl_text(const tsr_param_info *p, char *buf, size_t n)
{
    int len = snprintf(buf, n, "%s", npy_dtype_short(p->dtype));
    if (!p->is_tensor)
        return;
    len += snprintf(buf + len, n - (size_t)len, "[");
    for (int d = 0; d < p->ndim && (size_t)len < n; d++) {
        if (p->dim_names[d])
            len += snprintf(buf + len, n - (size_t)len, "%s%s", d ? ", " : "", p->dim_names[d]);
        else
            len += snprintf(buf + len, n - (size_t)len, "%s%lld", d ? ", " : "", (long long)p->dim_values[d]);
    }
    if ((size_t)len < n)
        snprintf(buf + len, n - (size_t)len, "]");
}

/* Checks a concrete shape against the declaration of a and binds its
 * symbols; `from` says where the shape came from. */
static bool match_shape(RunArg *a, int ndim, const int64_t *shape, const char *from, Dims *dims)
{
    char decl[128];
    decl_text(&a->info, decl, sizeof decl);
    if (ndim != a->info.ndim) {
        fprintf(stderr, "tessera run: shape mismatch: %s has %d dims; the kernel declares %s: %s\n", from, ndim,
                a->info.name, decl);
        return false;
    }
    for (int d = 0; d < ndim; d++) {
        if (a->info.dim_names[d]) {
            if (!dims_bind(dims, a->info.dim_names[d], shape[d], from))
                return false;
        } else if (shape[d] != a->info.dim_values[d]) {
            fprintf(stderr, "tessera run: shape mismatch: dim %d of %s is %lld; the kernel declares %s: %s\n", d, from,
                    (long long)shape[d], a->info.name, decl);
            return false;
        }
    }
    a->ndim = ndim;
    memcpy(a->shape, shape, sizeof(int64_t) * (size_t)ndim);
    return true;
}

/* The shape of a generated tensor whose spec has no concrete shape: the
 * spec's names, else the declaration's, resolved from dims. */
static bool resolve_shape(RunArg *a, const Spec *sp, Dims *dims)
{
    int ndim = sp->has_shape ? sp->ndim : a->info.ndim;
    int64_t shape[TSR_MAX_RANK];
    for (int d = 0; d < ndim; d++) {
        const char *sym = sp->has_shape ? (sp->dims[d] < 0 ? sp->syms[d] : NULL)
                                        : (d < a->info.ndim ? a->info.dim_names[d] : NULL);
        int64_t v = sp->has_shape ? sp->dims[d] : a->info.dim_values[d];
        if (sym) {
            int i = dims_find(dims, sym);
            if (i < 0) {
                fprintf(stderr, "tessera run: the size of %s is unknown: dim %d is %s; give --dim %s=SIZE or a shape "
                                "with --arg %s=KIND[d0,...]\n", a->info.name, d, sym, sym, a->info.name);
                return false;
            }
            v = dims->values[i];
        }
        shape[d] = v;
    }
    char from[96];
    snprintf(from, sizeof from, "%s %s", a->spec ? "--arg" : "the output", a->info.name);
    return match_shape(a, ndim, shape, from, dims);
}

/* ------------------------------------------------------------- values */


/* Each tensor's stream depends on the seed and its name only, so adding an
 * argument does not change the others. */
static void rng_for(SplitMix *r, uint64_t seed, const char *name)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    r->s = seed * 0x9e3779b97f4a7c15ull ^ h;
}

int64_t run_numel(const RunArg *a)
{
    int64_t n = 1;
    for (int d = 0; d < a->ndim; d++)
        n *= a->shape[d];
    return n;
}

static bool alloc_data(RunArg *a)
{
    int64_t n = run_numel(a);
    size_t es = npy_elem_size(a->info.dtype);
    if (n < 0 || (uint64_t)n > SIZE_MAX / es / 2) {
        fprintf(stderr, "tessera run: %s is too large\n", a->info.name);
        return false;
    }
    a->nbytes = (size_t)n * es;
    a->data = calloc(a->nbytes ? a->nbytes : 1, 1);
    if (!a->data) {
        fprintf(stderr, "tessera run: out of memory for %s (%zu bytes)\n", a->info.name, a->nbytes);
        return false;
    }
    return true;
}

static void generate(RunArg *a, Gen g, uint64_t seed)
{
    SplitMix r;
    rng_for(&r, seed, a->info.name);
    int64_t n = run_numel(a);
    for (int64_t i = 0; i < n; i++) {
        double v = 0;
        switch (g) {
        case GEN_RANDN: v = splitmix_normal(&r); break;
        case GEN_RAND: v = splitmix_uniform(&r); break;
        case GEN_ZEROS: v = 0; break;
        case GEN_ONES: v = 1; break;
        case GEN_ARANGE: v = (double)i; break;
        case GEN_COUNT: break;
        }
        npy_set(a->info.dtype, a->data, i, v);
    }
}

/* NaNs with payloads no arithmetic produces, and unlikely integers: an
 * element that still holds its pattern after a launch was never written. */
static uint64_t poison_bits(DLDataType dt)
{
    /* fp8: the NaN with the sign set, which no conversion makes (NaN is 0x7f) */
    if (dt.code == NPY_DL_FLOAT8_E4M3FN || dt.code == NPY_DL_FLOAT8_E5M2)
        return 0xffu;
    if (dt.code == kDLFloat || dt.code == kDLBfloat)
        return dt.bits == 16 ? (dt.code == kDLBfloat ? 0xffa5u : 0xfd5au) : dt.bits == 32 ? 0xffa5a5a5u
                                                                                             : 0xfff5a5a5a5a5a5a5ull;
    return dt.bits == 8 ? 0xa5u : dt.bits == 16 ? 0xa5a5u : dt.bits == 32 ? 0xa5a5a5a5u : 0xa5a5a5a5a5a5a5a5ull;
}

void run_poison(DLDataType dt, void *data, int64_t count)
{
    uint64_t bits = poison_bits(dt);
    size_t es = dt.bits / 8u;
    for (int64_t i = 0; i < count; i++)
        memcpy((unsigned char *)data + (size_t)i * es, &bits, es); /* little-endian hosts */
}

bool run_is_poison(DLDataType dt, const void *data, int64_t i)
{
    uint64_t bits = poison_bits(dt), have = 0;
    size_t es = dt.bits / 8u;
    memcpy(&have, (const unsigned char *)data + (size_t)i * es, es);
    return have == bits;
}

/* A .npy file as argument a: shape checked, converted to the dtype. */
static bool load_file(RunArg *a, const char *path, Dims *dims)
{
    NpyArray f;
    char err[512];
    if (!npy_read_file(path, &f, err, sizeof err)) {
        fprintf(stderr, "tessera run: --arg %s: %s\n", a->info.name, err);
        return false;
    }
    char from[600];
    snprintf(from, sizeof from, "%s (--arg %s)", path, a->info.name);
    bool ok = match_shape(a, f.ndim, f.shape, from, dims) && alloc_data(a);
    /* fp8 files hold raw codes (V1), those of the declared fp8 dtype */
    bool codes = f.dtype.bits == 8 && a->info.dtype.bits == 8 &&
                 (f.dtype.code == NPY_DL_FLOAT8_E4M3FN || f.dtype.code == NPY_DL_FLOAT8_E5M2) &&
                 (a->info.dtype.code == NPY_DL_FLOAT8_E4M3FN || a->info.dtype.code == NPY_DL_FLOAT8_E5M2);
    if (ok && !codes && (f.dtype.code != a->info.dtype.code || f.dtype.bits != a->info.dtype.bits))
        fprintf(stderr, "tessera run: note: %s holds %s; converted to %s for %s\n", path, npy_dtype_name(f.dtype),
                npy_dtype_short(a->info.dtype), a->info.name);
    if (ok && codes)
        memcpy(a->data, f.data, (size_t)run_numel(a));
    for (int64_t i = 0; ok && !codes && i < run_numel(a); i++)
        npy_set(a->info.dtype, a->data, i, npy_get(f.dtype, f.data, i));
    npy_free(&f);
    return ok;
}

/* ------------------------------------------------------- making args */

static const char *find_arg(const RunOptions *o, const char *name)
{
    for (int i = 0; i < o->nargs; i++)
        if (!strcmp(o->args[i].name, name))
            return o->args[i].value;
    return NULL;
}

/* Every --arg names a parameter, once; no -D is repeated. */
static bool check_arg_names(const RunOptions *o, tsr_kernel *k)
{
    for (int i = 0; i < o->nargs; i++) {
        if (tsr_kernel_param_index(k, o->args[i].name) < 0) {
            fprintf(stderr, "tessera run: --arg %s: kernel '%s' has no parameter %s; its parameters:", o->args[i].name,
                    tsr_kernel_name(k), o->args[i].name);
            for (int p = 0; p < tsr_kernel_param_count(k); p++) {
                tsr_param_info info;
                tsr_kernel_param_info(k, p, &info);
                fprintf(stderr, " %s", info.name);
            }
            fputc('\n', stderr);
            return false;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(o->args[i].name, o->args[j].name)) {
                fprintf(stderr, "tessera run: --arg %s given twice\n", o->args[i].name);
                return false;
            }
    }
    return true;
}

/* The first pass: scalars, and the shapes that are concrete (numbers in the
 * spec, files), which bind symbols. */
static bool first_pass(const RunOptions *o, RunArg *a, Spec *sp, Dims *dims, bool *done)
{
    char decl[128];
    decl_text(&a->info, decl, sizeof decl);
    *done = false;
    if (!a->spec) {
        if (a->info.is_tensor && a->info.is_output)
            return true;
        fprintf(stderr, "tessera run: missing argument: give --arg %s=SPEC for %s: %s%s\n", a->info.name, a->info.name,
                decl, a->info.is_tensor ? " (e.g. randn)" : "");
        return false;
    }
    if (!parse_spec(a->info.name, a->spec, sp))
        return false;
    if (!a->info.is_tensor) {
        if (sp->kind != SPEC_SCALAR) {
            fprintf(stderr, "tessera run: --arg %s=%s: %s is a scalar (%s); give a number\n", a->info.name, a->spec,
                    a->info.name, decl);
            return false;
        }
        a->scalar = sp->value;
        *done = true;
        return true;
    }
    if (sp->kind == SPEC_SCALAR) {
        fprintf(stderr, "tessera run: --arg %s=%s: %s is a tensor (%s); %s\n", a->info.name, a->spec, a->info.name,
                decl, SPEC_HELP);
        return false;
    }
    if (sp->kind == SPEC_FILE) {
        *done = true;
        return load_file(a, a->spec, dims);
    }
    if (sp->has_dtype && (sp->dtype.code != a->info.dtype.code || sp->dtype.bits != a->info.dtype.bits)) {
        fprintf(stderr, "tessera run: dtype mismatch: --arg %s=%s says %s; the kernel declares %s: %s\n", a->info.name,
                a->spec, npy_dtype_short(sp->dtype), a->info.name, decl);
        return false;
    }
    bool concrete = sp->has_shape;
    for (int d = 0; d < sp->ndim; d++)
        concrete = concrete && sp->dims[d] >= 0;
    if (!concrete)
        return true;
    char from[96];
    snprintf(from, sizeof from, "--arg %s", a->info.name);
    if (!match_shape(a, sp->ndim, sp->dims, from, dims) || !alloc_data(a))
        return false;
    generate(a, sp->gen, o->seed);
    *done = true;
    return true;
}

bool run_make_args(const RunOptions *o, tsr_kernel *k, bool all_args_known, RunArg **out, int *nout)
{
    int n = tsr_kernel_param_count(k);
    RunArg *args = calloc((size_t)n + 1, sizeof *args);
    Spec *specs = calloc((size_t)n + 1, sizeof *specs);
    bool *done = calloc((size_t)n + 1, sizeof *done);
    Dims *dims = calloc(1, sizeof *dims);
    bool ok = args && specs && done && dims && (!all_args_known || check_arg_names(o, k));
    for (int i = 0; ok && i < o->ndims; i++) {
        char *end;
        errno = 0;
        long long v = strtoll(o->dims[i].value, &end, 10);
        if (!*o->dims[i].value || *end || errno || v < 0 || v > 0x7fffffffLL) {
            fprintf(stderr, "tessera run: --dim %s=%s: not a size in 0..2^31-1\n", o->dims[i].name, o->dims[i].value);
            ok = false;
        } else {
            char from[96];
            snprintf(from, sizeof from, "--dim %s", o->dims[i].name);
            ok = dims_bind(dims, o->dims[i].name, v, from);
        }
    }
    for (int i = 0; ok && i < n; i++) {
        tsr_kernel_param_info(k, i, &args[i].info);
        args[i].spec = find_arg(o, args[i].info.name);
        ok = first_pass(o, &args[i], &specs[i], dims, &done[i]);
    }
    /* The second pass: generated tensors sized by symbols, and outputs. */
    for (int i = 0; ok && i < n; i++) {
        if (done[i])
            continue;
        ok = resolve_shape(&args[i], &specs[i], dims) && alloc_data(&args[i]);
        if (ok && args[i].spec) {
            generate(&args[i], specs[i].gen, o->seed);
        } else if (ok) {
            run_poison(args[i].info.dtype, args[i].data, run_numel(&args[i]));
            args[i].poisoned = true;
        }
    }
    free(specs);
    free(done);
    free(dims);
    if (!ok) {
        if (args)
            run_free_args(args, n);
        return false;
    }
    *out = args;
    *nout = n;
    return true;
}

void run_free_options(RunOptions *o)
{
    RunPair *lists[3] = { o->defines, o->args, o->dims };
    int counts[3] = { o->ndefines, o->nargs, o->ndims };
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < counts[l]; i++)
            free((char *)lists[l][i].name);
}

void run_free_args(RunArg *args, int n)
{
    for (int i = 0; i < n; i++)
        free(args[i].data);
    free(args);
}
