/* The kernels of tests/programs/layouts.tsr, which stress code generation
 * (conversions, reductions on every axis and across warps, replicated
 * tiles, bool tiles, run-time branches, nested loops, computed dot
 * operands, 8 warps), on the emulator against the interpreter. */
#include "diff_run.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define F "tests/programs/layouts.tsr"

static const Case cases[] = {
    { F, "transpose_tile", { { "T", "f16" } }, 1, { { "M", 113 }, { "N", 203 } }, 2, 0, 0 },
    { F, "transpose_tile", { { "T", "f32" }, { "BM", "16" }, { "BN", "16" } }, 3, { { "M", 33 }, { "N", 1 } }, 2, 0, 0 },
    { F, "colstats", { { "T", "f16" } }, 1, { { "M", 203 }, { "N", 113 } }, 2, 0, 0 },
    { F, "small_tiles", { { "T", "f16" } }, 1, { { "N", 203 }, { "G", 26 } }, 2, 0, 0 },
    { F, "bools_and_ints", { { "T", "f16" } }, 1, { { "S", 77 } }, 1, 0, 0 },
    { F, "branchy", { { "T", "f16" } }, 1, { { "M", 113 }, { "N", 64 } }, 2, 2.5, 0 },
    { F, "nested", { { "T", "f16" } }, 1, { { "M", 70 }, { "N", 45 } }, 2, 0, 0 },
    { F, "computed_dot", { { "T", "f16" } }, 1, { { "M", 70 }, { "N", 130 }, { "K", 80 } }, 3, 0, 0 },
    { F, "computed_dot", { { "T", "f16" }, { "U", "bf16" } }, 2, { { "M", 32 }, { "N", 64 }, { "K", 32 } }, 3, 0, 0 },
    { F, "small_dot", { { "T", "f16" } }, 1, { { "M", 27 }, { "N", 19 }, { "K", 35 } }, 3, 0, 0 },
    { F, "small_dot", { { "T", "f16" }, { "U", "bf16" } }, 2, { { "M", 8 }, { "N", 8 }, { "K", 8 } }, 3, 0, 0 },
    { F, "small_dot", { { "T", "f16" }, { "U", "f32" } }, 2, { { "M", 1 }, { "N", 17 }, { "K", 9 } }, 3, 0, 0 },
    { F, "f32_dot", { { "T", "f16" } }, 1, { { "M", 70 }, { "N", 45 }, { "K", 40 } }, 3, 0, 0 },
    { F, "shared_then_scratch", { { "T", "f16" } }, 1, { { "M", 70 }, { "N", 130 }, { "K", 80 } }, 3, 0, 0 },
};

static void programs_agree(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        diff_run(&cases[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(programs_agree) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
