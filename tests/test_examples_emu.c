/* The example programs of dsl/examples compiled to PTX and run on the
 * emulator, against the interpreter on the same random inputs (odd sizes,
 * poisoned outputs): every output element must agree within rounding, and
 * the elements one leaves unwritten the other must leave unwritten too;
 * then the same compiled persistent for sm_90a and sm_80. */
#include "diff_run.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const Case cases[] = {
    { "dsl/examples/matmul.tsr", "matmul", { { "T", "f16" } }, 1, { { "M", 113 }, { "N", 203 }, { "K", 77 } }, 3, 0, 0 },
    { "dsl/examples/matmul.tsr", "matmul", { { "T", "bf16" }, { "OT", "f32" } }, 2,
      { { "M", 130 }, { "N", 64 }, { "K", 200 } }, 3, 0, 0 },
    { "dsl/examples/matmul.tsr", "matmul", { { "T", "f16" }, { "BM", "16" }, { "BN", "32" }, { "BK", "16" } }, 4,
      { { "M", 1 }, { "N", 33 }, { "K", 17 } }, 3, 0, 0 },
    { "dsl/examples/matmul.tsr", "matmul", { { "T", "f32" }, { "BK", "8" } }, 2, { { "M", 70 }, { "N", 45 }, { "K", 40 } }, 3, 0, 0 },
    { "dsl/examples/matmul_big.tsr", "matmul_big", { { "T", "f16" } }, 1, { { "M", 131 }, { "N", 130 }, { "K", 77 } }, 3, 0, 0 },
    { "dsl/examples/softmax.tsr", "softmax", { { "T", "f32" } }, 1, { { "M", 7 }, { "N", 1023 } }, 2, 0, 0 },
    { "dsl/examples/softmax.tsr", "softmax", { { "T", "f16" }, { "BN", "64" } }, 2, { { "M", 113 }, { "N", 203 } }, 2, 0, 0 },
    { "dsl/examples/layernorm.tsr", "layernorm", { { "T", "f16" } }, 1, { { "M", 9 }, { "N", 300 } }, 2, 0, 0 },
    { "dsl/examples/layernorm.tsr", "layernorm", { { "T", "bf16" }, { "BN", "64" } }, 2, { { "M", 33 }, { "N", 203 } }, 2, 0, 0 },
    { "dsl/examples/reduce.tsr", "partial_sums", { { "T", "f16" } }, 1, { { "N", 4099 }, { "G", 2 } }, 2, 0, 0 },
    { "dsl/examples/reduce.tsr", "partial_sums", { { "T", "i32" }, { "ACC", "i32" }, { "BLOCK", "64" }, { "CHUNKS", "2" } },
      4, { { "N", 1023 }, { "G", 8 } }, 2, 0, 0 },
    { "dsl/examples/reduce.tsr", "sum_partials", { { "T", "f32" }, { "BLOCK", "256" } }, 2, { { "G", 1000 } }, 1, 0, 0 },
    { "dsl/examples/scale_shift.tsr", "scale_shift", { { "T", "f16" } }, 1, { { "M", 113 }, { "N", 203 } }, 2, 0.1, 0 },
    { "dsl/examples/scale_shift.tsr", "scale_shift", { { "T", "bf16" }, { "ACT", "2" } }, 2, { { "M", 1 }, { "N", 129 } }, 2, 0.1, 0 },
    { "dsl/examples/scale_shift.tsr", "scale_shift", { { "T", "f32" }, { "ACT", "3" } }, 2, { { "M", 37 }, { "N", 203 } }, 2, 0.1, 0 },
    { "dsl/examples/scale_shift.tsr", "scale_shift", { { "T", "f16" }, { "ACT", "4" } }, 2, { { "M", 37 }, { "N", 203 } }, 2, 0.1, 0 },
    { "dsl/examples/scale_shift.tsr", "scale_shift", { { "T", "f32" }, { "ACT", "5" } }, 2, { { "M", 37 }, { "N", 203 } }, 2, 0.1, 0 },
    /* the same bits on both (the scalar is the seed); dropout's mask is checked exactly on emu in test_int.c */
    { "dsl/examples/dropout.tsr", "philox", { { "B", "256" } }, 1, { { "N", 3001 } }, 1, 12345, 0 },
    { "tests/programs/ints.tsr", "ints", { { "T", "f32" } }, 0, { { "N", 1001 } }, 1, 3, 0 },
};

static void examples_agree(void **state)
{
    (void)state;
    const char *only = getenv("TSR_EXAMPLE_CASE"); /* run one case, for debugging */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!only || (size_t)atoi(only) == i)
            diff_run(&cases[i]);
}

/* Every case compiled persistent (CodegenOptions.persistent), on 3 blocks,
 * for sm_90a and sm_80: the same answers. */
static void examples_agree_persistent(void **state)
{
    (void)state;
    const char *only = getenv("TSR_EXAMPLE_CASE");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!only || (size_t)atoi(only) == i) {
            diff_run_on(&cases[i], "sm_90a", 3);
            diff_run_on(&cases[i], "sm_80", 3);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(examples_agree), cmocka_unit_test(examples_agree_persistent) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
