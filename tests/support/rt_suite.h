/* Tests of the public C API that every device must pass (tests/support/
 * rt_suite.c), and helpers for tests written on the public API: device
 * tensors filled from host tensors, temporary directories. test_runtime.c
 * runs the suite on interp and emu (and cuda when a GPU is present);
 * test_runtime_cuda.c runs it on a mock CUDA driver. */
#ifndef TSR_RT_SUITE_H
#define TSR_RT_SUITE_H

#include "tessera.h"
#include "testutil.h"

/* A tensor in the memory of a context's device, with its DLTensor. */
typedef struct {
    DLTensor t;
    int64_t shape[TSR_MAX_RANK], strides[TSR_MAX_RANK];
    void *mem; /* tsr_malloc'd */
    size_t bytes;
} DevTensor;

/* Makes d a contiguous device tensor holding a copy of h (fails the test on
 * error). d->t points into d: don't copy a DevTensor, take its t. */
void dev_upload(tsr_context *ctx, const HostTensor *h, DevTensor *d);
/* Copies a device tensor made by dev_upload back into h. */
void dev_download(tsr_context *ctx, const DevTensor *d, HostTensor *h);
void dev_free(tsr_context *ctx, DevTensor *d);
DLDataType dl_dtype(DType dt);

/* A context on `kind` with the cache in the test's cache directory
 * (TESSERA_CACHE_DIR as the test runner set it); fails the test if it
 * cannot be created. */
tsr_context *suite_context(tsr_device_kind kind);
/* Compiles a source on ctx; fails the test with the diagnostics. */
tsr_module *suite_compile(tsr_context *ctx, const char *src, const tsr_define *defs, int ndefs);

/* Makes a fresh directory under $TMPDIR (or /tmp); the caller frees the
 * path. rm_rf removes a tree. */
char *make_temp_dir(const char *prefix);
void rm_rf(const char *path);

/* Points TESSERA_CACHE_DIR at $BUILD/tests/cache (or a temporary
 * directory) unless it is set, so tests neither fill the user's cache nor
 * regenerate PTX on every run. */
void suite_default_cache_dir(void);

/* Runs the API suite on one device; returns cmocka's result. */
int rt_suite_run(tsr_device_kind kind, const char *group_name);
/* When the suite cannot run on a device: a group of that name with one
 * test that skips with the reason (so the skip is counted and explained). */
int rt_suite_skip(const char *group_name, const char *reason);

#endif
