/* tessera-bench: the attention benchmark and the code-generation benchmarks.
 *
 *   options.c    command line, default shapes (FlashAttention's convention)
 *   measure.c    FLOP counts, statistics of timings, the GPUs' peak rates,
 *                FlashAttention's tolerance rule
 *   attention.c  `attention`: Tessera's kernel and the reference attention
 *                (kernels/attention_naive.tsr) timed on one device, checked
 *                against the double-precision reference (kernels/reference.h);
 *                the backward pass (tsr_attention_backward) likewise, with
 *                no reference implementation to time
 *   report.c     the table, JSON, CSV and the SVG plot
 *   compile.c    `compile` (source to PTX times) and `ptxas` (resources)
 *   tune.c       `tune`: searches attention's blocks, stages and warps and
 *                writes kernels/attention_tuned.inc
 *   tessera-bench.c  main
 *
 * Everything but main is also linked into tests/test_bench. */
#ifndef TSR_BENCH_H
#define TSR_BENCH_H

#include "attention_config.h"
#include "codegen.h"
#include "dtype.h"
#include "tessera.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum { BENCH_MAX_LIST = 32 };

typedef enum { CAUSAL_NO = 1, CAUSAL_YES = 2, CAUSAL_BOTH = 3 } CausalMode;
/* Which passes of attention run: the forward, the backward (its inputs
 * made by one untimed forward), or each shape both ways. */
typedef enum { PASS_FWD = 1, PASS_BWD = 2, PASS_BOTH = 3 } PassMode;

/* The features of kernels/attention_ext.tsr that a run asks for, the same
 * for every configuration (all off: the plain kernel). */
typedef struct {
    bool local;                  /* --window L,R: FlashAttention's sliding window (-1: open side) */
    int window_left, window_right;
    double softcap;              /* --softcap X (0: off) */
    bool alibi;                  /* --alibi: the ALiBi paper's slopes 2^(-8 (h + 1) / H) */
    int varlen[BENCH_MAX_LIST];  /* --varlen LENS: one packed batch, Sq = Sk = each length */
    int nvarlen;
    int paged;                   /* --paged P: decoding from a cache of P-key pages (Sk keys, Sq = 1
                                    unless --sq/--sk); 0: off */
    int splits;                  /* --splits N: split-KV programs (0: the library's choice) */
} BenchFeatures;

/* Whether any feature is on; a short description ("window 32,0, softcap
 * 30, ALiBi, varlen 4 sequences", "paged 16, splits 4") or "none". */
bool bench_features_on(const BenchFeatures *f);
void bench_features_text(const BenchFeatures *f, char *buf, size_t n);
/* ALiBi's slope of head h of H. */
float bench_alibi_slope(int h, int H);

typedef struct {
    tsr_device_kind device; /* TSR_DEVICE_AUTO: cuda with a GPU, else emu */
    const char *target;     /* NULL: the device's own (tsr_context_default_target) */
    unsigned compile_flags; /* tsr_context_options.compile_flags (--no-warp-specialize, --no-overlap) */
    DType dtypes[BENCH_MAX_LIST];
    int ndtypes;
    int dims[BENCH_MAX_LIST];
    int ndims;
    int seqlens[BENCH_MAX_LIST]; /* Sq = Sk = each; empty when sq/sk are given */
    int nseqlens;
    int sq, sk;                  /* --sq/--sk: one unequal pair (0: unset) */
    int batch, heads, kv_heads;  /* 0: derived (FlashAttention's convention) */
    CausalMode causal;
    PassMode passes;             /* --pass (default: fwd on cuda, both on the CPU devices) */
    int reps, warmup;            /* -1: the device's default */
    bool reference;              /* time the reference attention too */
    int check_rows;              /* rows checked per configuration when sampling */
    double tolerance_scale;      /* multiplies the rule's bound (tests: 0 fails any error) */
    double peak_tflops;          /* 0: from the GPU's name */
    double time_limit;           /* seconds; later configurations are skipped (0: none) */
    uint64_t seed;
    const char *json, *csv, *plot;
    bool quiet;                  /* no progress on stderr */
    BenchFeatures feat;
    /* `tune`: Tessera's forward kernel (kernels/attention.tsr) compiled with
     * these blocks and launched directly instead of tsr_attention_forward's
     * choice (plain forward configurations only); NULL: the library's */
    const AttnConfig *forward_config;
    /* which of the shape options were given (the CPU devices pick small
     * defaults for the others) */
    bool set_dims, set_seqlens, set_batch, set_heads, set_passes;
} BenchOptions;

/* Fills the defaults: cuda-or-emu, f16 and bf16, D 64/128/256, S 512 ...
 * 16384, causal both, FlashAttention's B and H. */
void bench_options_init(BenchOptions *o);

/* Parses `tessera-bench attention` arguments (argv[0] is the first option).
 * On error returns false with a message in err (size n). */
bool bench_parse_attention(BenchOptions *o, int argc, char **argv, char *err, size_t n);

/* Parses one int in [lo, hi]. */
bool bench_parse_int(const char *s, long lo, long hi, int *out);
/* Parses "a,b,c" into ints (each in [lo, hi]) or dtypes. */
bool bench_parse_int_list(const char *s, int *out, int max, int *n, int lo, int hi);
bool bench_parse_dtype_list(const char *s, DType *out, int max, int *n);

/* One configuration of the benchmark. */
typedef struct {
    DType dt;
    int B, Hq, Hkv, Sq, Sk, D;
    bool causal;
    bool backward; /* the backward pass (tsr_attention_backward) */
    BenchFeatures feat; /* with --varlen, B is the number of sequences and Sq = Sk the longest */
} BenchConfig;

/* Makes the list of configurations from the options for a device (the CPU
 * devices get small shapes where the options leave them open). Returns the
 * count (at most max). */
int bench_configs(const BenchOptions *o, tsr_device_kind device, BenchConfig *out, int max);

/* ---------------------------------------------------------------- measure */

/* FLOPs of the forward pass: 4 B Hq Sq Sk D, halved when causal with
 * Sq == Sk (FlashAttention's count); the backward pass counts 2.5 times
 * that (its five matrix products to the forward's two). With a window or
 * a packed batch: 4 Hq D times the (query, key) pairs seen, counted. */
double bench_flops(const BenchConfig *c);

typedef struct {
    double median, min, max, q1, q3; /* milliseconds */
    int n;
} TimeStats;

/* Sorts times (n > 0) in place and summarizes them. */
TimeStats bench_time_stats(double *times, int n);

/* The dense f16/bf16 tensor-core peak, in TFLOP/s, of a GPU named as
 * tsr_context_device_name gives it; 0 when unknown. *which names the table
 * row (e.g. "H100/H200 SXM"). */
double bench_peak_tflops(const char *device_name, const char **which);

/* The commit measured: $TESSERA_COMMIT (gpu-check.sh sets it where there is
 * no git), else git's HEAD, else "unknown". */
void bench_commit(char *buf, size_t n);

/* FlashAttention's rule: err <= 2 err_lowp + attention_slack(dt), the bound
 * multiplied by scale. */
double bench_bound(DType dt, double err_lowp, double scale);

/* ------------------------------------------------------------ attention */

/* What one implementation measured for one configuration. */
typedef struct {
    bool ran;               /* false: skipped or failed to run (status says) */
    char status[160];       /* "ok", or why not */
    TimeStats t;            /* milliseconds */
    double tflops;          /* at the median time */
    double err;             /* max |out - double reference| over the rows checked (backward: of the
                               gradient nearest its bound) */
    double lse_err;         /* Tessera's LSE: max relative error (-1: none) */
    int64_t unwritten;      /* elements left at the poison value */
    bool pass;              /* FlashAttention's rule (and LSE, nothing unwritten) */
} ImplResult;

typedef struct {
    BenchConfig c;
    double flops;
    double err_lowp;        /* the yardstick: the same math in the kernel's precision */
    double bound;           /* 2 err_lowp + slack (times the tolerance scale) */
    int64_t rows_checked;   /* backward: query rows whose dQ and keys whose dK, dV were checked; 0
                               when the float64 reference would take too long */
    bool all_rows;          /* every row checked, or a sample */
    ImplResult tessera, reference;
} BenchResult;

typedef struct {
    tsr_device_kind kind;
    char device_name[160];
    char target[16]; /* what the kernels were compiled for */
    bool no_warp_specialize; /* --no-warp-specialize (an ablation) */
    bool no_overlap;         /* --no-overlap (an ablation) */
    bool no_pingpong;        /* --no-pingpong (an ablation) */
    bool persistent;         /* --persistent */
    double peak_tflops;     /* 0: unknown */
    const char *peak_source;
    bool cpu_times;         /* emu/interp: host clock */
    int reps, warmup;
    size_t l2_flush_bytes;
    char date[32];
    char commit[64];
    char features[160]; /* bench_features_text of the options */
} BenchRun;

/* Hooks that only tests use. */
typedef struct {
    bool corrupt_output; /* perturb one output element of Tessera's kernel before the check */
    bool flush_on_cpu;   /* run the L2 flush kernel on emu and interp too (over 1 MiB) */
} BenchHooks;

/* Runs the benchmark: every configuration, progress on stderr. Returns the
 * number of results (*results malloc'd) or -1 with a message on stderr when
 * the device cannot be used. */
int bench_attention_run(const BenchOptions *o, const BenchHooks *hooks, BenchRun *run, BenchResult **results);

/* Progress on stderr, unless quiet. */
void bench_progress(bool quiet, const char *fmt, ...) TSR_PRINTF(2, 3);

/* 0 when every check passed, 1 otherwise (skipped configurations do not
 * count). */
int bench_exit_status(const BenchResult *r, int n);
/* Whether an implementation was skipped rather than run (its status says
 * "skipped ..."). */
bool bench_skipped(const ImplResult *m);

/* ---------------------------------------------------------------- report */

void bench_print_table(FILE *f, const BenchRun *run, const BenchResult *r, int n);
bool bench_write_json(const char *path, const BenchRun *run, const BenchResult *r, int n);
bool bench_write_csv(const char *path, const BenchRun *run, const BenchResult *r, int n);
bool bench_write_svg(const char *path, const BenchRun *run, const BenchResult *r, int n);

/* ------------------------------------------------------- code generation */

/* `tessera-bench compile [--reps N] [--out FILE]` and `tessera-bench ptxas
 * [--out FILE]`; return the exit status. */
int bench_compile_main(int argc, char **argv);
int bench_ptxas_main(int argc, char **argv);

/* One specialization of kernels/attention.tsr. */
typedef struct {
    DType dt;
    int D;
    bool causal;
    AttnConfig cfg;
} BenchVariant;

typedef struct {
    double frontend_ms, codegen_ms;
    double loop_mads; /* multiply-adds per warp in one iteration of the loop with the most dot work */
    CodegenResult r;
} BenchCompiled;

/* Source to PTX for one variant (16-byte aligned tensors), timed by stage.
 * false with the first line of the diagnostics in why (size n). */
bool bench_compile_variant(const BenchVariant *v, const char *target, BenchCompiled *out, char *why, size_t n);

/* The main loop of a SASS listing (support/sass.h): instructions on its
 * shortest and longest path per 64x64xD tile of work (path x 8192 D /
 * multiply-adds per warp per iteration). false when there is no main loop
 * or no multiply-adds. */
bool bench_tile_cost(const char *listing, int D, double loop_mads, double *shortest, double *longest);

/* The header every recorded table starts with: title, command (argv after
 * "tessera-bench"), machine, date, commit. */
void bench_table_header(StrBuf *md, const char *title, int argc, char **argv);

/* Prints md and writes it to out (unless NULL). */
bool bench_emit(const StrBuf *md, const char *out);

/* `tessera-bench tune [options]` (tune.c); returns the exit status. */
int bench_tune_main(int argc, char **argv);
/* Parses the rows of a table in attention_tuned.inc's format into rows (at
 * most max; targets point at the target table's names): the count, or -1
 * when a row is malformed. */
int bench_tune_parse_table(const char *text, AttnRow *rows, int max);

/* The source of kernels/attention_naive.tsr, embedded at build time. */
extern const char tsr_attention_naive_source[];

#endif
