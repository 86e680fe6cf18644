/* What the benchmark computes from its measurements: FLOP counts, the
 * statistics of repeated timings, the GPUs' peak rates and FlashAttention's
 * tolerance rule. */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"
#include "reference.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The (query, key) pairs a configuration with a window or a packed batch
 * computes, per head. */
static double pairs_seen(const BenchConfig *c)
{
    AttnFeatures f = { c->feat.local, c->feat.window_left, c->feat.window_right, 0, NULL };
    double pairs = 0;
    int nseq = c->feat.nvarlen ? c->feat.nvarlen : c->B;
    for (int b = 0; b < nseq; b++) {
        int len = c->feat.nvarlen ? c->feat.varlen[b] : 0;
        AttnShape s = { 1, 1, 1, len ? len : c->Sq, len ? len : c->Sk, c->D, c->causal, 1 };
        if (c->feat.nvarlen && len == 0)
            continue;
        for (int r = 0; r < s.Sq; r++)
            pairs += attention_visible_keys(&s, &f, r, NULL);
    }
    return pairs;
}

double bench_flops(const BenchConfig *c)
{
    if (c->feat.local || c->feat.nvarlen)
        return 4.0 * c->Hq * c->D * pairs_seen(c) * (c->backward ? 2.5 : 1.0);
    double f = 4.0 * c->B * c->Hq * (double)c->Sq * c->Sk * c->D;
    if (c->backward)
        f *= 2.5;
    return c->causal && c->Sq == c->Sk ? f / 2 : f;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile of sorted values, interpolating between neighbours. */
static double quantile(const double *v, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)pos;
    double frac = pos - i;
    return i + 1 < n ? v[i] + frac * (v[i + 1] - v[i]) : v[n - 1];
}

TimeStats bench_time_stats(double *times, int n)
{
    TimeStats s;
    memset(&s, 0, sizeof s);
    if (n <= 0)
        return s;
    qsort(times, (size_t)n, sizeof *times, by_value);
    s.n = n;
    s.min = times[0];
    s.max = times[n - 1];
    s.median = quantile(times, n, 0.5);
    s.q1 = quantile(times, n, 0.25);
    s.q3 = quantile(times, n, 0.75);
    return s;
}

/* Dense f16/bf16 tensor-core rates with f32 accumulation, from the vendors'
 * datasheets (TFLOP/s). The first row whose every word occurs in the name
 * wins, so the more specific rows come first. */
static const struct {
    const char *words[2];
    double tflops;
    const char *which;
} peaks[] = {
    { { "H100", "PCIe" }, 756.0, "H100 PCIe" },
    { { "H100", NULL }, 989.4, "H100/H200 SXM" },
    { { "H200", NULL }, 989.4, "H100/H200 SXM" },
    { { "H800", NULL }, 989.4, "H800 SXM" },
    { { "GH200", NULL }, 989.4, "GH200" },
    { { "A100", NULL }, 312.0, "A100" },
    { { "A800", NULL }, 312.0, "A800" },
    { { "L40S", NULL }, 362.1, "L40S" },
    { { "A10", NULL }, 125.0, "A10" },
};

double bench_peak_tflops(const char *name, const char **which)
{
    *which = "unknown GPU";
    if (!name)
        return 0;
    for (size_t i = 0; i < TSR_ARRAY_LEN(peaks); i++) {
        bool all = true;
        for (int w = 0; w < 2 && peaks[i].words[w]; w++)
            all = all && strstr(name, peaks[i].words[w]);
        if (all) {
            *which = peaks[i].which;
            return peaks[i].tflops;
        }
    }
    return 0;
}

void bench_commit(char *buf, size_t n)
{
    const char *commit = getenv("TESSERA_COMMIT");
    snprintf(buf, n, "%s", commit && *commit ? commit : "unknown");
    if (commit && *commit)
        return;
    FILE *p = popen("git rev-parse --short=12 HEAD 2>/dev/null", "r");
    char line[48];
    if (p && fgets(line, sizeof line, p) && line[0] != '\n') {
        line[strcspn(line, "\n")] = 0;
        snprintf(buf, n, "%s", line);
    }
    if (p)
        pclose(p);
}

double bench_bound(DType dt, double err_lowp, double scale)
{
    return (2.0 * err_lowp + attention_slack(dt)) * scale;
}
