/* tessera-bench: the attention benchmark (Tessera's flash attention against a
 * reference attention, checked against a double-precision reference) and
 * the code-generation benchmarks. See bench/bench.h for the parts and
 * README.md ("Benchmark") for how to use it. */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tessera-bench attention [options]   Tessera's attention against a reference\n"
            "       tessera-bench compile [--reps N] [--target LIST] [--out FILE]\n"
            "                                          compile times, source to PTX, of each attention variant\n"
            "       tessera-bench ptxas [--target LIST] [--out FILE]\n"
            "                                          ptxas -v resources of each variant (default: the\n"
            "                                          oldest and the default target)\n"
            "       tessera-bench tune [options]        search attention's blocks, stages and warps; write\n"
            "                                          the table kernels/attention_tuned.inc (see below)\n"
            "\n"
            "attention options (defaults follow FlashAttention's benchmark: H*D = 2048, B*S = 16384):\n"
            "  --device cuda|emu|interp  where to run (default: cuda when a GPU is present, else emu;\n"
            "                            TESSERA_DEVICE overrides the default)\n"
            "  --target NAME             compile for sm_80, sm_89, sm_90 or sm_90a (default: the GPU's own;\n"
            "                            sm_90a on emu and interp)\n"
            "  --no-warp-specialize      no producer warpgroup on sm_90a (ablation)\n"
            "  --no-overlap              every wgmma waited for at once on sm_90a (ablation)\n"
            "  --no-pingpong             consumer warpgroups issue their dots without taking turns (ablation)\n"
            "  --persistent              persistent kernels: as many blocks as the GPU holds, each looping over\n"
            "                            the query blocks, causal's longest first (TSR_COMPILE_PERSISTENT)\n"
            "  --dtype LIST              f16,bf16 (default both); e4m3, e5m2: the fp8 forward\n"
            "  --d LIST                  head dims (default 64,128,256)\n"
            "  --seqlen LIST             Sq = Sk (default 512,1024,2048,4096,8192,16384)\n"
            "  --sq N --sk N             one pair of unequal lengths instead\n"
            "  --batch N --heads N       default 16384/Sq and 2048/D\n"
            "  --kv-heads N              grouped-query attention (default: = heads)\n"
            "  --causal yes|no|both      (default both)\n"
            "  --window L,R              sliding window, FlashAttention's extents (-1: open side)\n"
            "  --softcap X               soft-cap the scores: X tanh(s / X)\n"
            "  --alibi                   ALiBi, the paper's slopes 2^(-8 (h+1) / H)\n"
            "  --varlen LENS             one packed batch of these lengths (Sq = Sk each; 0 allowed)\n"
            "  --paged P                 decoding: Sq = 1 (or --sq) new tokens against a cache of Sk keys\n"
            "                            (--seqlen or --sk) in pages of P keys, split-KV\n"
            "  --splits N                split-KV programs per sequence and key/value head (default: auto)\n"
            "                            (features: forward only, no reference attention timed)\n"
            "  --pass fwd|bwd|both       forward, backward (tsr_attention_backward; FLOPs 2.5x the forward's)\n"
            "                            or each shape both ways (default: fwd on cuda, both on the CPU)\n"
            "  --reps N --warmup N       timed and warm-up runs (default 20 and 3 on cuda, 3 and 0 on the CPU)\n"
            "  --no-reference            do not run the reference attention\n"
            "  --check-rows N            rows checked against float64 when sampling (default 64)\n"
            "  --tolerance-scale F       multiply the check's bound (testing the checker: 0 fails)\n"
            "  --peak TFLOPS             the GPU's peak (default: from its name)\n"
            "  --seed N                  inputs' random seed\n"
            "  --time-limit SECONDS      skip the configurations left after this long\n"
            "  --json FILE --csv FILE --plot FILE.svg   write the results\n"
            "  --quiet                   no progress on stderr\n"
            "On emu and interp the shapes left open are small (S 128,256; D 64,128; B 1; H 2), both passes\n"
            "run unless --pass says, and the times are CPU times. Exit status: 0 when every check passes, 1 when one fails, 2 for bad usage.\n"
            "\n"
            "tune options (bench/README.md): each candidate compiled, through ptxas -v (no spills, no C75xx),\n"
            "checked on emu against float64 on a small odd shape; on cuda timed (the fastest wins), else ranked\n"
            "by the static cost per 64x64xD tile (the current row wins ties)\n"
            "  --device cuda|emu         (default: cuda when a GPU is present)\n"
            "  --target LIST             (default: the GPU's own; sm_90a,sm_80 without one)\n"
            "  --d LIST --dtype LIST --causal yes|no|both   the keys tuned (default 64,128,256; f16,bf16; both)\n"
            "  --candidates BMxBNxWxS,...  these instead of the search space (the current row always first)\n"
            "  --limit N                 at most N candidates per key\n"
            "  --time-budget SECONDS     keys and candidates left after this are skipped\n"
            "  --seqlen N --reps N --warmup N   cuda: the timed shape (default 4096, B and H as attention's) and runs\n"
            "  --out DIR                 write DIR/attention_tuned.inc, DIR/tune.md, DIR/tune.json\n"
            "  --quiet                   no progress on stderr\n"
            "Exit status: 0 when every key tuned has a candidate that passed, 1 when one has none, 2 for bad usage.\n");
}

static int attention_main(int argc, char **argv)
{
    BenchOptions o;
    bench_options_init(&o);
    char err[256];
    if (!bench_parse_attention(&o, argc, argv, err, sizeof err)) {
        fprintf(stderr, "tessera-bench attention: %s\n", err);
        return 2;
    }
    BenchRun run;
    BenchResult *r;
    int n = bench_attention_run(&o, NULL, &run, &r);
    if (n < 0)
        return 2;
    bench_print_table(stdout, &run, r, n);
    int status = bench_exit_status(r, n);
    if (o.json && !bench_write_json(o.json, &run, r, n))
        fprintf(stderr, "tessera-bench: cannot write %s\n", o.json), status = 2;
    if (o.csv && !bench_write_csv(o.csv, &run, r, n))
        fprintf(stderr, "tessera-bench: cannot write %s\n", o.csv), status = 2;
    if (o.plot && !bench_write_svg(o.plot, &run, r, n))
        fprintf(stderr, "tessera-bench: cannot write %s\n", o.plot), status = 2;
    free(r);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("tessera-bench %s\n", tsr_version());
        return 0;
    }
    if (!strcmp(argv[1], "attention"))
        return attention_main(argc - 2, argv + 2);
    if (!strcmp(argv[1], "compile"))
        return bench_compile_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ptxas"))
        return bench_ptxas_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "tune"))
        return bench_tune_main(argc - 1, argv + 1);
    fprintf(stderr, "tessera-bench: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
