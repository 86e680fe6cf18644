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
#define GEN_NAME(n) #n,
    GEN_FEATURES(GEN_NAME)
#undef GEN_NAME
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

/* Unit roundoff of a dtype (0: exact). */
static double unit(DType dt)
{
    return dt == DT_F32 ? 6e-8 : dt == DT_F16 ? 4.9e-4 : dt == DT_BF16 ? 3.9e-3 : 0.0;
}

/* The largest magnitude a value of dt may reach, so nothing overflows. */
static double mag_cap(DType dt) { return dt == DT_F16 ? 1e4 : dt == DT_I32 ? 2147483648.0 : 1e6; }

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
    cover(g, dt == DT_F16 ? FEAT_dt_f16 : dt == DT_BF16 ? FEAT_dt_bf16 : dt == DT_F32 ? FEAT_dt_f32 : dt == DT_I32 ? FEAT_dt_i32 : FEAT_dt_bool);
}

static DType rand_num_dtype(Gen *g)
{
    static const DType dts[] = { DT_F32, DT_F32, DT_F16, DT_BF16, DT_I32 };
    return dts[rnd(g, 5)];
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
    if (g->nivars && chance(g, 0.3))
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
    int cand[16], nc = 0;
    for (int i = 0; i < g->p->nparams; i++) {
        const Param *t = &g->p->params[i];
        if (!t->out && t->rank && t->dt == ty.dt && slice_mask(t, ty) >= 0)
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
    Node *n = mk(ty, sb.data, true, ty.dt == DT_I32 ? 20 : 2, 0);
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
            v = rnd(g, 9) - 4;
            sb_printf(&sb, "%s(%g)", dt_text(g, ty.dt), is_float(ty.dt) ? v / 2 : v);
            if (ty.dt == g->p->type_param)
                cover(g, FEAT_cast_type_param);
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
            else if (is_float(ty.dt))
                sb_printf(&sb, "(%s)", chance(g, 0.5) ? "-1.5" : "0.25"), v = 1.5;
            else
                sb_printf(&sb, "(%d)", (int)(v = rnd(g, 7) - 3));
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
static Node *cast_to(Gen *g, Node *a, DType to, bool exact)
{
    if (!a || a->ty.dt == to)
        return a;
    DType from = a->ty.dt;
    if (((to == DT_I32 || to == DT_BOOL || exact) && !a->exact) ||
        (from == DT_I32 && is_float(to) && a->mag > (to == DT_F32 ? 1e6 : 2000)) || a->mag > mag_cap(to)) {
        node_free(a);
        return NULL;
    }
    char buf[32];
    bool tp = to == g->p->type_param && chance(g, 0.5);
    snprintf(buf, sizeof buf, "%s($0)", tp ? "T" : dtype_name(to));
    cover(g, tp ? FEAT_cast_type_param
                : to == DT_F16 ? FEAT_cast_f16 : to == DT_BF16 ? FEAT_cast_bf16 : to == DT_F32 ? FEAT_cast_f32
                : to == DT_I32 ? FEAT_cast_i32 : FEAT_cast_bool);
    double mag = to == DT_BOOL || from == DT_BOOL ? 1 : a->mag;
    return with(mk(with_dt(a->ty, to), buf, a->exact, mag, a->err + unit(to) * mag), a, NULL, NULL);
}

/* A load or a variable of any dtype with ty's shape, converted. */
static Node *gen_converted(Gen *g, Ty ty, bool exact, bool ref)
{
    static const DType dts[] = { DT_F32, DT_F16, DT_BF16, DT_I32 };
    int start = rnd(g, 4);
    for (int i = 0; i < 4; i++) {
        DType dt = dts[(start + i) % 4];
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
    case 1: mag = a->mag + b->mag, err = a->err + b->err + u * mag; break;
    case 2: mag = a->mag * b->mag, err = a->err * b->mag + b->err * a->mag + a->err * b->err + u * mag; break;
    default: mag = a->mag, err = a->err + b->err * a->mag + u * a->mag; break;
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
    return with(mk(ty, t[r - 2], a->exact, a->mag, a->err), a, NULL, NULL);
}

/* exp, exp2, log, log2, sqrt, rsqrt on forms that stay finite. */
static Node *gen_math(Gen *g, Ty ty, int depth)
{
    Node *a = gen(g, ty, depth - 1, false);
    double u = unit(ty.dt) + 1e-6, e = a->err, m = a->mag;
    static const char *const t[] = { "exp(-abs($0))", "exp2(-abs($0))", "log(abs($0) + 1.0)",
                                     "log2(abs($0) + 1.0)", "sqrt(abs($0))", "rsqrt(abs($0) + 1.0)" };
    static const Feature f[] = { FEAT_fn_exp, FEAT_fn_exp2, FEAT_fn_log, FEAT_fn_log2, FEAT_fn_sqrt, FEAT_fn_rsqrt };
    int r = rnd(g, 6);
    double mag = r < 2 ? 1 : r < 4 ? log2(m + 1) + 1 : r == 4 ? sqrt(m) : 1;
    double err = r == 4 ? sqrt(e) + u * mag : (r == 1 || r == 3 ? 1.5 * e : e) + u * (1 + mag + m);
    cover(g, f[r]);
    cover(g, FEAT_fn_abs);
    return with(mk(ty, t[r], false, mag, err), a, NULL, NULL);
}

/* A conversion from another dtype. */
static Node *gen_cast(Gen *g, Ty ty, int depth, bool exact)
{
    DType from = rand_num_dtype(g);
    if (chance(g, 0.15))
        from = DT_BOOL;
    if (from == ty.dt)
        return NULL;
    /* Values that decide an integer or a bool must be the same bits on both
     * devices. */
    bool need_exact = exact || ty.dt == DT_I32 || ty.dt == DT_BOOL;
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
    if (ty.dt == DT_BOOL || ty.rank == 2)
        return NULL;
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

static Node *gen_dot(Gen *g, Ty ty, int depth)
{
    if (ty.dt != DT_F32 || ty.rank != 2 || ty.d[0] == DIM_1 || ty.d[1] == DIM_1)
        return NULL;
    static const DType ops[] = { DT_F16, DT_BF16, DT_F32, DT_F16, DT_BF16, DT_F16 };
    DType odt = ops[rnd(g, 6)];
    Dim kd = rand_tile_dim(g);
    int a = dim_value(g, ty.d[0]), b = dim_value(g, ty.d[1]), c = dim_value(g, kd);
    bool tc = odt != DT_F32 && a % 16 == 0 && c % 16 == 0 && b % 8 == 0;
    /* Keep dots on the CUDA cores within what code generation accepts
     * (dsl/README.md section 12), with room to spare. */
    if (!tc && (a * b + a * c + c * b) > 64 * 32 * g->p->warps)
        return NULL;
    Node *x = gen(g, ty2(odt, ty.d[0], kd), depth - 1, false), *y = gen(g, ty2(odt, kd, ty.d[1]), depth - 1, false);
    double mag = c * x->mag * y->mag;
    double err = c * (x->err * y->mag + y->err * x->mag) + c * unit(DT_F32) * mag;
    if (mag > mag_cap(DT_F32)) {
        node_free(x);
        node_free(y);
        return NULL;
    }
    cover(g, tc ? FEAT_fn_dot_tc : FEAT_fn_dot_fma);
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

typedef enum { P_ARITH, P_MINMAX, P_MATH, P_CAST, P_WHERE, P_SELECT, P_REDUCE, P_DOT, P_TRANSPOSE, P_FULL, P_COUNT } Prod;

static Node *gen(Gen *g, Ty ty, int depth, bool exact)
{
    /* Shapes with a 1 come from None indexing (or constants). */
    if (ty.rank == 2 && (ty.d[0] == DIM_1 || ty.d[1] == DIM_1)) {
        Node *n = depth > 0 && chance(g, 0.85) ? gen_none_index(g, ty, depth, exact) : NULL;
        if (!n && depth > 0 && chance(g, 0.5))
            n = chance(g, 0.5) ? gen_scalar_none(g, ty, depth, exact) : gen_full(g, ty, depth, exact);
        if (n && depth > 1 && ty.dt != DT_BOOL && chance(g, 0.2)) {
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
            n = gen_where(g, ty, depth, true);
        return n ? n : gen_leaf(g, ty, true);
    }
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
    DType dt = chance(g, 0.1) ? DT_BOOL : rand_num_dtype(g);
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
        DType dt = rand_num_dtype(g);
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
        Node *a = gen(g, from, 2, to == DT_I32);
        if (to == DT_I32 && !a->exact) {
            node_free(a);
            return NULL;
        }
        if ((from.dt == DT_I32 && is_float(to) && a->mag > 2000) || a->mag > mag_cap(to)) {
            node_free(a);
            return NULL;
        }
        char tmpl[32];
        snprintf(tmpl, sizeof tmpl, "%s($0)", u->name);
        Ty rt = ty;
        rt.dt = to;
        Node *e = with(mk(rt, tmpl, a->exact, a->mag, a->err + unit(to) * a->mag), a, NULL, NULL);
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
        if (s->ty.dt == DT_BOOL)
            continue;
        Node *e = gen(g, bcast_kid(g, s->ty), 2 + rnd(g, 2), false);
        double mag = add ? s->mag + g->trips * e->mag : maxd(s->mag, e->mag);
        if (mag > mag_cap(s->ty.dt)) {
            if (s->ty.dt != DT_I32) {
                node_free(e);
                continue;
            }
            mag = mag_cap(s->ty.dt);
        }
        char tmpl[64], head[32];
        snprintf(head, sizeof head, "%s = ", s->name);
        snprintf(tmpl, sizeof tmpl, add ? "%s + $0" : "max(%s, $0)", s->name);
        double err = add ? s->err + g->trips * (e->err + unit(s->ty.dt) * mag) : maxd(s->err, e->err);
        bool exact = s->exact && e->exact && (!add || s->ty.dt == DT_I32);
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
        int r = rnd(g, 3);
        if (r == 0) {
            snprintf(head, sizeof head, "for %s in 0 .. t", v);
            trips = 10;
            cover(g, FEAT_st_for_runtime_bound);
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
    g->trips *= trips;
    g->loops++;
    g->scope++;
    if (kloop)
        g->in_k = true;
    else
        snprintf(g->ivar[g->nivars++], sizeof g->ivar[0], "%c", head[4]);
    gen_block(g, &st->body, 1 + rnd(g, 3), nest + 1);
    gen_accumulate(g, &st->body, accs, nacc);
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

static void add_param(Program *p, const char *name, DType dt, const char *const dims[4], bool out)
{
    Param *t = &p->params[p->nparams++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dt = dt;
    for (int i = 0; i < 4 && dims && dims[i]; i++)
        snprintf(t->dims[t->rank++], sizeof t->dims[0], "%s", dims[i]);
    t->out = out;
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
                                             { "1", "2", "M", "N" } };
    int nin = 2 + rnd(g, 4);
    for (int i = 0; i < nin; i++) {
        char name[16];
        snprintf(name, sizeof name, "X%d", i);
        int sh = i == 0 ? 0 : i == 1 ? (int[]){ 2, 3, 6 }[rnd(g, 3)] : rnd(g, 10); /* M, N and K all declared */
        add_param(p, name, rand_num_dtype(g), shapes[sh], false);
    }
    add_param(p, "O0", rand_num_dtype(g), (const char *const[]){ "M", "N", NULL, NULL }, true);
    if (chance(g, 0.4))
        add_param(p, "O1", rand_num_dtype(g), (const char *const[]){ "N", "M", NULL, NULL }, true);
    if (chance(g, 0.4))
        add_param(p, "O2", rand_num_dtype(g), (const char *const[]){ "M", NULL, NULL, NULL }, true);
    if (chance(g, 0.3))
        add_param(p, "O3", rand_num_dtype(g), (const char *const[]){ "G0", "G1", NULL, NULL }, true);
    add_param(p, "s", DT_F32, NULL, false);
    add_param(p, "t", DT_I32, NULL, false);
    add_param(p, "b", DT_BOOL, NULL, false);
}

static Param *param(Program *p, const char *name)
{
    for (int i = 0; i < p->nparams; i++)
        if (!strcmp(p->params[i].name, name))
            return &p->params[i];
    return NULL;
}

/* A store of a generated value into output `name`; records its tolerance. */
static Stmt *gen_store(Gen *g, const char *name, const char *head, Ty ty)
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
    double tol = 4 * (e->err + 2 * unit(o->dt) * e->mag);
    if (tol > o->tol)
        o->tol = tol;
    Stmt *s = st_new(ST_STORE, head, e);
    s->out = (int)(o - g->p->params);
    cover_dtype(g, o->dt);
    return s;
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
    pick_sizes(&g, p);
    pick_params(&g, p);
    for (int i = 0; i < p->nparams; i++)
        if (!p->params[i].out && p->params[i].rank && p->params[i].dt == p->type_param)
            cover(&g, FEAT_type_param);
    if (p->grid3)
        cover(&g, FEAT_grid_3d);
    push(&p->body, st_new(ST_LET, "let m0 = program_id(0) * BM", NULL));
    push(&p->body, st_new(ST_LET, "let n0 = program_id(1) * BN", NULL));
    cover(&g, FEAT_fn_program_id);
    gen_block(&g, &p->body, 3 + rnd(&g, 8), 0);
    push(&p->body, gen_store(&g, "O0", "O0[m0 : +BM, n0 : +BN] = ", ty2(DT_F32, DIM_BM, DIM_BN)));
    cover(&g, FEAT_st_store_tile);
    if (param(p, "O1")) {
        push(&p->body, gen_store(&g, "O1", "O1[n0 : +BN, m0 : +BM] = ", ty2(DT_F32, DIM_BN, DIM_BM)));
        cover(&g, FEAT_st_store_transposed);
    }
    if (param(p, "O2")) {
        Stmt *s = st_new(ST_IF, "if ", mk(ty0(DT_BOOL), "program_id(1) == 0", true, 1, 0));
        push(&s->body, gen_store(&g, "O2", "O2[m0 : +BM] = ", ty1(DT_F32, DIM_BM)));
        push(&p->body, s);
        cover(&g, FEAT_st_if_runtime);
    }
    if (param(p, "O3")) {
        push(&p->body, gen_store(&g, "O3", "O3[program_id(0), program_id(1)] = ", ty0(DT_F32)));
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
    sb_printf(&sb, "//@ M=%d N=%d K=%d G0=%d G1=%d s=%g t=%d b=%d\n", p->sizes[0], p->sizes[1], p->sizes[2],
              cdiv_int(p->sizes[0], p->bm), cdiv_int(p->sizes[1], p->bn), p->fscalar, p->iscalar, p->bscalar);
    sb_puts(&sb, "//%");
    for (int i = 0; i < p->nparams; i++)
        if (p->params[i].out)
            sb_printf(&sb, " %s=%.3g", p->params[i].name, p->params[i].tol);
    sb_puts(&sb, "\n");
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
    sb_printf(&sb, ")\n  grid (cdiv(M, BM), cdiv(N, BN)%s) warps W\n{\n", p->grid3 ? ", 1" : "");
    print_block(&sb, &p->body, 1);
    sb_puts(&sb, "}\n");
    return sb_take(&sb);
}
