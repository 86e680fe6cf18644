/* The tile IR (ir/tir.c, tir_print.c, tir_verify.c): building, the
 * properties of types and ops, the printed form, and a verifier that accepts
 * well-formed IR and rejects each kind of malformed IR (without crashing on
 * it: ids out of range included). */
#include "testutil.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const SrcPos P0 = { 0, 1, 1 };

/* A small, valid function and the handles a test corrupts. */
typedef struct {
    TirFunc *f;
    ValId c0, c16, n, x, p, sp, y, acc, z, res, cond;
    InstId load, add, loop, yield, store, ifi, mul;
    BlockId body_blk, then_blk, else_blk;
} Fn;

static void add_tensor(TirFunc *f, const char *name, DType dt, bool out, int sym)
{
    TirParam p = { 0 };
    p.name = arena_strdup(&f->arena, name);
    p.pos = P0;
    p.is_tensor = true;
    p.is_out = out;
    p.dt = dt;
    p.rank = 1;
    p.dim_sym[0] = sym;
    vec_push(&f->arena, f->params, p);
}

/* kernel t(A: f32[N], O: out f32[N], s: f32, c: bool):
 *   grid (N)
 *   acc = A[0 : +16] + s; for i in 0 .. N step 16 { acc = acc * acc; }
 *   if c { yield acc } else { yield y };  O[0 : +16] = that */
static Fn build(void)
{
    Fn b;
    TirFunc *f = b.f = tir_func_new("t");
    TirSym sym = { arena_strdup(&f->arena, "N"), 0, 0 };
    vec_push(&f->arena, f->syms, sym);
    add_tensor(f, "A", DT_F32, false, 0);
    add_tensor(f, "O", DT_F32, true, 0);
    TirParam s = { 0 };
    s.name = "s";
    s.dt = DT_F32;
    vec_push(&f->arena, f->params, s);
    TirParam c = { 0 };
    c.name = "c";
    c.dt = DT_BOOL;
    vec_push(&f->arena, f->params, c);

    ValId gn = tir_emit(f, f->grid_block, TIR_DIM, P0, NULL, 0, ttype_scalar(DT_I32));
    tir_inst(f, tir_val(f, gn)->def)->sym = 0;
    ValId g1 = tir_const_int(f, f->grid_block, P0, DT_I32, 1);
    f->grid[0] = gn;
    f->grid[1] = f->grid[2] = g1;

    BlockId B = f->body;
    int s16[1] = { 16 };
    TType t16 = ttype_tile(DT_F32, 1, s16);
    b.c0 = tir_const_int(f, B, P0, DT_I32, 0);
    b.c16 = tir_const_int(f, B, P0, DT_I32, 16);
    b.n = tir_emit(f, B, TIR_DIM, P0, NULL, 0, ttype_scalar(DT_I32));
    tir_inst(f, tir_val(f, b.n)->def)->sym = 0;
    b.load = tir_append(f, B, TIR_LOAD, P0, &b.c0, 1, &t16, 1);
    tir_inst(f, b.load)->param = 0;
    tir_inst(f, b.load)->lens[0] = 16;
    b.x = tir_inst(f, b.load)->res[0];
    b.p = tir_emit(f, B, TIR_PARAM, P0, NULL, 0, ttype_scalar(DT_F32));
    tir_inst(f, tir_val(f, b.p)->def)->param = 2;
    b.sp = tir_emit(f, B, TIR_SPLAT, P0, &b.p, 1, t16);
    ValId xa[2] = { b.x, b.sp };
    b.y = tir_emit(f, B, TIR_ADD, P0, xa, 2, t16);
    b.add = tir_val(f, b.y)->def;

    b.body_blk = tir_block_new(f, TIR_NONE);
    ValId iv = tir_block_arg(f, b.body_blk, ttype_scalar(DT_I32));
    (void)iv;
    b.acc = tir_block_arg(f, b.body_blk, t16);
    ValId aa[2] = { b.acc, b.acc };
    b.z = tir_emit(f, b.body_blk, TIR_MUL, P0, aa, 2, t16);
    b.mul = tir_val(f, b.z)->def;
    b.yield = tir_append(f, b.body_blk, TIR_YIELD, P0, &b.z, 1, NULL, 0);
    ValId la[4] = { b.c0, b.n, b.c16, b.y };
    b.loop = tir_append(f, B, TIR_FOR, P0, la, 4, &t16, 1);
    tir_inst(f, b.loop)->blocks[0] = b.body_blk;
    tir_inst(f, b.loop)->stages = 2;
    tir_block(f, b.body_blk)->parent = b.loop;
    ValId loop_res = tir_inst(f, b.loop)->res[0];

    b.cond = tir_emit(f, B, TIR_PARAM, P0, NULL, 0, ttype_scalar(DT_BOOL));
    tir_inst(f, tir_val(f, b.cond)->def)->param = 3;
    b.then_blk = tir_block_new(f, TIR_NONE);
    b.else_blk = tir_block_new(f, TIR_NONE);
    tir_append(f, b.then_blk, TIR_YIELD, P0, &loop_res, 1, NULL, 0);
    tir_append(f, b.else_blk, TIR_YIELD, P0, &b.y, 1, NULL, 0);
    b.ifi = tir_append(f, B, TIR_IF, P0, &b.cond, 1, &t16, 1);
    tir_inst(f, b.ifi)->blocks[0] = b.then_blk;
    tir_inst(f, b.ifi)->blocks[1] = b.else_blk;
    tir_block(f, b.then_blk)->parent = b.ifi;
    tir_block(f, b.else_blk)->parent = b.ifi;
    b.res = tir_inst(f, b.ifi)->res[0];

    ValId sa[2] = { b.c0, b.res };
    b.store = tir_append(f, B, TIR_STORE, P0, sa, 2, NULL, 0);
    tir_inst(f, b.store)->param = 1;
    tir_inst(f, b.store)->lens[0] = 16;
    return b;
}

static char *print(TirFunc *f)
{
    StrBuf sb;
    sb_init(&sb);
    tir_print(&sb, f);
    return sb_take(&sb);
}

static void types(void **state)
{
    (void)state;
    int sh[2] = { 16, 64 };
    TType t = ttype_tile(DT_BF16, 2, sh), u = ttype_tile(DT_BF16, 2, sh), s = ttype_scalar(DT_I32);
    assert_true(ttype_eq(t, u));
    u.shape[1] = 32;
    assert_false(ttype_eq(t, u));
    u = t;
    u.dt = DT_F16;
    assert_false(ttype_eq(t, u));
    assert_false(ttype_eq(t, s));
    assert_int_equal(ttype_numel(t), 1024);
    assert_int_equal(ttype_numel(s), 1);
    StrBuf sb;
    sb_init(&sb);
    ttype_print(&sb, t);
    sb_putc(&sb, ' ');
    ttype_print(&sb, s);
    assert_string_equal(sb.data, "bf16[16, 64] i32");
    sb_free(&sb);
}

static void op_properties(void **state)
{
    (void)state;
    for (int op = 0; op < TIR_OP_COUNT; op++) {
        const char *name = tir_op_name((TirOp)op);
        assert_string_not_equal(name, "?");
        for (int j = 0; j < op; j++)
            assert_string_not_equal(name, tir_op_name((TirOp)j));
        bool bin = tir_op_is_binary((TirOp)op), un = tir_op_is_unary((TirOp)op);
        assert_false(bin && un);
        if (tir_op_is_compare((TirOp)op))
            assert_true(bin);
    }
    assert_string_equal(tir_op_name(TIR_OP_COUNT), "?");
    assert_true(tir_op_is_binary(TIR_ADD) && tir_op_is_binary(TIR_GE) && tir_op_is_binary(TIR_AND));
    assert_true(tir_op_is_compare(TIR_EQ) && !tir_op_is_compare(TIR_AND) && !tir_op_is_compare(TIR_MAX));
    assert_true(tir_op_is_unary(TIR_NEG) && tir_op_is_unary(TIR_CAST) && !tir_op_is_unary(TIR_SELECT));
    /* what passes may remove or merge */
    assert_true(tir_op_is_pure(TIR_ADD) && tir_op_is_pure(TIR_LOAD) && tir_op_is_pure(TIR_DOT));
    assert_false(tir_op_is_pure(TIR_STORE) || tir_op_is_pure(TIR_FOR) || tir_op_is_pure(TIR_IF) ||
                 tir_op_is_pure(TIR_YIELD));
}

static void constants(void **state)
{
    (void)state;
    TirFunc *f = tir_func_new("c");
    ValId h = tir_const_float(f, f->body, P0, DT_F16, 0.1);
    ValId b = tir_const_float(f, f->body, P0, DT_BF16, 1.0 / 3.0);
    ValId g = tir_const_float(f, f->body, P0, DT_F32, 0.1);
    ValId i = tir_const_int(f, f->body, P0, DT_I32, 7);
    ValId t = tir_const_int(f, f->body, P0, DT_BOOL, 5);
    ValId fi = tir_const_int(f, f->body, P0, DT_F16, 3);
    /* floats are rounded to their dtype when made */
    assert_true(tir_inst(f, tir_val(f, h)->def)->fval == (double)round_to_dtype(0.1f, DT_F16));
    assert_true(tir_inst(f, tir_val(f, h)->def)->fval == 0.0999755859375);
    assert_true(tir_inst(f, tir_val(f, b)->def)->fval == (double)round_to_dtype((float)(1.0 / 3.0), DT_BF16));
    assert_true(tir_inst(f, tir_val(f, g)->def)->fval == (double)0.1f);
    assert_int_equal(tir_inst(f, tir_val(f, i)->def)->ival, 7);
    assert_int_equal(tir_inst(f, tir_val(f, t)->def)->ival, 1); /* bool is 0 or 1 */
    assert_true(tir_inst(f, tir_val(f, fi)->def)->fval == 3.0);
    assert_int_equal(tir_type(f, h).dt, DT_F16);
    assert_int_equal(tir_type(f, h).rank, 0);
    /* results link back to their instruction; block arguments to their block */
    InstId d = tir_val(f, i)->def;
    assert_int_equal(tir_inst(f, d)->res[0], i);
    assert_int_equal(tir_val(f, i)->block, f->body);
    BlockId nb = tir_block_new(f, TIR_NONE);
    ValId a0 = tir_block_arg(f, nb, ttype_scalar(DT_I32)), a1 = tir_block_arg(f, nb, ttype_scalar(DT_F32));
    assert_int_equal(tir_val(f, a1)->def, TIR_NONE);
    assert_int_equal(tir_val(f, a1)->block, nb);
    assert_int_equal(tir_val(f, a0)->index, 0);
    assert_int_equal(tir_val(f, a1)->index, 1);
    assert_int_equal(tir_block(f, nb)->args.len, 2);
    tir_func_free(f);
}

static void printer(void **state)
{
    (void)state;
    Fn b = build();
    TirDefine d = { "BM", "64" };
    vec_push(&b.f->arena, b.f->defines, d);
    char *text = print(b.f);
    assert_string_equal(text, "kernel t<BM=64>(A: f32[N], O: out f32[N], s: f32, c: bool) warps 4\n"
                              "grid {\n"
                              "  %0 = dim N : i32\n"
                              "  %1 = const 1 : i32\n"
                              "  yield %0, %1, %1\n"
                              "}\n"
                              "body {\n"
                              "  %2 = const 0 : i32\n"
                              "  %3 = const 16 : i32\n"
                              "  %4 = dim N : i32\n"
                              "  %5 = load A[%2 : +16] : f32[16]\n"
                              "  %6 = param s : f32\n"
                              "  %7 = splat %6 : f32[16]\n"
                              "  %8 = add %5, %7 : f32[16]\n"
                              "  %12 = for %9 = %2 to %4 step %3 iter(%10 = %8) pipeline 2 : f32[16] {\n"
                              "    %11 = mul %10, %10 : f32[16]\n"
                              "    yield %11\n"
                              "  }\n"
                              "  %13 = param c : bool\n"
                              "  %14 = if %13 : f32[16] {\n"
                              "    yield %12\n"
                              "  } else {\n"
                              "    yield %8\n"
                              "  }\n"
                              "  store O[%2 : +16] = %14\n"
                              "}\n");
    free(text);
    tir_func_free(b.f);
    /* constants print by dtype; reductions and expand_dims with their attributes */
    TirFunc *f = tir_func_new("p");
    ValId one = tir_const_int(f, f->grid_block, P0, DT_I32, 1);
    f->grid[0] = f->grid[1] = f->grid[2] = one;
    tir_const_int(f, f->body, P0, DT_BOOL, 1);
    tir_const_float(f, f->body, P0, DT_F32, -0.0);
    tir_const_float(f, f->body, P0, DT_F32, 1e30);
    ValId st = tir_const_int(f, f->body, P0, DT_I32, -3);
    int s8[1] = { 8 }, s18[2] = { 1, 8 };
    ValId r = tir_emit(f, f->body, TIR_ARANGE, P0, &st, 1, ttype_tile(DT_I32, 1, s8));
    ValId e = tir_emit(f, f->body, TIR_EXPAND_DIMS, P0, &r, 1, ttype_tile(DT_I32, 2, s18));
    tir_inst(f, tir_val(f, e)->def)->axis = 0;
    ValId red = tir_emit(f, f->body, TIR_REDUCE, P0, &e, 1, ttype_tile(DT_I32, 1, s8 + 0));
    tir_inst(f, tir_val(f, red)->def)->axis = 0;
    tir_inst(f, tir_val(f, red)->def)->kind = REDUCE_MAX;
    ValId pid = tir_emit(f, f->body, TIR_PROGRAM_ID, P0, NULL, 0, ttype_scalar(DT_I32));
    tir_inst(f, tir_val(f, pid)->def)->axis = 2;
    text = print(f);
    assert_string_equal(text, "kernel p() warps 4\n"
                              "grid {\n"
                              "  %0 = const 1 : i32\n"
                              "  yield %0, %0, %0\n"
                              "}\n"
                              "body {\n"
                              "  %1 = const true : bool\n"
                              "  %2 = const -0 : f32\n"
                              "  %3 = const 1.00000002e+30 : f32\n"
                              "  %4 = const -3 : i32\n"
                              "  %5 = arange %4 : i32[8]\n"
                              "  %6 = expand_dims axis 0 %5 : i32[1, 8]\n"
                              "  %7 = reduce max axis 0 %6 : i32[8]\n"
                              "  %8 = program_id 2 : i32\n"
                              "}\n");
    assert_true(tir_verify(f, &(StrBuf){ 0 }));
    free(text);
    tir_func_free(f);
}

/* ------------------------------------------------------------- verifier */

static void valid_ir_verifies(void **state)
{
    (void)state;
    Fn b = build();
    StrBuf why;
    sb_init(&why);
    if (!tir_verify(b.f, &why))
        fail_msg("%s", why.data);
    sb_free(&why);
    tir_func_free(b.f);
}

typedef void (*Corrupt)(Fn *b);

static void expect_rejected(Corrupt corrupt, const char *why_part)
{
    Fn b = build();
    corrupt(&b);
    StrBuf why;
    sb_init(&why);
    if (tir_verify(b.f, &why))
        fail_msg("accepted malformed IR (expected: %s)", why_part);
    if (!strstr(why.data, why_part))
        fail_msg("expected '%s' in '%s'", why_part, why.data);
    assert_non_null(strstr(why.data, "in kernel t"));
    sb_free(&why);
    tir_func_free(b.f);
}

static void use_before_def(Fn *b) { tir_inst(b->f, b->add)->args[0] = b->z; /* defined in the loop body */ }
static void use_later_value(Fn *b) { tir_inst(b->f, b->add)->args[1] = b->res; }
static void bad_operand_id(Fn *b) { tir_inst(b->f, b->add)->args[1] = 100000; }
static void negative_operand_id(Fn *b) { tir_inst(b->f, b->add)->args[1] = -5; }
static void binary_type_mismatch(Fn *b) { tir_inst(b->f, b->add)->args[1] = b->p; }
static void binary_result_type(Fn *b) { tir_val(b->f, b->y)->type.dt = DT_F16; }
static void too_few_operands(Fn *b) { tir_inst(b->f, b->add)->nargs = 1; }
static void arithmetic_on_bool(Fn *b)
{
    ValId a[2] = { b->cond, b->cond };
    tir_emit(b->f, b->f->body, TIR_ADD, P0, a, 2, ttype_scalar(DT_BOOL));
}
static void rem_on_float(Fn *b) { tir_inst(b->f, b->add)->op = TIR_REM; }
static void and_on_float(Fn *b) { tir_inst(b->f, b->add)->op = TIR_AND; }
static void exp_of_int(Fn *b)
{
    TirFunc *f = b->f;
    tir_emit(f, f->body, TIR_EXP, P0, &b->c0, 1, ttype_scalar(DT_I32));
}
static void splat_of_tile(Fn *b) { tir_inst(b->f, tir_val(b->f, b->sp)->def)->args[0] = b->x; }
static void load_result_type(Fn *b) { tir_val(b->f, b->x)->type.shape[0] = 32; }
static void load_index_not_i32(Fn *b)
{
    tir_val(b->f, b->c16)->type.dt = DT_F32;
    tir_inst(b->f, b->load)->args[0] = b->c16;
}
static void load_of_scalar_param(Fn *b) { tir_inst(b->f, b->load)->param = 2; }
static void load_param_out_of_range(Fn *b) { tir_inst(b->f, b->load)->param = 99; }
static void store_to_input(Fn *b) { tir_inst(b->f, b->store)->param = 0; }
static void store_type(Fn *b) { tir_inst(b->f, b->store)->lens[0] = 8; }
static void store_index_count(Fn *b) { tir_inst(b->f, b->store)->nargs = 1; }
static void leaf_not_scalar(Fn *b) { tir_val(b->f, b->p)->type = tir_type(b->f, b->x); }
static void dim_unknown_symbol(Fn *b) { tir_inst(b->f, tir_val(b->f, b->n)->def)->sym = 3; }
static void param_is_tensor(Fn *b) { tir_inst(b->f, tir_val(b->f, b->p)->def)->param = 0; }
static void program_id_axis(Fn *b)
{
    ValId v = tir_emit(b->f, b->f->body, TIR_PROGRAM_ID, P0, NULL, 0, ttype_scalar(DT_I32));
    tir_inst(b->f, tir_val(b->f, v)->def)->axis = 3;
}
static void for_bound_type(Fn *b) { tir_inst(b->f, b->loop)->args[1] = b->p; }
static void for_carried_type(Fn *b) { tir_inst(b->f, b->loop)->args[3] = b->c0; }
static void for_missing_yield(Fn *b) { tir_block(b->f, b->body_blk)->insts.len = 1; }
static void for_yield_type(Fn *b) { tir_inst(b->f, b->yield)->args[0] = b->c0; }
static void for_yield_count(Fn *b) { tir_inst(b->f, b->yield)->nargs = 0; }
static void for_body_args(Fn *b) { tir_block(b->f, b->body_blk)->args.len = 1; }
static void for_empty_body(Fn *b) { tir_block(b->f, b->body_blk)->insts.len = 0; }
static void for_operand_count(Fn *b) { tir_inst(b->f, b->loop)->nargs = 2; }
static void if_block_with_args(Fn *b) { tir_block_arg(b->f, b->then_blk, ttype_scalar(DT_I32)); }
static void result_count(Fn *b) { tir_inst(b->f, tir_val(b->f, b->p)->def)->nres = 0; }
static void unknown_op(Fn *b) { tir_inst(b->f, b->add)->op = TIR_OP_COUNT; }
static void for_block_parent(Fn *b) { tir_block(b->f, b->body_blk)->parent = TIR_NONE; }
static void for_block_id(Fn *b) { tir_inst(b->f, b->loop)->blocks[0] = TIR_NONE; }
static void for_block_is_body(Fn *b) { tir_inst(b->f, b->loop)->blocks[0] = b->f->body; }
static void if_cond_type(Fn *b) { tir_inst(b->f, b->ifi)->args[0] = b->c0; }
static void if_cond_count(Fn *b) { tir_inst(b->f, b->ifi)->nargs = 0; }
static void if_block_id(Fn *b) { tir_inst(b->f, b->ifi)->blocks[1] = 77; }
static void if_shared_block(Fn *b) { tir_inst(b->f, b->ifi)->blocks[1] = b->then_blk; }
static void if_yield_type(Fn *b) { tir_val(b->f, b->res)->type.dt = DT_F16; }
static void yield_in_body(Fn *b) { tir_append(b->f, b->f->body, TIR_YIELD, P0, &b->y, 1, NULL, 0); }
static void yield_not_last(Fn *b) { tir_const_int(b->f, b->body_blk, P0, DT_I32, 1); }
static void value_escapes_block(Fn *b) { tir_inst(b->f, b->store)->args[1] = b->z; }
static void result_link(Fn *b) { tir_val(b->f, b->y)->def = b->load; }
static void result_id(Fn *b) { tir_inst(b->f, b->add)->res[0] = -1; }
static void block_lists_bad_inst(Fn *b) { vec_push(&b->f->arena, tir_block(b->f, b->f->body)->insts, 12345); }
static void block_arg_foreign(Fn *b) { tir_block(b->f, b->body_blk)->args.data[1] = b->y; }
static void grid_uses_tile(Fn *b)
{
    TirFunc *f = b->f;
    int s4[1] = { 4 };
    ValId z = tir_const_int(f, f->grid_block, P0, DT_I32, 0);
    tir_emit(f, f->grid_block, TIR_ARANGE, P0, &z, 1, ttype_tile(DT_I32, 1, s4));
}
static void grid_reads_program_id(Fn *b)
{
    tir_emit(b->f, b->f->grid_block, TIR_PROGRAM_ID, P0, NULL, 0, ttype_scalar(DT_I32));
}
static void grid_value_missing(Fn *b) { b->f->grid[1] = TIR_NONE; }
static void grid_value_from_body(Fn *b) { b->f->grid[2] = b->c0; }
static void grid_value_type(Fn *b)
{
    b->f->grid[0] = tir_const_float(b->f, b->f->grid_block, P0, DT_F32, 1.0);
}
static void dot_of_i32(Fn *b)
{
    TirFunc *f = b->f;
    int s[2] = { 16, 16 };
    ValId one = tir_const_int(f, f->body, P0, DT_I32, 1);
    ValId t = tir_emit(f, f->body, TIR_SPLAT, P0, &one, 1, ttype_tile(DT_I32, 2, s));
    ValId a[2] = { t, t };
    tir_emit(f, f->body, TIR_DOT, P0, a, 2, ttype_tile(DT_F32, 2, s));
}
static void reduce_axis(Fn *b)
{
    ValId r = tir_emit(b->f, b->f->body, TIR_REDUCE, P0, &b->x, 1, ttype_scalar(DT_F32));
    tir_inst(b->f, tir_val(b->f, r)->def)->axis = 1;
}
static void reduce_kind(Fn *b)
{
    ValId r = tir_emit(b->f, b->f->body, TIR_REDUCE, P0, &b->x, 1, ttype_scalar(DT_F32));
    tir_inst(b->f, tir_val(b->f, r)->def)->kind = 9;
}
static void expand_dims_axis(Fn *b)
{
    int s[2] = { 16, 1 };
    ValId e = tir_emit(b->f, b->f->body, TIR_EXPAND_DIMS, P0, &b->x, 1, ttype_tile(DT_F32, 2, s));
    tir_inst(b->f, tir_val(b->f, e)->def)->axis = 0;
}
static void broadcast_dim(Fn *b)
{
    int s[1] = { 32 };
    tir_emit(b->f, b->f->body, TIR_BROADCAST, P0, &b->x, 1, ttype_tile(DT_F32, 1, s));
}
static void transpose_shape(Fn *b)
{
    int s[2] = { 4, 8 };
    ValId t = tir_emit(b->f, b->f->body, TIR_SPLAT, P0, &b->p, 1, ttype_tile(DT_F32, 2, s));
    tir_emit(b->f, b->f->body, TIR_TRANSPOSE, P0, &t, 1, ttype_tile(DT_F32, 2, s));
}
static void select_cond(Fn *b)
{
    ValId a[3] = { b->x, b->x, b->x };
    tir_emit(b->f, b->f->body, TIR_SELECT, P0, a, 3, tir_type(b->f, b->x));
}

static void malformed_ir_is_rejected(void **state)
{
    (void)state;
    expect_rejected(use_before_def, "operand used where it is not defined");
    expect_rejected(use_later_value, "operand used where it is not defined");
    expect_rejected(value_escapes_block, "operand used where it is not defined");
    expect_rejected(bad_operand_id, "operand is not a value");
    expect_rejected(negative_operand_id, "operand is not a value");
    expect_rejected(binary_type_mismatch, "binary operands differ in type");
    expect_rejected(binary_result_type, "binary result type");
    expect_rejected(too_few_operands, "wrong number of operands");
    expect_rejected(arithmetic_on_bool, "operation not defined on this dtype");
    expect_rejected(rem_on_float, "operation not defined on this dtype");
    expect_rejected(and_on_float, "operation not defined on this dtype");
    expect_rejected(exp_of_int, "operation not defined on this dtype");
    expect_rejected(splat_of_tile, "splat of a non-scalar");
    expect_rejected(load_result_type, "load result type differs from the slice");
    expect_rejected(load_index_not_i32, "tensor index is not an i32 scalar");
    expect_rejected(load_of_scalar_param, "memory access to something that is not a tensor");
    expect_rejected(load_param_out_of_range, "memory access to something that is not a tensor");
    expect_rejected(store_to_input, "store to an input tensor");
    expect_rejected(store_type, "stored value's type differs from the slice");
    expect_rejected(store_index_count, "index count differs from the tensor's rank");
    expect_rejected(leaf_not_scalar, "leaf value must be a scalar");
    expect_rejected(dim_unknown_symbol, "unknown symbol");
    expect_rejected(param_is_tensor, "param is not a scalar parameter");
    expect_rejected(program_id_axis, "axis out of range");
    expect_rejected(for_bound_type, "loop bound is not an i32 scalar");
    expect_rejected(for_carried_type, "loop-carried types differ");
    expect_rejected(for_missing_yield, "nested block's yield does not match");
    expect_rejected(for_yield_type, "yielded type differs");
    expect_rejected(for_yield_count, "nested block's yield does not match");
    expect_rejected(for_body_args, "loop body arguments");
    expect_rejected(for_empty_body, "nested block does not end in yield");
    expect_rejected(for_operand_count, "for operands");
    expect_rejected(if_block_with_args, "if block");
    expect_rejected(result_count, "wrong number of results");
    expect_rejected(unknown_op, "unknown op");
    expect_rejected(for_block_parent, "loop body arguments");
    expect_rejected(for_block_id, "nested block is not a block of its own");
    expect_rejected(for_block_is_body, "nested block is not a block of its own");
    expect_rejected(if_cond_type, "if condition is not a bool scalar");
    expect_rejected(if_cond_count, "if condition is not a bool scalar");
    expect_rejected(if_block_id, "nested block is not a block of its own");
    expect_rejected(if_shared_block, "if block used for both branches");
    expect_rejected(if_yield_type, "yielded type differs");
    expect_rejected(yield_in_body, "yield must end a nested block");
    expect_rejected(yield_not_last, "yield must end a nested block");
    expect_rejected(result_link, "result's definition link is wrong");
    expect_rejected(result_id, "result is not a value");
    expect_rejected(block_lists_bad_inst, "which is not an instruction");
    expect_rejected(block_arg_foreign, "is not its own");
    expect_rejected(grid_uses_tile, "grid code must be scalar host arithmetic");
    expect_rejected(grid_reads_program_id, "grid code must be scalar host arithmetic");
    expect_rejected(grid_value_missing, "grid size 1 is not an i32 scalar of the grid block");
    expect_rejected(grid_value_from_body, "grid size 2 is not an i32 scalar of the grid block");
    expect_rejected(grid_value_type, "grid size 0 is not an i32 scalar of the grid block");
    expect_rejected(dot_of_i32, "bad dot operands");
    expect_rejected(reduce_axis, "bad reduce");
    expect_rejected(reduce_kind, "bad reduce");
    expect_rejected(expand_dims_axis, "bad expand_dims");
    expect_rejected(broadcast_dim, "broadcast of a dim that is not 1");
    expect_rejected(transpose_shape, "bad transpose");
    expect_rejected(select_cond, "select operands disagree");
}

/* Everything sema builds for the production kernel verifies (the pipeline
 * dies on a verifier failure, so compiling is the check). */
static void attention_verifies(void **state)
{
    (void)state;
    const char *variants[][2] = { { "f16", "true" }, { "bf16", "false" } };
    for (int i = 0; i < 2; i++) {
        Define defs[3] = { { "T", variants[i][0] }, { "D", "128" }, { "CAUSAL", variants[i][1] } };
        TirModule *m = compile_file_or_fail("kernels/attention.tsr", defs, 3);
        StrBuf why;
        sb_init(&why);
        assert_true(tir_verify(m->funcs.data[0], &why));
        sb_free(&why);
        tir_module_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(types),
        cmocka_unit_test(op_properties),
        cmocka_unit_test(constants),
        cmocka_unit_test(printer),
        cmocka_unit_test(valid_ir_verifies),
        cmocka_unit_test(malformed_ir_is_rejected),
        cmocka_unit_test(attention_verifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
