/* Recursive-descent parser: tokens to AST. Each function carries its grammar
 * rule above it. On an error the parser reports it, skips to a point where it
 * can go on (the end of the statement or the next kernel) and keeps parsing,
 * so one run reports several errors. */
#include "ast.h"
#include "dtype.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 200 };

typedef struct {
    Arena *arena;
    Diag *diag;
    Lexer lx;
    Token tok;
    SrcPos prev_end; /* just past the previous token */
    bool panic;      /* an error was reported and we have not yet resynchronized */
    bool eof_reported; /* a block left open at the end of the file was reported */
    int depth;
} Parser;

static Token lex_skip_errors(Parser *p)
{
    for (;;) {
        Token t = lexer_next(&p->lx);
        if (t.kind != TK_ERROR)
            return t;
        StrBuf msg;
        sb_init(&msg);
        tok_error_message(&t, &msg);
        diag_error(p->diag, t.pos, "%s", msg.data);
        sb_free(&msg);
        p->panic = true;
    }
}

static void advance(Parser *p)
{
    p->prev_end = p->tok.pos;
    p->prev_end.off += p->tok.len;
    p->prev_end.col += p->tok.len;
    p->tok = lex_skip_errors(p);
}

static bool at(const Parser *p, TokKind k) { return p->tok.kind == k; }

static bool accept(Parser *p, TokKind k)
{
    if (!at(p, k))
        return false;
    advance(p);
    return true;
}

static void error_at_tok(Parser *p, const char *what)
{
    if (p->panic)
        return;
    p->panic = true;
    const Token *t = &p->tok;
    if (t->kind == TK_EOF)
        diag_error(p->diag, t->pos, "expected %s, found end of file", what);
    else
        diag_error(p->diag, t->pos, "expected %s, found '%.*s'", what, t->len, t->start);
}

static bool expect(Parser *p, TokKind k, const char *what)
{
    if (accept(p, k))
        return true;
    error_at_tok(p, what ? what : tok_kind_name(k));
    return false;
}

/* A missing ')' or ']' is reported where it was expected, with a note at
 * the bracket that it should close. */
static bool expect_closing(Parser *p, TokKind k, SrcPos open)
{
    if (accept(p, k))
        return true;
    if (!p->panic) {
        error_at_tok(p, tok_kind_name(k));
        diag_note(p->diag, open, "to match this %s", k == TK_RPAREN ? "'('" : k == TK_RBRACK ? "'['" : "'{'");
    }
    return false;
}

/* A missing ';' is reported just after the statement it should end, not at
 * the next token, which is often on the next line. */
static void expect_semi(Parser *p)
{
    if (accept(p, TK_SEMI) || p->panic)
        return;
    p->panic = true;
    diag_error(p->diag, p->prev_end, "expected ';' at the end of the statement");
}

static AstNode *node(Parser *p, AstKind kind, SrcPos pos)
{
    AstNode *n = arena_alloc(p->arena, sizeof *n);
    n->kind = kind;
    n->pos = pos;
    return n;
}

static const char *tok_text(Parser *p, const Token *t) { return arena_strndup(p->arena, t->start, (size_t)t->len); }

static bool is_dtype_kw(TokKind k)
{
    return k == TK_KW_F16 || k == TK_KW_BF16 || k == TK_KW_F32 || k == TK_KW_I32 || k == TK_KW_BOOL || k == TK_KW_I8 ||
           k == TK_KW_U8 || k == TK_KW_U32 || k == TK_KW_I64 || k == TK_KW_E4M3 || k == TK_KW_E5M2;
}

static DType dtype_of_kw(TokKind k)
{
    switch (k) {
    case TK_KW_F16: return DT_F16;
    case TK_KW_BF16: return DT_BF16;
    case TK_KW_F32: return DT_F32;
    case TK_KW_I32: return DT_I32;
    case TK_KW_I8: return DT_I8;
    case TK_KW_U8: return DT_U8;
    case TK_KW_U32: return DT_U32;
    case TK_KW_I64: return DT_I64;
    case TK_KW_E4M3: return DT_E4M3;
    case TK_KW_E5M2: return DT_E5M2;
    default: return DT_BOOL;
    }
}

/* Whether the current token is the identifier `word`. */
static bool tok_is(const Parser *p, const char *word)
{
    return p->tok.kind == TK_IDENT && (size_t)p->tok.len == strlen(word) && !memcmp(p->tok.start, word, strlen(word));
}

/* Builtins written name<...>: the '<' after them opens compile-time arguments. */
static bool is_generic_builtin(const Token *t)
{
    static const char *const names[] = { "zeros", "ones", "full", "arange", "reshape" };
    for (size_t i = 0; i < TSR_ARRAY_LEN(names); i++)
        if ((size_t)t->len == strlen(names[i]) && memcmp(t->start, names[i], (size_t)t->len) == 0)
            return true;
    return false;
}

static AstNode *parse_expr(Parser *p);
static AstNode *parse_additive(Parser *p);
static AstNode *parse_block(Parser *p);

/* Nesting: every construct that makes the tree one level deeper (a block, a
 * parenthesis or argument list, an operator, an index) enters a level, so
 * that the recursive stages after the parser cannot run out of stack. */
static bool enter(Parser *p)
{
    if (p->depth >= MAX_DEPTH) {
        if (!p->panic)
            diag_error(p->diag, p->tok.pos,
                       "nested too deeply: more than %d levels of blocks, parentheses and operators", MAX_DEPTH);
        p->panic = true;
        return false;
    }
    p->depth++;
    return true;
}

static void leave(Parser *p) { p->depth--; }

static AstNode *error_node(Parser *p, SrcPos pos)
{
    AstNode *n = node(p, AST_INT, pos);
    n->ival = 0;
    return n;
}

/* exprlist := expr (',' expr)* [','] -- up to the closing token */
static void parse_exprlist(Parser *p, AstList *out, TokKind close, AstNode *(*item)(Parser *))
{
    if (at(p, close))
        return;
    do {
        if (at(p, close))
            break; /* trailing comma */
        vec_push(p->arena, *out, item(p));
        if (p->panic)
            return;
    } while (accept(p, TK_COMMA));
}

/* index_item := 'None' | ':' | expr [':' '+' expr] */
static AstNode *parse_index_item(Parser *p)
{
    SrcPos pos = p->tok.pos;
    if (accept(p, TK_KW_NONE))
        return node(p, AST_NEWAXIS, pos);
    if (at(p, TK_COLON)) {
        advance(p);
        if (!at(p, TK_COMMA) && !at(p, TK_RBRACK)) {
            if (!p->panic)
                diag_error(p->diag, pos, "a slice needs a start: write START : +LENGTH, or ':' alone for the whole dimension");
            p->panic = true;
        }
        return node(p, AST_FULL, pos);
    }
    AstNode *start = parse_expr(p);
    if (!at(p, TK_COLON))
        return start;
    SrcPos cpos = p->tok.pos;
    advance(p);
    if (!at(p, TK_PLUS)) {
        if (!p->panic)
            diag_error(p->diag, cpos, "a slice is written START : +LENGTH (with a compile-time LENGTH)");
        p->panic = true;
        return start;
    }
    advance(p);
    AstNode *s = node(p, AST_SLICE, pos);
    s->a = start;
    s->b = parse_additive(p);
    return s;
}

/* primary := INT | FLOAT | STRING | 'true' | 'false' | 'inf' | '(' expr ')'
 *          | dtype ['(' exprlist ')']
 *          | IDENT ['<' additive (',' additive)* '>'] ['[' exprlist ']'] ['(' exprlist ')'] */
static AstNode *parse_primary(Parser *p)
{
    Token t = p->tok;
    AstNode *n;
    switch (t.kind) {
    case TK_INT: {
        advance(p);
        n = node(p, AST_INT, t.pos);
        char buf[64];
        if (t.len >= (int)sizeof buf) {
            diag_error(p->diag, t.pos, "integer literal is too large");
            return n;
        }
        memcpy(buf, t.start, (size_t)t.len);
        buf[t.len] = 0;
        bool hex = t.len > 2 && (buf[1] == 'x' || buf[1] == 'X');
        errno = 0;
        unsigned long long v = strtoull(buf, NULL, hex ? 16 : 10);
        if (errno == ERANGE || v > (unsigned long long)INT64_MAX)
            diag_error(p->diag, t.pos, "integer literal is too large");
        else
            n->ival = (int64_t)v;
        return n;
    }
    case TK_FLOAT: {
        advance(p);
        n = node(p, AST_FLOAT, t.pos);
        char *s = arena_strndup(p->arena, t.start, (size_t)t.len);
        errno = 0;
        n->fval = strtod(s, NULL);
        if (errno == ERANGE && isinf(n->fval))
            diag_error(p->diag, t.pos, "float literal is too large");
        return n;
    }
    case TK_KW_TRUE:
    case TK_KW_FALSE:
        advance(p);
        n = node(p, AST_BOOL, t.pos);
        n->ival = t.kind == TK_KW_TRUE;
        return n;
    case TK_KW_INF:
        advance(p);
        return node(p, AST_INF, t.pos);
    case TK_STRING:
        advance(p);
        n = node(p, AST_STRING, t.pos);
        n->name = arena_strndup(p->arena, t.start + 1, (size_t)t.len - 2);
        return n;
    case TK_LPAREN:
        advance(p);
        n = parse_expr(p);
        expect_closing(p, TK_RPAREN, t.pos);
        return n;
    case TK_IDENT:
        advance(p);
        n = node(p, AST_NAME, t.pos);
        n->name = tok_text(p, &t);
        if (is_generic_builtin(&t) && at(p, TK_LT)) {
            n->kind = AST_CALL;
            n->has_targs = true;
            advance(p);
            parse_exprlist(p, &n->targs, TK_GT, parse_additive);
            expect(p, TK_GT, "'>'");
            if (at(p, TK_LBRACK) && strcmp(n->name, "arange") != 0 && strcmp(n->name, "reshape") != 0) {
                n->has_shape = true;
                SrcPos open = p->tok.pos;
                advance(p);
                parse_exprlist(p, &n->shape, TK_RBRACK, parse_additive);
                expect_closing(p, TK_RBRACK, open);
            }
        }
        if (at(p, TK_LPAREN)) {
            n->kind = AST_CALL;
            n->has_args = true;
            SrcPos open = p->tok.pos;
            advance(p);
            parse_exprlist(p, &n->args, TK_RPAREN, parse_expr);
            expect_closing(p, TK_RPAREN, open);
        }
        return n;
    default:
        if (is_dtype_kw(t.kind)) {
            advance(p);
            n = node(p, AST_DTYPE, t.pos);
            n->ival = dtype_of_kw(t.kind);
            n->name = dtype_name((DType)n->ival);
            if (at(p, TK_LPAREN)) {
                AstNode *call = node(p, AST_CALL, t.pos);
                call->name = n->name;
                call->a = n; /* the cast's dtype */
                call->has_args = true;
                SrcPos open = p->tok.pos;
                advance(p);
                parse_exprlist(p, &call->args, TK_RPAREN, parse_expr);
                expect_closing(p, TK_RPAREN, open);
                return call;
            }
            return n;
        }
        error_at_tok(p, "an expression");
        return error_node(p, t.pos);
    }
}

/* postfix := primary ('[' index_item (',' index_item)* ']')*
 * Each index nests the tree one level deeper, so it counts toward the depth
 * limit like a parenthesis: later stages walk the tree recursively. */
static AstNode *parse_postfix(Parser *p)
{
    AstNode *n = parse_primary(p);
    int levels = 0;
    SrcPos start = n->pos;
    while (at(p, TK_LBRACK) && !p->panic && enter(p)) {
        levels++;
        /* Errors about an index concern the whole access: they point at
         * the start of the indexed expression, like `X` in `X[i, j]`. */
        AstNode *ix = node(p, AST_INDEX, start);
        SrcPos open = p->tok.pos;
        advance(p);
        ix->a = n;
        parse_exprlist(p, &ix->args, TK_RBRACK, parse_index_item);
        expect_closing(p, TK_RBRACK, open);
        n = ix;
    }
    p->depth -= levels;
    return n;
}

/* unary := ('-' | '!' | '~' | '+') unary | postfix */
static AstNode *parse_unary(Parser *p)
{
    if (!at(p, TK_MINUS) && !at(p, TK_BANG) && !at(p, TK_TILDE) && !at(p, TK_PLUS))
        return parse_postfix(p);
    if (!enter(p))
        return error_node(p, p->tok.pos);
    Token t = p->tok;
    advance(p);
    AstNode *n = parse_unary(p);
    if (t.kind != TK_PLUS) {
        AstNode *operand = n;
        n = node(p, AST_UNARY, t.pos);
        n->op = t.kind;
        n->a = operand;
    }
    leave(p);
    return n;
}

typedef struct {
    TokKind ops[4];
} OpLevel;

/* Binary levels from loosest to tightest, C's:
 *   or := and ('||' and)*               and := bitor ('&&' bitor)*
 *   bitor := bitxor ('|' bitxor)*       bitxor := bitand ('^' bitand)*
 *   bitand := eq ('&' eq)*              eq := rel (('=='|'!=') rel)*
 *   rel := shift (('<'|'<='|'>'|'>=') shift)*
 *   shift := add (('<<'|'>>') add)*     add := mul (('+'|'-') mul)*
 *   mul := unary (('*'|'/'|'%') unary)* */
static const OpLevel levels[] = {
    { { TK_OROR } },
    { { TK_ANDAND } },
    { { TK_PIPE } },
    { { TK_CARET } },
    { { TK_AMP } },
    { { TK_EQ, TK_NE } },
    { { TK_LT, TK_LE, TK_GT, TK_GE } },
    { { TK_SHL, TK_SHR } },
    { { TK_PLUS, TK_MINUS } },
    { { TK_STAR, TK_SLASH, TK_PERCENT } },
};
enum { LEVEL_ADD = 8 };

static bool level_has(int level, TokKind k)
{
    for (int i = 0; i < 4; i++)
        if (levels[level].ops[i] == k && k != TK_EOF)
            return true;
    return false;
}

/* A chain a + b + c ... builds a left-leaning tree as deep as the chain is
 * long: each operator counts toward the depth limit. */
static AstNode *parse_binary(Parser *p, int level)
{
    if (level == (int)TSR_ARRAY_LEN(levels))
        return parse_unary(p);
    AstNode *lhs = parse_binary(p, level + 1);
    int levels_entered = 0;
    while (level_has(level, p->tok.kind) && !p->panic && enter(p)) {
        levels_entered++;
        Token t = p->tok;
        advance(p);
        AstNode *n = node(p, AST_BINARY, t.pos);
        n->op = t.kind;
        n->a = lhs;
        n->b = parse_binary(p, level + 1);
        lhs = n;
    }
    p->depth -= levels_entered;
    return lhs;
}

/* additive := add -- where a full expression would be ambiguous: inside
 * <...> (where '>' closes), slice lengths, loop bounds, dims */
static AstNode *parse_additive(Parser *p)
{
    if (!enter(p))
        return error_node(p, p->tok.pos);
    AstNode *n = parse_binary(p, LEVEL_ADD);
    leave(p);
    return n;
}

/* expr := or ['?' expr ':' expr] */
static AstNode *parse_expr(Parser *p)
{
    if (!enter(p))
        return error_node(p, p->tok.pos);
    AstNode *cond = parse_binary(p, 0);
    if (at(p, TK_QUESTION)) {
        AstNode *n = node(p, AST_TERNARY, p->tok.pos);
        advance(p);
        n->a = cond;
        n->b = parse_expr(p);
        expect(p, TK_COLON, "':' of the conditional expression");
        n->c = parse_expr(p);
        cond = n;
    }
    leave(p);
    return cond;
}

static bool starts_stmt(TokKind k)
{
    return k == TK_KW_LET || k == TK_KW_VAR || k == TK_KW_FOR || k == TK_KW_IF || k == TK_KW_WHILE || k == TK_KW_BREAK ||
           k == TK_KW_CONTINUE || k == TK_KW_RETURN;
}

/* Skips to the end of the current statement: past a ';', up to a '}' that
 * closes the enclosing block, or up to a keyword that begins a statement on a
 * new line (the usual sign of a forgotten ';'). */
static void sync_stmt(Parser *p)
{
    int depth = 0;
    while (!at(p, TK_EOF)) {
        if (depth == 0 && at(p, TK_SEMI)) {
            advance(p);
            break;
        }
        if (depth == 0 && starts_stmt(p->tok.kind) && p->tok.pos.line > p->prev_end.line)
            break;
        if (at(p, TK_LBRACE))
            depth++;
        if (at(p, TK_RBRACE)) {
            if (depth == 0)
                break;
            depth--;
            if (depth == 0) {
                advance(p);
                break;
            }
        }
        advance(p);
    }
    p->panic = false;
}

/* let_stmt := ('let' | 'var') IDENT '=' expr ';' */
static AstNode *parse_let(Parser *p)
{
    AstNode *n = node(p, at(p, TK_KW_LET) ? AST_LET : AST_VAR, p->tok.pos);
    advance(p);
    if (at(p, TK_IDENT)) {
        n->name = tok_text(p, &p->tok);
        n->pos = p->tok.pos;
        advance(p);
    } else {
        error_at_tok(p, "a variable name");
        return n;
    }
    if (!expect(p, TK_ASSIGN, "'='"))
        return n;
    n->a = parse_expr(p);
    expect_semi(p);
    return n;
}

/* for_stmt := 'for' IDENT 'in' expr '..' expr ['step' expr]
 *             ['pipeline' '(' expr {',' ('overlap' | 'pingpong') '=' expr} ')'] block */
static AstNode *parse_for(Parser *p)
{
    AstNode *n = node(p, AST_FOR, p->tok.pos);
    advance(p);
    if (!at(p, TK_IDENT)) {
        error_at_tok(p, "a loop variable name");
        return n;
    }
    n->name = tok_text(p, &p->tok);
    advance(p);
    if (!expect(p, TK_KW_IN, "'in'"))
        return n;
    n->a = parse_additive(p);
    if (!expect(p, TK_DOTDOT, "'..'"))
        return n;
    n->b = parse_additive(p);
    if (accept(p, TK_KW_STEP))
        n->c = parse_additive(p);
    if (at(p, TK_KW_PIPELINE)) {
        advance(p);
        if (expect(p, TK_LPAREN, "'('")) {
            n->d = parse_expr(p);
            while (accept(p, TK_COMMA)) { /* options: overlap = BOOL, pingpong = BOOL */
                const char *opt = at(p, TK_IDENT) ? tok_text(p, &p->tok) : "";
                AstNode **slot = !strcmp(opt, "overlap") ? &n->else_ : !strcmp(opt, "pingpong") ? &n->e : NULL;
                if (!slot) {
                    error_at_tok(p, "'overlap' or 'pingpong' (the pipeline's options)");
                    return n;
                }
                if (*slot) {
                    if (!p->panic)
                        diag_error(p->diag, p->tok.pos, "the pipeline's option '%s' is given twice", opt);
                    p->panic = true;
                    return n;
                }
                advance(p);
                if (!expect(p, TK_ASSIGN, "'='"))
                    return n;
                *slot = parse_expr(p);
            }
            expect(p, TK_RPAREN, "')'");
        }
    }
    if (p->panic)
        return n;
    n->body = parse_block(p);
    return n;
}

/* if_stmt := 'if' expr block ['else' (if_stmt | block)] */
static AstNode *parse_if(Parser *p)
{
    AstNode *n = node(p, AST_IF, p->tok.pos);
    if (!enter(p))
        return n;
    advance(p);
    n->a = parse_expr(p);
    if (!p->panic) {
        n->body = parse_block(p);
        if (accept(p, TK_KW_ELSE))
            n->else_ = at(p, TK_KW_IF) ? parse_if(p) : parse_block(p);
    }
    leave(p);
    return n;
}

/* while_stmt := 'while' expr block */
static AstNode *parse_while(Parser *p)
{
    AstNode *n = node(p, AST_WHILE, p->tok.pos);
    advance(p);
    n->a = parse_expr(p);
    if (!p->panic)
        n->body = parse_block(p);
    return n;
}

/* jump_stmt := ('break' | 'continue' | 'return') ';' */
static AstNode *parse_jump(Parser *p)
{
    AstNode *n = node(p, AST_JUMP, p->tok.pos);
    n->op = p->tok.kind;
    advance(p);
    expect_semi(p);
    return n;
}

/* stmt := let_stmt | for_stmt | while_stmt | if_stmt | jump_stmt | block
 *       | expr ['=' expr ['if' expr]] ';' */
static AstNode *parse_stmt(Parser *p)
{
    if (!enter(p))
        return NULL;
    AstNode *n;
    switch (p->tok.kind) {
    case TK_KW_WHILE: n = parse_while(p); break;
    case TK_KW_BREAK:
    case TK_KW_CONTINUE:
    case TK_KW_RETURN: n = parse_jump(p); break;
    case TK_KW_LET:
    case TK_KW_VAR: n = parse_let(p); break;
    case TK_KW_FOR: n = parse_for(p); break;
    case TK_KW_IF: n = parse_if(p); break;
    case TK_LBRACE: n = parse_block(p); break;
    default: {
        SrcPos pos = p->tok.pos;
        AstNode *lhs = parse_expr(p);
        if (at(p, TK_ASSIGN)) {
            n = node(p, AST_ASSIGN, p->tok.pos);
            advance(p);
            n->a = lhs;
            n->b = parse_expr(p);
            if (accept(p, TK_KW_IF)) /* a masked store: the mask */
                n->c = parse_expr(p);
        } else {
            n = node(p, AST_EXPR, pos);
            n->a = lhs;
        }
        expect_semi(p);
        break;
    }
    }
    leave(p);
    return n;
}

/* block := '{' stmt* '}' */
static AstNode *parse_block(Parser *p)
{
    AstNode *b = node(p, AST_BLOCK, p->tok.pos);
    if (!expect(p, TK_LBRACE, "'{'"))
        return b;
    while (!at(p, TK_RBRACE) && !at(p, TK_EOF) && !diag_full(p->diag)) {
        AstNode *s = parse_stmt(p);
        if (s)
            vec_push(p->arena, b->args, s);
        if (p->panic)
            sync_stmt(p);
    }
    /* At the end of the file only the innermost unclosed block is reported. */
    if (at(p, TK_EOF) && p->eof_reported) {
        p->panic = true;
        return b;
    }
    if (at(p, TK_EOF))
        p->eof_reported = true;
    expect_closing(p, TK_RBRACE, b->pos);
    return b;
}

/* cparam := IDENT ':' ('type' | 'int' | 'bool' | 'float') ['=' additive] */
static void parse_cparam(Parser *p, AstKernel *k)
{
    AstCParam cp = { 0 };
    cp.pos = p->tok.pos;
    if (!at(p, TK_IDENT)) {
        error_at_tok(p, "a compile-time parameter name");
        return;
    }
    cp.name = tok_text(p, &p->tok);
    advance(p);
    if (!expect(p, TK_COLON, "':'"))
        return;
    switch (p->tok.kind) {
    case TK_KW_TYPE: cp.kind = CPARAM_TYPE; break;
    case TK_KW_INT: cp.kind = CPARAM_INT; break;
    case TK_KW_BOOL: cp.kind = CPARAM_BOOL; break;
    case TK_KW_FLOAT: cp.kind = CPARAM_FLOAT; break;
    default: error_at_tok(p, "'type', 'int', 'bool' or 'float'"); return;
    }
    advance(p);
    if (accept(p, TK_ASSIGN))
        cp.deflt = parse_additive(p);
    vec_push(p->arena, k->cparams, cp);
}

/* param := IDENT ':' ['out'] (dtype | IDENT) ['[' expr (',' expr)* ']'] */
static void parse_param(Parser *p, AstKernel *k)
{
    AstParam pa = { 0 };
    pa.pos = p->tok.pos;
    if (!at(p, TK_IDENT)) {
        error_at_tok(p, "a parameter name");
        return;
    }
    pa.name = tok_text(p, &p->tok);
    advance(p);
    if (!expect(p, TK_COLON, "':'"))
        return;
    pa.is_out = accept(p, TK_KW_OUT);
    Token t = p->tok;
    if (is_dtype_kw(t.kind)) {
        pa.dtype = node(p, AST_DTYPE, t.pos);
        pa.dtype->ival = dtype_of_kw(t.kind);
        pa.dtype->name = dtype_name((DType)pa.dtype->ival);
    } else if (t.kind == TK_IDENT) {
        pa.dtype = node(p, AST_NAME, t.pos);
        pa.dtype->name = tok_text(p, &t);
    } else {
        error_at_tok(p, "a type");
        return;
    }
    advance(p);
    if (accept(p, TK_LBRACK)) {
        pa.is_tensor = true;
        parse_exprlist(p, &pa.dims, TK_RBRACK, parse_additive);
        expect(p, TK_RBRACK, "']'");
    }
    vec_push(p->arena, k->params, pa);
}

/* 'schedule' '(' expr [',' 'reverse' '=' expr] ')' */
static void parse_schedule(Parser *p, AstKernel *k)
{
    if (k->schedule_axis) {
        diag_error(p->diag, p->tok.pos, "the clause 'schedule' is given twice");
        p->panic = true;
        return;
    }
    advance(p); /* 'schedule' */
    SrcPos open = p->tok.pos;
    if (!expect(p, TK_LPAREN, "'(' after 'schedule'"))
        return;
    k->schedule_axis = parse_expr(p);
    if (!p->panic && accept(p, TK_COMMA)) {
        if (!at(p, TK_IDENT) || !tok_is(p, "reverse")) {
            error_at_tok(p, "'reverse' (the schedule's option)");
            return;
        }
        advance(p);
        if (!expect(p, TK_ASSIGN, "'='"))
            return;
        k->schedule_reverse = parse_expr(p);
    }
    if (!p->panic)
        expect_closing(p, TK_RPAREN, open);
}

/* kernel := 'kernel' IDENT ['<' cparam (',' cparam)* '>'] '(' [param (',' param)*] ')'
 *           'grid' '(' expr (',' expr)* ')' ['warps' additive] {clause} block
 * clause := ('regs' | 'min_blocks') additive | 'schedule' '(' expr [',' 'reverse' '=' expr] ')' */
static AstKernel *parse_kernel(Parser *p)
{
    AstKernel *k = arena_alloc(p->arena, sizeof *k);
    k->pos = p->tok.pos;
    advance(p); /* 'kernel' */
    if (!at(p, TK_IDENT)) {
        error_at_tok(p, "a kernel name");
        return k;
    }
    k->name = tok_text(p, &p->tok);
    k->pos = p->tok.pos;
    advance(p);
    if (accept(p, TK_LT)) {
        do {
            parse_cparam(p, k);
        } while (!p->panic && accept(p, TK_COMMA));
        if (!p->panic)
            expect(p, TK_GT, "',' or '>'");
    }
    if (!p->panic && expect(p, TK_LPAREN, "'('")) {
        if (!at(p, TK_RPAREN))
            do {
                parse_param(p, k);
            } while (!p->panic && accept(p, TK_COMMA));
        if (!p->panic)
            expect(p, TK_RPAREN, "',' or ')'");
    }
    if (!p->panic && expect(p, TK_KW_GRID, "'grid'")) {
        SrcPos open = p->tok.pos;
        if (expect(p, TK_LPAREN, "'('")) {
            parse_exprlist(p, &k->grid, TK_RPAREN, parse_expr);
            expect_closing(p, TK_RPAREN, open);
        }
    }
    if (!p->panic && accept(p, TK_KW_WARPS)) {
        if (at(p, TK_LBRACE)) {
            p->panic = true;
            diag_error(p->diag, p->prev_end, "expected the number of warps after 'warps'");
        } else {
            k->warps = parse_additive(p);
        }
    }
    /* the resource clauses and schedule: contextual words, not keywords */
    while (!p->panic && at(p, TK_IDENT) && (tok_is(p, "regs") || tok_is(p, "min_blocks") || tok_is(p, "schedule"))) {
        if (tok_is(p, "schedule")) {
            parse_schedule(p, k);
            continue;
        }
        bool regs = tok_is(p, "regs");
        advance(p);
        if (at(p, TK_LBRACE)) {
            p->panic = true;
            diag_error(p->diag, p->prev_end, "expected a number after '%s'", regs ? "regs" : "min_blocks");
        } else {
            *(regs ? &k->regs : &k->min_blocks) = parse_additive(p);
        }
    }
    if (!p->panic)
        k->body = parse_block(p);
    return k;
}

AstProgram *parse_program(Arena *arena, const Source *src, Diag *diag)
{
    Parser p = { 0 };
    p.arena = arena;
    p.diag = diag;
    lexer_init(&p.lx, src);
    advance(&p);
    AstProgram *prog = arena_alloc(arena, sizeof *prog);
    while (!at(&p, TK_EOF) && !diag_full(diag)) {
        if (at(&p, TK_KW_KERNEL)) {
            AstKernel *k = parse_kernel(&p);
            if (k->name && k->body)
                vec_push(arena, prog->kernels, k);
        } else {
            error_at_tok(&p, "'kernel'");
        }
        if (p.panic) {
            while (!at(&p, TK_EOF) && !at(&p, TK_KW_KERNEL))
                advance(&p);
            p.panic = false;
        }
    }
    if (prog->kernels.len == 0 && diag->nerrors == 0)
        diag_error(diag, p.tok.pos, "no kernel in this file");
    return prog;
}
