/* Helpers shared by the tests: a deterministic random generator, host
 * tensors with random or poisoned contents, compiling DSL files. */
#ifndef TSR_TESTUTIL_H
#define TSR_TESTUTIL_H

#include "compile.h"
#include "interp.h"

typedef struct {
    uint64_t s;
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_u64(Rng *r);
double rng_uniform(Rng *r); /* [0, 1) */
double rng_normal(Rng *r);

/* A contiguous host tensor owning its memory. */
HostTensor tensor_new(DType dt, int rank, const int64_t *shape);
void tensor_free(HostTensor *t);
int64_t tensor_numel(const HostTensor *t);
double tensor_get(const HostTensor *t, int64_t i); /* element i in memory order */
void tensor_set(HostTensor *t, int64_t i, double v); /* rounds to the dtype */
void tensor_fill_normal(HostTensor *t, Rng *r, double scale);
void tensor_fill_uniform(HostTensor *t, Rng *r, double lo, double hi);
/* Fills t with a value no kernel computes, so that elements a kernel did not
 * write can be told apart: for floats a signalling NaN with a payload (every
 * arithmetic operation gives quiet NaNs; isnan() is true of it), for i32 and
 * u32 TSR_POISON_I32 (a value random tests do not produce), for i64 that in
 * both halves; i8 and u8 have no value to spare (0xa5, which a kernel may
 * write too). */
void tensor_poison(HostTensor *t);
/* Whether element i (memory order) still holds the poison, bit for bit. */
bool tensor_is_poison(const HostTensor *t, int64_t i);
#define TSR_POISON_I32 0x7a5a5a5a
/* The tensor's values as floats (exact for f16/bf16). Caller frees. */
float *tensor_to_float(const HostTensor *t);

/* Skips the running cmocka test, printing its reason on a line "SKIP:
 * REASON" that tests/run-tests.sh collects into the suite's summary. For
 * files that include cmocka.h. */
#define TEST_SKIP(...)                                                                                                 \
    do {                                                                                                               \
        print_message("SKIP: " __VA_ARGS__);                                                                           \
        print_message("\n");                                                                                           \
        skip();                                                                                                        \
    } while (0)

/* Seconds on a monotonic clock (for time limits). */
double test_seconds(void);
/* The environment variable as a number, or dflt when unset or empty. */
long test_env_long(const char *name, long dflt);

KernelArg arg_tensor(HostTensor t);
KernelArg arg_scalar(double v);

/* Compiles a file; fails the test (with the diagnostics) on errors. */
TirModule *compile_file_or_fail(const char *path, const Define *defs, int ndefs);
TirModule *compile_string(const char *name, const char *text, const Define *defs, int ndefs, StrBuf *diags);
TirFunc *module_func(TirModule *m, const char *name);

#endif
