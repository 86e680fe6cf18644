/* The random program generator (see gen.h).
 *
 * A program is one kernel over symbolic dims M, N (the grid's axes) and K
 * (loops), with tiles BM, BN, BK; inputs are random tensors over those dims,
 * outputs are a [M, N] tile store and optionally a transposed store, a
 * row-vector store under a run-time if and a scalar store per program.
 * Expressions are generated for a wanted type (dtype and shape), choosing
 * among the productions that can give it; each production computes the
 * magnitude and drift bounds of its result (see gen.h). */
#include "gen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const gen_feature_names[FEAT_COUNT] = {
#define GEN_NAME(n, s, w) #n,
    GEN_FEATURES(GEN_NAME)
#undef GEN_NAME
};
const char gen_feature_sections[FEAT_COUNT] = {
#define GEN_SECTION(n, s, w) #s[0],
    GEN_FEATURES(GEN_SECTION)
#undef GEN_SECTION
};
const char *const gen_feature_what[FEAT_COUNT] = {
#define GEN_WHAT(n, s, w) w,
    GEN_FEATURES(GEN_WHAT)
#undef GEN_WHAT
};

/* ---- types -------------------------------------------------------------- */

static const char *const dim_names[DIM_COUNT] = { "1", "BM", "BN", "BK" };
static const char *const dim_syms[DIM_COUNT] = { "", "M", "N", "K" };

static Ty ty0(DType dt) { return (Ty){ dt, 0, { DIM_1, DIM_1 } }; }
static Ty ty1(DType dt, Dim a) { return (Ty){ dt, 1, { a, DIM_1 } }; }
static Ty ty2(DType dt, Dim a, Dim b) { return (Ty){ dt, 2, { a, b } }; }

static bool ty_eq(Ty a, Ty b)
{
    return a.dt == b.dt && a.rank == b.rank && (a.rank < 1 || a.d[0] == b.d[0]) && (a.rank < 2 || a.d[1] == b.d[1]);
}

static bool is_float(DType dt) { return dt == DT_F16 || dt == DT_BF16 || dt == DT_F32; }
static bool is_int(DType dt) { return dt == DT_I32 || dt == DT_I8 || dt == DT_U8 || dt == DT_U32 || dt == DT_I64; }
static bool is_unsigned(DType dt) { return dt == DT_U8 || dt == DT_U32; }
/* e4m3, e5m2: storage, conversions, where and dot only (no arithmetic). */
static bool is_fp8(DType dt) { return dt == DT_E4M3 || dt == DT_E5M2; }

/* Unit roundoff of a dtype (0: exact). */
static double unit(DType dt)
{
    return dt == DT_F32    ? 6e-8
           : dt == DT_F16  ? 4.9e-4
           : dt == DT_BF16 ? 3.9e-3
           : dt == DT_E4M3 ? 0.0625
           : dt == DT_E5M2 ? 0.125
                           : 0.0;
}

/* The spacing of an fp8 dtype's subnormals: the absolute error a rounding
 * to it may add near zero, where the relative unit() does not bound it. */
static double fp8_tiny(DType dt) { return dt == DT_E4M3 ? 0x1p-9 : dt == DT_E5M2 ? 0x1p-16 : 0.0; }

/* The largest magnitude a value of dt may reach: floats are kept below it
 * so nothing overflows; integers wrap (exactly), so for them it is only the
 * bound their values have anyway. */
static double mag_cap(DType dt)
{
    switch (dt) {
    case DT_F16: return 1e4;
    case DT_I32: return 2147483648.0;
    case DT_I8: return 128;
    case DT_U8: return 255;
    case DT_U32: return 4294967295.0;
    case DT_I64: return 9.3e18;
    case DT_E4M3: return 448;
    case DT_E5M2: return 57344;
    default: return 1e6;
    }
}

/* The magnitude of a value loaded from an input (check.c fills floats in
 * [-2, 2] and integers in [-20, 20], wrapped to unsigned dtypes). */
static double load_mag(DType dt) { return is_float(dt) || is_fp8(dt) ? 2 : is_unsigned(dt) ? mag_cap(dt) : 20; }

/* ---- nodes --------------------------------------------------------------- */

static Node *mk(Ty ty, const char *tmpl, bool exact, double mag, double err)
{
    Node *n = tsr_xcalloc(1, sizeof *n);
    n->ty = ty;
    n->tmpl = tsr_xstrdup(tmpl);
    n->exact = exact;
    n->mag = mag;
    n->err = exact ? 0 : err;
    return n;
}

static Node *with(Node *n, Node *a, Node *b, Node *c)
{
    n->kid[0] = a;
    n->kid[1] = b;
    n->kid[2] = c;
    n->nkids = c ? 3 : b ? 2 : a ? 1 : 0;
    return n;
}

void node_free(Node *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->nkids; i++)
        node_free(n->kid[i]);
    free(n->tmpl);
    free(n);
}

static void shape_text(StrBuf *sb, Ty ty)
{
    for (int i = 0; i < ty.rank; i++)
        sb_printf(sb, "%s%s", i ? ", " : "", dim_names[ty.d[i]]);
}

Node *node_leaf(Ty ty)
{
    StrBuf sb;
    sb_init(&sb);
    if (ty.rank == 0) {
        sb_printf(&sb, "%s(0)", dtype_name(ty.dt));
    } else {
        sb_printf(&sb, "zeros<%s>[", dtype_name(ty.dt));
        shape_text(&sb, ty);
        sb_puts(&sb, "]");
    }
    Node *n = mk(ty, sb.data, true, 0, 0);
    sb_free(&sb);
    return n;
}

static void node_print(StrBuf *sb, const Node *n)
{
    for (const char *s = n->tmpl; *s; s++) {
        if (s[0] == '$' && s[1] >= '0' && s[1] <= '2') {
            node_print(sb, n->kid[s[1] - '0']);
            s++;
        } else {
            sb_putc(sb, *s);
        }
    }
}

/* ---- the generator's state ---------------------------------------------- */

typedef struct {
    char name[12];
    Ty ty;
    bool exact, mutable_, hidden;
    double mag, err;
    int scope, loop;    /* declared at this scope depth, inside this many loops */
    bool is_dtype;      /* `let U = f32;` */
    bool is_const;      /* `let c = 1.5;`: an untyped float constant */
} Sym;

typedef struct {
    Rng rng;
    Program *p;
    uint64_t *cov;
    Sym syms[96];
    int nsyms, scope, loops, names;
    bool in_k;          /* `k`, the loop over K, is in scope */
    int trips;          /* iterations of the enclosing loops, at most */
    char ivar[4][4];    /* loop variables of the other loops in scope */
    int nivars;
    bool in_pipe;       /* inside a pipelined loop: no return (sema refuses it) */
    bool inner_pipe;    /* the innermost loop is pipelined: no break either */
    bool no_print;      /* a device_print was written (one per program) */
    bool fp8;           /* the program may use e4m3 and e5m2 (a fifth of them: they run on sm_89
                         * instead of sm_80, check.c) */
} Gen;

static int rnd(Gen *g, int n) { return (int)(rng_u64(&g->rng) % (uint64_t)n); }
static bool chance(Gen *g, double p) { return rng_uniform(&g->rng) < p; }
static void cover(Gen *g, Feature f)
{
    if (g->cov)
        g->cov[f]++;
}

static int dim_value(const Gen *g, Dim d)
{
    return d == DIM_BM ? g->p->bm : d == DIM_BN ? g->p->bn : d == DIM_BK ? g->p->bk : 1;
}


static void cover_dtype(Gen *g, DType dt)
{
    static const Feature f[DT_COUNT] = { [DT_BOOL] = FEAT_dt_bool, [DT_I32] = FEAT_dt_i32, [DT_F16] = FEAT_dt_f16,
                                         [DT_BF16] = FEAT_dt_bf16, [DT_F32] = FEAT_dt_f32, [DT_I8] = FEAT_dt_i8,
                                         [DT_U8] = FEAT_dt_u8,     [DT_U32] = FEAT_dt_u32, [DT_I64] = FEAT_dt_i64,
                                         [DT_E4M3] = FEAT_dt_e4m3, [DT_E5M2] = FEAT_dt_e5m2 };
    cover(g, f[dt]);
}

static void cover_cast(Gen *g, DType to)
{
    static const Feature f[DT_COUNT] = { [DT_BOOL] = FEAT_cast_bool, [DT_I32] = FEAT_cast_i32, [DT_F16] = FEAT_cast_f16,
                                         [DT_BF16] = FEAT_cast_bf16, [DT_F32] = FEAT_cast_f32, [DT_I8] = FEAT_cast_i8,
                                         [DT_U8] = FEAT_cast_u8,     [DT_U32] = FEAT_cast_u32, [DT_I64] = FEAT_cast_i64,
                                         [DT_E4M3] = FEAT_cast_e4m3, [DT_E5M2] = FEAT_cast_e5m2 };
    cover(g, f[to]);
}

/* A numeric dtype: mostly the float ones and i32, sometimes the storage
 * and wide integers. */
static DType rand_num_dtype(Gen *g)
{
    static const DType dts[] = { DT_F32, DT_F32, DT_F16, DT_BF16, DT_I32 };
    static const DType ints[] = { DT_I8, DT_U8, DT_U32, DT_I64 };
    return chance(g, 0.15) ? ints[rnd(g, 4)] : dts[rnd(g, 5)];
}

/* The dtype of a tensor or a let: in an fp8 program, sometimes an fp8 one. */
static DType rand_storage_dtype(Gen *g)
{
    return g->fp8 && chance(g, 0.15) ? (chance(g, 0.5) ? DT_E4M3 : DT_E5M2) : rand_num_dtype(g);
}

static Dim rand_tile_dim(Gen *g) { return (Dim)(1 + rnd(g, 3)); }

/* The dtype as the program writes it: T when it is the type parameter. */
static const char *dt_text(const Gen *g, DType dt) { return dt == g->p->type_param ? "T" : dtype_name(dt); }

static Node *gen(Gen *g, Ty ty, int depth, bool exact);

/* ---- leaves -------------------------------------------------------------- */

/* The coordinate where a slice along symbolic dim d starts (may cross the
 * tensor's bounds). */
static void slice_start(Gen *g, StrBuf *sb, Dim d)
{
    const char *base = d == DIM_BM ? "m0" : d == DIM_BN ? "n0" : g->in_k ? "k" : "0";
    int r = rnd(g, 10);
    if (r < 7) {
        sb_puts(sb, base);
        return;
    }
    cover(g, FEAT_load_crossing);
    static const char *const offs[] = { " - 1", " + 3", " - ", " + " };
    int o = rnd(g, 4);
    if (o < 2)
        sb_printf(sb, "%s%s", base, offs[o]);
    else
        sb_printf(sb, "%s%s%s / 2", base, offs[o], dim_names[d]);
}

static void point_index(Gen *g, StrBuf *sb, Dim d)
{
    if (d == DIM_1 && g->p->grid3 && chance(g, 0.5))
        sb_puts(sb, "program_id(2)");
    else if (g->nivars && chance(g, 0.3))
        sb_printf(sb, "%s", g->ivar[rnd(g, g->nivars)]);
    else if (d == DIM_BM || d == DIM_BN)
        sb_printf(sb, "%s + %d", d == DIM_BM ? "m0" : "n0", rnd(g, dim_value(g, d) + 2) - 1);
    else if (g->in_k)
        sb_printf(sb, "k + %d", rnd(g, 3));
    else
        sb_printf(sb, "%d", rnd(g, 4));
}

/* The tile dim a tensor dim gives when sliced: M and the constant BM give
 * BM, N gives BN, K gives BK; the others (the constant 2, G0, G1) are only
 * indexed by points. */
static Dim sym_dim(const char *s)
{
    return !strcmp(s, "M") || !strcmp(s, "BM") ? DIM_BM : !strcmp(s, "N") ? DIM_BN : !strcmp(s, "K") ? DIM_BK : DIM_1;
}

/* Which dims of tensor t to slice so the load has shape ty: a bit mask, or
 * -1 when none fits. */
static int slice_mask(const Param *t, Ty ty)
{
    for (int mask = 0; mask < (1 << t->rank); mask++) {
        int n = 0;
        bool ok = true;
        for (int i = 0; i < t->rank && ok; i++)
            if (mask & (1 << i)) {
                Dim d = sym_dim(t->dims[i]);
                ok = d != DIM_1 && n < ty.rank && d == ty.d[n];
                n++;
            }
        if (ok && n == ty.rank)
            return mask;
    }
    return -1;
}

/* A load from an input tensor giving ty, or NULL when no tensor can. */
static Node *gen_load(Gen *g, Ty ty)
{
    int cand[24], nc = 0;
    for (int i = 0; i < g->p->nparams; i++) {
        const Param *t = &g->p->params[i];
        if (!t->out && !t->specials && t->rank && t->dt == ty.dt && slice_mask(t, ty) >= 0)
            cand[nc++] = i;
    }
    if (!nc)
        return NULL;
    const Param *t = &g->p->params[cand[rnd(g, nc)]];
    int mask = slice_mask(t, ty);
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb, "%s[", t->name);
    for (int i = 0; i < t->rank; i++) {
        Dim d = sym_dim(t->dims[i]);
        bool constant = t->dims[i][0] >= '0' && t->dims[i][0] <= '9';
        if (i)
            sb_puts(&sb, ", ");
        if (mask & (1 << i)) {
            if (!strcmp(t->dims[i], "BM")) { /* a constant dim: all of it */
                sb_puts(&sb, ":");
                cover(g, FEAT_load_whole_dim);
                continue;
            }
            slice_start(g, &sb, d);
            sb_printf(&sb, " : +%s", dim_names[d]);
        } else if (constant) {
            sb_printf(&sb, "%d", rnd(g, 3)); /* 2 reads as zeros */
        } else if (!strcmp(t->dims[i], "BM")) {
            sb_printf(&sb, "%d", rnd(g, g->p->bm + 1));
        } else {
            point_index(g, &sb, d);
        }
    }
    sb_puts(&sb, "]");
    cover(g, ty.rank ? FEAT_load_tile : FEAT_load_point);
    if (t->rank > 2)
        cover(g, t->rank == 3 ? FEAT_load_rank3 : FEAT_load_rank4);
    Node *n = mk(ty, sb.data, true, load_mag(ty.dt), 0);
    sb_free(&sb);
    return n;
}

/* A variable or let of type ty in scope. */
static Node *gen_ref(Gen *g, Ty ty, bool exact)
{
    int cand[96], nc = 0;
    for (int i = 0; i < g->nsyms; i++) {
        const Sym *s = &g->syms[i];
        if (!s->hidden && !s->is_dtype && !s->is_const && ty_eq(s->ty, ty) && (!exact || s->exact))
            cand[nc++] = i;
    }
    if (!nc)
        return NULL;
    const Sym *s = &g->syms[cand[rnd(g, nc)]];
    return mk(ty, s->name, s->exact, s->mag, s->err);
}

/* An i32 scalar known to both devices: program ids, sizes, loop variables. */
static Node *gen_int_scalar(Gen *g)
{
    char buf[32];
    switch (rnd(g, 6)) {
    case 0:
        snprintf(buf, sizeof buf, "program_id(%d)", rnd(g, g->p->grid3 ? 3 : 2));
        cover(g, FEAT_fn_program_id);
        return mk(ty0(DT_I32), buf, true, 1000, 0);
    case 1:
        snprintf(buf, sizeof buf, "num_programs(%d)", rnd(g, g->p->grid3 ? 3 : 2));
        cover(g, FEAT_fn_num_programs);
        return mk(ty0(DT_I32), buf, true, 1000, 0);
    case 2:
        cover(g, FEAT_sym_dim_value);
        return mk(ty0(DT_I32), dim_syms[1 + rnd(g, 3)], true, 1000, 0);
    case 3:
        cover(g, FEAT_scalar_param);
        return mk(ty0(DT_I32), "t", true, 10, 0);
    case 4:
        if (g->nivars)
            return mk(ty0(DT_I32), g->ivar[rnd(g, g->nivars)], true, 1000, 0);
        if (g->in_k)
            return mk(ty0(DT_I32), "k", true, 1000, 0);
        /* fall through */
    default:
        snprintf(buf, sizeof buf, "i32(%d)", rnd(g, 9) - 4);
        cover(g, FEAT_const_int);
        return mk(ty0(DT_I32), buf, true, 4, 0);
    }
}

/* The scalar parameter of an integer dtype other than i32 (pick_params
 * declares one of each), or NULL. */
static Node *gen_int_param(Gen *g, DType dt)
{
    for (int i = 0; i < g->p->nparams; i++) {
        const Param *t = &g->p->params[i];
        if (!t->rank && t->dt == dt && dt != DT_I32) {
            cover(g, FEAT_scalar_int_params);
            return mk(ty0(dt), t->name, true, fabs(t->value), 0);
        }
    }
    return NULL;
}

/* A constant value: full/zeros/ones of the shape, or a cast constant. */
static Node *gen_const(Gen *g, Ty ty)
{
    StrBuf sb;
    sb_init(&sb);
    double v = 0;
    if (ty.rank == 0) {
        if (ty.dt == DT_BOOL) {
            sb_printf(&sb, "bool(%d)", rnd(g, 2));
        } else if (ty.dt == DT_F32 && chance(g, 0.5)) {
            cover(g, FEAT_scalar_param);
            sb_puts(&sb, "s");
            v = 2;
        } else {
            v = is_unsigned(ty.dt) ? rnd(g, 5) : rnd(g, 9) - 4;
            sb_printf(&sb, "%s(%g)", dt_text(g, ty.dt), is_float(ty.dt) || is_fp8(ty.dt) ? v / 2 : v);
            if (ty.dt == g->p->type_param)
                cover(g, FEAT_cast_type_param);
            else if (is_fp8(ty.dt))
                cover_cast(g, ty.dt);
        }
    } else {
        int r = rnd(g, 3);
        const char *fn = r == 0 ? "zeros" : r == 1 ? "ones" : "full";
        cover(g, r == 0 ? FEAT_fn_zeros : r == 1 ? FEAT_fn_ones : FEAT_fn_full);
        sb_printf(&sb, "%s<%s>[", fn, dt_text(g, ty.dt));
        shape_text(&sb, ty);
        sb_puts(&sb, "]");
        v = r == 1;
        if (r == 2) {
            if (ty.dt == DT_BOOL)
                sb_printf(&sb, "(%s)", chance(g, 0.5) ? "true" : "false");
            else if (is_float(ty.dt) || is_fp8(ty.dt))
                sb_printf(&sb, "(%s)", chance(g, 0.5) ? "-1.5" : "0.25"), v = 1.5;
            else
                sb_printf(&sb, "(%d)", (int)(v = is_unsigned(ty.dt) ? rnd(g, 4) : rnd(g, 7) - 3));
        }
    }
    Node *n = mk(ty, sb.data, true, fabs(v), 0);
    sb_free(&sb);
    return n;
}

static Ty with_dt(Ty t, DType dt)
{
    t.dt = dt;
    return t;
}

/* a converted to dtype `to`, or NULL (a freed) when the conversion could
 * differ between devices or overflow: only exact values become integers or
 * bools, and nothing leaves the range of its dtype. */
static bool cast_fits(const Node *a, DType to, bool exact)
{
    DType from = a->ty.dt;
    if ((is_int(to) || to == DT_BOOL || exact) && !a->exact)
        return false;
    if (!is_float(to)) /* integers wrap, floats saturate, fp8 saturates: the same bits either way */
        return true;
    return !(is_int(from) && a->mag > (to == DT_F32 ? 1e6 : 2000)) && a->mag <= mag_cap(to);
}

/* The magnitude after a conversion (integers wrap into their range: a
 * negative one made unsigned is near the top of it). */
static double cast_mag(const Node *a, DType to)
{
    if (to == DT_BOOL || a->ty.dt == DT_BOOL)
        return 1;
    if (is_unsigned(to) && is_int(a->ty.dt) && !is_unsigned(a->ty.dt))
        return mag_cap(to);
    return (is_int(to) || is_fp8(to)) && a->mag > mag_cap(to) ? mag_cap(to) : a->mag;
}

/* The drift a conversion to dt adds to a value of magnitude mag: half a
 * unit in the last place, and for fp8 a subnormal step near zero. */
static double cast_err(DType to, double mag) { return unit(to) * mag + fp8_tiny(to); }

static Node *cast_to(Gen *g, Node *a, DType to, bool exact)
{
    if (!a || a->ty.dt == to)
        return a;
    if (!cast_fits(a, to, exact)) {
        node_free(a);
        return NULL;
    }
    char buf[32];
    bool tp = to == g->p->type_param && chance(g, 0.5);
    snprintf(buf, sizeof buf, "%s($0)", tp ? "T" : dtype_name(to));
    if (tp)
        cover(g, FEAT_cast_type_param);
    else
        cover_cast(g, to);
    double mag = cast_mag(a, to);
    return with(mk(with_dt(a->ty, to), buf, a->exact, mag, a->err + cast_err(to, mag)), a, NULL, NULL);
}

/* A load or a variable of any dtype with ty's shape, converted. */
static Node *gen_converted(Gen *g, Ty ty, bool exact, bool ref)
{
    static const DType dts[] = { DT_F32, DT_F16, DT_BF16, DT_I32, DT_I8, DT_U8, DT_U32, DT_I64, DT_E4M3, DT_E5M2 };
    int n = (int)TSR_ARRAY_LEN(dts), start = rnd(g, n);
    for (int i = 0; i < n; i++) {
        DType dt = dts[(start + i) % n];
        if (dt == ty.dt)
            continue;
        Node *a = ref ? gen_ref(g, with_dt(ty, dt), exact) : gen_load(g, with_dt(ty, dt));
        if (a && (a = cast_to(g, a, ty.dt, exact)))
            return a;
    }
    return NULL;
}

static Node *gen_leaf(Gen *g, Ty ty, bool exact)
{
    Node *n = NULL;
    if (chance(g, 0.5))
        n = gen_ref(g, ty, exact);
    if (!n && chance(g, 0.3))
        n = gen_converted(g, ty, exact, true);
    if (!n && ty.dt != DT_BOOL && chance(g, 0.8))
        n = gen_load(g, ty);
    if (!n && chance(g, 0.6))
        n = gen_converted(g, ty, exact, false);
    if (!n && ty.dt == DT_I32 && ty.rank == 0 && chance(g, 0.7))
        n = gen_int_scalar(g);
    if (!n && is_int(ty.dt) && ty.rank == 0 && chance(g, 0.5))
        n = gen_int_param(g, ty.dt);
    if (!n && ty.dt == DT_I32 && ty.rank == 1 && chance(g, 0.6)) {
        char buf[64];
        StrBuf sb;
        sb_init(&sb);
        slice_start(g, &sb, ty.d[0]);
        static const char *const forms[] = { "arange<%s>(%s)", "arange<%s>()%.0s", "arange<%s>%.0s" };
        snprintf(buf, sizeof buf, forms[chance(g, 0.7) ? 0 : 1 + rnd(g, 2)], dim_names[ty.d[0]], sb.data);
        sb_free(&sb);
        cover(g, FEAT_fn_arange);
        n = mk(ty, buf, true, 1000, 0);
    }
    return n ? n : gen_const(g, ty);
}

/* ---- compound expressions ------------------------------------------------ */

/* A kid of type ty or of a shape that broadcasts to it: a scalar, or a
 * rank-2 shape with a 1 (made with None indexing). */
static Ty bcast_kid(Gen *g, Ty ty)
{
    if (ty.rank > 0 && chance(g, 0.15)) {
        cover(g, FEAT_bcast_scalar);
        return ty0(ty.dt);
    }
    if (ty.rank == 2 && chance(g, 0.3)) {
        Ty k = ty;
        k.d[rnd(g, 2)] = DIM_1;
        return k;
    }
    return ty;
}

/* Shapes for the n operands of an elementwise operation giving ty: each
 * may broadcast, but together they must make ty's shape (else the first
 * gets ty's). */
static void kid_tys(Gen *g, Ty ty, Ty *k, int n)
{
    for (int i = 0; i < n; i++)
        k[i] = bcast_kid(g, ty);
    for (int d = 0; d < ty.rank; d++) {
        bool covered = false;
        for (int i = 0; i < n; i++)
            covered |= k[i].rank == ty.rank && k[i].d[d] == ty.d[d];
        if (!covered)
            k[0] = ty;
    }
}

static double maxd(double a, double b) { return a > b ? a : b; }

/* A binary arithmetic operator on numbers. */
static Node *gen_arith(Gen *g, Ty ty, int depth, bool exact)
{
    bool fl = is_float(ty.dt);
    if (fl && exact)
        return NULL; /* float arithmetic rounds: not exact between devices */
    static const char *const ops[] = { "($0 + $1)", "($0 - $1)", "($0 * $1)", "($0 / $1)", "($0 % $1)" };
    int op = rnd(g, fl ? 4 : 5);
    bool konst = chance(g, 0.2);
    Ty k[2];
    kid_tys(g, ty, k, 2);
    if (konst)
        k[0] = ty;
    Node *a = gen(g, k[0], depth - 1, exact), *b;
    if (konst) { /* an untyped constant adapts to the other operand */
        char buf[32];
        int c = 1 + rnd(g, 3);
        const Sym *cs = NULL;
        for (int i = 0; fl && i < g->nsyms; i++)
            if (g->syms[i].is_const && !g->syms[i].hidden)
                cs = &g->syms[i];
        if (cs && chance(g, 0.5)) { /* an untyped let */
            snprintf(buf, sizeof buf, "%s", cs->name);
            c = 1;
        } else if (fl && chance(g, 0.3)) { /* the float compile-time parameter */
            snprintf(buf, sizeof buf, "F");
            c = 2;
            cover(g, FEAT_cparam_float);
        } else {
            snprintf(buf, sizeof buf, fl ? "%d.5" : "%d", c);
            cover(g, fl ? FEAT_const_float : FEAT_const_int);
        }
        b = mk(ty0(ty.dt), buf, true, c + 0.5, 0);
    } else {
        b = gen(g, k[1], depth - 1, exact);
    }
    if (fl && op == 3) { /* keep quotients bounded: divide by |b| + 1 */
        Node *d = with(mk(b->ty, "(abs($0) + 1.0)", b->exact, b->mag + 1, b->err), b, NULL, NULL);
        b = d;
        cover(g, FEAT_fn_abs);
    }
    cover(g, op == 0 ? FEAT_op_add : op == 1 ? FEAT_op_sub : op == 2 ? FEAT_op_mul : op == 3 ? FEAT_op_div : FEAT_op_rem);
    double u = unit(ty.dt), mag, err;
    switch (op) {
    case 0:
    case 1: /* a difference of unsigned values below 0 wraps to the top of the range */
        mag = op == 1 && is_unsigned(ty.dt) ? mag_cap(ty.dt) : a->mag + b->mag;
        err = a->err + b->err + u * mag;
        break;
    case 2: mag = a->mag * b->mag, err = a->err * b->mag + b->err * a->mag + a->err * b->err + u * mag; break;
    default: /* an integer quotient by 0 has every bit set: -1, or the largest unsigned value */
        mag = fl || op == 4 ? a->mag : is_unsigned(ty.dt) ? mag_cap(ty.dt) : maxd(a->mag, 1);
        err = a->err + b->err * a->mag + u * a->mag;
        break;
    }
    if (mag > mag_cap(ty.dt)) {
        if (!fl) {
            mag = mag_cap(ty.dt); /* i32 wraps: exact, only the bound saturates */
        } else {
            node_free(a);
            node_free(b);
            return NULL;
        }
    }
    return with(mk(ty, ops[op], a->exact && b->exact, mag, err), a, b, NULL);
}

static Node *gen_minmax_abs_neg(Gen *g, Ty ty, int depth, bool exact)
{
    int r = rnd(g, 5);
    if (r < 2) {
        Ty k[2];
        kid_tys(g, ty, k, 2);
        Node *a = gen(g, k[0], depth - 1, exact), *b = gen(g, k[1], depth - 1, exact);
        cover(g, r ? FEAT_fn_max : FEAT_fn_min);
        return with(mk(ty, r ? "max($0, $1)" : "min($0, $1)", a->exact && b->exact, maxd(a->mag, b->mag),
                       maxd(a->err, b->err)),
                    a, b, NULL);
    }
    Node *a = gen(g, ty, depth - 1, exact);
    static const char *const t[] = { "abs($0)", "(-$0)", "(+$0)" };
    cover(g, r == 2 ? FEAT_fn_abs : r == 3 ? FEAT_op_neg : FEAT_op_plus);
    double mag = r == 3 && is_unsigned(ty.dt) ? mag_cap(ty.dt) : a->mag; /* -x of an unsigned x wraps */
    return with(mk(ty, t[r - 2], a->exact, mag, a->err), a, NULL, NULL);
}

/* pow(|x| + 1, c) for a small constant c, while the result stays small. */
static Node *gen_pow(Gen *g, Ty ty, Node *a)
{
    static const double cs[] = { 2, 0.5, -1.5, 3, -1 };
    double c = cs[rnd(g, 5)], u = unit(ty.dt) + 1e-6, m = a->mag, e = a->err;
    if (m > 100 || (c > 0 && pow(m + 1, c) > mag_cap(ty.dt) / 4)) {
        node_free(a);
        return NULL;
    }
    char buf[48];
    snprintf(buf, sizeof buf, "pow(abs($0) + 1.0, %g)", c);
    double mag = c > 0 ? pow(m + 1, c) : 1, t = fabs(c) * log2(m + 1);
    double slope = fabs(c) * (c >= 1 ? pow(m + 1, c - 1) : 1);
    double err = slope * (e + u * (m + 1)) + (8 + 3 * fmax(t, fabs(c))) * 6e-8 * mag + u * mag;
    cover(g, FEAT_fn_pow);
    return with(mk(ty, buf, false, mag, err), a, NULL, NULL);
}

/* The math built-ins on forms that stay finite, with their drift: the
 * argument's drift times the function's slope, plus a few units of the
 * dtype (dsl/README.md section 10.4). */
static Node *gen_math(Gen *g, Ty ty, int depth)
{
    Node *a = gen(g, ty, depth - 1, false);
    double u = unit(ty.dt) + 1e-6, e = a->err, m = a->mag;
    static const char *const t[] = { "exp(-abs($0))", "exp2(-abs($0))", "log(abs($0) + 1.0)", "log2(abs($0) + 1.0)",
                                     "sqrt(abs($0))", "rsqrt(abs($0) + 1.0)", "tanh($0)", "sigmoid($0)", "erf($0)",
                                     "sin($0)", "cos($0)", "log1p(abs($0))", "expm1(-abs($0))" };
    static const Feature f[] = { FEAT_fn_exp,  FEAT_fn_exp2,    FEAT_fn_log, FEAT_fn_log2, FEAT_fn_sqrt,
                                 FEAT_fn_rsqrt, FEAT_fn_tanh,   FEAT_fn_sigmoid, FEAT_fn_erf, FEAT_fn_sin,
                                 FEAT_fn_cos,  FEAT_fn_log1p,   FEAT_fn_expm1 };
    int r = rnd(g, 14);
    if (r == 13)
        return gen_pow(g, ty, a);
    if ((r == 9 || r == 10) && m > 1e4) { /* sin and cos keep their bounds for |x| <= 1e5 */
        node_free(a);
        return NULL;
    }
    double mag, err;
    switch (r) {
    case 0: case 1: mag = 1, err = (r == 1 ? 1.5 * e : e) + u * (1 + m); break;
    case 2: case 3: mag = log2(m + 1) + 1, err = (r == 3 ? 1.5 * e : e) + u * (1 + mag + m); break;
    case 4: mag = sqrt(m), err = sqrt(e) + u * mag; break;
    case 5: mag = 1, err = e + u * (1 + m); break;
    case 7: mag = 1, err = 0.25 * e + 2 * u; break;
    case 8: mag = 1, err = 1.13 * e + 2 * u; break;
    case 9: case 10: mag = 1, err = fmin(e + 2 * u + 2e-7 * m, 2); break;
    case 11: mag = log(m + 1) + 1e-6, err = e + u * (1 + mag + m); break;
    default: mag = 1, err = e + 2 * u; break; /* tanh, expm1 */
    }
    cover(g, f[r]);
    if (strstr(t[r], "abs("))
        cover(g, FEAT_fn_abs);
    return with(mk(ty, t[r], false, mag, err), a, NULL, NULL);
}

/* floor, ceil, round: exact of an exact argument; otherwise a drift of
 * the argument may move the result by one. */
static Node *gen_rounding(Gen *g, Ty ty, int depth, bool exact)
{
    Node *a = gen(g, ty, depth - 1, exact);
    static const char *const t[] = { "floor($0)", "ceil($0)", "round($0)" };
    static const Feature f[] = { FEAT_fn_floor, FEAT_fn_ceil, FEAT_fn_round };
    int r = rnd(g, 3);
    cover(g, f[r]);
    return with(mk(ty, t[r], a->exact, a->mag + 1, a->exact ? 0 : a->err + 1), a, NULL, NULL);
}

/* The bitwise operators and shifts of integers (and & | ^ of bools),
 * umulhi of u32: exact, and bounded only by the dtype. */
static Node *gen_bits(Gen *g, Ty ty, int depth)
{
    if (ty.dt == DT_BOOL) {
        Ty k[2];
        kid_tys(g, ty, k, 2);
        Node *a = gen(g, k[0], depth - 1, true), *b = gen(g, k[1], depth - 1, true);
        static const char *const ops[] = { "($0 & $1)", "($0 | $1)", "($0 ^ $1)" };
        cover(g, FEAT_op_bool_bits);
        return with(mk(ty, ops[rnd(g, 3)], true, 1, 0), a, b, NULL);
    }
    if (!is_int(ty.dt))
        return NULL;
    static const char *const ops[] = { "($0 & $1)", "($0 | $1)", "($0 ^ $1)", "(~$0)", "($0 << $1)", "($0 >> $1)",
                                       "umulhi($0, $1)" };
    static const Feature f[] = { FEAT_op_bitand, FEAT_op_bitor, FEAT_op_bitxor, FEAT_op_bitnot,
                                 FEAT_op_shl,    FEAT_op_shr,   FEAT_fn_umulhi };
    int op = rnd(g, ty.dt == DT_U32 ? 7 : 6);
    Ty k[2];
    kid_tys(g, ty, k, 2);
    if (op == 3)
        k[0] = ty;
    Node *a = gen(g, k[0], depth - 1, true), *b = NULL;
    if (op == 3) {
        b = NULL;
    } else if ((op == 4 || op == 5) && chance(g, 0.6)) { /* a constant count adapts; past the width too */
        if (!ty_eq(a->ty, ty)) { /* the shifted value must have the whole shape */
            node_free(a);
            a = gen(g, ty, depth - 1, true);
        }
        char buf[16];
        snprintf(buf, sizeof buf, "%d", rnd(g, 40));
        b = mk(ty0(ty.dt), buf, true, 40, 0);
        cover(g, FEAT_const_int);
    } else {
        b = gen(g, k[1], depth - 1, true);
    }
    cover(g, f[op]);
    double cap = mag_cap(ty.dt), mag = op == 5                           ? a->mag
                                     : op == 3 && !is_unsigned(ty.dt) ? a->mag + 1 /* ~x == -x - 1 */
                                     : op < 3                         ? 2 * maxd(a->mag, b->mag)
                                                                      : cap;
    return with(mk(ty, ops[op], true, mag > cap ? cap : mag, 0), a, b, NULL);
}

/* A conversion from another dtype. */
static Node *gen_cast(Gen *g, Ty ty, int depth, bool exact)
{
    DType from = is_fp8(ty.dt) || chance(g, 0.3) ? rand_storage_dtype(g) : rand_num_dtype(g);
    if (chance(g, 0.15))
        from = DT_BOOL;
    if (from == ty.dt)
        return NULL;
    /* Values that decide an integer or a bool must be the same bits on both
     * devices. */
    bool need_exact = exact || is_int(ty.dt) || ty.dt == DT_BOOL;
    return cast_to(g, gen(g, with_dt(ty, from), depth - 1, need_exact), ty.dt, exact);
}

static Node *gen_where(Gen *g, Ty ty, int depth, bool exact)
{
    Ty k[3];
    kid_tys(g, ty, k, 3);
    Node *c = gen(g, with_dt(k[0], DT_BOOL), depth - 1, true), *a = gen(g, k[1], depth - 1, exact),
         *b = gen(g, k[2], depth - 1, exact);
    cover(g, FEAT_fn_where);
    return with(mk(ty, "where($0, $1, $2)", a->exact && b->exact, maxd(a->mag, b->mag), maxd(a->err, b->err)), c, a, b);
}

static Node *gen_select(Gen *g, Ty ty, int depth, bool exact)
{
    if (chance(g, 0.25)) { /* on the compile-time bool B: only one side is compiled */
        Node *a = gen(g, ty, depth - 1, exact), *b = gen(g, ty, depth - 1, exact);
        cover(g, FEAT_op_cond_compiletime);
        cover(g, FEAT_cparam_bool);
        return with(mk(ty, "(B ? $0 : $1)", a->exact && b->exact, maxd(a->mag, b->mag), maxd(a->err, b->err)), a, b,
                    NULL);
    }
    Node *c = gen(g, ty0(DT_BOOL), depth - 1, true), *a = gen(g, ty, depth - 1, exact), *b = gen(g, ty, depth - 1, exact);
    cover(g, FEAT_op_cond);
    return with(mk(ty, "($0 ? $1 : $2)", a->exact && b->exact, maxd(a->mag, b->mag), maxd(a->err, b->err)), c, a, b);
}

/* rank-1 or scalar results from reductions of a bigger tile. */
static Node *gen_reduce(Gen *g, Ty ty, int depth, bool exact)
{
    if (ty.dt == DT_BOOL || ty.rank == 2 || (is_int(ty.dt) && ty.dt != DT_I32))
        return NULL; /* reductions take only i32 of the integers */
    int kind = rnd(g, 3); /* sum, max, min */
    if (kind == 0 && exact && ty.dt != DT_I32)
        return NULL;
    Dim other = rand_tile_dim(g);
    if (ty.rank == 1 && other == ty.d[0])
        return NULL;
    Ty k = ty.rank == 0 ? ty1(ty.dt, other) : ty;
    bool rows = chance(g, 0.5); /* reduce along axis 1 (rows) or 0 (columns) */
    if (ty.rank == 1)
        k = rows ? ty2(ty.dt, ty.d[0], other) : ty2(ty.dt, other, ty.d[0]);
    Node *a = gen(g, k, depth - 1, exact);
    int n = dim_value(g, other);
    static const char *const fam[] = { "sum", "max", "min" };
    char buf[96];
    if (kind != 0 && is_float(ty.dt) && ty.rank == 1 && chance(g, 0.3)) {
        /* The masking idiom: a maximum over the elements a mask keeps,
         * -inf where it keeps none (then clamped, so no infinity flows on);
         * a minimum likewise with inf. */
        Node *c = gen(g, with_dt(k, DT_BOOL), depth - 1, true);
        if (kind == 1)
            snprintf(buf, sizeof buf, "max(%s(where($1, $0, -inf)), -4.0)", rows ? "rowmax" : "colmax");
        else
            snprintf(buf, sizeof buf, "min(%s(where($1, $0, inf)), 4.0)", rows ? "rowmin" : "colmin");
        cover(g, kind == 1 ? (rows ? FEAT_fn_rowmax : FEAT_fn_colmax) : (rows ? FEAT_fn_rowmin : FEAT_fn_colmin));
        cover(g, FEAT_const_inf);
        cover(g, FEAT_fn_where);
        return with(mk(ty, buf, a->exact, maxd(a->mag, 4), a->err), a, c, NULL);
    }
    if (ty.rank == 0) {
        snprintf(buf, sizeof buf, chance(g, 0.5) ? "reduce_%s($0)" : "reduce_%s($0, 0)", fam[kind]);
        cover(g, kind == 0 ? FEAT_fn_reduce_sum_1d : kind == 1 ? FEAT_fn_reduce_max : FEAT_fn_reduce_min);
    } else if (chance(g, 0.5)) {
        snprintf(buf, sizeof buf, "%s%s($0)", rows ? "row" : "col", fam[kind]);
        static const Feature f[2][3] = { { FEAT_fn_colsum, FEAT_fn_colmax, FEAT_fn_colmin },
                                         { FEAT_fn_rowsum, FEAT_fn_rowmax, FEAT_fn_rowmin } };
        cover(g, f[rows][kind]);
    } else {
        snprintf(buf, sizeof buf, "reduce_%s($0, %d)", fam[kind], rows ? 1 : 0);
        cover(g, kind == 0 ? (rows ? FEAT_fn_reduce_sum_1 : FEAT_fn_reduce_sum_0)
                           : kind == 1 ? FEAT_fn_reduce_max : FEAT_fn_reduce_min);
    }
    double mag = kind == 0 ? n * a->mag : a->mag;
    double err = kind == 0 ? n * a->err + (n * unit(DT_F32) + unit(ty.dt)) * mag : a->err;
    if (mag > mag_cap(ty.dt)) {
        if (ty.dt != DT_I32) {
            node_free(a);
            return NULL;
        }
        mag = mag_cap(ty.dt);
    }
    return with(mk(ty, buf, a->exact && (kind != 0 || ty.dt == DT_I32), mag, err), a, NULL, NULL);
}

/* Whether an fp8 dot of that shape runs on sm_90a's wgmma m64nNk32 (the
 * operands, whatever their major, are read K-major from shared memory or A
 * from registers, backend/README.md): warps in whole warpgroups along M, N
 * a multiple of 8, K of 32. */
static bool fp8_wgmma_fits(const Program *p, int m, int n, int k)
{
    return p->warps % 4 == 0 && m % (16 * p->warps) == 0 && n % 8 == 0 && k % 32 == 0;
}

static Node *gen_dot(Gen *g, Ty ty, int depth)
{
    if (ty.dt != DT_F32 || ty.rank != 2 || ty.d[0] == DIM_1 || ty.d[1] == DIM_1)
        return NULL;
    static const DType ops[] = { DT_F16, DT_BF16, DT_F32, DT_F16, DT_BF16, DT_F16, DT_E4M3, DT_E5M2 };
    DType odt = ops[rnd(g, g->fp8 ? 8 : 6)], odt2 = odt;
    bool fp8 = is_fp8(odt);
    if (fp8 && chance(g, 0.3)) /* any two fp8 dtypes */
        odt2 = odt == DT_E4M3 ? DT_E5M2 : DT_E4M3;
    Dim kd = rand_tile_dim(g);
    int a = dim_value(g, ty.d[0]), b = dim_value(g, ty.d[1]), c = dim_value(g, kd);
    bool tc = odt != DT_F32 && a % 16 == 0 && c % (fp8 ? 32 : 16) == 0 && b % 8 == 0;
    bool wgmma = fp8 && fp8_wgmma_fits(g->p, a, b, c);
    /* Keep dots on the CUDA cores within what code generation accepts
     * (dsl/README.md section 12), with room to spare; fp8 dots run there
     * on sm_90a unless wgmma takes their shape. */
    if ((!tc || (fp8 && !wgmma)) && (a * b + a * c + c * b) > 64 * 32 * g->p->warps)
        return NULL;
    Node *x = gen(g, ty2(odt, ty.d[0], kd), depth - 1, false), *y = gen(g, ty2(odt2, kd, ty.d[1]), depth - 1, false);
    double mag = c * x->mag * y->mag;
    double err = c * (x->err * y->mag + y->err * x->mag) + c * unit(DT_F32) * mag;
    if (mag > mag_cap(DT_F32)) {
        node_free(x);
        node_free(y);
        return NULL;
    }
    cover(g, tc ? FEAT_fn_dot_tc : FEAT_fn_dot_fma);
    if (fp8)
        cover(g, FEAT_fn_dot_fp8);
    if (wgmma)
        cover(g, FEAT_dot_fp8_wgmma);
    return with(mk(ty, "dot($0, $1)", false, mag, err), x, y, NULL);
}

static Node *gen_transpose(Gen *g, Ty ty, int depth, bool exact)
{
    if (ty.rank != 2)
        return NULL;
    Node *a = gen(g, ty2(ty.dt, ty.d[1], ty.d[0]), depth - 1, exact);
    cover(g, FEAT_fn_transpose);
    return with(mk(ty, "transpose($0)", a->exact, a->mag, a->err), a, NULL, NULL);
}

/* reshape<...>(x): a [a, b] tile from [b, a] or [a, b], a [a] from [1, a]
 * or [a, 1], a [1, a] or [a, 1] from [a]. */
static Node *gen_reshape(Gen *g, Ty ty, int depth, bool exact)
{
    Ty k;
    if (ty.rank == 1 && ty.d[0] != DIM_1)
        k = chance(g, 0.5) ? ty2(ty.dt, DIM_1, ty.d[0]) : ty2(ty.dt, ty.d[0], DIM_1);
    else if (ty.rank == 2 && (ty.d[0] == DIM_1) != (ty.d[1] == DIM_1))
        k = ty1(ty.dt, ty.d[0] == DIM_1 ? ty.d[1] : ty.d[0]);
    else if (ty.rank == 2 && ty.d[0] != DIM_1)
        k = chance(g, 0.7) ? ty2(ty.dt, ty.d[1], ty.d[0]) : ty;
    else
        return NULL;
    Node *a = gen(g, k, depth - 1, exact);
    StrBuf sb;
    sb_init(&sb);
    sb_puts(&sb, "reshape<");
    shape_text(&sb, ty);
    sb_puts(&sb, ">($0)");
    cover(g, FEAT_fn_reshape);
    Node *n = with(mk(ty, sb.data, a->exact, a->mag, a->err), a, NULL, NULL);
    sb_free(&sb);
    return n;
}

/* A gather: an input tensor read at coordinates from integer tiles (and
 * scalars) that broadcast to ty. Any coordinates will do: those outside the
 * tensor read 0 on every device. */
static Node *gen_gather(Gen *g, Ty ty, int depth)
{
    if (ty.rank == 0 || ty.dt == DT_BOOL)
        return NULL;
    int cand[24], nc = 0;
    for (int i = 0; i < g->p->nparams; i++)
        if (!g->p->params[i].out && !g->p->params[i].specials && g->p->params[i].rank && g->p->params[i].dt == ty.dt)
            cand[nc++] = i;
    if (!nc)
        return NULL;
    const Param *t = &g->p->params[cand[rnd(g, nc)]];
    Ty k[4];
    int first = t->rank == 4; /* at most three index expressions: [1, 2, M, N] gets 0 first */
    kid_tys(g, ty, k + first, t->rank - first);
    Node *n = mk(ty, "", true, load_mag(ty.dt), 0);
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb, "%s[", t->name);
    int kids = 0;
    for (int i = 0; i < t->rank; i++) {
        static const DType its[] = { DT_I32, DT_I32, DT_I32, DT_I64, DT_U32, DT_I8, DT_U8 };
        if (i)
            sb_puts(&sb, ", ");
        if (i < first || (k[i].rank == 0 && chance(g, 0.5))) { /* a point the generator writes itself */
            sb_printf(&sb, "%d", rnd(g, 3));
            continue;
        }
        Node *c = gen(g, with_dt(k[i], its[rnd(g, 7)]), depth - 1, true);
        n->kid[kids] = c;
        sb_printf(&sb, "$%d", kids++);
    }
    sb_puts(&sb, "]");
    n->nkids = kids;
    free(n->tmpl);
    n->tmpl = sb_take(&sb);
    cover(g, FEAT_fn_gather);
    return n;
}

/* A rank-2 shape with a 1 from a vector, with None indexing. */
static Node *gen_none_index(Gen *g, Ty ty, int depth, bool exact)
{
    if (ty.rank != 2 || (ty.d[0] == DIM_1) == (ty.d[1] == DIM_1))
        return NULL;
    bool col = ty.d[1] == DIM_1;
    Node *a = gen(g, ty1(ty.dt, col ? ty.d[0] : ty.d[1]), depth - 1, exact);
    cover(g, FEAT_op_index_none);
    return with(mk(ty, col ? "$0[:, None]" : "$0[None, :]", a->exact, a->mag, a->err), a, NULL, NULL);
}

/* A [1] or [1, 1] tile from a scalar: s[None], s[None, None]. */
static Node *gen_scalar_none(Gen *g, Ty ty, int depth, bool exact)
{
    if (ty.rank == 0 || ty.d[0] != DIM_1 || (ty.rank == 2 && ty.d[1] != DIM_1))
        return NULL;
    Node *a = gen(g, ty0(ty.dt), depth - 1, exact);
    cover(g, FEAT_op_index_none_scalar);
    return with(mk(ty, ty.rank == 1 ? "$0[None]" : "$0[None, None]", a->exact, a->mag, a->err), a, NULL, NULL);
}

/* full<T>[shape](v) of a run-time scalar v. */
static Node *gen_full(Gen *g, Ty ty, int depth, bool exact)
{
    if (ty.rank == 0)
        return NULL;
    Node *a = gen(g, ty0(ty.dt), depth - 1, exact);
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb, "full<%s>[", dt_text(g, ty.dt));
    shape_text(&sb, ty);
    sb_puts(&sb, "]($0)");
    cover(g, FEAT_fn_full_runtime);
    Node *n = with(mk(ty, sb.data, a->exact, a->mag, a->err), a, NULL, NULL);
    sb_free(&sb);
    return n;
}

/* A bool from comparisons (of exact numbers) or logic. */
static Node *gen_bool(Gen *g, Ty ty, int depth)
{
    if (ty.rank == 0 && chance(g, 0.1)) {
        cover(g, FEAT_scalar_bool_param);
        return mk(ty, "b", true, 1, 0);
    }
    int r = rnd(g, 4);
    if (r < 2) {
        DType dt = chance(g, 0.6) ? DT_I32 : rand_num_dtype(g);
        Ty k[2];
        kid_tys(g, with_dt(ty, dt), k, 2);
        Node *a = gen(g, k[0], depth - 1, true), *b = gen(g, k[1], depth - 1, true);
        static const char *const ops[] = { "($0 == $1)", "($0 != $1)", "($0 < $1)", "($0 <= $1)", "($0 > $1)", "($0 >= $1)" };
        static const Feature f[] = { FEAT_op_eq, FEAT_op_ne, FEAT_op_lt, FEAT_op_le, FEAT_op_gt, FEAT_op_ge };
        int op = rnd(g, 6);
        cover(g, f[op]);
        return with(mk(ty, ops[op], true, 1, 0), a, b, NULL);
    }
    if (r == 2) {
        Ty k[2];
        kid_tys(g, ty, k, 2);
        Node *a = gen(g, k[0], depth - 1, true), *b = gen(g, k[1], depth - 1, true);
        int op = rnd(g, 4);
        static const char *const ops[] = { "($0 && $1)", "($0 || $1)", "($0 == $1)", "($0 != $1)" };
        static const Feature f[] = { FEAT_op_and, FEAT_op_or, FEAT_op_eq, FEAT_op_ne };
        cover(g, f[op]);
        return with(mk(ty, ops[op], true, 1, 0), a, b, NULL);
    }
    Node *a = gen(g, ty, depth - 1, true);
    cover(g, FEAT_op_not);
    return with(mk(ty, "(!$0)", true, 1, 0), a, NULL, NULL);
}

/* An integer-only operation: cdiv. */
static Node *gen_cdiv(Gen *g, Ty ty, int depth)
{
    Ty k[2];
    kid_tys(g, ty, k, 2);
    Node *a = gen(g, k[0], depth - 1, true), *b = gen(g, k[1], depth - 1, true);
    cover(g, FEAT_fn_cdiv);
    return with(mk(ty, "cdiv($0, $1)", true, a->mag + 1, 0), a, b, NULL);
}

/* An fp8 value: what the language has for them (dsl/README.md section
 * 4.1): conversions, where, the moves of tiles, gathers; or a leaf. */
static Node *gen_fp8(Gen *g, Ty ty, int depth, bool exact)
{
    Node *n = NULL;
    switch (rnd(g, 8)) {
    case 0: case 1: case 2: n = gen_cast(g, ty, depth, exact); break;
    case 3: case 4: n = gen_where(g, ty, depth, exact); break;
    case 5: n = chance(g, 0.5) ? gen_transpose(g, ty, depth, exact) : gen_reshape(g, ty, depth, exact); break;
    case 6: n = chance(g, 0.5) ? gen_gather(g, ty, depth) : gen_full(g, ty, depth, exact); break;
    default: break;
    }
    return n ? n : gen_leaf(g, ty, exact);
}

typedef enum {
    P_ARITH, P_MINMAX, P_MATH, P_CAST, P_WHERE, P_SELECT, P_REDUCE, P_DOT, P_TRANSPOSE, P_FULL, P_BITS, P_RESHAPE,
    P_GATHER, P_ROUNDING, P_COUNT
} Prod;

static Node *gen(Gen *g, Ty ty, int depth, bool exact)
{
    /* Shapes with a 1 come from None indexing (or constants). */
    if (ty.rank == 2 && (ty.d[0] == DIM_1 || ty.d[1] == DIM_1)) {
        Node *n = depth > 0 && chance(g, 0.85) ? gen_none_index(g, ty, depth, exact) : NULL;
        if (!n && depth > 0 && chance(g, 0.5))
            n = chance(g, 0.5) ? gen_scalar_none(g, ty, depth, exact) : gen_full(g, ty, depth, exact);
        if (n && depth > 1 && ty.dt != DT_BOOL && !is_fp8(ty.dt) && chance(g, 0.2)) {
            /* broadcast against a scalar made a [1, 1] tile: max keeps exact values exact */
            Node *b = gen_scalar_none(g, ty2(ty.dt, DIM_1, DIM_1), depth - 1, exact);
            cover(g, FEAT_fn_max);
            n = with(mk(ty, "max($0, $1)", n->exact && b->exact, fmax(n->mag, b->mag), fmax(n->err, b->err)), n, b,
                     NULL);
        }
        return n ? n : gen_const(g, ty);
    }
    if (ty.rank == 1 && ty.d[0] == DIM_1 && depth > 0 && chance(g, 0.3))
        return gen_scalar_none(g, ty, depth, exact);
    if (depth <= 0 || chance(g, 0.2))
        return gen_leaf(g, ty, exact);
    if (ty.dt == DT_BOOL) {
        Node *n = chance(g, 0.85) ? gen_bool(g, ty, depth) : chance(g, 0.5) ? gen_cast(g, ty, depth, true) : NULL;
        if (!n && chance(g, 0.5))
            n = chance(g, 0.3) ? gen_bits(g, ty, depth) : gen_where(g, ty, depth, true);
        return n ? n : gen_leaf(g, ty, true);
    }
    if (is_fp8(ty.dt))
        return gen_fp8(g, ty, depth, exact);
    if (ty.rank < 2 && chance(g, 0.3)) {
        Node *n = gen_reduce(g, ty, depth, exact);
        if (n)
            return n;
    }
    for (int tries = 0; tries < 4; tries++) {
        Node *n = NULL;
        switch ((Prod)rnd(g, P_COUNT)) {
        case P_ARITH: n = gen_arith(g, ty, depth, exact); break;
        case P_MINMAX: n = gen_minmax_abs_neg(g, ty, depth, exact); break;
        case P_MATH: n = is_float(ty.dt) && !exact ? gen_math(g, ty, depth) : ty.dt == DT_I32 ? gen_cdiv(g, ty, depth) : NULL; break;
        case P_BITS: n = gen_bits(g, ty, depth); break;
        case P_RESHAPE: n = chance(g, 0.4) ? gen_reshape(g, ty, depth, exact) : NULL; break;
        case P_GATHER: n = chance(g, 0.4) ? gen_gather(g, ty, depth) : NULL; break;
        case P_ROUNDING: n = is_float(ty.dt) ? gen_rounding(g, ty, depth, exact) : NULL; break;
        case P_CAST: n = gen_cast(g, ty, depth, exact); break;
        case P_WHERE: n = gen_where(g, ty, depth, exact); break;
        case P_SELECT: n = chance(g, 0.5) ? gen_select(g, ty, depth, exact) : NULL; break;
        case P_REDUCE: n = gen_reduce(g, ty, depth, exact); break;
        case P_DOT: n = exact ? NULL : gen_dot(g, ty, depth); break;
        case P_TRANSPOSE: n = gen_transpose(g, ty, depth, exact); break;
        case P_FULL: n = chance(g, 0.3) ? gen_full(g, ty, depth, exact) : NULL; break;
        default: break;
        }
        if (n)
            return n;
    }
    return gen_leaf(g, ty, exact);
}

/* ---- statements ---------------------------------------------------------- */

static Stmt *st_new(StKind k, const char *head, Node *e)
{
    Stmt *s = tsr_xcalloc(1, sizeof *s);
    s->kind = k;
    s->head = tsr_xstrdup(head);
    s->e = e;
    s->out = -1;
    return s;
}

void stmt_free(Stmt *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->body.len; i++)
        stmt_free(s->body.data[i]);
    for (int i = 0; i < s->els.len; i++)
        stmt_free(s->els.data[i]);
    free(s->body.data);
    free(s->els.data);
    node_free(s->e);
    free(s->head);
    free(s);
}

static void push(StmtList *l, Stmt *s)
{
    if (l->len == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->data = tsr_xrealloc(l->data, (size_t)l->cap * sizeof *l->data);
    }
    l->data[l->len++] = s;
}

static Ty rand_value_ty(Gen *g)
{
    DType dt = chance(g, 0.1) ? DT_BOOL : rand_storage_dtype(g);
    switch (rnd(g, 8)) {
    case 0: return ty0(dt);
    case 1: return ty1(dt, rand_tile_dim(g));
    case 2: return ty2(dt, DIM_BM, DIM_BK);
    case 3: return ty2(dt, DIM_BK, DIM_BN);
    default: return ty2(dt, DIM_BM, DIM_BN);
    }
}

static Sym *declare(Gen *g, const char *prefix, Ty ty, const Node *e, bool mutable_)
{
    if (g->nsyms == (int)TSR_ARRAY_LEN(g->syms))
        return NULL;
    Sym *s = &g->syms[g->nsyms++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s%d", prefix, g->names++);
    s->ty = ty;
    s->exact = e->exact;
    s->mag = e->mag;
    s->err = e->err;
    s->mutable_ = mutable_;
    s->scope = g->scope;
    s->loop = g->loops;
    return s;
}

static void gen_block(Gen *g, StmtList *out, int n, int nest);

static void end_scope(Gen *g)
{
    while (g->nsyms && g->syms[g->nsyms - 1].scope >= g->scope)
        g->nsyms--;
    g->scope--;
}

/* let or var of a random type. */
static Stmt *gen_decl(Gen *g)
{
    bool var = chance(g, 0.4);
    if (!var && chance(g, 0.05)) { /* a dtype bound to a name, used in a cast */
        DType dt = rand_storage_dtype(g);
        char head[64];
        Sym *s = declare(g, "U", ty0(dt), &(Node){ .exact = true }, false);
        if (!s)
            return NULL;
        s->is_dtype = true;
        snprintf(head, sizeof head, "let %s = %s", s->name, dtype_name(dt));
        cover(g, FEAT_st_let_dtype);
        return st_new(ST_LET, head, NULL); /* gen_dtype_use writes the casts */
    }
    if (!var && chance(g, 0.05)) { /* an untyped constant, used in arithmetic */
        Sym *s = declare(g, "c", ty0(DT_F32), &(Node){ .exact = true, .mag = 1.5 }, false);
        if (!s)
            return NULL;
        s->is_const = true;
        char head[64];
        snprintf(head, sizeof head, "let %s = 1.5", s->name);
        cover(g, FEAT_st_let_untyped);
        return st_new(ST_LET, head, NULL);
    }
    Ty ty = rand_value_ty(g);
    Node *e;
    if (var && chance(g, 0.1)) { /* a constant takes its natural dtype: i32 or f32 */
        ty = ty0(chance(g, 0.5) ? DT_I32 : DT_F32);
        e = mk(ty, ty.dt == DT_I32 ? "0" : "0.0", true, 0, 0);
        cover(g, FEAT_st_var_natural);
    } else {
        e = gen(g, ty, 2 + rnd(g, 3), false);
    }
    cover_dtype(g, ty.dt);
    Sym *s = declare(g, var ? "v" : "x", ty, e, var);
    if (!s) {
        node_free(e);
        return NULL;
    }
    char head[64];
    snprintf(head, sizeof head, "%s %s = ", var ? "var" : "let", s->name);
    cover(g, var ? FEAT_st_var : FEAT_st_let);
    return st_new(var ? ST_VAR : ST_LET, head, e);
}

/* A use of a dtype name: `let y = U(x);`. */
static Stmt *gen_dtype_use(Gen *g)
{
    for (int i = g->nsyms - 1; i >= 0; i--) {
        Sym *u = &g->syms[i];
        if (!u->is_dtype || u->hidden)
            continue;
        Ty ty = rand_value_ty(g);
        if (ty.dt == DT_BOOL)
            ty.dt = DT_F32;
        DType to = u->ty.dt;
        Ty from = ty;
        Node *a = gen(g, from, 2, is_int(to));
        if (!cast_fits(a, to, false)) {
            node_free(a);
            return NULL;
        }
        char tmpl[32];
        snprintf(tmpl, sizeof tmpl, "%s($0)", u->name);
        Ty rt = ty;
        rt.dt = to;
        double mag = cast_mag(a, to);
        Node *e = with(mk(rt, tmpl, a->exact, mag, a->err + cast_err(to, mag)), a, NULL, NULL);
        Sym *s = declare(g, "x", rt, e, false);
        if (!s) {
            node_free(e);
            return NULL;
        }
        char head[64];
        snprintf(head, sizeof head, "let %s = ", s->name);
        cover(g, FEAT_st_let);
        return st_new(ST_LET, head, e);
    }
    return NULL;
}

/* An assignment to a var declared in this loop iteration (or outside any
 * loop): its new value may use anything, itself included. */
static Stmt *gen_assign(Gen *g)
{
    int cand[96], nc = 0;
    for (int i = 0; i < g->nsyms; i++)
        if (g->syms[i].mutable_ && !g->syms[i].hidden && g->syms[i].loop == g->loops)
            cand[nc++] = i;
    if (!nc)
        return NULL;
    Sym *s = &g->syms[cand[rnd(g, nc)]];
    Ty vt = s->ty;
    Node *e = gen(g, bcast_kid(g, vt), 2 + rnd(g, 2), false);
    s->exact = e->exact;
    s->mag = e->mag;
    s->err = e->err;
    char head[64];
    snprintf(head, sizeof head, "%s = ", s->name);
    cover(g, FEAT_st_assign);
    return st_new(ST_ASSIGN, head, e);
}

/* Accumulations at the end of a loop body into vars declared outside the
 * loop, which the body does not otherwise see (so their bounds are known):
 * `v = v + e`, `v = max(v, e)`. */
static void gen_accumulate(Gen *g, StmtList *body, int *accs, int nacc)
{
    for (int i = 0; i < nacc; i++) {
        Sym *s = &g->syms[accs[i]];
        bool add = s->ty.dt != DT_BOOL && chance(g, 0.6);
        if (s->ty.dt == DT_BOOL || is_fp8(s->ty.dt)) /* no + or max of fp8 */
            continue;
        Node *e = gen(g, bcast_kid(g, s->ty), 2 + rnd(g, 2), false);
        double mag = add ? s->mag + g->trips * e->mag : maxd(s->mag, e->mag);
        if (mag > mag_cap(s->ty.dt)) {
            if (!is_int(s->ty.dt)) {
                node_free(e);
                continue;
            }
            mag = mag_cap(s->ty.dt);
        }
        char tmpl[64], head[32];
        snprintf(head, sizeof head, "%s = ", s->name);
        snprintf(tmpl, sizeof tmpl, add ? "%s + $0" : "max(%s, $0)", s->name);
        double err = add ? s->err + g->trips * (e->err + unit(s->ty.dt) * mag) : maxd(s->err, e->err);
        bool exact = s->exact && e->exact && (!add || is_int(s->ty.dt));
        Node *v = with(mk(s->ty, tmpl, exact, mag, err), e, NULL, NULL);
        s->mag = mag;
        s->err = v->err;
        s->exact = exact;
        cover(g, add ? FEAT_op_add : FEAT_fn_max);
        cover(g, FEAT_st_assign);
        push(body, st_new(ST_ASSIGN, head, v));
    }
}

static Stmt *gen_for(Gen *g, int nest)
{
    char head[96];
    int trips;
    bool kloop = !g->in_k && chance(g, 0.6);
    if (kloop) {
        int pipe = chance(g, 0.6);
        snprintf(head, sizeof head, "for k in 0 .. K step BK%s", pipe ? " pipeline(P)" : "");
        trips = (g->p->sizes[2] + g->p->bk - 1) / g->p->bk;
        cover(g, FEAT_st_for_step);
        if (pipe)
            cover(g, FEAT_st_pipeline);
    } else {
        if (g->nivars == 4)
            return NULL;
        const char *v = (const char *[]){ "i", "j", "q", "r" }[g->nivars];
        int r = rnd(g, 4);
        if (r == 0) {
            snprintf(head, sizeof head, "for %s in 0 .. t", v);
            trips = 10;
            cover(g, FEAT_st_for_runtime_bound);
        } else if (r == 3) { /* a step known at run time, 0 (no iteration) included */
            static const char *const steps[] = { "t", "(t + 1)", "num_programs(0)", "su8" };
            snprintf(head, sizeof head, "for %s in 0 .. 5 step %s", v, steps[rnd(g, 4)]);
            trips = 5;
            cover(g, FEAT_st_for_runtime_step);
        } else if (r == 1) {
            snprintf(head, sizeof head, "for %s in -1 .. 4 step 2", v);
            trips = 3;
            cover(g, FEAT_st_for_step);
        } else {
            snprintf(head, sizeof head, "for %s in 0 .. 3", v);
            trips = 3;
        }
    }
    cover(g, FEAT_st_for);
    /* Pick the vars this loop accumulates into and hide them from the body. */
    int accs[3], nacc = 0;
    for (int i = 0; i < g->nsyms && nacc < 3; i++)
        if (g->syms[i].mutable_ && !g->syms[i].hidden && g->syms[i].loop == g->loops && chance(g, 0.5)) {
            accs[nacc++] = i;
            g->syms[i].hidden = true;
        }
    Stmt *st = st_new(ST_FOR, head, NULL);
    int saved_trips = g->trips;
    bool saved_pipe = g->in_pipe, saved_inner = g->inner_pipe, pipelined = strstr(head, "pipeline") != NULL;
    g->in_pipe |= pipelined;
    g->inner_pipe = pipelined;
    g->trips *= trips;
    g->loops++;
    g->scope++;
    if (kloop)
        g->in_k = true;
    else
        snprintf(g->ivar[g->nivars++], sizeof g->ivar[0], "%c", head[4]);
    gen_block(g, &st->body, 1 + rnd(g, 3), nest + 1);
    gen_accumulate(g, &st->body, accs, nacc);
    g->in_pipe = saved_pipe;
    g->inner_pipe = saved_inner;
    for (int i = 0; i < nacc; i++)
        g->syms[accs[i]].hidden = false;
    if (kloop)
        g->in_k = false;
    else
        g->nivars--;
    g->loops--;
    end_scope(g);
    g->trips = saved_trips;
    return st;
}

/* Var bounds before a branch, to merge those of both branches after. */
typedef struct {
    bool exact;
    double mag, err;
} Bound;

static void save_bounds(const Gen *g, Bound *b)
{
    for (int i = 0; i < g->nsyms; i++)
        b[i] = (Bound){ g->syms[i].exact, g->syms[i].mag, g->syms[i].err };
}

static void merge_bounds(Gen *g, const Bound *before, Bound *acc, int n)
{
    for (int i = 0; i < n; i++) {
        Sym *s = &g->syms[i];
        acc[i].exact = acc[i].exact && s->exact;
        acc[i].mag = maxd(acc[i].mag, s->mag);
        acc[i].err = maxd(acc[i].err, s->err);
        s->exact = before[i].exact;
        s->mag = before[i].mag;
        s->err = before[i].err;
    }
}

static Stmt *gen_if(Gen *g, int nest)
{
    Stmt *st;
    if (chance(g, 0.25)) {
        static const char *const conds[] = { "if BM >= 16 ", "if BN < BK ", "if W == 4 && BK > 2 ", "if B ",
                                             "if !B || F > 1.0 " };
        int c = rnd(g, 5);
        st = st_new(ST_IF, conds[c], NULL);
        if (c >= 3)
            cover(g, FEAT_cparam_bool);
        cover(g, FEAT_st_if_compiletime);
    } else {
        st = st_new(ST_IF, "if ", gen(g, ty0(DT_BOOL), 3, true));
        cover(g, FEAT_st_if_runtime);
    }
    int n = g->nsyms;
    Bound before[96], acc[96];
    save_bounds(g, before);
    save_bounds(g, acc);
    g->scope++;
    gen_block(g, &st->body, 1 + rnd(g, 3), nest + 1);
    end_scope(g);
    merge_bounds(g, before, acc, n);
    if (chance(g, 0.6)) {
        g->scope++;
        if (chance(g, 0.3) && nest < 3) {
            push(&st->els, gen_if(g, nest + 1));
            cover(g, FEAT_st_else_if);
        } else {
            gen_block(g, &st->els, 1 + rnd(g, 2), nest + 1);
            cover(g, FEAT_st_if_else);
        }
        end_scope(g);
        merge_bounds(g, before, acc, n);
    }
    for (int i = 0; i < n; i++) {
        g->syms[i].exact = acc[i].exact;
        g->syms[i].mag = acc[i].mag;
        g->syms[i].err = acc[i].err;
    }
    return st;
}

/* `var W = 0; while W < 3 [&& COND] { W = W + 1; BODY }`, printed whole
 * from an ST_WHILE (so the reducer cannot separate the counter from its
 * loop); the body does not see the counter. */
static Stmt *gen_while(Gen *g, int nest)
{
    char name[16];
    snprintf(name, sizeof name, "w%d", g->names++);
    Stmt *st = st_new(ST_WHILE, name, chance(g, 0.4) ? gen(g, ty0(DT_BOOL), 2, true) : NULL);
    int accs[3], nacc = 0;
    for (int i = 0; i < g->nsyms && nacc < 3; i++)
        if (g->syms[i].mutable_ && !g->syms[i].hidden && g->syms[i].loop == g->loops && chance(g, 0.5)) {
            accs[nacc++] = i;
            g->syms[i].hidden = true;
        }
    int saved_trips = g->trips;
    bool saved_inner = g->inner_pipe;
    g->inner_pipe = false;
    g->trips *= 3;
    g->loops++;
    g->scope++;
    gen_block(g, &st->body, 1 + rnd(g, 3), nest + 1);
    gen_accumulate(g, &st->body, accs, nacc);
    for (int i = 0; i < nacc; i++)
        g->syms[accs[i]].hidden = false;
    g->loops--;
    end_scope(g);
    g->trips = saved_trips;
    g->inner_pipe = saved_inner;
    cover(g, FEAT_st_while);
    return st;
}

/* `if COND { break; }` (or continue, or return) where the language allows
 * it: break and continue in a loop, return anywhere but in a pipelined
 * loop, break not in a pipelined loop itself. */
static Stmt *gen_jump(Gen *g)
{
    int r = rnd(g, 3);
    if (r < 2 && !g->loops)
        r = 2;
    if ((r == 0 && g->inner_pipe) || (r == 2 && g->in_pipe))
        return NULL;
    static const char *const words[] = { "break", "continue", "return" };
    static const Feature f[] = { FEAT_st_break, FEAT_st_continue, FEAT_st_return };
    Stmt *st = st_new(ST_IF, "if ", gen(g, ty0(DT_BOOL), 2, true));
    push(&st->body, st_new(ST_JUMP, words[r], NULL));
    cover(g, f[r]);
    cover(g, FEAT_st_if_runtime);
    return st;
}

/* An exact value in scope to print or check: a scalar, or a small tile. */
static const Sym *pick_sym(Gen *g, bool exact, bool small)
{
    int cand[96], nc = 0;
    for (int i = 0; i < g->nsyms; i++) {
        const Sym *s = &g->syms[i];
        int n = s->ty.rank ? dim_value(g, s->ty.d[0]) * (s->ty.rank > 1 ? dim_value(g, s->ty.d[1]) : 1) : 1;
        if (!s->hidden && !s->is_dtype && !s->is_const && (!exact || s->exact) && (!small || n <= 8))
            cand[nc++] = i;
    }
    return nc ? &g->syms[cand[rnd(g, nc)]] : NULL;
}

/* device_print of exact values, by program (0, 0, 0) only, once. */
static Stmt *gen_print(Gen *g)
{
    if (g->no_print)
        return NULL;
    const Sym *a = pick_sym(g, true, true), *b = pick_sym(g, true, true);
    if (!a)
        return NULL;
    char buf[96];
    if (b && b != a && (!a->ty.rank || !b->ty.rank || ty_eq(with_dt(a->ty, DT_BOOL), with_dt(b->ty, DT_BOOL))))
        snprintf(buf, sizeof buf, "device_print(\"%s %s\", %s, %s)", a->name, b->name, a->name, b->name);
    else
        snprintf(buf, sizeof buf, "device_print(\"%s%%\", %s)", a->name, a->name);
    Stmt *st = st_new(ST_IF, "if ", mk(ty0(DT_BOOL), "program_id(0) + program_id(1) + program_id(2) == 0", true, 1, 0));
    push(&st->body, st_new(ST_CALL, "", mk(ty0(DT_BOOL), buf, true, 0, 0)));
    g->no_print = true;
    cover(g, FEAT_st_device_print);
    return st;
}

/* device_assert of what the generator knows of a value: its magnitude
 * bound (for floats with room for the drift), which must hold on every
 * device. */
static Stmt *gen_assert(Gen *g)
{
    const Sym *a = pick_sym(g, false, false);
    if (!a || a->ty.dt == DT_BOOL || a->ty.dt == DT_I64 || a->mag > 1e15)
        return NULL;
    char buf[160];
    if (is_int(a->ty.dt))
        snprintf(buf, sizeof buf, "device_assert(abs(i64(%s)) <= %.0f, \"%s is within %.0f\")", a->name, floor(a->mag),
                 a->name, floor(a->mag));
    else
        snprintf(buf, sizeof buf, "device_assert(!(abs(f32(%s)) > %.9g), \"%s is within its bound\")", a->name,
                 1.01 * a->mag + 4 * a->err + 1e-3, a->name);
    cover(g, FEAT_st_device_assert);
    return st_new(ST_CALL, "", mk(ty0(DT_BOOL), buf, true, 0, 0));
}

/* The programs of the grid (at most), for how many updates an atomic
 * output's elements may get. */
static double grid_programs(const Program *p)
{
    return (double)((p->sizes[0] + p->bm - 1) / p->bm) * ((p->sizes[1] + p->bn - 1) / p->bn) * (p->grid3 ? p->sizes[3] : 1);
}

static Param *param(Program *p, const char *name);

/* An atomic update of the output A0 (zeroed before the launch): of the
 * program's slice, which the programs along grid axes 1 and 2 share, or at
 * coordinates from an integer tile (repeats included), optionally masked.
 * Float sums depend on the order of the updates: the tolerance allows each
 * of the updates a rounding of the whole sum. */
static Stmt *gen_atomic(Gen *g)
{
    Param *o = param(g->p, "A0");
    if (!o)
        return NULL;
    DType dt = o->dt;
    int kind = rnd(g, 3); /* add, max, min */
    if (kind && dt == DT_F16)
        kind = 0;
    Ty ty = o->rank == 1 ? ty1(dt, DIM_BM) : ty2(dt, DIM_BM, DIM_BN);
    bool indexed = chance(g, 0.3);
    double updates = g->trips * (o->rank == 1 ? grid_programs(g->p) / ((g->p->sizes[0] + g->p->bm - 1) / g->p->bm)
                                              : (g->p->grid3 ? g->p->sizes[3] : 1));
    StrBuf sb;
    sb_init(&sb);
    static const char *const names[] = { "atomic_add", "atomic_max", "atomic_min" };
    sb_printf(&sb, "%s(A0[", names[kind]);
    Node *idx = NULL;
    if (indexed) {
        idx = gen(g, with_dt(ty, DT_I32), 2, true);
        updates = g->trips * grid_programs(g->p) * dim_value(g, ty.d[0]) * (ty.rank > 1 ? dim_value(g, ty.d[1]) : 1);
        if (o->rank == 1)
            sb_puts(&sb, "$2");
        else
            sb_puts(&sb, "$2, arange<BN>(n0)[None, :]");
        cover(g, FEAT_st_atomic_indexed);
    } else {
        sb_puts(&sb, o->rank == 1 ? "m0 : +BM" : "m0 : +BM, n0 : +BN");
    }
    sb_puts(&sb, "], $0");
    Node *v = gen(g, bcast_kid(g, ty), 2 + rnd(g, 2), false), *mask = NULL;
    double total = kind ? v->mag : updates * v->mag;
    if (is_float(dt) && total > mag_cap(dt)) {
        node_free(v);
        node_free(idx);
        sb_free(&sb);
        return NULL;
    }
    if (chance(g, 0.3)) {
        mask = gen(g, with_dt(bcast_kid(g, ty), DT_BOOL), 2, true);
        sb_puts(&sb, ", $1");
        cover(g, FEAT_st_atomic_masked);
    }
    sb_puts(&sb, ")");
    double err = kind ? v->err : updates * v->err + updates * unit(dt) * total;
    double tol = 4 * (err + 2 * unit(dt) * total);
    if (tol > o->tol)
        o->tol = tol;
    /* $0 the value, $1 the mask, $2 the index tile: each a slot the reducer
     * can simplify (an unused one holds a leaf that is never printed). */
    Node *n = mk(ty0(DT_BOOL), sb.data, true, 0, 0);
    sb_free(&sb);
    n->kid[0] = v;
    n->kid[1] = mask ? mask : node_leaf(ty0(DT_BOOL));
    n->kid[2] = idx ? idx : node_leaf(ty0(DT_I32));
    n->nkids = 3;
    cover(g, kind == 0 ? FEAT_st_atomic_add : kind == 1 ? FEAT_st_atomic_max : FEAT_st_atomic_min);
    if (kind == 0 && is_float(dt))
        cover(g, FEAT_st_atomic_add_float);
    return st_new(ST_CALL, "", n);
}

static void gen_block(Gen *g, StmtList *out, int n, int nest)
{
    for (int i = 0; i < n; i++) {
        Stmt *s = NULL;
        int r = rnd(g, 10);
        if (nest < 3 && r == 0)
            s = gen_for(g, nest);
        else if (nest < 3 && r == 1)
            s = gen_if(g, nest);
        else if (nest < 3 && r == 2 && chance(g, 0.3)) {
            s = st_new(ST_BLOCK, "", NULL);
            g->scope++;
            gen_block(g, &s->body, 1 + rnd(g, 2), nest + 1);
            end_scope(g);
            cover(g, FEAT_st_block);
        } else if (nest < 3 && r == 2 && chance(g, 0.2)) {
            s = gen_while(g, nest);
        } else if (r == 3 && chance(g, g->loops ? 0.3 : 0.1)) {
            s = gen_jump(g);
        } else if (r == 3 && chance(g, 0.3)) {
            s = gen_atomic(g);
        } else if (r == 4 && chance(g, 0.05)) {
            s = gen_print(g);
        } else if (r == 4 && chance(g, 0.1)) {
            s = gen_assert(g);
        } else if (r < 5)
            s = gen_assign(g);
        else if (r == 5)
            s = gen_dtype_use(g);
        if (!s)
            s = gen_decl(g);
        if (s)
            push(out, s);
    }
}

/* ---- the program --------------------------------------------------------- */

static Param *add_param(Program *p, const char *name, DType dt, const char *const dims[4], bool out)
{
    Param *t = &p->params[p->nparams++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dt = dt;
    for (int i = 0; i < 4 && dims && dims[i]; i++)
        snprintf(t->dims[t->rank++], sizeof t->dims[0], "%s", dims[i]);
    t->out = out;
    return t;
}

static int pow2_upto(Gen *g, int lo_log, int hi_log) { return 1 << (lo_log + rnd(g, hi_log - lo_log + 1)); }

static void pick_sizes(Gen *g, Program *p)
{
    p->warps = 1 << (chance(g, 0.05) ? 4 : rnd(g, 4));
    do {
        /* half the time sizes the tensor cores take */
        p->bm = chance(g, 0.5) ? pow2_upto(g, 4, 6) : pow2_upto(g, 0, 6);
        p->bn = chance(g, 0.5) ? pow2_upto(g, 3, 6) : pow2_upto(g, 0, 6);
        p->bk = chance(g, 0.5) ? pow2_upto(g, 4, 6) : pow2_upto(g, 0, 6);
    } while (p->bm * p->bn > 2048 || p->bm * p->bk > 2048 || p->bk * p->bn > 2048 || p->bm * p->bn < 4);
    p->depth = 1 + rnd(g, 4);
    for (int i = 0; i < 3; i++)
        p->sizes[i] = 1 + rnd(g, chance(g, 0.5) ? 40 : 130);
    p->sizes[3] = 1 + rnd(g, 3);
    p->fscalar = (rnd(g, 9) - 4) * 0.25;
    p->iscalar = rnd(g, 5);
    p->bscalar = rnd(g, 2);
    p->cfloat = 0.5 * (1 + rnd(g, 4));
    p->cbool = chance(g, 0.5);
    p->grid3 = chance(g, 0.2);
    p->via_defines = chance(g, 0.5);
    static const DType tps[] = { DT_F16, DT_BF16, DT_F32, DT_I32 };
    p->type_param = tps[rnd(g, 4)];
}

static void pick_params(Gen *g, Program *p)
{
    /* [2, M, N] and [1, 2, M, N] have constant dims read by points, [BM, N]
     * one read whole with `:`. */
    static const char *const shapes[][4] = { { "M", "N" }, { "N", "M" },      { "M", "K" },
                                             { "K", "N" }, { "M" },           { "N" },
                                             { "K" },      { "2", "M", "N" }, { "BM", "N" },
                                             { "1", "2", "M", "N" }, { "L", "M", "N" } };
    int nin = 2 + rnd(g, 4);
    for (int i = 0; i < nin; i++) {
        char name[16];
        snprintf(name, sizeof name, "X%d", i);
        int sh = i == 0 ? 0 : i == 1 ? (int[]){ 2, 3, 6 }[rnd(g, 3)] : rnd(g, p->grid3 ? 11 : 10); /* M, N and K all declared */
        add_param(p, name, rand_storage_dtype(g), shapes[sh], false);
    }
    /* With a third grid axis, each output has a leading L dim indexed by
     * program_id(2). */
    const char *z = p->grid3 ? "L" : NULL;
    add_param(p, "O0", rand_storage_dtype(g), z ? (const char *const[]){ z, "M", "N", NULL } : (const char *const[]){ "M", "N", NULL, NULL }, true);
    if (chance(g, 0.4))
        add_param(p, "O1", rand_storage_dtype(g), z ? (const char *const[]){ z, "N", "M", NULL } : (const char *const[]){ "N", "M", NULL, NULL }, true);
    if (chance(g, 0.4))
        add_param(p, "O2", rand_storage_dtype(g), (const char *const[]){ z ? z : "M", z ? "M" : NULL, NULL, NULL }, true);
    if (chance(g, 0.3))
        add_param(p, "O3", rand_storage_dtype(g), z ? (const char *const[]){ z, "G0", "G1", NULL } : (const char *const[]){ "G0", "G1", NULL, NULL }, true);
    if (chance(g, 0.35)) { /* updated by atomics from many programs, zeroed before the launch */
        static const DType adts[] = { DT_F32, DT_F32, DT_I32, DT_U32, DT_I64, DT_F16 };
        Param *a = add_param(p, "A0", adts[rnd(g, 6)], chance(g, 0.5) ? (const char *const[]){ "M", NULL, NULL, NULL } : (const char *const[]){ "M", "N", NULL, NULL }, true);
        a->zeroed = true;
    }
    add_param(p, "s", DT_F32, NULL, false)->value = p->fscalar;
    add_param(p, "t", DT_I32, NULL, false)->value = p->iscalar;
    add_param(p, "b", DT_BOOL, NULL, false)->value = p->bscalar;
    /* Scalars of the other integer dtypes, some beyond the i32 range. */
    add_param(p, "s8", DT_I8, NULL, false)->value = rnd(g, 256) - 128;
    add_param(p, "su8", DT_U8, NULL, false)->value = rnd(g, 256);
    add_param(p, "su", DT_U32, NULL, false)->value = chance(g, 0.5) ? rnd(g, 40) : 4294967295.0 - rnd(g, 1000000);
    add_param(p, "sl", DT_I64, NULL, false)->value = (chance(g, 0.5) ? 1 : -1) * (chance(g, 0.5) ? rnd(g, 40) : 5e12 + rnd(g, 1000));
}

static Param *param(Program *p, const char *name)
{
    for (int i = 0; i < p->nparams; i++)
        if (!strcmp(p->params[i].name, name))
            return &p->params[i];
    return NULL;
}

/* A store of a generated value into output `name`; records its tolerance.
 * slice is the store's target as slices ("m0 : +BM, n0 : +BN"), scatter the
 * same elements as index tiles (rows in reverse order, so no two elements,
 * of one program or of two, share coordinates), or NULL. Sometimes the
 * store is masked, or a scatter. */
static Stmt *gen_store(Gen *g, const char *name, const char *slice, const char *scatter, Ty ty)
{
    Param *o = param(g->p, name);
    ty.dt = o->dt;
    Ty vt = ty;
    if (ty.rank == 2 && chance(g, 0.15)) {
        vt = bcast_kid(g, ty);
        if (!ty_eq(vt, ty))
            cover(g, FEAT_st_store_broadcast);
    }
    Node *e = gen(g, vt, 3 + rnd(g, 3), false);
    /* An fp8 value that is the same bits everywhere is compared exactly. */
    double tol = is_fp8(o->dt) && e->exact ? 0 : 4 * (e->err + 2 * cast_err(o->dt, e->mag));
    if (tol > o->tol)
        o->tol = tol;
    bool scat = scatter && chance(g, 0.2);
    char head[256];
    snprintf(head, sizeof head, "%s[%s%s] = ", name, g->p->grid3 ? "program_id(2), " : "", scat ? scatter : slice);
    if (scat)
        cover(g, FEAT_st_scatter);
    if (ty.rank && chance(g, 0.2)) { /* masked: the others keep the poison, on every device */
        Node *m = gen(g, with_dt(bcast_kid(g, ty), DT_BOOL), 2, true);
        e = with(mk(vt, "$0 if $1", e->exact, e->mag, e->err), e, m, NULL);
        cover(g, FEAT_st_store_masked);
    }
    Stmt *s = st_new(ST_STORE, head, e);
    s->out = (int)(o - g->p->params);
    cover_dtype(g, o->dt);
    return s;
}

/* The accumulation of a GEMM at the start of the body, the first
 * pipelined loop of the top block with tiles of padded (16-byte aligned)
 * tensors: on sm_90a its copies go by TMA and, on whole warpgroups, a
 * producer warpgroup issues them (warp specialization). Its result is a var
 * the rest of the program may read (not assign) and which is stored into
 * OG at the end. */
static Sym *gen_gemm(Gen *g, StmtList *body)
{
    Sym *s = declare(g, "acc", ty2(DT_F32, DIM_BM, DIM_BN),
                     &(Node){ .exact = false, .mag = 4.0 * g->p->sizes[2],
                              .err = 4.0 * g->p->sizes[2] * g->p->sizes[2] * unit(DT_F32) * 4 },
                     true);
    char head[64];
    snprintf(head, sizeof head, "var %s = ", s->name);
    push(body, st_new(ST_VAR, head, mk(s->ty, "zeros<f32>[BM, BN]", true, 0, 0)));
    /* the loop's options (rotation, pingpong turns) never change a result */
    static const char *const options[] = { "", ", overlap = false", ", pingpong = false",
                                            ", pingpong = true, overlap = true" };
    int opt = rnd(g, 4);
    if (opt)
        cover(g, FEAT_st_pipeline_options);
    char loop_head[96];
    snprintf(loop_head, sizeof loop_head, "for k in 0 .. K step BK pipeline(P%s)", options[opt]);
    Stmt *loop = st_new(ST_FOR, loop_head, NULL);
    snprintf(head, sizeof head, "%s = ", s->name);
    char tmpl[128];
    snprintf(tmpl, sizeof tmpl, "%s + dot(%s, %s)", s->name,
             g->p->gemm_at ? "transpose(XA[k : +BK, m0 : +BM])" : "XA[m0 : +BM, k : +BK]", g->p->gemm_bt ? "transpose(XB[n0 : +BN, k : +BK])" : "XB[k : +BK, n0 : +BN]");
    push(&loop->body, st_new(ST_ASSIGN, head, mk(s->ty, tmpl, false, s->mag, s->err)));
    push(body, loop);
    s->mutable_ = false;
    if (chance(g, 0.3)) { /* more in the loop: other copies (by TMA only when padded too), stores, atomics */
        int saved_trips = g->trips;
        g->trips *= (g->p->sizes[2] + g->p->bk - 1) / g->p->bk;
        g->loops++;
        g->scope++;
        g->in_k = g->in_pipe = g->inner_pipe = true;
        gen_block(g, &loop->body, 1 + rnd(g, 2), 1);
        g->in_k = g->in_pipe = g->inner_pipe = false;
        g->loops--;
        end_scope(g);
        g->trips = saved_trips;
    }
    cover(g, FEAT_gemm_tma);
    cover(g, FEAT_st_pipeline);
    cover(g, FEAT_fn_dot_tc);
    return s;
}

/* An fp8 input of every code (XN, check.c) converted to a dtype and stored
 * into ON: NaN, infinities, the largest values and signed zeros through
 * the conversions of dsl/README.md section 10.3, compared exactly (a NaN
 * matches a NaN). Declares both tensors; the store goes at the end. */
static Stmt *gen_specials(Gen *g, Program *p)
{
    DType from = chance(g, 0.5) ? DT_E4M3 : DT_E5M2;
    /* to == from: a plain copy, which keeps every code, NaNs included
     * (tests/programs/diffgen/fp8_nan_copy.tsr) */
    static const DType tos[] = { DT_E4M3, DT_E5M2, DT_F32, DT_F16, DT_BF16 };
    DType to = tos[rnd(g, 5)];
    const char *z = p->grid3 ? "L" : NULL;
    add_param(p, "XN", from, (const char *const[]){ "M", "N", NULL, NULL }, false)->specials = true;
    Param *o = add_param(p, "ON", to, z ? (const char *const[]){ z, "M", "N", NULL } : (const char *const[]){ "M", "N", NULL, NULL }, true);
    char head[96], tmpl[64];
    snprintf(head, sizeof head, "ON[%sm0 : +BM, n0 : +BN] = ", z ? "program_id(2), " : "");
    if (to == from)
        snprintf(tmpl, sizeof tmpl, "XN[m0 : +BM, n0 : +BN]");
    else
        snprintf(tmpl, sizeof tmpl, "%s(XN[m0 : +BM, n0 : +BN])", dtype_name(to));
    cover_cast(g, to);
    cover(g, FEAT_fp8_specials);
    cover(g, FEAT_load_tile);
    Stmt *s = st_new(ST_STORE, head, mk(ty2(to, DIM_BM, DIM_BN), tmpl, true, 0, 0));
    s->out = (int)(o - p->params);
    return s; /* o->tol stays 0: exact */
}

#define ASSERT_MESSAGE "program (0, 0) stops here"

static const char *const layout_names[MEM_COUNT] = { "dense", "padded", "swapped", "broadcast" };

/* How each tensor lies in memory: mostly dense; padded rows, swapped
 * leading dims and broadcast rows for inputs; padded rows for outputs. */
static void pick_layouts(Gen *g, Program *p)
{
    for (int i = 0; i < p->nparams; i++) {
        Param *t = &p->params[i];
        if (!t->rank || t->layout != MEM_DENSE)
            continue;
        int r = rnd(g, 10);
        if (r < 2 && t->rank >= 2)
            t->layout = MEM_PADDED;
        else if (r == 2 && t->rank >= 3 && !t->out)
            t->layout = MEM_SWAPPED;
        else if (r == 3 && t->rank >= 2 && !t->out)
            t->layout = MEM_BROADCAST;
        static const Feature f[MEM_COUNT] = { 0, FEAT_tensor_padded, FEAT_tensor_swapped, FEAT_tensor_broadcast };
        if (t->layout != MEM_DENSE)
            cover(g, t->out ? FEAT_output_padded : f[t->layout]);
    }
}

Program *gen_program(uint64_t seed, uint64_t coverage[FEAT_COUNT])
{
    Program *p = tsr_xcalloc(1, sizeof *p);
    Gen g = { 0 };
    rng_seed(&g.rng, seed);
    g.p = p;
    g.cov = coverage;
    g.trips = 1;
    p->seed = seed;
    g.fp8 = chance(&g, 0.2);
    pick_sizes(&g, p);
    bool gemm = chance(&g, 0.25);
    if (gemm) { /* tensor-core tiles on whole warpgroups */
        p->bm = 64;
        p->bn = 8 << rnd(&g, 3);
        p->bk = 16 << rnd(&g, 3);
        p->warps = 4 << rnd(&g, 2);
        p->depth = 2 + rnd(&g, 3);
    }
    pick_params(&g, p);
    if (gemm) {
        DType dt = chance(&g, 0.5) ? DT_F16 : DT_BF16, dtb = dt;
        /* fp8 operands: k-steps of 32 (mma.sync's k32 on sm_89). On sm_90a
         * the dot runs on wgmma m64nNk32 when the warps form whole
         * warpgroups along M (so BM 128 for 8 warps), else on the CUDA
         * cores, whose limit (dsl/README.md section 12) BK = 64 with
         * BN >= 16 on 4 warps passes. */
        if (g.fp8 && p->bk >= 32 && chance(&g, 0.5)) {
            if (chance(&g, 0.6))
                p->bm = 128;
            bool wgmma = fp8_wgmma_fits(p, p->bm, p->bn, p->bk);
            if (wgmma || p->bk == 32 || p->bn == 8 || p->warps >= 8) {
                dt = chance(&g, 0.5) ? DT_E4M3 : DT_E5M2;
                dtb = chance(&g, 0.3) ? (dt == DT_E4M3 ? DT_E5M2 : DT_E4M3) : dt;
                cover(&g, FEAT_fn_dot_fp8);
                if (wgmma)
                    cover(&g, FEAT_dot_fp8_wgmma);
                p->gemm_at = chance(&g, 0.3); /* A as [K, M], M-major: from registers on wgmma */
            } else
                p->bm = 64;
        }
        add_param(p, "XA", dt, p->gemm_at ? (const char *const[]){ "K", "M", NULL, NULL } : (const char *const[]){ "M", "K", NULL, NULL }, false)->layout = MEM_PADDED;
        p->gemm_bt = chance(&g, 0.3); /* B as [N, K], K-major */
        add_param(p, "XB", dtb, p->gemm_bt ? (const char *const[]){ "N", "K", NULL, NULL } : (const char *const[]){ "K", "N", NULL, NULL }, false)->layout = MEM_PADDED;
        add_param(p, "OG", DT_F32, p->grid3 ? (const char *const[]){ "L", "M", "N", NULL } : (const char *const[]){ "M", "N", NULL, NULL }, true);
    }
    Stmt *specials = g.fp8 && chance(&g, 0.4) ? gen_specials(&g, p) : NULL;
    pick_layouts(&g, p);
    for (int i = 0; i < p->nparams; i++)
        if (!p->params[i].out && p->params[i].rank && p->params[i].dt == p->type_param)
            cover(&g, FEAT_type_param);
    if (p->grid3)
        cover(&g, FEAT_grid_3d);
    if (!gemm && chance(&g, 0.15)) { /* resource clauses (sm_90a then does not specialize warps) */
        int r = rnd(&g, 3);
        if (r != 1)
            p->regs = (int[]){ 64, 128, 255 }[rnd(&g, p->warps >= 16 ? 2 : 3)];
        if (r != 0)
            p->min_blocks = 1 + rnd(&g, 2);
        if (p->regs)
            cover(&g, FEAT_clause_regs);
        if (p->min_blocks)
            cover(&g, FEAT_clause_min_blocks);
    }
    push(&p->body, st_new(ST_LET, "let m0 = program_id(0) * BM", NULL));
    push(&p->body, st_new(ST_LET, "let n0 = program_id(1) * BN", NULL));
    cover(&g, FEAT_fn_program_id);
    if (chance(&g, 0.04)) { /* an assertion that fails: every device must report it */
        p->assert_fails = true;
        push(&p->body, st_new(ST_CALL, "", mk(ty0(DT_BOOL), "device_assert(program_id(0) + program_id(1) != 0, \"" ASSERT_MESSAGE "\")", true, 0, 0)));
        cover(&g, FEAT_st_device_assert_fails);
    }
    Sym *acc = gemm ? gen_gemm(&g, &p->body) : NULL;
    Stmt *acc_store = NULL;
    if (acc) { /* made now, while acc has the bounds of the gemm alone */
        Param *og = param(p, "OG");
        og->tol = 4 * (acc->err + 2 * unit(DT_F32) * acc->mag);
        acc_store = st_new(ST_STORE, p->grid3 ? "OG[program_id(2), m0 : +BM, n0 : +BN] = " : "OG[m0 : +BM, n0 : +BN] = ",
                           mk(acc->ty, acc->name, false, acc->mag, acc->err));
        acc_store->out = (int)(og - p->params);
    }
    gen_block(&g, &p->body, 3 + rnd(&g, 8), 0);
    if (acc_store)
        push(&p->body, acc_store);
    if (specials)
        push(&p->body, specials);
    push(&p->body, gen_store(&g, "O0", "m0 : +BM, n0 : +BN", "(M - 1) - arange<BM>(m0)[:, None], arange<BN>(n0)[None, :]",
                             ty2(DT_F32, DIM_BM, DIM_BN)));
    cover(&g, FEAT_st_store_tile);
    if (param(p, "O1")) {
        push(&p->body, gen_store(&g, "O1", "n0 : +BN, m0 : +BM", "arange<BN>(n0)[:, None], (M - 1) - arange<BM>(m0)[None, :]",
                                 ty2(DT_F32, DIM_BN, DIM_BM)));
        cover(&g, FEAT_st_store_transposed);
    }
    if (param(p, "O2")) {
        Stmt *s = st_new(ST_IF, "if ", mk(ty0(DT_BOOL), "program_id(1) == 0", true, 1, 0));
        push(&s->body, gen_store(&g, "O2", "m0 : +BM", "(M - 1) - arange<BM>(m0)", ty1(DT_F32, DIM_BM)));
        push(&p->body, s);
        cover(&g, FEAT_st_if_runtime);
    }
    if (param(p, "O3")) {
        push(&p->body, gen_store(&g, "O3", "program_id(0), program_id(1)", NULL, ty0(DT_F32)));
        cover(&g, FEAT_st_store_scalar);
    }
    return p;
}

void prog_free(Program *p)
{
    for (int i = 0; i < p->body.len; i++)
        stmt_free(p->body.data[i]);
    free(p->body.data);
    free(p);
}

/* ---- printing ------------------------------------------------------------ */

static void print_block(StrBuf *sb, const StmtList *l, int indent);

static void print_stmt(StrBuf *sb, const Stmt *s, int indent)
{
    sb_printf(sb, "%*s", indent * 4, "");
    switch (s->kind) {
    case ST_FOR:
    case ST_BLOCK:
        sb_printf(sb, "%s%s{\n", s->head, s->kind == ST_FOR ? " " : "");
        print_block(sb, &s->body, indent + 1);
        sb_printf(sb, "%*s}\n", indent * 4, "");
        return;
    case ST_WHILE:
        sb_printf(sb, "var %s = 0;\n%*swhile %s < 3", s->head, indent * 4, "", s->head);
        if (s->e)
            sb_puts(sb, " && "), node_print(sb, s->e);
        sb_printf(sb, " {\n%*s%s = %s + 1;\n", indent * 4 + 4, "", s->head, s->head);
        print_block(sb, &s->body, indent + 1);
        sb_printf(sb, "%*s}\n", indent * 4, "");
        return;
    case ST_IF:
        sb_puts(sb, s->head);
        if (s->e)
            node_print(sb, s->e), sb_putc(sb, ' ');
        sb_puts(sb, "{\n");
        print_block(sb, &s->body, indent + 1);
        sb_printf(sb, "%*s}", indent * 4, "");
        if (s->els.len == 1 && s->els.data[0]->kind == ST_IF) {
            sb_puts(sb, " else ");
            StrBuf in;
            sb_init(&in);
            print_stmt(&in, s->els.data[0], indent);
            sb_puts(sb, in.data + indent * 4);
            sb_free(&in);
            return;
        }
        if (s->els.len) {
            sb_puts(sb, " else {\n");
            print_block(sb, &s->els, indent + 1);
            sb_printf(sb, "%*s}", indent * 4, "");
        }
        sb_putc(sb, '\n');
        return;
    default:
        sb_puts(sb, s->head);
        if (s->e)
            node_print(sb, s->e);
        sb_puts(sb, ";\n");
    }
}

static void print_block(StrBuf *sb, const StmtList *l, int indent)
{
    for (int i = 0; i < l->len; i++)
        print_stmt(sb, l->data[i], indent);
}

static int cdiv_int(int a, int b) { return (a + b - 1) / b; }

char *prog_print(const Program *p)
{
    StrBuf sb;
    sb_init(&sb);
    sb_printf(&sb, "// Generated by tests/diffgen (seed %llu).\n", (unsigned long long)p->seed);
    char vals[160];
    snprintf(vals, sizeof vals, "T=%s -D BM=%d -D BN=%d -D BK=%d -D W=%d -D P=%d -D F=%g -D B=%s",
             dtype_name(p->type_param), p->bm, p->bn, p->bk, p->warps, p->depth, p->cfloat, p->cbool ? "true" : "false");
    if (p->via_defines)
        sb_printf(&sb, "//! -D %s\n", vals);
    sb_printf(&sb, "//@ M=%d N=%d K=%d L=%d G0=%d G1=%d", p->sizes[0], p->sizes[1], p->sizes[2], p->sizes[3],
              cdiv_int(p->sizes[0], p->bm), cdiv_int(p->sizes[1], p->bn));
    for (int i = 0; i < p->nparams; i++)
        if (!p->params[i].rank)
            sb_printf(&sb, " %s=%.17g", p->params[i].name, p->params[i].value);
    sb_puts(&sb, "\n");
    sb_puts(&sb, "//%");
    for (int i = 0; i < p->nparams; i++)
        if (p->params[i].out)
            sb_printf(&sb, " %s=%.3g", p->params[i].name, p->params[i].tol);
    sb_puts(&sb, "\n");
    StrBuf lay;
    sb_init(&lay);
    for (int i = 0; i < p->nparams; i++)
        if (p->params[i].layout != MEM_DENSE)
            sb_printf(&lay, " %s=%s", p->params[i].name, layout_names[p->params[i].layout]);
    if (lay.len)
        sb_printf(&sb, "//~%s\n", lay.data);
    sb_free(&lay);
    for (int i = 0; i < p->nparams; i++)
        if (p->params[i].zeroed)
            sb_printf(&sb, "//= %s=0\n", p->params[i].name);
    if (p->assert_fails)
        sb_puts(&sb, "//& " ASSERT_MESSAGE "\n");
    if (p->via_defines)
        sb_puts(&sb, "kernel k<T: type, BM: int, BN: int, BK: int, W: int, P: int, F: float, B: bool>(");
    else
        sb_printf(&sb,
                  "kernel k<T: type = %s, BM: int = %d, BN: int = %d, BK: int = %d, W: int = %d, P: int = %d, "
                  "F: float = %g, B: bool = %s>(",
                  dtype_name(p->type_param), p->bm, p->bn, p->bk, p->warps, p->depth, p->cfloat,
                  p->cbool ? "true" : "false");
    for (int i = 0; i < p->nparams; i++) {
        const Param *t = &p->params[i];
        const char *dt = t->dt == p->type_param && t->rank ? "T" : dtype_name(t->dt);
        sb_printf(&sb, "%s%s: %s%s", i ? ", " : "", t->name, t->out ? "out " : "", dt);
        for (int d = 0; d < t->rank; d++)
            sb_printf(&sb, "%s%s%s", d ? ", " : "[", t->dims[d], d == t->rank - 1 ? "]" : "");
    }
    sb_printf(&sb, ")\n  grid (cdiv(M, BM), cdiv(N, BN)%s) warps W", p->grid3 ? ", L" : "");
    if (p->regs)
        sb_printf(&sb, " regs %d", p->regs);
    if (p->min_blocks)
        sb_printf(&sb, " min_blocks %d", p->min_blocks);
    sb_puts(&sb, "\n{\n");
    print_block(&sb, &p->body, 1);
    sb_puts(&sb, "}\n");
    return sb_take(&sb);
}
