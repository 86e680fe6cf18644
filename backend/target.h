/* GPU targets: every fact about a GPU generation and every choice of code
 * that depends on it, in one place. The passes, the emitter, the runtime's
 * devices, the benchmark and the command line ask a Target; no other file
 * names a target or its limits.
 *
 * A target is a row of the table in target.c: its facts (PTX version, shared
 * memory, registers, threads) and its policies (how dots run, how operands
 * reach the tensor cores, the code-generation passes, and the emission hooks
 * of its instruction family, TargetEmit, declared with the LLVM types in
 * codegen_internal.h). A new GPU generation is a new table row plus, when
 * its instructions differ, a target_<family>.c of its own. This header needs
 * no LLVM: the runtime includes it. */
#ifndef TSR_TARGET_H
#define TSR_TARGET_H

#include "tir.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct Target Target;
typedef struct TargetEmit TargetEmit;

/* A pass over laid-out or plain TIR; returns whether it changed anything. */
typedef struct {
    const char *name;
    bool (*run)(TirFunc *f, const Target *t);
} Pass;

/* How a dot of [M,K] by [K,N] runs: on the tensor cores with the target's
 * fragment layouts, or as f32 fused multiply-adds on the CUDA cores. */
typedef struct {
    bool tensor_cores;
    Layout acc; /* the result [M,N] */
    /* The operands' register layouts; for FMA dots they depend on the
     * layout the result finally takes (dot_plan_fma_operands). */
    Layout a, b;
    /* B, computed in registers, is first written into a shared tile of
     * layout b_smem (the layout pass adds the conversion), which the
     * tensor cores read: an N-major operand stored K-major, for example. */
    bool stage_b;
    Layout b_smem;
} DotPlan;

/* Where a dot operand reaches the tensor cores from, which decides the
 * instructions that may read it: registers, or a tile staged in shared
 * memory with K contiguous (K-major) or with M (of A) or N (of B)
 * contiguous (MN-major). wgmma reads 8-bit operands K-major only. */
typedef enum { DOT_FROM_REGS, DOT_FROM_SMEM_K, DOT_FROM_SMEM_MN } DotOperandSource;

/* The source of operand `which` (0: A [M, K], 1: B [K, N]) whose value has
 * layout l (NULL: none yet): a shared tile's by the dim it stores
 * contiguously, else registers. */
DotOperandSource dot_operand_source(const Layout *l, int which);

struct Target {
    /* --- facts --- */
    const char *name;          /* as users write it: "sm_80" */
    const char *llvm_cpu;      /* NVPTX's CPU name */
    const char *llvm_features; /* NVPTX's features: the PTX ISA version */
    int sm;                    /* compute capability x 10 */
    bool arch_specific;        /* an "a" target: runs only on that exact generation */
    size_t smem_per_block;     /* the most dynamic shared memory a block may ask for */
    size_t smem_per_sm;        /* shared memory of one multiprocessor */
    int regs_per_sm;           /* 32-bit registers of one multiprocessor */
    int max_threads_per_block;

    /* --- policies --- */
    /* The plan for a dot whose operands have dtype dt, over `warps` warps,
     * its operands A and B coming from src[0] and src[1]. */
    void (*plan_dot)(const Target *t, DType dt, int M, int N, int K, int warps, const DotOperandSource src[2],
                     DotPlan *plan);
    /* The shared-memory layout of a loaded rows x cols tile (esize bytes an
     * element) whose every use is a dot operand on the tensor cores, or
     * false when such tiles stay in registers; k_major: every use reads it
     * with K along its stored rows (contiguous). */
    bool (*operand_smem_layout)(const Target *t, int rows, int cols, int esize, bool k_major, Layout *out);
    /* Whether a laid-out dot runs asynchronously, its result waited for
     * where it is first read (NULL: no dot does); pipelined loops that
     * accumulate through such dots are rotated so that they overlap other
     * work (passes/pass_rotate.c). */
    bool (*dot_async)(TirFunc *f, const TirInst *dot);
    /* The passes that prepare TIR for this target's emitter, in order; the
     * list ends with an entry whose name is NULL. */
    const Pass *codegen_passes;
    /* How the emitter writes this target's instructions (codegen_internal.h). */
    const TargetEmit *emit;
};

/* The target named `name`, or NULL. */
const Target *target_lookup(const char *name);
/* The target everything compiles for unless told otherwise (sm_90a). */
const Target *target_default(void);
/* The targets in table order (i < target_count()). */
int target_count(void);
const Target *target_at(int i);
/* The known names for a message or a usage line, e.g. with ", " and " or ":
 * "sm_80, sm_90 or sm_90a"; with "|" and "|": "sm_80|sm_90|sm_90a". */
void target_names(char *buf, size_t size, const char *sep, const char *last_sep);
/* The message for a target name the table lacks: "unknown target 'X' (use
 * sm_80, sm_90 or sm_90a)". */
void target_unknown_message(char *buf, size_t size, const char *name);
/* The target whose code a GPU of compute capability major.minor runs best:
 * the arch-specific target of exactly its generation, else the newest
 * portable one it can run; NULL when it can run none. */
const Target *target_for_device(int major, int minor);
/* The compute capability x 10 a PTX module's `.target` line asks for, and
 * whether it is arch-specific ("sm_90a"); 0 when there is none. */
int target_sm_of_ptx(const char *ptx, bool *arch_specific);
/* The target whose limits PTX written by anyone runs under, judged by its
 * `.target` line (target_for_sm); the oldest target when it names none we
 * know. */
const Target *target_of_ptx(const char *ptx);
/* The known target with the largest sm not above `sm`, preferring an
 * arch-specific one when asked: the limits that PTX for `sm` runs under.
 * NULL when sm is below every known target. */
const Target *target_for_sm(int sm, bool arch_specific);

/* The PTX ISA version the target's code declares, times 10 (84 for 8.4),
 * from its llvm_features: what decides the instructions it may use. */
int target_ptx_version(const Target *t);

/* Whether dots of fp8 tiles can run on the target's tensor cores as
 * mma.sync.m16n8k32 (sm_89 and PTX 8.4: the sm_89 row). */
bool target_has_fp8_mma(const Target *t);
/* Whether fp8 dots whose operands are K-major can run on the target's
 * tensor cores as wgmma.mma_async m64nNk32 (sm_90a). */
bool target_has_fp8_wgmma(const Target *t);

/* The FMA operand layouts of a dot whose result has layout acc. */
void dot_plan_fma_operands(DotPlan *plan, int K);

#endif
