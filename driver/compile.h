/* The compiler as one pipeline, in the order it runs:
 *
 *   source --lexer, parser, sema--> TIR --target-independent passes-->
 *   optimized TIR --the target's code-generation passes--> laid-out TIR
 *   --emitter--> LLVM IR --NVPTX--> PTX
 *
 * The command line, the runtime's module compile, the benchmark and the
 * tests all compile through these calls, so every path runs the same stages
 * once and can dump each: `dump` receives the TIR after every pass (headed
 * by the pass name), CodegenResult.llvm_ir the LLVM IR when asked. */
#ifndef TSR_COMPILE_H
#define TSR_COMPILE_H

#include "codegen.h"
#include "sema.h"

/* Source to optimized TIR: one function per kernel specialization (only
 * `kernel` when not NULL). Returns NULL when the program has errors (they
 * are in diag). */
TirModule *compile_tir(const Source *src, const Define *defs, int ndefs, const char *kernel, Diag *diag,
                       StrBuf *dump);

/* Lays out f for target t in place: the target's code-generation passes
 * (layouts, pipelining, shared memory), after the checks that must come
 * first. Returns false, with diagnostics, when f cannot be compiled for t. */
bool compile_layout(TirFunc *f, const Target *t, Diag *diag, StrBuf *dump);

/* One kernel of compile_tir's module to PTX for o->target (NULL: the
 * default target); f is not changed: a copy is laid out and emitted.
 * want_llvm: also return the LLVM IR. Problems only code generation sees
 * are reported in diag at their source position. */
bool compile_ptx(const TirFunc *f, const CodegenOptions *o, bool want_llvm, StrBuf *dump, CodegenResult *out,
                 Diag *diag);

/* The target o names (NULL: the default); NULL, with a diagnostic, when it
 * names none. */
const Target *compile_target(const char *name, Diag *diag);

#endif
