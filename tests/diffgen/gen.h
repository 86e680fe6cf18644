/* Random well-typed Tessera programs for differential testing (issue 20).
 *
 * gen_program() builds one kernel as a small tree of statements and typed
 * expressions; prog_print() writes it as a .tsr file whose header lines say
 * how to run it (`//! -D NAME=VALUE ...` compile-time values, `//@ NAME=VALUE
 * ...` symbolic dimensions and scalar arguments, `//% ABS_TOL ...` the
 * tolerance of each output). The tree is kept so that the reducer
 * (reduce.c) can shrink a failing program and print it again.
 *
 * Every expression carries what the tolerance needs: a bound on its
 * magnitude and on how far two correct implementations may drift apart
 * (rounding order of sums and dots, fused multiply-adds, approximate
 * exp/log), and whether it is exact (the same bits everywhere). Only exact
 * values reach comparisons, conversions to i32 and run-time conditions, so
 * both devices always take the same branches; integer programs are compared
 * exactly. */
#ifndef TSR_DIFFGEN_GEN_H
#define TSR_DIFFGEN_GEN_H

#include "testutil.h"

/* The tile dimensions a type may have: 1 or one of the compile-time
 * parameters BM, BN, BK (the tiles along the symbolic dims M, N, K). */
typedef enum { DIM_1, DIM_BM, DIM_BN, DIM_BK, DIM_COUNT } Dim;

typedef struct {
    DType dt;
    int rank; /* 0, 1 or 2 */
    Dim d[2];
} Ty;

/* An expression: tmpl is its text with $0, $1, $2 standing for the kids. */
typedef struct Node Node;
struct Node {
    Ty ty;
    char *tmpl;
    Node *kid[3];
    int nkids;
    bool exact;
    double mag, err; /* bounds: |value| <= mag, drift between devices <= err */
};

/* ST_WHILE: `var H = 0; while H < 3 { H = H + 1; BODY }` (head: the
 * counter's name); ST_JUMP: `break;`, `continue;`, `return;` (head); ST_CALL:
 * a statement call (atomics, device_print, device_assert) written by e. */
typedef enum { ST_LET, ST_VAR, ST_ASSIGN, ST_STORE, ST_FOR, ST_IF, ST_BLOCK, ST_WHILE, ST_JUMP, ST_CALL } StKind;

typedef struct Stmt Stmt;
typedef VEC(Stmt *) StmtList;
struct Stmt {
    StKind kind;
    char *head;        /* "let x = ", "O0[...] = ", "for k in 0 .. K step BK", "if " */
    Node *e;           /* the value, or the condition of an if */
    StmtList body, els; /* for/if/block bodies; els: the else branch of an if */
    int out;           /* ST_STORE: which output */
};

/* The strides of a tensor at launch (check.c makes them; `//~` lines):
 * contiguous; rows padded to a multiple of 16 bytes plus 16 (so vectors and
 * tensor maps apply whatever the sizes); the first two dims swapped in
 * memory (rank >= 3, the last stays contiguous); the first dim broadcast
 * (stride 0, inputs only). */
typedef enum { MEM_DENSE, MEM_PADDED, MEM_SWAPPED, MEM_BROADCAST, MEM_COUNT } MemLayout;

/* A kernel parameter (a tensor, or a scalar when rank is 0). */
typedef struct {
    char name[8];
    DType dt;
    int rank;
    char dims[4][4]; /* symbolic "M", "N", "K", "L", "G0", "G1", or constant "2", "BM" */
    bool out;
    bool zeroed;     /* outputs updated by atomics: start as zeros, not poison */
    bool specials;   /* an fp8 input named XN*: every code, NaN and infinity included (check.c),
                      * read only by the store of its conversion (no magnitude bound holds) */
    MemLayout layout; /* how the tensor passed at launch lies in memory */
    double tol;      /* outputs: absolute tolerance */
    double value;    /* scalars: the argument */
} Param;

typedef struct {
    Param params[24];
    int nparams;
    DType type_param; /* the dtype of T */
    int bm, bn, bk, warps, depth; /* compile-time values (depth: pipeline) */
    int sizes[4];     /* M, N, K, L (L: the third grid axis) */
    int regs, min_blocks; /* resource clauses (0: none) */
    double fscalar;   /* the f32 scalar argument s */
    int iscalar;      /* the i32 scalar argument t */
    int bscalar;      /* the bool scalar argument b */
    double cfloat;    /* the float compile-time parameter F */
    bool cbool;       /* the bool compile-time parameter B */
    bool grid3;       /* a third grid axis, of size L: outputs get a leading L dim */
    bool via_defines; /* compile-time values given as -D (else as defaults) */
    bool gemm_bt;     /* the GEMM's B operand is an [N, K] tensor, transposed */
    bool gemm_at;     /* the GEMM's A operand is a [K, M] tensor, transposed (fp8 GEMMs) */
    bool assert_fails; /* starts with a device_assert that fails in program (0, 0) (`//&` line) */
    StmtList body;
    uint64_t seed;
} Program;

/* Features the generator can emit, counted for the coverage table of
 * tests/README.md, which `fuzz-diff --coverage-table` prints from this list
 * (test_diffgen checks that the table names exactly these): name, section
 * (S statements, O operators and indexing, B built-ins, T types,
 * parameters, tensors and launches) and what it is. */
#define GEN_FEATURES(X)                                                                                        \
    X(st_let, S, "`let NAME = EXPR;`") \
    X(st_let_dtype, S, "`let U = f32;` and `U(x)`") \
    X(st_let_untyped, S, "`let c = 1.5;` (an untyped constant)") \
    X(st_var, S, "`var NAME = EXPR;`") \
    X(st_var_natural, S, "`var n = 0;` / `var x = 0.0;` (natural dtype)") \
    X(st_assign, S, "`NAME = EXPR;` (also loop-carried, in branches)") \
    X(st_store_tile, S, "`T[a : +BM, b : +BN] = tile;`") \
    X(st_store_broadcast, S, "store of a broadcast value (`[BM, 1]`, scalar)") \
    X(st_store_scalar, S, "`T[i, j] = scalar;`") \
    X(st_store_transposed, S, "store into a transposed slice") \
    X(st_for, S, "`for i in LO .. HI { }`") \
    X(st_for_step, S, "`step S`") \
    X(st_for_runtime_bound, S, "run-time bounds (`0 .. t`)") \
    X(st_pipeline, S, "`pipeline(P)`") \
    X(st_pipeline_options, S, "`pipeline(P, overlap = B, pingpong = B)` (on the GEMM loop)") \
    X(st_if_runtime, S, "run-time `if`") \
    X(st_if_else, S, "`else`") \
    X(st_else_if, S, "`else if`") \
    X(st_if_compiletime, S, "compile-time `if` (on `BM`, `B`, `F`, `W`)") \
    X(st_block, S, "`{ ... }`") \
    X(st_scatter, S, "scatters: `O[rows, cols] = v;` with index tiles") \
    X(st_store_masked, S, "masked stores `O[...] = v if mask;`") \
    X(st_atomic_add, S, "`atomic_add(A[...], v [, mask]);`") \
    X(st_atomic_add_float, S, "`atomic_add` of f32 and f16 (order-independent tolerance)") \
    X(st_atomic_max, S, "`atomic_max`") \
    X(st_atomic_min, S, "`atomic_min`") \
    X(st_atomic_indexed, S, "atomics at coordinates from an integer tile (repeats included)") \
    X(st_atomic_masked, S, "atomics with a mask") \
    X(st_device_print, S, "`device_print(\"...\", ...);`") \
    X(st_device_assert, S, "`device_assert(c, \"...\");` of the bounds the generator knows") \
    X(st_device_assert_fails, S, "a `device_assert` that fails: every configuration must report it (`//&` line)") \
    X(st_while, S, "`while COND { }`") \
    X(st_break, S, "`break;`") \
    X(st_continue, S, "`continue;`") \
    X(st_return, S, "`return;`") \
    X(st_for_runtime_step, S, "run-time steps (`step t`, `step num_programs(0)`, 0 included)") \
    X(clause_regs, S, "`regs R`") \
    X(clause_min_blocks, S, "`min_blocks B`") \
    X(op_add, O, "`+`") \
    X(op_sub, O, "`-`") \
    X(op_mul, O, "`*`") \
    X(op_div, O, "`/`") \
    X(op_rem, O, "`%`") \
    X(op_neg, O, "prefix `-`") \
    X(op_plus, O, "prefix `+`") \
    X(op_not, O, "`!`") \
    X(op_and, O, "`&&`") \
    X(op_or, O, "`\\|\\|`") \
    X(op_eq, O, "`==`") \
    X(op_ne, O, "`!=`") \
    X(op_lt, O, "`<`") \
    X(op_le, O, "`<=`") \
    X(op_gt, O, "`>`") \
    X(op_ge, O, "`>=`") \
    X(op_cond, O, "`c ? a : b` (run-time)") \
    X(op_index_none, O, "`x[:, None]`, `x[None, :]`") \
    X(op_index_none_scalar, O, "`s[None]`, `s[None, None]` (a scalar as a `[1]` or `[1, 1]` tile)") \
    X(bcast_scalar, O, "scalar broadcast to a tile") \
    X(op_cond_compiletime, O, "`B ? a : b` (compile-time)") \
    X(op_bitand, O, "`&` on integers") \
    X(op_bitor, O, "`\\|` on integers") \
    X(op_bitxor, O, "`^` on integers") \
    X(op_bitnot, O, "`~`") \
    X(op_shl, O, "`<<` (counts past the width too)") \
    X(op_shr, O, "`>>` (arithmetic and logical)") \
    X(op_bool_bits, O, "`&`, `\\|`, `^` on bools") \
    X(fn_program_id, B, "`program_id`") \
    X(fn_num_programs, B, "`num_programs`") \
    X(fn_cdiv, B, "`cdiv`") \
    X(fn_min, B, "`min`") \
    X(fn_max, B, "`max`") \
    X(fn_exp, B, "`exp`") \
    X(fn_exp2, B, "`exp2`") \
    X(fn_log, B, "`log`") \
    X(fn_log2, B, "`log2`") \
    X(fn_sqrt, B, "`sqrt`") \
    X(fn_rsqrt, B, "`rsqrt`") \
    X(fn_abs, B, "`abs`") \
    X(fn_where, B, "`where`") \
    X(fn_dot_tc, B, "`dot` on the tensor cores") \
    X(fn_dot_fma, B, "`dot` on the CUDA cores") \
    X(fn_transpose, B, "`transpose`") \
    X(fn_rowsum, B, "`rowsum`") \
    X(fn_rowmax, B, "`rowmax`") \
    X(fn_rowmin, B, "`rowmin`") \
    X(fn_colsum, B, "`colsum`") \
    X(fn_colmax, B, "`colmax`") \
    X(fn_colmin, B, "`colmin`") \
    X(fn_reduce_sum_0, B, "`reduce_sum(x, 0)`") \
    X(fn_reduce_sum_1, B, "`reduce_sum(x, 1)`") \
    X(fn_reduce_sum_1d, B, "`reduce_sum(v)` of a vector") \
    X(fn_reduce_max, B, "`reduce_max`") \
    X(fn_reduce_min, B, "`reduce_min`") \
    X(fn_zeros, B, "`zeros<T>[...]`") \
    X(fn_ones, B, "`ones<T>[...]`") \
    X(fn_full, B, "`full<T>[...](v)`") \
    X(fn_full_runtime, B, "`full<T>[...](v)` with a run-time `v`") \
    X(fn_arange, B, "`arange<N>(s)`, `arange<N>()`, `arange<N>`") \
    X(cast_f16, B, "`f16(x)`") \
    X(cast_bf16, B, "`bf16(x)`") \
    X(cast_f32, B, "`f32(x)`") \
    X(cast_i32, B, "`i32(x)`") \
    X(cast_bool, B, "`bool(x)`") \
    X(cast_type_param, B, "`T(x)`") \
    X(cast_i8, B, "`i8(x)`") \
    X(cast_u8, B, "`u8(x)`") \
    X(cast_u32, B, "`u32(x)`") \
    X(cast_i64, B, "`i64(x)`") \
    X(cast_e4m3, B, "`e4m3(x)` (rounding, saturation)") \
    X(cast_e5m2, B, "`e5m2(x)` (rounding, saturation)") \
    X(fn_dot_fp8, B, "`dot` of fp8 tiles (`e4m3` by `e5m2` too)") \
    X(dot_fp8_wgmma, B, "fp8 `dot` of a shape sm_90a's wgmma m64nNk32 takes (whole warpgroups along M, N a multiple of 8, K of 32)") \
    X(fn_umulhi, B, "`umulhi`") \
    X(fn_tanh, B, "`tanh`") \
    X(fn_sigmoid, B, "`sigmoid`") \
    X(fn_erf, B, "`erf`") \
    X(fn_sin, B, "`sin`") \
    X(fn_cos, B, "`cos`") \
    X(fn_log1p, B, "`log1p`") \
    X(fn_expm1, B, "`expm1`") \
    X(fn_floor, B, "`floor`") \
    X(fn_ceil, B, "`ceil`") \
    X(fn_round, B, "`round`") \
    X(fn_pow, B, "`pow(abs(x) + 1.0, c)`") \
    X(fn_reshape, B, "`reshape<...>(x)`") \
    X(fn_gather, B, "gathers: `X[i, j]` with integer tiles (any integer dtype, any values)") \
    X(dt_f16, T, "f16") \
    X(dt_bf16, T, "bf16") \
    X(dt_f32, T, "f32") \
    X(dt_i32, T, "i32") \
    X(dt_bool, T, "bool") \
    X(load_tile, T, "tile loads (slices)") \
    X(load_point, T, "point loads") \
    X(load_crossing, T, "slices crossing the tensor's bounds") \
    X(load_whole_dim, T, "`:` on a constant dim") \
    X(load_rank3, T, "rank-3 tensors") \
    X(load_rank4, T, "rank-4 tensors") \
    X(sym_dim_value, T, "symbolic dims as values (`M`, `K`)") \
    X(scalar_param, T, "scalar parameters `s: f32`, `t: i32`") \
    X(scalar_bool_param, T, "`b: bool` scalar") \
    X(type_param, T, "`T: type` tensors") \
    X(cparam_float, T, "`F: float`") \
    X(cparam_bool, T, "`B: bool`") \
    X(const_float, T, "float literals") \
    X(const_int, T, "int literals") \
    X(const_inf, T, "`inf`, `-inf`") \
    X(grid_3d, T, "3-D grids") \
    X(dt_i8, T, "i8") \
    X(dt_u8, T, "u8") \
    X(dt_u32, T, "u32") \
    X(dt_i64, T, "i64") \
    X(dt_e4m3, T, "e4m3 (inputs: every code of magnitude up to 2, subnormals included)") \
    X(dt_e5m2, T, "e5m2 (inputs: every code of magnitude up to 2, subnormals included)") \
    X(fp8_specials, T, "fp8 inputs of every code (NaN, infinities, the largest) converted and stored") \
    X(scalar_int_params, T, "scalar parameters `s8: i8`, `su8: u8`, `su: u32`, `sl: i64` (values beyond the i32 range)") \
    X(tensor_padded, T, "inputs with padded rows (16-byte multiples: vectors and TMA)") \
    X(tensor_swapped, T, "inputs with their leading dims swapped in memory") \
    X(tensor_broadcast, T, "inputs with a broadcast leading dim (stride 0)") \
    X(output_padded, T, "outputs with padded rows (the padding must stay untouched)") \
    X(gemm_tma, T, "a GEMM in the first pipelined loop over padded tensors (sm_90a: TMA, warp specialization)")

typedef enum {
#define GEN_ENUM(n, s, w) FEAT_##n,
    GEN_FEATURES(GEN_ENUM)
#undef GEN_ENUM
    FEAT_COUNT
} Feature;

extern const char *const gen_feature_names[FEAT_COUNT];
extern const char gen_feature_sections[FEAT_COUNT];    /* 'S', 'O', 'B', 'T' */
extern const char *const gen_feature_what[FEAT_COUNT]; /* markdown */

/* Builds a random program; counts its features into coverage (may be NULL). */
Program *gen_program(uint64_t seed, uint64_t coverage[FEAT_COUNT]);
void prog_free(Program *p);
/* The program as a .tsr file with its header lines (malloc'd). */
char *prog_print(const Program *p);

/* Helpers the reducer shares. */
Node *node_leaf(Ty ty);     /* the simplest value of a type */
void node_free(Node *n);
void stmt_free(Stmt *s);
void prog_update_tolerances(Program *p); /* after the tree changed */

#endif
