/* The parser (frontend/parser.c): precedence and associativity, generics,
 * slices, statements, kernel headers, error recovery that reports several
 * errors, and the nesting limit that keeps later recursive stages safe. The
 * AST is checked through its printed form (`--emit ast`). */
#include "ast.h"
#include "testutil.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef struct {
    char *ast;   /* printed AST, when there were no errors */
    char *diags; /* the diagnostics */
    int nerrors;
    int nkernels;
} Parsed;

static Parsed parse(const char *text)
{
    Source src = { "p.tsr", text, strlen(text) };
    Diag diag;
    diag_init(&diag, &src);
    diag.max_errors = 100;
    Arena arena;
    arena_init(&arena);
    AstProgram *prog = parse_program(&arena, &src, &diag);
    Parsed r = { 0 };
    StrBuf out;
    sb_init(&out);
    if (diag.nerrors == 0)
        ast_print(&out, prog);
    r.ast = sb_take(&out);
    r.diags = sb_take(&diag.out);
    r.nerrors = diag.nerrors;
    r.nkernels = prog->kernels.len;
    arena_free(&arena);
    diag_free(&diag);
    return r;
}

static void parsed_free(Parsed *p)
{
    free(p->ast);
    free(p->diags);
}

/* The AST of one expression, as `let x = EXPR;` in a kernel. */
static char *expr_ast(const char *expr)
{
    char text[4096];
    snprintf(text, sizeof text, "kernel k() grid (1) {\n let x = %s;\n}\n", expr);
    Parsed p = parse(text);
    if (p.nerrors)
        fail_msg("'%s' does not parse:\n%s", expr, p.diags);
    const char *at = strstr(p.ast, "(let x ");
    assert_non_null(at);
    at += strlen("(let x ");
    /* up to the ')' that closes the let */
    const char *end = at;
    for (int depth = 0; *end && !(*end == ')' && depth == 0); end++)
        depth += *end == '(' ? 1 : *end == ')' ? -1 : 0;
    char *r = strndup(at, (size_t)(end - at));
    parsed_free(&p);
    return r;
}

static void expect_expr(const char *expr, const char *ast)
{
    char *got = expr_ast(expr);
    if (strcmp(got, ast) != 0)
        fail_msg("%s\n  expected %s\n  got      %s", expr, ast, got);
    free(got);
}

/* Parses text, expecting errors; returns the diagnostics. */
static Parsed expect_errors(const char *text, int nerrors)
{
    Parsed p = parse(text);
    if (p.nerrors != nerrors)
        fail_msg("expected %d errors, got %d:\n%s", nerrors, p.nerrors, p.diags);
    return p;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("'%s' not found in:\n%s", needle, hay);
}

static void precedence(void **state)
{
    (void)state;
    expect_expr("a + b * c", "(+ a (* b c))");
    expect_expr("a * b + c", "(+ (* a b) c)");
    expect_expr("a - b - c", "(- (- a b) c)");
    expect_expr("a / b % c * d", "(* (% (/ a b) c) d)");
    expect_expr("(a + b) * c", "(* (+ a b) c)");
    expect_expr("a < b + 1", "(< a (+ b 1))");
    expect_expr("a == b < c", "(== a (< b c))");
    expect_expr("a != b == c", "(== (!= a b) c)");
    expect_expr("a && b == c", "(&& a (== b c))");
    expect_expr("a || b && c", "(|| a (&& b c))");
    expect_expr("a && b || c && d", "(|| (&& a b) (&& c d))");
    expect_expr("-a * b", "(* (- a) b)");
    expect_expr("- -a", "(- (- a))");
    expect_expr("+a", "a");
    expect_expr("!a && !b", "(&& (! a) (! b))");
    expect_expr("-x[i]", "(- (index x i))");
    expect_expr("a >= b && c <= d", "(&& (>= a b) (<= c d))");
    expect_expr("a > b ? c : d", "(? (> a b) c d)");
    expect_expr("a ? b : c ? d : e", "(? a b (? c d e))");
    expect_expr("a ? b ? c : d : e", "(? a (? b c d) e)");
    expect_expr("1 + 2.5e3 * -inf", "(+ 1 (* 2500.0 (- inf)))");
    expect_expr("true && false", "(&& true false)");
}

static void literals(void **state)
{
    (void)state;
    expect_expr("0x10", "16");
    expect_expr("9223372036854775807", "9223372036854775807");
    expect_expr("6.0", "6.0");
    expect_expr("0.1", "0.1");
    expect_expr("1e30", "1e+30");
    expect_expr("inf", "inf");
    Parsed p = expect_errors("kernel k() grid (1) { let x = 9223372036854775808; }", 1);
    assert_contains(p.diags, "p.tsr:1:31: error: integer literal is too large");
    parsed_free(&p);
    p = expect_errors("kernel k() grid (1) { let x = 1e400; }", 1);
    assert_contains(p.diags, "float literal is too large");
    parsed_free(&p);
}

static void calls_and_generics(void **state)
{
    (void)state;
    expect_expr("zeros<f32>[BM, D]", "(call zeros (targs f32) (shape BM D))");
    expect_expr("ones<T>[16]", "(call ones (targs T) (shape 16))");
    expect_expr("full<f16>[BM, 2 * BN](-inf)", "(call full (targs f16) (shape BM (* 2 BN)) (- inf))");
    expect_expr("arange<BN>(n)", "(call arange (targs BN) n)");
    expect_expr("arange<64>", "(call arange (targs 64))");
    /* '<' after a name that is not a generic built-in is a comparison */
    expect_expr("zero < f(x)", "(< zero (call f x))");
    expect_expr("a<b>(c)", "(> (< a b) c)");
    expect_expr("f()", "(call f)");
    expect_expr("min(a, b,)", "(call min a b)");
    expect_expr("dot(q, transpose(k))", "(call dot q (call transpose k))");
    expect_expr("f32(x)", "(call f32 x)");
    expect_expr("T(acc / l[:, None])", "(call T (/ acc (index l : None)))");
    expect_expr("program_id(0) * BM", "(* (call program_id 0) BM)");
}

static void slices(void **state)
{
    (void)state;
    expect_expr("A[i : +L]", "(index A (slice i +L))");
    expect_expr("Q[b, h, m * BM : +BM, :]", "(index Q b h (slice (* m BM) +BM) :)");
    expect_expr("x[:, None]", "(index x : None)");
    expect_expr("x[None, :]", "(index x None :)");
    expect_expr("A[i : +2 * L]", "(index A (slice i +(* 2 L)))");
    expect_expr("A[c ? 0 : 1 : +4]", "(index A (slice (? c 0 1) +4))");
    expect_expr("A[i][j]", "(index (index A i) j)");
    expect_expr("A[]", "(index A)");
    Parsed p = expect_errors("kernel k() grid (1) { let x = A[i : 4]; }", 1);
    assert_contains(p.diags, "p.tsr:1:35: error: a slice is written START : +LENGTH");
    parsed_free(&p);
    p = expect_errors("kernel k() grid (1) { let x = A[: +4]; }", 1);
    assert_contains(p.diags, "error: a slice needs a start");
    parsed_free(&p);
}

static void statements(void **state)
{
    (void)state;
    Parsed p = parse("kernel k(A: f32[N]) grid (1)\n"
                     "{\n"
                     "    var s = 0;\n"
                     "    for i in 0 .. N step 4 pipeline(2) { s = s + i; }\n"
                     "    for j in a .. b { }\n"
                     "    if c { s = 1; } else if d { s = 2; } else if e { } else { s = 3; }\n"
                     "    if f { }\n"
                     "    { let t = s; }\n"
                     "    A[0] = f32(s);\n"
                     "    g(s);\n"
                     "}\n");
    assert_int_equal(p.nerrors, 0);
    assert_string_equal(p.ast, "(kernel k\n"
                               "  (cparams)\n"
                               "  (params (A f32 [N]))\n"
                               "  (grid 1)\n"
                               "  (block\n"
                               "    (var s 0)\n"
                               "    (for i 0 N (step 4) (pipeline 2)\n"
                               "      (block\n"
                               "        (= s (+ s i))))\n"
                               "    (for j a b\n"
                               "      (block))\n"
                               "    (if c\n"
                               "      (block\n"
                               "        (= s 1))\n"
                               "      (if d\n"
                               "        (block\n"
                               "          (= s 2))\n"
                               "        (if e\n"
                               "          (block)\n"
                               "          (block\n"
                               "            (= s 3)))))\n"
                               "    (if f\n"
                               "      (block))\n"
                               "    (block\n"
                               "      (let t s))\n"
                               "    (= (index A 0) (call f32 s))\n"
                               "    (expr (call g s))))\n");
    parsed_free(&p);
}

static void kernel_headers(void **state)
{
    (void)state;
    Parsed p = parse("kernel a<T: type, D: int = 64, C: bool = false, S: float = 0.5>(\n"
                     "    Q: T[B, H, S, D], O: out f32[B, 2 * D], scale: f32, n: i32)\n"
                     "  grid (cdiv(S, 64), H, B) warps 8\n"
                     "{ }\n"
                     "kernel b() grid (1, 2,) { }\n");
    assert_int_equal(p.nerrors, 0);
    assert_int_equal(p.nkernels, 2);
    assert_string_equal(p.ast, "(kernel a\n"
                               "  (cparams (T type) (D int = 64) (C bool = false) (S float = 0.5))\n"
                               "  (params (Q T [B H S D]) (O out f32 [B (* 2 D)]) (scale f32) (n i32))\n"
                               "  (grid (call cdiv S 64) H B)\n"
                               "  (warps 8)\n"
                               "  (block))\n"
                               "(kernel b\n"
                               "  (cparams)\n"
                               "  (params)\n"
                               "  (grid 1 2)\n"
                               "  (block))\n");
    parsed_free(&p);
}

static void missing_semicolon_points_after_statement(void **state)
{
    (void)state;
    Parsed p = expect_errors("kernel k() grid (1)\n{\n    let a = 1\n    let b = 2;\n    a = b\n}\n", 2);
    assert_string_equal(p.diags, "p.tsr:3:14: error: expected ';' at the end of the statement\n"
                                 "    let a = 1\n"
                                 "             ^\n"
                                 "p.tsr:5:10: error: expected ';' at the end of the statement\n"
                                 "    a = b\n"
                                 "         ^\n");
    parsed_free(&p);
}

/* One run reports each independent mistake, statement by statement and
 * kernel by kernel, without cascades. */
static void recovery_reports_several_errors(void **state)
{
    (void)state;
    Parsed p = expect_errors("kernel k() grid (1)\n"
                             "{\n"
                             "    let = 1;\n"            /* 3: no name */
                             "    let b = (1 + ;\n"      /* 4: no operand */
                             "    for i 0 .. 4 { }\n"    /* 5: no 'in' */
                             "    let c = 1;\n"
                             "    if c { let d = ; }\n"  /* 7: inside a nested block */
                             "    c = c +* 2;\n"         /* 8 */
                             "}\n"
                             "kernel m<N: size>() grid (1) { }\n" /* 10: bad header */
                             "kernel n() grid (1) { let e = @; }\n", /* 11: lexer error */
                             7);
    const char *lines[] = { "p.tsr:3:9:", "p.tsr:4:18:", "p.tsr:5:11:", "p.tsr:7:20:", "p.tsr:8:12:",
                            "p.tsr:10:13:", "p.tsr:11:31:" };
    const char *at = p.diags;
    for (size_t i = 0; i < TSR_ARRAY_LEN(lines); i++) {
        at = strstr(at, lines[i]);
        if (!at)
            fail_msg("no error at %s in order:\n%s", lines[i], p.diags);
    }
    parsed_free(&p);
}

static void bracket_notes(void **state)
{
    (void)state;
    Parsed p = expect_errors("kernel k() grid (1)\n{\n    let x = f(1, (2 + 3;\n}\n", 1);
    assert_string_equal(p.diags, "p.tsr:3:24: error: expected ')', found ';'\n"
                                 "    let x = f(1, (2 + 3;\n"
                                 "                       ^\n"
                                 "p.tsr:3:18: note: to match this '('\n"
                                 "    let x = f(1, (2 + 3;\n"
                                 "                 ^\n");
    parsed_free(&p);
    /* a block left open at the end of the file: one error, not one per block */
    p = expect_errors("kernel k() grid (1)\n{\n    for i in 0 .. 4 {\n        if c {\n", 1);
    assert_contains(p.diags, "p.tsr:5:1: error: expected '}', found end of file");
    assert_contains(p.diags, "p.tsr:4:14: note: to match this '{'");
    parsed_free(&p);
}

static void top_level_errors(void **state)
{
    (void)state;
    Parsed p = expect_errors("", 1);
    assert_contains(p.diags, "error: no kernel in this file");
    parsed_free(&p);
    p = expect_errors("// only a comment\n", 1);
    assert_contains(p.diags, "error: no kernel in this file");
    parsed_free(&p);
    p = expect_errors("let x = 1;\nkernel k() grid (1) { }\n", 1);
    assert_contains(p.diags, "p.tsr:1:1: error: expected 'kernel', found 'let'");
    assert_int_equal(p.nkernels, 1); /* the kernel after the error is still parsed */
    parsed_free(&p);
    p = expect_errors("kernel", 1);
    assert_contains(p.diags, "expected a kernel name, found end of file");
    parsed_free(&p);
    p = expect_errors("kernel k()\n{ }\n", 1);
    assert_contains(p.diags, "p.tsr:2:1: error: expected 'grid', found '{'");
    parsed_free(&p);
    p = expect_errors("kernel k() grid (1) warps\n{ }\n", 1);
    assert_contains(p.diags, "p.tsr:1:26: error: expected the number of warps after 'warps'");
    parsed_free(&p);
    p = expect_errors("kernel k(x: out) grid (1) { }", 1);
    assert_contains(p.diags, "expected a type, found ')'");
    parsed_free(&p);
    p = expect_errors("kernel k(x f32) grid (1) { }", 1);
    assert_contains(p.diags, "expected ':', found 'f32'");
    parsed_free(&p);
}

static char *repeat(const char *head, const char *unit, int n, const char *tail)
{
    StrBuf sb;
    sb_init(&sb);
    sb_puts(&sb, head);
    for (int i = 0; i < n; i++)
        sb_puts(&sb, unit);
    sb_puts(&sb, tail);
    return sb_take(&sb);
}

static void expect_too_deep(const char *text)
{
    Parsed p = parse(text);
    if (p.nerrors < 1 || !strstr(p.diags, "nested too deeply"))
        fail_msg("no nesting error for a program of %zu bytes:\n%.300s", strlen(text), p.diags);
    parsed_free(&p);
    free((char *)text);
}

/* Deep nesting is an error, not a stack overflow here or in the recursive
 * stages after the parser: every way of nesting counts. */
static void nesting_limit(void **state)
{
    (void)state;
    /* 190 parentheses are fine, and the AST of that depth prints */
    char *ok = repeat("kernel k() grid (1) { let x = ", "(", 190, "1");
    char *ok2 = repeat(ok, ")", 190, "; }");
    Parsed p = parse(ok2);
    assert_int_equal(p.nerrors, 0);
    parsed_free(&p);
    free(ok);
    free(ok2);
    char *open = repeat("kernel k() grid (1) { let x = ", "(", 100000, "1");
    expect_too_deep(open);
    expect_too_deep(repeat("kernel k() grid (1) { let x = 1", " + 1", 100000, "; }"));
    expect_too_deep(repeat("kernel k() grid (1) { let x = 1", " && 1", 100000, "; }"));
    expect_too_deep(repeat("kernel k() grid (1) { let x = ", "-", 100000, "1; }"));
    expect_too_deep(repeat("kernel k() grid (1) { let x = ", "!", 100000, "1; }"));
    expect_too_deep(repeat("kernel k() grid (1) { let x = a", "[0]", 100000, "; }"));
    expect_too_deep(repeat("kernel k() grid (1) { let x = ", "f(", 100000, "1"));
    expect_too_deep(repeat("kernel k() grid (1) { let x = ", "zeros<", 100000, ""));
    expect_too_deep(repeat("kernel k() grid (1) { let x = ", "zeros<f32>[", 100000, ""));
    expect_too_deep(repeat("kernel k() grid (1) { let x = ", "c ? 1 : ", 100000, "1; }"));
    expect_too_deep(repeat("kernel k() grid (1) ", "{", 100000, ""));
    expect_too_deep(repeat("kernel k() grid (1) { ", "if c { ", 100000, ""));
    expect_too_deep(repeat("kernel k() grid (1) { ", "for i in 0 .. 1 { ", 100000, ""));
    expect_too_deep(repeat("kernel k() grid (1) { if c { } ", "else if c { } ", 100000, ""));
    expect_too_deep(repeat("kernel k(A: f32[", "(", 100000, ""));
    expect_too_deep(repeat("kernel k<N: int = ", "(", 100000, ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(precedence),
        cmocka_unit_test(literals),
        cmocka_unit_test(calls_and_generics),
        cmocka_unit_test(slices),
        cmocka_unit_test(statements),
        cmocka_unit_test(kernel_headers),
        cmocka_unit_test(missing_semicolon_points_after_statement),
        cmocka_unit_test(recovery_reports_several_errors),
        cmocka_unit_test(bracket_notes),
        cmocka_unit_test(top_level_errors),
        cmocka_unit_test(nesting_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
