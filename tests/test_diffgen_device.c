/* Generated programs through the public API on the machine's device
 * (issue 20, item 5): the programs of a fixed seed (tests/diffgen/) run on
 * the interpreter and on the device a TSR_DEVICE_AUTO context picks (cuda
 * on a GPU machine: bench/gpu-check.sh runs this in tessera-gpu-tests; the
 * emulator elsewhere, or as TESSERA_DEVICE says), the tensors copied into
 * the device's memory with their strides, the kernel launched by
 * tsr_kernel_launch; each must agree (or hit a documented limit). At most
 * TSR_DIFFGEN_SECONDS (default 15) and TSR_DIFFGEN_COUNT (100) programs. */
#include "check.h"
#include "gen.h"
#include "tessera.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#define DEVICE_SEED 20261206

static void device_batch(void **state)
{
    (void)state;
    tsr_context_options o;
    tsr_context_options_init(&o);
    tsr_context *ctx = NULL;
    if (tsr_context_create(&o, &ctx) != TSR_OK) {
        char why[256];
        snprintf(why, sizeof why, "no device context: %s", ctx ? tsr_context_error(ctx) : "cannot create");
        tsr_context_destroy(ctx);
        TEST_SKIP("%s", why);
        return;
    }
    tsr_device_kind kind = tsr_context_device_kind(ctx);
    char device[64];
    snprintf(device, sizeof device, "%s", tsr_context_device_name(ctx));
    tsr_context_destroy(ctx);
    if (kind == TSR_DEVICE_INTERP) {
        TEST_SKIP("TESSERA_DEVICE=interp: the interpreter is the reference itself");
        return;
    }
    check_set_runtime_device(kind, true);
    long count = test_env_long("TSR_DIFFGEN_COUNT", 100), n = 0, rejected = 0;
    double end = test_seconds() + (double)test_env_long("TSR_DIFFGEN_SECONDS", 15);
    Rng seeds;
    rng_seed(&seeds, DEVICE_SEED);
    for (; n < count && test_seconds() < end; n++) {
        uint64_t seed = rng_u64(&seeds) >> 16;
        Program *p = gen_program(seed, NULL);
        char *text = prog_print(p);
        CheckResult r = check_program("generated.tsr", text, seed);
        rejected += r.v == V_REJECTED;
        if (r.v != V_OK && r.v != V_REJECTED)
            fail_msg("program %ld (seed %llu) on %s: %s: %s\n%s", n, (unsigned long long)seed, device,
                     verdict_names[r.v], r.msg, text);
        free(text);
        prog_free(p);
    }
    check_set_runtime_device(TSR_DEVICE_AUTO, false);
    print_message("%ld generated programs agreed between the interpreter and %s through the public API (%ld "
                  "rejected by documented limits)%s\n",
                  n, device, rejected, n < count ? "; stopped by TSR_DIFFGEN_SECONDS" : "");
    assert_true(n > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(device_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
