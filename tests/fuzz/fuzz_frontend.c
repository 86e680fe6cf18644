/* libFuzzer entry for the frontend: any bytes go through every stage a user
 * can reach from the CLI (token dump, parse and AST dump, sema building TIR,
 * the TIR passes with the verifier after each, the TIR printer) and must
 * neither crash, hang, leak nor allocate without bound.
 *
 * Compile-time parameters get values so that sema, TIR building and the
 * passes run too: a line `//D NAME=VALUE NAME=VALUE ...` in the input gives
 * defines verbatim (so the fuzzer also mutates them into bad values and
 * unknown names); any parameter without a define or a default gets a value
 * derived from a hash of the input.
 *
 * A kernel that compiles also runs on the TIR interpreter with small
 * tensors, when its loops have bounds known before the launch and the work
 * is small (so that no input makes the harness slow for a legitimate reason),
 * once as sema built it and once after the passes: the results must be the
 * same bit for bit (a differential check of fold, CSE and DCE).
 *
 * Built with TSR_FUZZ_CODEGEN (build-fuzz/fuzz_codegen), a kernel that
 * compiles also goes through GPU code generation (layouts, LLVM IR, PTX),
 * which must report what it cannot do as errors, never crash.
 *
 * Build and run: `make fuzz`, then see tests/README.md. */
#include "ast.h"
#include "compile.h"
#include "interp.h"
#ifdef TSR_FUZZ_CODEGEN
#include "codegen.h"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_INPUT = 1 << 16, MAX_DEFS = 32 };

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Reads the defines of every `//D` line into defs. */
static int defines_from_comments(Arena *a, const char *text, Define *defs, int n)
{
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > 4 && !strncmp(line, "//D ", 4)) {
            const char *p = line + 4, *stop = line + len;
            while (p < stop && n < MAX_DEFS) {
                while (p < stop && *p == ' ')
                    p++;
                const char *w = p;
                while (p < stop && *p != ' ')
                    p++;
                const char *eq = memchr(w, '=', (size_t)(p - w));
                if (eq && eq > w) {
                    defs[n].name = arena_strndup(a, w, (size_t)(eq - w));
                    defs[n].value = arena_strndup(a, eq + 1, (size_t)(p - eq - 1));
                    n++;
                }
            }
        }
        line = end ? end + 1 : NULL;
    }
    return n;
}

static bool has_define(const Define *defs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(defs[i].name, name))
            return true;
    return false;
}

/* A value for every compile-time parameter that has neither a define nor a
 * default (and, now and then, for one that has a default). */
static int derived_defines(const AstProgram *prog, uint64_t h, Define *defs, int n)
{
    static const char *const types[] = { "f16", "bf16", "f32", "i32", "bool", "f16", "bf16" };
    static const char *const ints[] = { "16", "32", "64", "128", "1", "2", "8", "3", "0", "-4", "256", "4" };
    static const char *const bools[] = { "true", "false" };
    static const char *const floats[] = { "0.5", "1", "-2.25", "1e30" };
    for (int k = 0; k < prog->kernels.len; k++) {
        const AstKernel *kn = prog->kernels.data[k];
        for (int i = 0; i < kn->cparams.len && n < MAX_DEFS; i++) {
            const AstCParam *cp = &kn->cparams.data[i];
            h = h * 6364136223846793005ull + 1442695040888963407ull;
            unsigned r = (unsigned)(h >> 33);
            if (has_define(defs, n, cp->name) || (cp->deflt && r % 4 != 0))
                continue;
            const char *v;
            switch (cp->kind) {
            case CPARAM_TYPE: v = types[r / 4 % TSR_ARRAY_LEN(types)]; break;
            case CPARAM_INT: v = ints[r / 4 % TSR_ARRAY_LEN(ints)]; break;
            case CPARAM_BOOL: v = bools[r / 4 % 2]; break;
            default: v = floats[r / 4 % TSR_ARRAY_LEN(floats)]; break;
            }
            defs[n].name = cp->name;
            defs[n].value = v;
            n++;
        }
    }
    return n;
}

/* ------------------------------------------------------------ interpreter */

enum { MAX_TENSOR_ELEMS = 1 << 16, MAX_WORK = 1 << 22, MAX_PROGRAMS = 8 };

static uint64_t next_rand(uint64_t *h)
{
    *h = *h * 6364136223846793005ull + 1442695040888963407ull;
    return *h >> 33;
}

/* The value of a loop bound known before the launch: a constant or a
 * symbolic dim. */
static bool known_bound(TirFunc *f, ValId v, const int32_t *syms, int64_t *out)
{
    InstId d = tir_val(f, v)->def;
    if (d == TIR_NONE)
        return false;
    const TirInst *in = tir_inst(f, d);
    if (in->op == TIR_CONST && tir_type(f, v).dt == DT_I32) {
        *out = in->ival;
        return true;
    }
    if (in->op == TIR_DIM) {
        *out = syms[in->sym];
        return true;
    }
    return false;
}

/* Adds up the elements a block computes, times `times`; false when a loop
 * has unknown bounds or the total passes MAX_WORK. */
static bool block_work(TirFunc *f, BlockId b, const int32_t *syms, int64_t times, int64_t *work)
{
    const TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++) {
        const TirInst *in = tir_inst(f, bl->insts.data[i]);
        int64_t n = 1;
        if (in->op == TIR_DOT) {
            TType a = tir_type(f, in->args[0]), r = tir_type(f, in->res[0]);
            n = ttype_numel(r) * a.shape[1];
        } else if (in->nres) {
            n = ttype_numel(tir_type(f, in->res[0]));
        } else if (in->op == TIR_STORE) {
            n = ttype_numel(tir_type(f, in->args[in->nargs - 1]));
        }
        *work += n * times;
        if (*work > MAX_WORK)
            return false;
        if (in->op == TIR_FOR) {
            int64_t lb, ub, step;
            if (!known_bound(f, in->args[0], syms, &lb) || !known_bound(f, in->args[1], syms, &ub) ||
                !known_bound(f, in->args[2], syms, &step) || step <= 0)
                return false;
            int64_t trips = ub > lb ? (ub - lb + step - 1) / step : 0;
            if (trips > MAX_WORK || trips * times > MAX_WORK)
                return false;
            if (trips && !block_work(f, in->blocks[0], syms, times * trips, work))
                return false;
        } else if (in->op == TIR_IF) {
            if (!block_work(f, in->blocks[0], syms, times, work) || !block_work(f, in->blocks[1], syms, times, work))
                return false;
        }
    }
    return true;
}

static void fill_tensor(HostTensor *t, uint64_t *h)
{
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++)
        n *= t->shape[d];
    for (int64_t i = 0; i < n; i++) {
        int32_t r = (int32_t)(next_rand(h) % 401) - 200;
        switch (t->dt) {
        case DT_F32: ((float *)t->data)[i] = (float)r / 64.0f; break;
        case DT_F16: ((uint16_t *)t->data)[i] = f32_to_f16_bits((float)r / 64.0f); break;
        case DT_BF16: ((uint16_t *)t->data)[i] = f32_to_bf16_bits((float)r / 64.0f); break;
        case DT_I32: ((int32_t *)t->data)[i] = r; break;
        default: ((uint8_t *)t->data)[i] = (uint8_t)(r & 1); break;
        }
    }
}

static size_t tensor_bytes(const HostTensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->rank; d++)
        n *= (size_t)t->shape[d];
    return n * (size_t)dtype_size(t->dt);
}

/* Runs a kernel on small random arguments when that is quick, twice: as
 * sema built it (raw) and after the TIR passes (opt). The passes must not
 * change what it computes: every tensor must end up bit for bit the same
 * (folding evaluates with the interpreter's own code, so even rounding
 * agrees). A difference is a miscompilation: abort, which libFuzzer reports. */
static void run_both(TirFunc *opt, TirFunc *raw, uint64_t h)
{
    static const int32_t sym_choices[] = { 1, 2, 3, 5, 8, 16, 17, 33, 64, 100 };
    static const double scalar_choices[] = { 0, 1, -3, 2.5, 7, 64, 1e9, 3e9, -0.0, 1e-3 };
    int np = raw->params.len;
    int32_t *syms = calloc((size_t)raw->syms.len + 1, sizeof(int32_t));
    KernelArg *args = calloc((size_t)np + 1, sizeof(KernelArg));
    void **initial = calloc((size_t)np + 1, sizeof(void *));
    void **after_opt = calloc((size_t)np + 1, sizeof(void *));
    for (int s = 0; s < raw->syms.len; s++)
        syms[s] = sym_choices[next_rand(&h) % TSR_ARRAY_LEN(sym_choices)];
    bool ok = true;
    for (int i = 0; i < np && ok; i++) {
        const TirParam *p = &raw->params.data[i];
        args[i].is_tensor = p->is_tensor;
        if (!p->is_tensor) {
            args[i].scalar = scalar_choices[next_rand(&h) % TSR_ARRAY_LEN(scalar_choices)];
            continue;
        }
        HostTensor *t = &args[i].tensor;
        t->dt = p->dt;
        t->rank = p->rank;
        int64_t n = 1;
        for (int d = p->rank - 1; d >= 0; d--) {
            t->shape[d] = p->dim_sym[d] != TIR_NONE ? syms[p->dim_sym[d]] : p->dim_const[d];
            t->strides[d] = n;
            n *= t->shape[d];
            if (n > MAX_TENSOR_ELEMS)
                ok = false;
        }
        if (!ok)
            break;
        t->data = calloc((size_t)(n ? n : 1), (size_t)dtype_size(p->dt));
        fill_tensor(t, &h); /* outputs too: a kernel may load what it stores */
        initial[i] = malloc(tensor_bytes(t) + 1);
        memcpy(initial[i], t->data, tensor_bytes(t));
    }
    int64_t work = 0, grid[3];
    StrBuf err;
    sb_init(&err);
    int32_t *bound = calloc((size_t)raw->syms.len + 1, sizeof(int32_t));
    /* the raw kernel does at least the work of the optimized one */
    if (ok && kernel_bind_args(raw, args, np, bound, &err) && kernel_eval_grid(raw, args, bound, grid, &err) &&
        grid[0] * grid[1] * grid[2] <= MAX_PROGRAMS && block_work(raw, raw->body, bound, 1, &work)) {
        bool ran_opt = interp_launch(opt, args, np, 1, &err);
        for (int i = 0; i < np; i++)
            if (args[i].is_tensor) {
                size_t b = tensor_bytes(&args[i].tensor);
                after_opt[i] = malloc(b + 1);
                memcpy(after_opt[i], args[i].tensor.data, b);
                memcpy(args[i].tensor.data, initial[i], b);
            }
        bool ran_raw = interp_launch(raw, args, np, 1, &err);
        if (ran_opt != ran_raw)
            tsr_die("fuzz: the optimized kernel %s launches %s, the raw one %s", raw->name, ran_opt ? "" : "not",
                    ran_raw ? "" : "not");
        for (int i = 0; i < np; i++)
            if (args[i].is_tensor && memcmp(after_opt[i], args[i].tensor.data, tensor_bytes(&args[i].tensor)))
                tsr_die("fuzz: the TIR passes changed what kernel %s stores in '%s'", raw->name,
                        raw->params.data[i].name);
    }
    sb_free(&err);
    free(bound);
    for (int i = 0; i < np; i++) {
        free(args[i].tensor.data);
        free(initial[i]);
        free(after_opt[i]);
    }
    free(initial);
    free(after_opt);
    free(args);
    free(syms);
}

/* The TIR of prog as sema builds it, before any pass (NULL on errors). */
static TirModule *raw_tir(const AstProgram *prog, const Source *src, const Define *defs, int ndefs)
{
    Diag d;
    diag_init(&d, src);
    TirModule *m = sema_program(prog, defs, ndefs, NULL, &d);
    diag_free(&d);
    for (int i = 0; m && i < m->funcs.len; i++) {
        StrBuf why;
        sb_init(&why);
        if (!tir_verify(m->funcs.data[i], &why))
            tsr_die("%s (after sema)", why.data);
        sb_free(&why);
    }
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    Source src = { "fuzz.tsr", text, size };
    StrBuf out;
    sb_init(&out);

    tokens_print(&out, &src);

    Arena arena;
    arena_init(&arena);
    Diag diag;
    diag_init(&diag, &src);
    AstProgram *prog = parse_program(&arena, &src, &diag);
    if (diag.nerrors == 0) {
        ast_print(&out, prog);

        Define defs[MAX_DEFS];
        int ndefs = defines_from_comments(&arena, text, defs, 0);
        ndefs = derived_defines(prog, hash_bytes(data, size), defs, ndefs);
        Diag d2;
        diag_init(&d2, &src);
        StrBuf dump;
        sb_init(&dump);
        TirModule *m = compile_tir(&src, defs, ndefs, NULL, &d2, size % 3 == 0 ? &dump : NULL);
        if (m) {
            tir_module_print(&out, m);
#ifdef TSR_FUZZ_CODEGEN
            static const char *const targets[] = { "sm_80", "sm_90", "sm_90a" };
            for (int i = 0; i < m->funcs.len; i++) {
                CodegenOptions co = { .target = targets[hash_bytes(data, size) % 3],
                                      .assume_aligned = (hash_bytes(data, size) >> 8) & 1,
                                      .unaligned_params = hash_bytes(data, size) >> 16,
                                      .divisible_syms = hash_bytes(data, size) >> 24,
                                      .line_info = (hash_bytes(data, size) >> 40) & 1,
                                      .no_warp_specialize = (hash_bytes(data, size) >> 41) & 1,
                                      .no_overlap = (hash_bytes(data, size) >> 42) & 1,
                                      .no_pingpong = (hash_bytes(data, size) >> 43) & 1,
                                      .persistent = (hash_bytes(data, size) >> 44) & 1 };
                CodegenResult r = { 0 };
                Diag d3;
                diag_init(&d3, &src);
                if (compile_ptx(m->funcs.data[i], &co, false, NULL, &r, &d3))
                    codegen_result_free(&r);
                diag_free(&d3);
            }
#endif
            TirModule *raw = raw_tir(prog, &src, defs, ndefs);
            if (!raw || raw->funcs.len != m->funcs.len)
                tsr_die("fuzz: sema does not give the same kernels twice");
            for (int i = 0; i < m->funcs.len; i++)
                run_both(m->funcs.data[i], raw->funcs.data[i], hash_bytes(data, size) + (uint64_t)i);
            tir_module_free(raw);
            tir_module_free(m);
        }
        sb_free(&dump);
        diag_free(&d2);
    }
    diag_free(&diag);
    arena_free(&arena);
    sb_free(&out);
    free(text);
    return 0;
}
