/* Semantic analysis and TIR construction.
 *
 * One walk over a kernel's AST, for one specialization (the values of its
 * compile-time parameters): names are resolved, compile-time expressions are
 * folded, dtypes and tile shapes are checked, and TIR is emitted. Compile-time
 * `if` and `?:` take only their chosen branch, like `if constexpr` in C++.
 * Mutable variables become SSA values: a `for` or run-time `if` that assigns a
 * variable of an enclosing scope carries it as a loop argument or result. */
#include "sema.h"
#include "oom.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What an expression evaluates to. Compile-time constants (SV_INT, SV_FLOAT,
 * SV_BOOL) are untyped: they take the dtype of what they meet. */
typedef enum { SV_ERR, SV_INT, SV_FLOAT, SV_BOOL, SV_TYPE, SV_VAL, SV_TENSOR } SvKind;

typedef struct {
    SvKind k;
    int64_t i; /* SV_INT, SV_BOOL */
    double f;  /* SV_FLOAT */
    DType dt;  /* SV_TYPE */
    ValId v;   /* SV_VAL */
    int param; /* SV_TENSOR */
} SVal;

typedef enum { BIND_VALUE, BIND_SCALAR_PARAM, BIND_SYM } BindKind;

typedef struct {
    const char *name;
    SrcPos pos;
    BindKind kind;
    SVal val;     /* BIND_VALUE */
    int index;    /* parameter or symbol index */
    bool is_var;  /* assignable */
    int shadowed; /* the binding before it in its hash bucket, or -1 */
    TType type;   /* of a var */
    const char *what; /* "compile-time parameter", "parameter", ... for messages */
} Binding;

enum { ENV_BUCKETS = 1 << 12 };

typedef struct {
    Diag *diag;
    TirFunc *f;
    const AstKernel *k;
    VEC(Binding) env;           /* a stack: inner scopes on top */
    int env_head[ENV_BUCKETS];  /* per hash of a name: its innermost binding, or -1 */
    Arena *scratch; /* oom_arena_open: freed if memory runs out */
    BlockId cur;
    bool in_grid;
    int loop_depth;  /* loops around the statement being checked (their flags: skip@D, brk@D) */
    bool has_return; /* the kernel has a return: its flag ret@ is bound */
    const AstNode *effect_call; /* the call an expression statement makes (atomics), else NULL */
} Sema;

static const SVal sv_err = { SV_ERR, 0, 0, DT_I32, TIR_NONE, 0 };

static SVal sv_int(int64_t i)
{
    SVal s = sv_err;
    s.k = SV_INT;
    s.i = i;
    return s;
}

static SVal sv_float(double f)
{
    SVal s = sv_err;
    s.k = SV_FLOAT;
    s.f = f;
    return s;
}

static SVal sv_bool(bool b)
{
    SVal s = sv_err;
    s.k = SV_BOOL;
    s.i = b;
    return s;
}

static SVal sv_type(DType dt)
{
    SVal s = sv_err;
    s.k = SV_TYPE;
    s.dt = dt;
    return s;
}

static SVal sv_val(ValId v)
{
    SVal s = sv_err;
    s.k = SV_VAL;
    s.v = v;
    return s;
}

static bool is_const(SVal s) { return s.k == SV_INT || s.k == SV_FLOAT || s.k == SV_BOOL; }

static void error(Sema *s, SrcPos pos, const char *fmt, ...) TSR_PRINTF(3, 4);
static void error(Sema *s, SrcPos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(s->diag, pos, fmt, ap);
    va_end(ap);
}

static TType vtype(Sema *s, ValId v) { return tir_type(s->f, v); }

/* A description of a value's type for messages, e.g. "f32[64, 64]". */
static const char *type_str(Sema *s, TType t)
{
    StrBuf sb;
    sb_init(&sb);
    ttype_print(&sb, t);
    int slot = oom_defer_free(sb.data);
    char *r = arena_strdup(s->scratch, sb.data ? sb.data : "?");
    oom_free(slot, sb.data);
    return r;
}

static const char *sval_str(Sema *s, SVal v)
{
    switch (v.k) {
    case SV_INT: return "an integer constant";
    case SV_FLOAT: return "a float constant";
    case SV_BOOL: return "a bool constant";
    case SV_TYPE: return arena_printf(s->scratch, "the type %s", dtype_name(v.dt));
    case SV_TENSOR: return arena_printf(s->scratch, "the tensor '%s'", s->f->params.data[v.param].name);
    case SV_VAL: return type_str(s, vtype(s, v.v));
    default: return "an invalid value";
    }
}

/* Where an expression begins: errors about a whole value point there (the
 * node of a binary operator is at the operator). */
static SrcPos expr_start(const AstNode *n)
{
    while ((n->kind == AST_BINARY || n->kind == AST_TERNARY || n->kind == AST_INDEX) && n->a &&
           n->a->pos.off < n->pos.off)
        n = n->a;
    return n->pos;
}

/* ---------------------------------------------------------------- emission */

static ValId emit(Sema *s, TirOp op, SrcPos pos, const ValId *args, int nargs, TType t)
{
    return tir_emit(s->f, s->cur, op, pos, args, nargs, t);
}

static ValId emit1(Sema *s, TirOp op, SrcPos pos, ValId a, TType t) { return emit(s, op, pos, &a, 1, t); }

static bool check_tile_type(Sema *s, SrcPos pos, TType t)
{
    int64_t n = 1;
    for (int i = 0; i < t.rank; i++) {
        if (!tsr_is_pow2(t.shape[i]) && t.shape[i] % 16 != 0) {
            error(s, pos, "tile dimension %d is neither a power of two nor a multiple of 16", t.shape[i]);
            return false;
        }
        n *= t.shape[i];
    }
    if (n > SEMA_MAX_TILE_ELEMS) {
        error(s, pos, "tile %s has %lld elements; at most %d are allowed", type_str(s, t), (long long)n,
              SEMA_MAX_TILE_ELEMS);
        return false;
    }
    return true;
}

/* A finite constant must stay finite in the dtype it is used as: 70000.0 as
 * f16 would silently become inf. (inf itself is fine.) */
static bool const_fits_float(Sema *s, double v, DType dt, SrcPos pos)
{
    /* fp8 conversions saturate, so the range is checked here */
    bool fits = dtype_is_fp8(dt) ? fabs(v) <= fp8_max(dt) : isfinite(round_to_dtype((float)v, dt));
    if (!isfinite(v) || fits)
        return true;
    error(s, pos, "the constant %g is out of range for %s", v, dtype_name(dt));
    return false;
}

/* Materializes a compile-time constant as a scalar of dtype dt. */
static SVal const_as(Sema *s, SVal c, DType dt, SrcPos pos)
{
    if (c.k == SV_VAL || c.k == SV_ERR)
        return c;
    if (!is_const(c)) { /* a type or a tensor */
        error(s, pos, "expected a value, found %s", sval_str(s, c));
        return sv_err;
    }
    if (c.k == SV_BOOL) {
        if (dt != DT_BOOL) {
            error(s, pos, "a bool constant cannot be used as %s", dtype_name(dt));
            return sv_err;
        }
        return sv_val(tir_const_int(s->f, s->cur, pos, DT_BOOL, c.i));
    }
    if (dt == DT_BOOL) {
        error(s, pos, "a number cannot be used as bool; compare it instead");
        return sv_err;
    }
    if (c.k == SV_FLOAT) {
        if (!dtype_is_float(dt)) {
            error(s, pos, "the float constant %g cannot be used as %s; cast explicitly", c.f, dtype_name(dt));
            return sv_err;
        }
        if (!const_fits_float(s, c.f, dt, pos))
            return sv_err;
        return sv_val(tir_const_float(s->f, s->cur, pos, dt, c.f));
    }
    if (c.k == SV_INT) {
        if (dtype_is_int(dt) && !int_fits(c.i, dt)) {
            error(s, pos, "the constant %lld does not fit in %s", (long long)c.i, dtype_name(dt));
            return sv_err;
        }
        if (dtype_is_float(dt) && !const_fits_float(s, (double)c.i, dt, pos))
            return sv_err;
        return sv_val(dtype_is_float(dt) ? tir_const_float(s->f, s->cur, pos, dt, (double)c.i)
                                         : tir_const_int(s->f, s->cur, pos, dt, c.i));
    }
    tsr_unreachable();
}

/* Any value as a TIR value: constants take their natural dtype. */
static SVal as_value(Sema *s, SVal v, SrcPos pos)
{
    switch (v.k) {
    case SV_INT: return const_as(s, v, DT_I32, pos);
    case SV_FLOAT: return const_as(s, v, DT_F32, pos);
    case SV_BOOL: return const_as(s, v, DT_BOOL, pos);
    case SV_VAL:
    case SV_ERR: return v;
    default: error(s, pos, "expected a value, found %s", sval_str(s, v)); return sv_err;
    }
}

/* Broadcasts value v to shape `to` (same dtype). */
static ValId broadcast_to(Sema *s, ValId v, TType to, SrcPos pos)
{
    TType t = vtype(s, v);
    to.dt = t.dt;
    if (ttype_eq(t, to))
        return v;
    if (t.rank == 0)
        return emit1(s, TIR_SPLAT, pos, v, to);
    return emit1(s, TIR_BROADCAST, pos, v, to);
}

/* The shape two operands broadcast to, or false (with an error). */
static bool broadcast_shape(Sema *s, TType a, TType b, TType *out, SrcPos pos, const char *what)
{
    if (a.rank == 0) {
        *out = b;
        return true;
    }
    if (b.rank == 0) {
        *out = a;
        return true;
    }
    if (a.rank != b.rank) {
        error(s, pos, "cannot combine %s and %s in %s: their ranks differ (add an axis with x[:, None] or x[None, :])",
              type_str(s, a), type_str(s, b), what);
        return false;
    }
    *out = a;
    for (int i = 0; i < a.rank; i++) {
        if (a.shape[i] == b.shape[i] || b.shape[i] == 1)
            continue;
        if (a.shape[i] == 1) {
            out->shape[i] = b.shape[i];
            continue;
        }
        error(s, pos, "cannot combine %s and %s in %s: dimension %d differs (%d vs %d)", type_str(s, a),
              type_str(s, b), what, i, a.shape[i], b.shape[i]);
        return false;
    }
    /* [N, 1] with [1, N] makes [N, N]: the result may exceed the tile limit. */
    return check_tile_type(s, pos, *out);
}

/* The common dtype of operands, constants adapting to values. */
static bool common_dtype(Sema *s, const SVal *ops, int n, DType *dt, SrcPos pos, const char *what)
{
    int first = -1;
    for (int i = 0; i < n; i++) {
        if (ops[i].k != SV_VAL)
            continue;
        DType d = vtype(s, ops[i].v).dt;
        if (first < 0) {
            first = i;
            *dt = d;
        } else if (d != *dt) {
            error(s, pos, "mismatched dtypes %s and %s in %s; convert one explicitly, e.g. f32(x)",
                  dtype_name(*dt), dtype_name(d), what);
            return false;
        }
    }
    if (first >= 0)
        return true;
    /* all constants */
    *dt = DT_I32;
    for (int i = 0; i < n; i++) {
        if (ops[i].k == SV_FLOAT)
            *dt = DT_F32;
        if (ops[i].k == SV_BOOL)
            *dt = DT_BOOL;
    }
    return true;
}

/* Converts operands to values of one dtype and one shape. */
static bool unify(Sema *s, SVal *ops, int n, DType *dt_out, TType *shape_out, SrcPos pos, const char *what)
{
    for (int i = 0; i < n; i++)
        if (ops[i].k == SV_ERR)
            return false;
    DType dt;
    if (!common_dtype(s, ops, n, &dt, pos, what))
        return false;
    TType shape = ttype_scalar(dt);
    for (int i = 0; i < n; i++) {
        ops[i] = const_as(s, ops[i], dt, pos);
        if (ops[i].k == SV_ERR)
            return false;
        if (ops[i].k != SV_VAL) {
            error(s, pos, "expected a value in %s, found %s", what, sval_str(s, ops[i]));
            return false;
        }
        if (!broadcast_shape(s, shape, vtype(s, ops[i].v), &shape, pos, what))
            return false;
    }
    shape.dt = dt;
    for (int i = 0; i < n; i++)
        ops[i].v = broadcast_to(s, ops[i].v, shape, pos);
    *dt_out = dt;
    *shape_out = shape;
    return true;
}

/* ------------------------------------------------------ compile-time folding */

static bool fold_int(Sema *s, TokKind op, int64_t a, int64_t b, SVal *out, SrcPos pos)
{
    int64_t r = 0;
    switch (op) {
    case TK_PLUS:
        if (__builtin_add_overflow(a, b, &r))
            goto overflow;
        break;
    case TK_MINUS:
        if (__builtin_sub_overflow(a, b, &r))
            goto overflow;
        break;
    case TK_STAR:
        if (__builtin_mul_overflow(a, b, &r))
            goto overflow;
        break;
    case TK_SLASH:
    case TK_PERCENT:
        if (b == 0) {
            error(s, pos, "division by zero in a compile-time expression");
            return false;
        }
        if (a == INT64_MIN && b == -1)
            goto overflow;
        r = op == TK_SLASH ? a / b : a % b;
        break;
    case TK_AMP: r = a & b; break;
    case TK_PIPE: r = a | b; break;
    case TK_CARET: r = a ^ b; break;
    case TK_SHL:
    case TK_SHR:
        if (b < 0 || b > 63) {
            error(s, pos, "shift count %lld out of range 0 .. 63 in a compile-time expression", (long long)b);
            return false;
        }
        if (op == TK_SHR) {
            r = a >> b; /* arithmetic: gcc and clang define it */
        } else {
            r = (int64_t)((uint64_t)a << b);
            if ((r >> b) != a)
                goto overflow;
        }
        break;
    case TK_EQ: *out = sv_bool(a == b); return true;
    case TK_NE: *out = sv_bool(a != b); return true;
    case TK_LT: *out = sv_bool(a < b); return true;
    case TK_LE: *out = sv_bool(a <= b); return true;
    case TK_GT: *out = sv_bool(a > b); return true;
    case TK_GE: *out = sv_bool(a >= b); return true;
    default: tsr_unreachable();
    }
    *out = sv_int(r);
    return true;
overflow:
    error(s, pos, "integer overflow in a compile-time expression");
    return false;
}

static const char *binary_text(TokKind k);

static SVal fold_binary(Sema *s, TokKind op, SVal a, SVal b, SrcPos pos)
{
    SVal r = sv_err;
    if (op == TK_ANDAND || op == TK_OROR) {
        if (a.k != SV_BOOL || b.k != SV_BOOL) {
            error(s, pos, "'%s' needs bool operands, found %s", op == TK_ANDAND ? "&&" : "||",
                  sval_str(s, a.k != SV_BOOL ? a : b));
            return sv_err;
        }
        return sv_bool(op == TK_ANDAND ? (a.i && b.i) : (a.i || b.i));
    }
    if (a.k == SV_BOOL || b.k == SV_BOOL) {
        if ((op == TK_EQ || op == TK_NE) && a.k == b.k)
            return sv_bool((a.i == b.i) == (op == TK_EQ));
        if ((op == TK_AMP || op == TK_PIPE || op == TK_CARET) && a.k == b.k)
            return sv_bool(op == TK_AMP ? a.i & b.i : op == TK_PIPE ? a.i | b.i : a.i ^ b.i);
        error(s, pos, "%s is not defined on bool", binary_text(op));
        return sv_err;
    }
    if (a.k == SV_INT && b.k == SV_INT) {
        if (!fold_int(s, op, a.i, b.i, &r, pos))
            return sv_err;
        return r;
    }
    double x = a.k == SV_INT ? (double)a.i : a.f, y = b.k == SV_INT ? (double)b.i : b.f;
    switch (op) {
    case TK_PLUS: return sv_float(x + y);
    case TK_MINUS: return sv_float(x - y);
    case TK_STAR: return sv_float(x * y);
    case TK_SLASH: return sv_float(x / y);
    case TK_PERCENT:
    case TK_AMP:
    case TK_PIPE:
    case TK_CARET:
    case TK_SHL:
    case TK_SHR: error(s, pos, "%s needs integer operands", binary_text(op)); return sv_err;
    case TK_EQ: return sv_bool(x == y);
    case TK_NE: return sv_bool(x != y);
    case TK_LT: return sv_bool(x < y);
    case TK_LE: return sv_bool(x <= y);
    case TK_GT: return sv_bool(x > y);
    case TK_GE: return sv_bool(x >= y);
    default: tsr_unreachable();
    }
}

/* ------------------------------------------------------ did you mean ...? */

/* Picks, among candidates, the name closest to a misspelled one (edit
 * distance at most a third of its length), to suggest it in a message.
 * Distances count in half steps: a change of case only is half an edit, so
 * F32 suggests f32 rather than i32. */
typedef struct {
    const char *name, *best;
    int best_dist;
} Suggest;

static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    enum { MAXLEN = 64 };
    if (la >= MAXLEN || lb >= MAXLEN)
        return 2 * MAXLEN;
    int row[MAXLEN + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = 2 * (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = 2 * (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            char x = a[i - 1], y = b[j - 1];
            int best = diag + (x == y ? 0 : tolower((unsigned char)x) == tolower((unsigned char)y) ? 1 : 2);
            if (up + 2 < best)
                best = up + 2;
            if (row[j - 1] + 2 < best)
                best = row[j - 1] + 2;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static void suggest_init(Suggest *sg, const char *name)
{
    sg->name = name;
    sg->best = NULL;
    sg->best_dist = 2 * ((int)strlen(name) / 3) + 1; /* names of 1 or 2 letters get none */
}

static void suggest_consider(Suggest *sg, const char *cand)
{
    int d = edit_distance(sg->name, cand);
    if (d > 0 && d < sg->best_dist) {
        sg->best = cand;
        sg->best_dist = d;
    }
}

/* "; did you mean 'x'?" or "" */
static const char *suggestion(Arena *a, const Suggest *sg)
{
    return sg->best ? arena_printf(a, "; did you mean '%s'?", sg->best) : "";
}

/* ------------------------------------------------------------ environment */

/* Names are found through a hash table of chains through the stack, so
 * that programs with many names check in linear time. */
static unsigned name_bucket(const char *name)
{
    uint32_t h = 2166136261u;
    for (const char *c = name; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    return h & (ENV_BUCKETS - 1);
}

static Binding *lookup(Sema *s, const char *name)
{
    for (int i = s->env_head[name_bucket(name)]; i >= 0; i = s->env.data[i].shadowed)
        if (strcmp(s->env.data[i].name, name) == 0)
            return &s->env.data[i];
    return NULL;
}

static void env_push(Sema *s, Binding b)
{
    unsigned h = name_bucket(b.name);
    b.shadowed = s->env_head[h];
    vec_push(s->scratch, s->env, b);
    s->env_head[h] = s->env.len - 1;
}

/* Leaves scopes: forgets the bindings from index mark on. */
static void env_truncate(Sema *s, int mark)
{
    while (s->env.len > mark) {
        const Binding *b = &s->env.data[--s->env.len];
        s->env_head[name_bucket(b->name)] = b->shadowed;
    }
}

static bool bind(Sema *s, Binding b)
{
    Binding *prev = lookup(s, b.name);
    if (prev) {
        error(s, b.pos, "'%s' is already defined", b.name);
        if (prev->pos.line > 0)
            diag_note(s->diag, prev->pos, "'%s' was defined here as a %s", b.name, prev->what);
        return false;
    }
    env_push(s, b);
    return true;
}

static Binding value_binding(const char *name, SrcPos pos, SVal v, const char *what)
{
    Binding b = { 0 };
    b.name = name;
    b.pos = pos;
    b.kind = BIND_VALUE;
    b.val = v;
    b.what = what;
    return b;
}

/* ------------------------------------------------------------ expressions */

static SVal eval(Sema *s, const AstNode *n);

static bool is_builtin(const char *name);

/* Reports an unknown name, suggesting a visible one it may be a typo of. */
static void unknown_name(Sema *s, SrcPos pos, const char *name)
{
    if (is_builtin(name)) {
        error(s, pos, "'%s' is a built-in function: call it as %s(...)", name, name);
        return;
    }
    Suggest sg;
    suggest_init(&sg, name);
    for (int i = 0; i < s->env.len; i++)
        suggest_consider(&sg, s->env.data[i].name);
    error(s, pos, "unknown name '%s'%s", name, suggestion(s->scratch, &sg));
}

static SVal eval_name(Sema *s, const AstNode *n)
{
    Binding *b = lookup(s, n->name);
    if (!b) {
        unknown_name(s, n->pos, n->name);
        return sv_err;
    }
    switch (b->kind) {
    case BIND_SCALAR_PARAM: {
        ValId v = emit(s, TIR_PARAM, n->pos, NULL, 0, ttype_scalar(s->f->params.data[b->index].dt));
        tir_inst(s->f, tir_val(s->f, v)->def)->param = b->index;
        return sv_val(v);
    }
    case BIND_SYM: {
        ValId v = emit(s, TIR_DIM, n->pos, NULL, 0, ttype_scalar(DT_I32));
        tir_inst(s->f, tir_val(s->f, v)->def)->sym = b->index;
        return sv_val(v);
    }
    default: return b->val;
    }
}

static TirOp binary_op(TokKind k)
{
    switch (k) {
    case TK_PLUS: return TIR_ADD;
    case TK_MINUS: return TIR_SUB;
    case TK_STAR: return TIR_MUL;
    case TK_SLASH: return TIR_DIV;
    case TK_PERCENT: return TIR_REM;
    case TK_EQ: return TIR_EQ;
    case TK_NE: return TIR_NE;
    case TK_LT: return TIR_LT;
    case TK_LE: return TIR_LE;
    case TK_GT: return TIR_GT;
    case TK_GE: return TIR_GE;
    case TK_ANDAND: return TIR_AND;
    case TK_OROR: return TIR_OR;
    case TK_AMP: return TIR_AND;
    case TK_PIPE: return TIR_OR;
    case TK_CARET: return TIR_XOR;
    case TK_SHL: return TIR_SHL;
    case TK_SHR: return TIR_SHR;
    default: tsr_unreachable();
    }
}

static const char *binary_text(TokKind k)
{
    switch (k) {
    case TK_PLUS: return "'+'";
    case TK_MINUS: return "'-'";
    case TK_STAR: return "'*'";
    case TK_SLASH: return "'/'";
    case TK_PERCENT: return "'%'";
    case TK_EQ: return "'=='";
    case TK_NE: return "'!='";
    case TK_LT: return "'<'";
    case TK_LE: return "'<='";
    case TK_GT: return "'>'";
    case TK_GE: return "'>='";
    case TK_ANDAND: return "'&&'";
    case TK_OROR: return "'||'";
    case TK_AMP: return "'&'";
    case TK_PIPE: return "'|'";
    case TK_CARET: return "'^'";
    case TK_SHL: return "'<<'";
    case TK_SHR: return "'>>'";
    default: return "an operator";
    }
}

/* A numeric constant or value (for the messages about bool operands). */
/* The 8-bit floats have no arithmetic of their own (no PTX instruction
 * computes on them but the tensor cores): operations other than moves,
 * selections, conversions and dots are refused with the way out. */
static bool no_fp8(Sema *s, DType dt, SrcPos pos, const char *what)
{
    if (!dtype_is_fp8(dt))
        return true;
    error(s, pos, "%s is not defined on %s; convert to f32 first, e.g. f32(x)", what, dtype_name(dt));
    return false;
}

static bool is_number(Sema *s, SVal v)
{
    return v.k == SV_INT || v.k == SV_FLOAT || (v.k == SV_VAL && vtype(s, v.v).dt != DT_BOOL);
}

/* Applies an elementwise binary TIR op with the language's operand rules:
 * & | ^ need integers or bools; % and shifts integers (eval_binary checks
 * that && and || have bools). */
static SVal apply_binary(Sema *s, TirOp op, SVal a, SVal b, SrcPos pos, const char *what)
{
    bool a_bool = a.k == SV_BOOL || (a.k == SV_VAL && vtype(s, a.v).dt == DT_BOOL);
    bool b_bool = b.k == SV_BOOL || (b.k == SV_VAL && vtype(s, b.v).dt == DT_BOOL);
    if ((op == TIR_AND || op == TIR_OR || op == TIR_XOR) && a_bool != b_bool && is_number(s, a_bool ? b : a)) {
        /* x & 1 == 0 is x & (1 == 0), as in C */
        error(s, pos, "%s of %s and %s; comparisons bind tighter than & ^ |, as in C: write (x & m) == v",
              what, sval_str(s, a_bool ? a : b), sval_str(s, a_bool ? b : a));
        return sv_err;
    }
    SVal ops[2] = { a, b };
    DType dt;
    TType shape;
    if (!unify(s, ops, 2, &dt, &shape, pos, what))
        return sv_err;
    bool bitwise = op == TIR_AND || op == TIR_OR || op == TIR_XOR;
    if (bitwise && dt != DT_BOOL && !dtype_is_int(dt)) {
        error(s, pos, "%s needs integer or bool operands, found %s", what, dtype_name(dt));
        return sv_err;
    }
    if (!bitwise && dt == DT_BOOL && op != TIR_EQ && op != TIR_NE) {
        error(s, pos, "%s is not defined on bool", what);
        return sv_err;
    }
    if ((op == TIR_REM || op == TIR_SHL || op == TIR_SHR) && !dtype_is_int(dt)) {
        error(s, pos, "%s needs integer operands, found %s", what, dtype_name(dt));
        return sv_err;
    }
    if (!no_fp8(s, dt, pos, what))
        return sv_err;
    TType rt = shape;
    rt.dt = tir_op_is_compare(op) ? DT_BOOL : dt;
    ValId args[2] = { ops[0].v, ops[1].v };
    return sv_val(emit(s, op, pos, args, 2, rt));
}

static SVal eval_binary(Sema *s, const AstNode *n)
{
    SVal a = eval(s, n->a);
    /* Compile-time && and || short-circuit, so `CAUSAL && x` skips x when false. */
    if ((n->op == TK_ANDAND || n->op == TK_OROR) && a.k == SV_BOOL && (a.i == (n->op == TK_OROR)))
        return a;
    SVal b = eval(s, n->b);
    if (a.k == SV_ERR || b.k == SV_ERR)
        return sv_err;
    if (is_const(a) && is_const(b))
        return fold_binary(s, n->op, a, b, n->pos);
    if (n->op == TK_ANDAND || n->op == TK_OROR) {
        SVal nb = a.k == SV_BOOL || (a.k == SV_VAL && vtype(s, a.v).dt == DT_BOOL) ? b : a;
        if (is_number(s, nb)) {
            error(s, n->pos, "%s needs bool operands, found %s", binary_text(n->op), sval_str(s, nb));
            return sv_err;
        }
    }
    return apply_binary(s, binary_op(n->op), a, b, n->pos, binary_text(n->op));
}

static SVal eval_unary(Sema *s, const AstNode *n)
{
    SVal a = eval(s, n->a);
    if (a.k == SV_ERR)
        return a;
    if (n->op == TK_BANG) {
        if (a.k == SV_BOOL)
            return sv_bool(!a.i);
        if (a.k == SV_VAL && vtype(s, a.v).dt == DT_BOOL)
            return sv_val(emit1(s, TIR_NOT, n->pos, a.v, vtype(s, a.v)));
        error(s, n->pos, "'!' needs a bool operand, found %s", sval_str(s, a));
        return sv_err;
    }
    if (n->op == TK_TILDE) {
        if (a.k == SV_INT)
            return sv_int(~a.i);
        if (a.k == SV_VAL && dtype_is_int(vtype(s, a.v).dt))
            return sv_val(emit1(s, TIR_NOT, n->pos, a.v, vtype(s, a.v)));
        error(s, n->pos, "'~' needs an integer operand, found %s", sval_str(s, a));
        return sv_err;
    }
    if (a.k == SV_INT) {
        if (a.i == INT64_MIN) {
            error(s, n->pos, "integer overflow in a compile-time expression");
            return sv_err;
        }
        return sv_int(-a.i);
    }
    if (a.k == SV_FLOAT)
        return sv_float(-a.f);
    if (a.k == SV_VAL && vtype(s, a.v).dt != DT_BOOL)
        return no_fp8(s, vtype(s, a.v).dt, n->pos, "'-'") ? sv_val(emit1(s, TIR_NEG, n->pos, a.v, vtype(s, a.v)))
                                                          : sv_err;
    error(s, n->pos, "'-' needs a number, found %s", sval_str(s, a));
    return sv_err;
}

static SVal eval_ternary(Sema *s, const AstNode *n)
{
    SVal c = eval(s, n->a);
    if (c.k == SV_ERR)
        return c;
    if (c.k == SV_BOOL)
        return eval(s, c.i ? n->b : n->c);
    if (c.k != SV_VAL || vtype(s, c.v).dt != DT_BOOL) {
        error(s, expr_start(n->a), "the condition of '?:' must be bool, found %s", sval_str(s, c));
        return sv_err;
    }
    if (vtype(s, c.v).rank != 0) {
        error(s, expr_start(n->a), "the condition of '?:' must be a scalar; use where(cond, a, b) on tiles");
        return sv_err;
    }
    SVal ops[3] = { c, eval(s, n->b), eval(s, n->c) };
    if (ops[1].k == SV_ERR || ops[2].k == SV_ERR)
        return sv_err;
    SVal vals[2] = { ops[1], ops[2] };
    DType dt;
    TType shape;
    if (!unify(s, vals, 2, &dt, &shape, n->pos, "'?:'"))
        return sv_err;
    ValId cond = broadcast_to(s, c.v, shape, n->pos);
    ValId args[3] = { cond, vals[0].v, vals[1].v };
    return sv_val(emit(s, TIR_SELECT, n->pos, args, 3, shape));
}

/* --- calls --- */

typedef struct {
    const char *name;
    SVal (*fn)(Sema *s, const AstNode *n);
    int min_args, max_args;
    bool generic; /* written name<...> */
} Builtin;

static bool check_arity(Sema *s, const AstNode *n, const Builtin *b)
{
    if (n->has_targs && !b->generic) {
        error(s, n->pos, "'%s' takes no <...> arguments", b->name);
        return false;
    }
    if (b->generic && !n->has_targs) {
        error(s, n->pos, "'%s' needs compile-time arguments: %s<...>", b->name, b->name);
        return false;
    }
    int na = n->args.len;
    if (na < b->min_args || na > b->max_args) {
        if (b->min_args == b->max_args)
            error(s, n->pos, "'%s' takes %d argument%s, found %d", b->name, b->min_args,
                  b->min_args == 1 ? "" : "s", na);
        else
            error(s, n->pos, "'%s' takes %d to %d arguments, found %d", b->name, b->min_args, b->max_args, na);
        return false;
    }
    if (!n->has_args && b->min_args > 0) {
        error(s, n->pos, "'%s' needs arguments in parentheses", b->name);
        return false;
    }
    return true;
}

/* A compile-time integer argument. */
static bool const_int_arg(Sema *s, const AstNode *n, int64_t *out, const char *what)
{
    SVal v = eval(s, n);
    if (v.k == SV_ERR)
        return false;
    if (v.k != SV_INT) {
        error(s, n->pos, "%s must be a compile-time integer, found %s", what, sval_str(s, v));
        return false;
    }
    *out = v.i;
    return true;
}

static bool axis_arg(Sema *s, const AstNode *n, int rank, int *axis)
{
    int64_t a;
    if (!const_int_arg(s, n, &a, "the axis"))
        return false;
    if (a < 0 || a >= rank) {
        error(s, n->pos, "axis %lld is out of range for a tile of rank %d", (long long)a, rank);
        return false;
    }
    *axis = (int)a;
    return true;
}

static SVal tile_arg(Sema *s, const AstNode *n, const char *fname, int rank)
{
    SVal v = eval(s, n);
    if (v.k == SV_ERR)
        return v;
    if (v.k != SV_VAL || (rank >= 0 && vtype(s, v.v).rank != rank)) {
        if (rank == 2)
            error(s, n->pos, "'%s' needs a 2-D tile, found %s", fname, sval_str(s, v));
        else
            error(s, n->pos, "'%s' needs a tile, found %s", fname, sval_str(s, v));
        return sv_err;
    }
    return v;
}

static SVal b_program_id(Sema *s, const AstNode *n)
{
    if (s->in_grid) {
        error(s, n->pos, "'%s' cannot be used in the grid", n->name);
        return sv_err;
    }
    int64_t axis;
    if (!const_int_arg(s, n->args.data[0], &axis, "the axis"))
        return sv_err;
    if (axis < 0 || axis > 2) {
        error(s, n->args.data[0]->pos, "the axis of '%s' must be 0, 1 or 2", n->name);
        return sv_err;
    }
    ValId v = emit(s, strcmp(n->name, "program_id") == 0 ? TIR_PROGRAM_ID : TIR_NUM_PROGRAMS, n->pos, NULL, 0,
                   ttype_scalar(DT_I32));
    tir_inst(s->f, tir_val(s->f, v)->def)->axis = (int)axis;
    return sv_val(v);
}

static SVal b_minmax(Sema *s, const AstNode *n)
{
    bool is_min = strcmp(n->name, "min") == 0;
    SVal a = eval(s, n->args.data[0]), b = eval(s, n->args.data[1]);
    if (a.k == SV_ERR || b.k == SV_ERR)
        return sv_err;
    if ((a.k == SV_INT || a.k == SV_FLOAT) && (b.k == SV_INT || b.k == SV_FLOAT)) {
        SVal lt = fold_binary(s, TK_LT, a, b, n->pos);
        return (lt.i != 0) == is_min ? a : b;
    }
    return apply_binary(s, is_min ? TIR_MIN : TIR_MAX, a, b, n->pos, is_min ? "'min'" : "'max'");
}

static SVal b_cdiv(Sema *s, const AstNode *n)
{
    SVal a = eval(s, n->args.data[0]), b = eval(s, n->args.data[1]);
    if (a.k == SV_ERR || b.k == SV_ERR)
        return sv_err;
    if (a.k == SV_INT && b.k == SV_INT) {
        if (b.i <= 0) {
            error(s, n->args.data[1]->pos, "cdiv needs a positive divisor");
            return sv_err;
        }
        return sv_int(tsr_cdiv(a.i, b.i));
    }
    SVal ops[2] = { a, b };
    DType dt;
    TType shape;
    if (!unify(s, ops, 2, &dt, &shape, n->pos, "'cdiv'"))
        return sv_err;
    if (dt != DT_I32) {
        error(s, n->pos, "'cdiv' needs integer operands, found %s", dtype_name(dt));
        return sv_err;
    }
    /* The exact ceiling, as the fold computes it (tsr_cdiv): the truncated
     * quotient, plus one when the remainder is non-zero and has the divisor's
     * sign. Never overflows; a zero divisor gives what '/' and '%' give. */
    SrcPos pos = n->pos;
    TType bt = shape;
    bt.dt = DT_BOOL;
    ValId zero = broadcast_to(s, tir_const_int(s->f, s->cur, pos, DT_I32, 0), shape, pos);
    ValId one = broadcast_to(s, tir_const_int(s->f, s->cur, pos, DT_I32, 1), shape, pos);
    ValId ab[2] = { ops[0].v, ops[1].v };
    ValId q = emit(s, TIR_DIV, pos, ab, 2, shape);
    ValId r = emit(s, TIR_REM, pos, ab, 2, shape);
    ValId rz[2] = { r, zero }, bz[2] = { ops[1].v, zero };
    ValId both_pos[2] = { emit(s, TIR_GT, pos, rz, 2, bt), emit(s, TIR_GT, pos, bz, 2, bt) };
    ValId both_neg[2] = { emit(s, TIR_LT, pos, rz, 2, bt), emit(s, TIR_LT, pos, bz, 2, bt) };
    ValId either[2] = { emit(s, TIR_AND, pos, both_pos, 2, bt), emit(s, TIR_AND, pos, both_neg, 2, bt) };
    ValId up = emit(s, TIR_OR, pos, either, 2, bt);
    ValId q1[2] = { q, one };
    ValId sel[3] = { up, emit(s, TIR_ADD, pos, q1, 2, shape), q };
    return sv_val(emit(s, TIR_SELECT, pos, sel, 3, shape));
}

static TirOp math_op(const char *name)
{
    static const struct {
        const char *name;
        TirOp op;
    } table[] = { { "exp", TIR_EXP },     { "exp2", TIR_EXP2 },       { "log", TIR_LOG },     { "log2", TIR_LOG2 },
                  { "sqrt", TIR_SQRT },   { "rsqrt", TIR_RSQRT },     { "abs", TIR_ABS },     { "tanh", TIR_TANH },
                  { "sigmoid", TIR_SIGMOID }, { "erf", TIR_ERF },     { "sin", TIR_SIN },     { "cos", TIR_COS },
                  { "floor", TIR_FLOOR }, { "ceil", TIR_CEIL },       { "round", TIR_ROUND }, { "log1p", TIR_LOG1P },
                  { "expm1", TIR_EXPM1 } };
    for (size_t i = 0; i < TSR_ARRAY_LEN(table); i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].op;
    tsr_unreachable();
}

static double fold_math(TirOp op, double x)
{
    switch (op) {
    case TIR_EXP: return exp(x);
    case TIR_EXP2: return exp2(x);
    case TIR_LOG: return log(x);
    case TIR_LOG2: return log2(x);
    case TIR_SQRT: return sqrt(x);
    case TIR_RSQRT: return 1.0 / sqrt(x);
    case TIR_TANH: return tanh(x);
    case TIR_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case TIR_ERF: return erf(x);
    case TIR_SIN: return sin(x);
    case TIR_COS: return cos(x);
    case TIR_FLOOR: return floor(x);
    case TIR_CEIL: return ceil(x);
    case TIR_ROUND: return nearbyint(x);
    case TIR_LOG1P: return log1p(x);
    case TIR_EXPM1: return expm1(x);
    default: return fabs(x);
    }
}

/* umulhi(a, b): the high 32 bits of the 64-bit product of two u32 values
 * (a Philox round's multiply), as i64 arithmetic: the low 64 bits of the
 * product are exact even where it exceeds i64's range. */
static SVal b_umulhi(Sema *s, const AstNode *n)
{
    SVal ops[2] = { eval(s, n->args.data[0]), eval(s, n->args.data[1]) };
    DType dt;
    TType shape;
    if (ops[0].k == SV_ERR || ops[1].k == SV_ERR)
        return sv_err;
    if (is_const(ops[0]) && is_const(ops[1]))
        ops[0] = const_as(s, ops[0], DT_U32, n->pos); /* typed, so both become u32 */
    if (!unify(s, ops, 2, &dt, &shape, n->pos, "'umulhi'"))
        return sv_err;
    if (dt != DT_U32) {
        error(s, n->pos, "'umulhi' needs u32 operands, found %s", dtype_name(dt));
        return sv_err;
    }
    TType wide = shape;
    wide.dt = DT_I64;
    ValId w[2] = { emit1(s, TIR_CAST, n->pos, ops[0].v, wide), emit1(s, TIR_CAST, n->pos, ops[1].v, wide) };
    ValId prod = emit(s, TIR_MUL, n->pos, w, 2, wide);
    ValId sh[2] = { prod, broadcast_to(s, tir_const_int(s->f, s->cur, n->pos, DT_I64, 32), wide, n->pos) };
    ValId hi = emit(s, TIR_SHR, n->pos, sh, 2, wide);
    return sv_val(emit1(s, TIR_CAST, n->pos, hi, shape));
}

/* pow(x, y): elementwise with broadcasting, floats only; constants fold in
 * double precision (C's pow). */
static SVal b_pow(Sema *s, const AstNode *n)
{
    SVal a = eval(s, n->args.data[0]), b = eval(s, n->args.data[1]);
    if (a.k == SV_ERR || b.k == SV_ERR)
        return sv_err;
    if ((a.k == SV_INT || a.k == SV_FLOAT) && (b.k == SV_INT || b.k == SV_FLOAT))
        return sv_float(pow(a.k == SV_INT ? (double)a.i : a.f, b.k == SV_INT ? (double)b.i : b.f));
    SVal ops[2] = { a, b };
    DType dt;
    TType shape;
    if (!unify(s, ops, 2, &dt, &shape, n->pos, "'pow'"))
        return sv_err;
    if (!dtype_is_float(dt)) {
        error(s, n->pos, "'pow' needs float operands, found %s", dtype_name(dt));
        return sv_err;
    }
    ValId args[2] = { ops[0].v, ops[1].v };
    return sv_val(emit(s, TIR_POW, n->pos, args, 2, shape));
}

static SVal b_math(Sema *s, const AstNode *n)
{
    TirOp op = math_op(n->name);
    SVal a = eval(s, n->args.data[0]);
    if (a.k == SV_ERR)
        return a;
    if (op == TIR_ABS && a.k == SV_INT) {
        if (a.i == INT64_MIN) {
            error(s, n->pos, "integer overflow in a compile-time expression");
            return sv_err;
        }
        return sv_int(a.i < 0 ? -a.i : a.i);
    }
    if (a.k == SV_INT || a.k == SV_FLOAT)
        return sv_float(fold_math(op, a.k == SV_INT ? (double)a.i : a.f));
    if (a.k != SV_VAL) {
        error(s, n->pos, "'%s' needs a number, found %s", n->name, sval_str(s, a));
        return sv_err;
    }
    TType t = vtype(s, a.v);
    if (!dtype_is_float(t.dt) && !(op == TIR_ABS && dtype_is_int(t.dt))) {
        error(s, n->pos, "'%s' needs a float operand, found %s", n->name, type_str(s, t));
        return sv_err;
    }
    if (!no_fp8(s, t.dt, n->pos, arena_printf(s->scratch, "'%s'", n->name)))
        return sv_err;
    return sv_val(emit1(s, op, n->pos, a.v, t));
}

static SVal b_where(Sema *s, const AstNode *n)
{
    SVal c = eval(s, n->args.data[0]);
    SVal vals[2] = { eval(s, n->args.data[1]), eval(s, n->args.data[2]) };
    if (c.k == SV_ERR || vals[0].k == SV_ERR || vals[1].k == SV_ERR)
        return sv_err;
    if (c.k == SV_BOOL)
        c = const_as(s, c, DT_BOOL, n->pos);
    if (c.k != SV_VAL || vtype(s, c.v).dt != DT_BOOL) {
        error(s, expr_start(n->args.data[0]), "the condition of 'where' must be bool, found %s", sval_str(s, c));
        return sv_err;
    }
    DType dt;
    TType shape;
    if (!unify(s, vals, 2, &dt, &shape, n->pos, "'where'"))
        return sv_err;
    if (!broadcast_shape(s, shape, vtype(s, c.v), &shape, n->pos, "'where'"))
        return sv_err;
    shape.dt = dt;
    ValId args[3] = { broadcast_to(s, c.v, shape, n->pos), broadcast_to(s, vals[0].v, shape, n->pos),
                      broadcast_to(s, vals[1].v, shape, n->pos) };
    return sv_val(emit(s, TIR_SELECT, n->pos, args, 3, shape));
}

static SVal b_dot(Sema *s, const AstNode *n)
{
    SVal a = tile_arg(s, n->args.data[0], "dot", 2), b = tile_arg(s, n->args.data[1], "dot", 2);
    if (a.k == SV_ERR || b.k == SV_ERR)
        return sv_err;
    TType ta = vtype(s, a.v), tb = vtype(s, b.v);
    bool fp8 = dtype_is_fp8(ta.dt) && dtype_is_fp8(tb.dt); /* e4m3 and e5m2 mix, as in the ISA */
    if (!fp8 && (ta.dt != tb.dt || (ta.dt != DT_F16 && ta.dt != DT_BF16 && ta.dt != DT_F32))) {
        error(s, n->pos, "'dot' needs two f16, two bf16, two f32 or two fp8 (e4m3, e5m2) tiles, found %s and %s",
              type_str(s, ta), type_str(s, tb));
        return sv_err;
    }
    if (ta.shape[1] != tb.shape[0]) {
        error(s, n->pos, "'dot' of %s and %s: inner dimensions differ (%d vs %d)", type_str(s, ta),
              type_str(s, tb), ta.shape[1], tb.shape[0]);
        return sv_err;
    }
    int shape[2] = { ta.shape[0], tb.shape[1] };
    TType rt = ttype_tile(DT_F32, 2, shape);
    if (!check_tile_type(s, n->pos, rt))
        return sv_err;
    ValId args[2] = { a.v, b.v };
    return sv_val(emit(s, TIR_DOT, n->pos, args, 2, rt));
}

static SVal b_transpose(Sema *s, const AstNode *n)
{
    SVal a = tile_arg(s, n->args.data[0], "transpose", 2);
    if (a.k == SV_ERR)
        return a;
    TType t = vtype(s, a.v);
    int shape[2] = { t.shape[1], t.shape[0] };
    return sv_val(emit1(s, TIR_TRANSPOSE, n->pos, a.v, ttype_tile(t.dt, 2, shape)));
}

static SVal reduce(Sema *s, const AstNode *n, ReduceKind kind, SVal a, int axis)
{
    TType t = vtype(s, a.v);
    if (t.dt == DT_BOOL) {
        error(s, n->pos, "'%s' is not defined on bool tiles", n->name);
        return sv_err;
    }
    if (!no_fp8(s, t.dt, n->pos, arena_printf(s->scratch, "'%s'", n->name)))
        return sv_err;
    if (dtype_is_int(t.dt) && t.dt != DT_I32) {
        /* the GPU's shuffles and reduction scratch hold 32-bit values */
        error(s, n->pos, "'%s' of %s tiles is not supported (yet); convert to i32 or f32 first", n->name,
              dtype_name(t.dt));
        return sv_err;
    }
    TType rt = ttype_scalar(t.dt);
    for (int i = 0; i < t.rank; i++)
        if (i != axis)
            rt.shape[rt.rank++] = t.shape[i];
    ValId v = emit1(s, TIR_REDUCE, n->pos, a.v, rt);
    TirInst *in = tir_inst(s->f, tir_val(s->f, v)->def);
    in->axis = axis;
    in->kind = (int)kind;
    return sv_val(v);
}

static ReduceKind reduce_kind(const char *name)
{
    if (strstr(name, "sum"))
        return REDUCE_SUM;
    if (strstr(name, "max"))
        return REDUCE_MAX;
    return REDUCE_MIN;
}

/* rowsum, rowmax, rowmin, colsum, colmax, colmin on 2-D tiles */
static SVal b_rowcol(Sema *s, const AstNode *n)
{
    SVal a = tile_arg(s, n->args.data[0], n->name, 2);
    if (a.k == SV_ERR)
        return a;
    return reduce(s, n, reduce_kind(n->name), a, n->name[0] == 'r' ? 1 : 0);
}

/* reduce_sum(x, axis), reduce_max(x, axis), reduce_min(x, axis) */
static SVal b_reduce(Sema *s, const AstNode *n)
{
    SVal a = tile_arg(s, n->args.data[0], n->name, -1);
    if (a.k == SV_ERR)
        return a;
    TType t = vtype(s, a.v);
    if (t.rank == 0) {
        error(s, n->args.data[0]->pos, "'%s' needs a tile, found a scalar", n->name);
        return sv_err;
    }
    int axis = 0;
    if (n->args.len > 1 && !axis_arg(s, n->args.data[1], t.rank, &axis))
        return sv_err;
    if (n->args.len == 1 && t.rank != 1) {
        error(s, n->pos, "'%s' of a %d-D tile needs an axis", n->name, t.rank);
        return sv_err;
    }
    return reduce(s, n, reduce_kind(n->name), a, axis);
}

static bool type_targ(Sema *s, const AstNode *n, DType *dt)
{
    SVal t = eval(s, n);
    if (t.k == SV_ERR)
        return false;
    if (t.k != SV_TYPE) {
        error(s, n->pos, "expected a type, found %s", sval_str(s, t));
        return false;
    }
    *dt = t.dt;
    return true;
}

static bool shape_list(Sema *s, const AstNode *n, const AstList *l, TType *t)
{
    if (l->len < 1 || l->len > 2) {
        error(s, n->pos, "a tile has 1 or 2 dimensions, found %d", l->len);
        return false;
    }
    t->rank = l->len;
    for (int i = 0; i < l->len; i++) {
        int64_t d;
        if (!const_int_arg(s, l->data[i], &d, "a tile dimension"))
            return false;
        if (d <= 0 || d > SEMA_MAX_TILE_ELEMS) {
            error(s, l->data[i]->pos, "tile dimension %lld is out of range", (long long)d);
            return false;
        }
        t->shape[i] = (int)d;
    }
    return check_tile_type(s, n->pos, *t);
}

/* reshape<D0[, D1]>(x): x's elements in row-major order, in a tile of
 * that shape (as many elements). */
static SVal b_reshape(Sema *s, const AstNode *n)
{
    TType t = ttype_scalar(DT_F32);
    if (!shape_list(s, n, &n->targs, &t))
        return sv_err;
    SVal a = tile_arg(s, n->args.data[0], "reshape", -1);
    if (a.k == SV_ERR)
        return a;
    TType at = vtype(s, a.v);
    t.dt = at.dt;
    if (at.rank == 0) {
        error(s, n->args.data[0]->pos, "'reshape' needs a tile, found %s; make a tile with x[None]", type_str(s, at));
        return sv_err;
    }
    if (ttype_numel(at) != ttype_numel(t)) {
        error(s, n->pos, "cannot reshape %s (%lld elements) to %s (%lld)", type_str(s, at), (long long)ttype_numel(at),
              type_str(s, t), (long long)ttype_numel(t));
        return sv_err;
    }
    return ttype_eq(at, t) ? a : sv_val(emit1(s, TIR_RESHAPE, n->pos, a.v, t));
}

/* zeros<T>[shape], ones<T>[shape], full<T>[shape](value) */
static SVal b_fill(Sema *s, const AstNode *n)
{
    bool is_full = strcmp(n->name, "full") == 0;
    if (n->targs.len != 1) {
        error(s, n->pos, "'%s' takes one type: %s<T>[...]", n->name, n->name);
        return sv_err;
    }
    if (!n->has_shape) {
        error(s, n->pos, "'%s' needs a shape: %s<T>[D0, D1]", n->name, n->name);
        return sv_err;
    }
    TType t = ttype_scalar(DT_F32);
    if (!type_targ(s, n->targs.data[0], &t.dt) || !shape_list(s, n, &n->shape, &t))
        return sv_err;
    SVal v = is_full ? eval(s, n->args.data[0]) : sv_int(strcmp(n->name, "ones") == 0);
    if (v.k == SV_ERR)
        return v;
    if (t.dt == DT_BOOL && v.k == SV_INT && !is_full)
        v = sv_bool(v.i != 0);
    v = const_as(s, v, t.dt, is_full ? expr_start(n->args.data[0]) : n->pos);
    if (v.k == SV_ERR)
        return v;
    TType vt = vtype(s, v.v);
    if (vt.rank != 0 || vt.dt != t.dt) {
        error(s, n->args.data[0]->pos, "the value of 'full' must be a %s scalar, found %s", dtype_name(t.dt),
              type_str(s, vt));
        return sv_err;
    }
    return sv_val(emit1(s, TIR_SPLAT, n->pos, v.v, t));
}

/* arange<N>(start = 0): i32[N] of start, start+1, ... */
static SVal b_arange(Sema *s, const AstNode *n)
{
    int64_t len;
    if (n->targs.len != 1) {
        error(s, n->pos, "'arange' takes one length: arange<N>(start)");
        return sv_err;
    }
    if (!const_int_arg(s, n->targs.data[0], &len, "the length of 'arange'"))
        return sv_err;
    if (len <= 0 || len > SEMA_MAX_TILE_ELEMS) {
        error(s, n->targs.data[0]->pos, "the length of 'arange' is out of range");
        return sv_err;
    }
    int shape[1] = { (int)len };
    TType t = ttype_tile(DT_I32, 1, shape);
    if (!check_tile_type(s, n->pos, t))
        return sv_err;
    SVal start = n->args.len ? eval(s, n->args.data[0]) : sv_int(0);
    start = const_as(s, start, DT_I32, n->pos);
    if (start.k == SV_ERR)
        return start;
    TType st = vtype(s, start.v);
    if (st.rank != 0 || st.dt != DT_I32) {
        error(s, n->args.data[0]->pos, "the start of 'arange' must be an i32 scalar, found %s", type_str(s, st));
        return sv_err;
    }
    return sv_val(emit1(s, TIR_ARANGE, n->pos, start.v, t));
}

static SVal cast_to(Sema *s, DType dt, const AstNode *arg, SrcPos pos)
{
    SVal a = eval(s, arg);
    if (a.k == SV_ERR)
        return a;
    if (is_const(a)) {
        /* Constants convert at compile time (float to int truncates). */
        if (dt == DT_BOOL)
            a = sv_bool(a.k == SV_FLOAT ? a.f != 0 : a.i != 0);
        else if (dtype_is_int(dt) && a.k == SV_FLOAT) {
            /* truncated toward zero, and then it must fit */
            if (!(a.f > -9223372036854775808.0 && a.f < 9223372036854775808.0) || !int_fits((int64_t)a.f, dt)) {
                error(s, pos, "the constant %g does not fit in %s", a.f, dtype_name(dt));
                return sv_err;
            }
            a = sv_int((int64_t)a.f);
        } else if (a.k == SV_BOOL)
            a = sv_int(a.i);
        else if (dtype_is_int(dt))
            a = sv_int(int_wrap(a.i, dt)); /* wraps, as at run time: u32(-1) == 0xFFFFFFFF */
        /* An explicit conversion rounds like one at run time, to inf if need
         * be (const_as would refuse a constant that overflows the dtype). */
        if (dtype_is_float(dt))
            return sv_val(tir_const_float(s->f, s->cur, pos, dt, a.k == SV_INT ? (double)a.i : a.f));
        return const_as(s, a, dt, pos);
    }
    if (a.k != SV_VAL) {
        error(s, pos, "cannot convert %s to %s", sval_str(s, a), dtype_name(dt));
        return sv_err;
    }
    TType t = vtype(s, a.v);
    if (t.dt == dt)
        return a;
    TType rt = t;
    rt.dt = dt;
    return sv_val(emit1(s, TIR_CAST, pos, a.v, rt));
}

static SVal b_atomic(Sema *s, const AstNode *n);
static SVal b_print(Sema *s, const AstNode *n);
static SVal b_assert(Sema *s, const AstNode *n);

static const Builtin builtins[] = {
    { "device_print", b_print, 1, 1 + TIR_MAX_PRINTED, false },
    { "device_assert", b_assert, 2, 2, false },
    { "atomic_add", b_atomic, 2, 3, false },
    { "atomic_max", b_atomic, 2, 3, false },
    { "atomic_min", b_atomic, 2, 3, false },
    { "program_id", b_program_id, 1, 1, false },
    { "num_programs", b_program_id, 1, 1, false },
    { "min", b_minmax, 2, 2, false },
    { "max", b_minmax, 2, 2, false },
    { "cdiv", b_cdiv, 2, 2, false },
    { "exp", b_math, 1, 1, false },
    { "exp2", b_math, 1, 1, false },
    { "log", b_math, 1, 1, false },
    { "log2", b_math, 1, 1, false },
    { "sqrt", b_math, 1, 1, false },
    { "rsqrt", b_math, 1, 1, false },
    { "abs", b_math, 1, 1, false },
    { "tanh", b_math, 1, 1, false },
    { "sigmoid", b_math, 1, 1, false },
    { "erf", b_math, 1, 1, false },
    { "sin", b_math, 1, 1, false },
    { "cos", b_math, 1, 1, false },
    { "floor", b_math, 1, 1, false },
    { "ceil", b_math, 1, 1, false },
    { "round", b_math, 1, 1, false },
    { "log1p", b_math, 1, 1, false },
    { "expm1", b_math, 1, 1, false },
    { "pow", b_pow, 2, 2, false },
    { "umulhi", b_umulhi, 2, 2, false },
    { "where", b_where, 3, 3, false },
    { "dot", b_dot, 2, 2, false },
    { "transpose", b_transpose, 1, 1, false },
    { "rowsum", b_rowcol, 1, 1, false },
    { "rowmax", b_rowcol, 1, 1, false },
    { "rowmin", b_rowcol, 1, 1, false },
    { "colsum", b_rowcol, 1, 1, false },
    { "colmax", b_rowcol, 1, 1, false },
    { "colmin", b_rowcol, 1, 1, false },
    { "reduce_sum", b_reduce, 1, 2, false },
    { "reduce_max", b_reduce, 1, 2, false },
    { "reduce_min", b_reduce, 1, 2, false },
    { "zeros", b_fill, 0, 0, true },
    { "ones", b_fill, 0, 0, true },
    { "full", b_fill, 1, 1, true },
    { "arange", b_arange, 0, 1, true },
    { "reshape", b_reshape, 1, 1, true },
};

static SVal eval_call(Sema *s, const AstNode *n)
{
    if (n->a) /* a dtype keyword called as a cast */
        return n->args.len == 1 ? cast_to(s, (DType)n->a->ival, n->args.data[0], n->pos)
                                : (error(s, n->pos, "a conversion to %s takes one argument", n->name), sv_err);
    Binding *b = lookup(s, n->name);
    if (b) {
        if (b->kind == BIND_VALUE && b->val.k == SV_TYPE) {
            if (n->args.len != 1 || n->has_targs) {
                error(s, n->pos, "a conversion to %s takes one argument", dtype_name(b->val.dt));
                return sv_err;
            }
            return cast_to(s, b->val.dt, n->args.data[0], n->pos);
        }
        error(s, n->pos, "'%s' is not a function", n->name);
        return sv_err;
    }
    for (size_t i = 0; i < TSR_ARRAY_LEN(builtins); i++) {
        if (strcmp(builtins[i].name, n->name) != 0)
            continue;
        if (!check_arity(s, n, &builtins[i]))
            return sv_err;
        return builtins[i].fn(s, n);
    }
    Suggest sg;
    suggest_init(&sg, n->name);
    for (size_t i = 0; i < TSR_ARRAY_LEN(builtins); i++)
        suggest_consider(&sg, builtins[i].name);
    for (int t = 0; t < DT_COUNT; t++)
        suggest_consider(&sg, dtype_name((DType)t));
    error(s, n->pos, "unknown function '%s'%s", n->name, suggestion(s->scratch, &sg));
    return sv_err;
}

static bool is_builtin(const char *name)
{
    for (size_t i = 0; i < TSR_ARRAY_LEN(builtins); i++)
        if (!strcmp(builtins[i].name, name))
            return true;
    return false;
}

/* --- indexing --- */

/* An integer index (scalar or tile) as the i32 that loads and stores take:
 * u32 and i64 values beyond the i32 range saturate, which keeps them outside
 * every tensor (dims are below 2^31), so the bounds rule still holds. */
static ValId index_as_i32(Sema *s, ValId v, SrcPos pos)
{
    TType t = vtype(s, v);
    DType dt = t.dt;
    if (dt == DT_I32)
        return v;
    if (dt == DT_U32 || dt == DT_I64) {
        ValId hi[2] = { v, broadcast_to(s, tir_const_int(s->f, s->cur, pos, dt, INT32_MAX), t, pos) };
        v = emit(s, TIR_MIN, pos, hi, 2, t);
    }
    if (dt == DT_I64) {
        ValId lo[2] = { v, broadcast_to(s, tir_const_int(s->f, s->cur, pos, dt, INT32_MIN), t, pos) };
        v = emit(s, TIR_MAX, pos, lo, 2, t);
    }
    t.dt = DT_I32;
    return emit1(s, TIR_CAST, pos, v, t);
}

/* A tensor index: an integer scalar, or (when `tiles` is set) an integer
 * tile of coordinates, a gather or scatter (dsl/README.md §8.2). */
static bool point_index(Sema *s, const AstNode *n, bool tiles, ValId *out)
{
    SVal v = eval(s, n);
    if (v.k == SV_ERR)
        return false;
    v = const_as(s, v, DT_I32, n->pos);
    if (v.k == SV_ERR)
        return false;
    TType t = vtype(s, v.v);
    if ((t.rank != 0 && !tiles) || !dtype_is_int(t.dt)) {
        error(s, n->pos, "a tensor index must be an integer scalar%s, found %s", tiles ? " or tile" : "",
              type_str(s, t));
        return false;
    }
    *out = index_as_i32(s, v.v, n->pos);
    return true;
}

static bool scalar_index(Sema *s, const AstNode *n, ValId *out) { return point_index(s, n, false, out); }

/* The TIR form of tensor[items]: the fields of a load or store (slices), or
 * of a gather or scatter (indexed: idx[d] is an i32 scalar or a tile of the
 * element shape `tile`). */
typedef struct {
    int param;
    ValId idx[TIR_MAX_RANK];
    int lens[TIR_MAX_RANK];
    TType tile;
    bool indexed;
} Access;

/* Index tiles (and scalars) broadcast together to the shape of the gathered
 * tile; slices cannot be mixed with them. */
static bool indexed_shape(Sema *s, const AstNode *n, Access *acc)
{
    const TirParam *p = &s->f->params.data[acc->param];
    TType shape = ttype_scalar(p->dt);
    for (int d = 0; d < p->rank; d++) {
        if (acc->lens[d]) {
            error(s, n->args.data[d]->pos,
                  "a slice cannot be mixed with index tiles; write its coordinates as a tile, e.g. "
                  "arange<LEN>(start)[None, :]");
            return false;
        }
        if (!broadcast_shape(s, shape, vtype(s, acc->idx[d]), &shape, n->args.data[d]->pos, "a tensor index"))
            return false;
    }
    shape.dt = p->dt; /* index tiles have one rank (broadcast_shape), so at most 2 */
    for (int d = 0; d < p->rank; d++)
        if (vtype(s, acc->idx[d]).rank)
            acc->idx[d] = broadcast_to(s, acc->idx[d], shape, n->args.data[d]->pos);
    acc->tile = shape;
    acc->indexed = true;
    return true;
}

static bool tensor_access(Sema *s, const AstNode *n, int param, Access *acc)
{
    const TirParam *p = &s->f->params.data[param];
    for (int d = 0; d < n->args.len; d++)
        if (n->args.data[d]->kind == AST_NEWAXIS) {
            error(s, n->args.data[d]->pos,
                  "'None' adds an axis to a tile, not to a tensor: load the slice, then index the tile");
            return false;
        }
    if (n->args.len != p->rank) {
        error(s, n->pos, "tensor '%s' has %d dimension%s, but %d index%s given", p->name, p->rank,
              p->rank == 1 ? "" : "s", n->args.len, n->args.len == 1 ? " is" : "es are");
        return false;
    }
    acc->param = param;
    acc->tile = ttype_scalar(p->dt);
    acc->indexed = false;
    bool ok = true, tiles = false;
    for (int d = 0; d < p->rank; d++) {
        const AstNode *it = n->args.data[d];
        acc->lens[d] = 0;
        if (it->kind == AST_FULL) {
            if (p->dim_sym[d] != TIR_NONE) {
                error(s, it->pos, "':' needs a dimension known at compile time, but dimension %d of '%s' is '%s'; "
                      "write START : +LENGTH", d, p->name, s->f->syms.data[p->dim_sym[d]].name);
                ok = false;
                continue;
            }
            acc->idx[d] = tir_const_int(s->f, s->cur, it->pos, DT_I32, 0);
            acc->lens[d] = (int)p->dim_const[d];
        } else if (it->kind == AST_SLICE) {
            int64_t len;
            if (!scalar_index(s, it->a, &acc->idx[d]) || !const_int_arg(s, it->b, &len, "a slice length")) {
                ok = false;
                continue;
            }
            if (len <= 0 || len > SEMA_MAX_TILE_ELEMS) {
                error(s, it->b->pos, "slice length %lld is out of range", (long long)len);
                ok = false;
                continue;
            }
            acc->lens[d] = (int)len;
        } else if (!point_index(s, it, true, &acc->idx[d])) {
            ok = false;
            continue;
        }
        tiles |= it->kind != AST_FULL && it->kind != AST_SLICE && vtype(s, acc->idx[d]).rank > 0;
        if (acc->lens[d])
            acc->tile.shape[acc->tile.rank++] = acc->lens[d];
    }
    if (!ok)
        return false;
    if (tiles)
        return indexed_shape(s, n, acc);
    if (acc->tile.rank > 2) {
        error(s, n->pos, "a tile has at most 2 dimensions; this slice of '%s' has %d", p->name, acc->tile.rank);
        return false;
    }
    return check_tile_type(s, n->pos, acc->tile);
}

/* A slice access in the indexed form: each slice's coordinates as an
 * arange along its tile dimension (for a masked store or an atomic). */
static void access_as_indexed(Sema *s, Access *acc, SrcPos pos)
{
    if (acc->indexed)
        return;
    const TirParam *p = &s->f->params.data[acc->param];
    TType it = acc->tile;
    it.dt = DT_I32;
    for (int d = 0, t = 0; d < p->rank; d++) {
        if (!acc->lens[d])
            continue;
        ValId v = emit1(s, TIR_ARANGE, pos, acc->idx[d], ttype_tile(DT_I32, 1, &acc->lens[d]));
        if (it.rank == 2) { /* [L] as [L, 1] or [1, L] */
            int shape[2] = { t == 0 ? acc->lens[d] : 1, t == 0 ? 1 : acc->lens[d] };
            v = emit1(s, TIR_EXPAND_DIMS, pos, v, ttype_tile(DT_I32, 2, shape));
            tir_inst(s->f, tir_val(s->f, v)->def)->axis = t == 0 ? 1 : 0;
        }
        acc->idx[d] = broadcast_to(s, v, it, pos);
        t++;
    }
    acc->indexed = true;
}

/* A load, or a gather when the access is indexed; returns the tile. */
static ValId emit_load(Sema *s, const Access *acc, SrcPos pos)
{
    const TirParam *p = &s->f->params.data[acc->param];
    InstId id = tir_append(s->f, s->cur, acc->indexed ? TIR_GATHER : TIR_LOAD, pos, acc->idx, p->rank, &acc->tile, 1);
    TirInst *in = tir_inst(s->f, id);
    in->param = acc->param;
    for (int d = 0; d < p->rank; d++)
        in->lens[d] = acc->lens[d];
    return in->res[0];
}

/* A store of `value` (already of the tile's type), or a scatter of kind
 * `kind` under `mask` (a bool scalar or tile of the tile's shape; TIR_NONE:
 * every element) when the access is indexed or anything but a plain store. */
static void emit_store(Sema *s, Access *acc, SrcPos pos, ValId value, ValId mask, ScatterKind kind)
{
    const TirParam *p = &s->f->params.data[acc->param];
    ValId args[TIR_MAX_RANK + 2];
    if (mask != TIR_NONE || kind != SCATTER_STORE)
        access_as_indexed(s, acc, pos);
    for (int d = 0; d < p->rank; d++)
        args[d] = acc->idx[d];
    int nargs = p->rank;
    if (acc->indexed)
        args[nargs++] = mask != TIR_NONE ? mask : tir_const_int(s->f, s->cur, pos, DT_BOOL, 1);
    args[nargs++] = value;
    InstId id = tir_append(s->f, s->cur, acc->indexed ? TIR_SCATTER : TIR_STORE, pos, args, nargs, NULL, 0);
    TirInst *in = tir_inst(s->f, id);
    in->param = acc->param;
    in->kind = kind;
    for (int d = 0; d < p->rank; d++)
        in->lens[d] = acc->indexed ? 0 : acc->lens[d];
}

/* tile[items] with ':' and None: adds axes of size 1. */
static SVal tile_index(Sema *s, const AstNode *n, SVal base)
{
    TType t = vtype(s, base.v);
    int nfull = 0;
    for (int i = 0; i < n->args.len; i++) {
        AstKind k = n->args.data[i]->kind;
        if (k != AST_FULL && k != AST_NEWAXIS) {
            error(s, n->args.data[i]->pos, "tiles can be indexed only with ':' and None (to add an axis)");
            return sv_err;
        }
        nfull += k == AST_FULL;
    }
    if (nfull != t.rank) {
        error(s, n->pos, "indexing a tile of rank %d needs %d ':' items, found %d", t.rank, t.rank, nfull);
        return sv_err;
    }
    if (n->args.len > 2) {
        error(s, n->pos, "a tile has at most 2 dimensions");
        return sv_err;
    }
    ValId v = base.v;
    for (int i = 0; i < n->args.len; i++) {
        if (n->args.data[i]->kind != AST_NEWAXIS)
            continue;
        TType cur = vtype(s, v), rt = cur;
        rt.rank++;
        for (int d = cur.rank; d > i; d--)
            rt.shape[d] = cur.shape[d - 1];
        rt.shape[i] = 1;
        v = emit1(s, TIR_EXPAND_DIMS, n->pos, v, rt);
        tir_inst(s->f, tir_val(s->f, v)->def)->axis = i;
    }
    return sv_val(v);
}

static SVal eval_index(Sema *s, const AstNode *n)
{
    SVal base = eval(s, n->a);
    if (base.k == SV_ERR)
        return base;
    if (base.k == SV_TENSOR) {
        if (s->in_grid) {
            error(s, n->pos, "tensors cannot be read in the grid");
            return sv_err;
        }
        Access acc;
        if (!tensor_access(s, n, base.param, &acc))
            return sv_err;
        return sv_val(emit_load(s, &acc, n->pos));
    }
    if (base.k == SV_VAL)
        return tile_index(s, n, base);
    error(s, n->pos, "%s cannot be indexed", sval_str(s, base));
    return sv_err;
}

static SVal eval(Sema *s, const AstNode *n)
{
    switch (n->kind) {
    case AST_INT: return sv_int(n->ival);
    case AST_FLOAT: return sv_float(n->fval);
    case AST_BOOL: return sv_bool(n->ival != 0);
    case AST_INF: return sv_float(INFINITY);
    case AST_NAME: return eval_name(s, n);
    case AST_DTYPE: return sv_type((DType)n->ival);
    case AST_UNARY: return eval_unary(s, n);
    case AST_BINARY: return eval_binary(s, n);
    case AST_TERNARY: return eval_ternary(s, n);
    case AST_CALL: return eval_call(s, n);
    case AST_INDEX: return eval_index(s, n);
    case AST_SLICE:
    case AST_FULL:
    case AST_NEWAXIS: error(s, n->pos, "a slice can only appear inside [...]"); return sv_err;
    case AST_STRING:
        error(s, n->pos, "a string can only be an argument of device_print or device_assert");
        return sv_err;
    default: tsr_die("statement node %d evaluated as an expression", n->kind);
    }
}

/* ------------------------------------------------------------- statements */

static void check_block(Sema *s, const AstNode *block);
static void check_stmt(Sema *s, const AstNode *n);

/* What a `let` name holds, for messages: "constant" only for compile-time
 * values, else what kind of value it names. */
static const char *let_what(Sema *s, SVal v)
{
    if (v.k == SV_INT || v.k == SV_FLOAT || v.k == SV_BOOL || v.k == SV_TYPE)
        return "constant";
    if (v.k == SV_VAL)
        return vtype(s, v.v).rank ? "tile bound with 'let'" : "value bound with 'let'";
    return "name bound with 'let'";
}

static void check_let(Sema *s, const AstNode *n)
{
    if (!n->a)
        return;
    SVal v = eval(s, n->a);
    if (v.k == SV_TENSOR) {
        error(s, n->a->pos, "a tensor cannot be bound to a name; slice it to load a tile");
        v = sv_err;
    }
    Binding b = value_binding(n->name, n->pos, v, n->kind == AST_VAR ? "variable" : let_what(s, v));
    if (n->kind == AST_VAR) {
        /* Still a variable when its initializer has an error (reported):
         * assignments to it are then skipped silently, not called errors. */
        b.is_var = true;
        if (v.k != SV_ERR) {
            v = as_value(s, v, n->a->pos);
            b.val = v;
            if (v.k == SV_VAL)
                b.type = vtype(s, v.v);
        }
    }
    bind(s, b);
}

/* Converts an assigned value to the target type (dtype exact; shapes
 * broadcast; constants adapt). */
static SVal convert_for_assign(Sema *s, SVal v, TType target, SrcPos pos, const char *what)
{
    if (v.k == SV_ERR)
        return v;
    v = const_as(s, v, target.dt, pos);
    if (v.k != SV_VAL) {
        if (v.k != SV_ERR)
            error(s, pos, "cannot assign %s to %s", sval_str(s, v), what);
        return sv_err;
    }
    TType t = vtype(s, v.v);
    if (t.dt != target.dt) {
        error(s, pos, "cannot assign %s to %s of type %s; convert it with %s(...)", type_str(s, t), what,
              type_str(s, target), dtype_name(target.dt));
        return sv_err;
    }
    /* The value broadcasts to the target: a scalar, or the same rank with
     * each dim equal or 1. */
    bool fits = t.rank == 0 || t.rank == target.rank;
    for (int i = 0; fits && t.rank && i < t.rank; i++)
        fits = t.shape[i] == target.shape[i] || t.shape[i] == 1;
    if (!fits) {
        error(s, pos, "cannot assign %s to %s of type %s", type_str(s, t), what, type_str(s, target));
        return sv_err;
    }
    return sv_val(broadcast_to(s, v.v, target, pos));
}

/* The mask of a masked store or an atomic: a bool scalar, or a bool tile
 * that broadcasts to the stored tile's shape. */
static bool store_mask(Sema *s, const AstNode *n, TType tile, const char *whose, ValId *out)
{
    SVal m = eval(s, n);
    if (m.k == SV_ERR)
        return false;
    m = const_as(s, m, DT_BOOL, n->pos);
    if (m.k == SV_ERR)
        return false;
    TType t = vtype(s, m.v);
    if (t.dt != DT_BOOL) {
        error(s, expr_start(n), "%s mask must be bool, found %s", whose, type_str(s, t));
        return false;
    }
    bool fits = t.rank == 0 || t.rank == tile.rank;
    for (int i = 0; fits && i < t.rank; i++)
        fits = t.shape[i] == tile.shape[i] || t.shape[i] == 1;
    if (!fits) {
        error(s, expr_start(n), "%s mask %s does not broadcast to the tile %s", whose, type_str(s, t),
              type_str(s, tile));
        return false;
    }
    tile.dt = DT_BOOL;
    *out = t.rank ? broadcast_to(s, m.v, tile, expr_start(n)) : m.v;
    return true;
}

static void check_assign(Sema *s, const AstNode *n)
{
    const AstNode *target = n->a;
    if (n->c && target->kind != AST_INDEX) {
        error(s, expr_start(n->c), "'if' masks only stores to tensors; for a variable write x = where(mask, value, x)");
        return;
    }
    if (target->kind == AST_NAME) {
        Binding *b = lookup(s, target->name);
        SVal v = eval(s, n->b);
        if (!b) {
            unknown_name(s, target->pos, target->name);
            return;
        }
        if (!b->is_var) {
            bool is_let = b->kind == BIND_VALUE && (!strcmp(b->what, "constant") || strstr(b->what, "'let'"));
            error(s, target->pos, "cannot assign to '%s': it is a %s%s", target->name, b->what,
                  is_let ? " (declare it with 'var')" : "");
            return;
        }
        if (b->val.k == SV_ERR)
            return;
        char what[160];
        snprintf(what, sizeof what, "variable '%s'", target->name);
        v = convert_for_assign(s, v, b->type, expr_start(n->b), what);
        if (v.k != SV_ERR)
            lookup(s, target->name)->val = v;
        return;
    }
    if (target->kind == AST_INDEX) {
        SVal base = eval(s, target->a);
        if (base.k == SV_ERR)
            return;
        if (base.k != SV_TENSOR) {
            error(s, target->pos, "only tensor slices can be assigned to; tiles are values (assign the whole variable)");
            return;
        }
        const TirParam *p = &s->f->params.data[base.param];
        if (!p->is_out) {
            error(s, target->pos, "cannot store to '%s': it is an input; declare it 'out'", p->name);
            return;
        }
        Access acc;
        if (!tensor_access(s, target, base.param, &acc))
            return;
        char what[160];
        snprintf(what, sizeof what, "a slice of '%s'", p->name);
        SVal v = convert_for_assign(s, eval(s, n->b), acc.tile, expr_start(n->b), what);
        ValId mask = TIR_NONE;
        if (n->c && !store_mask(s, n->c, acc.tile, "a store's", &mask))
            return;
        if (v.k != SV_ERR)
            emit_store(s, &acc, n->pos, v.v, mask, SCATTER_STORE);
        return;
    }
    error(s, target->pos, "cannot assign to this expression");
}

/* Calls that are statements: they have no value (dsl/README.md §6). */
static bool is_statement_call(const char *name)
{
    static const char *const names[] = { "atomic_add", "atomic_max", "atomic_min", "device_print", "device_assert" };
    for (size_t i = 0; i < TSR_ARRAY_LEN(names); i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

/* A statement call's check that it is one. */
static bool called_as_statement(Sema *s, const AstNode *n)
{
    if (s->effect_call == n)
        return true;
    error(s, n->pos, "'%s' has no value: call it as a statement, '%s(...);'", n->name, n->name);
    return false;
}

/* The string argument of device_print or device_assert, or NULL. */
static const char *string_arg(Sema *s, const AstNode *call, const AstNode *a, const char *what)
{
    if (a->kind == AST_STRING)
        return a->name;
    error(s, a->pos, "the %s of '%s' must be a string literal, \"...\"", what, call->name);
    return NULL;
}

/* device_print("text", values...): values of any dtypes, scalars or tiles
 * that broadcast together; one line per element (dsl/README.md §9.1). */
static SVal b_print(Sema *s, const AstNode *n)
{
    if (!called_as_statement(s, n))
        return sv_err;
    const char *text = string_arg(s, n, n->args.data[0], "first argument");
    ValId vals[TIR_MAX_PRINTED];
    TType shape = ttype_scalar(DT_I32);
    bool ok = text != NULL;
    for (int i = 1; i < n->args.len; i++) {
        const AstNode *a = n->args.data[i];
        SVal v = as_value(s, eval(s, a), a->pos);
        if (v.k != SV_VAL || !broadcast_shape(s, shape, vtype(s, v.v), &shape, expr_start(a), "'device_print'")) {
            ok = false;
            continue;
        }
        vals[i - 1] = v.v;
    }
    if (!ok)
        return sv_err;
    for (int i = 0; i < n->args.len - 1; i++)
        if (vtype(s, vals[i]).rank)
            vals[i] = broadcast_to(s, vals[i], shape, n->pos);
    InstId id = tir_append(s->f, s->cur, TIR_PRINT, n->pos, vals, n->args.len - 1, NULL, 0);
    tir_inst(s->f, id)->ival = tir_add_text(s->f, text);
    return sv_err; /* no value */
}

/* device_assert(cond, "message"): cond a bool scalar or tile. */
static SVal b_assert(Sema *s, const AstNode *n)
{
    if (!called_as_statement(s, n))
        return sv_err;
    const AstNode *ca = n->args.data[0];
    SVal c = eval(s, ca);
    const char *msg = string_arg(s, n, n->args.data[1], "second argument");
    if (c.k == SV_ERR || !msg)
        return sv_err;
    c = const_as(s, c, DT_BOOL, expr_start(ca));
    if (c.k != SV_VAL)
        return sv_err;
    if (vtype(s, c.v).dt != DT_BOOL) {
        error(s, expr_start(ca), "the condition of 'device_assert' must be bool, found %s", type_str(s, vtype(s, c.v)));
        return sv_err;
    }
    InstId id = tir_append(s->f, s->cur, TIR_ASSERT, n->pos, &c.v, 1, NULL, 0);
    tir_inst(s->f, id)->ival = tir_add_text(s->f, msg);
    const char *file = s->diag->src && s->diag->src->name ? s->diag->src->name : "<source>";
    const char *slash = strrchr(file, '/');
    tir_add_text(s->f, slash ? slash + 1 : file);
    return sv_err; /* no value */
}

/* atomic_add(TENSOR[ITEMS], VALUE [, MASK]), and atomic_max, atomic_min:
 * a statement (dsl/README.md §8.3), made a SCATTER of its kind. It has no
 * value: the result is sv_err, which the statement ignores. */
static SVal b_atomic(Sema *s, const AstNode *n)
{
    ScatterKind kind = !strcmp(n->name, "atomic_add") ? SCATTER_ADD
                       : !strcmp(n->name, "atomic_max") ? SCATTER_MAX
                                                         : SCATTER_MIN;
    if (!called_as_statement(s, n))
        return sv_err;
    const AstNode *target = n->args.data[0];
    SVal base = target->kind == AST_INDEX ? eval(s, target->a) : sv_err;
    if (target->kind != AST_INDEX || (base.k != SV_TENSOR && base.k != SV_ERR)) {
        error(s, target->pos, "the first argument of '%s' must be a tensor access, T[...]", n->name);
        return sv_err;
    }
    if (base.k == SV_ERR)
        return sv_err;
    const TirParam *p = &s->f->params.data[base.param];
    if (!p->is_out) {
        error(s, target->pos, "cannot update '%s': it is an input; declare it 'out'", p->name);
        return sv_err;
    }
    DType dt = p->dt;
    bool ok = dt == DT_F32 || dt == DT_I32 || dt == DT_U32 || dt == DT_I64 ||
              (kind == SCATTER_ADD && (dt == DT_F16 || dt == DT_BF16));
    if (!ok) {
        error(s, target->pos, "'%s' does not take %s tensors; it takes f32, i32, u32, i64%s", n->name,
              dtype_name(dt), kind == SCATTER_ADD ? ", f16 and bf16" : "");
        return sv_err;
    }
    Access acc;
    if (!tensor_access(s, target, base.param, &acc))
        return sv_err;
    char what[160];
    snprintf(what, sizeof what, "'%s' of '%s'", n->name, p->name);
    const AstNode *value = n->args.data[1];
    SVal v = convert_for_assign(s, eval(s, value), acc.tile, expr_start(value), what);
    ValId mask = TIR_NONE;
    if (n->args.len == 3 && !store_mask(s, n->args.data[2], acc.tile, "an atomic's", &mask))
        return sv_err;
    if (v.k != SV_ERR)
        emit_store(s, &acc, n->pos, v.v, mask, kind);
    return sv_err;
}

/* Collects names assigned anywhere inside a statement (for loop-carried and
 * if-merged variables). */
typedef VEC(const char *) NameVec;

static void add_name(Sema *s, NameVec *out, const char *name)
{
    for (int i = 0; i < out->len; i++)
        if (strcmp(out->data[i], name) == 0)
            return;
    vec_push(s->scratch, *out, name);
}

/* The flags of the jumps (dsl/README.md §6): ret@ is the kernel's, skip@D
 * ("leave the rest of this iteration") and brk@D ("and stop") belong to the
 * loop at depth D and are declared afresh in each of its iterations. */
static const char *skip_flag(Sema *s, int depth) { return arena_printf(s->scratch, "skip@%d", depth); }
static const char *break_flag(Sema *s, int depth) { return arena_printf(s->scratch, "brk@%d", depth); }
static const char *const RETURN_FLAG = "ret@";

/* n's statements sit inside `depth` loops: a jump assigns the flags of the
 * innermost one (and return the kernel's). */
static void collect_assigned(Sema *s, const AstNode *n, NameVec *out, int depth)
{
    if (!n)
        return;
    switch (n->kind) {
    case AST_ASSIGN:
        if (n->a->kind == AST_NAME)
            add_name(s, out, n->a->name);
        return;
    case AST_BLOCK:
        for (int i = 0; i < n->args.len; i++)
            collect_assigned(s, n->args.data[i], out, depth);
        return;
    case AST_FOR:
    case AST_WHILE: collect_assigned(s, n->body, out, depth + 1); return;
    case AST_IF:
        collect_assigned(s, n->body, out, depth);
        collect_assigned(s, n->else_, out, depth);
        return;
    case AST_JUMP:
        if (n->op == TK_KW_RETURN)
            add_name(s, out, RETURN_FLAG);
        if (depth > 0)
            add_name(s, out, skip_flag(s, depth));
        if (n->op == TK_KW_BREAK && depth > 0)
            add_name(s, out, break_flag(s, depth));
        return;
    default: return;
    }
}

/* Whether statement n can leave the statements that follow it in its block:
 * a return anywhere, a break or continue not inside a nested loop. */
static bool stmt_jumps(const AstNode *n, bool nested)
{
    if (!n)
        return false;
    switch (n->kind) {
    case AST_JUMP: return n->op == TK_KW_RETURN || !nested;
    case AST_BLOCK:
        for (int i = 0; i < n->args.len; i++)
            if (stmt_jumps(n->args.data[i], nested))
                return true;
        return false;
    case AST_IF: return stmt_jumps(n->body, nested) || stmt_jumps(n->else_, nested);
    case AST_FOR:
    case AST_WHILE: return stmt_jumps(n->body, true);
    default: return false;
    }
}

/* Whether a loop body has a jump of the given kind that leaves that loop
 * (return: anywhere inside). */
static bool body_has(const AstNode *n, TokKind kind, bool nested)
{
    if (!n)
        return false;
    switch (n->kind) {
    case AST_JUMP: return n->op == kind && (kind == TK_KW_RETURN || !nested);
    case AST_BLOCK:
        for (int i = 0; i < n->args.len; i++)
            if (body_has(n->args.data[i], kind, nested))
                return true;
        return false;
    case AST_IF: return body_has(n->body, kind, nested) || body_has(n->else_, kind, nested);
    case AST_FOR:
    case AST_WHILE: return body_has(n->body, kind, true);
    default: return false;
    }
}

typedef VEC(int) IntVec;

/* Indexes in env of the variables of enclosing scopes assigned inside n. */
static IntVec carried_vars(Sema *s, const AstNode *a, const AstNode *b, int depth)
{
    NameVec names = { 0 };
    collect_assigned(s, a, &names, depth);
    collect_assigned(s, b, &names, depth);
    IntVec out = { 0 };
    for (int i = 0; i < names.len; i++) {
        Binding *bd = lookup(s, names.data[i]);
        if (bd && bd->is_var && bd->val.k == SV_VAL)
            vec_push(s->scratch, out, (int)(bd - s->env.data));
    }
    return out;
}

static void check_scoped_block(Sema *s, const AstNode *block)
{
    int mark = s->env.len;
    check_block(s, block);
    env_truncate(s, mark);
}

/* Ends a nested TIR block with a yield of the carried variables. */
static void yield_carried(Sema *s, const IntVec *carried, SrcPos pos)
{
    ValId *vals = arena_alloc(s->scratch, sizeof(ValId) * (size_t)(carried->len + 1));
    for (int i = 0; i < carried->len; i++)
        vals[i] = s->env.data[carried->data[i]].val.v;
    tir_append(s->f, s->cur, TIR_YIELD, pos, vals, carried->len, NULL, 0);
}

static void check_if(Sema *s, const AstNode *n);

/* A synthesized AST node (the lowering of while and of the jumps reuses the
 * checks of if and of names). */
static AstNode *synth(Sema *s, AstKind kind, SrcPos pos)
{
    AstNode *n = arena_alloc(s->scratch, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->pos = pos;
    return n;
}

/* Declares a jump flag: a bool variable, false. */
static void bind_flag(Sema *s, const char *name, SrcPos pos)
{
    Binding b = value_binding(name, pos, sv_val(tir_const_int(s->f, s->cur, pos, DT_BOOL, 0)), "variable");
    b.is_var = true;
    b.type = ttype_scalar(DT_BOOL);
    bind(s, b);
}

static void set_flag(Sema *s, const char *name, SrcPos pos)
{
    Binding *b = lookup(s, name);
    tsr_assert(b && b->is_var);
    b->val = sv_val(tir_const_int(s->f, s->cur, pos, DT_BOOL, 1));
}

static ValId flag_value(Sema *s, const char *name) { return lookup(s, name)->val.v; }

/* break, continue, return: set the flags; the statements after them are
 * skipped by the guards check_block puts around them. */
static void check_jump(Sema *s, const AstNode *n)
{
    if (n->op != TK_KW_RETURN && s->loop_depth == 0) {
        error(s, n->pos, "'%s' is not inside a loop", n->op == TK_KW_BREAK ? "break" : "continue");
        return;
    }
    if (n->op == TK_KW_RETURN)
        set_flag(s, RETURN_FLAG, n->pos);
    if (n->op == TK_KW_BREAK)
        set_flag(s, break_flag(s, s->loop_depth), n->pos);
    if (s->loop_depth > 0)
        set_flag(s, skip_flag(s, s->loop_depth), n->pos);
}

/* The loop of a for (n->name its variable) or a while (n->a its condition):
 * a TIR FOR over [lb, ub) by st. A loop that can stop early (while, break,
 * return inside) is a TIR_FOR_EXIT whose body yields whether to go on: a
 * while's body is `let c = COND; if c { BODY }` and it goes on while c holds
 * (the last iteration only finds c false); break and return stop it after
 * the iteration. Each iteration declares its flags skip@D and brk@D afresh. */
static void check_loop(Sema *s, const AstNode *n, ValId lb, ValId ub, ValId st, int stages, int loop_flags)
{
    bool is_while = n->kind == AST_WHILE;
    bool has_break = body_has(n->body, TK_KW_BREAK, false), has_return = body_has(n->body, TK_KW_RETURN, false);
    bool early = is_while || has_break || has_return;
    bool flags = early || body_has(n->body, TK_KW_CONTINUE, false);
    if (early && stages) {
        error(s, n->pos, "a loop that can stop early (break, return) cannot be pipelined");
        return;
    }
    int depth = s->loop_depth + 1;
    IntVec carried = carried_vars(s, n->body, NULL, depth);
    BlockId outer = s->cur;
    BlockId body = tir_block_new(s->f, TIR_NONE);
    ValId iv = tir_block_arg(s->f, body, ttype_scalar(DT_I32));
    ValId *inits = arena_alloc(s->scratch, sizeof(ValId) * (size_t)(carried.len + 3));
    TType *types = arena_alloc(s->scratch, sizeof(TType) * (size_t)(carried.len + 1));
    inits[0] = lb;
    inits[1] = ub;
    inits[2] = st;
    for (int i = 0; i < carried.len; i++) {
        Binding *b = &s->env.data[carried.data[i]];
        inits[3 + i] = b->val.v;
        types[i] = b->type;
        b->val = sv_val(tir_block_arg(s->f, body, b->type));
    }
    s->cur = body;
    s->loop_depth = depth;
    int mark = s->env.len;
    bool ok = is_while || bind(s, value_binding(n->name, n->pos, sv_val(iv), "loop variable"));
    if (flags)
        bind_flag(s, skip_flag(s, depth), n->pos);
    if (has_break)
        bind_flag(s, break_flag(s, depth), n->pos);
    ValId go = TIR_NONE;
    if (ok && is_while) {
        SVal c = eval(s, n->a);
        if (c.k == SV_BOOL)
            c = const_as(s, c, DT_BOOL, n->a->pos);
        if (c.k == SV_VAL && (vtype(s, c.v).dt != DT_BOOL || vtype(s, c.v).rank != 0)) {
            error(s, expr_start(n->a), "the condition of 'while' must be a bool scalar, found %s%s", sval_str(s, c),
                  vtype(s, c.v).rank ? " (use reductions to make one of a tile)" : "");
            c = sv_err;
        }
        if (c.k == SV_VAL) {
            go = c.v;
            const char *cname = arena_printf(s->scratch, "cond@%d", depth);
            bind(s, value_binding(cname, n->a->pos, c, "constant"));
            AstNode *cond = synth(s, AST_NAME, n->a->pos), *guard = synth(s, AST_IF, n->pos);
            cond->name = cname;
            guard->a = cond;
            guard->body = n->body;
            check_if(s, guard);
        } else if (c.k != SV_ERR) {
            error(s, expr_start(n->a), "the condition of 'while' must be a bool scalar, found %s", sval_str(s, c));
        }
    } else if (ok) {
        check_block(s, n->body);
    }
    if (early) {
        if (go == TIR_NONE)
            go = tir_const_int(s->f, s->cur, n->pos, DT_BOOL, 1);
        TType bt = ttype_scalar(DT_BOOL);
        if (has_break) {
            ValId nb = emit1(s, TIR_NOT, n->pos, flag_value(s, break_flag(s, depth)), bt), both[2] = { go, nb };
            go = emit(s, TIR_AND, n->pos, both, 2, bt);
        }
        if (s->has_return) {
            ValId nr = emit1(s, TIR_NOT, n->pos, flag_value(s, RETURN_FLAG), bt), both[2] = { go, nr };
            go = emit(s, TIR_AND, n->pos, both, 2, bt);
        }
    }
    env_truncate(s, mark);
    s->loop_depth = depth - 1;
    ValId *vals = arena_alloc(s->scratch, sizeof(ValId) * (size_t)(carried.len + 2));
    for (int i = 0; i < carried.len; i++)
        vals[i] = s->env.data[carried.data[i]].val.v;
    int nyield = carried.len;
    if (early)
        vals[nyield++] = go;
    tir_append(s->f, s->cur, TIR_YIELD, n->pos, vals, nyield, NULL, 0);
    s->cur = outer;
    InstId id = tir_append(s->f, outer, TIR_FOR, n->pos, inits, carried.len + 3, types, carried.len);
    TirInst *in = tir_inst(s->f, id);
    in->blocks[0] = body;
    in->stages = stages;
    in->ival = loop_flags;
    in->kind = early ? TIR_FOR_EXIT : 0;
    tir_block(s->f, body)->parent = id;
    for (int i = 0; i < carried.len; i++)
        s->env.data[carried.data[i]].val = sv_val(tir_inst(s->f, id)->res[i]);
}

/* while COND { BODY }: at most 2^31 - 1 iterations (a for over the i32 range). */
static void check_while(Sema *s, const AstNode *n)
{
    if (!n->a || !n->body)
        return;
    ValId lb = tir_const_int(s->f, s->cur, n->pos, DT_I32, 0), ub = tir_const_int(s->f, s->cur, n->pos, DT_I32, INT32_MAX);
    check_loop(s, n, lb, ub, tir_const_int(s->f, s->cur, n->pos, DT_I32, 1), 0, 0);
}

/* The step of a for loop: a compile-time positive integer (*step), or an
 * integer scalar known at run time (*run_step, as an i32). */
static bool loop_step(Sema *s, const AstNode *n, int64_t *step, ValId *run_step)
{
    SVal v = eval(s, n);
    if (v.k == SV_ERR)
        return false;
    if (v.k == SV_INT) {
        if (v.i <= 0 || v.i > INT32_MAX) {
            error(s, n->pos, "the loop step must be positive, found %lld", (long long)v.i);
            return false;
        }
        *step = v.i;
        return true;
    }
    if (v.k != SV_VAL || vtype(s, v.v).rank != 0 || !dtype_is_int(vtype(s, v.v).dt)) {
        error(s, n->pos, "the loop step must be an integer scalar, found %s", sval_str(s, v));
        return false;
    }
    *run_step = index_as_i32(s, v.v, n->pos);
    return true;
}

static void check_for(Sema *s, const AstNode *n)
{
    if (!n->a || !n->b || !n->body)
        return;
    ValId lb, ub;
    bool ok = scalar_index(s, n->a, &lb);
    ok = scalar_index(s, n->b, &ub) && ok;
    int64_t step = 1, stages = 0;
    ValId run_step = TIR_NONE; /* a step known only at run time */
    if (n->c && !loop_step(s, n->c, &step, &run_step))
        ok = false;
    if (n->d && !const_int_arg(s, n->d, &stages, "the pipeline depth"))
        ok = false;
    else if (n->d && (stages < 1 || stages > 8)) {
        error(s, n->d->pos, "the pipeline depth must be between 1 and 8, found %lld", (long long)stages);
        ok = false;
    }
    int flags = 0; /* TIR_LOOP_*: pipeline(S, overlap = B, pingpong = B) */
    static const char *const options[2] = { "overlap", "pingpong" };
    const AstNode *given[2] = { n->else_, n->e };
    /* in the order written, for the order of the diagnostics */
    bool swap = given[0] && given[1] && given[1]->pos.off < given[0]->pos.off;
    for (int j = 0; j < 2; j++) {
        int k = swap ? 1 - j : j;
        if (!given[k])
            continue;
        SVal v = eval(s, given[k]);
        if (v.k == SV_ERR)
            ok = false;
        else if (v.k != SV_BOOL) {
            error(s, given[k]->pos, "%s must be a compile-time bool, found %s%s", options[k],
                  v.k == SV_VAL ? "a run-time " : "", sval_str(s, v));
            ok = false;
        } else if (!v.i)
            flags |= k == 0 ? TIR_LOOP_KEEP_ORDER : TIR_LOOP_NO_PINGPONG;
    }
    if (!ok)
        return;
    ValId st = run_step != TIR_NONE ? run_step : tir_const_int(s->f, s->cur, n->c ? n->c->pos : n->pos, DT_I32, step);
    if (run_step != TIR_NONE) {
        /* A step of zero or less runs no iteration: the bound becomes the
         * start, so that the loop (which needs a positive step) is empty. */
        SrcPos sp = n->c->pos;
        TType bt = ttype_scalar(DT_BOOL);
        ValId cmp[2] = { run_step, tir_const_int(s->f, s->cur, sp, DT_I32, 0) };
        ValId sel[3] = { emit(s, TIR_GT, sp, cmp, 2, bt), ub, lb };
        ub = emit(s, TIR_SELECT, sp, sel, 3, ttype_scalar(DT_I32));
    }
    check_loop(s, n, lb, ub, st, (int)stages, flags);
}

static void check_if(Sema *s, const AstNode *n)
{
    if (!n->a || !n->body)
        return;
    SVal c = eval(s, n->a);
    if (c.k == SV_ERR)
        return;
    if (c.k == SV_BOOL) { /* compile-time: only the chosen branch is checked */
        const AstNode *chosen = c.i ? n->body : n->else_;
        if (chosen && chosen->kind == AST_IF)
            check_if(s, chosen);
        else if (chosen)
            check_scoped_block(s, chosen);
        return;
    }
    if (c.k != SV_VAL || vtype(s, c.v).dt != DT_BOOL || vtype(s, c.v).rank != 0) {
        error(s, expr_start(n->a), "the condition of 'if' must be a bool scalar, found %s%s", sval_str(s, c),
              c.k == SV_VAL && vtype(s, c.v).rank ? " (use where(...) for tiles)" : "");
        return;
    }
    IntVec carried = carried_vars(s, n->body, n->else_, s->loop_depth);
    ValId *before = arena_alloc(s->scratch, sizeof(ValId) * (size_t)(carried.len + 1));
    TType *types = arena_alloc(s->scratch, sizeof(TType) * (size_t)(carried.len + 1));
    for (int i = 0; i < carried.len; i++) {
        before[i] = s->env.data[carried.data[i]].val.v;
        types[i] = s->env.data[carried.data[i]].type;
    }
    BlockId outer = s->cur, blocks[2];
    for (int k = 0; k < 2; k++) {
        blocks[k] = tir_block_new(s->f, TIR_NONE);
        s->cur = blocks[k];
        for (int i = 0; i < carried.len; i++)
            s->env.data[carried.data[i]].val = sv_val(before[i]);
        const AstNode *branch = k == 0 ? n->body : n->else_;
        if (branch && branch->kind == AST_IF)
            check_if(s, branch);
        else if (branch)
            check_scoped_block(s, branch);
        yield_carried(s, &carried, n->pos);
    }
    s->cur = outer;
    InstId id = tir_append(s->f, outer, TIR_IF, n->pos, &c.v, 1, types, carried.len);
    TirInst *in = tir_inst(s->f, id);
    in->blocks[0] = blocks[0];
    in->blocks[1] = blocks[1];
    tir_block(s->f, blocks[0])->parent = id;
    tir_block(s->f, blocks[1])->parent = id;
    for (int i = 0; i < carried.len; i++)
        s->env.data[carried.data[i]].val = sv_val(tir_inst(s->f, id)->res[i]);
}

static void check_stmt(Sema *s, const AstNode *n)
{
    switch (n->kind) {
    case AST_LET:
    case AST_VAR: check_let(s, n); break;
    case AST_ASSIGN: check_assign(s, n); break;
    case AST_FOR: check_for(s, n); break;
    case AST_WHILE: check_while(s, n); break;
    case AST_JUMP: check_jump(s, n); break;
    case AST_IF: check_if(s, n); break;
    case AST_BLOCK: check_scoped_block(s, n); break;
    case AST_EXPR:
        if (n->a->kind == AST_CALL && !n->a->a && !lookup(s, n->a->name) && is_statement_call(n->a->name)) {
            s->effect_call = n->a; /* a statement call: it has no value */
            eval(s, n->a);
            s->effect_call = NULL;
        } else if (eval(s, n->a).k != SV_ERR) {
            error(s, n->pos, "this expression has no effect");
        }
        break;
    default: tsr_die("expression node %d used as a statement", n->kind);
    }
}

/* After a statement that can jump (break, continue, return), the rest of the
 * block runs under `if !flag`: skip@D in a loop (which every jump out of its
 * iteration sets), ret@ outside loops. */
static void check_block(Sema *s, const AstNode *block)
{
    for (int i = 0; i < block->args.len && !diag_full(s->diag); i++) {
        const AstNode *st = block->args.data[i];
        check_stmt(s, st);
        if (i + 1 == block->args.len || !stmt_jumps(st, false))
            continue;
        const char *flag = s->loop_depth ? skip_flag(s, s->loop_depth) : RETURN_FLAG;
        if (!lookup(s, flag))
            continue; /* a break outside a loop: reported; check the rest as it is */
        AstNode *name = synth(s, AST_NAME, st->pos), *not = synth(s, AST_UNARY, st->pos);
        AstNode *rest = synth(s, AST_BLOCK, block->args.data[i + 1]->pos), *guard = synth(s, AST_IF, st->pos);
        name->name = flag;
        not->op = TK_BANG;
        not->a = name;
        rest->args.data = block->args.data + i + 1;
        rest->args.len = rest->args.cap = block->args.len - i - 1;
        guard->a = not;
        guard->body = rest;
        check_if(s, guard);
        return;
    }
}

/* ---------------------------------------------------------------- kernels */

static const char *find_define(const Define *defs, int ndefs, const char *name)
{
    for (int i = ndefs - 1; i >= 0; i--)
        if (strcmp(defs[i].name, name) == 0)
            return defs[i].value;
    return NULL;
}

/* "a type", "an int", ... for messages. */
static const char *cparam_kind_desc(CParamKind k)
{
    switch (k) {
    case CPARAM_TYPE: return "a type (f16, bf16, f32, i32 or bool)";
    case CPARAM_INT: return "an int";
    case CPARAM_BOOL: return "a bool (true or false)";
    default: return "a float";
    }
}

static bool parse_define_value(Sema *s, const AstCParam *cp, const char *text, SVal *out)
{
    char *end;
    switch (cp->kind) {
    case CPARAM_TYPE: {
        DType dt;
        if (dtype_parse(text, &dt)) {
            *out = sv_type(dt);
            return true;
        }
        break;
    }
    case CPARAM_INT: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (*text && !*end && errno == ERANGE) {
            error(s, cp->pos, "the value '%s' given for '%s' is out of range", text, cp->name);
            return false;
        }
        if (*text && !*end) {
            *out = sv_int(v);
            return true;
        }
        break;
    }
    case CPARAM_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "1")) {
            *out = sv_bool(true);
            return true;
        }
        if (!strcmp(text, "false") || !strcmp(text, "0")) {
            *out = sv_bool(false);
            return true;
        }
        break;
    case CPARAM_FLOAT: {
        errno = 0;
        double v = strtod(text, &end);
        if (*text && !*end && errno == ERANGE && isinf(v)) {
            error(s, cp->pos, "the value '%s' given for '%s' is out of range", text, cp->name);
            return false;
        }
        if (*text && !*end && !isnan(v)) {
            *out = sv_float(v);
            return true;
        }
        break;
    }
    }
    error(s, cp->pos, "the value '%s' given for '%s' is not %s", text, cp->name, cparam_kind_desc(cp->kind));
    return false;
}

static bool cparam_kind_ok(CParamKind kind, SVal v)
{
    switch (kind) {
    case CPARAM_TYPE: return v.k == SV_TYPE;
    case CPARAM_INT: return v.k == SV_INT;
    case CPARAM_BOOL: return v.k == SV_BOOL;
    case CPARAM_FLOAT: return v.k == SV_FLOAT || v.k == SV_INT;
    }
    return false;
}

static void format_cparam(Sema *s, SVal v, char *buf, size_t n)
{
    switch (v.k) {
    case SV_TYPE: snprintf(buf, n, "%s", dtype_name(v.dt)); break;
    case SV_INT: snprintf(buf, n, "%lld", (long long)v.i); break;
    case SV_BOOL: snprintf(buf, n, "%s", v.i ? "true" : "false"); break;
    default: snprintf(buf, n, "%.17g", v.k == SV_INT ? (double)v.i : v.f); break;
    }
    (void)s;
}

/* The value of a compile-time parameter: its define, else its default;
 * false (reported) when there is none or it is not of the parameter's kind. */
static bool cparam_value(Sema *s, const AstCParam *cp, const Define *defs, int ndefs, SVal *out)
{
    const char *text = find_define(defs, ndefs, cp->name);
    SVal v = sv_err;
    if (text) {
        if (!parse_define_value(s, cp, text, &v))
            return false;
    } else if (cp->deflt) {
        v = eval(s, cp->deflt);
        if (v.k == SV_ERR)
            return false;
        if (!cparam_kind_ok(cp->kind, v)) {
            error(s, cp->deflt->pos, "the default of '%s' must be %s, found %s", cp->name,
                  cparam_kind_desc(cp->kind), sval_str(s, v));
            return false;
        }
    } else {
        error(s, cp->pos, "compile-time parameter '%s' of kernel '%s' needs a value (%s %s%s)", cp->name,
              s->k->name, s->diag->api_defines ? "give a tsr_define named" : "give -D", cp->name,
              s->diag->api_defines ? "" : "=...");
        return false;
    }
    if (cp->kind == CPARAM_FLOAT && v.k == SV_INT)
        v = sv_float((double)v.i);
    *out = v;
    return true;
}

static bool bind_cparams(Sema *s, const Define *defs, int ndefs)
{
    bool ok = true;
    for (int i = 0; i < s->k->cparams.len; i++) {
        const AstCParam *cp = &s->k->cparams.data[i];
        SVal v;
        if (!cparam_value(s, cp, defs, ndefs, &v)) {
            /* Bound to the error, so that later defaults and uses of it
             * (`OT: type = T`) are not reported again as unknown names. */
            bind(s, value_binding(cp->name, cp->pos, sv_err, "compile-time parameter"));
            ok = false;
            continue;
        }
        char buf[64];
        format_cparam(s, v, buf, sizeof buf);
        TirDefine d = { arena_strdup(&s->f->arena, cp->name), arena_strdup(&s->f->arena, buf) };
        vec_push(&s->f->arena, s->f->defines, d);
        ok = bind(s, value_binding(cp->name, cp->pos, v, "compile-time parameter")) && ok;
    }
    return ok;
}

static int find_sym(Sema *s, const char *name)
{
    for (int i = 0; i < s->f->syms.len; i++)
        if (strcmp(s->f->syms.data[i].name, name) == 0)
            return i;
    return -1;
}

static bool bind_params(Sema *s)
{
    bool ok = true;
    for (int i = 0; i < s->k->params.len; i++) {
        const AstParam *ap = &s->k->params.data[i];
        TirParam p = { 0 };
        p.name = arena_strdup(&s->f->arena, ap->name);
        p.pos = ap->pos;
        p.is_tensor = ap->is_tensor;
        p.is_out = ap->is_out;
        SVal t = eval(s, ap->dtype);
        if (t.k != SV_TYPE) {
            if (t.k != SV_ERR)
                error(s, ap->dtype->pos, "expected a type for '%s', found %s", ap->name, sval_str(s, t));
            ok = false;
            continue;
        }
        p.dt = t.dt;
        if (!ap->is_tensor && dtype_is_fp8(p.dt)) {
            error(s, ap->dtype->pos, "a scalar parameter cannot be %s; pass an f32 and convert it", dtype_name(p.dt));
            ok = false;
        }
        if (ap->is_out && !ap->is_tensor) {
            error(s, ap->pos, "only tensors can be 'out'; '%s' is a scalar", ap->name);
            ok = false;
        }
        if (ap->is_tensor) {
            if (p.dt == DT_BOOL) {
                error(s, ap->dtype->pos, "tensors of bool are not supported; use i32");
                ok = false;
            }
            if (ap->dims.len < 1 || ap->dims.len > TIR_MAX_RANK) {
                error(s, ap->pos, "a tensor has 1 to %d dimensions; '%s' has %d", TIR_MAX_RANK, ap->name,
                      ap->dims.len);
                ok = false;
                continue;
            }
            p.rank = ap->dims.len;
            for (int d = 0; d < p.rank; d++) {
                const AstNode *dn = ap->dims.data[d];
                p.dim_sym[d] = TIR_NONE;
                if (dn->kind == AST_NAME && !lookup(s, dn->name)) {
                    int sym = find_sym(s, dn->name);
                    if (sym < 0) {
                        TirSym ns = { arena_strdup(&s->f->arena, dn->name), s->f->params.len, d };
                        vec_push(&s->f->arena, s->f->syms, ns);
                        sym = s->f->syms.len - 1;
                    }
                    p.dim_sym[d] = sym;
                    continue;
                }
                SVal v = eval(s, dn);
                if (v.k == SV_ERR) {
                    ok = false;
                } else if (v.k != SV_INT || v.i <= 0 || v.i > INT32_MAX) {
                    error(s, dn->pos, "a tensor dimension must be a name or a positive compile-time integer, found %s",
                          v.k == SV_INT ? arena_printf(s->scratch, "%lld", (long long)v.i) : sval_str(s, v));
                    ok = false;
                } else {
                    p.dim_const[d] = v.i;
                }
            }
        }
        vec_push(&s->f->arena, s->f->params, p);
    }
    if (!ok)
        return false;
    /* Names: parameters, then the symbolic dims. */
    for (int i = 0; i < s->f->params.len; i++) {
        const TirParam *p = &s->f->params.data[i];
        Binding b = value_binding(p->name, p->pos, sv_err, p->is_tensor ? "tensor parameter" : "parameter");
        if (p->is_tensor) {
            b.val.k = SV_TENSOR;
            b.val.param = i;
        } else {
            b.kind = BIND_SCALAR_PARAM;
            b.index = i;
        }
        ok = bind(s, b) && ok;
    }
    for (int i = 0; i < s->f->syms.len; i++) {
        const TirSym *sym = &s->f->syms.data[i];
        Binding b = value_binding(sym->name, s->f->params.data[sym->param].pos, sv_err, "tensor dimension");
        b.kind = BIND_SYM;
        b.index = i;
        if (lookup(s, sym->name)) {
            error(s, b.pos, "tensor dimension '%s' has the name of a parameter", sym->name);
            ok = false;
        } else {
            env_push(s, b);
        }
    }
    return ok;
}

/* The grid is computed on the host before the launch, from scalars only:
 * checks the instructions emitted into the grid block from index first on. */
static bool grid_code_is_scalar(Sema *s, int first)
{
    const TirBlock *g = tir_block(s->f, s->f->grid_block);
    for (int i = first; i < g->insts.len; i++) {
        TirInst *in = tir_inst(s->f, g->insts.data[i]);
        if (in->nres && vtype(s, in->res[0]).rank != 0) {
            error(s, in->pos, "the grid is computed from scalars on the host; it cannot use a tile (here %s)",
                  type_str(s, vtype(s, in->res[0])));
            return false;
        }
    }
    return true;
}

static bool check_resource_clauses(Sema *s, const AstKernel *k);
static bool check_schedule_clause(Sema *s, const AstKernel *k);

static bool check_grid(Sema *s)
{
    const AstKernel *k = s->k;
    if (k->grid.len < 1 || k->grid.len > 3) {
        error(s, k->pos, "the grid has 1 to 3 dimensions; kernel '%s' gives %d", k->name, k->grid.len);
        return false;
    }
    s->cur = s->f->grid_block;
    s->in_grid = true;
    bool ok = true;
    for (int i = 0; i < 3; i++) {
        if (i >= k->grid.len) {
            s->f->grid[i] = tir_const_int(s->f, s->cur, k->pos, DT_I32, 1);
            continue;
        }
        int first = tir_block(s->f, s->cur)->insts.len;
        SVal v = eval(s, k->grid.data[i]);
        v = const_as(s, v, DT_I32, k->grid.data[i]->pos);
        if (v.k == SV_ERR || !grid_code_is_scalar(s, first)) {
            ok = false;
            continue;
        }
        TType t = vtype(s, v.v);
        if (t.rank != 0 || t.dt != DT_I32) {
            error(s, k->grid.data[i]->pos, "a grid size must be an i32 scalar, found %s", type_str(s, t));
            ok = false;
            continue;
        }
        s->f->grid[i] = v.v;
    }
    s->in_grid = false;
    s->cur = s->f->body;
    if (k->warps) {
        int64_t w;
        if (!const_int_arg(s, k->warps, &w, "the number of warps"))
            return false;
        /* a power of two, or three times one (FlashAttention-3's three
         * consumer warpgroups: 12 warps); layouts split the odd factor off
         * (ir/layout.h, wrep) */
        if (w < 1 || w > 24 || (w & (w - 1) && (w % 3 || (w / 3 & (w / 3 - 1))))) {
            error(s, k->warps->pos, "the number of warps must be 1, 2, 3, 4, 6, 8, 12, 16 or 24, found %lld",
                  (long long)w);
            return false;
        }
        s->f->warps = (int)w;
    }
    return ok && check_resource_clauses(s, k);
}

/* regs R (registers per thread, 16 .. 255, PTX's .maxnreg) and min_blocks
 * B (1 .. 32 blocks per multiprocessor, .minnctapersm); whether a block
 * fits the target is checked by code generation (codegen_check). */
static bool check_resource_clauses(Sema *s, const AstKernel *k)
{
    static const char *const what[2] = { "the register count of 'regs'", "the block count of 'min_blocks'" };
    static const int lo[2] = { 16, 1 }, hi[2] = { 255, 32 };
    const AstNode *nodes[2] = { k->regs, k->min_blocks };
    int *fields[2] = { &s->f->max_regs, &s->f->min_blocks };
    bool ok = true;
    for (int c = 0; c < 2; c++) {
        int64_t v;
        if (!nodes[c])
            continue;
        if (!const_int_arg(s, nodes[c], &v, what[c])) {
            ok = false;
            continue;
        }
        if (v < lo[c] || v > hi[c]) {
            error(s, nodes[c]->pos, "%s must be between %d and %d, found %lld", what[c], lo[c], hi[c], (long long)v);
            ok = false;
            continue;
        }
        *fields[c] = (int)v;
    }
    if (k->regs)
        s->f->regs_pos = k->regs->pos;
    return ok && check_schedule_clause(s, k);
}

/* schedule(AXIS, reverse = B): AXIS a compile-time integer naming a grid
 * dimension, B a compile-time bool; the order of a persistent kernel's
 * instances (TirFunc.tile_outer, tile_reverse). */
static bool check_schedule_clause(Sema *s, const AstKernel *k)
{
    int64_t axis;
    if (!k->schedule_axis)
        return true;
    if (!const_int_arg(s, k->schedule_axis, &axis, "the axis of 'schedule'"))
        return false;
    if (axis < 0 || axis >= k->grid.len) {
        error(s, k->schedule_axis->pos, "the axis of 'schedule' must name a dimension of the grid (0 to %d), found %lld",
              k->grid.len - 1, (long long)axis);
        return false;
    }
    bool reverse = false;
    if (k->schedule_reverse) {
        SVal v = eval(s, k->schedule_reverse);
        if (v.k == SV_ERR)
            return false;
        if (v.k != SV_BOOL) {
            error(s, k->schedule_reverse->pos, "reverse must be a compile-time bool, found %s%s",
                  v.k == SV_VAL ? "a run-time " : "", sval_str(s, v));
            return false;
        }
        reverse = v.i != 0;
    }
    s->f->tile_outer = (int)axis;
    s->f->tile_reverse = reverse;
    return true;
}

/* Cleanups for oom_defer (support/oom.h). */
static void free_func(void *f) { tir_func_free(f); }
static void free_module(void *m) { tir_module_free(m); }

static TirFunc *check_kernel(const AstKernel *k, const Define *defs, int ndefs, Diag *diag)
{
    Sema s = { 0 };
    s.diag = diag;
    s.k = k;
    s.f = tir_func_new(k->name);
    int slot = oom_defer(free_func, s.f);
    s.f->pos = k->pos;
    s.scratch = oom_arena_open();
    for (int i = 0; i < ENV_BUCKETS; i++)
        s.env_head[i] = -1;
    s.cur = s.f->grid_block;
    int errors = diag->nerrors;
    if (bind_cparams(&s, defs, ndefs) && bind_params(&s) && check_grid(&s)) {
        s.has_return = body_has(k->body, TK_KW_RETURN, false);
        if (s.has_return)
            bind_flag(&s, RETURN_FLAG, k->pos);
        check_block(&s, k->body);
    }
    oom_arena_close(s.scratch);
    oom_undefer(slot);
    if (diag->nerrors != errors) {
        tir_func_free(s.f);
        return NULL;
    }
    return s.f;
}

static bool kernel_has_cparam(const AstKernel *k, const char *name)
{
    for (int i = 0; i < k->cparams.len; i++)
        if (strcmp(k->cparams.data[i].name, name) == 0)
            return true;
    return false;
}

TirModule *sema_program(const AstProgram *prog, const Define *defs, int ndefs, const char *only_kernel, Diag *diag)
{
    TirModule *m = tsr_xcalloc(1, sizeof *m);
    arena_init(&m->arena);
    int slot = oom_defer(free_module, m);
    int errors = diag->nerrors;
    bool found = only_kernel == NULL;
    for (int i = 0; i < prog->kernels.len; i++) {
        const AstKernel *k = prog->kernels.data[i];
        for (int j = 0; j < i; j++)
            if (strcmp(prog->kernels.data[j]->name, k->name) == 0) {
                diag_error(diag, k->pos, "kernel '%s' is defined twice", k->name);
                diag_note(diag, prog->kernels.data[j]->pos, "the first definition is here");
            }
    }
    Arena *scratch = oom_arena_open();
    for (int d = 0; d < ndefs; d++) {
        bool used = false;
        Suggest sg;
        suggest_init(&sg, defs[d].name);
        for (int i = 0; i < prog->kernels.len && !used; i++) {
            const AstKernel *k = prog->kernels.data[i];
            if (only_kernel && strcmp(k->name, only_kernel) != 0)
                continue;
            used = kernel_has_cparam(k, defs[d].name);
            for (int j = 0; j < k->cparams.len; j++)
                suggest_consider(&sg, k->cparams.data[j].name);
        }
        if (!used)
            diag_error_nopos(diag, "%s %s: no kernel being compiled has a compile-time parameter named '%s'%s",
                             diag->api_defines ? "define" : "-D", defs[d].name, defs[d].name,
                             suggestion(scratch, &sg));
    }
    for (int i = 0; i < prog->kernels.len && !diag_full(diag); i++) {
        const AstKernel *k = prog->kernels.data[i];
        if (only_kernel && strcmp(k->name, only_kernel) != 0)
            continue;
        found = true;
        TirFunc *f = check_kernel(k, defs, ndefs, diag);
        if (f) {
            int fslot = oom_defer(free_func, f);
            vec_push(&m->arena, m->funcs, f);
            oom_undefer(fslot);
        }
    }
    if (!found) {
        Suggest sg;
        suggest_init(&sg, only_kernel);
        for (int i = 0; i < prog->kernels.len; i++)
            suggest_consider(&sg, prog->kernels.data[i]->name);
        diag_error_nopos(diag, "no kernel named '%s' in %s%s", only_kernel,
                         diag->src && diag->src->name ? diag->src->name : "the source", suggestion(scratch, &sg));
    }
    oom_arena_close(scratch);
    oom_undefer(slot);
    if (diag->nerrors != errors) {
        tir_module_free(m);
        return NULL;
    }
    return m;
}
