/* The code-generation benchmarks, over every attention variant (head dims
 * 64/128/256, f16/bf16, causal or not) with the block sizes of
 * kernels/attention_config.c:
 *
 *   tessera-bench compile  time from source to PTX (frontend, then code
 *                          generation with LLVM), median of several runs,
 *                          without the JIT cache; the PTX's size
 *   tessera-bench ptxas    ptxas -v on each variant for sm_80 and sm_90a (and
 *                          nvdisasm's instruction counts when it is there):
 *                          registers, spills, stack, shared memory; with
 *                          nvdisasm, the main loop's shortest and longest
 *                          iteration and those per 64x64xD tile (sass.h)
 *
 * Both print a markdown table (and write it with --out FILE). */
#define _POSIX_C_SOURCE 200809L
#include "attention_config.h"
#include "bench.h"
#include "codegen.h"
#include "compile.h"
#include "ptxas.h"
#include "sass.h"
#include "target.h"
#include "tir_work.h"

#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int variants(const char *target, BenchVariant *out)
{
    static const int dims[] = { 64, 128, 256 };
    static const DType dts[] = { DT_F16, DT_BF16 };
    int n = 0;
    for (int d = 0; d < 3; d++)
        for (int t = 0; t < 2; t++)
            for (int c = 0; c < 2; c++) {
                BenchVariant v = { dts[t], dims[d], c, attention_config(target, dts[t], dims[d], c) };
                out[n++] = v;
            }
    return n;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

bool bench_compile_variant(const BenchVariant *v, const char *target, BenchCompiled *out, char *why, size_t n)
{
    char d[16], bm[16], bn[16], w[16], st[16];
    snprintf(d, sizeof d, "%d", v->D);
    snprintf(bm, sizeof bm, "%d", v->cfg.bm);
    snprintf(bn, sizeof bn, "%d", v->cfg.bn);
    snprintf(w, sizeof w, "%d", v->cfg.warps ? v->cfg.warps : 4);
    snprintf(st, sizeof st, "%d", v->cfg.stages ? v->cfg.stages : 2);
    Define defs[] = { { "T", dtype_name(v->dt) }, { "D", d }, { "BM", bm }, { "BN", bn },
                      { "CAUSAL", v->causal ? "true" : "false" }, { "W", w }, { "STAGES", st } };
    Source src = { "attention.tsr", tsr_attention_source, strlen(tsr_attention_source) };
    Diag diag;
    diag_init(&diag, &src);
    double t0 = now_ms();
    TirModule *m = compile_tir(&src, defs, (int)TSR_ARRAY_LEN(defs), TSR_ATTENTION_KERNEL, &diag, NULL);
    double t1 = now_ms();
    bool ok = m && m->funcs.len == 1;
    if (ok) {
        CodegenOptions co = { .target = target, .assume_aligned = true }; /* other fields 0 */
        ok = compile_ptx(m->funcs.data[0], &co, false, NULL, &out->r, &diag);
        out->loop_mads = ok ? tir_loop_mads_per_warp(m->funcs.data[0]) : 0;
    }
    double t2 = now_ms();
    if (!ok) {
        const char *text = diag.out.data ? diag.out.data : "no diagnostics";
        snprintf(why, n, "%.*s", (int)strcspn(text, "\n"), text);
    }
    out->frontend_ms = t1 - t0;
    out->codegen_ms = t2 - t1;
    if (m)
        tir_module_free(m);
    diag_free(&diag);
    return ok;
}

/* bench_compile_variant with the reason on stderr. */
static bool compile_variant(const BenchVariant *v, const char *target, BenchCompiled *out)
{
    char why[512];
    if (bench_compile_variant(v, target, out, why, sizeof why))
        return true;
    fprintf(stderr, "tessera-bench: attention %s D=%d causal=%d does not compile: %s\n", dtype_name(v->dt), v->D,
            v->causal, why);
    return false;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_table_header(StrBuf *md, const char *title, int argc, char **argv)
{
    char date[32], host[160] = "?";
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(host, sizeof host, "%.60s %.60s", u.sysname, u.machine);
    char llvm[32];
    codegen_llvm_version(llvm, sizeof llvm);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    /* Other work on the machine slows compiles down: say how busy it was. */
    char load[64] = "?";
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fgets(load, sizeof load, lf))
            load[strcspn(load, " ")] = 0; /* the 1-minute average */
        fclose(lf);
    }
    sb_printf(md, "# %s\n\n", title);
    sb_puts(md, "- command: `tessera-bench");
    for (int i = 0; i < argc; i++)
        sb_printf(md, " %s", argv[i]);
    char commit[64];
    bench_commit(commit, sizeof commit);
    sb_printf(md, "`\n- machine: %s, %ld cores, %s; load average %s when it started; Tessera %s, LLVM %s\n"
                  "- date: %s, commit %s\n\n",
              host, cores, access("/dev/nvidiactl", F_OK) == 0 ? "an NVIDIA GPU" : "no GPU", load, tsr_version(), llvm,
              date, commit);
}

bool bench_emit(const StrBuf *md, const char *out)
{
    fputs(md->data, stdout);
    if (!out)
        return true;
    FILE *f = fopen(out, "w");
    if (!f || fputs(md->data, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "tessera-bench: cannot write %s\n", out);
        return false;
    }
    return true;
}

/* Options shared by both commands. */
typedef struct {
    int reps;
    const char *out;
    const char *targets[4];
    int ntargets;
} CgOptions;

static bool parse_cg(int argc, char **argv, CgOptions *o, const char *default_targets)
{
    const char *targets = default_targets;
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--reps") && v) {
            o->reps = atoi(v);
            i++;
        } else if (!strcmp(argv[i], "--out") && v) {
            o->out = v;
            i++;
        } else if (!strcmp(argv[i], "--target") && v) {
            targets = v;
            i++;
        } else {
            fprintf(stderr, "tessera-bench: unknown or incomplete option '%s'\n", argv[i]);
            return false;
        }
    }
    if (o->reps < 1)
        o->reps = 1;
    /* "A,B" into the list (o->targets are the table's names) */
    static char list[64];
    snprintf(list, sizeof list, "%s", targets);
    o->ntargets = 0;
    for (char *p = strtok(list, ","); p && o->ntargets < 4; p = strtok(NULL, ",")) {
        const Target *t = target_lookup(p);
        if (!t) {
            char why[192];
            target_unknown_message(why, sizeof why, p);
            fprintf(stderr, "tessera-bench: %s\n", why);
            return false;
        }
        o->targets[o->ntargets++] = t->name;
    }
    return o->ntargets > 0;
}

int bench_compile_main(int argc, char **argv)
{
    CgOptions o = { 5, NULL, { NULL }, 0 };
    if (!parse_cg(argc - 1, argv + 1, &o, target_default()->name))
        return 2;
    StrBuf md;
    sb_init(&md);
    bench_table_header(&md, "Compile times: attention, source to PTX", argc, argv);
    sb_printf(&md, "Median of %d runs per variant, no JIT cache (compile_tir, then compile_ptx: TIR passes, "
                   "LLVM IR, LLVM O1, NVPTX). Block sizes from kernels/attention_config.c.\n\n",
              o.reps);
    sb_puts(&md, "| target | dtype | D | causal | BM | BN | frontend ms | codegen ms | total ms | PTX bytes | PTX lines "
                 "| smem bytes |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    bool ok = true;
    double sum = 0;
    int count = 0;
    for (int t = 0; t < o.ntargets; t++) {
        BenchVariant vs[12];
        int n = variants(o.targets[t], vs);
        for (int i = 0; i < n && ok; i++) {
            double *fe = calloc((size_t)o.reps, sizeof(double)), *cg = calloc((size_t)o.reps, sizeof(double)),
                   *tot = calloc((size_t)o.reps, sizeof(double));
            size_t bytes = 0, smem = 0;
            int lines = 0;
            for (int k = 0; k < o.reps && ok; k++) {
                BenchCompiled c;
                memset(&c, 0, sizeof c);
                ok = compile_variant(&vs[i], o.targets[t], &c);
                if (!ok)
                    break;
                fe[k] = c.frontend_ms;
                cg[k] = c.codegen_ms;
                tot[k] = c.frontend_ms + c.codegen_ms;
                bytes = strlen(c.r.ptx);
                smem = c.r.smem_bytes;
                lines = 0;
                for (const char *p = c.r.ptx; *p; p++)
                    lines += *p == '\n';
                codegen_result_free(&c.r);
            }
            if (ok) {
                double total = median(tot, o.reps);
                sum += total;
                count++;
                sb_printf(&md, "| %s | %s | %d | %s | %d | %d | %.1f | %.1f | %.1f | %zu | %d | %zu |\n", o.targets[t],
                          dtype_name(vs[i].dt), vs[i].D, vs[i].causal ? "yes" : "no", vs[i].cfg.bm, vs[i].cfg.bn,
                          median(fe, o.reps), median(cg, o.reps), total, bytes, lines, smem);
                fprintf(stderr, "compiled %s %s D=%d causal=%d: %.1f ms\n", o.targets[t], dtype_name(vs[i].dt),
                        vs[i].D, vs[i].causal, total);
            }
            free(fe);
            free(cg);
            free(tot);
        }
    }
    if (ok && count)
        sb_printf(&md, "\nMean of the medians: %.1f ms per variant.\n", sum / count);
    ok = ok && bench_emit(&md, o.out);
    sb_free(&md);
    return ok ? 0 : 1;
}

/* ---------------------------------------------------------------- ptxas */

/* The main loop of a SASS listing (support/sass.h), among all its loops
 * (a producer warpgroup's waits make dozens before it); false when it has
 * none. */
static bool main_loop(const char *listing, SassLoop *out)
{
    SassLoop few[32], *loops = few;
    int n = sass_loops(listing, few, 32);
    if (n > 32 && (loops = malloc(sizeof *loops * (size_t)n)) != NULL)
        n = sass_loops(listing, loops, n);
    else if (n > 32)
        n = 32;
    int k = sass_main_loop(loops, n);
    if (k >= 0)
        *out = loops[k];
    if (loops != few)
        free(loops);
    return k >= 0;
}

bool bench_tile_cost(const char *listing, int D, double loop_mads, double *shortest, double *longest)
{
    SassLoop l;
    /* a main loop without tensor-core instructions is not the dots' */
    if (loop_mads <= 0 || !main_loop(listing, &l) || l.mma == 0)
        return false;
    *shortest = l.shortest * 8192.0 * D / loop_mads;
    *longest = l.longest * 8192.0 * D / loop_mads;
    return true;
}

/* The SASS columns of one variant: the instruction counts, then the main
 * loop's iterations, raw and per 64x64xD tile (8192*D multiply-adds). */
static void sass_columns(StrBuf *md, const char *listing, int D, double loop_mads)
{
    SassCounts sc;
    ptxas_count_sass(listing, &sc);
    sb_printf(md, " %d | %d | %d | %d | %d | %d | %d | %d | %d |", sc.instructions, sc.hmma, sc.hgmma, sc.ldsm,
              sc.ldgsts, sc.utmaldg, sc.usetmaxreg, sc.wgmma_wait_deep, sc.mufu);
    SassLoop l;
    if (!main_loop(listing, &l)) {
        sb_puts(md, " - | - | - | - |");
        return;
    }
    sb_printf(md, " %d | %d |", l.shortest, l.longest);
    double lo, hi;
    if (bench_tile_cost(listing, D, loop_mads, &lo, &hi))
        sb_printf(md, " %.0f | %.0f |", lo, hi);
    else
        sb_puts(md, " - | - |");
}

int bench_ptxas_main(int argc, char **argv)
{
    CgOptions o = { 1, NULL, { NULL }, 0 };
    char both[64]; /* the oldest target and the default one */
    snprintf(both, sizeof both, "%s,%s", target_at(0)->name, target_default()->name);
    if (!parse_cg(argc - 1, argv + 1, &o, both))
        return 2;
    char ptxas[4096];
    if (!ptxas_find(ptxas, sizeof ptxas)) {
        printf("SKIP: ptxas not found (set PTXAS, install the CUDA toolkit at /usr/local/cuda, or put ptxas on PATH)\n");
        return 0;
    }
    StrBuf md, version;
    sb_init(&md);
    sb_init(&version);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "'%s' --version 2>&1 | tail -1", ptxas);
    FILE *p = popen(cmd, "r");
    char line[256];
    if (p && fgets(line, sizeof line, p))
        sb_puts(&version, line);
    if (p)
        pclose(p);
    char nvdisasm[4096];
    bool sass = nvdisasm_find(nvdisasm, sizeof nvdisasm);
    bench_table_header(&md, "ptxas resource report: attention", argc, argv);
    sb_printf(&md, "ptxas: %s (%s). Each variant's PTX (16-byte aligned tensors), block sizes from "
                   "kernels/attention_config.c. Dynamic shared memory: what the launch provides (the PTX header, "
                   "CodegenResult.smem_bytes); static: ptxas' count.\n\n",
              ptxas, version.len ? strtok(version.data, "\n") : "version unknown");
    if (sass)
        sb_printf(&md, "Machine instructions (SASS) counted with %s: all of them, mma.sync (HMMA), wgmma (HGMMA), "
                       "ldmatrix (LDSM), cp.async (LDGSTS), TMA loads (UTMALDG), register reallocation (USETMAXREG: "
                       "a warp-specialized producer), wgmma waits that leave groups in flight (DEPBAR>0: "
                       "WARPGROUP.DEPBAR.LE gsb0 with a count above 0, the overlap of softmax and GEMM) and special "
                       "functions (MUFU: ex2, lg2, rcp). A static count, not a speed.\n\n"
                       "Main loop (support/sass.h): of the loops of the SASS (back edges), those with the most "
                       "tensor-core instructions, the innermost, the first in the listing (after loop splitting, "
                       "the mask-free steady state); "
                       "`loop min` and `loop max`: instructions on the shortest and the longest path through one "
                       "iteration; `per tile`: those per 64x64xD tile of work, path x 8192*D / multiply-adds per "
                       "warp per iteration (the sum of M*N*K over the dots in the loop body, over the warps).\n\n",
                  nvdisasm);
    else
        sb_puts(&md, "No SASS counts: nvdisasm not found (set NVDISASM, or install the CUDA toolkit's; PyPI's "
                     "nvidia-cuda-nvdisasm has one).\n\n");
    sb_puts(&md, "| target | dtype | D | causal | BM | BN | threads | registers | spill stores | spill loads | stack "
                 "| static smem | dynamic smem | total smem | C75xx |");
    sb_puts(&md, sass ? " SASS | HMMA | HGMMA | LDSM | LDGSTS | UTMALDG | USETMAXREG | DEPBAR>0 | MUFU | loop min "
                        "| loop max | min per tile "
                        "| max per tile |\n"
                      : "\n");
    sb_puts(&md, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    sb_puts(&md, sass ? "---|---|---|---|---|---|---|---|---|---|---|---|---|\n" : "\n");
    bool ok = true;
    for (int t = 0; t < o.ntargets && ok; t++) {
        BenchVariant vs[12];
        int n = variants(o.targets[t], vs);
        for (int i = 0; i < n && ok; i++) {
            BenchCompiled c;
            memset(&c, 0, sizeof c);
            if (!(ok = compile_variant(&vs[i], o.targets[t], &c)))
                break;
            PtxasReport r;
            StrBuf log, listing;
            sb_init(&log);
            sb_init(&listing);
            if (!ptxas_check_listing(ptxas, sass ? nvdisasm : NULL, c.r.ptx, o.targets[t], &r, &listing, &log)) {
                fprintf(stderr, "tessera-bench: ptxas rejects attention %s %s D=%d causal=%d:\n%s\n", o.targets[t],
                        dtype_name(vs[i].dt), vs[i].D, vs[i].causal, log.data ? log.data : "");
                ok = false;
            } else {
                sb_printf(&md, "| %s | %s | %d | %s | %d | %d | %d | %d | %d | %d | %d | %d | %zu | %zu | %d |",
                          o.targets[t], dtype_name(vs[i].dt), vs[i].D, vs[i].causal ? "yes" : "no", vs[i].cfg.bm,
                          vs[i].cfg.bn, c.r.threads, r.registers, r.spill_stores, r.spill_loads, r.stack, r.smem,
                          c.r.smem_bytes, c.r.smem_bytes + (size_t)r.smem, r.c75xx);
                if (sass)
                    sass_columns(&md, listing.data ? listing.data : "", vs[i].D, c.loop_mads);
                sb_putc(&md, '\n');
            }
            sb_free(&log);
            sb_free(&listing);
            codegen_result_free(&c.r);
        }
    }
    ok = ok && bench_emit(&md, o.out);
    sb_free(&md);
    sb_free(&version);
    return ok ? 0 : 1;
}
