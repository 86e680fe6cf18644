/* The benchmark's outputs: a table for people, JSON and CSV for programs
 * (bench/peers/ writes the same JSON schema), and an SVG plot written
 * directly (TFLOP/s against sequence length, one panel per mask and head
 * dim, as FlashAttention plots them). */
#include "bench.h"
#include "util.h"

#include <math.h>
#include <string.h>

static const char *impl_names[2] = { "tessera", "reference" };

static const ImplResult *impl_of(const BenchResult *r, int i) { return i == 0 ? &r->tessera : &r->reference; }

static const char *timer_text(const BenchRun *run)
{
    if (run->cpu_times)
        return run->kind == TSR_DEVICE_EMU ? "CPU times: the PTX emulator, host clock"
                                           : "CPU times: the TIR interpreter, host clock";
    return "GPU times: CUDA events around each launch, L2 flushed before each run";
}

/* --------------------------------------------------------------- table */

static void verdict(const BenchResult *r, char *buf, size_t n)
{
    bool ref_skipped = bench_skipped(&r->reference);
    if (bench_skipped(&r->tessera))
        snprintf(buf, n, "%s", r->tessera.status);
    else if (!r->tessera.ran)
        snprintf(buf, n, "ERROR: %s", r->tessera.status);
    else if (!r->tessera.pass)
        snprintf(buf, n, "FAIL%s", r->tessera.unwritten ? " (unwritten outputs)" : r->tessera.lse_err > 1e-4 ? " (LSE)" : "");
    else if (!ref_skipped && !r->reference.ran)
        snprintf(buf, n, "ok; reference ERROR: %s", r->reference.status);
    else if (!ref_skipped && !r->reference.pass)
        snprintf(buf, n, "ok; reference FAIL");
    else
        snprintf(buf, n, "ok");
}

void bench_print_table(FILE *f, const BenchRun *run, const BenchResult *r, int n)
{
    fprintf(f, "tessera-bench attention on %s (%s code%s%s%s%s), commit %s, %s\n", run->device_name, run->target,
            run->no_warp_specialize ? ", no warp specialization" : "", run->no_overlap ? ", no overlap" : "",
            run->no_pingpong ? ", no pingpong" : "", run->persistent ? ", persistent" : "", run->commit, run->date);
    if (run->features[0] && strcmp(run->features, "none"))
        fprintf(f, "features: %s (kernels/attention_ext.tsr)\n", run->features);
    fprintf(f, "%s; median of %d runs after %d warm-up runs, [min..max]", timer_text(run), run->reps, run->warmup);
    if (run->peak_tflops > 0)
        fprintf(f, "; peak %.1f TFLOP/s (%s)", run->peak_tflops, run->peak_source);
    fprintf(f, "\nerrors: max |out - float64 reference| over the rows checked; bound = 2 x lowp err + slack "
               "(FlashAttention's rule); bwd: of the gradient (dQ, dK, dV) nearest its bound, FLOPs 2.5x the "
               "forward's\n\n");
    fprintf(f, "%-4s %-5s %-6s %4s %5s %4s %4s %6s %6s | %9s %-21s %9s %6s | %9s %9s | %7s | %8s %8s %8s %8s %7s  %s\n",
            "pass", "dtype", "causal", "D", "B", "H", "Hkv", "Sq", "Sk", "tessera", "ms [min..max]", "TFLOP/s", "%peak",
            "ref ms", "TFLOP/s", "speedup", "err", "ref err", "lowp err", "bound", "rows", "check");
    for (int i = 0; i < n; i++) {
        const BenchResult *x = &r[i];
        const BenchConfig *c = &x->c;
        char tms[48] = "-", ttf[24] = "-", pk[16] = "-", rms[24] = "-", rtf[24] = "-", sp[16] = "-";
        char err[16] = "-", rerr[16] = "-", rows[16], check[200];
        if (x->tessera.ran) {
            snprintf(tms, sizeof tms, "%9.4g [%.4g..%.4g]", x->tessera.t.median, x->tessera.t.min, x->tessera.t.max);
            snprintf(ttf, sizeof ttf, "%.4g", x->tessera.tflops);
            if (run->peak_tflops > 0)
                snprintf(pk, sizeof pk, "%.1f%%", 100.0 * x->tessera.tflops / run->peak_tflops);
            snprintf(err, sizeof err, "%.2e", x->tessera.err);
        }
        if (x->reference.ran) {
            snprintf(rms, sizeof rms, "%.4g", x->reference.t.median);
            snprintf(rtf, sizeof rtf, "%.4g", x->reference.tflops);
            snprintf(rerr, sizeof rerr, "%.2e", x->reference.err);
            if (x->tessera.ran && x->tessera.t.median > 0)
                snprintf(sp, sizeof sp, "%.2fx", x->reference.t.median / x->tessera.t.median);
        }
        snprintf(rows, sizeof rows, "%s%lld", x->all_rows ? "all " : "", (long long)x->rows_checked);
        verdict(x, check, sizeof check);
        char tcol[48];
        snprintf(tcol, sizeof tcol, "%s", tms);
        fprintf(f, "%-4s %-5s %-6s %4d %5d %4d %4d %6d %6d | %-31s %9s %6s | %9s %9s | %7s | %8s %8s %8.2e %8.2e %7s  %s\n",
                c->backward ? "bwd" : "fwd", dtype_name(c->dt), c->causal ? "yes" : "no", c->D, c->B, c->Hq, c->Hkv,
                c->Sq, c->Sk, tcol, ttf, pk,
                rms, rtf, sp, err, rerr, x->err_lowp, x->bound, rows, check);
    }
    int failed = bench_exit_status(r, n), skipped = 0;
    for (int i = 0; i < n; i++)
        skipped += bench_skipped(&r[i].tessera);
    fprintf(f, "\n%d configurations", n);
    if (skipped)
        fprintf(f, " (%d skipped)", skipped);
    fprintf(f, ", %s\n", failed ? "SOME CHECKS FAILED" : "all checks passed");
}

/* ---------------------------------------------------------------- JSON */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* A number, or null when it is not finite (JSON has no inf or NaN). */
static void json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

static void json_field(FILE *f, const char *name, double v, bool comma)
{
    fprintf(f, "\"%s\": ", name);
    json_number(f, v);
    if (comma)
        fputs(", ", f);
}

bool bench_write_json(const char *path, const BenchRun *run, const BenchResult *r, int n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f, "{\n  \"schema\": \"tessera-bench-attention/1\",\n  \"tool\": ");
    char tool[64];
    snprintf(tool, sizeof tool, "tessera-bench %s", tsr_version());
    json_string(f, tool);
    fprintf(f, ",\n  \"date\": ");
    json_string(f, run->date);
    fprintf(f, ",\n  \"commit\": ");
    json_string(f, run->commit);
    fprintf(f, ",\n  \"features\": ");
    json_string(f, run->features[0] ? run->features : "none");
    fprintf(f, ",\n  \"device\": {\"kind\": ");
    json_string(f, run->kind == TSR_DEVICE_CUDA ? "cuda" : run->kind == TSR_DEVICE_EMU ? "emu" : "interp");
    fprintf(f, ", \"name\": ");
    json_string(f, run->device_name);
    fprintf(f, ", \"target\": ");
    json_string(f, run->target);
    fprintf(f, ", \"warp_specialize\": %s", run->no_warp_specialize ? "false" : "true");
    fprintf(f, ", \"overlap\": %s", run->no_overlap ? "false" : "true");
    fprintf(f, ", \"pingpong\": %s", run->no_pingpong ? "false" : "true");
    fprintf(f, ", \"persistent\": %s", run->persistent ? "true" : "false");
    fprintf(f, ", \"cpu_times\": %s, \"timer\": ", run->cpu_times ? "true" : "false");
    json_string(f, timer_text(run));
    fprintf(f, ", \"peak_tflops\": ");
    json_number(f, run->peak_tflops > 0 ? run->peak_tflops : NAN);
    fprintf(f, ", \"peak_source\": ");
    json_string(f, run->peak_source ? run->peak_source : "");
    fprintf(f, "},\n  \"reps\": %d, \"warmup\": %d, \"l2_flush_bytes\": %zu,\n  \"results\": [", run->reps,
            run->warmup, run->l2_flush_bytes);
    bool first = true;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            const BenchResult *x = &r[i];
            const ImplResult *m = impl_of(x, k);
            const BenchConfig *c = &x->c;
            fprintf(f, "%s\n    {\"impl\": \"%s\", \"direction\": \"%s\", \"dtype\": \"%s\", \"B\": %d, \"Hq\": %d, \"Hkv\": %d, \"Sq\": %d, "
                       "\"Sk\": %d, \"D\": %d, \"causal\": %s, ",
                    first ? "" : ",", impl_names[k], c->backward ? "bwd" : "fwd", dtype_name(c->dt), c->B, c->Hq,
                    c->Hkv, c->Sq, c->Sk, c->D,
                    c->causal ? "true" : "false");
            first = false;
            json_field(f, "flops", x->flops, true);
            fprintf(f, "\"ran\": %s, \"status\": ", m->ran ? "true" : "false");
            json_string(f, m->status);
            fputs(", ", f);
            if (m->ran) {
                json_field(f, "ms_median", m->t.median, true);
                json_field(f, "ms_min", m->t.min, true);
                json_field(f, "ms_max", m->t.max, true);
                json_field(f, "ms_q1", m->t.q1, true);
                json_field(f, "ms_q3", m->t.q3, true);
                json_field(f, "tflops", m->tflops, true);
                json_field(f, "peak_fraction", run->peak_tflops > 0 ? m->tflops / run->peak_tflops : NAN, true);
                json_field(f, "err", m->err, true);
                json_field(f, "lse_err", m->lse_err >= 0 ? m->lse_err : NAN, true);
                fprintf(f, "\"unwritten\": %lld, ", (long long)m->unwritten);
            }
            json_field(f, "err_lowp", x->err_lowp, true);
            json_field(f, "bound", x->bound, true);
            fprintf(f, "\"rows_checked\": %lld, \"all_rows\": %s, \"pass\": %s}", (long long)x->rows_checked,
                    x->all_rows ? "true" : "false", m->ran && m->pass ? "true" : "false");
        }
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0;
}

/* ----------------------------------------------------------------- CSV */

bool bench_write_csv(const char *path, const BenchRun *run, const BenchResult *r, int n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f, "impl,direction,device,dtype,B,Hq,Hkv,Sq,Sk,D,causal,flops,ms_median,ms_min,ms_max,ms_q1,ms_q3,tflops,"
               "peak_fraction,err,lse_err,err_lowp,bound,rows_checked,pass,status\n");
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            const BenchResult *x = &r[i];
            const ImplResult *m = impl_of(x, k);
            const BenchConfig *c = &x->c;
            char status[sizeof m->status];
            snprintf(status, sizeof status, "%s", m->status);
            for (char *p = status; *p; p++)
                if (*p == ',' || *p == '"')
                    *p = ';';
            fprintf(f, "%s,%s,%s,%s,%d,%d,%d,%d,%d,%d,%d,%.6g,", impl_names[k], c->backward ? "bwd" : "fwd",
                    run->kind == TSR_DEVICE_CUDA ? "cuda" : run->kind == TSR_DEVICE_EMU ? "emu" : "interp",
                    dtype_name(c->dt), c->B, c->Hq, c->Hkv, c->Sq, c->Sk, c->D, c->causal, x->flops);
            if (m->ran)
                fprintf(f, "%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,", m->t.median, m->t.min, m->t.max, m->t.q1,
                        m->t.q3, m->tflops, run->peak_tflops > 0 ? m->tflops / run->peak_tflops : 0.0, m->err,
                        m->lse_err);
            else
                fputs(",,,,,,,,,", f);
            fprintf(f, "%.6g,%.6g,%lld,%d,%s\n", x->err_lowp, x->bound, (long long)x->rows_checked,
                    m->ran && m->pass, status);
        }
    return fclose(f) == 0;
}

/* ----------------------------------------------------------------- SVG */

enum { PANEL_W = 320, PANEL_H = 220, MARGIN_L = 60, MARGIN_T = 70, GAP = 40 };

static int find_int(const int *v, int n, int x)
{
    for (int i = 0; i < n; i++)
        if (v[i] == x)
            return i;
    return -1;
}

static int add_sorted(int *v, int n, int x)
{
    if (find_int(v, n, x) >= 0)
        return n;
    int i = n;
    while (i > 0 && v[i - 1] > x) {
        v[i] = v[i - 1];
        i--;
    }
    v[i] = x;
    return n + 1;
}

/* A round upper end for an axis: 1, 2 or 5 times a power of ten. */
static double nice_ceiling(double v)
{
    if (!(v > 0))
        return 1;
    double p = pow(10, floor(log10(v)));
    return v <= p ? p : v <= 2 * p ? 2 * p : v <= 5 * p ? 5 * p : 10 * p;
}

bool bench_write_svg(const char *path, const BenchRun *run, const BenchResult *r, int n)
{
    /* Panels: rows by pass and mask (row key: causal + 2 * backward),
     * columns by head dim; x by Sq. */
    int dims[BENCH_MAX_LIST], nd = 0, seqs[256], ns = 0, masks[4], nm = 0;
    double ymax = 0;
    for (int i = 0; i < n; i++) {
        if (nd < BENCH_MAX_LIST)
            nd = add_sorted(dims, nd, r[i].c.D);
        if (ns < 256)
            ns = add_sorted(seqs, ns, r[i].c.Sq);
        nm = add_sorted(masks, nm, r[i].c.causal + 2 * r[i].c.backward);
        for (int k = 0; k < 2; k++)
            if (impl_of(&r[i], k)->ran)
                ymax = fmax(ymax, impl_of(&r[i], k)->tflops);
    }
    ymax = nice_ceiling(ymax);
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    int width = MARGIN_L + nd * (PANEL_W + GAP), height = MARGIN_T + nm * (PANEL_H + GAP + 20) + 20;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            width, height);
    bool any_bwd = false, any_fwd = false;
    for (int i = 0; i < n; i++) {
        any_bwd |= r[i].c.backward;
        any_fwd |= !r[i].c.backward;
    }
    fprintf(f, "<text x=\"10\" y=\"20\" font-size=\"15\">Attention %s on ",
            any_bwd ? (any_fwd ? "forward and backward" : "backward") : "forward");
    for (const char *p = run->device_name; *p; p++) {
        if (*p == '<' || *p == '>' || *p == '&')
            fputs(*p == '<' ? "&lt;" : *p == '>' ? "&gt;" : "&amp;", f);
        else
            fputc(*p, f);
    }
    fprintf(f, " (%s)</text>\n", run->cpu_times ? "CPU times, not GPU speed" : "GPU times");
    static const char *const colors[2] = { "#1f77b4", "#ff7f0e" };
    static const DType dts[2] = { DT_F16, DT_BF16 };
    int lx = 10;
    for (int k = 0; k < 2; k++)
        for (int t = 0; t < 2; t++) {
            fprintf(f, "<line x1=\"%d\" y1=\"40\" x2=\"%d\" y2=\"40\" stroke=\"%s\" stroke-width=\"2\"%s/>", lx, lx + 24,
                    colors[k], t ? " stroke-dasharray=\"5,3\"" : "");
            fprintf(f, "<text x=\"%d\" y=\"44\">%s %s</text>\n", lx + 28, impl_names[k], dtype_name(dts[t]));
            lx += 150;
        }
    for (int mi = 0; mi < nm; mi++)
        for (int di = 0; di < nd; di++) {
            int x0 = MARGIN_L + di * (PANEL_W + GAP), y0 = MARGIN_T + mi * (PANEL_H + GAP + 20);
            fprintf(f, "<text x=\"%d\" y=\"%d\">%s, D = %d, %s</text>\n", x0, y0 - 6,
                    masks[mi] & 2 ? "backward" : "forward", dims[di], masks[mi] & 1 ? "causal" : "not causal");
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", x0, y0,
                    PANEL_W, PANEL_H);
            for (int g = 0; g <= 4; g++) {
                double v = ymax * g / 4;
                int y = y0 + PANEL_H - (int)(PANEL_H * g / 4);
                fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#eee\"/>", x0, y, x0 + PANEL_W, y);
                if (di == 0)
                    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3g</text>", x0 - 4, y + 4, v);
                fputc('\n', f);
            }
            for (int s = 0; s < ns; s++) {
                int x = x0 + (int)(PANEL_W * (s + 0.5) / ns);
                fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x, y0 + PANEL_H + 14, seqs[s]);
            }
            if (di == 0)
                fprintf(f, "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">TFLOP/s</text>\n",
                        y0 + PANEL_H / 2, y0 + PANEL_H / 2);
            for (int k = 0; k < 2; k++)
                for (int t = 0; t < 2; t++) {
                    StrBuf pts;
                    sb_init(&pts);
                    for (int i = 0; i < n; i++) {
                        const ImplResult *m = impl_of(&r[i], k);
                        if (r[i].c.D != dims[di] || r[i].c.causal + 2 * r[i].c.backward != masks[mi] ||
                            r[i].c.dt != dts[t] || !m->ran)
                            continue;
                        int s = find_int(seqs, ns, r[i].c.Sq);
                        double x = x0 + PANEL_W * (s + 0.5) / ns, y = y0 + PANEL_H - PANEL_H * m->tflops / ymax;
                        sb_printf(&pts, "%.1f,%.1f ", x, y);
                        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", x, y, colors[k]);
                    }
                    if (pts.len)
                        fprintf(f, "\n<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
                                pts.data, colors[k], t ? " stroke-dasharray=\"5,3\"" : "");
                    sb_free(&pts);
                }
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">sequence length</text>\n", x0 + PANEL_W / 2,
                    y0 + PANEL_H + 30);
        }
    fprintf(f, "</svg>\n");
    return fclose(f) == 0;
}
