/* Internals shared by the files of the LLVM IR emitter (codegen*.c and the
 * target files). The emitter walks laid-out TIR and writes per-thread LLVM
 * IR: a tile value becomes the array of the elements this thread holds, in
 * the order of its layout's registers. */
#ifndef TSR_CODEGEN_INTERNAL_H
#define TSR_CODEGEN_INTERNAL_H

#include "codegen.h"
#include "passes.h"

#include <llvm-c/Core.h>
#include <stdint.h>

typedef struct {
    LLVMValueRef *e; /* elements: 1 for a scalar, layout_nregs() for a tile */
    int n;
} EVal;

typedef struct Emitter Emitter;

/* How a family of targets writes its instructions (target_<family>.c); the
 * generic emitter calls these where the target decides. */
struct TargetEmit {
    /* Before the kernel's parameters are declared (NULL: nothing): the
     * family may ask for tensor maps (TirFunc.tma) and reserve shared memory
     * beyond TirFunc.smem_bytes for its own objects. */
    void (*prepare)(Emitter *em);
    /* At the start of the kernel's body (NULL: nothing): sets up what
     * prepare reserved. */
    void (*begin)(Emitter *em);
    /* A dot the target's plan_dot put on the tensor cores, its operands and
     * result in the plan's layouts. */
    void (*dot)(Emitter *em, const TirInst *in);
    /* A conversion out of a shared tile that the family reads with its own
     * instructions (or defers to the dot); false: not handled here, the
     * generic element-by-element read is used. */
    bool (*convert_from_shared)(Emitter *em, const TirInst *in);
    /* Copies the whole tile of a LOAD into its shared tile at `base`, done
     * and visible to every thread when it returns, or starts the copy of an
     * ASYNC_COPY into its stage, by the family's own means; false (or NULL):
     * every thread copies its share with copy16. */
    bool (*copy_tile)(Emitter *em, const TirInst *in, LLVMValueRef base);
    /* Starts an asynchronous copy of 16 bytes from global src to shared dst,
     * of which src_size (0 or 16) are read and the rest zero-filled. */
    void (*copy16)(Emitter *em, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef src_size);
    /* The stage operations (ir/tir.h: ASYNC_COMMIT, ASYNC_WAIT with
     * later = in->ival, ASYNC_RELEASE); `in` is NULL for the copy16 copies
     * of a LOAD into a tile of its own, committed and waited for at once.
     * commit: the copies into a stage have all been started. wait: until a
     * stage's copies have landed, while the `later` stages committed after
     * it may still be in flight; then every thread of the block meets (the
     * data is visible to all). release: every thread is done reading a
     * stage: it may be refilled. */
    void (*stage_commit)(Emitter *em, const TirInst *in);
    void (*stage_wait)(Emitter *em, const TirInst *in, int later);
    void (*stage_release)(Emitter *em, const TirInst *in);
    /* ASYNC_ACQUIRE, which only families that build producers emit (NULL:
     * none): waits until the stage may be refilled. */
    void (*stage_acquire)(Emitter *em, const TirInst *in);
    /* This thread's ordinary stores into a shared tile are done; called
     * before the barrier that hands the tile to every thread (NULL: nothing
     * to do). Hopper's tensor cores read shared memory through the async
     * proxy, which needs a proxy fence to see such stores. */
    void (*publish_shared)(Emitter *em);
    /* Before each instruction and after the last of each block of the
     * kernel (NULL: nothing): a family with asynchronous results in
     * registers settles the ones the instruction reads, or all of them
     * where it cannot tell (control flow, shared memory written, the end of
     * a loop body or of the kernel). */
    void (*before_inst)(Emitter *em, const TirInst *in);
    void (*after_block)(Emitter *em, BlockId b);
    /* After the loop of instances of a persistent kernel, where the end of
     * the kernel's top block is not the kernel's end (NULL: nothing). */
    void (*end)(Emitter *em);
};

/* Thread coordinates of a layout along one dim, cached per layout. */
typedef struct {
    int layout;
    LLVMValueRef base[LAYOUT_MAX_RANK];
} CoordCache;

/* The lane part of an ldmatrix address (codegen_mem.c), cached by what it
 * depends on: the shared tile's swizzle and pitch and the blocks' offsets. */
typedef struct {
    int key[13]; /* per_phase, max_phase, pitch, blocks, low chunk; rows, chunks of 4 blocks */
    LLVMValueRef value;
} PatternCache;

/* A tile origin a loop carries (codegen_loop.c). */
typedef struct {
    int param, key;
    ValId start[TIR_MAX_RANK]; /* the access's start indices */
    LLVMTypeRef elem;
    LLVMValueRef ptr;    /* the header's phi: the origin in this iteration */
    LLVMValueRef inc;    /* i64 elements added at the latch (built before the loop) */
    LLVMValueRef nowrap; /* i1 (before the loop): ptr is the origin where the tile is inside */
} Carried;

/* The branch around the last asynchronous copy (codegen_mem.c): its test,
 * the block that branched, the inside and edge paths, where they joined. */
typedef struct {
    LLVMValueRef test;
    LLVMBasicBlockRef head, inside, edge, joined;
} CopyRegion;

/* A value made before a loop, found again by what it was made from. */
typedef struct {
    uintptr_t key[16];
    LLVMValueRef v;
} LoopMemo;

/* The loop being emitted (emit_for), innermost first. */
typedef struct EmLoop {
    InstId loop;
    ValId iv;
    LLVMValueRef lb, ub, step;           /* i32, available before the loop */
    LLVMBasicBlockRef pre, header;       /* pre ends with the branch into the header */
    LLVMBuilderRef pre_b;                /* inserts before that branch */
    VEC(Carried) carried;
    VEC(LoopMemo) memo;
    struct EmLoop *outer;
} EmLoop;

struct Emitter {
    TirFunc *f;
    const CodegenOptions *opts;
    const Target *target;
    Diag *diag;
    bool failed;

    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMBuilderRef entry_b; /* inserts at the end of the entry block */
    /* Where thread coordinates are computed once (coordinate and address
     * caches): entry_b, or the start of each instance of a persistent
     * kernel (em_tiles_begin), so that they are not live across the loop
     * of instances. */
    LLVMBuilderRef coord_b;
    LLVMValueRef fn;
    LLVMBasicBlockRef entry;
    LLVMDIBuilderRef dib;    /* lineinfo.c, when line_info is on */
    LLVMMetadataRef di_scope; /* the kernel's subprogram */

    LLVMTypeRef t_i1, t_i8, t_i16, t_i32, t_i64, t_f16, t_bf16, t_f32, t_ptr_g, t_ptr_s;
    LLVMValueRef lane, warp, tid;
    LLVMValueRef pid[3], npid[3];
    LLVMValueRef *param_ptr;      /* per TIR param: data pointer (tensors) or value (scalars) */
    LLVMValueRef (*param_stride)[TIR_MAX_RANK];
    LLVMValueRef *sym;            /* per symbol: i32 */
    LLVMValueRef *tma_map;        /* per TmaRequest (TirFunc.tma): the generic address of its 128-byte map */
    LLVMValueRef smem;            /* the dynamic shared memory array; offsets from pass_smem.c */

    EVal *vals;
    bool *fma_operand_only; /* per value: every use is an A or B operand of a dot on the CUDA cores */
    VEC(CoordCache) coords;
    VEC(PatternCache) patterns;
    void *family; /* state of the target family's emitter (TargetEmit.prepare) */
    /* Threads per block and blocks per multiprocessor to promise ptxas (0:
     * as shared memory and a 168-register floor allow); 32 x warps and 0
     * unless the family adds warps of its own (prepare). */
    int threads, min_blocks;
    /* Threads that meet at em_barrier: 0, every thread of the block (bar.sync
     * 0); else named barrier 1 for that many (the warps that run the
     * kernel's code when others were added). */
    int barrier_threads;
    /* The family holds other threads waiting on this one here (sm_90a's
     * pingpong turn): a block barrier would deadlock; em_barrier fails. */
    bool barrier_ban;
    /* The loop of a persistent kernel over the program's instances
     * (em_tiles_begin): the instance index, the grid, the blocks. */
    struct {
        LLVMValueRef tile;
        LLVMBasicBlockRef head, exit;
        LLVMBuilderRef coord_b;
    } tiles;
    EmLoop *loop;        /* innermost loop being emitted, or NULL */
    int loop_depth;      /* how many loops are being emitted */
    VEC(LLVMBuilderRef) loop_builders; /* the preheader builder of each loop depth (em_loop_enter) */
    CopyRegion copy_region;
    BlockId *inst_block; /* per instruction: its block (codegen_loop.c, made on first use) */
    unsigned char *order_barrier; /* per instruction: a block barrier goes before it (codegen_order.c) */
    Arena arena;
};

/* --- helpers (codegen.c) --- */
/* lineinfo.c: source positions as DWARF line tables (CodegenOptions.line_info). */
void lineinfo_begin(Emitter *em);
void lineinfo_at(Emitter *em, SrcPos pos);
void lineinfo_end(Emitter *em);
void lineinfo_dispose(Emitter *em);

LLVMTypeRef em_elem_type(Emitter *em, DType dt);
LLVMValueRef em_i32(Emitter *em, int64_t v);
LLVMValueRef em_i64(Emitter *em, int64_t v);
LLVMValueRef em_call_intrinsic(Emitter *em, const char *const *names, LLVMTypeRef *overload, int noverload,
                               LLVMValueRef *args, int nargs);
void em_barrier(Emitter *em);
/* A persistent kernel (CodegenOptions.persistent) runs its instances in a
 * loop: em_tiles_begin opens it, with em->pid and em->npid those of the
 * instance (the program's grid computed as the host does), and
 * em_tiles_end closes it (with meet, a block barrier; then the next
 * instance: this block's index plus the launched blocks), leaving the
 * builder after the loop. Without the option they do nothing. A family
 * whose added warps run a slice of the kernel (sm_90a's producer) runs it
 * in a loop of its own, over the same instances. */
void em_tiles_begin(Emitter *em);
void em_tiles_end(Emitter *em, bool meet);
/* Emits the instructions ids[0..n) in order (a family's own code, such as a
 * warp-specialized producer built from the kernel's instructions). */
void em_emit_insts(Emitter *em, const InstId *ids, int n);
/* Whether v is defined inside the body of `loop` (at any depth; codegen_loop.c). */
bool em_defined_in(Emitter *em, ValId v, InstId loop);
/* Marks the writes of global memory that need a block barrier in front of
 * them (codegen_order.c): em->order_barrier. */
void em_plan_write_order(Emitter *em);
const Layout *em_layout(Emitter *em, ValId v);
EVal *em_val(Emitter *em, ValId v);
EVal em_new_val(Emitter *em, int n);
/* Runtime part (lane and warp bits) of the coordinates of a layout. */
LLVMValueRef em_coord_base(Emitter *em, ValId v, int dim);
/* Full coordinate of register r of v along dim. */
LLVMValueRef em_coord(Emitter *em, ValId v, int r, int dim);
/* The same for a layout given by its index in f->layouts. */
LLVMValueRef em_lcoord(Emitter *em, int layout, int r, int dim);
/* The warp bits' part of the coordinates of a layout along dim. */
LLVMValueRef em_warp_coord(Emitter *em, int layout, int dim);
/* i1: this thread is the canonical owner of the data of layout l (not a
 * replica), or NULL when every thread is. */
LLVMValueRef em_owner_mask(Emitter *em, const Layout *l);
/* Code only the threads where `owner` holds run (every thread when owner
 * is NULL, em_owner_mask's "no replicas"): em_only_begin opens a block
 * `name` for it and returns the block `after` that follows it, in which
 * em_only_end continues (nothing to do for NULL). */
LLVMBasicBlockRef em_only_begin(Emitter *em, LLVMValueRef owner, const char *name, const char *after);
void em_only_end(Emitter *em, LLVMBasicBlockRef after);
void em_error(Emitter *em, SrcPos pos, const char *fmt, ...) TSR_PRINTF(3, 4);
/* One element of dtype `from` converted to `to` (dsl/README.md §10.3); not
 * for fp8 dtypes, which em_fp8_cast converts. */
LLVMValueRef em_cast_elem(Emitter *em, LLVMValueRef x, DType from, DType to);

/* --- fp8 (codegen_fp8.c) --- */
/* Whether the target converts fp8 (sm_89+); else an error at pos. */
bool em_fp8_supported(Emitter *em, SrcPos pos, DType from, DType to);
/* n registers x of dtype from converted to dtype to (one of them fp8), two
 * by two. */
void em_fp8_cast(Emitter *em, const LLVMValueRef *x, int n, DType from, DType to, LLVMValueRef *out);
/* Bytes of dynamic shared memory used as scratch: grows the requirement. */
/* A pointer into shared memory at a byte offset (i32 or i64). */
LLVMValueRef em_smem_at(Emitter *em, LLVMValueRef byte_offset);

/* --- inline PTX (inline_ptx.c): every asm statement is built here ---
 * Declare the outputs (numbered $0, $1, ... in order), then the inputs
 * (numbered after the outputs; a tied input shares an output's register),
 * write the text with those numbers, and make the call: it returns the
 * output (one), a struct of them (several) or nothing. */
/* Up to 2 x 256 accumulator registers tied through one wgmma wait. */
enum { PTX_MAX_OPERANDS = 544 };
enum {
    PTX_SIDE_EFFECTS = 1,    /* never moved, merged or deleted */
    PTX_CLOBBERS_MEMORY = 2, /* reads or writes memory LLVM cannot see */
    PTX_CONVERGENT = 4,      /* a warp- or block-wide collective */
};
typedef struct {
    Emitter *em;
    unsigned flags;
    StrBuf text;
    LLVMTypeRef out_types[PTX_MAX_OPERANDS];
    int nout;
    LLVMValueRef in_vals[PTX_MAX_OPERANDS];
    int in_tied[PTX_MAX_OPERANDS]; /* output number, or -1 */
    int nin;
} InlinePtx;
void ptx_begin(InlinePtx *a, Emitter *em, unsigned flags);
void ptx_text(InlinePtx *a, const char *fmt, ...) TSR_PRINTF(2, 3);
int ptx_out(InlinePtx *a, LLVMTypeRef t);
int ptx_in(InlinePtx *a, LLVMValueRef v);
int ptx_in_tied(InlinePtx *a, LLVMValueRef v, int out);
LLVMValueRef ptx_call(InlinePtx *a);

/* --- math built-ins (codegen_math.c) --- */
/* op (tanh ... expm1, pow; y is pow's exponent, else NULL) of f32 operands
 * whose dtype was dt, as an f32. */
LLVMValueRef em_math_f32(Emitter *em, TirOp op, LLVMValueRef x, LLVMValueRef y, DType dt);
LLVMValueRef em_ex2_ftz(Emitter *em, LLVMValueRef x); /* ex2.approx.ftz.f32 */
LLVMValueRef em_lg2(Emitter *em, LLVMValueRef x);     /* lg2.approx.f32 */

/* --- loop-carried addresses (codegen_loop.c) --- */
/* emit_for's frame: enter once the header's phis exist, leave at the latch
 * (builder at its end, before the back branch). */
void em_loop_enter(Emitter *em, EmLoop *L);
void em_loop_leave(Emitter *em, LLVMBasicBlockRef latch);
/* Leaves the innermost loop without finishing it (an error stopped its body). */
void em_loop_abandon(Emitter *em);
/* A builder that inserts before the innermost loop (NULL: not in a loop),
 * and whether v is defined outside that loop (false: not in a loop). */
LLVMBuilderRef em_loop_pre(Emitter *em);
bool em_loop_invariant(Emitter *em, ValId v);
/* The value the innermost loop remembers under key[0..n) (n <= 16), NULL
 * if none; and remembering one. For values made with em_loop_pre that LLVM
 * cannot merge itself (freeze). */
LLVMValueRef em_loop_recall(Emitter *em, const uintptr_t *key, int n);
void em_loop_remember(Emitter *em, const uintptr_t *key, int n, LLVMValueRef v);
/* The address of the tile of `in` (a LOAD or ASYNC_COPY: start indices
 * args[0..rank)) plus `extra` elements (i64, built with em_loop_pre) as a
 * pointer the innermost loop carries, made once per (in's tensor and start
 * indices, key); in *valid the loop-invariant i1 under which it is exact
 * for a tile inside the tensor. NULL when the start indices are not affine
 * in the loop's variable. */
LLVMValueRef em_carried_address(Emitter *em, const TirInst *in, int rank, int key, LLVMValueRef extra,
                                LLVMValueRef *valid);

/* --- memory (codegen_mem.c) --- */
void em_load(Emitter *em, const TirInst *in);
void em_async_copy(Emitter *em, const TirInst *in);
void em_store(Emitter *em, const TirInst *in);
void em_convert(Emitter *em, const TirInst *in);
/* Byte offset of stored element (row, col) of shared layout s at `base`,
 * and (row, col) in storage order of the logical coordinates (c0, c1). */
LLVMValueRef em_shared_offset(Emitter *em, const Layout *s, LLVMValueRef base, LLVMValueRef row, LLVMValueRef col);
void em_stored_rc(const Layout *s, LLVMValueRef c0, LLVMValueRef c1, LLVMValueRef *row, LLVMValueRef *col);
/* Likewise a conversion of a shared tile that only feeds dots on the CUDA
 * cores (Emitter.fma_operand_only): the dot reads each element (register r
 * of v) with em_load_operand at the k-step that uses it. */
bool em_is_deferred_operand(Emitter *em, ValId v);
LLVMValueRef em_load_operand(Emitter *em, ValId v, int r);

/* The size of dim d of tensor parameter p (i32). */
LLVMValueRef dim_size(Emitter *em, const TirParam *p, int d);
/* `bytes` (1, 2, 4, 8 or 16) from global ptr when ok, else zeros: one word
 * (i16 or i32) or a struct of words; and words to global ptr when ok. */
LLVMValueRef predicated_load(Emitter *em, LLVMValueRef ptr, LLVMValueRef ok, int bytes);
void predicated_store(Emitter *em, LLVMValueRef ptr, LLVMValueRef ok, LLVMValueRef *words_v, int bytes);
/* Loaded words as `vec` elements of dtype dt, and elements as words. */
void unpack_words(Emitter *em, DType dt, LLVMValueRef raw, int words, int vec, LLVMValueRef *out);
void pack_words(Emitter *em, DType dt, LLVMValueRef *elems, int words, int vec, LLVMValueRef *out);

/* --- gathers, scatters and atomics (codegen_indexed.c) --- */
void em_gather(Emitter *em, const TirInst *in);
void em_scatter(Emitter *em, const TirInst *in);
/* Register r of value v: a scalar serves every register. */
LLVMValueRef em_reg(Emitter *em, ValId v, int r);

/* --- reshape (codegen_reshape.c) --- */
void em_reshape(Emitter *em, const TirInst *in);

/* --- resource limits (codegen_limits.c) --- */
/* Whether the shared memory f asks for (after the family's prepare) fits a
 * block of t; else an error at the largest shared tile. */
bool codegen_check_smem(const TirFunc *f, const Target *t, Diag *diag);

/* --- device_print and device_assert (codegen_debug.c) --- */
void em_print(Emitter *em, const TirInst *in);
void em_assert(Emitter *em, const TirInst *in);

/* --- reductions and dots (codegen_reduce.c, codegen_dot.c) --- */
void em_reduce(Emitter *em, const TirInst *in);
void em_dot(Emitter *em, const TirInst *in);
/* Whether target t runs a dot on the tensor cores (Target.plan_dot) or as
 * f32 fused multiply-adds on the CUDA cores. */
bool dot_on_tensor_cores(const Target *t, TirFunc *f, const TirInst *dot);
/* Fills em->fma_operand_only. */
void em_find_fma_operands(Emitter *em);

#endif
