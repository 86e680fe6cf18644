/* TIR, the tile IR. SSA values are whole tiles with static shapes (or
 * scalars, rank 0); control flow is structured (for and if own nested blocks
 * and yield their results), so every pass works on a tree of blocks.
 *
 * Values, instructions and blocks are small integer handles into arrays of
 * the function; everything lives in the function's arena and is freed at once
 * by tir_func_free. */
#ifndef TSR_TIR_H
#define TSR_TIR_H

#include "arena.h"
#include "diag.h"
#include "dtype.h"
#include "layout.h"

enum { TIR_MAX_RANK = 4, TIR_NONE = -1 };
/* Values one PRINT may print (with its 5 coordinates, within the 32
 * arguments of CUDA's printf). */
enum { TIR_MAX_PRINTED = 16 };

typedef int32_t ValId;
typedef int32_t InstId;
typedef int32_t BlockId;

/* The type of a value: a dtype and a static shape; rank 0 is a scalar. */
typedef struct {
    DType dt;
    int rank;
    int shape[TIR_MAX_RANK];
} TType;

#define TIR_OPS(X)                                                                     \
    /* leaves */                                                                       \
    X(CONST, "const") X(PARAM, "param") X(DIM, "dim") X(PROGRAM_ID, "program_id")      \
    X(NUM_PROGRAMS, "num_programs")                                                    \
    /* shapes */                                                                       \
    X(SPLAT, "splat") X(BROADCAST, "broadcast") X(EXPAND_DIMS, "expand_dims")          \
    X(TRANSPOSE, "transpose") X(ARANGE, "arange") X(RESHAPE, "reshape")                \
    /* elementwise binary (operands and result of one shape) */                        \
    X(ADD, "add") X(SUB, "sub") X(MUL, "mul") X(DIV, "div") X(REM, "rem")              \
    X(POW, "pow") X(MIN, "min") X(MAX, "max") X(AND, "and") X(OR, "or") X(XOR, "xor")  \
    X(SHL, "shl") X(SHR, "shr")                                                        \
    X(EQ, "eq") X(NE, "ne") X(LT, "lt") X(LE, "le") X(GT, "gt") X(GE, "ge")            \
    /* elementwise unary */                                                            \
    X(NEG, "neg") X(NOT, "not") X(EXP, "exp") X(EXP2, "exp2") X(LOG, "log")            \
    X(LOG2, "log2") X(SQRT, "sqrt") X(RSQRT, "rsqrt") X(TANH, "tanh")                  \
    X(SIGMOID, "sigmoid") X(ERF, "erf") X(SIN, "sin") X(COS, "cos") X(FLOOR, "floor")  \
    X(CEIL, "ceil") X(ROUND, "round") X(LOG1P, "log1p") X(EXPM1, "expm1")              \
    X(ABS, "abs") X(CAST, "cast")                                                      \
    X(SELECT, "select")                                                                \
    /* tensor cores and reductions */                                                  \
    X(DOT, "dot") X(REDUCE, "reduce")                                                  \
    /* memory */                                                                       \
    X(LOAD, "load") X(STORE, "store") X(GATHER, "gather") X(SCATTER, "scatter")        \
    /* debugging */                                                                    \
    X(PRINT, "print") X(ASSERT, "assert")                                              \
    /* control */                                                                      \
    X(FOR, "for") X(IF, "if") X(YIELD, "yield")                                        \
    /* code generation */                                                              \
    X(CONVERT, "convert") X(ASYNC_COPY, "async_copy") X(ASYNC_COMMIT, "async_commit")  \
    X(ASYNC_WAIT, "async_wait") X(ASYNC_RELEASE, "async_release") X(SMEM_TILE, "smem_tile") \
    X(ASYNC_ACQUIRE, "async_acquire")

typedef enum {
#define X(name, text) TIR_##name,
    TIR_OPS(X)
#undef X
    TIR_OP_COUNT
} TirOp;

typedef enum { REDUCE_SUM, REDUCE_MAX, REDUCE_MIN } ReduceKind;
/* TirInst.kind of a SCATTER: a plain store, or an atomic read-modify-write. */
typedef enum { SCATTER_STORE, SCATTER_ADD, SCATTER_MAX, SCATTER_MIN } ScatterKind;
enum { TIR_FOR_EXIT = 1 }; /* TirInst.kind of a FOR that can stop early */
enum { TIR_LOOP_KEEP_ORDER = 1, TIR_LOOP_NO_PINGPONG = 2 }; /* TirInst.ival of a FOR */

/* Operands and attributes, by op:
 *   CONST        ival (i32, bool) or fval (floats, already rounded to the dtype)
 *   PARAM        param: index of a scalar kernel parameter
 *   DIM          sym: index of a symbolic dimension
 *   PROGRAM_ID, NUM_PROGRAMS   axis
 *   SPLAT        args: scalar                    BROADCAST  args: tile with 1-dims
 *   EXPAND_DIMS  args: tile; axis: where the new 1 goes
 *   TRANSPOSE    args: 2-D tile                  ARANGE     args: start (i32 scalar)
 *   RESHAPE      args: tile; the same elements in row-major order, in the
 *                result's shape (as many elements)
 *   binary ops   args: a, b (same type; comparisons give bool); POW: floats only;
 *                AND, OR, XOR: bitwise on integers, logical on bool; SHL, SHR:
 *                integers, the count of the same dtype taken as unsigned, a count
 *                of the width or more gives 0 (SHR of a negative signed value: -1);
 *                SHR is arithmetic for signed dtypes, logical for unsigned
 *   unary ops    args: a; CAST converts to the result's dtype; NOT: logical on
 *                bool, bitwise on integers; the math
 *                functions (EXP ... EXPM1) take floats only (tir_op_is_math)
 *   SELECT       args: cond (bool), a, b (one shape)
 *   DOT          args: a [M,K], b [K,N] (f16 or bf16, same dtype) -> f32 [M,N];
 *                an optional third, c f32 [M,N], is added: c + a.b (made by
 *                pass_fuse.c, so that the tensor cores accumulate into c)
 *   REDUCE       args: a; axis; kind (ReduceKind): the axis is removed
 *   LOAD         param: tensor; lens[d]: 0 = a point index (the dim is dropped), else
 *                the static length of a range; args: one start per tensor dim.
 *                Elements outside the tensor read 0.
 *   STORE        as LOAD, plus the value as the last argument; elements outside
 *                the tensor are not written. No result.
 *   GATHER       param: tensor; args: one coordinate per tensor dim, each an i32
 *                scalar or an i32 tile of the result's shape: element e of the
 *                result is the tensor's element at (args[0][e], args[1][e], ...),
 *                0 when that lies outside the tensor.
 *   SCATTER      param: tensor; args: coordinates as GATHER's, then a mask (bool
 *                scalar or tile), then the value (a scalar or tile; the
 *                coordinates and the mask have its shape or are scalars); kind
 *                (ScatterKind): element e of the value is stored (or, atomically,
 *                added, maxed, mined) at its coordinates when mask[e] is true and
 *                they lie inside the tensor. No result. Lanes whose coordinates
 *                coincide: one of the stores wins; atomics all take effect.
 *   PRINT        args: values (scalars, and tiles of one shape); texts[ival]: the
 *                text before them. Prints one line per element of the shape (one
 *                for scalars) with the program's coordinates, the element's
 *                index and the values (tir_print_format). No result.
 *   ASSERT       args: cond (bool scalar or tile); texts[ival]: the message,
 *                texts[ival + 1]: the source file's name, pos.line the line: the
 *                launch fails when an element of cond is false. No result.
 *   FOR          args: lb, ub, step, inits...; blocks[0]: body with args (iv,
 *                iters...) ending in YIELD of the next iters; results: final iters.
 *                stages: software-pipelining depth asked for (0 = none).
 *                ival: TIR_LOOP_* flags: KEEP_ORDER, the written order
 *                (pipeline(S, overlap = false): no rotation,
 *                passes/pass_rotate.c); NO_PINGPONG (pingpong = false: no
 *                turns between warpgroups, backend/target_sm90a_ws.c).
 *                kind 1 (TIR_FOR_EXIT): the loop can stop early: the body's
 *                YIELD has one more operand, a bool scalar, and the loop ends
 *                after an iteration that yields false (while, break, return).
 *   IF           args: cond (bool scalar); blocks[0] then, blocks[1] else, each
 *                ending in YIELD; results: the yielded values.
 *   YIELD        args: values for the enclosing FOR/IF.
 *   CONVERT      args: a tile; the same values in another layout (added by the
 *                layout pass; the interpreter copies).
 * Software pipelining (pass_pipeline.c) adds, for code generation only,
 * operations on the stages of multi-stage shared buffers (a stage is an i32
 * scalar; one stage index names that stage of every buffer of a loop, the
 * loop's ring: every stage operation has buf = the ring's first buffer):
 *   ASYNC_COPY    as LOAD's operands, plus a stage: starts copying the slice
 *                 into stage `stage` of shared buffer `buf`. No result.
 *   ASYNC_COMMIT  args: stage; every copy into that stage has been started.
 *   ASYNC_WAIT    args: stage, or none for every stage committed so far:
 *                 waits until its copies have landed and are visible to
 *                 every thread of the block; ival: how many stages committed
 *                 after it may stay in flight (the schedule's distance).
 *   ASYNC_RELEASE args: stage; every thread is done reading it, so it may be
 *                 refilled.
 *   SMEM_TILE     args: stage; the tile held in that stage of buffer `buf`.
 *   ASYNC_ACQUIRE args: stage; waits until every thread has released the
 *                 stage's previous contents (a warp-specialized producer,
 *                 which the sm_90a emitter builds, before refilling it).
 * Targets lower these their own way (TargetEmit): cp.async commit groups and
 * wait_group counts on sm_80, mbarrier phases on Hopper. */
typedef struct {
    TirOp op;
    SrcPos pos;
    ValId *args;
    int nargs;
    ValId *res;
    int nres;
    BlockId blocks[2];
    int64_t ival;
    double fval;
    int axis, param, sym, kind, stages, buf;
    int smem; /* shared-memory offset (pass_smem.c): of a shared tile a LOAD
                 fills, or of the scratch a CONVERT or REDUCE uses; -1: none */
    int lens[TIR_MAX_RANK];
} TirInst;

/* A multi-stage shared-memory buffer made by software pipelining. */
typedef struct {
    int layout; /* the shared layout of one stage */
    int stages;
    TType type; /* of one stage's tile */
    int offset; /* in shared memory (pass_smem.c) */
    int ring;   /* the first buffer of its loop's ring (buffers of a ring are consecutive) */
    /* Of a ring's first buffer: the pipelined FOR, the wait in front of its
     * prologue, and the induction variable the copies inside the loop are
     * for (the iteration S-1 ahead of the current one). */
    InstId loop, first_wait;
    ValId ahead;
} TirBuffer;

typedef struct {
    TType type;
    InstId def;    /* defining instruction, or TIR_NONE for a block argument */
    BlockId block; /* for a block argument: its block */
    int index;     /* result index or argument index */
    int layout;    /* index into TirFunc.layouts once assigned, else TIR_NONE */
} TirVal;

typedef struct {
    VEC(InstId) insts;
    VEC(ValId) args;
    InstId parent; /* the FOR/IF that owns it, TIR_NONE for top-level blocks */
} TirBlock;

typedef struct {
    const char *name;
    SrcPos pos;
    bool is_tensor, is_out;
    DType dt;
    int rank;
    int dim_sym[TIR_MAX_RANK];       /* symbol index, or TIR_NONE when the dim is constant */
    int64_t dim_const[TIR_MAX_RANK]; /* the dim when constant */
} TirParam;

typedef struct {
    const char *name;
    int param, dim; /* where it first appears */
} TirSym;

/* A tensor map the kernel asks the runtime for (TMA, sm_90a): how one tensor
 * parameter is tiled for cp.async.bulk.tensor. Code generation appends one
 * 128-byte grid-constant kernel parameter per request, after every other
 * parameter (backend/abi.h), and the runtime encodes the map at launch from
 * the tensor's pointer, shape and strides (runtime/README.md, "Tensor
 * maps"). `rank` is the tensor's; `box` is the box in elements, innermost
 * dim first (box[0] along the tensor's last, contiguous dim), as in the map
 * and in the coordinates of cp.async.bulk.tensor; `swizzle` is a
 * TmaSwizzle. Elements outside the tensor arrive as zeros. A pass may ask
 * for a map only for a tensor whose bit in CodegenOptions.unaligned_params
 * is clear: the runtime launches tensors TMA cannot take (misaligned data,
 * strides that are not positive multiples of 16 bytes below 2^40, empty)
 * with the variant that has that bit set. */
typedef enum { TMA_SWIZZLE_NONE, TMA_SWIZZLE_32B, TMA_SWIZZLE_64B, TMA_SWIZZLE_128B } TmaSwizzle;
typedef struct {
    int param;
    int rank;
    int box[TIR_MAX_RANK];
    int swizzle;
} TmaRequest;

/* A compile-time parameter and the value it took in this specialization. */
typedef struct {
    const char *name;
    char *value;
} TirDefine;

typedef struct TirFunc {
    Arena arena;
    const char *name;
    SrcPos pos;
    VEC(TirParam) params;
    VEC(TirSym) syms;
    VEC(TirDefine) defines;
    VEC(TirVal) vals;
    VEC(TirInst) insts;
    VEC(TirBlock) blocks;
    VEC(Layout) layouts; /* distributed layouts of tile values (code generation) */
    bool laid_out;       /* the codegen passes have run */
    bool layout_too_big; /* a layout needs more registers than a thread has: the passes stopped */
    VEC(TirBuffer) buffers;
    VEC(TmaRequest) tma; /* tensor maps asked for by code generation, in parameter order (empty: none) */
    VEC(const char *) texts; /* of PRINT and ASSERT (ival) */
    size_t smem_bytes; /* dynamic shared memory a launch needs (pass_smem.c) */
    size_t smem_align; /* the alignment its start needs (pass_smem.c) */
    BlockId grid_block; /* scalar code the host runs to size the grid */
    ValId grid[3];      /* results of grid_block */
    BlockId body;
    int warps;
    /* The kernel's resource clauses (dsl/README.md §5.3); 0: the compiler's
     * choice. max_regs: registers per thread (.maxnreg); min_blocks: blocks
     * a multiprocessor must hold at once (.minnctapersm). */
    int max_regs, min_blocks;
    SrcPos regs_pos;
    /* Code generation keeps loops in their written order (no rotation,
     * passes/pass_rotate.c): CodegenOptions.no_overlap. */
    bool no_overlap;
    /* The order in which a persistent kernel (CodegenOptions.persistent)
     * walks its grid, from the kernel's `schedule` clause (dsl/README.md
     * §5.3): grid axis `tile_outer` varies slowest, from its last index to
     * its first when `tile_reverse`; the other axes follow in their order,
     * axis 0 fastest. TIR_NONE: axis 0 fastest, axis 2 slowest, ascending. */
    int tile_outer;
    bool tile_reverse;
} TirFunc;

typedef struct {
    VEC(TirFunc *) funcs;
    Arena arena;
} TirModule;

/* --- types --- */
TType ttype_scalar(DType dt);
TType ttype_tile(DType dt, int rank, const int *shape);
bool ttype_eq(TType a, TType b);
int64_t ttype_numel(TType t);
void ttype_print(StrBuf *out, TType t);

/* --- building --- */
TirFunc *tir_func_new(const char *name);
/* A deep copy with its own arena. */
TirFunc *tir_func_clone(const TirFunc *f);
void tir_func_free(TirFunc *f);
void tir_module_free(TirModule *m);
BlockId tir_block_new(TirFunc *f, InstId parent);
ValId tir_block_arg(TirFunc *f, BlockId b, TType t);
/* A new result value of instruction `def` (the caller puts it in def's
 * results at `index`). */
ValId tir_result_new(TirFunc *f, TType t, InstId def, BlockId b, int index);
/* Makes an instruction with nres results of the given types, in no block
 * yet (the caller places its id in a block's list). */
InstId tir_make(TirFunc *f, BlockId b, TirOp op, SrcPos pos, const ValId *args, int nargs,
                const TType *res_types, int nres);
/* Appends an instruction with nres results of the given types. */
InstId tir_append(TirFunc *f, BlockId b, TirOp op, SrcPos pos, const ValId *args, int nargs,
                  const TType *res_types, int nres);
/* Appends a one-result instruction and returns the result. */
ValId tir_emit(TirFunc *f, BlockId b, TirOp op, SrcPos pos, const ValId *args, int nargs, TType t);
ValId tir_const_int(TirFunc *f, BlockId b, SrcPos pos, DType dt, int64_t v);
ValId tir_const_float(TirFunc *f, BlockId b, SrcPos pos, DType dt, double v);

static inline TirInst *tir_inst(TirFunc *f, InstId i) { return &f->insts.data[i]; }
static inline TirVal *tir_val(TirFunc *f, ValId v) { return &f->vals.data[v]; }
static inline TType tir_type(const TirFunc *f, ValId v) { return f->vals.data[v].type; }
static inline TirBlock *tir_block(TirFunc *f, BlockId b) { return &f->blocks.data[b]; }

const char *tir_op_name(TirOp op);
bool tir_op_is_binary(TirOp op);
bool tir_op_is_compare(TirOp op);
bool tir_op_is_unary(TirOp op);
/* The math functions (exp ... expm1, pow): floats only, computed in f32, and
 * a result below 2^-126 in magnitude is a zero of its sign (dsl/README.md
 * §10.1). */
bool tir_op_is_math(TirOp op);
/* Pure: no side effect, result depends only on operands and attributes. */
bool tir_op_is_pure(TirOp op);
/* Reads tensor memory (LOAD, GATHER): pure, but never merged or moved
 * across stores. */
bool tir_op_reads_memory(TirOp op);

/* Whether a RESHAPE's result layout holds the operand's registers as they
 * are (layout_reshape_units), so that no shared memory is needed. */
bool tir_reshape_in_registers(TirFunc *f, const TirInst *in);

/* The printf format (support/printf_fmt.h) of a PRINT's line: "pid (%d,
 * %d, %d)", " idx (%d, %d)" for tiles, " TEXT" when not empty, then each
 * value (%g for floats, %d, %u or %lld for integers, %d for bool), and a
 * newline. Its arguments, in order: the three program ids and the element's
 * index (i32), then the values (floats as doubles). */
void tir_print_format(const TirFunc *f, const TirInst *in, StrBuf *out);
/* Appends a text to f->texts; returns its index. */
int tir_add_text(TirFunc *f, const char *text);

/* The index in f->tma of a request equal to r, appended when there is none
 * (one map serves every load of the same tensor with the same box). */
int tir_tma_request(TirFunc *f, const TmaRequest *r);

/* --- printing and checking --- */
void tir_print(StrBuf *out, TirFunc *f);
void tir_module_print(StrBuf *out, TirModule *m);
/* Checks the invariants of every instruction; on failure writes why into
 * `why` and returns false. A failure is a compiler bug. */
bool tir_verify(TirFunc *f, StrBuf *why);

/* The layout of a tile value, or NULL. Layouts are interned: equal layouts
 * get one index. */
const Layout *tir_layout(const TirFunc *f, ValId v);
int tir_intern_layout(TirFunc *f, const Layout *l);

/* Replaces every use of `from` by `to` in the whole function. */
void tir_replace_uses(TirFunc *f, ValId from, ValId to);

#endif
