/* The options of `tessera-bench attention` and the configurations they
 * make. Shapes follow FlashAttention's benchmark: H * D = 2048 and
 * B * S = 16384 tokens, S from 512 to 16384. On the CPU devices (emu,
 * interp) the shapes the options leave open are small, so that the whole
 * run takes seconds, and the backward pass runs too unless --pass says. */
#include "bench.h"
#include "target.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int default_seqlens[] = { 512, 1024, 2048, 4096, 8192, 16384 };
static const int cpu_seqlens[] = { 128, 256 };
static const int cpu_dims[] = { 64, 128 };
enum { CPU_BATCH = 1, CPU_HEADS = 2 };

void bench_options_init(BenchOptions *o)
{
    memset(o, 0, sizeof *o);
    o->device = TSR_DEVICE_AUTO;
    o->dtypes[0] = DT_F16;
    o->dtypes[1] = DT_BF16;
    o->ndtypes = 2;
    o->dims[0] = 64;
    o->dims[1] = 128;
    o->dims[2] = 256;
    o->ndims = 3;
    for (size_t i = 0; i < TSR_ARRAY_LEN(default_seqlens); i++)
        o->seqlens[i] = default_seqlens[i];
    o->nseqlens = (int)TSR_ARRAY_LEN(default_seqlens);
    o->causal = CAUSAL_BOTH;
    o->passes = PASS_FWD;
    o->reps = -1;
    o->warmup = -1;
    o->reference = true;
    o->check_rows = 64;
    o->tolerance_scale = 1.0;
    o->seed = 20240601;
}

bool bench_parse_int(const char *s, long lo, long hi, int *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

/* The next item of a comma-separated list at *p, copied into item; *p
 * moves past it, to NULL after the last. False when the item is empty or
 * does not fit. */
static bool next_item(const char **p, char *item, size_t cap)
{
    const char *comma = strchr(*p, ',');
    size_t len = comma ? (size_t)(comma - *p) : strlen(*p);
    if (len == 0 || len >= cap)
        return false;
    memcpy(item, *p, len);
    item[len] = 0;
    *p = comma ? comma + 1 : NULL;
    return true;
}

bool bench_parse_int_list(const char *s, int *out, int max, int *n, int lo, int hi)
{
    *n = 0;
    if (!s || !*s)
        return false;
    for (const char *p = s; p;) {
        char item[32];
        if (*n >= max || !next_item(&p, item, sizeof item) || !bench_parse_int(item, lo, hi, &out[*n]))
            return false;
        (*n)++;
    }
    return true;
}

bool bench_parse_dtype_list(const char *s, DType *out, int max, int *n)
{
    *n = 0;
    if (!s || !*s)
        return false;
    for (const char *p = s; p;) {
        char item[16];
        DType dt;
        if (*n >= max || !next_item(&p, item, sizeof item) || !dtype_parse(item, &dt) ||
            (dt != DT_F16 && dt != DT_BF16 && !dtype_is_fp8(dt)))
            return false;
        out[(*n)++] = dt;
    }
    return true;
}

#define FAIL(...)                                                                                                 \
    do {                                                                                                          \
        snprintf(err, n, __VA_ARGS__);                                                                            \
        return false;                                                                                             \
    } while (0)

bool bench_parse_attention(BenchOptions *o, int argc, char **argv, char *err, size_t n)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes_value = strcmp(a, "--no-reference") && strcmp(a, "--quiet") && strcmp(a, "--no-warp-specialize") &&
                           strcmp(a, "--no-overlap") && strcmp(a, "--no-pingpong") && strcmp(a, "--persistent") &&
                           strcmp(a, "--alibi");
        if (strncmp(a, "--", 2))
            FAIL("unexpected argument '%s' (options start with --)", a);
        if (takes_value && !v)
            FAIL("%s needs a value", a);
        if (!strcmp(a, "--device")) {
            if (!strcmp(v, "cuda"))
                o->device = TSR_DEVICE_CUDA;
            else if (!strcmp(v, "emu"))
                o->device = TSR_DEVICE_EMU;
            else if (!strcmp(v, "interp"))
                o->device = TSR_DEVICE_INTERP;
            else if (!strcmp(v, "auto"))
                o->device = TSR_DEVICE_AUTO;
            else
                FAIL("--device %s: use cuda, emu, interp or auto", v);
        } else if (!strcmp(a, "--no-warp-specialize")) {
            o->compile_flags |= TSR_COMPILE_NO_WARP_SPECIALIZE;
        } else if (!strcmp(a, "--no-overlap")) {
            o->compile_flags |= TSR_COMPILE_NO_OVERLAP;
        } else if (!strcmp(a, "--no-pingpong")) {
            o->compile_flags |= TSR_COMPILE_NO_PINGPONG;
        } else if (!strcmp(a, "--persistent")) {
            o->compile_flags |= TSR_COMPILE_PERSISTENT;
        } else if (!strcmp(a, "--target")) {
            if (!target_lookup(v)) {
                char msg[160];
                target_unknown_message(msg, sizeof msg, v);
                FAIL("--target: %s", msg);
            }
            o->target = v;
        } else if (!strcmp(a, "--dtype")) {
            if (!bench_parse_dtype_list(v, o->dtypes, BENCH_MAX_LIST, &o->ndtypes))
                FAIL("--dtype %s: a comma-separated list of f16, bf16, e4m3 and e5m2", v);
        } else if (!strcmp(a, "--d")) {
            if (!bench_parse_int_list(v, o->dims, BENCH_MAX_LIST, &o->ndims, 16, 256))
                FAIL("--d %s: a comma-separated list of head dims (16 to 256)", v);
            for (int k = 0; k < o->ndims; k++)
                if (o->dims[k] % 16)
                    FAIL("--d %s: head dims are multiples of 16", v);
            o->set_dims = true;
        } else if (!strcmp(a, "--seqlen")) {
            if (!bench_parse_int_list(v, o->seqlens, BENCH_MAX_LIST, &o->nseqlens, 1, 1 << 20))
                FAIL("--seqlen %s: a comma-separated list of sequence lengths", v);
            o->set_seqlens = true;
        } else if (!strcmp(a, "--sq") || !strcmp(a, "--sk")) {
            int *dst = a[3] == 'q' ? &o->sq : &o->sk;
            if (!bench_parse_int(v, 1, 1 << 20, dst))
                FAIL("%s %s: a sequence length", a, v);
        } else if (!strcmp(a, "--batch")) {
            if (!bench_parse_int(v, 1, 1 << 16, &o->batch))
                FAIL("--batch %s: a positive number", v);
            o->set_batch = true;
        } else if (!strcmp(a, "--heads")) {
            if (!bench_parse_int(v, 1, 1 << 12, &o->heads))
                FAIL("--heads %s: a positive number", v);
            o->set_heads = true;
        } else if (!strcmp(a, "--kv-heads")) {
            if (!bench_parse_int(v, 1, 1 << 12, &o->kv_heads))
                FAIL("--kv-heads %s: a positive number", v);
        } else if (!strcmp(a, "--causal")) {
            if (!strcmp(v, "yes"))
                o->causal = CAUSAL_YES;
            else if (!strcmp(v, "no"))
                o->causal = CAUSAL_NO;
            else if (!strcmp(v, "both"))
                o->causal = CAUSAL_BOTH;
            else
                FAIL("--causal %s: use yes, no or both", v);
        } else if (!strcmp(a, "--pass")) {
            if (!strcmp(v, "fwd"))
                o->passes = PASS_FWD;
            else if (!strcmp(v, "bwd"))
                o->passes = PASS_BWD;
            else if (!strcmp(v, "both"))
                o->passes = PASS_BOTH;
            else
                FAIL("--pass %s: use fwd, bwd or both", v);
            o->set_passes = true;
        } else if (!strcmp(a, "--reps")) {
            if (!bench_parse_int(v, 1, 100000, &o->reps))
                FAIL("--reps %s: at least 1", v);
        } else if (!strcmp(a, "--warmup")) {
            if (!bench_parse_int(v, 0, 100000, &o->warmup))
                FAIL("--warmup %s: 0 or more", v);
        } else if (!strcmp(a, "--check-rows")) {
            if (!bench_parse_int(v, 1, 1 << 20, &o->check_rows))
                FAIL("--check-rows %s: at least 1", v);
        } else if (!strcmp(a, "--tolerance-scale") || !strcmp(a, "--peak") || !strcmp(a, "--time-limit")) {
            char *end;
            double d = strtod(v, &end);
            if (*end || !(d >= 0))
                FAIL("%s %s: a number >= 0", a, v);
            *(!strcmp(a, "--peak") ? &o->peak_tflops : !strcmp(a, "--time-limit") ? &o->time_limit : &o->tolerance_scale) = d;
        } else if (!strcmp(a, "--seed")) {
            char *end;
            o->seed = strtoull(v, &end, 10);
            if (*end)
                FAIL("--seed %s: a number", v);
        } else if (!strcmp(a, "--json")) {
            o->json = v;
        } else if (!strcmp(a, "--csv")) {
            o->csv = v;
        } else if (!strcmp(a, "--plot")) {
            o->plot = v;
        } else if (!strcmp(a, "--window")) {
            int w[2], nw;
            if (!bench_parse_int_list(v, w, 2, &nw, -1, 1 << 30) || nw != 2)
                FAIL("--window %s: two extents L,R (-1: open on that side)", v);
            o->feat.local = true;
            o->feat.window_left = w[0];
            o->feat.window_right = w[1];
        } else if (!strcmp(a, "--softcap")) {
            char *end;
            double d = strtod(v, &end);
            if (*end || !(d > 0) || d > 1e30)
                FAIL("--softcap %s: a positive number", v);
            o->feat.softcap = d;
        } else if (!strcmp(a, "--alibi")) {
            o->feat.alibi = true;
        } else if (!strcmp(a, "--varlen")) {
            if (!bench_parse_int_list(v, o->feat.varlen, BENCH_MAX_LIST, &o->feat.nvarlen, 0, 1 << 20))
                FAIL("--varlen %s: a comma-separated list of sequence lengths (0 allowed)", v);
        } else if (!strcmp(a, "--paged")) {
            if (!bench_parse_int(v, 1, 1 << 20, &o->feat.paged))
                FAIL("--paged %s: keys per page, a positive number", v);
        } else if (!strcmp(a, "--splits")) {
            if (!bench_parse_int(v, 1, 1 << 16, &o->feat.splits))
                FAIL("--splits %s: a positive number of split-KV programs", v);
        } else if (!strcmp(a, "--no-reference")) {
            o->reference = false;
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = true;
        } else {
            FAIL("unknown option '%s' (tessera-bench --help lists them)", a);
        }
        if (takes_value)
            i++;
    }
    if ((o->sq != 0) != (o->sk != 0))
        FAIL("--sq and --sk go together");
    if (o->sq && o->set_seqlens)
        FAIL("give either --seqlen or --sq/--sk");
    if (o->feat.nvarlen && (o->sq || o->set_seqlens || o->set_batch))
        FAIL("--varlen gives the batch and its lengths: not with --seqlen, --sq/--sk or --batch");
    if (o->feat.paged && o->feat.nvarlen)
        FAIL("--paged (decoding) takes no --varlen");
    if (o->feat.splits && !o->feat.paged)
        FAIL("--splits goes with --paged");
    for (int t = 0; t < o->ndtypes; t++)
        if (dtype_is_fp8(o->dtypes[t]) && bench_features_on(&o->feat))
            FAIL("--dtype %s: fp8 attention takes no --window, --softcap, --alibi, --varlen or --paged (yet)",
                 dtype_name(o->dtypes[t]));
    if (o->kv_heads && o->heads && o->heads % o->kv_heads)
        FAIL("--heads %d is not a multiple of --kv-heads %d", o->heads, o->kv_heads);
    return true;
}

bool bench_features_on(const BenchFeatures *f)
{
    return f->local || f->softcap > 0 || f->alibi || f->nvarlen > 0 || f->paged > 0;
}

void bench_features_text(const BenchFeatures *f, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = 0;
    if (f->local)
        len += (size_t)snprintf(buf + len, n - len, "window %d,%d, ", f->window_left, f->window_right);
    if (f->softcap > 0 && len < n)
        len += (size_t)snprintf(buf + len, n - len, "softcap %g, ", f->softcap);
    if (f->alibi && len < n)
        len += (size_t)snprintf(buf + len, n - len, "ALiBi, ");
    if (f->nvarlen && len < n)
        len += (size_t)snprintf(buf + len, n - len, "varlen %d sequences, ", f->nvarlen);
    if (f->paged && len < n)
        len += (size_t)snprintf(buf + len, n - len, "paged %d, ", f->paged);
    if (f->paged && len < n)
        len += f->splits ? (size_t)snprintf(buf + len, n - len, "splits %d, ", f->splits)
                         : (size_t)snprintf(buf + len, n - len, "splits auto, ");
    if (len >= 2 && len < n)
        buf[len - 2] = 0; /* the last ", " */
    else if (len == 0)
        snprintf(buf, n, "none");
}

float bench_alibi_slope(int h, int H)
{
    return (float)exp2(-8.0 * (h + 1) / H);
}

int bench_configs(const BenchOptions *o, tsr_device_kind device, BenchConfig *out, int max)
{
    bool cpu = device != TSR_DEVICE_CUDA;
    const int *dims = o->dims, *seqlens = o->seqlens;
    int ndims = o->ndims, nseq = o->nseqlens;
    if (cpu && !o->set_dims) {
        dims = cpu_dims;
        ndims = (int)TSR_ARRAY_LEN(cpu_dims);
    }
    if (cpu && !o->set_seqlens) {
        seqlens = cpu_seqlens;
        nseq = (int)TSR_ARRAY_LEN(cpu_seqlens);
    }
    int longest = 1;
    for (int i = 0; i < o->feat.nvarlen; i++)
        longest = o->feat.varlen[i] > longest ? o->feat.varlen[i] : longest;
    if (o->sq || o->feat.nvarlen)
        nseq = 1;
    PassMode passes = o->set_passes ? o->passes : cpu ? PASS_BOTH : PASS_FWD;
    int count = 0;
    for (int t = 0; t < o->ndtypes; t++)
        for (int c = 0; c < 2; c++) {
            if (!(o->causal & (c ? CAUSAL_YES : CAUSAL_NO)))
                continue;
            for (int d = 0; d < ndims; d++)
                for (int s = 0; s < nseq * 2; s++) {
                    bool bwd = s % 2; /* each shape forward, then backward */
                    if (!(passes & (bwd ? PASS_BWD : PASS_FWD)) || (bwd && dtype_is_fp8(o->dtypes[t])))
                        continue; /* fp8 has no backward pass */
                    BenchConfig k;
                    k.backward = bwd;
                    k.dt = o->dtypes[t];
                    k.causal = c;
                    k.D = dims[d];
                    k.feat = o->feat;
                    k.Sq = o->feat.nvarlen ? longest : o->sq ? o->sq : o->feat.paged ? 1 : seqlens[s / 2];
                    k.Sk = o->feat.nvarlen ? longest : o->sk ? o->sk : seqlens[s / 2];
                    k.B = o->feat.nvarlen ? o->feat.nvarlen
                          : o->batch  ? o->batch
                          : cpu       ? CPU_BATCH
                                      : (16384 / k.Sq > 0 ? 16384 / k.Sq : 1);
                    k.Hq = o->heads ? o->heads : cpu ? CPU_HEADS : (2048 / k.D > 0 ? 2048 / k.D : 1);
                    k.Hkv = o->kv_heads ? o->kv_heads : k.Hq;
                    if (k.Hq % k.Hkv)
                        k.Hkv = k.Hq; /* --kv-heads that does not divide a derived head count */
                    if (count < max)
                        out[count] = k;
                    count++;
                }
        }
    return count < max ? count : max;
}
