/* Printers for the first two stages: the token stream and the AST (as
 * S-expressions). `tessera compile --emit tokens|ast` and the golden tests
 * use them. */
#include "ast.h"
#include "dtype.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cparam_kind_name(CParamKind k)
{
    static const char *const names[] = { "type", "int", "bool", "float" };
    return names[k];
}

void tokens_print(StrBuf *out, const Source *src)
{
    Lexer lx;
    lexer_init(&lx, src);
    for (;;) {
        Token t = lexer_next(&lx);
        sb_printf(out, "%d:%d %s", t.pos.line, t.pos.col, tok_kind_ident(t.kind));
        if (t.kind == TK_ERROR) {
            sb_puts(out, " (");
            tok_error_message(&t, out);
            sb_putc(out, ')');
        }
        if (t.kind == TK_IDENT || t.kind == TK_INT || t.kind == TK_FLOAT || t.kind == TK_STRING || t.kind == TK_ERROR) {
            sb_puts(out, " '");
            for (int i = 0; i < t.len; i++) {
                unsigned char c = (unsigned char)t.start[i];
                if (c >= 32 && c < 127 && c != '\'' && c != '\\')
                    sb_putc(out, (char)c);
                else
                    sb_printf(out, "\\x%02x", c);
            }
            sb_putc(out, '\'');
        }
        sb_putc(out, '\n');
        if (t.kind == TK_EOF)
            break;
    }
}

static const char *op_text(TokKind k)
{
    switch (k) {
    case TK_PLUS: return "+";
    case TK_MINUS: return "-";
    case TK_STAR: return "*";
    case TK_SLASH: return "/";
    case TK_PERCENT: return "%";
    case TK_BANG: return "!";
    case TK_EQ: return "==";
    case TK_NE: return "!=";
    case TK_LT: return "<";
    case TK_LE: return "<=";
    case TK_GT: return ">";
    case TK_GE: return ">=";
    case TK_ANDAND: return "&&";
    case TK_OROR: return "||";
    case TK_AMP: return "&";
    case TK_PIPE: return "|";
    case TK_CARET: return "^";
    case TK_TILDE: return "~";
    case TK_SHL: return "<<";
    case TK_SHR: return ">>";
    default: return "?";
    }
}

static void print_node(StrBuf *out, const AstNode *n, int indent);

/* The shortest decimal that reads back as v, always with a '.' or an
 * exponent so that 6.0 does not print as the integer 6. */
static void print_float(StrBuf *out, double v)
{
    char buf[64];
    double mag = fabs(v);
    bool plain = mag == 0 || (mag >= 1e-4 && mag < 1e16); /* 2500.0 rather than 2.5e+03 */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, plain ? "%.*f" : "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    sb_puts(out, buf);
    if (!strpbrk(buf, ".eni")) /* not 1.5, 1e+30, inf or nan */
        sb_puts(out, ".0");
}

static void print_list(StrBuf *out, const AstList *l, int indent)
{
    for (int i = 0; i < l->len; i++) {
        sb_putc(out, ' ');
        print_node(out, l->data[i], indent);
    }
}

static void newline(StrBuf *out, int indent)
{
    sb_putc(out, '\n');
    for (int i = 0; i < indent; i++)
        sb_puts(out, "  ");
}

static void print_node(StrBuf *out, const AstNode *n, int indent)
{
    if (!n) {
        sb_puts(out, "()");
        return;
    }
    switch (n->kind) {
    case AST_INT: sb_printf(out, "%lld", (long long)n->ival); break;
    case AST_FLOAT: print_float(out, n->fval); break;
    case AST_BOOL: sb_puts(out, n->ival ? "true" : "false"); break;
    case AST_INF: sb_puts(out, "inf"); break;
    case AST_STRING: sb_printf(out, "\"%s\"", n->name); break;
    case AST_NAME: sb_puts(out, n->name); break;
    case AST_DTYPE: sb_puts(out, n->name); break;
    case AST_UNARY:
        sb_printf(out, "(%s ", op_text(n->op));
        print_node(out, n->a, indent);
        sb_putc(out, ')');
        break;
    case AST_BINARY:
        sb_printf(out, "(%s ", op_text(n->op));
        print_node(out, n->a, indent);
        sb_putc(out, ' ');
        print_node(out, n->b, indent);
        sb_putc(out, ')');
        break;
    case AST_TERNARY:
        sb_puts(out, "(? ");
        print_node(out, n->a, indent);
        sb_putc(out, ' ');
        print_node(out, n->b, indent);
        sb_putc(out, ' ');
        print_node(out, n->c, indent);
        sb_putc(out, ')');
        break;
    case AST_CALL:
        sb_printf(out, "(call %s", n->name);
        if (n->has_targs) {
            sb_puts(out, " (targs");
            print_list(out, &n->targs, indent);
            sb_putc(out, ')');
        }
        if (n->has_shape) {
            sb_puts(out, " (shape");
            print_list(out, &n->shape, indent);
            sb_putc(out, ')');
        }
        print_list(out, &n->args, indent);
        sb_putc(out, ')');
        break;
    case AST_INDEX:
        sb_puts(out, "(index ");
        print_node(out, n->a, indent);
        print_list(out, &n->args, indent);
        sb_putc(out, ')');
        break;
    case AST_SLICE:
        sb_puts(out, "(slice ");
        print_node(out, n->a, indent);
        sb_puts(out, " +");
        print_node(out, n->b, indent);
        sb_putc(out, ')');
        break;
    case AST_FULL: sb_puts(out, ":"); break;
    case AST_NEWAXIS: sb_puts(out, "None"); break;
    case AST_LET:
    case AST_VAR:
        sb_printf(out, "(%s %s ", n->kind == AST_LET ? "let" : "var", n->name);
        print_node(out, n->a, indent);
        sb_putc(out, ')');
        break;
    case AST_ASSIGN:
        sb_puts(out, "(= ");
        print_node(out, n->a, indent);
        sb_putc(out, ' ');
        print_node(out, n->b, indent);
        if (n->c) {
            sb_puts(out, " if ");
            print_node(out, n->c, indent);
        }
        sb_putc(out, ')');
        break;
    case AST_EXPR:
        sb_puts(out, "(expr ");
        print_node(out, n->a, indent);
        sb_putc(out, ')');
        break;
    case AST_FOR:
        sb_printf(out, "(for %s ", n->name);
        print_node(out, n->a, indent);
        sb_putc(out, ' ');
        print_node(out, n->b, indent);
        if (n->c) {
            sb_puts(out, " (step ");
            print_node(out, n->c, indent);
            sb_putc(out, ')');
        }
        if (n->d) {
            sb_puts(out, " (pipeline ");
            print_node(out, n->d, indent);
            if (n->else_) {
                sb_puts(out, " (overlap ");
                print_node(out, n->else_, indent);
                sb_putc(out, ')');
            }
            if (n->e) {
                sb_puts(out, " (pingpong ");
                print_node(out, n->e, indent);
                sb_putc(out, ')');
            }
            sb_putc(out, ')');
        }
        newline(out, indent + 1);
        print_node(out, n->body, indent + 1);
        sb_putc(out, ')');
        break;
    case AST_WHILE:
        sb_puts(out, "(while ");
        print_node(out, n->a, indent);
        newline(out, indent + 1);
        print_node(out, n->body, indent + 1);
        sb_putc(out, ')');
        break;
    case AST_JUMP:
        sb_printf(out, "(%s)", n->op == TK_KW_BREAK ? "break" : n->op == TK_KW_CONTINUE ? "continue" : "return");
        break;
    case AST_IF:
        sb_puts(out, "(if ");
        print_node(out, n->a, indent);
        newline(out, indent + 1);
        print_node(out, n->body, indent + 1);
        if (n->else_) {
            newline(out, indent + 1);
            print_node(out, n->else_, indent + 1);
        }
        sb_putc(out, ')');
        break;
    case AST_BLOCK:
        sb_puts(out, "(block");
        for (int i = 0; i < n->args.len; i++) {
            newline(out, indent + 1);
            print_node(out, n->args.data[i], indent + 1);
        }
        sb_putc(out, ')');
        break;
    }
}

void ast_print(StrBuf *out, const AstProgram *prog)
{
    for (int i = 0; i < prog->kernels.len; i++) {
        const AstKernel *k = prog->kernels.data[i];
        sb_printf(out, "(kernel %s", k->name);
        newline(out, 1);
        sb_puts(out, "(cparams");
        for (int j = 0; j < k->cparams.len; j++) {
            const AstCParam *c = &k->cparams.data[j];
            sb_printf(out, " (%s %s", c->name, cparam_kind_name(c->kind));
            if (c->deflt) {
                sb_puts(out, " = ");
                print_node(out, c->deflt, 1);
            }
            sb_putc(out, ')');
        }
        sb_putc(out, ')');
        newline(out, 1);
        sb_puts(out, "(params");
        for (int j = 0; j < k->params.len; j++) {
            const AstParam *pa = &k->params.data[j];
            sb_printf(out, " (%s %s%s", pa->name, pa->is_out ? "out " : "", pa->dtype->name);
            if (pa->is_tensor) {
                sb_puts(out, " [");
                for (int d = 0; d < pa->dims.len; d++) {
                    if (d)
                        sb_putc(out, ' ');
                    print_node(out, pa->dims.data[d], 1);
                }
                sb_putc(out, ']');
            }
            sb_putc(out, ')');
        }
        sb_putc(out, ')');
        newline(out, 1);
        sb_puts(out, "(grid");
        print_list(out, &k->grid, 1);
        sb_putc(out, ')');
        const AstNode *clauses[3] = { k->warps, k->regs, k->min_blocks };
        static const char *const words[3] = { "warps", "regs", "min_blocks" };
        for (int c = 0; c < 3; c++) {
            if (!clauses[c])
                continue;
            newline(out, 1);
            sb_printf(out, "(%s ", words[c]);
            print_node(out, clauses[c], 1);
            sb_putc(out, ')');
        }
        if (k->schedule_axis) {
            newline(out, 1);
            sb_puts(out, "(schedule ");
            print_node(out, k->schedule_axis, 1);
            if (k->schedule_reverse) {
                sb_puts(out, " (reverse ");
                print_node(out, k->schedule_reverse, 1);
                sb_putc(out, ')');
            }
            sb_putc(out, ')');
        }
        newline(out, 1);
        print_node(out, k->body, 1);
        sb_puts(out, ")\n");
    }
}
