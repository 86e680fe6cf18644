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
    StmtList body;
    uint64_t seed;
} Program;

/* Features the generator can emit, counted for the coverage table. */
#define GEN_FEATURES(X)                                                                                        \
    X(st_let) X(st_let_dtype) X(st_let_untyped) X(st_var) X(st_var_natural) X(st_assign) X(st_store_tile) X(st_store_broadcast) X(st_store_scalar) \
    X(st_store_transposed) X(st_for) X(st_for_step) X(st_for_runtime_bound) X(st_pipeline) X(st_if_runtime)   \
    X(st_if_else) X(st_else_if) X(st_if_compiletime) X(st_block)                                               \
    X(op_add) X(op_sub) X(op_mul) X(op_div) X(op_rem) X(op_neg) X(op_plus) X(op_not) X(op_and) X(op_or)        \
    X(op_eq) X(op_ne) X(op_lt) X(op_le) X(op_gt) X(op_ge) X(op_cond) X(op_index_none) X(op_index_none_scalar) X(bcast_scalar)          \
    X(fn_program_id) X(fn_num_programs) X(fn_cdiv) X(fn_min) X(fn_max) X(fn_exp) X(fn_exp2) X(fn_log)          \
    X(fn_log2) X(fn_sqrt) X(fn_rsqrt) X(fn_abs) X(fn_where) X(fn_dot_tc) X(fn_dot_fma) X(fn_transpose)         \
    X(fn_rowsum) X(fn_rowmax) X(fn_rowmin) X(fn_colsum) X(fn_colmax) X(fn_colmin) X(fn_reduce_sum_0)          \
    X(fn_reduce_sum_1) X(fn_reduce_sum_1d) X(fn_reduce_max) X(fn_reduce_min) X(fn_zeros) X(fn_ones)            \
    X(fn_full) X(fn_full_runtime) X(fn_arange) X(cast_f16) X(cast_bf16) X(cast_f32) X(cast_i32) X(cast_bool) X(cast_type_param)  \
    X(dt_f16) X(dt_bf16) X(dt_f32) X(dt_i32) X(dt_bool) X(load_tile) X(load_point) X(load_crossing) X(load_whole_dim) X(load_rank3) X(load_rank4)           \
    X(sym_dim_value) X(scalar_param) X(scalar_bool_param) X(type_param) X(cparam_float) X(cparam_bool)  \
    X(op_cond_compiletime) X(const_float) X(const_int) X(const_inf) X(grid_3d)                                \
    X(dt_i8) X(dt_u8) X(dt_u32) X(dt_i64) X(cast_i8) X(cast_u8) X(cast_u32) X(cast_i64) X(scalar_int_params)  \
    X(op_bitand) X(op_bitor) X(op_bitxor) X(op_bitnot) X(op_shl) X(op_shr) X(op_bool_bits) X(fn_umulhi)      \
    X(fn_tanh) X(fn_sigmoid) X(fn_erf) X(fn_sin) X(fn_cos) X(fn_log1p) X(fn_expm1) X(fn_floor) X(fn_ceil)    \
    X(fn_round) X(fn_pow) X(fn_reshape) X(fn_gather) X(st_scatter) X(st_store_masked) X(st_atomic_add)       \
    X(st_atomic_add_float) X(st_atomic_max) X(st_atomic_min) X(st_atomic_indexed) X(st_atomic_masked)        \
    X(st_device_print) X(st_device_assert) X(st_while) X(st_break) X(st_continue) X(st_return)              \
    X(st_for_runtime_step) X(clause_regs) X(clause_min_blocks) X(tensor_padded) X(tensor_swapped)            \
    X(tensor_broadcast) X(output_padded) X(gemm_tma)

typedef enum {
#define GEN_ENUM(n) FEAT_##n,
    GEN_FEATURES(GEN_ENUM)
#undef GEN_ENUM
    FEAT_COUNT
} Feature;

extern const char *const gen_feature_names[FEAT_COUNT];

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
