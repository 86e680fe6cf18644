/* The lexer (frontend/lexer.re): every token kind, positions (also after
 * multi-line comments), and error tokens for everything it must not accept,
 * after which it goes on lexing. */
#include "ast.h"
#include "testutil.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Lexes text (of length len, with a NUL after it) to the end. */
typedef struct {
    Token toks[256];
    int n;
    Source src;
} Lexed;

static void lex_n(Lexed *l, const char *text, size_t len)
{
    l->src.name = "t.tsr";
    l->src.text = text;
    l->src.len = len;
    Lexer lx;
    lexer_init(&lx, &l->src);
    l->n = 0;
    for (;;) {
        assert_true(l->n < 256);
        Token t = lexer_next(&lx);
        l->toks[l->n++] = t;
        if (t.kind == TK_EOF)
            break;
    }
}

static void lex(Lexed *l, const char *text) { lex_n(l, text, strlen(text)); }

static char *message(const Token *t)
{
    StrBuf sb;
    sb_init(&sb);
    tok_error_message(t, &sb);
    return sb_take(&sb);
}

static void assert_tok(const Token *t, TokKind kind, const char *text, int line, int col)
{
    if (t->kind != kind)
        fail_msg("expected %s, got %s ('%.*s')", tok_kind_ident(kind), tok_kind_ident(t->kind), t->len, t->start);
    if (text) {
        assert_int_equal(t->len, (int)strlen(text));
        assert_memory_equal(t->start, text, strlen(text));
    }
    if (line) {
        assert_int_equal(t->pos.line, line);
        assert_int_equal(t->pos.col, col);
    }
}

static void assert_error(const Token *t, const char *text, const char *msg)
{
    assert_tok(t, TK_ERROR, text, 0, 0);
    char *m = message(t);
    assert_string_equal(m, msg);
    free(m);
}

/* Every kind but EOF and ERROR, spelled. */
static const struct {
    TokKind kind;
    const char *text;
} spellings[] = {
    { TK_IDENT, "name_1" },      { TK_INT, "42" },          { TK_FLOAT, "2.5e-3" },       { TK_KW_KERNEL, "kernel" },
    { TK_KW_LET, "let" },        { TK_KW_VAR, "var" },      { TK_KW_FOR, "for" },         { TK_KW_IN, "in" },
    { TK_KW_STEP, "step" },      { TK_KW_PIPELINE, "pipeline" }, { TK_KW_IF, "if" },      { TK_KW_ELSE, "else" },
    { TK_KW_GRID, "grid" },      { TK_KW_WARPS, "warps" },  { TK_KW_OUT, "out" },         { TK_KW_TRUE, "true" },
    { TK_KW_FALSE, "false" },    { TK_KW_INF, "inf" },      { TK_KW_NONE, "None" },       { TK_KW_TYPE, "type" },
    { TK_KW_INT, "int" },        { TK_KW_FLOAT, "float" },  { TK_KW_F16, "f16" },         { TK_KW_BF16, "bf16" },
    { TK_KW_F32, "f32" },        { TK_KW_I32, "i32" },      { TK_KW_BOOL, "bool" },       { TK_LPAREN, "(" },
    { TK_RPAREN, ")" },          { TK_LBRACK, "[" },        { TK_RBRACK, "]" },           { TK_LBRACE, "{" },
    { TK_RBRACE, "}" },          { TK_COMMA, "," },         { TK_SEMI, ";" },             { TK_COLON, ":" },
    { TK_DOTDOT, ".." },         { TK_QUESTION, "?" },      { TK_PLUS, "+" },             { TK_MINUS, "-" },
    { TK_STAR, "*" },            { TK_SLASH, "/" },         { TK_PERCENT, "%" },          { TK_BANG, "!" },
    { TK_ASSIGN, "=" },          { TK_EQ, "==" },           { TK_NE, "!=" },              { TK_LT, "<" },
    { TK_LE, "<=" },             { TK_GT, ">" },            { TK_GE, ">=" },              { TK_ANDAND, "&&" },
    { TK_OROR, "||" },           { TK_KW_I8, "i8" },        { TK_KW_U8, "u8" },           { TK_KW_U32, "u32" },
    { TK_KW_I64, "i64" },        { TK_AMP, "&" },           { TK_PIPE, "|" },             { TK_CARET, "^" },
    { TK_TILDE, "~" },           { TK_SHL, "<<" },          { TK_SHR, ">>" },             { TK_KW_WHILE, "while" },
    { TK_KW_BREAK, "break" },    { TK_KW_CONTINUE, "continue" }, { TK_KW_RETURN, "return" },
    { TK_STRING, "\"x = 1% ok\"" }, { TK_KW_E4M3, "e4m3" },    { TK_KW_E5M2, "e5m2" },
};

static void every_token_kind(void **state)
{
    (void)state;
    bool seen[TK_COUNT] = { false };
    for (size_t i = 0; i < TSR_ARRAY_LEN(spellings); i++) {
        Lexed l;
        lex(&l, spellings[i].text);
        assert_int_equal(l.n, 2);
        assert_tok(&l.toks[0], spellings[i].kind, spellings[i].text, 1, 1);
        assert_tok(&l.toks[1], TK_EOF, "", 1, (int)strlen(spellings[i].text) + 1);
        seen[spellings[i].kind] = true;
    }
    for (int k = 0; k < TK_COUNT; k++)
        if (k != TK_EOF && k != TK_ERROR && !seen[k])
            fail_msg("no test for token kind %s", tok_kind_ident((TokKind)k));
    /* All in one stream, separated by spaces, keep their positions. */
    StrBuf sb;
    sb_init(&sb);
    for (size_t i = 0; i < TSR_ARRAY_LEN(spellings); i++)
        sb_printf(&sb, "%s ", spellings[i].text);
    Lexed l;
    lex(&l, sb.data);
    assert_int_equal(l.n, (int)TSR_ARRAY_LEN(spellings) + 1);
    int col = 1;
    for (size_t i = 0; i < TSR_ARRAY_LEN(spellings); i++) {
        assert_tok(&l.toks[i], spellings[i].kind, spellings[i].text, 1, col);
        assert_int_equal(l.toks[i].pos.off, col - 1);
        col += (int)strlen(spellings[i].text) + 1;
    }
    sb_free(&sb);
}

static void kind_names(void **state)
{
    (void)state;
    for (int k = 0; k < TK_COUNT; k++) {
        assert_non_null(tok_kind_name((TokKind)k));
        assert_string_not_equal(tok_kind_name((TokKind)k), "?");
        for (int j = 0; j < k; j++)
            assert_string_not_equal(tok_kind_ident((TokKind)k), tok_kind_ident((TokKind)j));
    }
    assert_string_equal(tok_kind_name(TK_LPAREN), "'('");
    assert_string_equal(tok_kind_ident(TK_KW_PIPELINE), "KW_PIPELINE");
    assert_string_equal(tok_kind_name(TK_COUNT), "?");
}

/* Keywords are whole words; longest match everywhere. */
static void longest_match(void **state)
{
    (void)state;
    Lexed l;
    lex(&l, "kernels letx in_ f32x _if None1 none");
    for (int i = 0; i < 7; i++)
        assert_tok(&l.toks[i], TK_IDENT, NULL, 0, 0);
    lex(&l, "0..n 1..2 a<=b a<b a==b a=b !a != &&||");
    TokKind want[] = { TK_INT, TK_DOTDOT, TK_IDENT, TK_INT, TK_DOTDOT, TK_INT, TK_IDENT, TK_LE, TK_IDENT,
                       TK_IDENT, TK_LT, TK_IDENT, TK_IDENT, TK_EQ, TK_IDENT, TK_IDENT, TK_ASSIGN, TK_IDENT,
                       TK_BANG, TK_IDENT, TK_NE, TK_ANDAND, TK_OROR, TK_EOF };
    assert_int_equal(l.n, (int)TSR_ARRAY_LEN(want));
    for (size_t i = 0; i < TSR_ARRAY_LEN(want); i++)
        assert_tok(&l.toks[i], want[i], NULL, 0, 0);
    /* '<<' and '>>' over '<' and '>'; '&&' over '&'; u32x and i8_ are names */
    lex(&l, "a<<b>>c>=d &&& ||| u32x i8_");
    TokKind want2[] = { TK_IDENT, TK_SHL, TK_IDENT, TK_SHR, TK_IDENT, TK_GE, TK_IDENT, TK_ANDAND, TK_AMP,
                        TK_OROR, TK_PIPE, TK_IDENT, TK_IDENT, TK_EOF };
    assert_int_equal(l.n, (int)TSR_ARRAY_LEN(want2));
    for (size_t i = 0; i < TSR_ARRAY_LEN(want2); i++)
        assert_tok(&l.toks[i], want2[i], NULL, 0, 0);
}

static void numbers(void **state)
{
    (void)state;
    const char *ints[] = { "0", "7", "0x1F", "0XaB", "9223372036854775807", "007" };
    for (size_t i = 0; i < TSR_ARRAY_LEN(ints); i++) {
        Lexed l;
        lex(&l, ints[i]);
        assert_tok(&l.toks[0], TK_INT, ints[i], 1, 1);
        assert_int_equal(l.n, 2);
    }
    const char *floats[] = { "1.0", "0.5", "2.5e-3", "1e5", "3E+2", "10.25E7" };
    for (size_t i = 0; i < TSR_ARRAY_LEN(floats); i++) {
        Lexed l;
        lex(&l, floats[i]);
        assert_tok(&l.toks[0], TK_FLOAT, floats[i], 1, 1);
        assert_int_equal(l.n, 2);
    }
}

static void bad_numbers(void **state)
{
    (void)state;
    const struct {
        const char *text, *bad, *msg;
        TokKind next;
    } cases[] = {
        { "12ab", "12ab", "invalid number '12ab'", TK_EOF },
        { "1u", "1u", "invalid number '1u'", TK_EOF },
        { "1.5f", "1.5f", "invalid number '1.5f'", TK_EOF },
        { "1e5x", "1e5x", "invalid number '1e5x'", TK_EOF },
        { "1e", "1e", "invalid number '1e'", TK_EOF },
        { "0x1g", "0x1g", "invalid number '0x1g'", TK_EOF },
        { "0xg", "0xg", "invalid number '0xg'", TK_EOF },
        { "0x", "0x", "hexadecimal literal has no digits", TK_EOF },
        { "0x;", "0x", "hexadecimal literal has no digits", TK_SEMI },
        { "1.", "1.", "a float literal needs digits after the '.' (write 1.0, not 1.)", TK_EOF },
        { "1.;", "1.", "a float literal needs digits after the '.' (write 1.0, not 1.)", TK_SEMI },
        { "1.e5", "1.", "a float literal needs digits after the '.' (write 1.0, not 1.)", TK_IDENT },
        { ".5", ".5", "a float literal needs a digit before the '.' (write 0.5, not .5)", TK_EOF },
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++) {
        Lexed l;
        lex(&l, cases[i].text);
        assert_error(&l.toks[0], cases[i].bad, cases[i].msg);
        assert_tok(&l.toks[1], cases[i].next, NULL, 0, 0);
    }
}

static void positions_and_comments(void **state)
{
    (void)state;
    const char *text = "a // line comment\n"
                       "  b /* one\n"
                       "two\n"
                       "three */ c\n"
                       "\td /**/e/* x */f\r\n"
                       "// last line, no newline";
    Lexed l;
    lex(&l, text);
    assert_int_equal(l.n, 7);
    assert_tok(&l.toks[0], TK_IDENT, "a", 1, 1);
    assert_tok(&l.toks[1], TK_IDENT, "b", 2, 3);
    assert_tok(&l.toks[2], TK_IDENT, "c", 4, 10);
    assert_tok(&l.toks[3], TK_IDENT, "d", 5, 2); /* a tab is one column */
    assert_tok(&l.toks[4], TK_IDENT, "e", 5, 8);
    assert_tok(&l.toks[5], TK_IDENT, "f", 5, 16);
    assert_tok(&l.toks[6], TK_EOF, "", 6, 25);
    assert_int_equal(l.toks[2].pos.off, (int)(strstr(text, " c\n") + 1 - text));
    assert_int_equal(l.toks[6].pos.off, (int)strlen(text));
}

static void eof_repeats(void **state)
{
    (void)state;
    Source src = { "t.tsr", "x", 1 };
    Lexer lx;
    lexer_init(&lx, &src);
    assert_tok(&(Token){ 0 }, TK_EOF, NULL, 0, 0);
    Token t = lexer_next(&lx);
    assert_int_equal(t.kind, TK_IDENT);
    for (int i = 0; i < 3; i++) {
        t = lexer_next(&lx);
        assert_int_equal(t.kind, TK_EOF);
        assert_int_equal(t.pos.off, 1);
    }
    Source empty = { "e.tsr", "", 0 };
    lexer_init(&lx, &empty);
    t = lexer_next(&lx);
    assert_tok(&t, TK_EOF, "", 1, 1);
}

static void unexpected_characters(void **state)
{
    (void)state;
    Lexed l;
    lex(&l, "a @ b $\x01 #");
    assert_tok(&l.toks[0], TK_IDENT, "a", 1, 1);
    assert_error(&l.toks[1], "@", "unexpected character '@'");
    assert_int_equal(l.toks[1].pos.col, 3);
    assert_tok(&l.toks[2], TK_IDENT, "b", 1, 5);
    assert_error(&l.toks[3], "$", "unexpected character '$'");
    assert_error(&l.toks[4], "\x01", "unexpected character (byte 0x01)");
    assert_error(&l.toks[5], "#", "unexpected character '#'");
    assert_tok(&l.toks[6], TK_EOF, NULL, 0, 0);
    lex(&l, "x.y");
    assert_error(&l.toks[1], ".", "unexpected character '.'");
}

static void unterminated_comment(void **state)
{
    (void)state;
    Lexed l;
    lex(&l, "a\n  /* never\nclosed\n");
    assert_tok(&l.toks[0], TK_IDENT, "a", 1, 1);
    assert_error(&l.toks[1], "/*", "unterminated comment");
    /* reported where it opens, not where the file ends */
    assert_int_equal(l.toks[1].pos.line, 2);
    assert_int_equal(l.toks[1].pos.col, 3);
    assert_tok(&l.toks[2], TK_EOF, NULL, 0, 0);
    lex(&l, "/*/");
    assert_error(&l.toks[0], "/*", "unterminated comment");
    lex(&l, "/**/x");
    assert_tok(&l.toks[0], TK_IDENT, "x", 1, 5);
}

/* A string ends on its line, with no escapes: else an error at its
 * opening quote, and lexing goes on after the line. */
static void strings(void **state)
{
    (void)state;
    Lexed l;
    lex(&l, "f(\"a b\", \"\")");
    assert_tok(&l.toks[2], TK_STRING, "\"a b\"", 1, 3);
    assert_tok(&l.toks[4], TK_STRING, "\"\"", 1, 10);
    lex(&l, "\"open\nx");
    assert_int_equal(l.toks[0].kind, TK_ERROR);
    assert_int_equal(l.toks[0].pos.col, 1);
    assert_tok(&l.toks[1], TK_IDENT, "x", 2, 1);
    lex(&l, "\"a\\\"b\"");
    assert_int_equal(l.toks[0].kind, TK_ERROR);
    char *m = message(&l.toks[0]);
    assert_non_null(strstr(m, "unterminated string"));
    free(m);
}

static void nul_bytes(void **state)
{
    (void)state;
    Lexed l;
    lex_n(&l, "a\0b", 3);
    assert_tok(&l.toks[0], TK_IDENT, "a", 1, 1);
    assert_error(&l.toks[1], NULL, "NUL character in source");
    assert_int_equal(l.toks[1].pos.col, 2);
    assert_tok(&l.toks[2], TK_IDENT, "b", 1, 3);
    assert_tok(&l.toks[3], TK_EOF, NULL, 0, 0);
    /* in comments too: the file is not text past a NUL */
    lex_n(&l, "// x\0y\nz", 8);
    assert_error(&l.toks[0], NULL, "NUL character in source");
    assert_tok(&l.toks[1], TK_IDENT, "y", 1, 6);
    assert_tok(&l.toks[2], TK_IDENT, "z", 2, 1);
    lex_n(&l, "/* a\nb\0c */ d", 13);
    assert_error(&l.toks[0], NULL, "NUL character in source");
    assert_int_equal(l.toks[0].pos.line, 2);
    assert_int_equal(l.toks[0].pos.col, 2);
    assert_tok(&l.toks[1], TK_IDENT, "d", 2, 8);
    /* the terminating NUL is the end, not an error */
    lex_n(&l, "a", 1);
    assert_int_equal(l.n, 2);
}

static void non_ascii(void **state)
{
    (void)state;
    Lexed l;
    lex(&l, "x \xce\xb1\xce\xb2 y // caf\xc3\xa9\n/* \xe2\x80\x94 */ z");
    assert_tok(&l.toks[0], TK_IDENT, "x", 1, 1);
    assert_error(&l.toks[1], "\xce\xb1\xce\xb2", "non-ASCII character outside a comment");
    assert_int_equal(l.toks[1].pos.col, 3);
    assert_tok(&l.toks[2], TK_IDENT, "y", 1, 6); /* columns count characters, not bytes */
    assert_int_equal(l.toks[2].pos.off, 7);
    assert_tok(&l.toks[3], TK_IDENT, "z", 2, 9);
    assert_tok(&l.toks[4], TK_EOF, NULL, 0, 0);
}

/* --emit tokens: one token per line, with position, kind and text. */
static void token_dump(void **state)
{
    (void)state;
    const char *text = "let x = 0x1F; @\n  y2 1.5 'q";
    Source src = { "t.tsr", text, strlen(text) };
    StrBuf out;
    sb_init(&out);
    tokens_print(&out, &src);
    assert_string_equal(out.data, "1:1 KW_LET\n"
                                  "1:5 IDENT 'x'\n"
                                  "1:7 ASSIGN\n"
                                  "1:9 INT '0x1F'\n"
                                  "1:13 SEMI\n"
                                  "1:15 ERROR (unexpected character '@') '@'\n"
                                  "2:3 IDENT 'y2'\n"
                                  "2:6 FLOAT '1.5'\n"
                                  "2:10 ERROR (unexpected character \"'\") '\\x27'\n"
                                  "2:11 IDENT 'q'\n"
                                  "2:12 EOF\n");
    sb_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_token_kind),   cmocka_unit_test(kind_names),
        cmocka_unit_test(longest_match),      cmocka_unit_test(numbers),
        cmocka_unit_test(bad_numbers),        cmocka_unit_test(positions_and_comments),
        cmocka_unit_test(eof_repeats),        cmocka_unit_test(unexpected_characters),
        cmocka_unit_test(unterminated_comment), cmocka_unit_test(strings), cmocka_unit_test(nul_bytes),
        cmocka_unit_test(non_ascii),          cmocka_unit_test(token_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
