/* `tessera-bench tune`: searches the forward attention kernel's block sizes
 * (BM, BN), pipeline depth (STAGES) and warps (W: on sm_90a, consumer
 * warpgroups of 4) for each target, head dim, mask and dtype asked for, and
 * writes the tuned rows of kernels/attention_config.c in the format of
 * kernels/attention_tuned.inc, with a report (markdown and JSON).
 *
 * Each candidate is compiled (rejected when it does not: shared memory over
 * the target's limit, a tile the compiler refuses), run through ptxas -v
 * when there is one (rejected when it spills or ptxas warns C75xx), checked
 * on the emulator against the float64 reference on a small odd shape, and on
 * a GPU (device cuda) timed at one large shape: the fastest median wins.
 * Without a GPU the candidates are ranked by the static cost of
 * `tessera-bench ptxas`: the main loop's shortest path through its SASS per
 * 64x64xD tile of work (a count of instructions, not a speed), among the
 * candidates with the current row's warps; the current row comes first and
 * wins ties. */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"
#include "ptxas.h"
#include "target.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum { TUNE_MAX_CANDS = 128, TUNE_MAX_GIVEN = 32, TUNE_MAX_TARGETS = 4 };

typedef struct {
    tsr_device_kind device; /* TSR_DEVICE_AUTO: cuda when a GPU is there, else emu */
    const char *targets[TUNE_MAX_TARGETS];
    int ntargets;           /* 0: the GPU's own, or sm_90a and sm_80 without one */
    int dims[BENCH_MAX_LIST], ndims;
    DType dtypes[BENCH_MAX_LIST];
    int ndtypes;
    CausalMode causal;
    AttnConfig given[TUNE_MAX_GIVEN]; /* --candidates: instead of the search space */
    int ngiven;
    int limit;              /* candidates per key, the current one included (0: all) */
    double budget;          /* seconds; keys and candidates left after it are skipped (0: none) */
    int seqlen;             /* cuda: the timed shape's Sq = Sk (B, H: FlashAttention's convention) */
    int reps, warmup;
    double tolerance_scale; /* the check's bound times this (testing the checker: 0 fails) */
    const char *out;        /* folder for attention_tuned.inc, tune.md, tune.json */
    bool quiet;
} TuneOptions;

/* One candidate of one key and what became of it. */
typedef struct {
    AttnConfig cfg;
    bool ok;                /* passed every check */
    char status[320];       /* "ok" or why not */
    int registers, spills;  /* ptxas -v (-1: no ptxas); spills: bytes stored and loaded */
    long smem;              /* bytes, dynamic and static (-1: unknown) */
    double cost;            /* static cost per 64x64xD tile, shortest path (-1: unknown) */
    double err, bound;      /* the emulator's check (err -1: not run) */
    double ms;              /* the GPU's median (-1: not timed) */
} TuneCand;

typedef struct {
    const char *target;
    DType dt;
    int D;
    bool causal;
    AttnConfig current, chosen;
    bool tuned;             /* some candidate passed: chosen is the winner */
    bool skipped;           /* the time budget ran out before it */
    TuneCand cands[TUNE_MAX_CANDS];
    int ncands;
} TuneKey;

/* The machine's tools and the ranking that follows from them. */
typedef struct {
    bool cuda;
    char device_name[160];
    char ptxas[4096], nvdisasm[4096];
    bool have_ptxas, have_nvdisasm;
    struct timespec start;
} TuneEnv;

static double elapsed(const TuneEnv *env)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - env->start.tv_sec) + 1e-9 * (double)(now.tv_nsec - env->start.tv_nsec);
}

static bool out_of_time(const TuneOptions *o, const TuneEnv *env) { return o->budget > 0 && elapsed(env) > o->budget; }

/* Warps and stages as the kernel takes them (0: its defaults, 4 and 2). */
static AttnConfig normalized(AttnConfig c)
{
    c.warps = c.warps ? c.warps : 4;
    c.stages = c.stages ? c.stages : 2;
    return c;
}

static bool same_config(AttnConfig a, AttnConfig b)
{
    a = normalized(a);
    b = normalized(b);
    return a.bm == b.bm && a.bn == b.bn && a.warps == b.warps && a.stages == b.stages;
}

/* ------------------------------------------------------------ candidates */

/* The search space of a target: query rows with their warps (on sm_90a a
 * consumer warpgroup of 4 warps per 64 rows, FlashAttention-3's shape; 192
 * rows on 3 warpgroups and the key blocks that are not powers of two are
 * refused by compilers that allow powers of two only), key blocks, stages. */
static int search_space(const char *target, AttnConfig *out, int max)
{
    static const AttnConfig hopper_rows[] = { { 128, 0, 8, 0 }, { 64, 0, 4, 0 }, { 192, 0, 12, 0 } };
    static const AttnConfig ampere_rows[] = { { 64, 0, 4, 0 }, { 128, 0, 8, 0 }, { 128, 0, 4, 0 } };
    static const int hopper_bn[] = { 128, 64, 176, 256, 80, 32 }, ampere_bn[] = { 64, 128, 32, 256 };
    static const int stages[] = { 2, 3 };
    bool hopper = !strcmp(target, "sm_90a");
    const AttnConfig *rows = hopper ? hopper_rows : ampere_rows;
    const int *bns = hopper ? hopper_bn : ampere_bn;
    int nrows = hopper ? (int)TSR_ARRAY_LEN(hopper_rows) : (int)TSR_ARRAY_LEN(ampere_rows);
    int nbn = hopper ? (int)TSR_ARRAY_LEN(hopper_bn) : (int)TSR_ARRAY_LEN(ampere_bn);
    int n = 0;
    for (int s = 0; s < (int)TSR_ARRAY_LEN(stages); s++)
        for (int r = 0; r < nrows; r++)
            for (int b = 0; b < nbn && n < max; b++) {
                AttnConfig c = { rows[r].bm, bns[b], rows[r].warps, stages[s] };
                out[n++] = c;
            }
    return n;
}

/* The candidates of a key: the current row first, then the given ones or
 * the search space, without repeats, at most limit. */
static void make_candidates(const TuneOptions *o, TuneKey *k)
{
    AttnConfig space[TUNE_MAX_CANDS];
    int n = o->ngiven ? o->ngiven : search_space(k->target, space, TUNE_MAX_CANDS);
    const AttnConfig *from = o->ngiven ? o->given : space;
    int max = o->limit > 0 && o->limit < TUNE_MAX_CANDS ? o->limit : TUNE_MAX_CANDS;
    k->ncands = 0;
    for (int i = -1; i < n && k->ncands < max; i++) {
        AttnConfig c = normalized(i < 0 ? k->current : from[i]);
        bool seen = false;
        for (int j = 0; j < k->ncands && !seen; j++)
            seen = same_config(k->cands[j].cfg, c);
        if (seen)
            continue;
        TuneCand *t = &k->cands[k->ncands++];
        memset(t, 0, sizeof *t);
        t->cfg = c;
        t->registers = t->spills = -1;
        t->smem = -1;
        t->cost = t->err = t->ms = -1;
        snprintf(t->status, sizeof t->status, "skipped (time budget)");
    }
}

/* ---------------------------------------------------------------- checks */

/* Compiles the candidate and puts it through ptxas: false (with the reason
 * in its status) when it does not compile, spills, or overflows shared
 * memory. */
static bool static_checks(const TuneEnv *env, const TuneKey *k, TuneCand *c)
{
    BenchVariant v = { k->dt, k->D, k->causal, c->cfg };
    BenchCompiled bc;
    memset(&bc, 0, sizeof bc);
    char why[280];
    if (!bench_compile_variant(&v, k->target, &bc, why, sizeof why)) {
        snprintf(c->status, sizeof c->status, "does not compile: %s", why);
        return false;
    }
    bool ok = true;
    c->smem = (long)bc.r.smem_bytes;
    if (env->have_ptxas) {
        PtxasReport r;
        StrBuf log, listing;
        sb_init(&log);
        sb_init(&listing);
        if (!ptxas_check_listing(env->ptxas, env->have_nvdisasm ? env->nvdisasm : NULL, bc.r.ptx, k->target, &r,
                                 &listing, &log)) {
            const char *text = log.data ? log.data : "no message";
            snprintf(c->status, sizeof c->status, "ptxas rejects it: %.*s", (int)strcspn(text, "\n"), text);
            ok = false;
        } else {
            const Target *t = target_lookup(k->target);
            c->registers = r.registers;
            c->spills = r.spill_stores + r.spill_loads;
            c->smem += r.smem;
            double longest;
            if (!env->have_nvdisasm || !bench_tile_cost(listing.data ? listing.data : "", k->D, bc.loop_mads,
                                                        &c->cost, &longest))
                c->cost = -1;
            if (c->spills > 0 || r.stack > 0) {
                snprintf(c->status, sizeof c->status, "spills (%d bytes stored, %d loaded, %d of stack)",
                         r.spill_stores, r.spill_loads, r.stack);
                ok = false;
            } else if (r.c75xx > 0) {
                snprintf(c->status, sizeof c->status, "ptxas warns C75xx (%d): wgmma serialized", r.c75xx);
                ok = false;
            } else if (t && (size_t)c->smem > t->smem_per_block) {
                snprintf(c->status, sizeof c->status, "%ld bytes of shared memory, over the %zu a block may have",
                         c->smem, t->smem_per_block);
                ok = false;
            }
        }
        sb_free(&log);
        sb_free(&listing);
    }
    codegen_result_free(&bc.r);
    return ok;
}

/* Runs the candidate through the attention benchmark on one shape: on the
 * emulator (check) or on the GPU (check and time). */
static bool bench_candidate(const TuneOptions *o, const TuneKey *k, TuneCand *c, bool on_gpu)
{
    BenchOptions b;
    bench_options_init(&b);
    b.device = on_gpu ? TSR_DEVICE_CUDA : TSR_DEVICE_EMU;
    b.target = k->target;
    b.dtypes[0] = k->dt;
    b.ndtypes = 1;
    b.dims[0] = k->D;
    b.ndims = 1;
    b.set_dims = b.set_seqlens = b.set_passes = true;
    b.passes = PASS_FWD;
    b.causal = k->causal ? CAUSAL_YES : CAUSAL_NO;
    b.reference = false;
    b.quiet = true;
    b.tolerance_scale = o->tolerance_scale;
    b.forward_config = &c->cfg;
    if (on_gpu) {
        b.seqlens[0] = o->seqlen;
        b.reps = o->reps;
        b.warmup = o->warmup;
    } else {
        /* small and odd: a partial block of rows and of keys, and at least
         * three key blocks (a pipeline's steady state); grouped heads */
        int big = c->cfg.bm > c->cfg.bn ? c->cfg.bm : c->cfg.bn;
        b.seqlens[0] = 2 * big + 37;
        b.batch = 1;
        b.heads = 2;
        b.kv_heads = 1;
        b.reps = 1;
        b.warmup = 0;
    }
    b.nseqlens = 1;
    BenchRun run;
    BenchResult *r;
    int n = bench_attention_run(&b, NULL, &run, &r);
    if (n < 1) {
        snprintf(c->status, sizeof c->status, "%s: the device cannot be used", on_gpu ? "cuda" : "emu");
        free(r);
        return false;
    }
    const ImplResult *t = &r[0].tessera;
    bool ok = t->ran && t->pass;
    if (!on_gpu) {
        c->err = t->err;
        c->bound = r[0].bound;
    } else if (ok) {
        c->ms = t->t.median;
    }
    if (!t->ran)
        snprintf(c->status, sizeof c->status, "%s: %s", on_gpu ? "cuda" : "emu", t->status);
    else if (!t->pass)
        snprintf(c->status, sizeof c->status, "wrong on %s: error %.3g, bound %.3g%s", on_gpu ? "cuda" : "emu", t->err,
                 r[0].bound, t->unwritten ? ", elements unwritten" : "");
    free(r);
    return ok;
}

/* Whether candidate a ranks before b (both passed): the faster on a GPU,
 * else the lower static cost; the earlier on ties or without numbers. */
static bool ranks_before(const TuneCand *a, const TuneCand *b, bool gpu)
{
    if (gpu)
        return a->ms >= 0 && (b->ms < 0 || a->ms < b->ms);
    return a->cost >= 0 && (b->cost < 0 || a->cost < b->cost);
}

static void tune_key(const TuneOptions *o, const TuneEnv *env, TuneKey *k)
{
    make_candidates(o, k);
    const TuneCand *best = NULL;
    for (int i = 0; i < k->ncands; i++) {
        TuneCand *c = &k->cands[i];
        if (out_of_time(o, env)) {
            k->skipped = i == 0;
            break;
        }
        bench_progress(o->quiet, "tune %s %s D=%d %s: %dx%d W=%d stages=%d ...", k->target, dtype_name(k->dt),
                       k->D, k->causal ? "causal" : "full", c->cfg.bm, c->cfg.bn, c->cfg.warps, c->cfg.stages);
        c->ok = static_checks(env, k, c) && bench_candidate(o, k, c, false) &&
                (!env->cuda || bench_candidate(o, k, c, true));
        if (c->ok) {
            /* The static cost counts one warp's instructions: it cannot
             * weigh one consumer warpgroup against two taking turns (or
             * occupancy), so without a GPU only the current warps compete. */
            bool eligible = env->cuda || c->cfg.warps == k->current.warps;
            snprintf(c->status, sizeof c->status, "%s",
                     eligible ? "ok" : "ok (not ranked: other warps than the current row's)");
            if (eligible && (!best || ranks_before(c, best, env->cuda)))
                best = c;
        }
        bench_progress(o->quiet, " %s", c->status);
        if (c->cost >= 0)
            bench_progress(o->quiet, ", %.0f per tile", c->cost);
        if (c->ms >= 0)
            bench_progress(o->quiet, ", %.3f ms", c->ms);
        bench_progress(o->quiet, "\n");
    }
    k->tuned = best != NULL;
    k->chosen = best ? best->cfg : k->current;
}

/* ----------------------------------------------------------------- table */

static int dtype_column(DType dt, bool any) { return any ? 0 : (int)dt + 1; }

/* The rows of one target and head dim for the grid cfg[dtype f16/bf16][causal
 * no/yes]: none when every cell is what the table gives without tuned rows;
 * otherwise one row per dtype unless both dtypes agree, one per mask unless
 * both masks agree. */
static void table_rows(StrBuf *sb, const char *target, int D, const AttnConfig cfg[2][2])
{
    static const DType dts[2] = { DT_F16, DT_BF16 };
    bool untuned = true, same_dt = true, same_causal = true;
    for (int t = 0; t < 2; t++)
        for (int c = 0; c < 2; c++) {
            untuned = untuned && same_config(cfg[t][c], attention_untuned_config(dts[t], D, c));
            same_dt = same_dt && same_config(cfg[0][c], cfg[1][c]);
            same_causal = same_causal && same_config(cfg[t][0], cfg[t][1]);
        }
    if (untuned)
        return;
    for (int t = 0; t < (same_dt ? 1 : 2); t++)
        for (int c = 0; c < (same_causal ? 1 : 2); c++) {
            AttnConfig x = normalized(cfg[t][c]);
            sb_printf(sb, "    { \"%s\", %d, %d, %d, { %d, %d, %d, %d } },\n", target, dtype_column(dts[t], same_dt), D,
                      same_causal ? 0 : c + 1, x.bm, x.bn, x.warps, x.stages);
        }
}

/* Whether the table has a row for target: the compiled-in tuned rows'
 * targets, and those tuned now. */
static void table_targets(const TuneKey *keys, int nkeys, const char **out, int *n)
{
    const AttnRow *rows;
    int nrows = attention_tuned_rows(&rows);
    *n = 0;
    for (int i = 0; i < nrows + nkeys; i++) {
        const char *t = i < nrows ? rows[i].target : keys[i - nrows].target;
        bool seen = !t;
        for (int j = 0; j < *n && !seen; j++)
            seen = !strcmp(out[j], t);
        if (!seen && *n < 8)
            out[(*n)++] = t;
    }
}

/* The configuration of a cell: the tuned winner if the key was tuned,
 * else the compiled-in table's. */
static AttnConfig cell(const TuneKey *keys, int nkeys, const char *target, DType dt, int D, bool causal)
{
    for (int i = 0; i < nkeys; i++)
        if (keys[i].tuned && !strcmp(keys[i].target, target) && keys[i].dt == dt && keys[i].D == D &&
            keys[i].causal == causal)
            return keys[i].chosen;
    return attention_config(target, dt, D, causal);
}

/* The table in attention_tuned.inc's format: every target with tuned rows,
 * head dims 64, 128, 256 and those tuned. */
static void write_table(StrBuf *sb, const TuneKey *keys, int nkeys)
{
    sb_puts(sb, "/* Generated by `tessera-bench tune` (bench/README.md); included by\n"
                " * attention_config.c. Rows of AttnRow: target, dtype (DType + 1, 0: any),\n"
                " * head dim, causal (1 no, 2 yes, 0: any), { BM, BN, W, STAGES }. */\n");
    const char *targets[8];
    int ntargets;
    table_targets(keys, nkeys, targets, &ntargets);
    int dims[BENCH_MAX_LIST + 3] = { 64, 128, 256 }, ndims = 3;
    for (int i = 0; i < nkeys; i++) {
        bool seen = false;
        for (int j = 0; j < ndims && !seen; j++)
            seen = dims[j] == keys[i].D;
        if (!seen && ndims < (int)TSR_ARRAY_LEN(dims))
            dims[ndims++] = keys[i].D;
    }
    static const DType dts[2] = { DT_F16, DT_BF16 };
    for (int t = 0; t < ntargets; t++)
        for (int d = 0; d < ndims; d++) {
            AttnConfig grid[2][2];
            for (int x = 0; x < 2; x++)
                for (int c = 0; c < 2; c++)
                    grid[x][c] = cell(keys, nkeys, targets[t], dts[x], dims[d], c);
            table_rows(sb, targets[t], dims[d], grid);
        }
}

int bench_tune_parse_table(const char *text, AttnRow *rows, int max)
{
    int n = 0;
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        const char *p = line + strspn(line, " \t");
        if (*p != '{')
            continue;
        char target[16];
        AttnRow r;
        int end = 0;
        if (sscanf(p, "{ \"%15[^\"]\", %d, %d, %d, { %d, %d, %d, %d } },%n", target, &r.dtype, &r.head_dim, &r.causal,
                   &r.cfg.bm, &r.cfg.bn, &r.cfg.warps, &r.cfg.stages, &end) != 8 ||
            !end)
            return -1;
        const Target *t = target_lookup(target);
        if (!t || n == max || r.dtype < 0 || r.dtype > DT_COUNT || r.causal < 0 || r.causal > 2)
            return -1;
        r.target = t->name;
        rows[n++] = r;
    }
    return n;
}

/* ---------------------------------------------------------------- report */

static const char *ranking(const TuneEnv *env, const TuneOptions *o, char *buf, size_t n)
{
    if (env->cuda)
        snprintf(buf, n, "GPU time on %s: the median of %d runs (after %d warm-up) at Sq = Sk = %d, B = %d, H = 2048/D",
                 env->device_name, o->reps, o->warmup, o->seqlen, 16384 / o->seqlen > 0 ? 16384 / o->seqlen : 1);
    else if (env->have_nvdisasm)
        snprintf(buf, n, "no GPU: the static cost, instructions on the main loop's shortest path through its SASS per "
                         "64x64xD tile of work (as `tessera-bench ptxas`), not a measured speed; only candidates with "
                         "the current row's warps compete (one warp's count cannot weigh warpgroups against each "
                         "other), and the current row wins ties");
    else
        snprintf(buf, n, "no GPU and no nvdisasm: nothing to rank by, the current row kept when it passes");
    return buf;
}

static void config_text(AttnConfig c, char *buf, size_t n)
{
    c = normalized(c);
    snprintf(buf, n, "%dx%d W=%d stages=%d", c.bm, c.bn, c.warps, c.stages);
}

static void write_report(StrBuf *md, const TuneOptions *o, const TuneEnv *env, const TuneKey *keys, int nkeys,
                         int argc, char **argv)
{
    bench_table_header(md, "Attention tuning (tessera-bench tune)", argc, argv);
    char buf[512];
    sb_printf(md, "Ranking: %s.\n\nChecks: compiled (shared memory within the target's), ptxas -v %s (0 spills, no "
                  "C75xx), the emulator against the float64 reference at Sq = Sk = 2 max(BM, BN) + 37, B = 1, Hq = 2, "
                  "Hkv = 1%s.\n\n",
              ranking(env, o, buf, sizeof buf), env->have_ptxas ? env->ptxas : "(not found: not checked)",
              env->cuda ? ", then the GPU at the timed shape" : "");
    sb_puts(md, "| target | dtype | D | causal | current | chosen | candidates passed |\n"
                "|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < nkeys; i++) {
        const TuneKey *k = &keys[i];
        int passed = 0;
        for (int j = 0; j < k->ncands; j++)
            passed += k->cands[j].ok;
        char cur[64], ch[64];
        config_text(k->current, cur, sizeof cur);
        config_text(k->chosen, ch, sizeof ch);
        sb_printf(md, "| %s | %s | %d | %s | %s | %s%s | %d of %d |\n", k->target, dtype_name(k->dt), k->D,
                  k->causal ? "yes" : "no", cur, k->skipped ? "skipped (time budget)" : !k->tuned ? "none passed" : ch,
                  k->tuned && !same_config(k->current, k->chosen) ? " (changed)" : "", passed, k->ncands);
    }
    for (int i = 0; i < nkeys; i++) {
        const TuneKey *k = &keys[i];
        sb_printf(md, "\n## %s %s D=%d %s\n\n", k->target, dtype_name(k->dt), k->D, k->causal ? "causal" : "full");
        sb_puts(md, "| BM | BN | W | stages | registers | spill bytes | smem bytes | cost per tile | emu error "
                    "(bound) | GPU ms | status |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (int j = 0; j < k->ncands; j++) {
            const TuneCand *c = &k->cands[j];
            sb_printf(md, "| %d | %d | %d | %d |", c->cfg.bm, c->cfg.bn, c->cfg.warps, c->cfg.stages);
            if (c->registers >= 0)
                sb_printf(md, " %d | %d |", c->registers, c->spills);
            else
                sb_puts(md, " - | - |");
            sb_printf(md, c->smem >= 0 ? " %ld |" : " - |", c->smem);
            sb_printf(md, c->cost >= 0 ? " %.0f |" : " - |", c->cost);
            if (c->err >= 0)
                sb_printf(md, " %.2e (%.2e) |", c->err, c->bound);
            else
                sb_puts(md, " - |");
            sb_printf(md, c->ms >= 0 ? " %.3f |" : " - |", c->ms);
            bool chosen = c->ok && k->tuned && same_config(c->cfg, k->chosen);
            sb_printf(md, " %s%s |\n", c->status, chosen ? " (chosen)" : "");
        }
    }
}

static void json_string(StrBuf *sb, const char *s)
{
    sb_putc(sb, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            sb_printf(sb, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            sb_printf(sb, "\\u%04x", *s);
        else
            sb_putc(sb, *s);
    }
    sb_putc(sb, '"');
}

static void json_config(StrBuf *sb, AttnConfig c)
{
    c = normalized(c);
    sb_printf(sb, "{\"bm\": %d, \"bn\": %d, \"warps\": %d, \"stages\": %d}", c.bm, c.bn, c.warps, c.stages);
}

static void write_json(StrBuf *sb, const TuneOptions *o, const TuneEnv *env, const TuneKey *keys, int nkeys)
{
    char buf[512], commit[64];
    bench_commit(commit, sizeof commit);
    sb_printf(sb, "{\"tool\": \"tessera-bench tune\", \"commit\": ");
    json_string(sb, commit);
    sb_printf(sb, ", \"device\": ");
    json_string(sb, env->cuda ? env->device_name : "none (emu checks, static ranking)");
    sb_printf(sb, ", \"ranking\": ");
    json_string(sb, ranking(env, o, buf, sizeof buf));
    sb_puts(sb, ", \"keys\": [");
    for (int i = 0; i < nkeys; i++) {
        const TuneKey *k = &keys[i];
        sb_printf(sb, "%s\n {\"target\": \"%s\", \"dtype\": \"%s\", \"d\": %d, \"causal\": %s, \"tuned\": %s, "
                      "\"skipped\": %s, \"current\": ",
                  i ? "," : "", k->target, dtype_name(k->dt), k->D, k->causal ? "true" : "false",
                  k->tuned ? "true" : "false", k->skipped ? "true" : "false");
        json_config(sb, k->current);
        sb_puts(sb, ", \"chosen\": ");
        json_config(sb, k->chosen);
        sb_puts(sb, ", \"candidates\": [");
        for (int j = 0; j < k->ncands; j++) {
            const TuneCand *c = &k->cands[j];
            sb_puts(sb, j ? ",\n  {\"config\": " : "\n  {\"config\": ");
            json_config(sb, c->cfg);
            sb_printf(sb, ", \"ok\": %s, \"status\": ", c->ok ? "true" : "false");
            json_string(sb, c->status);
            sb_printf(sb, ", \"registers\": %d, \"spill_bytes\": %d, \"smem_bytes\": %ld, \"cost_per_tile\": %.1f, "
                          "\"emu_err\": %.3g, \"emu_bound\": %.3g, \"gpu_ms\": %.4f}",
                      c->registers, c->spills, c->smem, c->cost, c->err, c->bound, c->ms);
        }
        sb_puts(sb, "]}");
    }
    sb_puts(sb, "\n]}\n");
}

static bool write_file(const char *dir, const char *name, const StrBuf *sb)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    bool ok = f && fputs(sb->data ? sb->data : "", f) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "tessera-bench tune: cannot write %s\n", path);
    return ok;
}

/* --------------------------------------------------------------- options */

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = s ? strtod(s, &end) : 0;
    return s && *s && !errno && !*end && *out >= 0;
}

/* "BMxBNxWxSTAGES,..." */
static bool parse_candidates(const char *s, TuneOptions *o)
{
    o->ngiven = 0;
    while (s && *s) {
        AttnConfig c;
        int used = 0;
        if (o->ngiven == TUNE_MAX_GIVEN || sscanf(s, "%dx%dx%dx%d%n", &c.bm, &c.bn, &c.warps, &c.stages, &used) != 4 ||
            c.bm < 1 || c.bn < 1 || c.warps < 1 || c.stages < 1 || (s[used] && s[used] != ','))
            return false;
        o->given[o->ngiven++] = c;
        s += used;
        s += *s == ',';
    }
    return o->ngiven > 0;
}

static bool parse_tune(int argc, char **argv, TuneOptions *o, char *err, size_t n)
{
    memset(o, 0, sizeof *o);
    o->device = TSR_DEVICE_AUTO;
    o->dims[0] = 64, o->dims[1] = 128, o->dims[2] = 256, o->ndims = 3;
    o->dtypes[0] = DT_F16, o->dtypes[1] = DT_BF16, o->ndtypes = 2;
    o->causal = CAUSAL_BOTH;
    o->seqlen = 4096;
    o->reps = 10;
    o->warmup = 2;
    o->tolerance_scale = 1.0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(a, "--quiet")) {
            o->quiet = true;
            continue;
        }
        if (!v) {
            snprintf(err, n, "unknown or incomplete option '%s'", a);
            return false;
        }
        i++;
        if (!strcmp(a, "--device")) {
            ok = !strcmp(v, "cuda") || !strcmp(v, "emu");
            o->device = !strcmp(v, "cuda") ? TSR_DEVICE_CUDA : TSR_DEVICE_EMU;
        } else if (!strcmp(a, "--target")) {
            char list[64];
            snprintf(list, sizeof list, "%s", v);
            o->ntargets = 0;
            for (char *save, *p = strtok_r(list, ",", &save); p && ok; p = strtok_r(NULL, ",", &save)) {
                const Target *t = target_lookup(p);
                ok = t && o->ntargets < TUNE_MAX_TARGETS;
                if (ok)
                    o->targets[o->ntargets++] = t->name;
            }
        } else if (!strcmp(a, "--d")) {
            ok = bench_parse_int_list(v, o->dims, BENCH_MAX_LIST, &o->ndims, 16, 512);
        } else if (!strcmp(a, "--dtype")) {
            ok = bench_parse_dtype_list(v, o->dtypes, BENCH_MAX_LIST, &o->ndtypes);
            for (int k = 0; k < o->ndtypes && ok; k++)
                ok = o->dtypes[k] == DT_F16 || o->dtypes[k] == DT_BF16;
        } else if (!strcmp(a, "--causal")) {
            ok = !strcmp(v, "yes") || !strcmp(v, "no") || !strcmp(v, "both");
            o->causal = !strcmp(v, "yes") ? CAUSAL_YES : !strcmp(v, "no") ? CAUSAL_NO : CAUSAL_BOTH;
        } else if (!strcmp(a, "--candidates")) {
            ok = parse_candidates(v, o);
        } else if (!strcmp(a, "--limit")) {
            ok = bench_parse_int(v, 1, TUNE_MAX_CANDS, &o->limit);
        } else if (!strcmp(a, "--time-budget")) {
            ok = parse_double(v, &o->budget);
        } else if (!strcmp(a, "--seqlen")) {
            ok = bench_parse_int(v, 16, 1 << 20, &o->seqlen);
        } else if (!strcmp(a, "--reps")) {
            ok = bench_parse_int(v, 1, 100000, &o->reps);
        } else if (!strcmp(a, "--warmup")) {
            ok = bench_parse_int(v, 0, 100000, &o->warmup);
        } else if (!strcmp(a, "--tolerance-scale")) {
            ok = parse_double(v, &o->tolerance_scale);
        } else if (!strcmp(a, "--out")) {
            o->out = v;
        } else {
            snprintf(err, n, "unknown option '%s'", a);
            return false;
        }
        if (!ok) {
            snprintf(err, n, "bad value for %s: '%s'", a, v);
            return false;
        }
    }
    return true;
}

/* The device, the targets (the GPU's own, else sm_90a and sm_80), ptxas
 * and nvdisasm. */
static bool tune_env(TuneOptions *o, TuneEnv *env)
{
    memset(env, 0, sizeof env[0]);
    clock_gettime(CLOCK_MONOTONIC, &env->start);
    tsr_context_options co;
    tsr_context_options_init(&co);
    co.device = o->device == TSR_DEVICE_CUDA ? TSR_DEVICE_CUDA : TSR_DEVICE_AUTO;
    tsr_context *ctx = NULL;
    if (tsr_context_create(&co, &ctx) != TSR_OK) {
        fprintf(stderr, "tessera-bench tune: cannot use the device: %s\n", tsr_context_error(ctx));
        tsr_context_destroy(ctx);
        return false;
    }
    env->cuda = tsr_context_device_kind(ctx) == TSR_DEVICE_CUDA && o->device != TSR_DEVICE_EMU;
    snprintf(env->device_name, sizeof env->device_name, "%s", tsr_context_device_name(ctx));
    if (!o->ntargets && env->cuda) {
        o->targets[o->ntargets++] = target_lookup(tsr_context_default_target(ctx))->name;
    } else if (!o->ntargets) {
        o->targets[o->ntargets++] = "sm_90a";
        o->targets[o->ntargets++] = "sm_80";
    }
    tsr_context_destroy(ctx);
    env->have_ptxas = ptxas_find(env->ptxas, sizeof env->ptxas);
    env->have_nvdisasm = env->have_ptxas && nvdisasm_find(env->nvdisasm, sizeof env->nvdisasm);
    return true;
}

int bench_tune_main(int argc, char **argv)
{
    TuneOptions o;
    char err[256];
    if (!parse_tune(argc - 1, argv + 1, &o, err, sizeof err)) {
        fprintf(stderr, "tessera-bench tune: %s\n", err);
        return 2;
    }
    TuneEnv env;
    if (!tune_env(&o, &env))
        return 2;
    int nkeys = o.ntargets * o.ndims * o.ndtypes * 2;
    TuneKey *keys = calloc((size_t)nkeys, sizeof *keys);
    if (!keys) {
        fprintf(stderr, "tessera-bench tune: out of memory\n");
        return 2;
    }
    nkeys = 0;
    for (int t = 0; t < o.ntargets; t++)
        for (int d = 0; d < o.ndims; d++)
            for (int c = 0; c < 2; c++)
                for (int x = 0; x < o.ndtypes; x++) {
                    if (!(o.causal & (c ? CAUSAL_YES : CAUSAL_NO)))
                        continue;
                    TuneKey *k = &keys[nkeys++];
                    k->target = o.targets[t];
                    k->dt = o.dtypes[x];
                    k->D = o.dims[d];
                    k->causal = c;
                    k->current = normalized(attention_config(k->target, k->dt, k->D, k->causal));
                    tune_key(&o, &env, k);
                }
    StrBuf md, table, json;
    sb_init(&md);
    sb_init(&table);
    sb_init(&json);
    write_report(&md, &o, &env, keys, nkeys, argc, argv);
    write_table(&table, keys, nkeys);
    write_json(&json, &o, &env, keys, nkeys);
    sb_printf(&md, "\n## The table (attention_tuned.inc)\n\n```c\n%s```\n", table.data);
    fputs(md.data, stdout);
    bool ok = true;
    if (o.out) {
        mkdir(o.out, 0777); /* may exist */
        ok = write_file(o.out, "attention_tuned.inc", &table) && write_file(o.out, "tune.md", &md) &&
             write_file(o.out, "tune.json", &json);
    }
    int status = ok ? 0 : 2;
    for (int i = 0; i < nkeys && status == 0; i++)
        if (!keys[i].tuned && !keys[i].skipped)
            status = 1; /* no candidate passed */
    sb_free(&md);
    sb_free(&table);
    sb_free(&json);
    free(keys);
    return status;
}
