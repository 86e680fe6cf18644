/* Workarounds for miscompiles of LLVM's NVPTX backend (nvptx_fixes.c). */
#ifndef TSR_NVPTX_FIXES_H
#define TSR_NVPTX_FIXES_H

#include <llvm-c/Types.h>

/* Adds to argv (room for max) the options for LLVM's code generator that
 * the linked LLVM needs; returns how many. */
int nvptx_fix_options(const char **argv, int max);

/* Rewrites what the linked LLVM's NVPTX backend would miscompile, after
 * LLVM's optimizer and before code generation. */
void nvptx_fix_module(LLVMModuleRef mod);

#endif
