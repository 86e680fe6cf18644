/* PTX text -> raw module: directives, variables, functions and their bodies as
 * statements whose opcodes and operands are still names. The PTX accepted is
 * what LLVM's NVPTX backend and nvcc emit; anything else is an error with the
 * line. decode.c turns the raw module into executable kernels. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"

const TypeDesc emu_types[TY_COUNT] = {
    [TY_NONE] = {"", 0, TK_BITS},
    [TY_B8] = {"b8", 1, TK_BITS},       [TY_B16] = {"b16", 2, TK_BITS},
    [TY_B32] = {"b32", 4, TK_BITS},     [TY_B64] = {"b64", 8, TK_BITS},
    [TY_B128] = {"b128", 16, TK_BITS},
    [TY_U8] = {"u8", 1, TK_UINT},       [TY_U16] = {"u16", 2, TK_UINT},
    [TY_U32] = {"u32", 4, TK_UINT},     [TY_U64] = {"u64", 8, TK_UINT},
    [TY_S8] = {"s8", 1, TK_SINT},       [TY_S16] = {"s16", 2, TK_SINT},
    [TY_S32] = {"s32", 4, TK_SINT},     [TY_S64] = {"s64", 8, TK_SINT},
    [TY_F16] = {"f16", 2, TK_FLOAT},    [TY_F16X2] = {"f16x2", 4, TK_FLOAT},
    [TY_BF16] = {"bf16", 2, TK_FLOAT},  [TY_BF16X2] = {"bf16x2", 4, TK_FLOAT},
    [TY_TF32] = {"tf32", 4, TK_FLOAT},  [TY_F32] = {"f32", 4, TK_FLOAT},
    [TY_F64] = {"f64", 8, TK_FLOAT},
    [TY_E4M3] = {"e4m3", 1, TK_FLOAT},  [TY_E5M2] = {"e5m2", 1, TK_FLOAT},
    [TY_E4M3X2] = {"e4m3x2", 2, TK_FLOAT}, [TY_E5M2X2] = {"e5m2x2", 2, TK_FLOAT},
    [TY_U16X2] = {"u16x2", 4, TK_UINT}, [TY_S16X2] = {"s16x2", 4, TK_SINT},
    [TY_PRED] = {"pred", 0, TK_PRED},
};

const char *const emu_space_names[SP_COUNT] = {
    [SP_NONE] = "", [SP_GENERIC] = "generic", [SP_GLOBAL] = "global", [SP_SHARED] = "shared",
    [SP_LOCAL] = "local", [SP_PARAM] = "param", [SP_CONST] = "const",
};

int emu_ptx_type(const char *s)
{
    for (int t = 1; t < TY_COUNT; t++)
        if (strcmp(emu_types[t].name, s) == 0)
            return t;
    return TY_NONE;
}

/* ---- lexer ---------------------------------------------------------------- */

enum { K_EOF, K_WORD, K_INT, K_FLOAT, K_STR, K_PUNCT };

typedef struct {
    int kind;
    int line;
    const char *start;
    size_t len;
    char punct;
    int64_t ival;   /* K_INT; K_FLOAT bits */
    char fkind;     /* K_FLOAT: 'f', 'd' or 'x' (decimal, bits of a double) */
    const char *word; /* K_WORD, K_STR: arena copy */
} Tok;

typedef struct {
    Arena *a;
    const char *p, *end;
    int line;
    Tok t;    /* current token */
    StrBuf *err;
    bool failed;
    int src_line; /* the line of the last .loc in the function body, 0: none */
} Parser;

static int perr(Parser *ps, int line, const char *fmt, ...) TSR_PRINTF(3, 4);
static int perr(Parser *ps, int line, const char *fmt, ...)
{
    if (ps->failed)
        return -1;
    ps->failed = true;
    va_list ap;
    sb_printf(ps->err, "ptx:%d: error: ", line);
    va_start(ap, fmt);
    sb_vprintf(ps->err, fmt, ap);
    va_end(ap);
    return -1;
}

static bool word_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' || c == '%' ||
           c == '.';
}
static bool word_char(int c) { return word_start(c) || (c >= '0' && c <= '9'); }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void skip_space(Parser *ps)
{
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == '\n') {
            ps->line++;
            ps->p++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            ps->p++;
        } else if (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '/') {
            while (ps->p < ps->end && *ps->p != '\n')
                ps->p++;
        } else if (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '*') {
            ps->p += 2;
            while (ps->p < ps->end && !(*ps->p == '*' && ps->p + 1 < ps->end && ps->p[1] == '/')) {
                if (*ps->p == '\n')
                    ps->line++;
                ps->p++;
            }
            ps->p = ps->p < ps->end ? ps->p + 2 : ps->end;
        } else {
            break;
        }
    }
}

/* Lexes a number starting at ps->p into t. */
static int lex_number(Parser *ps, Tok *t)
{
    const char *p = ps->p, *e = ps->end;
    uint64_t v = 0;
    bool overflow = false;
    if (p + 1 < e && p[0] == '0' && (p[1] == 'f' || p[1] == 'F' || p[1] == 'd' || p[1] == 'D')) {
        int nd = (p[1] == 'f' || p[1] == 'F') ? 8 : 16;
        p += 2;
        for (int i = 0; i < nd; i++, p++) {
            if (p >= e || hexval(*p) < 0)
                return perr(ps, ps->line, "malformed floating-point literal");
            v = v << 4 | (uint64_t)hexval(*p);
        }
        t->kind = K_FLOAT;
        t->fkind = nd == 8 ? 'f' : 'd';
        t->ival = (int64_t)v;
    } else if (p + 1 < e && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        if (p >= e || hexval(*p) < 0)
            return perr(ps, ps->line, "malformed hexadecimal literal");
        for (; p < e && hexval(*p) >= 0; p++) {
            if (v >> 60)
                overflow = true;
            v = v << 4 | (uint64_t)hexval(*p);
        }
        t->kind = K_INT;
        t->ival = (int64_t)v;
    } else if (p + 1 < e && p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        p += 2;
        if (p >= e || (*p != '0' && *p != '1'))
            return perr(ps, ps->line, "malformed binary literal");
        for (; p < e && (*p == '0' || *p == '1'); p++) {
            if (v >> 63)
                overflow = true;
            v = v << 1 | (uint64_t)(*p - '0');
        }
        t->kind = K_INT;
        t->ival = (int64_t)v;
    } else {
        const char *q = p;
        while (q < e && is_digit(*q))
            q++;
        if (q < e && (*q == '.' || *q == 'e' || *q == 'E')) {
            char buf[64];
            const char *f = q;
            if (f < e && *f == '.')
                for (f++; f < e && is_digit(*f); f++) {
                }
            if (f < e && (*f == 'e' || *f == 'E')) {
                f++;
                if (f < e && (*f == '+' || *f == '-'))
                    f++;
                while (f < e && is_digit(*f))
                    f++;
            }
            if ((size_t)(f - p) >= sizeof buf)
                return perr(ps, ps->line, "floating-point literal too long");
            memcpy(buf, p, (size_t)(f - p));
            buf[f - p] = 0;
            char *endp;
            double d = strtod(buf, &endp);
            if (*endp)
                return perr(ps, ps->line, "malformed floating-point literal '%s'", buf);
            t->kind = K_FLOAT;
            t->fkind = 'x';
            t->ival = (int64_t)f64_bits(d);
            p = f;
        } else {
            bool octal = p[0] == '0' && q - p > 1;
            for (; p < q; p++) {
                int dgt = *p - '0';
                if (octal && dgt > 7)
                    return perr(ps, ps->line, "malformed octal literal");
                uint64_t nv = v * (octal ? 8 : 10) + (uint64_t)dgt;
                if (nv / (octal ? 8 : 10) != v)
                    overflow = true;
                v = nv;
            }
            t->kind = K_INT;
            t->ival = (int64_t)v;
        }
    }
    if (overflow)
        return perr(ps, ps->line, "integer literal does not fit in 64 bits");
    if (t->kind == K_INT && p < e && (*p == 'U' || *p == 'u'))
        p++;
    if (p < e && word_char(*p) && *p != '.')
        return perr(ps, ps->line, "malformed number");
    ps->p = p;
    return 0;
}

/* Advances to the next token. */
static int next(Parser *ps)
{
    Tok *t = &ps->t;
    skip_space(ps);
    memset(t, 0, sizeof *t);
    t->line = ps->line;
    t->start = ps->p;
    if (ps->p >= ps->end) {
        t->kind = K_EOF;
        return 0;
    }
    char c = *ps->p;
    if (c == 0)
        return perr(ps, ps->line, "NUL character in PTX text");
    if (word_start(c) && !(c == '.' && ps->p + 1 < ps->end && is_digit(ps->p[1]))) {
        const char *s = ps->p;
        while (ps->p < ps->end) {
            if (word_char(*ps->p)) {
                ps->p++;
            } else if (*ps->p == ':' && ps->p + 2 < ps->end && ps->p[1] == ':' &&
                       word_char(ps->p[2])) {
                ps->p += 2;
            } else {
                break;
            }
        }
        t->kind = K_WORD;
        t->len = (size_t)(ps->p - s);
        t->word = arena_strndup(ps->a, s, t->len);
        return 0;
    }
    if (is_digit(c)) {
        if (lex_number(ps, t))
            return -1;
        t->len = (size_t)(ps->p - t->start);
        return 0;
    }
    if (c == '"') {
        const char *s = ++ps->p;
        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\n')
            ps->p++;
        if (ps->p >= ps->end || *ps->p != '"')
            return perr(ps, ps->line, "unterminated string");
        t->kind = K_STR;
        t->word = arena_strndup(ps->a, s, (size_t)(ps->p - s));
        ps->p++;
        return 0;
    }
    if (strchr(",;:[]{}()<>+-!|@=*", c)) {
        t->kind = K_PUNCT;
        t->punct = c;
        ps->p++;
        return 0;
    }
    if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
        return perr(ps, ps->line, "unexpected character '%c'", c);
    return perr(ps, ps->line, "unexpected character (byte 0x%02x)", (unsigned char)c);
}

static bool is_punct(Parser *ps, char c) { return ps->t.kind == K_PUNCT && ps->t.punct == c; }
static bool is_word(Parser *ps, const char *w)
{
    return ps->t.kind == K_WORD && strcmp(ps->t.word, w) == 0;
}

static int expect_punct(Parser *ps, char c)
{
    if (!is_punct(ps, c)) {
        if (ps->t.kind == K_EOF)
            return perr(ps, ps->t.line, "expected '%c' before the end of the text", c);
        return perr(ps, ps->t.line, "expected '%c' near '%.*s'", c,
                    (int)(ps->t.len ? ps->t.len : 1), ps->t.start);
    }
    return next(ps);
}

static int expect_int(Parser *ps, int64_t *v)
{
    bool neg = false;
    if (is_punct(ps, '-')) {
        neg = true;
        if (next(ps))
            return -1;
    }
    if (ps->t.kind != K_INT)
        return perr(ps, ps->t.line, "expected an integer");
    *v = neg ? -ps->t.ival : ps->t.ival;
    return next(ps);
}

/* Skips the rest of the current line (for .loc and .file-like directives). */
static int skip_line(Parser *ps)
{
    int line = ps->t.line;
    /* The current token is on `line`; drop tokens until one starts on a later line. */
    while (ps->t.kind != K_EOF && ps->t.line == line)
        if (next(ps))
            return -1;
    return 0;
}

/* .loc FILE LINE [COLUMN] [, more]: the source line of the instructions that
 * follow (what fault reports name); the rest of the line is skipped. */
static int parse_loc(Parser *ps)
{
    int line = ps->t.line;
    if (next(ps))
        return -1;
    if (ps->t.kind == K_INT && ps->t.line == line) {
        if (next(ps))
            return -1;
        if (ps->t.kind == K_INT && ps->t.line == line && ps->t.ival >= 0 && ps->t.ival <= INT32_MAX)
            ps->src_line = (int)ps->t.ival;
    }
    return skip_line(ps);
}

/* Skips a balanced { ... } group; the current token is '{'. */
static int skip_braces(Parser *ps)
{
    int depth = 0;
    do {
        if (ps->t.kind == K_EOF)
            return perr(ps, ps->t.line, "unbalanced braces");
        if (is_punct(ps, '{'))
            depth++;
        else if (is_punct(ps, '}'))
            depth--;
        if (next(ps))
            return -1;
    } while (depth > 0);
    return 0;
}

static int skip_to_semicolon(Parser *ps)
{
    while (!is_punct(ps, ';')) {
        if (ps->t.kind == K_EOF)
            return perr(ps, ps->t.line, "expected ';' before the end of the text");
        if (next(ps))
            return -1;
    }
    return next(ps);
}

/* ---- growable arrays in the arena ------------------------------------------ */

#define PUSH(ps, arr, n, cap, x)                                                            \
    do {                                                                                    \
        if ((n) >= (cap))                                                                   \
            (arr) = arena_grow((ps)->a, (arr), (n), &(cap), sizeof(*(arr)), (n) + 1);       \
        (arr)[(n)++] = (x);                                                                 \
    } while (0)

/* ---- declarations ----------------------------------------------------------- */

typedef struct {
    int type;
    int vec;
    size_t align;
    bool ptr;
} DeclAttrs;

/* decl-attrs := { .align N | .ptr | .global|.shared|... (after .ptr) | .v2|.v4|.v8 | type } */
static int parse_decl_attrs(Parser *ps, DeclAttrs *da)
{
    memset(da, 0, sizeof *da);
    da->vec = 1;
    while (ps->t.kind == K_WORD && ps->t.word[0] == '.') {
        const char *w = ps->t.word + 1;
        int line = ps->t.line;
        int ty = emu_ptx_type(w);
        if (strcmp(w, "align") == 0) {
            int64_t v;
            if (next(ps) || expect_int(ps, &v))
                return -1;
            if (v <= 0 || v > 4096 || !tsr_is_pow2(v))
                return perr(ps, line, "bad alignment %lld", (long long)v);
            if (!da->ptr) /* after .ptr it is the pointee's alignment */
                da->align = (size_t)v;
            continue;
        } else if (strcmp(w, "ptr") == 0) {
            da->ptr = true;
        } else if (da->ptr && (strcmp(w, "global") == 0 || strcmp(w, "shared") == 0 ||
                               strcmp(w, "const") == 0 || strcmp(w, "local") == 0)) {
            /* the pointee's space: informational */
        } else if (strcmp(w, "v2") == 0 || strcmp(w, "v4") == 0 || strcmp(w, "v8") == 0) {
            da->vec = w[1] - '0';
        } else if (ty != TY_NONE) {
            if (da->type)
                return perr(ps, line, "two types in one declaration");
            da->type = ty;
        } else {
            break;
        }
        if (next(ps))
            return -1;
    }
    if (!da->type)
        return perr(ps, ps->t.line, "expected a type in the declaration");
    return 0;
}

/* dims := { '[' [N] ']' }; returns the element count (-1 for an unsized []) */
static int parse_dims(Parser *ps, int64_t *count)
{
    *count = 1;
    while (is_punct(ps, '[')) {
        int line = ps->t.line;
        if (next(ps))
            return -1;
        if (is_punct(ps, ']')) {
            *count = -1;
        } else {
            int64_t n;
            if (expect_int(ps, &n))
                return -1;
            if (n < 0 || n > (1ll << 32))
                return perr(ps, line, "bad array size");
            if (*count >= 0) {
                *count *= n;
                if (*count > (1ll << 32))
                    return perr(ps, line, "array too large");
            }
        }
        if (expect_punct(ps, ']'))
            return -1;
    }
    return 0;
}

/* Writes an element of an initializer into the variable's bytes. */
static int put_init(Parser *ps, RawVar *v, int elsize, size_t *pos)
{
    int line = ps->t.line;
    bool neg = false;
    if (is_punct(ps, '-')) {
        neg = true;
        if (next(ps))
            return -1;
    }
    uint64_t bits;
    if (ps->t.kind == K_INT) {
        int64_t iv = neg ? -ps->t.ival : ps->t.ival;
        if (emu_types[v->type].kind == TK_FLOAT) {
            double d = (double)iv;
            bits = v->type == TY_F64 ? f64_bits(d) : emu_fp_from_double(FMT_F32, d, 0, RND_RN, false);
        } else {
            bits = (uint64_t)iv;
        }
    } else if (ps->t.kind == K_FLOAT) {
        double d = ps->t.fkind == 'f' ? (double)f32_of((uint64_t)ps->t.ival) : f64_of((uint64_t)ps->t.ival);
        if (neg)
            d = -d;
        if (v->type == TY_F64)
            bits = f64_bits(d);
        else if (v->type == TY_F32)
            bits = ps->t.fkind == 'f' && !neg ? (uint64_t)ps->t.ival
                                             : emu_fp_from_double(FMT_F32, d, 0, RND_RN, false);
        else
            bits = (uint64_t)ps->t.ival;
    } else if (ps->t.kind == K_WORD) {
        return perr(ps, line, "initializers with addresses ('%s') are not supported", ps->t.word);
    } else {
        return perr(ps, line, "expected an initializer value");
    }
    if (*pos + (size_t)elsize > v->size)
        return perr(ps, line, "too many initializer values for '%s'", v->name);
    for (int i = 0; i < elsize; i++)
        v->init[*pos + (size_t)i] = (uint8_t)(bits >> (8 * i));
    *pos += (size_t)elsize;
    return next(ps);
}

/* init := value | '{' init { ',' init } '}' */
static int parse_init(Parser *ps, RawVar *v, int elsize, size_t *pos)
{
    if (!is_punct(ps, '{'))
        return put_init(ps, v, elsize, pos);
    if (next(ps))
        return -1;
    for (;;) {
        if (parse_init(ps, v, elsize, pos))
            return -1;
        if (!is_punct(ps, ','))
            break;
        if (next(ps))
            return -1;
    }
    return expect_punct(ps, '}');
}

/* var-decl := attrs name dims [= init] ';'  (the space word has been read) */
static int parse_var(Parser *ps, RawModule *m, int *cap, int space, bool is_extern, bool func_scope,
                     int *index_out)
{
    DeclAttrs da;
    int line = ps->t.line;
    if (parse_decl_attrs(ps, &da))
        return -1;
    if (ps->t.kind != K_WORD)
        return perr(ps, ps->t.line, "expected a variable name");
    RawVar v = {0};
    v.name = ps->t.word;
    v.space = space;
    v.type = da.type;
    v.line = line;
    v.is_extern = is_extern;
    v.is_func_scope = func_scope;
    if (next(ps))
        return -1;
    int64_t count;
    if (parse_dims(ps, &count))
        return -1;
    int elsize = ty_size(da.type) * da.vec;
    if (da.type == TY_PRED)
        return perr(ps, line, "predicate variables are not supported");
    if (count < 0) {
        if (!(is_extern && space == SP_SHARED))
            return perr(ps, line, "unsized array '%s' outside .extern .shared", v.name);
        v.size = 0;
    } else {
        v.size = (size_t)count * (size_t)elsize;
    }
    v.align = da.align ? da.align : (size_t)(elsize ? elsize : 1);
    if (is_punct(ps, '=')) {
        if (next(ps))
            return -1;
        if (space != SP_GLOBAL && space != SP_CONST)
            return perr(ps, line, "initializer on a .%s variable", emu_space_names[space]);
        if (v.size > (64u << 20))
            return perr(ps, line, "initialized variable too large");
        v.init = arena_alloc(ps->a, v.size ? v.size : 1);
        size_t pos = 0;
        if (parse_init(ps, &v, ty_size(da.type), &pos))
            return -1;
    }
    if (expect_punct(ps, ';'))
        return -1;
    *index_out = m->nvars;
    PUSH(ps, m->vars, m->nvars, *cap, v);
    return 0;
}

/* param := .param attrs name dims */
static int parse_param(Parser *ps, RawParam *out)
{
    int line = ps->t.line;
    if (!is_word(ps, ".param") && !is_word(ps, ".reg"))
        return perr(ps, line, "expected .param");
    if (next(ps))
        return -1;
    DeclAttrs da;
    if (parse_decl_attrs(ps, &da))
        return -1;
    if (ps->t.kind != K_WORD)
        return perr(ps, ps->t.line, "expected a parameter name");
    out->name = ps->t.word;
    out->type = da.type;
    if (next(ps))
        return -1;
    int64_t count;
    if (parse_dims(ps, &count))
        return -1;
    if (count < 0 || da.type == TY_PRED)
        return perr(ps, line, "unsupported parameter '%s'", out->name);
    out->size = (size_t)count * (size_t)ty_size(da.type) * (size_t)da.vec;
    out->align = da.align ? da.align : (size_t)ty_size(da.type) * (size_t)da.vec;
    if (out->size > EMU_MAX_PARAM)
        return perr(ps, line, "parameter '%s' too large", out->name);
    return 0;
}

/* params := '(' [ param { ',' param } ] ')' */
static int parse_params(Parser *ps, RawParam **out, int *n)
{
    int cap = 0;
    if (expect_punct(ps, '('))
        return -1;
    while (!is_punct(ps, ')')) {
        RawParam p = {0};
        if (parse_param(ps, &p))
            return -1;
        PUSH(ps, *out, *n, cap, p);
        if (is_punct(ps, ','))
            if (next(ps))
                return -1;
        if (ps->t.kind == K_EOF)
            return perr(ps, ps->t.line, "unterminated parameter list");
    }
    return next(ps);
}

/* ---- instruction operands ------------------------------------------------- */

static int parse_operand(Parser *ps, RawOp *op);

/* list := op { ',' op } up to the closing character */
static int parse_op_list(Parser *ps, char close, RawOp **elems, int *n)
{
    int cap = 0;
    if (next(ps))
        return -1;
    while (!is_punct(ps, close)) {
        RawOp e = {0};
        if (parse_operand(ps, &e))
            return -1;
        PUSH(ps, *elems, *n, cap, e);
        if (*n > 128) /* wgmma m64n256 has 128 accumulators */
            return perr(ps, ps->t.line, "too many elements in a list");
        if (is_punct(ps, ',')) {
            if (next(ps))
                return -1;
        } else if (!is_punct(ps, close)) {
            return perr(ps, ps->t.line, "expected ',' or '%c'", close);
        }
    }
    return next(ps);
}

/* addr := ( [ name ] [ ('+'|'-') ['-'] int ] | int ) [ ',' '{' list '}' ] */
static int parse_address(Parser *ps, RawOp *op)
{
    op->kind = RO_ADDR;
    if (next(ps))
        return -1;
    if (ps->t.kind == K_WORD) {
        op->name = ps->t.word;
        if (next(ps))
            return -1;
        if (is_punct(ps, '+') || is_punct(ps, '-')) {
            bool neg = is_punct(ps, '-');
            int64_t v;
            if (next(ps) || expect_int(ps, &v))
                return -1;
            op->ival = neg ? -v : v;
        }
    } else if (ps->t.kind == K_INT) {
        op->ival = ps->t.ival;
        if (next(ps))
            return -1;
    } else {
        return perr(ps, ps->t.line, "malformed address");
    }
    /* [tensor-map, {c0, ...}]: the coordinates of a tensor copy */
    if (is_punct(ps, ',')) {
        if (next(ps))
            return -1;
        if (!is_punct(ps, '{'))
            return perr(ps, ps->t.line, "expected '{' of tensor coordinates");
        if (parse_op_list(ps, '}', &op->elems, &op->nelems))
            return -1;
    }
    return expect_punct(ps, ']');
}

/* operand := '{' list '}' | '[' addr ']' | '(' list ')' | ['!'] name ['|' name] ['+' int]
 *          | ['-'] int | ['-'] float | '_' */
static int parse_operand(Parser *ps, RawOp *op)
{
    int line = ps->t.line;
    memset(op, 0, sizeof *op);
    if (is_punct(ps, '{')) {
        op->kind = RO_VEC;
        return parse_op_list(ps, '}', &op->elems, &op->nelems);
    }
    if (is_punct(ps, '(')) {
        op->kind = RO_PAREN;
        return parse_op_list(ps, ')', &op->elems, &op->nelems);
    }
    if (is_punct(ps, '['))
        return parse_address(ps, op);
    if (is_punct(ps, '!')) {
        op->neg = true;
        if (next(ps))
            return -1;
        if (ps->t.kind != K_WORD)
            return perr(ps, line, "expected a predicate after '!'");
    }
    if (ps->t.kind == K_WORD) {
        if (strcmp(ps->t.word, "_") == 0 && !op->neg) {
            op->kind = RO_SINK;
            return next(ps);
        }
        op->kind = RO_NAME;
        op->name = ps->t.word;
        if (next(ps))
            return -1;
        if (is_punct(ps, '|')) {
            if (next(ps))
                return -1;
            if (ps->t.kind != K_WORD)
                return perr(ps, line, "expected a predicate after '|'");
            op->name2 = ps->t.word;
            if (next(ps))
                return -1;
        } else if (is_punct(ps, '+')) {
            int64_t v;
            if (next(ps) || expect_int(ps, &v))
                return -1;
            op->ival = v;
        }
        return 0;
    }
    bool neg = false;
    if (is_punct(ps, '-')) {
        neg = true;
        if (next(ps))
            return -1;
    }
    if (ps->t.kind == K_INT) {
        op->kind = RO_INT;
        op->ival = neg ? (int64_t)(0 - (uint64_t)ps->t.ival) : ps->t.ival;
        return next(ps);
    }
    if (ps->t.kind == K_FLOAT) {
        op->kind = RO_FLOAT;
        op->fkind = ps->t.fkind;
        uint64_t bits = (uint64_t)ps->t.ival;
        if (neg)
            bits ^= ps->t.fkind == 'f' ? 0x80000000ull : 0x8000000000000000ull;
        op->ival = (int64_t)bits;
        return next(ps);
    }
    return perr(ps, line, "expected an operand");
}

/* ---- function bodies -------------------------------------------------------- */

typedef struct {
    RawStmt *stmts;
    int n, cap;
} StmtList;

static void add_stmt(Parser *ps, StmtList *l, RawStmt s) { PUSH(ps, l->stmts, l->n, l->cap, s); }

/* reg-decl := '.reg' attrs name ['<' N '>'] { ',' name ['<' N '>'] } ';' */
static int parse_reg_decl(Parser *ps, StmtList *l)
{
    int line = ps->t.line;
    if (next(ps))
        return -1;
    DeclAttrs da;
    if (parse_decl_attrs(ps, &da))
        return -1;
    if (da.vec != 1)
        return perr(ps, line, "vector registers are not supported");
    for (;;) {
        if (ps->t.kind != K_WORD)
            return perr(ps, ps->t.line, "expected a register name");
        RawStmt s = {.kind = RS_REG, .line = line, .name = ps->t.word, .type = da.type, .count = -1};
        if (next(ps))
            return -1;
        if (is_punct(ps, '<')) {
            if (next(ps) || expect_int(ps, &s.count) || expect_punct(ps, '>'))
                return -1;
            if (s.count < 0 || s.count > EMU_MAX_REGS)
                return perr(ps, line, "register range %s<%lld> too large", s.name, (long long)s.count);
        }
        add_stmt(ps, l, s);
        if (!is_punct(ps, ','))
            break;
        if (next(ps))
            return -1;
    }
    return expect_punct(ps, ';');
}

/* insn := ['@' ['!'] pred] opcode [ operand { ',' operand } ] ';' */
static int parse_insn(Parser *ps, StmtList *l)
{
    RawStmt s = {.kind = RS_INSN, .line = ps->t.line, .src_line = ps->src_line};
    if (is_punct(ps, '@')) {
        if (next(ps))
            return -1;
        if (is_punct(ps, '!')) {
            s.guard_neg = true;
            if (next(ps))
                return -1;
        }
        if (ps->t.kind != K_WORD)
            return perr(ps, s.line, "expected a predicate after '@'");
        s.guard = ps->t.word;
        if (next(ps))
            return -1;
    }
    if (ps->t.kind != K_WORD || ps->t.word[0] == '.' || ps->t.word[0] == '%')
        return perr(ps, ps->t.line, "expected an instruction");
    s.opcode = ps->t.word;
    s.line = ps->t.line;
    if (next(ps))
        return -1;
    int cap = 0;
    while (!is_punct(ps, ';')) {
        RawOp op;
        if (parse_operand(ps, &op))
            return -1;
        PUSH(ps, s.ops, s.nops, cap, op);
        if (s.nops > 64)
            return perr(ps, s.line, "too many operands");
        if (is_punct(ps, ',')) {
            if (next(ps))
                return -1;
        } else if (!is_punct(ps, ';')) {
            return perr(ps, ps->t.line, "expected ',' or ';' after an operand of '%s'", s.opcode);
        }
    }
    add_stmt(ps, l, s);
    return next(ps);
}

static bool space_of_word(const char *w, int *space)
{
    static const struct { const char *n; int s; } tab[] = {
        {".global", SP_GLOBAL}, {".shared", SP_SHARED}, {".local", SP_LOCAL},
        {".const", SP_CONST},   {".param", SP_PARAM},
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(tab); i++)
        if (strcmp(w, tab[i].n) == 0) {
            *space = tab[i].s;
            return true;
        }
    return false;
}

/* body := '{' { stmt } '}' */
static int parse_body(Parser *ps, RawModule *m, int *varcap, RawFunc *f)
{
    StmtList l = {0};
    int depth = 0;
    ps->src_line = 0;
    if (expect_punct(ps, '{'))
        return -1;
    for (;;) {
        int line = ps->t.line;
        if (ps->t.kind == K_EOF)
            return perr(ps, line, "missing '}' at the end of function '%s'", f->name);
        if (is_punct(ps, '}')) {
            if (next(ps))
                return -1;
            if (depth == 0)
                break;
            depth--;
            add_stmt(ps, &l, (RawStmt){.kind = RS_CLOSE, .line = line});
            continue;
        }
        if (is_punct(ps, '{')) {
            if (++depth > 64)
                return perr(ps, line, "blocks nested too deeply");
            add_stmt(ps, &l, (RawStmt){.kind = RS_OPEN, .line = line});
            if (next(ps))
                return -1;
            continue;
        }
        if (ps->t.kind == K_WORD && ps->t.word[0] == '.') {
            const char *w = ps->t.word;
            int space;
            if (strcmp(w, ".reg") == 0) {
                if (parse_reg_decl(ps, &l))
                    return -1;
            } else if (strcmp(w, ".loc") == 0) {
                if (parse_loc(ps))
                    return -1;
            } else if (strcmp(w, ".file") == 0) {
                if (skip_line(ps))
                    return -1;
            } else if (strcmp(w, ".pragma") == 0) {
                if (skip_to_semicolon(ps))
                    return -1;
            } else if (space_of_word(w, &space)) {
                if (space == SP_GLOBAL || space == SP_CONST)
                    return perr(ps, line, "'%s' variables inside a function are not supported", w);
                int idx;
                if (next(ps) || parse_var(ps, m, varcap, space, false, true, &idx))
                    return -1;
                add_stmt(ps, &l, (RawStmt){.kind = RS_VAR, .line = line, .var = idx});
            } else {
                return perr(ps, line, "unsupported directive '%s' in a function body", w);
            }
            continue;
        }
        if (ps->t.kind == K_WORD && ps->t.word[0] != '.' && ps->t.word[0] != '@') {
            /* label? */
            const char *save_p = ps->p;
            int save_line = ps->line;
            Tok save = ps->t;
            if (next(ps))
                return -1;
            if (is_punct(ps, ':')) {
                if (next(ps))
                    return -1;
                if (is_word(ps, ".callprototype")) {
                    if (skip_to_semicolon(ps))
                        return -1;
                    continue;
                }
                add_stmt(ps, &l, (RawStmt){.kind = RS_LABEL, .line = line, .name = save.word});
                continue;
            }
            ps->p = save_p;
            ps->line = save_line;
            ps->t = save;
        }
        if (parse_insn(ps, &l))
            return -1;
    }
    f->stmts = l.stmts;
    f->nstmts = l.n;
    f->has_body = true;
    return 0;
}

/* perf := { .maxntid a[,b[,c]] | .reqntid ... | .minnctapersm n | .maxnreg n | ... } */
static int parse_perf_directives(Parser *ps, RawFunc *f)
{
    while (ps->t.kind == K_WORD && ps->t.word[0] == '.') {
        const char *w = ps->t.word;
        unsigned *dims = NULL;
        if (strcmp(w, ".maxntid") == 0)
            dims = f->maxntid;
        else if (strcmp(w, ".reqntid") == 0)
            dims = f->reqntid;
        if (dims) {
            if (next(ps))
                return -1;
            for (int i = 0; i < 3; i++) {
                int64_t v;
                if (expect_int(ps, &v))
                    return -1;
                if (v <= 0 || v > EMU_MAX_THREADS)
                    return perr(ps, ps->t.line, "bad %s value", w);
                dims[i] = (unsigned)v;
                if (!is_punct(ps, ','))
                    break;
                if (next(ps))
                    return -1;
            }
            for (int i = 0; i < 3; i++)
                if (!dims[i])
                    dims[i] = 1;
        } else if (strcmp(w, ".minnctapersm") == 0 || strcmp(w, ".maxnreg") == 0 ||
                   strcmp(w, ".maxnctapersm") == 0 || strcmp(w, ".maxclusterrank") == 0 ||
                   strcmp(w, ".reqnctapercluster") == 0) {
            bool min = strcmp(w, ".minnctapersm") == 0, maxnreg = strcmp(w, ".maxnreg") == 0;
            if (next(ps))
                return -1;
            for (;;) {
                int64_t v;
                if (expect_int(ps, &v))
                    return -1;
                if (min)
                    f->minnctapersm = (unsigned)(v < 0 ? 0 : v > 1024 ? 1024 : v);
                if (maxnreg)
                    f->maxnreg = (unsigned)(v < 0 ? 0 : v > 1024 ? 1024 : v);
                if (!is_punct(ps, ','))
                    break;
                if (next(ps))
                    return -1;
            }
        } else if (strcmp(w, ".noreturn") == 0 || strcmp(w, ".explicitcluster") == 0) {
            if (next(ps))
                return -1;
        } else if (strcmp(w, ".pragma") == 0) {
            if (skip_to_semicolon(ps))
                return -1;
        } else {
            break;
        }
    }
    return 0;
}

/* func := '.entry' name params perf (body | ';')
 *       | '.func' [params] name [params] perf (body | ';') */
static int parse_function(Parser *ps, RawModule *m, int *funccap, int *varcap)
{
    RawFunc f = {0};
    f.line = ps->t.line;
    f.is_entry = is_word(ps, ".entry");
    if (next(ps))
        return -1;
    if (!f.is_entry && is_punct(ps, '(')) {
        if (parse_params(ps, &f.rets, &f.nrets))
            return -1;
    }
    if (ps->t.kind != K_WORD)
        return perr(ps, ps->t.line, "expected a function name");
    f.name = ps->t.word;
    if (next(ps))
        return -1;
    if (is_punct(ps, '(')) {
        if (parse_params(ps, &f.params, &f.nparams))
            return -1;
    }
    if (parse_perf_directives(ps, &f))
        return -1;
    if (is_punct(ps, ';')) {
        if (next(ps))
            return -1;
    } else if (parse_body(ps, m, varcap, &f)) {
        return -1;
    }
    for (int i = 0; i < m->nfuncs; i++)
        if (strcmp(m->funcs[i].name, f.name) == 0 && m->funcs[i].has_body && f.has_body)
            return perr(ps, f.line, "function '%s' defined twice", f.name);
    PUSH(ps, m->funcs, m->nfuncs, *funccap, f);
    return 0;
}

/* target := '.target' name { ',' name } */
static int parse_target(Parser *ps, RawModule *m)
{
    int line = ps->t.line;
    if (next(ps))
        return -1;
    for (;;) {
        if (ps->t.kind != K_WORD)
            return perr(ps, line, "expected a target name");
        const char *w = ps->t.word;
        if (strncmp(w, "sm_", 3) == 0) {
            char *end;
            long v = strtol(w + 3, &end, 10);
            if (end == w + 3 || v <= 0 || v > 1000)
                return perr(ps, line, "bad target '%s'", w);
            m->sm = (int)v;
            m->sm_a = *end == 'a' || *end == 'f';
        }
        if (next(ps))
            return -1;
        if (!is_punct(ps, ','))
            break;
        if (next(ps))
            return -1;
    }
    return 0;
}

int emu_ptx_parse(Arena *a, const char *text, size_t len, RawModule *m, StrBuf *err)
{
    Parser ps = {.a = a, .p = text, .end = text + len, .line = 1, .err = err};
    int funccap = 0, varcap = 0;
    memset(m, 0, sizeof *m);
    m->address_size = 64;
    bool have_version = false;
    if (next(&ps))
        return -1;
    while (ps.t.kind != K_EOF) {
        int line = ps.t.line;
        if (ps.t.kind != K_WORD || ps.t.word[0] != '.')
            return perr(&ps, line, "expected a directive");
        const char *w = ps.t.word;
        int space;
        if (strcmp(w, ".version") == 0) {
            if (next(&ps))
                return -1;
            if (ps.t.kind != K_FLOAT || ps.t.fkind != 'x')
                return perr(&ps, line, "expected a version number");
            double v = f64_of((uint64_t)ps.t.ival);
            m->ptx_major = (int)v;
            m->ptx_minor = (int)((v - m->ptx_major) * 10 + 0.5);
            have_version = true;
            if (next(&ps))
                return -1;
        } else if (strcmp(w, ".target") == 0) {
            if (parse_target(&ps, m))
                return -1;
        } else if (strcmp(w, ".address_size") == 0) {
            int64_t v;
            if (next(&ps) || expect_int(&ps, &v))
                return -1;
            if (v != 64 && v != 32)
                return perr(&ps, line, "bad address size");
            if (v != 64)
                return perr(&ps, line, ".address_size 32 is not supported");
            m->address_size = (int)v;
        } else if (strcmp(w, ".file") == 0 || strcmp(w, ".loc") == 0) {
            if (skip_line(&ps))
                return -1;
        } else if (strcmp(w, ".section") == 0) {
            if (next(&ps))
                return -1;
            while (!is_punct(&ps, '{')) {
                if (ps.t.kind == K_EOF)
                    return perr(&ps, line, "malformed .section");
                if (next(&ps))
                    return -1;
            }
            if (skip_braces(&ps))
                return -1;
        } else if (strcmp(w, ".pragma") == 0 || strcmp(w, ".alias") == 0) {
            if (skip_to_semicolon(&ps))
                return -1;
        } else if (strcmp(w, ".visible") == 0 || strcmp(w, ".extern") == 0 ||
                   strcmp(w, ".weak") == 0 || strcmp(w, ".common") == 0 || strcmp(w, ".entry") == 0 ||
                   strcmp(w, ".func") == 0 || space_of_word(w, &space)) {
            bool is_extern = false;
            while (is_word(&ps, ".visible") || is_word(&ps, ".extern") || is_word(&ps, ".weak") ||
                   is_word(&ps, ".common")) {
                if (is_word(&ps, ".extern"))
                    is_extern = true;
                if (next(&ps))
                    return -1;
            }
            if (is_word(&ps, ".entry") || is_word(&ps, ".func")) {
                if (parse_function(&ps, m, &funccap, &varcap))
                    return -1;
            } else if (ps.t.kind == K_WORD && space_of_word(ps.t.word, &space) && space != SP_PARAM) {
                int idx;
                if (next(&ps) || parse_var(&ps, m, &varcap, space, is_extern, false, &idx))
                    return -1;
            } else {
                return perr(&ps, ps.t.line, "expected .entry, .func or a variable");
            }
        } else {
            return perr(&ps, line, "unsupported directive '%s'", w);
        }
    }
    if (!have_version)
        return perr(&ps, 1, "missing .version directive");
    if (!m->sm)
        return perr(&ps, 1, "missing .target directive");
    return 0;
}
