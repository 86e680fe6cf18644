/* LLVM IR to PTX: the NVPTX target machine, LLVM's O1 pipeline, and
 * assembly output (the machine code generator at its highest level). LLVM's
 * target registry is initialized once per process. */
#include "codegen_internal.h"
#include "nvptx_fixes.h"
#include "oom.h"

#include <llvm-c/Support.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char triple[] = "nvptx64-nvidia-cuda";
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_nvptx(void)
{
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
    /* 32-bit shared-memory pointers: half the registers for addresses; no
     * loop strength reduction in the code generator: the emitter carries
     * the pointers a loop advances itself (codegen_loop.c), and LLVM's pass
     * would give each 16-byte chunk of a copy a pointer of its own (two
     * more 64-bit adds and two registers per chunk: attention's key loop
     * went from 506 to 538 instructions an iteration at D=128); and the
     * workarounds the linked LLVM needs. These are LLVM's process-wide
     * options; they are set once, the same way, for every compile in the
     * process. */
    const char *argv[8] = { "tessera", "-nvptx-short-ptr", "-disable-lsr" };
    int argc = 3 + nvptx_fix_options(argv + 3, 5);
    LLVMParseCommandLineOptions(argc, argv, NULL);
}

static LLVMTargetMachineRef make_machine(const Target *t)
{
    pthread_once(&init_once, init_nvptx);
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(triple, &target, &err))
        tsr_die("LLVM has no NVPTX target: %s", err ? err : "?");
    return LLVMCreateTargetMachine(target, triple, t->llvm_cpu, t->llvm_features, LLVMCodeGenLevelAggressive, LLVMRelocDefault,
                                   LLVMCodeModelDefault);
}

void ptx_prepare_module(LLVMModuleRef mod, const Target *t)
{
    LLVMTargetMachineRef tm = make_machine(t);
    LLVMSetTarget(mod, triple);
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(mod, dl);
    LLVMDisposeTargetData(dl);
    LLVMDisposeTargetMachine(tm);
}

bool ptx_emit(LLVMModuleRef mod, const Target *t, char **ptx, StrBuf *err)
{
    LLVMTargetMachineRef tm = make_machine(t);
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    /* O1, not O3: the IR codegen.c emits is already unrolled, CSE'd and
     * straight-line, and ptxas optimizes after us. Measured 2026-12-01 on 31
     * kernels (every attention variant, the examples, tests/programs): the
     * SASS ptxas makes is identical for every attention variant and differs
     * by at most 8 instructions elsewhere (64 fewer in total), while source
     * to PTX takes 12-21% less time (D=256: 140 -> 111 ms). */
    LLVMErrorRef e = LLVMRunPasses(mod, "default<O1>", tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    if (e) {
        char *m = LLVMGetErrorMessage(e);
        sb_puts(err, m);
        LLVMDisposeErrorMessage(m);
        LLVMDisposeTargetMachine(tm);
        return false;
    }
    nvptx_fix_module(mod);
    char *msg = NULL;
    LLVMMemoryBufferRef buf = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMAssemblyFile, &msg, &buf)) {
        sb_puts(err, msg ? msg : "unknown error");
        LLVMDisposeMessage(msg);
        LLVMDisposeTargetMachine(tm);
        return false;
    }
    size_t n = LLVMGetBufferSize(buf);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, LLVMGetBufferStart(buf), n);
        s[n] = 0;
    }
    *ptx = s;
    LLVMDisposeMemoryBuffer(buf);
    LLVMDisposeTargetMachine(tm);
    if (!s)
        oom_fail(n + 1); /* after LLVM's objects are disposed of */
    return true;
}

void codegen_llvm_version(char *buf, size_t n)
{
    unsigned a, b, c;
    LLVMGetVersion(&a, &b, &c);
    snprintf(buf, n, "%u.%u.%u", a, b, c);
}
