/* Source line information in the generated code (CodegenOptions.line_info):
 * a DWARF compile unit with line tables only, one subprogram for the kernel,
 * and the DSL position of each TIR instruction on what the emitter builds
 * for it. NVPTX writes them as .file/.loc, which ptxas keeps for profilers
 * and debuggers and the emulator names in its fault reports. Off by default:
 * without it the PTX is exactly what it was (scripts/ptx-digest.sh). */
#include "codegen_internal.h"

#include <llvm-c/DebugInfo.h>
#include <string.h>

/* LLVM's DICompileUnit::DebugDirectivesOnly, which the C API does not name
 * (its enum stops at LineTablesOnly, 2): .file/.loc and no DWARF sections.
 * With LineTablesOnly, NVPTX also writes `.target ..., debug`, and ptxas
 * then compiles without optimizing (softmax: 1120 SASS instructions instead
 * of 384, ptxas 13). */
#define DEBUG_DIRECTIVES_ONLY ((LLVMDWARFEmissionKind)3)

void lineinfo_begin(Emitter *em)
{
    if (!em->opts->line_info)
        return;
    const Source *src = em->diag ? em->diag->src : NULL;
    const char *path = src && src->name ? src->name : "<source>";
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    size_t dirlen = slash ? (size_t)(slash - path) : 0;
    em->dib = LLVMCreateDIBuilder(em->mod);
    LLVMMetadataRef file = LLVMDIBuilderCreateFile(em->dib, name, strlen(name), path, dirlen);
    LLVMDIBuilderCreateCompileUnit(em->dib, LLVMDWARFSourceLanguageC, file, "tessera", strlen("tessera"), 1, "", 0,
                                   0, "", 0, DEBUG_DIRECTIVES_ONLY, 0, 0, 0, "", 0, "", 0);
    LLVMMetadataRef type = LLVMDIBuilderCreateSubroutineType(em->dib, file, NULL, 0, LLVMDIFlagZero);
    const char *fname = em->f->name;
    unsigned line = em->f->pos.line > 0 ? (unsigned)em->f->pos.line : 0;
    em->di_scope = LLVMDIBuilderCreateFunction(em->dib, file, fname, strlen(fname), fname, strlen(fname), file, line,
                                               type, 0, 1, line, LLVMDIFlagZero, 1);
    LLVMSetSubprogram(em->fn, em->di_scope);
    LLVMAddModuleFlag(em->mod, LLVMModuleFlagBehaviorWarning, "Debug Info Version", strlen("Debug Info Version"),
                      LLVMValueAsMetadata(LLVMConstInt(em->t_i32, LLVMDebugMetadataVersion(), 0)));
}

void lineinfo_at(Emitter *em, SrcPos pos)
{
    if (!em->dib || pos.line <= 0)
        return;
    /* Lines only: LLVM merges the locations of instructions it combines, and
     * two of one line with different columns would become line 0. */
    LLVMMetadataRef loc = LLVMDIBuilderCreateDebugLocation(em->ctx, (unsigned)pos.line, 0, em->di_scope, NULL);
    LLVMSetCurrentDebugLocation2(em->b, loc);
}

void lineinfo_end(Emitter *em)
{
    if (em->dib)
        LLVMDIBuilderFinalize(em->dib);
}

void lineinfo_dispose(Emitter *em)
{
    if (em->dib)
        LLVMDisposeDIBuilder(em->dib);
    em->dib = NULL;
}
