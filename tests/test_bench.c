/* tessera-bench (bench/): option parsing and default shapes, FLOP counts,
 * statistics, peak rates, the tolerance rule, JSON/CSV/SVG output, the
 * verdict, --time-limit; short runs on interp and emu in process (a corrupted output must
 * fail the check) and through the binary (exit status 0, and 1 when the
 * check's bound is 0); `tune` on a tiny candidate set; on cuda, Tessera's attention and the reference
 * against the float64 reference on odd shapes (skipped without a GPU). */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"
#include "ptxas.h"
#include "rt_suite.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

static bool parse(BenchOptions *o, const char *args)
{
    static char buf[512]; /* options point into it */
    char *argv[64];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", args);
    for (char *p = strtok(buf, " "); p; p = strtok(NULL, " "))
        argv[argc++] = p;
    bench_options_init(o);
    char err[256];
    bool ok = bench_parse_attention(o, argc, argv, err, sizeof err);
    if (!ok)
        print_message("(expected) %s\n", err);
    return ok;
}

static void options(void **state)
{
    (void)state;
    BenchOptions o;
    assert_true(parse(&o, ""));
    assert_int_equal(o.device, TSR_DEVICE_AUTO);
    assert_int_equal(o.ndtypes, 2);
    assert_int_equal(o.ndims, 3);
    assert_int_equal(o.nseqlens, 6);
    assert_int_equal(o.seqlens[0], 512);
    assert_int_equal(o.seqlens[5], 16384);
    assert_int_equal(o.causal, CAUSAL_BOTH);
    assert_int_equal(o.passes, PASS_FWD);
    assert_true(parse(&o, "--pass bwd"));
    assert_int_equal(o.passes, PASS_BWD);
    assert_true(parse(&o, "--pass both"));
    assert_int_equal(o.passes, PASS_BOTH);

    assert_true(parse(&o, "--device interp --dtype bf16 --d 64,128 --seqlen 100,200,300 --causal yes --reps 7 "
                          "--warmup 0 --batch 3 --heads 8 --kv-heads 2 --json a.json --csv a.csv --plot a.svg "
                          "--no-reference --quiet --tolerance-scale 0 --peak 100 --check-rows 9 --seed 5"));
    assert_int_equal(o.device, TSR_DEVICE_INTERP);
    assert_int_equal(o.ndtypes, 1);
    assert_int_equal(o.dtypes[0], DT_BF16);
    assert_int_equal(o.ndims, 2);
    assert_int_equal(o.nseqlens, 3);
    assert_int_equal(o.seqlens[2], 300);
    assert_int_equal(o.causal, CAUSAL_YES);
    assert_int_equal(o.reps, 7);
    assert_int_equal(o.warmup, 0);
    assert_int_equal(o.batch, 3);
    assert_int_equal(o.heads, 8);
    assert_int_equal(o.kv_heads, 2);
    assert_string_equal(o.json, "a.json");
    assert_string_equal(o.csv, "a.csv");
    assert_string_equal(o.plot, "a.svg");
    assert_false(o.reference);
    assert_true(o.quiet);
    assert_true(o.tolerance_scale == 0.0);
    assert_true(o.peak_tflops == 100.0);
    assert_int_equal(o.check_rows, 9);
    assert_int_equal(o.seed, 5);

    assert_true(parse(&o, "--sq 100 --sk 300"));
    assert_int_equal(o.sq, 100);
    assert_int_equal(o.sk, 300);

    static const char *const bad[] = {
        "--device tpu", "--dtype f32", "--dtype f16,,bf16", "--d 65", "--d 512", "--seqlen 0", "--seqlen x",
        "--sq 100",     "--sq 1 --sk 2 --seqlen 4", "--heads 6 --kv-heads 4", "--causal maybe", "--reps 0",
        "--pass sideways", "--window 3", "--window 1,2,3", "--window -2,0", "--softcap 0", "--softcap -1",
        "--varlen 1,-1", "--varlen 4 --seqlen 4", "--varlen 4 --batch 2", "--paged 0", "--splits 2",
        "--paged 16 --varlen 3", "--paged 16 --splits 0",
        "--dtype e4m3 --window 1,1", "--dtype f16,e5m2 --paged 16", "--dtype i8",
        "--bogus",      "--json",       "stray",
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(bad); i++)
        if (parse(&o, bad[i]))
            fail_msg("'%s' was accepted", bad[i]);
}

/* The features' options: parsed, copied into every configuration, with
 * FLOPs counted from the pairs a window and a packed batch keep. */
static void feature_options(void **state)
{
    (void)state;
    BenchOptions o;
    assert_true(parse(&o, "--window 32,-1 --softcap 30 --alibi --varlen 0,1,100 --d 64 --dtype f16 --causal no"));
    assert_true(o.feat.local && o.feat.window_left == 32 && o.feat.window_right == -1);
    assert_true(o.feat.softcap == 30 && o.feat.alibi);
    assert_int_equal(o.feat.nvarlen, 3);
    char text[160];
    bench_features_text(&o.feat, text, sizeof text);
    assert_string_equal(text, "window 32,-1, softcap 30, ALiBi, varlen 3 sequences");
    BenchConfig c[8];
    int n = bench_configs(&o, TSR_DEVICE_CUDA, c, 8);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].B, 3);
    assert_true(c[0].Sq == 100 && c[0].Sk == 100);
    /* 1 + 100 rows; row r of the 100 sees keys r - 32 .. 99 */
    double pairs = 1;
    for (int r = 0; r < 100; r++)
        pairs += 100 - (r - 32 > 0 ? r - 32 : 0);
    assert_true(fabs(bench_flops(&c[0]) - 4.0 * c[0].Hq * 64 * pairs) < 1);
    bench_options_init(&o);
    bench_features_text(&o.feat, text, sizeof text);
    assert_string_equal(text, "none");
    /* Decoding: Sq = 1 against caches of each length, unless --sq/--sk. */
    assert_true(parse(&o, "--paged 16 --splits 4 --seqlen 100,200 --d 64 --dtype f16 --causal yes"));
    bench_features_text(&o.feat, text, sizeof text);
    assert_string_equal(text, "paged 16, splits 4");
    n = bench_configs(&o, TSR_DEVICE_CUDA, c, 8);
    assert_int_equal(n, 2);
    assert_true(c[0].Sq == 1 && c[0].Sk == 100 && c[1].Sq == 1 && c[1].Sk == 200);
    assert_true(parse(&o, "--paged 7 --sq 4 --sk 50"));
    bench_features_text(&o.feat, text, sizeof text);
    assert_string_equal(text, "paged 7, splits auto");
}

static void shapes(void **state)
{
    (void)state;
    BenchOptions o;
    bench_options_init(&o);
    BenchConfig c[256];
    /* On a GPU: FlashAttention's shapes, 16k tokens and H * D = 2048. */
    int n = bench_configs(&o, TSR_DEVICE_CUDA, c, 256);
    assert_int_equal(n, 2 * 2 * 3 * 6);
    for (int i = 0; i < n; i++) {
        assert_int_equal(c[i].B * c[i].Sq, 16384);
        assert_int_equal(c[i].Hq * c[i].D, 2048);
        assert_int_equal(c[i].Hkv, c[i].Hq);
        assert_int_equal(c[i].Sq, c[i].Sk);
    }
    assert_int_equal(c[0].dt, DT_F16);
    assert_false(c[0].causal);
    assert_int_equal(c[n - 1].dt, DT_BF16);
    assert_true(c[n - 1].causal);
    /* On the CPU: small shapes where the options leave them open, and both
     * passes. */
    n = bench_configs(&o, TSR_DEVICE_EMU, c, 256);
    assert_int_equal(n, 2 * 2 * 2 * 2 * 2);
    for (int i = 0; i < n; i++) {
        assert_true(c[i].Sq <= 256 && c[i].D <= 128 && c[i].B == 1 && c[i].Hq == 2);
    }
    /* What is given is kept, even on the CPU. */
    assert_true(parse(&o, "--d 256 --sq 100 --sk 300 --heads 4 --kv-heads 2 --causal no --dtype f16"));
    n = bench_configs(&o, TSR_DEVICE_INTERP, c, 256);
    assert_int_equal(n, 2);
    assert_true(!c[0].backward && c[1].backward);
    assert_int_equal(c[0].D, 256);
    assert_int_equal(c[0].Sq, 100);
    assert_int_equal(c[0].Sk, 300);
    assert_int_equal(c[0].Hq, 4);
    assert_int_equal(c[0].Hkv, 2);
    assert_int_equal(c[0].B, 1);
    /* --pass both: each shape forward, then backward. */
    assert_true(parse(&o, "--d 64 --seqlen 100,200 --causal no --dtype f16 --pass both"));
    n = bench_configs(&o, TSR_DEVICE_INTERP, c, 256);
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++) {
        assert_int_equal(c[i].backward, i % 2);
        assert_int_equal(c[i].Sq, i < 2 ? 100 : 200);
    }
    /* A capacity smaller than the list. */
    bench_options_init(&o);
    assert_int_equal(bench_configs(&o, TSR_DEVICE_CUDA, c, 5), 5);
}

static void flops_stats_peaks(void **state)
{
    (void)state;
    BenchConfig c = { DT_F16, 2, 16, 16, 1024, 1024, 128, false, false, { 0 } };
    assert_true(bench_flops(&c) == 4.0 * 2 * 16 * 1024 * 1024 * 128);
    c.causal = true;
    assert_true(bench_flops(&c) == 2.0 * 2 * 16 * 1024 * 1024 * 128);
    c.Sk = 2048; /* bottom-right causal with Sq != Sk is not a triangle: counted whole */
    assert_true(bench_flops(&c) == 4.0 * 2 * 16 * 1024 * 2048 * 128);
    c.backward = true; /* 2.5 times the forward */
    assert_true(bench_flops(&c) == 10.0 * 2 * 16 * 1024 * 2048 * 128);
    c.Sk = 1024;
    assert_true(bench_flops(&c) == 5.0 * 2 * 16 * 1024 * 1024 * 128);

    double t[] = { 5, 1, 4, 2, 3 };
    TimeStats s = bench_time_stats(t, 5);
    assert_int_equal(s.n, 5);
    assert_true(s.median == 3 && s.min == 1 && s.max == 5 && s.q1 == 2 && s.q3 == 4);
    double u[] = { 4, 1, 3, 2 };
    s = bench_time_stats(u, 4);
    assert_true(s.median == 2.5 && s.q1 == 1.75 && s.q3 == 3.25);
    double one[] = { 7 };
    s = bench_time_stats(one, 1);
    assert_true(s.median == 7 && s.q1 == 7 && s.q3 == 7);

    const char *which;
    assert_true(bench_peak_tflops("cuda:0 NVIDIA H200 (sm_90, driver 13.0)", &which) > 980);
    assert_string_equal(which, "H100/H200 SXM");
    assert_true(bench_peak_tflops("cuda:0 NVIDIA H100 80GB HBM3 (sm_90)", &which) > 980);
    assert_true(bench_peak_tflops("cuda:0 NVIDIA H100 PCIe (sm_90)", &which) == 756.0);
    assert_true(bench_peak_tflops("cuda:0 NVIDIA A100-SXM4-80GB (sm_80)", &which) == 312.0);
    assert_true(bench_peak_tflops("emu", &which) == 0);
    assert_string_equal(which, "unknown GPU");

    assert_true(fabs(bench_bound(DT_F16, 1e-3, 1.0) - (2e-3 + 1.0 / 2048)) < 1e-12);
    assert_true(fabs(bench_bound(DT_BF16, 1e-2, 1.0) - (2e-2 + 1.0 / 256)) < 1e-12);
    assert_true(bench_bound(DT_BF16, 1e-2, 0.0) == 0.0);
}

/* A made-up run of two configurations, the second failing its check. */
static void fake_results(BenchRun *run, BenchResult r[2])
{
    memset(run, 0, sizeof *run);
    run->kind = TSR_DEVICE_CUDA;
    snprintf(run->device_name, sizeof run->device_name, "cuda:0 NVIDIA \"H200\" (sm_90)");
    run->peak_tflops = 989.4;
    run->peak_source = "H100/H200 SXM";
    run->reps = 20;
    run->warmup = 3;
    run->l2_flush_bytes = 256 << 20;
    snprintf(run->date, sizeof run->date, "2025-01-01T00:00:00Z");
    snprintf(run->commit, sizeof run->commit, "abc123");
    memset(r, 0, 2 * sizeof *r);
    for (int i = 0; i < 2; i++) {
        BenchConfig c = { i ? DT_BF16 : DT_F16, 32, 32, 32, 512, 512, 64, i == 1, i == 1, { 0 } }; /* the second: backward */
        r[i].c = c;
        r[i].flops = bench_flops(&c);
        r[i].err_lowp = 1e-3;
        r[i].bound = bench_bound(c.dt, r[i].err_lowp, 1.0);
        r[i].rows_checked = 64;
        ImplResult *m[2] = { &r[i].tessera, &r[i].reference };
        for (int k = 0; k < 2; k++) {
            m[k]->ran = true;
            snprintf(m[k]->status, sizeof m[k]->status, "ok");
            m[k]->t.median = 0.5 * (k + 1);
            m[k]->t.min = 0.4;
            m[k]->t.max = 0.9 * (k + 1);
            m[k]->t.n = 20;
            m[k]->tflops = r[i].flops / (m[k]->t.median * 1e-3) / 1e12;
            m[k]->err = 1e-3;
            m[k]->lse_err = k ? -1 : 1e-6;
            m[k]->pass = true;
        }
    }
    r[1].tessera.err = 0.5;
    r[1].tessera.pass = false;
}

static char *slurp(const char *path)
{
    size_t len;
    char *text = tsr_read_file(path, &len);
    if (!text)
        fail_msg("cannot read %s", path);
    return text;
}

static void outputs(void **state)
{
    (void)state;
    BenchRun run;
    BenchResult r[2];
    fake_results(&run, r);
    assert_int_equal(bench_exit_status(r, 1), 0);
    assert_int_equal(bench_exit_status(r, 2), 1);
    r[0].reference.pass = false;
    assert_int_equal(bench_exit_status(r, 1), 1); /* a wrong reference fails the run too */
    snprintf(r[0].reference.status, sizeof r[0].reference.status, "skipped (--no-reference)");
    r[0].reference.ran = false;
    assert_int_equal(bench_exit_status(r, 1), 0);
    r[0].tessera.ran = false;
    assert_int_equal(bench_exit_status(r, 1), 1); /* a kernel that did not run fails */
    fake_results(&run, r);

    char *dir = make_temp_dir("tessera-bench");
    char json[512], csv[512], svg[512];
    snprintf(json, sizeof json, "%s/r.json", dir);
    snprintf(csv, sizeof csv, "%s/r.csv", dir);
    snprintf(svg, sizeof svg, "%s/r.svg", dir);
    assert_true(bench_write_json(json, &run, r, 2));
    assert_true(bench_write_csv(csv, &run, r, 2));
    assert_true(bench_write_svg(svg, &run, r, 2));
    char *text = slurp(json);
    assert_non_null(strstr(text, "\"schema\": \"tessera-bench-attention/1\""));
    assert_non_null(strstr(text, "\"name\": \"cuda:0 NVIDIA \\\"H200\\\" (sm_90)\"")); /* escaped */
    assert_non_null(strstr(text, "\"impl\": \"tessera\", \"direction\": \"fwd\", \"dtype\": \"f16\", \"B\": 32, "
                                 "\"Hq\": 32, \"Hkv\": 32, "
                                 "\"Sq\": 512, \"Sk\": 512, \"D\": 64, \"causal\": false"));
    assert_non_null(strstr(text, "\"impl\": \"reference\", \"direction\": \"bwd\", \"dtype\": \"bf16\""));
    assert_non_null(strstr(text, "\"lse_err\": null")); /* the reference has no LSE */
    assert_non_null(strstr(text, "\"pass\": false"));
    /* Balanced braces and brackets: a cheap well-formedness check. */
    int depth = 0;
    bool in_string = false;
    for (const char *p = text; *p; p++) {
        if (*p == '\\' && in_string) {
            p++;
            continue;
        }
        if (*p == '"')
            in_string = !in_string;
        else if (!in_string && (*p == '{' || *p == '['))
            depth++;
        else if (!in_string && (*p == '}' || *p == ']'))
            assert_true(--depth >= 0);
    }
    assert_int_equal(depth, 0);
    free(text);
    text = slurp(csv);
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1 + 4);
    assert_non_null(strstr(text, "impl,direction,device,dtype,B,Hq,Hkv,Sq,Sk,D,causal,flops,ms_median"));
    assert_non_null(strstr(text, "tessera,bwd,cuda,bf16,32,32,32,512,512,64,1,"));
    free(text);
    text = slurp(svg);
    assert_non_null(strstr(text, "<svg"));
    assert_non_null(strstr(text, "</svg>"));
    assert_non_null(strstr(text, "<polyline"));
    assert_non_null(strstr(text, "H200"));
    assert_non_null(strstr(text, "Attention forward and backward"));
    assert_non_null(strstr(text, "backward, D = 64, causal"));
    free(text);

    char table[512];
    snprintf(table, sizeof table, "%s/table.txt", dir);
    FILE *f = fopen(table, "w");
    bench_print_table(f, &run, r, 2);
    fclose(f);
    text = slurp(table);
    assert_non_null(strstr(text, "GPU times: CUDA events"));
    assert_non_null(strstr(text, "SOME CHECKS FAILED"));
    assert_non_null(strstr(text, "FAIL"));
    assert_non_null(strstr(text, "2.00x")); /* reference / tessera */
    assert_non_null(strstr(text, "\nbwd  bf16  yes "));
    free(text);
    rm_rf(dir);
    free(dir);
}

/* ------------------------------------------------------------- runs */

static int run_small(tsr_device_kind kind, const char *args, bool corrupt, BenchResult **r, BenchRun *run)
{
    BenchOptions o;
    assert_true(parse(&o, args));
    o.device = kind;
    o.quiet = true;
    if (!o.set_passes) { /* the forward, unless the run says */
        o.passes = PASS_FWD;
        o.set_passes = true;
    }
    /* The L2 flush runs on the emulator too: on cuda it runs before every
     * timed launch. */
    BenchHooks hooks = { corrupt, kind == TSR_DEVICE_EMU };
    int n = bench_attention_run(&o, &hooks, run, r);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        const BenchResult *x = &(*r)[i];
        /* with features (or fp8) the backward and the reference attention are skipped */
        bool feat = bench_features_on(&x->c.feat) || dtype_is_fp8(x->c.dt);
        if (!x->tessera.ran && !(feat && x->c.backward))
            fail_msg("tessera did not run: %s", x->tessera.status);
        if (!x->reference.ran && !x->c.backward && !feat) /* there is no reference backward */
            fail_msg("the reference did not run: %s", x->reference.status);
    }
    return n;
}

static void run_interp(void **state)
{
    (void)state;
    BenchRun run;
    BenchResult *r;
    int n = run_small(TSR_DEVICE_INTERP,
                      "--d 64 --sq 45 --sk 77 --heads 4 --kv-heads 2 --batch 2 --dtype f16,bf16 --reps 2", false, &r,
                      &run);
    assert_int_equal(n, 4);
    assert_true(run.cpu_times);
    assert_int_equal(run.reps, 2);
    for (int i = 0; i < n; i++) {
        assert_true(r[i].all_rows);
        assert_int_equal(r[i].rows_checked, 2 * 4 * 45);
        assert_true(r[i].tessera.pass && r[i].reference.pass);
        assert_true(r[i].err_lowp > 0 && r[i].tessera.err > 0);
        assert_true(r[i].tessera.lse_err >= 0 && r[i].tessera.lse_err <= 1e-4);
        assert_int_equal(r[i].tessera.t.n, 2);
        assert_true(r[i].tessera.t.median > 0 && r[i].tessera.tflops > 0);
    }
    assert_int_equal(bench_exit_status(r, n), 0);
    free(r);

    /* A corrupted output fails the check, and the run. */
    n = run_small(TSR_DEVICE_INTERP, "--d 64 --seqlen 40 --dtype f16 --causal no --reps 1", true, &r, &run);
    assert_int_equal(n, 1);
    assert_false(r[0].tessera.pass);
    assert_true(r[0].tessera.err >= 0.4);
    assert_true(r[0].reference.pass);
    assert_int_equal(bench_exit_status(r, n), 1);
    free(r);

    /* Sampled rows on a larger shape: the first and last rows are among them. */
    n = run_small(TSR_DEVICE_INTERP, "--d 64 --seqlen 1100 --batch 1 --heads 1 --dtype bf16 --causal yes --reps 1 "
                                     "--check-rows 5",
                  false, &r, &run);
    assert_false(r[0].all_rows);
    assert_int_equal(r[0].rows_checked, 5);
    assert_true(r[0].tessera.pass && r[0].reference.pass);
    free(r);
}

/* fp8 inputs (--dtype e4m3): the forward only (no fp8 backward), outputs
 * in bf16 checked whole by the rule with FlashAttention-3's precision, the
 * reference attention skipped, which is no failure. */
static void run_fp8(void **state)
{
    (void)state;
    BenchRun run;
    BenchResult *r;
    int n = run_small(TSR_DEVICE_INTERP,
                      "--d 64 --sq 45 --sk 77 --heads 4 --kv-heads 2 --batch 1 --dtype e4m3 --pass both --reps 1",
                      false, &r, &run);
    assert_int_equal(n, 2); /* causal and not, forward only */
    for (int i = 0; i < n; i++) {
        assert_false(r[i].c.backward);
        assert_int_equal(r[i].c.dt, DT_E4M3);
        assert_true(r[i].all_rows);
        assert_true(r[i].tessera.pass);
        assert_true(r[i].err_lowp > 0 && r[i].tessera.err > 0 && r[i].tessera.err <= r[i].bound);
        assert_true(r[i].tessera.lse_err >= 0 && r[i].tessera.lse_err <= 1e-4);
        assert_true(bench_skipped(&r[i].reference));
    }
    assert_int_equal(bench_exit_status(r, n), 0);
    free(r);
}

/* The features on interp: a window with soft-capping and ALiBi on a dense
 * batch, and a packed batch with an empty sequence, checked whole; the
 * reference attention and the backward are skipped, which is no failure;
 * a bound of 0 fails. */
static void run_features(void **state)
{
    (void)state;
    BenchRun run;
    BenchResult *r;
    int n = run_small(TSR_DEVICE_INTERP,
                      "--d 64 --seqlen 70 --heads 4 --kv-heads 2 --batch 2 --dtype bf16 --causal yes --reps 1 "
                      "--window 9,0 --softcap 5 --alibi --pass both",
                      false, &r, &run);
    assert_int_equal(n, 2);
    assert_string_equal(run.features, "window 9,0, softcap 5, ALiBi");
    assert_true(r[0].tessera.pass && r[0].all_rows && r[0].rows_checked == 2 * 4 * 70);
    assert_true(bench_skipped(&r[0].reference) && bench_skipped(&r[1].tessera));
    assert_int_equal(bench_exit_status(r, n), 0);
    free(r);
    n = run_small(TSR_DEVICE_INTERP, "--d 64 --heads 2 --dtype f16 --causal no --reps 1 --varlen 5,0,80,1 --pass fwd",
                  false, &r, &run);
    assert_int_equal(n, 1);
    assert_true(r[0].tessera.pass && r[0].all_rows && r[0].rows_checked == 2 * 86);
    assert_int_equal(bench_exit_status(r, n), 0);
    free(r);
    n = run_small(TSR_DEVICE_INTERP,
                  "--d 64 --heads 2 --dtype f16 --causal no --reps 1 --varlen 5,80 --pass fwd --tolerance-scale 0",
                  false, &r, &run);
    assert_false(r[0].tessera.pass);
    assert_int_equal(bench_exit_status(r, n), 1);
    free(r);
    /* Decoding from a paged cache: GQA 4, Sq 3, pages of 24 that do not
     * divide the 100 keys, 3 splits; every row checked. */
    n = run_small(TSR_DEVICE_INTERP,
                  "--d 64 --heads 8 --kv-heads 2 --batch 2 --dtype bf16 --causal yes --reps 1 --sq 3 --sk 100 "
                  "--paged 24 --splits 3 --pass fwd",
                  false, &r, &run);
    assert_int_equal(n, 1);
    assert_string_equal(run.features, "paged 24, splits 3");
    assert_true(r[0].tessera.pass && r[0].all_rows && r[0].rows_checked == 2 * 8 * 3);
    assert_int_equal(bench_exit_status(r, n), 0);
    free(r);
    /* The same with a window, soft-capping and ALiBi. */
    n = run_small(TSR_DEVICE_INTERP,
                  "--d 64 --heads 8 --kv-heads 2 --batch 2 --dtype bf16 --causal yes --reps 1 --sq 3 --sk 100 "
                  "--paged 24 --splits 3 --window 30,0 --softcap 5 --alibi --pass fwd",
                  false, &r, &run);
    assert_int_equal(n, 1);
    assert_true(r[0].tessera.pass && r[0].all_rows && r[0].rows_checked == 2 * 8 * 3);
    free(r);
}

/* The backward pass: checked whole on a small shape (every query row), the
 * reference skipped, which is no failure; a corrupted gradient fails. */
static void run_backward(void **state)
{
    (void)state;
    BenchRun run;
    BenchResult *r;
    int n = run_small(TSR_DEVICE_INTERP,
                      "--pass both --d 64 --sq 45 --sk 77 --heads 4 --kv-heads 2 --batch 2 --dtype bf16 --causal yes "
                      "--reps 1",
                      false, &r, &run);
    assert_int_equal(n, 2);
    assert_false(r[0].c.backward);
    assert_true(r[1].c.backward);
    assert_true(r[1].flops == 2.5 * r[0].flops);
    assert_true(r[1].all_rows);
    assert_int_equal(r[1].rows_checked, 2 * 4 * 45);
    assert_true(r[1].tessera.pass && r[1].tessera.ran);
    assert_true(r[1].err_lowp > 0 && r[1].tessera.err > 0 && r[1].tessera.err <= r[1].bound);
    assert_true(bench_skipped(&r[1].reference));
    assert_int_equal(bench_exit_status(r, n), 0);
    free(r);

    n = run_small(TSR_DEVICE_INTERP, "--pass bwd --d 64 --seqlen 40 --dtype f16 --causal yes --reps 1", true, &r,
                  &run);
    assert_int_equal(n, 1);
    assert_false(r[0].tessera.pass);
    assert_true(r[0].tessera.err >= 0.4);
    assert_int_equal(bench_exit_status(r, n), 1);
    free(r);
}

/* bench/peers: both scripts compile, and peers.py makes the configurations
 * of a run with every feature (where torch and JAX are missing, as here,
 * each backend reports itself unavailable) with tessera-bench's FLOP count
 * and feature text. Skipped without python3. */
static void peers_scripts(void **state)
{
    (void)state;
    if (system("python3 -c pass >/dev/null 2>&1") != 0)
        TEST_SKIP("python3 not found: the peers scripts are not checked");
    assert_int_equal(system("python3 -m py_compile bench/peers/peers.py bench/peers/merge.py"), 0);
    char *dir = make_temp_dir("tessera-peers");
    char cmd[1024], path[512];
    snprintf(path, sizeof path, "%s/peers.json", dir);
    snprintf(cmd, sizeof cmd,
             "python3 bench/peers/peers.py --d 64 --dtype f16 --causal yes --window 8,-1 --softcap 5 --alibi "
             "--varlen 3,0,50 --backends torch-flex,jax-cudnn --json %s >/dev/null",
             path);
    assert_int_equal(system(cmd), 0);
    char *text = slurp(path);
    assert_non_null(strstr(text, "\"features\": \"window 8,-1, softcap 5, ALiBi, varlen 3 sequences\""));
    BenchOptions o;
    assert_true(parse(&o, "--d 64 --dtype f16 --causal yes --window 8,-1 --softcap 5 --alibi --varlen 3,0,50"));
    BenchConfig c[2];
    assert_int_equal(bench_configs(&o, TSR_DEVICE_CUDA, c, 2), 1);
    char flops[64];
    snprintf(flops, sizeof flops, "\"flops\": %.1f", bench_flops(&c[0]));
    if (!strstr(text, flops))
        fail_msg("peers.py's FLOPs differ from tessera-bench's (%s):\n%s", flops, text);
    free(text);
    rm_rf(dir);
    free(dir);
}

/* --time-limit: the configurations left are skipped, which is no failure. */
static void time_limit(void **state)
{
    (void)state;
    BenchOptions o;
    assert_true(parse(&o, "--device interp --d 64 --seqlen 40,50,60 --dtype f16 --causal no --pass fwd --reps 1 "
                          "--quiet "
                          "--time-limit 0.000001"));
    BenchRun run;
    BenchResult *r;
    int n = bench_attention_run(&o, NULL, &run, &r);
    assert_int_equal(n, 3);
    assert_true(r[0].tessera.ran && r[0].tessera.pass);
    for (int i = 1; i < 3; i++) {
        assert_true(bench_skipped(&r[i].tessera) && bench_skipped(&r[i].reference));
        assert_false(r[i].tessera.ran);
    }
    assert_int_equal(bench_exit_status(r, n), 0);
    char *dir = make_temp_dir("tessera-bench");
    char table[512];
    snprintf(table, sizeof table, "%s/table.txt", dir);
    FILE *f = fopen(table, "w");
    bench_print_table(f, &run, r, n);
    fclose(f);
    char *text = slurp(table);
    assert_non_null(strstr(text, "3 configurations (2 skipped), all checks passed"));
    free(text);
    rm_rf(dir);
    free(dir);
    free(r);
}

static void run_emu(void **state)
{
    (void)state;
    BenchRun run;
    BenchResult *r;
    int n = run_small(TSR_DEVICE_EMU, "--d 64 --sq 70 --sk 33 --heads 2 --kv-heads 1 --dtype bf16 --causal yes --reps 1",
                      false, &r, &run);
    assert_int_equal(n, 1);
    assert_true(r[0].tessera.pass && r[0].reference.pass);
    assert_int_equal(run.kind, TSR_DEVICE_EMU);
    assert_int_equal(run.l2_flush_bytes, 1 << 20);
    free(r);
}

/* The binary, end to end: exit status 0 with a JSON file, 1 when the check
 * cannot pass, 2 for bad usage. */
static int run_binary(const char *args, const char *out)
{
    const char *build = getenv("BUILD");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/tessera-bench %s > %s 2>&1", build && *build ? build : "build", args, out);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void binary(void **state)
{
    (void)state;
    char *dir = make_temp_dir("tessera-bench");
    char args[1024], out[512], json[512];
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(json, sizeof json, "%s/r.json", dir);
    snprintf(args, sizeof args, "attention --device interp --d 64 --seqlen 50 --dtype f16 --causal both --reps 1 --json %s",
             json);
    int st = run_binary(args, out);
    char *text = slurp(out);
    if (st != 0)
        fail_msg("exit status %d:\n%s", st, text);
    assert_non_null(strstr(text, "CPU times: the TIR interpreter"));
    assert_non_null(strstr(text, "all checks passed"));
    assert_non_null(strstr(text, "[4/4] f16 D=64 causal backward")); /* progress on stderr; both passes on the CPU */
    free(text);
    text = slurp(json);
    assert_non_null(strstr(text, "\"impl\": \"reference\""));
    free(text);

    assert_int_equal(run_binary("attention --device interp --d 64 --seqlen 50 --dtype f16 --causal no --reps 1 "
                                "--tolerance-scale 0 --quiet",
                                out),
                     1);
    text = slurp(out);
    assert_non_null(strstr(text, "SOME CHECKS FAILED"));
    free(text);
    assert_int_equal(run_binary("attention --dtype f32", out), 2);
    assert_int_equal(run_binary("frobnicate", out), 2);
    assert_int_equal(run_binary("--help", out), 0);
    rm_rf(dir);
    free(dir);
}

/* tessera-bench tune in process on a tiny candidate set (sm_90a, D=64,
 * f16, full): its current row passes and stays; 256 x 512 blocks overflow
 * shared memory (they do not compile); 128 x 256 spills (rejected where
 * ptxas is found); the table it writes parses back to the one compiled in.
 * With the check's bound at 0 nothing passes: exit status 1. */
static int tune_run(const char *args)
{
    char buf[512];
    char *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "tune --device emu %s --quiet", args);
    for (char *save, *p = strtok_r(buf, " ", &save); p && argc < 32; p = strtok_r(NULL, " ", &save))
        argv[argc++] = p;
    return bench_tune_main(argc, argv);
}

static void tune(void **state)
{
    (void)state;
    char *dir = make_temp_dir("tessera-tune");
    char args[512], path[512];
    snprintf(args, sizeof args,
             "--target sm_90a --d 64 --dtype f16 --causal no --candidates 256x512x8x2,128x256x8x2 --out %s", dir);
    assert_int_equal(tune_run(args), 0);
    snprintf(path, sizeof path, "%s/tune.json", dir);
    char *text = slurp(path);
    assert_non_null(strstr(text, "\"status\": \"does not compile: "));
    char ptxas[4096];
    if (ptxas_find(ptxas, sizeof ptxas))
        assert_non_null(strstr(text, "\"status\": \"spills ("));
    AttnConfig cur = attention_config("sm_90a", DT_F16, 64, false); /* the current row stays */
    char chosen[128];
    snprintf(chosen, sizeof chosen, "\"chosen\": {\"bm\": %d, \"bn\": %d, \"warps\": %d, \"stages\": %d}", cur.bm,
             cur.bn, cur.warps, cur.stages);
    assert_non_null(strstr(text, chosen));
    free(text);

    snprintf(path, sizeof path, "%s/attention_tuned.inc", dir);
    text = slurp(path);
    AttnRow rows[32];
    const AttnRow *built;
    int n = bench_tune_parse_table(text, rows, 32), nbuilt = attention_tuned_rows(&built);
    free(text);
    assert_int_equal(n, nbuilt);
    static const char *const targets[] = { "sm_90a", "sm_80", "sm_90" };
    for (int t = 0; t < 3; t++)
        for (int D = 32; D <= 256; D *= 2)
            for (int dt = DT_F16; dt <= DT_BF16; dt++)
                for (int c = 0; c < 2; c++) {
                    const AttnRow *r = attention_row_lookup(rows, n, targets[t], (DType)dt, D, c);
                    AttnConfig got = r ? r->cfg : attention_untuned_config((DType)dt, D, c);
                    AttnConfig want = attention_config(targets[t], (DType)dt, D, c);
                    assert_memory_equal(&got, &want, sizeof got);
                }

    /* rows for one dtype or mask, and what does not parse */
    n = bench_tune_parse_table("/* x */\n    { \"sm_80\", 4, 128, 2, { 64, 32, 4, 3 } },\n", rows, 32);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].target, "sm_80");
    assert_null(attention_row_lookup(rows, n, "sm_80", DT_F16, 128, true));
    assert_int_equal(attention_row_lookup(rows, n, "sm_80", DT_BF16, 128, true)->cfg.stages, 3);
    assert_int_equal(bench_tune_parse_table("    { \"sm_99\", 0, 64, 0, { 64, 64, 4, 2 } },\n", rows, 32), -1);
    assert_int_equal(bench_tune_parse_table("    { \"sm_80\", 0, 64, 0, { 64, 64 } },\n", rows, 32), -1);

    snprintf(args, sizeof args, "--target sm_80 --d 64 --dtype f16 --causal yes --limit 1 --tolerance-scale 0");
    assert_int_equal(tune_run(args), 1);
    assert_int_equal(tune_run("--candidates 64x64"), 2);
    rm_rf(dir);
    free(dir);
}

/* On a GPU: both implementations against the float64 reference on odd
 * shapes (grouped-query, Sq != Sk, every head dim, dtype and mask). */
static void cuda_attention(void **state)
{
    (void)state;
    tsr_context_options co;
    tsr_context_options_init(&co);
    co.device = TSR_DEVICE_CUDA;
    tsr_context *ctx;
    tsr_status s = tsr_context_create(&co, &ctx);
    if (s != TSR_OK) {
        print_message("SKIP: no GPU: %s\n", tsr_context_error(ctx));
        tsr_context_destroy(ctx);
        skip();
    }
    tsr_context_destroy(ctx);
    BenchRun run;
    BenchResult *r;
    int n = run_small(TSR_DEVICE_CUDA, "--d 64,128,256 --sq 113 --sk 203 --batch 2 --heads 4 --kv-heads 2 --reps 2",
                      false, &r, &run);
    assert_int_equal(n, 12);
    for (int i = 0; i < n; i++)
        if (!r[i].tessera.pass || !r[i].reference.pass)
            fail_msg("%s D=%d causal=%d: err %.3g / reference %.3g, bound %.3g, LSE %.3g, %lld unwritten",
                     dtype_name(r[i].c.dt), r[i].c.D, r[i].c.causal, r[i].tessera.err, r[i].reference.err, r[i].bound,
                     r[i].tessera.lse_err, (long long)r[i].tessera.unwritten);
    assert_false(run.cpu_times);
    assert_true(run.l2_flush_bytes >= (64u << 20));
    free(r);
    n = run_small(TSR_DEVICE_CUDA, "--d 128 --seqlen 1024 --batch 4 --heads 8 --reps 3", false, &r, &run);
    for (int i = 0; i < n; i++)
        assert_true(r[i].tessera.pass && r[i].reference.pass && r[i].tessera.t.median > 0);
    free(r);
}

int main(void)
{
    suite_default_cache_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(options),    cmocka_unit_test(shapes),  cmocka_unit_test(flops_stats_peaks),
        cmocka_unit_test(outputs),    cmocka_unit_test(run_interp), cmocka_unit_test(run_fp8), cmocka_unit_test(time_limit),
        cmocka_unit_test(run_emu),    cmocka_unit_test(run_backward),
        cmocka_unit_test(feature_options), cmocka_unit_test(run_features), cmocka_unit_test(peers_scripts),
        cmocka_unit_test(binary),     cmocka_unit_test(tune),    cmocka_unit_test(cuda_attention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
