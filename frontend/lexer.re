/* The Tessera lexer: token rules for re2c. The build generates lexer.c from
 * this file. Works on a NUL-terminated whole-file buffer; an unknown character
 * or an unterminated comment becomes an error token with its position. */
#include "token.h"

void lexer_init(Lexer *lx, const Source *src)
{
    lx->text = src->text;
    lx->len = src->len;
    lx->cur = src->text;
    lx->line = 1;
    lx->line_start = src->text;
    lx->col_at = src->text;
    lx->col_cont = 0;
}

static SrcPos pos_at(Lexer *lx, const char *p)
{
    if (lx->col_at < lx->line_start || p < lx->col_at) {
        lx->col_at = lx->line_start;
        lx->col_cont = 0;
    }
    for (; lx->col_at < p; lx->col_at++)
        if (((unsigned char)*lx->col_at & 0xC0) == 0x80)
            lx->col_cont++;
    SrcPos pos = { (int)(p - lx->text), lx->line, (int)(p - lx->line_start) - lx->col_cont + 1 };
    return pos;
}

static Token make(Lexer *lx, TokKind k, const char *start, const char *end)
{
    Token t = { k, pos_at(lx, start), start, (int)(end - start), NULL };
    return t;
}

/* Error messages that tok_error_message completes with the token's text. */
static const char msg_invalid_number[] = "invalid number";
static const char msg_unexpected_char[] = "unexpected character";
static const char msg_nul[] = "NUL character in source";

static Token error_tok(Lexer *lx, const char *start, const char *end, const char *why)
{
    Token t = make(lx, TK_ERROR, start, end);
    t.error = why;
    return t;
}

/* Skips a block comment whose opening slash-star ends just before lx->cur,
 * counting lines. Returns false when the comment does not end. A NUL byte
 * inside is an error like anywhere else in the file: *nul receives an error
 * token for the first one (else it is left alone). */
static bool skip_block_comment(Lexer *lx, Token *nul)
{
    const char *end = lx->text + lx->len;
    bool found_nul = false;
    while (lx->cur < end) {
        if (lx->cur[0] == '*' && lx->cur + 1 < end && lx->cur[1] == '/') {
            lx->cur += 2;
            return true;
        }
        if (lx->cur[0] == '\n') {
            lx->line++;
            lx->line_start = lx->cur + 1;
        }
        if (lx->cur[0] == 0 && !found_nul) {
            found_nul = true;
            *nul = error_tok(lx, lx->cur, lx->cur + 1, msg_nul);
        }
        lx->cur++;
    }
    return false;
}

Token lexer_next(Lexer *lx)
{
    const char *YYMARKER;
    for (;;) {
        const char *start = lx->cur;
        /*!re2c
            re2c:define:YYCTYPE = "unsigned char";
            re2c:define:YYCURSOR = "lx->cur";
            re2c:yyfill:enable = 0;
            re2c:indent:string = "    ";

            digit = [0-9];
            hex = [0-9a-fA-F];
            ident = [a-zA-Z_][a-zA-Z0-9_]*;
            exp = [eE] [+-]? digit+;

            "\x00" {
                if ((size_t)(start - lx->text) >= lx->len) {
                    lx->cur = start;
                    return make(lx, TK_EOF, start, start);
                }
                return error_tok(lx, start, lx->cur, msg_nul);
            }
            [ \t\r\v\f]+ { continue; }
            "\n" { lx->line++; lx->line_start = lx->cur; continue; }
            "//" [^\n\x00]* { continue; }
            "/*" {
                Token open = error_tok(lx, start, start + 2, "unterminated comment");
                Token nul = { TK_EOF, { 0, 0, 0 }, NULL, 0, NULL };
                if (!skip_block_comment(lx, &nul))
                    return open; /* at the opening, not where the lines ran out */
                if (nul.kind == TK_ERROR)
                    return nul;
                continue;
            }

            "kernel"   { return make(lx, TK_KW_KERNEL, start, lx->cur); }
            "let"      { return make(lx, TK_KW_LET, start, lx->cur); }
            "var"      { return make(lx, TK_KW_VAR, start, lx->cur); }
            "for"      { return make(lx, TK_KW_FOR, start, lx->cur); }
            "in"       { return make(lx, TK_KW_IN, start, lx->cur); }
            "step"     { return make(lx, TK_KW_STEP, start, lx->cur); }
            "pipeline" { return make(lx, TK_KW_PIPELINE, start, lx->cur); }
            "if"       { return make(lx, TK_KW_IF, start, lx->cur); }
            "else"     { return make(lx, TK_KW_ELSE, start, lx->cur); }
            "grid"     { return make(lx, TK_KW_GRID, start, lx->cur); }
            "warps"    { return make(lx, TK_KW_WARPS, start, lx->cur); }
            "out"      { return make(lx, TK_KW_OUT, start, lx->cur); }
            "true"     { return make(lx, TK_KW_TRUE, start, lx->cur); }
            "false"    { return make(lx, TK_KW_FALSE, start, lx->cur); }
            "inf"      { return make(lx, TK_KW_INF, start, lx->cur); }
            "None"     { return make(lx, TK_KW_NONE, start, lx->cur); }
            "type"     { return make(lx, TK_KW_TYPE, start, lx->cur); }
            "int"      { return make(lx, TK_KW_INT, start, lx->cur); }
            "float"    { return make(lx, TK_KW_FLOAT, start, lx->cur); }
            "f16"      { return make(lx, TK_KW_F16, start, lx->cur); }
            "bf16"     { return make(lx, TK_KW_BF16, start, lx->cur); }
            "f32"      { return make(lx, TK_KW_F32, start, lx->cur); }
            "i32"      { return make(lx, TK_KW_I32, start, lx->cur); }
            "bool"     { return make(lx, TK_KW_BOOL, start, lx->cur); }
            "i8"       { return make(lx, TK_KW_I8, start, lx->cur); }
            "u8"       { return make(lx, TK_KW_U8, start, lx->cur); }
            "u32"      { return make(lx, TK_KW_U32, start, lx->cur); }
            "i64"      { return make(lx, TK_KW_I64, start, lx->cur); }
            "e4m3"     { return make(lx, TK_KW_E4M3, start, lx->cur); }
            "e5m2"     { return make(lx, TK_KW_E5M2, start, lx->cur); }
            "while"    { return make(lx, TK_KW_WHILE, start, lx->cur); }
            "break"    { return make(lx, TK_KW_BREAK, start, lx->cur); }
            "continue" { return make(lx, TK_KW_CONTINUE, start, lx->cur); }
            "return"   { return make(lx, TK_KW_RETURN, start, lx->cur); }

            ident { return make(lx, TK_IDENT, start, lx->cur); }
            digit+ | "0" [xX] hex+ { return make(lx, TK_INT, start, lx->cur); }
            digit+ "." digit+ exp? | digit+ exp { return make(lx, TK_FLOAT, start, lx->cur); }
            "0" [xX] { return error_tok(lx, start, lx->cur, "hexadecimal literal has no digits"); }
            digit+ [a-zA-Z_][a-zA-Z0-9_]*
            | (digit+ "." digit+ exp? | digit+ exp) [a-zA-Z_][a-zA-Z0-9_]*
            | "0" [xX] hex+ [g-zG-Z_][a-zA-Z0-9_]* { return error_tok(lx, start, lx->cur, msg_invalid_number); }
            /* "1." (but not the "1.." of a range) and ".5" */
            digit+ "." [^.0-9] {
                lx->cur--;
                return error_tok(lx, start, lx->cur, "a float literal needs digits after the '.' (write 1.0, not 1.)");
            }
            "." digit+ { return error_tok(lx, start, lx->cur, "a float literal needs a digit before the '.' (write 0.5, not .5)"); }

            /* printable ASCII on one line, without escapes */
            "\"" [\x20-\x21\x23-\x5b\x5d-\x7e]* "\"" { return make(lx, TK_STRING, start, lx->cur); }
            "\"" [\x20-\x21\x23-\x5b\x5d-\x7e]* {
                return error_tok(lx, start, lx->cur, "unterminated string: a string ends with '\"' on its line, "
                                 "holds printable ASCII characters and has no escapes (no '\\')");
            }

            "("  { return make(lx, TK_LPAREN, start, lx->cur); }
            ")"  { return make(lx, TK_RPAREN, start, lx->cur); }
            "["  { return make(lx, TK_LBRACK, start, lx->cur); }
            "]"  { return make(lx, TK_RBRACK, start, lx->cur); }
            "{"  { return make(lx, TK_LBRACE, start, lx->cur); }
            "}"  { return make(lx, TK_RBRACE, start, lx->cur); }
            ","  { return make(lx, TK_COMMA, start, lx->cur); }
            ";"  { return make(lx, TK_SEMI, start, lx->cur); }
            ":"  { return make(lx, TK_COLON, start, lx->cur); }
            ".." { return make(lx, TK_DOTDOT, start, lx->cur); }
            "?"  { return make(lx, TK_QUESTION, start, lx->cur); }
            "+"  { return make(lx, TK_PLUS, start, lx->cur); }
            "-"  { return make(lx, TK_MINUS, start, lx->cur); }
            "*"  { return make(lx, TK_STAR, start, lx->cur); }
            "/"  { return make(lx, TK_SLASH, start, lx->cur); }
            "%"  { return make(lx, TK_PERCENT, start, lx->cur); }
            "!"  { return make(lx, TK_BANG, start, lx->cur); }
            "="  { return make(lx, TK_ASSIGN, start, lx->cur); }
            "==" { return make(lx, TK_EQ, start, lx->cur); }
            "!=" { return make(lx, TK_NE, start, lx->cur); }
            "<"  { return make(lx, TK_LT, start, lx->cur); }
            "<=" { return make(lx, TK_LE, start, lx->cur); }
            ">"  { return make(lx, TK_GT, start, lx->cur); }
            ">=" { return make(lx, TK_GE, start, lx->cur); }
            "&&" { return make(lx, TK_ANDAND, start, lx->cur); }
            "||" { return make(lx, TK_OROR, start, lx->cur); }
            "&"  { return make(lx, TK_AMP, start, lx->cur); }
            "|"  { return make(lx, TK_PIPE, start, lx->cur); }
            "^"  { return make(lx, TK_CARET, start, lx->cur); }
            "~"  { return make(lx, TK_TILDE, start, lx->cur); }
            "<<" { return make(lx, TK_SHL, start, lx->cur); }
            ">>" { return make(lx, TK_SHR, start, lx->cur); }

            [\x80-\xff]+ { return error_tok(lx, start, lx->cur, "non-ASCII character outside a comment"); }
            * { return error_tok(lx, start, lx->cur, msg_unexpected_char); }
        */
    }
}

static const char *const kind_names[] = {
#define X(name, text) text,
    TSR_TOKENS(X)
#undef X
};

static const char *const kind_idents[] = {
#define X(name, text) #name,
    TSR_TOKENS(X)
#undef X
};

const char *tok_kind_name(TokKind k) { return (unsigned)k < TK_COUNT ? kind_names[k] : "?"; }
const char *tok_kind_ident(TokKind k) { return (unsigned)k < TK_COUNT ? kind_idents[k] : "?"; }

void tok_error_message(const Token *t, StrBuf *out)
{
    if (t->error == msg_invalid_number) {
        sb_printf(out, "%s '%.*s'", t->error, t->len, t->start);
    } else if (t->error == msg_unexpected_char) {
        unsigned char c = (unsigned char)t->start[0];
        if (c == '\'')
            sb_printf(out, "%s \"'\"", t->error);
        else if (c > ' ' && c < 127)
            sb_printf(out, "%s '%c'", t->error, c);
        else
            sb_printf(out, "%s (byte 0x%02x)", t->error, c);
    } else {
        sb_puts(out, t->error);
    }
}
