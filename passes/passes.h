/* The TIR passes and the pipelines that run them (passes.c). Each pass is
 * one file with one entry point, taking the function it transforms and the
 * target it prepares for (NULL for the target-independent passes the
 * frontend runs); it returns whether it changed anything. The verifier runs
 * after every pass. */
#ifndef TSR_PASSES_H
#define TSR_PASSES_H

#include "target.h"

bool tir_pass_fold(TirFunc *f, const Target *t);
bool tir_pass_cse(TirFunc *f, const Target *t);
bool tir_pass_dce(TirFunc *f, const Target *t);
bool tir_pass_fuse(TirFunc *f, const Target *t);
bool tir_pass_layout(TirFunc *f, const Target *t);
bool tir_pass_loopsplit(TirFunc *f, const Target *t);
bool tir_pass_pipeline(TirFunc *f, const Target *t);
bool tir_pass_rotate(TirFunc *f, const Target *t);
bool tir_pass_smem(TirFunc *f, const Target *t);
/* Shared-memory scratch: the padded row-major tile a conversion goes
 * through (elements per row, bytes), and the bytes an instruction needs. */
int smem_convert_pitch(TType t);
size_t smem_convert_bytes(TType t);
size_t smem_scratch_bytes(TirFunc *f, const TirInst *in);

/* Runs the target-independent pipeline (fold, cse, fold, dce). dump: when
 * not NULL, the IR after each pass is appended, headed by the pass name. */
void tir_run_passes(TirFunc *f, StrBuf *dump);
/* Runs the passes that prepare TIR for code generation for target t (its
 * codegen_passes: layouts, pipelining, shared memory), once: later calls
 * do nothing. */
void tir_run_codegen_passes(TirFunc *f, const Target *t, StrBuf *dump);

#endif
