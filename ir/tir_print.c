/* The textual form of TIR: what `--emit tir` prints and golden tests compare. */
#include "tir.h"

static void indent(StrBuf *out, int depth)
{
    for (int i = 0; i < depth; i++)
        sb_puts(out, "  ");
}

static void print_val(StrBuf *out, ValId v) { sb_printf(out, "%%%d", v); }

static void print_vals(StrBuf *out, const ValId *v, int n)
{
    for (int i = 0; i < n; i++) {
        if (i)
            sb_puts(out, ", ");
        print_val(out, v[i]);
    }
}

static void print_block(StrBuf *out, TirFunc *f, BlockId b, int depth);

static void print_const(StrBuf *out, TirFunc *f, const TirInst *in)
{
    DType dt = tir_type(f, in->res[0]).dt;
    if (dt == DT_BOOL)
        sb_puts(out, in->ival ? " true" : " false");
    else if (dtype_is_float(dt))
        sb_printf(out, " %.9g", in->fval);
    else
        sb_printf(out, " %lld", (long long)in->ival);
}

static void print_mem(StrBuf *out, TirFunc *f, const TirInst *in)
{
    const TirParam *p = &f->params.data[in->param];
    sb_printf(out, " %s[", p->name);
    for (int d = 0; d < p->rank; d++) {
        if (d)
            sb_puts(out, ", ");
        print_val(out, in->args[d]);
        if (in->lens[d])
            sb_printf(out, " : +%d", in->lens[d]);
    }
    sb_putc(out, ']');
    if (in->op == TIR_STORE) {
        sb_puts(out, " = ");
        print_val(out, in->args[in->nargs - 1]);
    }
}

/* gather X[%1, %2], scatter add X[%1, %2] if %3 = %4 */
static void print_indexed(StrBuf *out, TirFunc *f, const TirInst *in)
{
    static const char *const kinds[] = { "", " add", " max", " min" };
    const TirParam *p = &f->params.data[in->param];
    if (in->op == TIR_SCATTER)
        sb_puts(out, kinds[in->kind]);
    sb_printf(out, " %s[", p->name);
    for (int d = 0; d < p->rank; d++) {
        if (d)
            sb_puts(out, ", ");
        print_val(out, in->args[d]);
    }
    sb_putc(out, ']');
    if (in->op == TIR_SCATTER) {
        sb_puts(out, " if ");
        print_val(out, in->args[p->rank]);
        sb_puts(out, " = ");
        print_val(out, in->args[p->rank + 1]);
    }
}

static void print_inst(StrBuf *out, TirFunc *f, InstId id, int depth)
{
    const TirInst *in = tir_inst(f, id);
    indent(out, depth);
    if (in->nres) {
        print_vals(out, in->res, in->nres);
        sb_puts(out, " = ");
    }
    sb_puts(out, tir_op_name(in->op));
    switch (in->op) {
    case TIR_CONST: print_const(out, f, in); break;
    case TIR_PARAM: sb_printf(out, " %s", f->params.data[in->param].name); break;
    case TIR_DIM: sb_printf(out, " %s", f->syms.data[in->sym].name); break;
    case TIR_PROGRAM_ID:
    case TIR_NUM_PROGRAMS: sb_printf(out, " %d", in->axis); break;
    case TIR_LOAD:
    case TIR_STORE: print_mem(out, f, in); break;
    case TIR_GATHER:
    case TIR_SCATTER: print_indexed(out, f, in); break;
    case TIR_PRINT:
    case TIR_ASSERT:
        sb_printf(out, " \"%s\"", f->texts.data[in->ival]);
        for (int i = 0; i < in->nargs; i++) {
            sb_putc(out, ' ');
            print_val(out, in->args[i]);
        }
        break;
    case TIR_ASYNC_COPY:
        sb_printf(out, " buf %d stage ", in->buf);
        print_val(out, in->args[in->nargs - 1]);
        print_mem(out, f, in);
        break;
    case TIR_SMEM_TILE:
        sb_printf(out, " buf %d stage ", in->buf);
        print_val(out, in->args[0]);
        break;
    case TIR_ASYNC_WAIT:
        if (in->nargs) {
            sb_puts(out, " stage ");
            print_val(out, in->args[0]);
            sb_printf(out, " later %lld", (long long)in->ival);
        } else {
            sb_puts(out, " all");
        }
        break;
    case TIR_ASYNC_COMMIT:
    case TIR_ASYNC_RELEASE:
    case TIR_ASYNC_ACQUIRE:
        sb_puts(out, " stage ");
        print_val(out, in->args[0]);
        break;
    case TIR_FOR: {
        const TirBlock *body = tir_block(f, in->blocks[0]);
        sb_puts(out, " ");
        print_val(out, body->args.data[0]);
        sb_puts(out, " = ");
        print_val(out, in->args[0]);
        sb_puts(out, " to ");
        print_val(out, in->args[1]);
        sb_puts(out, " step ");
        print_val(out, in->args[2]);
        if (in->nargs > 3) {
            sb_puts(out, " iter(");
            for (int i = 3; i < in->nargs; i++) {
                if (i > 3)
                    sb_puts(out, ", ");
                print_val(out, body->args.data[i - 2]);
                sb_puts(out, " = ");
                print_val(out, in->args[i]);
            }
            sb_putc(out, ')');
        }
        if (in->stages)
            sb_printf(out, " pipeline %d", in->stages);
        if (in->ival & TIR_LOOP_KEEP_ORDER)
            sb_puts(out, " keep_order");
        if (in->ival & TIR_LOOP_NO_PINGPONG)
            sb_puts(out, " no_pingpong");
        if (in->kind == TIR_FOR_EXIT)
            sb_puts(out, " while_yield"); /* stops after a yield of false */
        break;
    }
    case TIR_REDUCE:
        sb_printf(out, " %s", in->kind == REDUCE_SUM ? "sum" : in->kind == REDUCE_MAX ? "max" : "min");
        /* fall through */
    case TIR_EXPAND_DIMS:
        sb_printf(out, " axis %d", in->axis);
        if (in->nargs) {
            sb_putc(out, ' ');
            print_vals(out, in->args, in->nargs);
        }
        break;
    default:
        if (in->nargs) {
            sb_putc(out, ' ');
            print_vals(out, in->args, in->nargs);
        }
        break;
    }
    if (in->nres) {
        sb_puts(out, " : ");
        for (int i = 0; i < in->nres; i++) {
            if (i)
                sb_puts(out, ", ");
            ttype_print(out, tir_type(f, in->res[i]));
            const Layout *l = tir_layout(f, in->res[i]);
            if (l) {
                sb_putc(out, ' ');
                layout_print(out, l);
            }
        }
    }
    if (in->op == TIR_FOR) {
        sb_puts(out, " {\n");
        print_block(out, f, in->blocks[0], depth + 1);
        indent(out, depth);
        sb_putc(out, '}');
    } else if (in->op == TIR_IF) {
        sb_puts(out, " {\n");
        print_block(out, f, in->blocks[0], depth + 1);
        indent(out, depth);
        sb_puts(out, "} else {\n");
        print_block(out, f, in->blocks[1], depth + 1);
        indent(out, depth);
        sb_putc(out, '}');
    }
    sb_putc(out, '\n');
}

static void print_block(StrBuf *out, TirFunc *f, BlockId b, int depth)
{
    const TirBlock *bl = tir_block(f, b);
    for (int i = 0; i < bl->insts.len; i++)
        print_inst(out, f, bl->insts.data[i], depth);
}

void tir_print(StrBuf *out, TirFunc *f)
{
    sb_printf(out, "kernel %s", f->name);
    if (f->defines.len) {
        sb_putc(out, '<');
        for (int i = 0; i < f->defines.len; i++)
            sb_printf(out, "%s%s=%s", i ? ", " : "", f->defines.data[i].name, f->defines.data[i].value);
        sb_putc(out, '>');
    }
    sb_putc(out, '(');
    for (int i = 0; i < f->params.len; i++) {
        const TirParam *p = &f->params.data[i];
        sb_printf(out, "%s%s: %s%s", i ? ", " : "", p->name, p->is_out ? "out " : "", dtype_name(p->dt));
        if (p->is_tensor) {
            sb_putc(out, '[');
            for (int d = 0; d < p->rank; d++) {
                if (d)
                    sb_puts(out, ", ");
                if (p->dim_sym[d] != TIR_NONE)
                    sb_puts(out, f->syms.data[p->dim_sym[d]].name);
                else
                    sb_printf(out, "%lld", (long long)p->dim_const[d]);
            }
            sb_putc(out, ']');
        }
    }
    sb_printf(out, ") warps %d", f->warps);
    if (f->max_regs)
        sb_printf(out, " regs %d", f->max_regs);
    if (f->min_blocks)
        sb_printf(out, " min_blocks %d", f->min_blocks);
    if (f->tile_outer != TIR_NONE)
        sb_printf(out, " schedule(%d%s)", f->tile_outer, f->tile_reverse ? ", reverse = true" : "");
    sb_putc(out, '\n');
    for (int r = 0; r < f->tma.len; r++) { /* tensor maps code generation asks for (TirFunc.tma) */
        const TmaRequest *q = &f->tma.data[r];
        static const char *const swizzles[] = { "none", "32B", "64B", "128B" };
        bool known = q->param >= 0 && q->param < f->params.len;
        sb_printf(out, "tensor_map %d: %s box [", r, known ? f->params.data[q->param].name : "?");
        for (int d = 0; d < q->rank; d++)
            sb_printf(out, "%s%d", d ? ", " : "", q->box[d]);
        sb_printf(out, "] (innermost first) swizzle %s\n",
                  q->swizzle >= 0 && q->swizzle < 4 ? swizzles[q->swizzle] : "?");
    }
    sb_puts(out, "grid {\n");
    print_block(out, f, f->grid_block, 1);
    sb_puts(out, "  yield ");
    print_vals(out, f->grid, 3);
    sb_puts(out, "\n}\nbody {\n");
    print_block(out, f, f->body, 1);
    sb_puts(out, "}\n");
}

void tir_module_print(StrBuf *out, TirModule *m)
{
    for (int i = 0; i < m->funcs.len; i++) {
        if (i)
            sb_putc(out, '\n');
        tir_print(out, m->funcs.data[i]);
    }
}
