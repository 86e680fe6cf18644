/* `tessera run`: compile a kernel, make its arguments from specs on the
 * command line, launch it on one device, and optionally on a second device
 * or with a reference kernel to compare; save tensors as .npy.
 *
 *   run_args.c  the command line, argument specs, dims, host tensors
 *   run.c       devices, launches, comparison, timing, reports
 *
 * Built only on the public API (tessera.h) and support/npy.h. */
#ifndef TSR_CLI_RUN_H
#define TSR_CLI_RUN_H

#include "tessera.h"

#include <stdbool.h>
#include <stdint.h>

enum { RUN_MAX_ITEMS = 64 };

typedef struct {
    const char *name, *value;
} RunPair;

typedef struct {
    const char *file, *kernel, *target, *save_dir;
    const char *device, *compare;  /* "auto", "cuda", "emu", "interp"; compare NULL: none */
    const char *reference;         /* FILE.tsr[:KERNEL] or NULL */
    RunPair defines[RUN_MAX_ITEMS], args[RUN_MAX_ITEMS], dims[RUN_MAX_ITEMS];
    int ndefines, nargs, ndims;
    int reps, warmup;              /* reps 0: no timing; warmup -1: the device's default */
    uint64_t seed;
    double atol, rtol;             /* < 0: by dtype */
    bool emu_checks;               /* races and uninitialized registers on emu */
    unsigned long long emu_max_insns; /* warp instructions a launch on emu may execute; 0: the default */
    bool quiet;                    /* no value summaries */
    bool persistent;               /* --persistent: TSR_COMPILE_PERSISTENT */
} RunOptions;

/* One kernel parameter with the host value made for it. */
typedef struct {
    tsr_param_info info;
    const char *spec;              /* the --arg value, NULL when not given */
    int ndim;
    int64_t shape[TSR_MAX_RANK];
    void *data;                    /* host contents in the parameter's dtype (C order) */
    size_t nbytes;
    bool poisoned;                 /* an output left to the kernel: filled with the poison pattern */
    double scalar;
} RunArg;

/* Parses `tessera run` arguments (argv[0] is the first after "run"). On
 * error prints a message and returns false. */
bool run_parse_options(int argc, char **argv, RunOptions *o);
void run_free_options(RunOptions *o);

/* Makes a host value for every parameter of k from the options: specs,
 * dims unified across tensors and --dim, outputs sized from their declared
 * shapes and poisoned. Prints a message naming the argument and returns
 * false on a bad spec, a missing argument or inconsistent shapes. With
 * all_args_known, an --arg that names no parameter is an error (a
 * reference kernel may take fewer parameters). Generated values depend only
 * on the seed and the parameter's name, so two kernels get the same inputs. */
bool run_make_args(const RunOptions *o, tsr_kernel *k, bool all_args_known, RunArg **args, int *nargs);
void run_free_args(RunArg *args, int n);

/* The poison pattern of a dtype (bytes of one element) and whether element
 * i of data still holds it. */
void run_poison(DLDataType dt, void *data, int64_t count);
bool run_is_poison(DLDataType dt, const void *data, int64_t i);

/* Element count of an argument. */
int64_t run_numel(const RunArg *a);

int tsr_cli_run(int argc, char **argv);

#endif
