/* The workarounds for LLVM NVPTX miscompiles (backend/nvptx_fixes.c) on IR
 * of their own: every `sitofp` of an i1 or an i1 vector becomes a select of
 * -1.0 and 0.0 (what LLVM 19 gets wrong), other conversions stay; the
 * store-merging option is passed exactly to the LLVM versions that need
 * it. The programs that found the bugs are regression programs of
 * test_diffgen (tests/programs/diffgen/sitofp_i1.tsr,
 * shared_u8_generic_store.tsr). */
#include "nvptx_fixes.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/IRReader.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const char ir[] = "define float @s(i1 %c) {\n"
                         "  %r = sitofp i1 %c to float\n"
                         "  ret float %r\n"
                         "}\n"
                         "define <2 x half> @v(<2 x i1> %c) {\n"
                         "  %r = sitofp <2 x i1> %c to <2 x half>\n"
                         "  ret <2 x half> %r\n"
                         "}\n"
                         "define float @u(i1 %c, i32 %x) {\n"
                         "  %a = uitofp i1 %c to float\n"
                         "  %b = sitofp i32 %x to float\n"
                         "  %r = fadd float %a, %b\n"
                         "  ret float %r\n"
                         "}\n";

static void sitofp_of_i1_becomes_select(void **state)
{
    (void)state;
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(ir, sizeof ir - 1, "t");
    LLVMModuleRef mod;
    char *msg = NULL;
    if (LLVMParseIRInContext(ctx, buf, &mod, &msg))
        fail_msg("bad test IR: %s", msg);
    nvptx_fix_module(mod);
    assert_int_equal(LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg), 0);
    LLVMDisposeMessage(msg);
    char *text = LLVMPrintModuleToString(mod);
    assert_null(strstr(text, "sitofp i1"));
    assert_null(strstr(text, "sitofp <2 x i1>"));
    assert_non_null(strstr(text, "select i1 %c, float -1.000000e+00, float 0.000000e+00"));
    /* LLVM 19 prints the splat <half 0xHBC00, half 0xHBC00>, LLVM 22 splat (half 0xHBC00) */
    const char *v = strstr(text, "select <2 x i1> %c, <2 x half> ");
    assert_non_null(v);
    assert_non_null(strstr(v, "0xHBC00"));
    assert_non_null(strstr(v, "zeroinitializer"));
    assert_non_null(strstr(text, "uitofp i1 %c to float")); /* correct in every version: left alone */
    assert_non_null(strstr(text, "sitofp i32 %x to float"));
    LLVMDisposeMessage(text);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
}

static void store_merging_off_before_llvm22(void **state)
{
    (void)state;
    unsigned major, minor, patch;
    LLVMGetVersion(&major, &minor, &patch);
    const char *argv[4] = { 0 };
    int n = nvptx_fix_options(argv, 4);
    bool off = false;
    for (int i = 0; i < n; i++)
        off |= !strcmp(argv[i], "-combiner-store-merging=0");
    assert_int_equal(off, major < 22);
    assert_int_equal(nvptx_fix_options(argv, 0), 0); /* no room: nothing written */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sitofp_of_i1_becomes_select),
        cmocka_unit_test(store_merging_off_before_llvm22),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
