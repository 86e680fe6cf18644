/* Semantic analysis (frontend/sema.c): names, dtype rules, broadcasting,
 * tile shapes from compile-time values, compile-time branches and folding,
 * SSA for mutable variables (loop-carried and merged after a run-time if),
 * and -D defines. Checked on the TIR sema builds (before the passes, so
 * that what sema itself emits is visible) and, for meaning, on the
 * interpreter. */
#include "ast.h"
#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* ------------------------------------------------------------- helpers */

typedef struct {
    TirModule *m;
    char *diags;
    Arena arena;
} Checked;

/* Parses and checks text (no TIR passes), with NAME=VALUE defines. */
static Checked check_defs(const char *text, const char *kernel, const Define *defs, int ndefs)
{
    Checked c = { 0 };
    Source src = { "s.tsr", text, strlen(text) };
    Diag diag;
    diag_init(&diag, &src);
    diag.max_errors = 100;
    arena_init(&c.arena);
    AstProgram *prog = parse_program(&c.arena, &src, &diag);
    if (diag.nerrors)
        fail_msg("does not parse:\n%s", diag.out.data);
    c.m = sema_program(prog, defs, ndefs, kernel, &diag);
    c.diags = sb_take(&diag.out);
    diag_free(&diag);
    arena_free(&c.arena);
    if (c.m)
        for (int i = 0; i < c.m->funcs.len; i++) {
            StrBuf why;
            sb_init(&why);
            if (!tir_verify(c.m->funcs.data[i], &why))
                fail_msg("sema built invalid TIR: %s", why.data);
            sb_free(&why);
        }
    return c;
}

static void checked_free(Checked *c)
{
    tir_module_free(c->m);
    free(c->diags);
}

static TirFunc *ok_func(const char *text, const Define *defs, int ndefs, Checked *c)
{
    *c = check_defs(text, NULL, defs, ndefs);
    if (!c->m)
        fail_msg("does not compile:\n%s", c->diags);
    return c->m->funcs.data[0];
}

/* Expects errors; each needle must appear in the diagnostics. */
static void expect_error_defs(const char *text, const Define *defs, int ndefs, const char *needle)
{
    Checked c = check_defs(text, NULL, defs, ndefs);
    if (c.m)
        fail_msg("compiled, but expected an error containing '%s':\n%s", needle, text);
    if (!strstr(c.diags, needle))
        fail_msg("expected '%s' in:\n%s", needle, c.diags);
    checked_free(&c);
}

static void expect_error(const char *text, const char *needle) { expect_error_defs(text, NULL, 0, needle); }

static void expect_ok(const char *text)
{
    Checked c;
    ok_func(text, NULL, 0, &c);
    checked_free(&c);
}

/* A kernel around a body: X: f32[N], H: f16[N], I: i32[N], M: f32[N, 64],
 * O: out f32[N], OH: out f16[N], OI: out i32[N], OM: out f32[N, 64],
 * scalars s: f32, n: i32, c: bool. */
static char *kern(const char *body)
{
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb,
              "kernel k(X: f32[N], H: f16[N], I: i32[N], M: f32[N, 64], O: out f32[N], OH: out f16[N], "
              "OI: out i32[N], OM: out f32[N, 64], s: f32, n: i32, c: bool) grid (1)\n{\n%s\n}\n",
              body);
    return sb_take(&sb);
}

static void body_error(const char *body, const char *needle)
{
    char *text = kern(body);
    expect_error(text, needle);
    free(text);
}

static void body_ok(const char *body)
{
    char *text = kern(body);
    expect_ok(text);
    free(text);
}

static void collect(TirFunc *f, BlockId b, TirOp op, InstId *out, int *n)
{
    TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++) {
        TirInst *in = tir_inst(f, bl->insts.data[i]);
        if (in->op == op && *n < 64)
            out[(*n)++] = bl->insts.data[i];
        for (int k = 0; k < 2; k++)
            if ((in->op == TIR_FOR || in->op == TIR_IF) && in->blocks[k] != TIR_NONE)
                collect(f, in->blocks[k], op, out, n);
    }
}

/* The instructions of one op in the body, in order (nested blocks too). */
static int find_ops(TirFunc *f, TirOp op, InstId *out)
{
    int n = 0;
    collect(f, f->body, op, out, &n);
    return n;
}

static int count_ops(TirFunc *f, TirOp op)
{
    InstId ids[64];
    return find_ops(f, op, ids);
}

static TirInst *only_op(TirFunc *f, TirOp op)
{
    InstId ids[64];
    int n = find_ops(f, op, ids);
    if (n != 1)
        fail_msg("expected one %s, found %d", tir_op_name(op), n);
    return tir_inst(f, ids[0]);
}

static char *type_text(TType t)
{
    StrBuf sb;
    sb_init(&sb);
    ttype_print(&sb, t);
    return sb_take(&sb);
}

static void assert_type(TirFunc *f, ValId v, const char *want)
{
    char *got = type_text(tir_type(f, v));
    if (strcmp(got, want) != 0)
        fail_msg("expected type %s, got %s", want, got);
    free(got);
}

/* The type of what the single store of the body stores. */
static void assert_stored_type(const char *body, const char *want)
{
    char *text = kern(body);
    Checked c;
    TirFunc *f = ok_func(text, NULL, 0, &c);
    TirInst *st = only_op(f, TIR_STORE);
    assert_type(f, st->args[st->nargs - 1], want);
    checked_free(&c);
    free(text);
}

/* Runs a kernel with one output O: out f32[16] (and no inputs) on the
 * interpreter, with the full pipeline, and returns O[i]. */
static float run_out(const char *text, const Define *defs, int ndefs, int i)
{
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string("r.tsr", text, defs, ndefs, &diags);
    if (!m)
        fail_msg("does not compile:\n%s", diags.data);
    sb_free(&diags);
    int64_t shape[1] = { 16 };
    HostTensor o = tensor_new(DT_F32, 1, shape);
    tensor_poison(&o);
    KernelArg args[1] = { arg_tensor(o) };
    StrBuf err;
    sb_init(&err);
    if (!interp_launch(m->funcs.data[0], args, 1, 1, &err))
        fail_msg("launch: %s", err.data);
    sb_free(&err);
    float r = ((float *)o.data)[i];
    tensor_free(&o);
    tir_module_free(m);
    return r;
}

/* --------------------------------------------------------------- names */

static void names(void **state)
{
    (void)state;
    body_error("O[0] = y;", "s.tsr:3:8: error: unknown name 'y'");
    body_error("let x = 1; let x = 2;", "'x' is already defined");
    body_error("let x = 1; let x = 2;", "note: 'x' was defined here as a constant");
    body_error("let s = 1;", "'s' is already defined"); /* no shadowing of parameters either */
    body_error("let N = 1;", "note: 'N' was defined here as a tensor dimension");
    body_error("{ let t = 1; } O[0] = t;", "unknown name 't'");          /* blocks scope */
    body_error("for i in 0 .. 4 { } OI[0] = i;", "unknown name 'i'");    /* so do loops */
    body_error("for i in 0 .. 4 { for i in 0 .. 2 { } }", "'i' is already defined");
    body_error("let x = 1; x = 2;", "cannot assign to 'x': it is a constant (declare it with 'var')");
    body_error("n = 2;", "cannot assign to 'n': it is a parameter");
    body_error("N = 2;", "cannot assign to 'N': it is a tensor dimension");
    body_error("for i in 0 .. 4 { i = 1; }", "cannot assign to 'i': it is a loop variable");
    body_error("y = 2;", "unknown name 'y'");
    body_error("O[0] = dot;", "'dot' is a built-in function: call it as dot(...)");
    body_error("let scale = 1.0; O[0] = scal;", "unknown name 'scal'; did you mean 'scale'?");
    body_error("O[0] = X[0] * sinh(s);", "unknown function 'sinh'");
    body_error("O[0] = rowmix(M[0 : +2, :])[0];", "unknown function 'rowmix'; did you mean 'rowmax'?");
    body_error("O[0] = s(1);", "'s' is not a function");
    body_error("let t = X;", "a tensor cannot be bound to a name; slice it to load a tile");
    /* a type can be named, and then converts */
    body_ok("let T = f16; OH[0] = T(X[0]);");
    body_ok("var k = 0; { k = 1; } OI[0] = k;");
    /* symbolic dims are i32 values inside the kernel */
    body_ok("OI[0] = N + n;");
}

/* ----------------------------------------------------------- dtype rules */

static void dtypes(void **state)
{
    (void)state;
    /* no implicit conversions between value dtypes */
    body_error("O[0 : +16] = X[0 : +16] + f32(H[0 : +16]) + H[0 : +16];",
               "mismatched dtypes f32 and f16 in '+'; convert one explicitly, e.g. f32(x)");
    body_error("OI[0] = I[0] + X[0];", "mismatched dtypes i32 and f32");
    body_error("O[0] = I[0];", "cannot assign i32 to a slice of 'O' of type f32; convert it with f32(...)");
    body_error("var v = X[0]; v = H[0];", "cannot assign f16 to variable 'v' of type f32");
    /* explicit casts */
    assert_stored_type("O[0 : +16] = X[0 : +16] + f32(H[0 : +16]);", "f32[16]");
    assert_stored_type("OH[0 : +16] = f16(X[0 : +16]);", "f16[16]");
    assert_stored_type("OI[0] = i32(X[0]);", "i32");
    /* constants adapt to the value they meet */
    assert_stored_type("OH[0 : +16] = H[0 : +16] * 2.5 + 1;", "f16[16]");
    assert_stored_type("OI[0] = I[0] * 3 + 1;", "i32");
    assert_stored_type("O[0] = 1;", "f32");
    body_error("OI[0] = I[0] * 1.5;", "the float constant 1.5 cannot be used as i32; cast explicitly");
    body_error("OI[0] = 3000000000;", "the constant 3000000000 does not fit in i32");
    body_error("OH[0] = 65536.0;", "the constant 65536 is out of range for f16");
    body_ok("OH[0] = 65504.0; OH[1] = -inf; O[0] = 3e38;");
    body_error("O[0] = 1e39;", "the constant 1e+39 is out of range for f32");
    body_ok("O[0] = f32(c) + f32(I[0]); OI[0] = i32(c); OI[1] = i32(X[0]);"); /* any dtype converts */
    /* a conversion gives a typed value, even of a constant; it rounds as the
     * conversion table says, to inf if need be, where an untyped constant that
     * cannot stay finite is an error */
    body_error("OI[0] = I[0] + f32(1);", "mismatched dtypes i32 and f32");
    body_ok("OH[0] = f16(70000.0);");
    /* bools */
    body_error("O[0] = X[0] * (X[0] > 0.0);", "mismatched dtypes f32 and bool");
    body_error("let b = X[0] > 0.0; OI[0] = i32(b + b);", "'+' is not defined on bool");
    body_error("let b = true + 1;", "'+' is not defined on bool");
    body_error("OI[0] = I[0] && I[1];", "'&&' needs bool operands, found i32");
    body_error("O[0] = -c ? 1.0 : 0.0;", "'-' needs a number, found bool");
    body_error("O[0] = !X[0] ? 1.0 : 0.0;", "'!' needs a bool operand, found f32");
    body_error("O[0] = X[0] % 2.0;", "'%' needs integer operands, found f32");
    body_error("O[0] = 2.5 % 2;", "'%' needs integer operands");
    body_ok("O[0] = where(c && X[0] != 0.0, 1.0, 0.0);");
    body_error("O[0] = where(c && f32, 1.0, 0.0);", "expected a value, found the type f32");
    body_error("O[0] = c || X ? 1.0 : 0.0;", "expected a value, found the tensor 'X'");
    body_error("let b = 1 && 2;", "'&&' needs bool operands, found an integer constant");
    body_error("let b = false || 2.5;", "'||' needs bool operands, found a float constant");
    body_error("O[0] = f32(X);", "cannot convert the tensor 'X' to f32");
    body_error("O[0] = 1[0];", "an integer constant cannot be indexed");
    body_error("O[0] = f32[0];", "the type f32 cannot be indexed");
    body_error("OI[0] = cdiv(I[0], 2.5);", "the float constant 2.5 cannot be used as i32");
    body_error("O[0] = f32(cdiv(X[0], 2.0));", "'cdiv' needs integer operands, found f32");
    body_error("O[0] = reduce_sum(s);", "'reduce_sum' needs a tile, found a scalar");
    body_error("OI[0 : +4] = arange<0>(0);", "the length of 'arange' is out of range");
    body_error("OI[0 : +4] = arange<4>(X[0 : +4]);", "the start of 'arange' must be an i32 scalar, found f32[4]");
    body_error("O[0] = where(n, 1.0, 2.0);", "the condition of 'where' must be bool, found i32");
    /* a run-time ?: selects between two values unified like binary operands */
    assert_stored_type("O[0 : +16] = c ? X[0 : +16] : 0.5;", "f32[16]");
    assert_stored_type("OI[0] = c && n > 0 ? n : 7;", "i32");
    body_error("O[0] = c ? X[0] : I[0];", "mismatched dtypes f32 and i32 in '?:'");
    /* dot: two f16 or two bf16 tiles; the result is f32 */
    char *t = kern("OM[0 : +16, :] = dot(f16(M[0 : +16, 0 : +32]), f16(M[0 : +32, :]));");
    Checked c;
    TirFunc *f = ok_func(t, NULL, 0, &c);
    TirInst *d = only_op(f, TIR_DOT);
    assert_type(f, d->res[0], "f32[16, 64]");
    assert_type(f, d->args[0], "f16[16, 32]");
    checked_free(&c);
    free(t);
    body_ok("let a = zeros<bf16>[16, 16]; OM[0 : +16, 0 : +16] = dot(a, a);");
    body_ok("OM[0 : +16, 0 : +16] = dot(M[0 : +16, 0 : +16], M[0 : +16, 0 : +16]);"); /* f32: on the CUDA cores */
    body_error("let a = zeros<i32>[16, 16]; OM[0 : +16, 0 : +16] = f32(dot(a, a));",
               "'dot' needs two f16, two bf16, two f32 or two fp8 (e4m3, e5m2) tiles, found i32[16, 16] and i32[16, 16]");
    body_error("let a = zeros<f16>[16, 16]; let b = zeros<bf16>[16, 16]; OM[0 : +16, 0 : +16] = dot(a, b);",
               "'dot' needs two f16, two bf16, two f32 or two fp8 (e4m3, e5m2) tiles, found f16[16, 16] and bf16[16, 16]");
    body_error("let a = zeros<f16>[16, 32]; OM[0 : +16, 0 : +16] = dot(a, a);",
               "'dot' of f16[16, 32] and f16[16, 32]: inner dimensions differ (32 vs 16)");
    body_error("let a = zeros<f16>[16]; OM[0 : +16, 0 : +16] = dot(a, a);", "'dot' needs a 2-D tile, found f16[16]");
    /* math needs floats (abs takes i32 too) */
    body_error("OI[0] = exp(I[0]);", "'exp' needs a float operand, found i32");
    body_ok("OI[0] = abs(I[0]);");
}

/* ---------------------------------------------------------- broadcasting */

static void broadcasting(void **state)
{
    (void)state;
    /* scalars splat; equal ranks broadcast 1-dims; different ranks do not */
    assert_stored_type("OM[0 : +16, :] = M[0 : +16, :] * s;", "f32[16, 64]");
    assert_stored_type("OM[0 : +16, :] = M[0 : +16, :] - rowmax(M[0 : +16, :])[:, None];", "f32[16, 64]");
    assert_stored_type("OM[0 : +16, :] = M[0 : +16, :] * M[0, :][None, :];", "f32[16, 64]");
    assert_stored_type("OM[0 : +16, 0 : +32] = X[0 : +16][:, None] + X[0 : +32][None, :];", "f32[16, 32]");
    body_error("OM[0 : +16, :] = M[0 : +16, :] - rowmax(M[0 : +16, :]);",
               "cannot combine f32[16, 64] and f32[16] in '-': their ranks differ (add an axis with x[:, None] or "
               "x[None, :])");
    body_error("OM[0 : +16, :] = M[0 : +16, :] + M[0 : +64, 0 : +16];",
               "cannot combine f32[16, 64] and f32[64, 16] in '+': dimension 0 differs (16 vs 64)");
    body_error("O[0 : +16] = where(X[0 : +16] > 0.0, X[0 : +16], X[0 : +32]);", "dimension 0 differs (16 vs 32)");
    /* broadcasting cannot make a tile past the size limit */
    body_error("let a = arange<1024>(0); let b = arange<2048>(0); OI[0] = reduce_sum(reduce_sum(a[:, None] + "
               "b[None, :], 0));",
               "tile i32[1024, 2048] has 2097152 elements; at most 1048576 are allowed");
    /* assignments broadcast too, but only toward the target's shape */
    body_ok("var t = zeros<f32>[16, 64]; t = X[0 : +16][:, None]; t = 1.0; OM[0 : +16, :] = t;");
    body_error("var t = zeros<f32>[16, 1]; t = M[0 : +16, :];",
               "cannot assign f32[16, 64] to variable 't' of type f32[16, 1]");
    body_error("O[0 : +16] = X[0 : +32];", "cannot assign f32[32] to a slice of 'O' of type f32[16]");
    /* indexing tiles adds axes */
    assert_stored_type("OM[0 : +1, 0 : +16] = X[0 : +16][None, :];", "f32[1, 16]");
    body_error("O[0] = X[0 : +16][0];", "tiles can be indexed only with ':' and None (to add an axis)");
    body_error("O[0 : +16] = X[0 : +16][:, :];", "indexing a tile of rank 1 needs 1 ':' items, found 2");
    body_error("O[0 : +16] = X[None, 0 : +16];", "'None' adds an axis to a tile, not to a tensor");
}

/* ------------------------------------------------------------ tile shapes */

static void tile_shapes(void **state)
{
    (void)state;
    const char *text = "kernel k<BM: int, D: int = 64, T: type = f16>(Q: T[S, D], O: out f32[S, D]) grid (cdiv(S, BM))\n"
                       "{\n"
                       "    let m = program_id(0) * BM;\n"
                       "    var acc = zeros<f32>[BM, D];\n"
                       "    acc = acc + f32(Q[m : +BM, :]);\n"
                       "    O[m : +BM, 0 : +D] = acc + f32(arange<D>(0))[None, :];\n"
                       "}\n";
    Define defs[2] = { { "BM", "32" }, { "T", "bf16" } };
    Checked c;
    TirFunc *f = ok_func(text, defs, 2, &c);
    TirInst *ld = only_op(f, TIR_LOAD);
    assert_type(f, ld->res[0], "bf16[32, 64]");
    assert_int_equal(ld->lens[0], 32);
    assert_int_equal(ld->lens[1], 64);
    TirInst *st = only_op(f, TIR_STORE);
    assert_type(f, st->args[st->nargs - 1], "f32[32, 64]");
    assert_type(f, only_op(f, TIR_ARANGE)->res[0], "i32[64]");
    assert_int_equal(f->params.data[0].dim_const[1], 64);
    assert_int_equal(f->params.data[0].dim_sym[1], TIR_NONE);
    checked_free(&c);

    /* tile dims are powers of two or multiples of 16, at most 2^20 elements */
    body_error("O[0 : +40] = X[0 : +40];", "tile dimension 40 is neither a power of two nor a multiple of 16");
    body_error("OI[0 : +16] = arange<12>(0)[0 : +16];",
               "tile dimension 12 is neither a power of two nor a multiple of 16");
    body_error("let z = zeros<f32>[16, 24];", "tile dimension 24 is neither a power of two nor a multiple of 16");
    body_ok("O[0 : +48] = X[0 : +48];");
    body_ok("let z = zeros<f32>[80, 176];");
    body_error("let z = zeros<f32>[2048, 1024];", "tile f32[2048, 1024] has 2097152 elements; at most 1048576");
    body_error("let z = zeros<f32>[0];", "tile dimension 0 is out of range");
    body_error("let z = zeros<f32>[-16];", "tile dimension -16 is out of range");
    body_error("let z = zeros<f32>[4, 4, 4];", "a tile has 1 or 2 dimensions, found 3");
    body_error("let z = zeros<f32>[n];", "a tile dimension must be a compile-time integer, found i32");
    body_error("O[0 : +n] = X[0 : +16];", "a slice length must be a compile-time integer, found i32");
    body_error("O[0 : +0] = X[0 : +16];", "slice length 0 is out of range");
    body_error("O[0 : +16] = X[0.5 : +16];", "the float constant 0.5 cannot be used as i32");
    body_error("O[0 : +16] = X[c : +16];", "a tensor index must be an integer scalar, found bool");
    body_error("O[0 : +16] = X[true : +16];", "a bool constant cannot be used as i32");
    body_error("OM[:, :] = M[0 : +16, :];", "':' needs a dimension known at compile time, but dimension 0 of 'OM' is "
                                             "'N'; write START : +LENGTH");
    body_error("O[0] = M[0];", "tensor 'M' has 2 dimensions, but 1 index is given");
    body_error("let z = zeros<f32>[16]; let w = full<f32>[16](z);", "the value of 'full' must be a f32 scalar");
    body_ok("let z = full<f32>[16](s); let w = ones<i32>[4, 4]; let b = zeros<bool>[8];");
    /* a tensor's constant dims come from compile-time values, and must be positive */
    expect_error("kernel k<D: int = 0>(A: f32[D]) grid (1) { }",
                 "a tensor dimension must be a name or a positive compile-time integer, found 0");
    expect_error("kernel k(A: f32[2.5]) grid (1) { }",
                 "a tensor dimension must be a name or a positive compile-time integer, found a float constant");
    expect_error("kernel k(A: f32[N * 2]) grid (1) { }", "unknown name 'N'");
    expect_error("kernel k(A: f32[1, 2, 3, 4, 5]) grid (1) { }", "a tensor has 1 to 4 dimensions; 'A' has 5");
    expect_error("kernel k(A: bool[4]) grid (1) { }", "tensors of bool are not supported; use i32");
    expect_error("kernel k(s: out f32) grid (1) { }", "only tensors can be 'out'; 's' is a scalar");
    expect_error("kernel k(A: f32[n], n: i32) grid (1) { }", "tensor dimension 'n' has the name of a parameter");
    expect_error("kernel k(A: q[4]) grid (1) { }", "unknown name 'q'");
    expect_error("kernel k<D: int = 4>(A: D[4]) grid (1) { }", "expected a type for 'A', found an integer constant");
    /* a tile of a tensor has at most 2 dims */
    expect_error("kernel k(A: out f32[4, 4, 4]) grid (1) { A[0 : +2, 0 : +2, 0 : +2] = 1.0; }",
                 "a tile has at most 2 dimensions; this slice of 'A' has 3");
}

/* A symbolic dim is one name across all tensors: one TIR symbol, bound once
 * at launch and checked for agreement. */
static void symbolic_dims(void **state)
{
    (void)state;
    const char *text = "kernel mm(A: f32[M, K], B: f32[K, N], C: out f32[M, N], V: f32[K, K]) grid (cdiv(M, 16), N)\n"
                       "{\n"
                       "    let k = K;\n"
                       "    C[0, 0] = f32(k + M + N);\n"
                       "}\n";
    Checked c;
    TirFunc *f = ok_func(text, NULL, 0, &c);
    assert_int_equal(f->syms.len, 3);
    assert_string_equal(f->syms.data[0].name, "M");
    assert_string_equal(f->syms.data[1].name, "K");
    assert_string_equal(f->syms.data[2].name, "N");
    assert_int_equal(f->syms.data[1].param, 0); /* first seen in A, dim 1 */
    assert_int_equal(f->syms.data[1].dim, 1);
    assert_int_equal(f->params.data[1].dim_sym[0], 1);
    assert_int_equal(f->params.data[3].dim_sym[0], 1);
    assert_int_equal(f->params.data[3].dim_sym[1], 1);
    assert_int_equal(f->params.data[2].dim_sym[1], 2);
    assert_int_equal(count_ops(f, TIR_DIM), 3);
    /* at launch, the same name must have the same size everywhere */
    int64_t sa[2] = { 4, 8 }, sb[2] = { 8, 2 }, sc[2] = { 4, 2 }, sv[2] = { 8, 9 };
    HostTensor a = tensor_new(DT_F32, 2, sa), b = tensor_new(DT_F32, 2, sb), o = tensor_new(DT_F32, 2, sc),
               v = tensor_new(DT_F32, 2, sv);
    KernelArg args[4] = { arg_tensor(a), arg_tensor(b), arg_tensor(o), arg_tensor(v) };
    int32_t syms[3];
    StrBuf err;
    sb_init(&err);
    assert_false(kernel_bind_args(f, args, 4, syms, &err));
    assert_string_equal(err.data, "dimension 'K' is 8 in tensor 'A' but 9 in tensor 'V' (dimension 1)");
    sb_free(&err);
    args[3].tensor.shape[1] = 8;
    sb_init(&err);
    assert_true(kernel_bind_args(f, args, 4, syms, &err));
    assert_int_equal(syms[0], 4);
    assert_int_equal(syms[1], 8);
    assert_int_equal(syms[2], 2);
    sb_free(&err);
    tensor_free(&a);
    tensor_free(&b);
    tensor_free(&o);
    tensor_free(&v);
    checked_free(&c);
}

/* ---------------------------------------------- compile-time evaluation */

/* A compile-time if or ?: checks only the branch it takes, like `if
 * constexpr`: the other may even be wrong for these values. */
static void compile_time_branches(void **state)
{
    (void)state;
    const char *text = "kernel k<CAUSAL: bool, D: int = 64>(X: f32[N], O: out f32[N]) grid (1)\n"
                       "{\n"
                       "    var x = X[0 : +16];\n"
                       "    if CAUSAL {\n"
                       "        x = x * 2.0;\n"
                       "    } else if D > 32 {\n"
                       "        x = x + 1.0;\n"
                       "    } else {\n"
                       "        x = x + undefined_thing;\n"
                       "    }\n"
                       "    let y = CAUSAL ? x : zeros<f32>[D * 3 + 8];\n"
                       "    O[0 : +16] = CAUSAL && D == 64 ? y : x;\n"
                       "}\n";
    Define yes[1] = { { "CAUSAL", "true" } }, no[1] = { { "CAUSAL", "false" } };
    Checked c;
    TirFunc *f = ok_func(text, yes, 1, &c);
    assert_int_equal(count_ops(f, TIR_IF), 0);
    assert_int_equal(count_ops(f, TIR_SELECT), 0);
    assert_int_equal(count_ops(f, TIR_MUL), 1);
    assert_int_equal(count_ops(f, TIR_ADD), 0);
    checked_free(&c);
    /* not causal: the else-if is taken, and zeros<f32>[192] would be an error */
    c = check_defs(text, NULL, no, 1);
    assert_null(c.m);
    assert_non_null(strstr(c.diags, "tile dimension 200 is neither a power of two nor a multiple of 16"));
    assert_null(strstr(c.diags, "undefined_thing"));
    checked_free(&c);
    /* && and || short-circuit at compile time */
    body_ok("if false && undefined_thing { } if true || undefined_thing { }");
    /* a run-time condition checks both branches */
    body_error("if c { } else { O[0] = undefined_thing; }", "unknown name 'undefined_thing'");
    body_error("if n { }", "the condition of 'if' must be a bool scalar, found i32");
    body_error("if 1 { }", "the condition of 'if' must be a bool scalar, found an integer constant");
    body_error("if X[0 : +16] > 0.0 { }", "found bool[16] (use where(...) for tiles)");
    body_error("O[0] = n ? 1.0 : 2.0;", "the condition of '?:' must be bool, found i32");
    body_error("O[0 : +16] = X[0 : +16] > 0.0 ? 1.0 : 2.0;", "the condition of '?:' must be a scalar");
}

/* Compile-time expressions fold in sema, with int64 arithmetic that
 * reports overflow; what reaches TIR is a constant. */
static void folding(void **state)
{
    (void)state;
    const char *text = "kernel k<A: int = 6, F: float = 0.5>(O: out f32[16]) grid (1)\n"
                       "{\n"
                       "    let a = (A * 7 - 2) / 4 % 7;\n"   /* 40 / 4 % 7 = 3 */
                       "    let b = cdiv(A, 4) + min(A, 3) + max(-A, 2) + abs(-5);\n" /* 2 + 3 + 2 + 5 */
                       "    let e = exp2(3.0) + sqrt(16.0) * F + 0x10;\n"                /* 8 + 2 + 16 */
                       "    O[0] = f32(a);\n"
                       "    O[1] = f32(b);\n"
                       "    O[2] = e;\n"
                       "    O[3] = A > 5 && F < 1.0 ? 1.0 : 0.0;\n"
                       "    O[4] = f32(-7 / 2) + f32(-7 % 2) * 10.0;\n" /* C rules: -3 and -1 */
                       "    O[5] = f32(i32(2.9)) + f32(i32(-2.9)) * 10.0;\n" /* conversion truncates */
                       "}\n";
    Checked c;
    TirFunc *f = ok_func(text, NULL, 0, &c);
    /* the untyped constants fold in sema: the only arithmetic left is on the
     * typed values that conversions make (O[4], O[5]) */
    InstId ids[64];
    assert_int_equal(find_ops(f, TIR_STORE, ids), 6);
    assert_int_equal(count_ops(f, TIR_ADD), 2);
    assert_int_equal(count_ops(f, TIR_MUL), 2);
    assert_int_equal(count_ops(f, TIR_DIV) + count_ops(f, TIR_SUB) + count_ops(f, TIR_REM), 0);
    checked_free(&c);
    float want[6] = { 3, 12, 26, 1, -13, -18 };
    for (int i = 0; i < 6; i++)
        assert_float_equal(run_out(text, NULL, 0, i), want[i], 0);

    body_error("let x = 9223372036854775807 + 1;", "integer overflow in a compile-time expression");
    body_error("let x = -9223372036854775807 - 2;", "integer overflow in a compile-time expression");
    body_error("let x = 4611686018427387904 * 2;", "integer overflow in a compile-time expression");
    body_error("let x = (-9223372036854775807 - 1) / -1;", "integer overflow in a compile-time expression");
    body_error("let x = -(-9223372036854775807 - 1);", "integer overflow in a compile-time expression");
    body_error("let x = abs(-9223372036854775807 - 1);", "integer overflow in a compile-time expression");
    body_error("let x = 1 / 0;", "division by zero in a compile-time expression");
    body_error("let x = 1 % (3 - 3);", "division by zero in a compile-time expression");
    body_error("let x = cdiv(8, 0);", "cdiv needs a positive divisor");
    body_error("let x = i32(1e10);", "the constant 1e+10 does not fit in i32");
}

/* ------------------------------------------- SSA for mutable variables */

static void loop_carried(void **state)
{
    (void)state;
    const char *text = "kernel k(O: out f32[16], n: i32) grid (1)\n"
                       "{\n"
                       "    var total = 0.0;\n"
                       "    var count = 0;\n"
                       "    var untouched = 5;\n"
                       "    for i in 0 .. 10 {\n"
                       "        var local = f32(i);\n"
                       "        local = local * 2.0;\n"
                       "        total = total + local;\n"
                       "        for j in 0 .. i step 2 {\n"
                       "            count = count + 1;\n"
                       "        }\n"
                       "    }\n"
                       "    O[0] = total;\n"
                       "    O[1] = f32(count);\n"
                       "    O[2] = f32(untouched);\n"
                       "}\n";
    Checked c;
    TirFunc *f = ok_func(text, NULL, 0, &c);
    InstId fors[64];
    assert_int_equal(find_ops(f, TIR_FOR, fors), 2);
    TirInst *outer = tir_inst(f, fors[0]), *inner = tir_inst(f, fors[1]);
    /* the outer loop carries total and count (not untouched, not local) */
    assert_int_equal(outer->nres, 2);
    assert_int_equal(outer->nargs, 5);
    assert_int_equal(tir_block(f, outer->blocks[0])->args.len, 3);
    assert_type(f, outer->res[0], "f32");
    assert_type(f, outer->res[1], "i32");
    assert_int_equal(inner->nres, 1);
    assert_type(f, inner->res[0], "i32");
    checked_free(&c);
    /* total = 2 * (0 + ... + 9) = 90; count = sum over i of ceil(i / 2) = 25 */
    assert_float_equal(run_out("kernel k(O: out f32[16]) grid (1) {\n"
                               "var total = 0.0; var count = 0;\n"
                               "for i in 0 .. 10 { var local = f32(i); local = local * 2.0; total = total + local;\n"
                               "  for j in 0 .. i step 2 { count = count + 1; } }\n"
                               "O[0] = total; O[1] = f32(count); }\n",
                               NULL, 0, 0),
                       90, 0);
    assert_float_equal(run_out("kernel k(O: out f32[16]) grid (1) {\n"
                               "var count = 0;\n"
                               "for i in 0 .. 10 { for j in 0 .. i step 2 { count = count + 1; } }\n"
                               "O[1] = f32(count); }\n",
                               NULL, 0, 1),
                       25, 0);
    /* a loop that never runs leaves the variables as they were */
    assert_float_equal(run_out("kernel k(O: out f32[16]) grid (1) { var t = 7.0;\n"
                               "for i in 5 .. 2 { t = 0.0; } O[0] = t; }\n",
                               NULL, 0, 0),
                       7, 0);
    /* swapping through a loop: both values are read before either is written */
    assert_float_equal(run_out("kernel k(O: out f32[16]) grid (1) { var a = 1.0; var b = 2.0;\n"
                               "for i in 0 .. 3 { let t = a; a = b; b = t; } O[0] = a * 10.0 + b; }\n",
                               NULL, 0, 0),
                       21, 0);
    body_error("for i in 0 .. 4 step 0 { }", "the loop step must be positive, found 0");
    body_error("for i in 0 .. 4 step -1 { }", "the loop step must be positive, found -1");
    body_error("for i in 0 .. 4 step X[0] { }", "the loop step must be an integer scalar, found f32");
    /* run-time steps: 0, 3, 6, 9; a step of zero or less runs no iteration */
    assert_float_equal(run_out("kernel k(O: out f32[16]) grid (1) { var c = 0.0;\n"
                               "for i in 0 .. 10 step num_programs(0) + 2 { c = c + 1.0; } O[0] = c; }\n",
                               NULL, 0, 0),
                       4, 0);
    assert_float_equal(run_out("kernel k(O: out f32[16]) grid (1) { var c = 0.0;\n"
                               "for i in 0 .. 10 step num_programs(0) - 1 { c = c + 1.0; }\n"
                               "for i in 0 .. 10 step -num_programs(0) { c = c + 1.0; } O[0] = c; }\n",
                               NULL, 0, 0),
                       0, 0);
    body_error("for i in 0 .. 4 pipeline(0) { }", "the pipeline depth must be between 1 and 8, found 0");
    body_error("for i in 0 .. 4 pipeline(n) { }", "the pipeline depth must be a compile-time integer");
    body_error("for i in 0 .. 4.5 { }", "the float constant 4.5 cannot be used as i32");
    body_error("for i in 0 .. X[0] { }", "a tensor index must be an integer scalar, found f32");
    body_ok("for i in n .. N step 64 pipeline(8) { O[i : +64] = X[i : +64]; }");
}

static void if_merges(void **state)
{
    (void)state;
    const char *text = "kernel k(O: out f32[16], c: bool, d: bool) grid (1)\n"
                       "{\n"
                       "    var x = 1.0;\n"
                       "    var y = 2.0;\n"
                       "    var z = 3.0;\n"
                       "    if c {\n"
                       "        x = 10.0;\n"
                       "    } else if d {\n"
                       "        y = 20.0;\n"
                       "    }\n"
                       "    O[0] = x + y + z;\n"
                       "}\n";
    Checked c;
    TirFunc *f = ok_func(text, NULL, 0, &c);
    InstId ifs[64];
    assert_int_equal(find_ops(f, TIR_IF, ifs), 2);
    TirInst *outer = tir_inst(f, ifs[0]);
    assert_int_equal(outer->nres, 2); /* x and y, not z */
    assert_int_equal(tir_inst(f, ifs[1])->nres, 1); /* the else-if assigns only y */
    checked_free(&c);
    /* the merged values are the ones of the branch taken */
    const char *run = "kernel k(O: out f32[16]) grid (1)\n"
                      "{\n"
                      "    for i in 0 .. 3 {\n"
                      "        var x = 1.0;\n"
                      "        var y = 2.0;\n"
                      "        if i == 0 {\n"
                      "            x = 10.0;\n"
                      "        } else if i == 1 {\n"
                      "            y = 20.0;\n"
                      "        }\n"
                      "        O[i] = x + y;\n"
                      "    }\n"
                      "}\n";
    assert_float_equal(run_out(run, NULL, 0, 0), 12, 0);
    assert_float_equal(run_out(run, NULL, 0, 1), 21, 0);
    assert_float_equal(run_out(run, NULL, 0, 2), 3, 0);
    /* a variable declared in a branch stays there */
    body_error("if c { var w = 1; } OI[0] = w;", "unknown name 'w'");
    /* both branches must keep the variable's type */
    body_error("var t = zeros<f32>[16]; if c { t = zeros<f16>[16]; }", "cannot assign f16[16] to variable 't'");
}

/* ---------------------------------------------------------------- defines */

static void defines(void **state)
{
    (void)state;
    const char *text = "kernel k<T: type, D: int = 64, C: bool = false, S: float = 0.5, E: int = D * 2>(\n"
                       "    X: T[N, D], O: out f32[N, E]) grid (1)\n"
                       "{ O[0, 0] = S; }\n";
    /* defaults, and a later default computed from an earlier parameter */
    Define t16[1] = { { "T", "f16" } };
    Checked c;
    TirFunc *f = ok_func(text, t16, 1, &c);
    assert_int_equal(f->defines.len, 5);
    const char *want[5][2] = { { "T", "f16" }, { "D", "64" }, { "C", "false" }, { "S", "0.5" }, { "E", "128" } };
    for (int i = 0; i < 5; i++) {
        assert_string_equal(f->defines.data[i].name, want[i][0]);
        assert_string_equal(f->defines.data[i].value, want[i][1]);
    }
    assert_int_equal(f->params.data[1].dim_const[1], 128);
    checked_free(&c);
    /* -D overrides defaults; the last of two wins; bool takes 1/0; a float takes an int */
    Define more[6] = { { "T", "i32" }, { "D", "-5" }, { "D", "16" }, { "C", "1" }, { "S", "2" }, { "E", "8" } };
    f = ok_func(text, more, 6, &c);
    assert_string_equal(f->defines.data[1].value, "16");
    assert_string_equal(f->defines.data[2].value, "true");
    assert_string_equal(f->defines.data[3].value, "2");
    assert_int_equal(f->params.data[1].dim_const[1], 8);
    assert_int_equal(f->params.data[0].dt, DT_I32);
    checked_free(&c);
    /* bad values, missing values, unknown names */
    expect_error_defs(text, NULL, 0, "s.tsr:1:10: error: compile-time parameter 'T' of kernel 'k' needs a value (give -D T=...)");
    Define bad1[1] = { { "T", "f64" } };
    expect_error_defs(text, bad1, 1, "the value 'f64' given for 'T' is not a type (f16, bf16, f32, i32 or bool)");
    Define bad2[2] = { { "T", "f32" }, { "D", "0x10" } };
    expect_error_defs(text, bad2, 2, "the value '0x10' given for 'D' is not an int");
    Define bad3[2] = { { "T", "f32" }, { "D", "" } };
    expect_error_defs(text, bad3, 2, "the value '' given for 'D' is not an int");
    Define bad4[2] = { { "T", "f32" }, { "C", "yes" } };
    expect_error_defs(text, bad4, 2, "the value 'yes' given for 'C' is not a bool (true or false)");
    Define bad5[2] = { { "T", "f32" }, { "S", "nan" } };
    expect_error_defs(text, bad5, 2, "the value 'nan' given for 'S' is not a float");
    Define bad6[2] = { { "T", "f32" }, { "S", "1e999" } };
    expect_error_defs(text, bad6, 2, "the value '1e999' given for 'S' is out of range");
    Define bad7[2] = { { "T", "f32" }, { "D", "99999999999999999999" } };
    expect_error_defs(text, bad7, 2, "the value '99999999999999999999' given for 'D' is out of range");
    Define bad8[2] = { { "T", "f32" }, { "DD", "4" } };
    expect_error_defs(text, bad8, 2, "tessera: error: -D DD: no kernel being compiled has a compile-time parameter "
                                      "named 'DD'\n");
    Define neg[2] = { { "T", "f32" }, { "D", "-4" } };
    expect_error_defs(text, neg, 2, "a tensor dimension must be a name or a positive compile-time integer, found -4");
    Define inf[2] = { { "T", "f32" }, { "S", "inf" } };
    f = ok_func(text, inf, 2, &c);
    checked_free(&c);
    /* defaults are checked against the declared kind */
    expect_error("kernel k<D: int = 1.5>() grid (1) { }", "the default of 'D' must be an int, found a float constant");
    expect_error("kernel k<B: bool = 1>() grid (1) { }", "the default of 'B' must be a bool (true or false)");
    expect_error("kernel k<T: type = 4>() grid (1) { }", "the default of 'T' must be a type");
    expect_error("kernel k<D: int = E, E: int = 1>() grid (1) { }", "unknown name 'E'");
    expect_error("kernel k<D: int = 1, D: int = 2>() grid (1) { }", "'D' is already defined");
    /* a define applies to each kernel compiled that has the parameter */
    const char *two = "kernel a<D: int>(O: out f32[D]) grid (1) { }\n"
                      "kernel b<D: int, E: int = 2>(O: out f32[D]) grid (1) { }\n";
    Define d8[1] = { { "D", "8" } };
    c = check_defs(two, NULL, d8, 1);
    assert_non_null(c.m);
    assert_int_equal(c.m->funcs.len, 2);
    checked_free(&c);
    Define e4[2] = { { "D", "8" }, { "E", "4" } };
    c = check_defs(two, "a", e4, 2); /* E belongs to no kernel being compiled */
    assert_null(c.m);
    assert_non_null(strstr(c.diags, "-D E: no kernel being compiled has a compile-time parameter named 'E'"));
    checked_free(&c);
    c = check_defs(two, "b", e4, 2);
    assert_non_null(c.m);
    assert_int_equal(c.m->funcs.len, 1);
    assert_string_equal(c.m->funcs.data[0]->name, "b");
    checked_free(&c);
    c = check_defs(two, "c", d8, 1);
    assert_null(c.m);
    assert_non_null(strstr(c.diags, "no kernel named 'c' in s.tsr"));
    checked_free(&c);
}

/* ------------------------------------------------------ grid and warps */

static void grid_and_warps(void **state)
{
    (void)state;
    Checked c;
    TirFunc *f = ok_func("kernel k(X: f32[N], s: i32) grid (cdiv(N, 64) + s) { }", NULL, 0, &c);
    assert_int_equal(f->warps, 4); /* the default */
    for (int i = 1; i < 3; i++) {
        TirInst *g = tir_inst(f, tir_val(f, f->grid[i])->def);
        assert_int_equal(g->op, TIR_CONST);
        assert_int_equal(g->ival, 1);
    }
    checked_free(&c);
    f = ok_func("kernel k<W: int = 16>() grid (1, 2, 3) warps W { }", NULL, 0, &c);
    assert_int_equal(f->warps, 16);
    checked_free(&c);
    f = ok_func("kernel k() grid (1) warps 12 { }", NULL, 0, &c);
    assert_int_equal(f->warps, 12);
    checked_free(&c);
    static const char *const bad[] = { "0", "5", "9", "18", "32", "48", "-12" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char src[64], msg[96];
        snprintf(src, sizeof src, "kernel k() grid (1) warps %s { }", bad[i]);
        snprintf(msg, sizeof msg, "the number of warps must be 1, 2, 3, 4, 6, 8, 12, 16 or 24, found %s", bad[i]);
        expect_error(src, msg);
    }
    expect_error("kernel k(n: i32) grid (1) warps n { }", "the number of warps must be a compile-time integer");
    expect_error("kernel k() grid () { }", "the grid has 1 to 3 dimensions; kernel 'k' gives 0");
    expect_error("kernel k() grid (1, 1, 1, 1) { }", "the grid has 1 to 3 dimensions; kernel 'k' gives 4");
    expect_error("kernel k() grid (program_id(0)) { }", "'program_id' cannot be used in the grid");
    expect_error("kernel k() grid (num_programs(1)) { }", "'num_programs' cannot be used in the grid");
    expect_error("kernel k(A: i32[N]) grid (A[0]) { }", "tensors cannot be read in the grid");
    expect_error("kernel k(s: f32) grid (s) { }", "a grid size must be an i32 scalar, found f32");
    expect_error("kernel k() grid (reduce_sum(arange<4>(0))) { }",
                 "the grid is computed from scalars on the host; it cannot use a tile (here i32[4])");
    expect_error("kernel k() grid (1.5) { }", "the float constant 1.5 cannot be used as i32");
    expect_error("kernel k() grid (1) { let p = program_id(3); }", "the axis of 'program_id' must be 0, 1 or 2");
}

/* Everything sema accepts passes the verifier and the whole pipeline; the
 * statements it cannot give meaning to are errors. */
static void statements(void **state)
{
    (void)state;
    body_error("X[0] * 2.0;", "this expression has no effect");
    body_error("1 = 2;", "cannot assign to this expression");
    body_error("X[0] = 1.0;", "cannot store to 'X': it is an input; declare it 'out'");
    body_error("var t = X[0 : +16]; t[:] = 1.0;",
               "only tensor slices can be assigned to; tiles are values (assign the whole variable)");
    body_error("var v = f32;", "expected a value, found the type f32");
    body_error("O[0] = f32;", "expected a value, found the type f32");
    body_error("O[0] = exp(1.0, 2.0);", "'exp' takes 1 argument, found 2");
    body_error("O[0] = where(c, 1.0);", "'where' takes 3 arguments, found 2");
    body_error("O[0] = reduce_sum(X[0 : +16], 1);", "axis 1 is out of range for a tile of rank 1");
    body_error("O[0 : +16] = reduce_sum(M[0 : +16, :]);", "'reduce_sum' of a 2-D tile needs an axis");
    body_error("let z = zeros(4);", "'zeros' needs compile-time arguments: zeros<...>");
    body_error("let z = zeros<f32>;", "'zeros' needs a shape: zeros<T>[D0, D1]");
    body_error("let z = zeros<f32, f16>[4];", "'zeros' takes one type: zeros<T>[...]");
    body_error("let z = zeros<4>[4];", "expected a type, found an integer constant");
    body_error("let z = f32(1.0, 2.0);", "a conversion to f32 takes one argument");
    body_error("let z = rowsum(X[0 : +16]);", "'rowsum' needs a 2-D tile, found f32[16]");
    body_error("let z = arange<4>(1.5);", "the float constant 1.5 cannot be used as i32");
    body_error("let z = arange<5>(0);", "tile dimension 5 is neither a power of two nor a multiple of 16");
    body_error("let z = rowsum(zeros<bool>[4, 4]);", "'rowsum' is not defined on bool tiles");
    body_ok("let a = transpose(M[0 : +16, 0 : +32]); OM[0 : +32, 0 : +16] = a;");
    body_ok("OM[0 : +16, 0 : +16] = where(M[0 : +16, 0 : +16] > 0.0, M[0 : +16, 0 : +16], -inf);");
    body_ok("O[0 : +16] = colmax(M[0 : +64, 0 : +16]) + colmin(M[0 : +64, 0 : +16]) + colsum(M[0 : +64, 0 : +16]);");
    body_ok("OI[0 : +4] = reduce_max(ones<i32>[4, 8], 1) + reduce_min(arange<4>(n));");
    body_ok("O[0] = log(s) + log2(s) + exp(s) + rsqrt(s) + sqrt(abs(s)) - s;");
    body_ok("OI[0] = num_programs(2) + program_id(1);");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(dtypes),
        cmocka_unit_test(broadcasting),
        cmocka_unit_test(tile_shapes),
        cmocka_unit_test(symbolic_dims),
        cmocka_unit_test(compile_time_branches),
        cmocka_unit_test(folding),
        cmocka_unit_test(loop_carried),
        cmocka_unit_test(if_merges),
        cmocka_unit_test(defines),
        cmocka_unit_test(grid_and_warps),
        cmocka_unit_test(statements),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
