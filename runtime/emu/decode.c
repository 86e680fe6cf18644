/* Raw statements -> decoded kernels. This file holds the machinery every
 * instruction family uses: name scopes (registers, labels, variables), the
 * opcode and modifier tables, operand resolution and the immediate pool. The
 * families (ops_*.c) decode their own instructions with it; each instruction
 * is decoded once, into an Insn with resolved register slots. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"

/* ---- a string-keyed hash map (keys are (tag, string) pairs) ---------------- */

typedef struct {
    int tag;
    const char *key;
    int val;
} MapEnt;

typedef struct {
    MapEnt *e;
    uint32_t cap, n;
} StrMap;

static uint32_t hash_key(int tag, const char *s, size_t n)
{
    uint32_t h = 2166136261u ^ (uint32_t)tag * 16777619u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static int map_get(const StrMap *m, int tag, const char *s, size_t n)
{
    if (!m->cap)
        return -1;
    for (uint32_t i = hash_key(tag, s, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const MapEnt *e = &m->e[i];
        if (!e->key)
            return -1;
        if (e->tag == tag && strncmp(e->key, s, n) == 0 && e->key[n] == 0)
            return e->val;
    }
}

static void map_put(Arena *a, StrMap *m, int tag, const char *s, int val)
{
    if ((m->n + 1) * 2 > m->cap) {
        StrMap nm = {.cap = m->cap ? m->cap * 2 : 64};
        nm.e = arena_alloc(a, nm.cap * sizeof *nm.e);
        for (uint32_t i = 0; i < m->cap; i++)
            if (m->e[i].key)
                map_put(a, &nm, m->e[i].tag, m->e[i].key, m->e[i].val);
        *m = nm;
    }
    size_t n = strlen(s);
    for (uint32_t i = hash_key(tag, s, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        MapEnt *e = &m->e[i];
        if (!e->key) {
            *e = (MapEnt){tag, s, val};
            m->n++;
            return;
        }
        if (e->tag == tag && strcmp(e->key, s) == 0) {
            e->val = val;
            return;
        }
    }
}

/* ---- modifiers ------------------------------------------------------------ */

typedef struct {
    const char *name;
    uint8_t cat;
    uint32_t val;
} ModDesc;

static const ModDesc mod_table[] = {
    {"rn", MC_RND, RND_RN}, {"rz", MC_RND, RND_RZ}, {"rm", MC_RND, RND_RM}, {"rp", MC_RND, RND_RP},
    {"rna", MC_RND, RND_RNA}, {"rni", MC_RND, RND_RNI}, {"rzi", MC_RND, RND_RZI},
    {"rmi", MC_RND, RND_RMI}, {"rpi", MC_RND, RND_RPI},
    {"global", MC_SPACE, SP_GLOBAL}, {"shared", MC_SPACE, SP_SHARED},
    {"shared::cta", MC_SPACE, SP_SHARED}, {"shared::cluster", MC_SPACE, SP_SHARED},
    {"local", MC_SPACE, SP_LOCAL},
    {"param", MC_SPACE, SP_PARAM}, {"param::entry", MC_SPACE, SP_PARAM},
    {"const", MC_SPACE, SP_CONST},
    {"v2", MC_VEC, 2}, {"v4", MC_VEC, 4}, {"v8", MC_VEC, 8},
    {"eq", MC_CMP, CMP_EQ}, {"ne", MC_CMP, CMP_NE}, {"lt", MC_CMP, CMP_LT},
    {"le", MC_CMP, CMP_LE}, {"gt", MC_CMP, CMP_GT}, {"ge", MC_CMP, CMP_GE},
    {"lo", MC_CMP, CMP_LO}, {"ls", MC_CMP, CMP_LS}, {"hi", MC_CMP, CMP_HI},
    {"hs", MC_CMP, CMP_HS}, {"equ", MC_CMP, CMP_EQU}, {"neu", MC_CMP, CMP_NEU},
    {"ltu", MC_CMP, CMP_LTU}, {"leu", MC_CMP, CMP_LEU}, {"gtu", MC_CMP, CMP_GTU},
    {"geu", MC_CMP, CMP_GEU}, {"num", MC_CMP, CMP_NUM}, {"nan", MC_CMP, CMP_NAN},
    {"and", MC_LOGIC, LOGIC_AND}, {"or", MC_LOGIC, LOGIC_OR}, {"xor", MC_LOGIC, LOGIC_XOR},
    {"popc", MC_LOGIC, LOGIC_POPC},
    {"add", MC_ATOM, ATOM_ADD}, {"inc", MC_ATOM, ATOM_INC}, {"dec", MC_ATOM, ATOM_DEC},
    {"min", MC_ATOM, ATOM_MIN}, {"max", MC_ATOM, ATOM_MAX}, {"exch", MC_ATOM, ATOM_EXCH},
    {"cas", MC_ATOM, ATOM_CAS},
    {"up", MC_SHFL, SHFL_UP}, {"down", MC_SHFL, SHFL_DOWN}, {"bfly", MC_SHFL, SHFL_BFLY},
    {"idx", MC_SHFL, SHFL_IDX},
    {"all", MC_VOTE, VOTE_ALL}, {"any", MC_VOTE, VOTE_ANY}, {"ballot", MC_VOTE, VOTE_BALLOT},
    {"m8n8", MC_SHAPE, SHAPE_M8N8}, {"m16n8k8", MC_SHAPE, SHAPE_M16N8K8},
    {"m16n8k16", MC_SHAPE, SHAPE_M16N8K16}, {"m16n8k4", MC_SHAPE, SHAPE_M16N8K4},
    {"m8n8k4", MC_SHAPE, SHAPE_M8N8K4}, {"m16n8k32", MC_SHAPE, SHAPE_M16N8K32},
    {"x1", MC_NUM, 1}, {"x2", MC_NUM, 2}, {"x4", MC_NUM, 4},
    {"row", MC_LAYOUT, LAYOUT_ROW}, {"col", MC_LAYOUT, LAYOUT_COL},
    {"ftz", MC_FLAG, MF_FTZ}, {"sat", MC_FLAG, MF_SAT}, {"approx", MC_FLAG, MF_APPROX},
    {"full", MC_FLAG, MF_FULL}, {"relu", MC_FLAG, MF_RELU}, {"NaN", MC_FLAG, MF_NAN},
    {"uni", MC_FLAG, MF_UNI}, {"sync", MC_FLAG, MF_SYNC}, {"aligned", MC_FLAG, MF_ALIGNED},
    {"trans", MC_FLAG, MF_TRANS}, {"cc", MC_FLAG, MF_CC}, {"wrap", MC_FLAG, MF_WRAP},
    {"clamp", MC_FLAG, MF_CLAMP}, {"shiftamt", MC_FLAG, MF_SHIFTAMT},
    {"arrive", MC_FLAG, MF_ARRIVE}, {"red", MC_FLAG, MF_RED},
    {"satfinite", MC_FLAG, MF_SATFINITE}, {"noftz", MC_FLAG, MF_NOFTZ},
    {"xorsign", MC_FLAG, MF_XORSIGN}, {"abs", MC_FLAG, MF_ABS}, {"to", MC_FLAG, MF_TO},
    {"L2::cache_hint", MC_FLAG, MF_CACHE_HINT}, {"wide", MC_FLAG, MF_WIDE},
    {"nc", MC_FLAG, MF_NC},
    {"L2::64B", MC_FLAG, MF_PREFETCH}, {"L2::128B", MC_FLAG, MF_PREFETCH},
    {"L2::256B", MC_FLAG, MF_PREFETCH},
    {"ca", MC_CACHE, 0}, {"cg", MC_CACHE, 0}, {"cs", MC_CACHE, 0}, {"lu", MC_CACHE, 0},
    {"cv", MC_CACHE, 0}, {"wb", MC_CACHE, 0}, {"wt", MC_CACHE, 0},
    {"L1::evict_normal", MC_CACHE, 0}, {"L1::evict_unchanged", MC_CACHE, 0},
    {"L1::evict_first", MC_CACHE, 0}, {"L1::evict_last", MC_CACHE, 0},
    {"L1::no_allocate", MC_CACHE, 0}, {"L2::evict_normal", MC_CACHE, 0},
    {"L2::evict_first", MC_CACHE, 0}, {"L2::evict_last", MC_CACHE, 0},
    {"cta", MC_SCOPE, 0}, {"gpu", MC_SCOPE, 0}, {"sys", MC_SCOPE, 0}, {"gl", MC_SCOPE, 0},
    {"cluster", MC_SCOPE, 0},
    {"volatile", MC_SEM, 0}, {"relaxed", MC_SEM, 0}, {"acquire", MC_SEM, 0},
    {"release", MC_SEM, 0}, {"acq_rel", MC_SEM, 0}, {"sc", MC_SEM, 0}, {"weak", MC_SEM, 0},
    {"mmio", MC_SEM, 0},
    {"f4e", MC_PRMT, PRMT_F4E}, {"b4e", MC_PRMT, PRMT_B4E}, {"rc8", MC_PRMT, PRMT_RC8},
    {"ecl", MC_PRMT, PRMT_ECL}, {"ecr", MC_PRMT, PRMT_ECR}, {"rc16", MC_PRMT, PRMT_RC16},
    {"finite", MC_TESTP, TESTP_FINITE}, {"infinite", MC_TESTP, TESTP_INFINITE},
    {"number", MC_TESTP, TESTP_NUMBER}, {"notanumber", MC_TESTP, TESTP_NOTANUMBER},
    {"normal", MC_TESTP, TESTP_NORMAL}, {"subnormal", MC_TESTP, TESTP_SUBNORMAL},
    {"l", MC_SHFDIR, 1}, {"r", MC_SHFDIR, 2},
};

/* ---- per-function decoding state ------------------------------------------- */

enum { SYM_REG, SYM_PRED, SYM_LABEL, SYM_VAR, SYM_ADDR };

typedef struct {
    uint8_t kind;
    bool range;
    uint8_t bits;
    uint8_t space; /* SYM_ADDR */
    int first;     /* register slot / predicate index / instruction index / variable */
    int64_t count;
    uint64_t addr; /* SYM_ADDR: kernel parameters, function parameters */
    uint32_t size; /* SYM_ADDR */
    int line;
} Sym;

enum { TAG_MODULE = -1, TAG_PARAM = -2, TAG_OPCODE = -3, TAG_MOD = -4 };

/* A function (.func) decoded into the kernel that calls it. */
typedef struct {
    int state;        /* 0: not called, 1: queued, 2: decoded */
    int32_t entry;    /* its first instruction */
    uint32_t *param_off, *param_size; /* its parameters in local memory */
    uint32_t ret_off, ret_size;
} FuncInfo;

struct DecodeState {
    StrMap names;      /* (scope, name) -> Sym index; module and param names too */
    Sym *syms;
    int nsyms, symcap;
    int *scope_parent; /* scope id -> parent (-1 at the root) */
    int nscopes, scopecap;
    uint64_t *var_addr; /* raw variable -> its address (offset or host pointer) */
    bool *var_placed;
    bool *var_local;    /* a function's .param variable: kept in local memory */
    FuncInfo *funcs;    /* per raw function: decoded code and parameter storage */
    int *queue;         /* functions called but not decoded yet */
    int nqueue, queuecap;
    int code_cap, call_cap;
    bool dyn_placed;   /* dynamic shared memory has its offset: no more static */
    StrMap pool_map;
    int vec_cap, pool_cap;
    StrMap ops;        /* opcode name -> index into opdescs */
    const OpDesc **opdescs;
    int nopdescs;
    StrMap mods;       /* modifier name -> index into mod_table */
};

static const struct {
    const char *name;
    int slot;
    uint8_t bits;
} special_regs[] = {
    {"%tid.x", SR_TID_X, 32}, {"%tid.y", SR_TID_Y, 32}, {"%tid.z", SR_TID_Z, 32},
    {"%ntid.x", SR_NTID_X, 32}, {"%ntid.y", SR_NTID_Y, 32}, {"%ntid.z", SR_NTID_Z, 32},
    {"%ctaid.x", SR_CTAID_X, 32}, {"%ctaid.y", SR_CTAID_Y, 32}, {"%ctaid.z", SR_CTAID_Z, 32},
    {"%nctaid.x", SR_NCTAID_X, 32}, {"%nctaid.y", SR_NCTAID_Y, 32},
    {"%nctaid.z", SR_NCTAID_Z, 32}, {"%laneid", SR_LANEID, 32}, {"%warpid", SR_WARPID, 32},
    {"%nwarpid", SR_NWARPID, 32}, {"%smid", SR_SMID, 32}, {"%nsmid", SR_NSMID, 32},
    {"%gridid", SR_GRIDID, 64}, {"%lanemask_eq", SR_LANEMASK_EQ, 32},
    {"%lanemask_le", SR_LANEMASK_LE, 32}, {"%lanemask_lt", SR_LANEMASK_LT, 32},
    {"%lanemask_ge", SR_LANEMASK_GE, 32}, {"%lanemask_gt", SR_LANEMASK_GT, 32},
    {"%clock", SR_CLOCK, 32}, {"%clock_hi", SR_CLOCK_HI, 32}, {"%clock64", SR_CLOCK64, 64},
    {"%globaltimer", SR_GLOBALTIMER, 64}, {"%globaltimer_lo", SR_GLOBALTIMER_LO, 32},
    {"%globaltimer_hi", SR_GLOBALTIMER_HI, 32}, {"%dynamic_smem_size", SR_DYN_SMEM, 32},
    {"%total_smem_size", SR_TOTAL_SMEM, 32}, {"%clusterid.x", SR_CLUSTERID_X, 32},
    {"%clusterid.y", SR_CLUSTERID_Y, 32}, {"%clusterid.z", SR_CLUSTERID_Z, 32},
    {"%nclusterid.x", SR_NCLUSTERID_X, 32}, {"%nclusterid.y", SR_NCLUSTERID_Y, 32},
    {"%nclusterid.z", SR_NCLUSTERID_Z, 32}, {"%cluster_ctaid.x", SR_CLUSTER_CTAID_X, 32},
    {"%cluster_ctaid.y", SR_CLUSTER_CTAID_Y, 32}, {"%cluster_ctaid.z", SR_CLUSTER_CTAID_Z, 32},
    {"%cluster_nctaid.x", SR_CLUSTER_NCTAID_X, 32},
    {"%cluster_nctaid.y", SR_CLUSTER_NCTAID_Y, 32},
    {"%cluster_nctaid.z", SR_CLUSTER_NCTAID_Z, 32},
    {"%cluster_ctarank", SR_CLUSTER_CTARANK, 32},
    {"%cluster_nctarank", SR_CLUSTER_NCTARANK, 32},
    {"%is_explicit_cluster", SR_IS_EXPLICIT_CLUSTER, 32},
};

static const OpDesc *const *family_tables(void)
{
    static const OpDesc *const tabs[] = {emu_ops_int, emu_ops_float, emu_ops_mov, emu_ops_cvt,
                                         emu_ops_mem, emu_ops_ctl,   emu_ops_warp, emu_ops_mma,
                                         emu_ops_wgmma, emu_ops_mbar, emu_ops_tma, NULL};
    return tabs;
}

/* ---- errors ---------------------------------------------------------------- */

int emu_dec_error(Decoder *d, const RawStmt *s, const char *fmt, ...)
{
    va_list ap;
    sb_printf(d->err, "ptx:%d: error: ", s ? s->line : d->fn->line);
    if (s && s->kind == RS_INSN && s->opcode)
        sb_printf(d->err, "'%s': ", s->opcode);
    va_start(ap, fmt);
    sb_vprintf(d->err, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *mod_name_of_flag(const Mods *m, uint32_t flag)
{
    for (int i = 0; i < 32; i++)
        if ((flag >> i) & 1)
            return m->flag_text[i];
    return "?";
}

int emu_dec_allow(Decoder *d, const RawStmt *s, const Mods *m, uint32_t cats, uint32_t flags)
{
    uint32_t bad = m->cats & ~cats & ~MCB(MC_FLAG);
    if (bad) {
        int c = __builtin_ctz(bad);
        return emu_dec_error(d, s, "modifier '.%s' is not supported here", m->text[c]);
    }
    uint32_t badf = m->flags & ~flags;
    if (badf)
        return emu_dec_error(d, s, "modifier '.%s' is not supported here", mod_name_of_flag(m, badf));
    return 0;
}

int emu_dec_nops(Decoder *d, const RawStmt *s, int lo, int hi)
{
    if (s->nops < lo || s->nops > hi) {
        if (lo == hi)
            return emu_dec_error(d, s, "expected %d operands, got %d", lo, s->nops);
        return emu_dec_error(d, s, "expected %d to %d operands, got %d", lo, hi, s->nops);
    }
    return 0;
}

/* ---- name lookup ------------------------------------------------------------ */

static int scope_of(const RawStmt *s) { return s ? s->scope : 0; }

/* Finds `name` seen from `scope`: exact names, then register ranges (%r123 in
 * %r<N>), walking out to the root, then kernel parameters and module names. */
static const Sym *lookup(Decoder *d, int scope, const char *name, int64_t *num)
{
    struct DecodeState *st = d->st;
    size_t len = strlen(name);
    size_t plen = len;
    while (plen > 0 && name[plen - 1] >= '0' && name[plen - 1] <= '9')
        plen--;
    int64_t n = -1;
    if (plen < len && len - plen < 10 && !(name[plen] == '0' && len - plen > 1))
        n = strtoll(name + plen, NULL, 10);
    *num = 0;
    for (int sc = scope; sc >= 0; sc = st->scope_parent[sc]) {
        int i = map_get(&st->names, sc, name, len);
        if (i >= 0 && !st->syms[i].range)
            return &st->syms[i];
        if (n >= 0) {
            i = map_get(&st->names, sc, name, plen);
            if (i >= 0 && st->syms[i].range && n < st->syms[i].count) {
                *num = n;
                return &st->syms[i];
            }
        }
    }
    int i = map_get(&st->names, TAG_PARAM, name, len);
    if (i < 0)
        i = map_get(&st->names, TAG_MODULE, name, len);
    return i >= 0 ? &st->syms[i] : NULL;
}

static int add_sym(Decoder *d, int tag, const char *name, Sym sym)
{
    struct DecodeState *st = d->st;
    if (st->nsyms >= st->symcap)
        st->syms = arena_grow(d->arena, st->syms, st->nsyms, &st->symcap, sizeof *st->syms,
                              st->nsyms + 1);
    st->syms[st->nsyms] = sym;
    map_put(d->arena, &st->names, tag, name, st->nsyms);
    return st->nsyms++;
}

static int special_slot(const char *name, uint8_t *bits)
{
    for (size_t i = 0; i < TSR_ARRAY_LEN(special_regs); i++)
        if (strcmp(special_regs[i].name, name) == 0) {
            *bits = special_regs[i].bits;
            return special_regs[i].slot;
        }
    if (strncmp(name, "%envreg", 7) == 0 || strncmp(name, "%pm", 3) == 0) {
        *bits = 32;
        return SR_ZERO;
    }
    return -1;
}

const char *emu_dec_reg_name(const Kernel *k, const Operand *o, char *buf, size_t n)
{
    bool pred = o->kind == OK_PRED;
    if (!pred && o->idx < SR_COUNT) {
        for (size_t i = 0; i < TSR_ARRAY_LEN(special_regs); i++)
            if (special_regs[i].slot == o->idx)
                return special_regs[i].name;
        return "%special";
    }
    for (int i = 0; i < k->ndecls; i++) {
        const RegDecl *r = &k->decls[i];
        if (r->pred == pred && o->idx >= r->first && o->idx < r->first + r->count) {
            if (r->is_range)
                snprintf(buf, n, "%s%d", r->name, o->idx - r->first);
            else
                snprintf(buf, n, "%s", r->name);
            return buf;
        }
    }
    return pred ? "%p?" : "%r?";
}

/* ---- operands --------------------------------------------------------------- */

int emu_dec_imm(Decoder *d, uint64_t v, Operand *out)
{
    Kernel *k = d->k;
    int row = -1;
    for (int i = k->npool - 1; i >= 0 && i >= k->npool - 64; i--)
        if (k->pool[(size_t)i * WARP_SIZE] == v) {
            row = i;
            break;
        }
    if (row < 0) {
        char key[24];
        snprintf(key, sizeof key, "%llx", (unsigned long long)v);
        int r = map_get(&d->st->pool_map, 0, key, strlen(key));
        if (r >= 0) {
            row = r;
        } else {
            if (k->npool >= d->st->pool_cap) {
                int cap = d->st->pool_cap ? d->st->pool_cap * 2 : 64;
                uint64_t *np = arena_alloc(d->arena, (size_t)cap * WARP_SIZE * sizeof *np);
                if (k->npool)
                    memcpy(np, k->pool, (size_t)k->npool * WARP_SIZE * sizeof *np);
                k->pool = np;
                d->st->pool_cap = cap;
            }
            row = k->npool++;
            for (int l = 0; l < WARP_SIZE; l++)
                k->pool[(size_t)row * WARP_SIZE + l] = v;
            map_put(d->arena, &d->st->pool_map, 0, arena_strdup(d->arena, key), row);
        }
    }
    *out = (Operand){.kind = OK_IMM, .idx = row, .val = (int64_t)v};
    return 0;
}

/* The bits an immediate has as an operand of type ty. */
static int imm_bits(Decoder *d, const RawStmt *s, const RawOp *r, int ty, uint64_t *out)
{
    int bits = ty_bits(ty);
    if (r->kind == RO_INT) {
        if (ty == TY_F32) {
            *out = emu_fp_from_double(FMT_F32, (double)r->ival, 0, RND_RN, false);
        } else if (ty == TY_F64) {
            *out = f64_bits((double)r->ival);
        } else {
            *out = (uint64_t)r->ival & width_mask(bits);
        }
        return 0;
    }
    /* a floating-point literal */
    double v = r->fkind == 'f' ? (double)f32_of((uint64_t)r->ival) : f64_of((uint64_t)r->ival);
    switch (ty) {
    case TY_F32:
        *out = r->fkind == 'f' ? (uint64_t)r->ival & 0xffffffffu
                               : emu_fp_from_double(FMT_F32, v, 0, RND_RN, false);
        return 0;
    case TY_F64: *out = f64_bits(v); return 0;
    case TY_F16: *out = emu_fp_from_double(FMT_F16, v, 0, RND_RN, false); return 0;
    case TY_BF16: *out = emu_fp_from_double(FMT_BF16, v, 0, RND_RN, false); return 0;
    default:
        if (r->fkind == 'f' && bits == 32) {
            *out = (uint64_t)r->ival & 0xffffffffu;
            return 0;
        }
        if (r->fkind == 'd' && bits == 64) {
            *out = (uint64_t)r->ival;
            return 0;
        }
        return emu_dec_error(d, s, "floating-point literal used as a .%s operand", emu_types[ty].name);
    }
}

/* The value of a variable or parameter name used as an operand: its address. */
static int sym_address(Decoder *d, const RawStmt *s, const Sym *sym, int64_t off, int *space,
                       uint64_t *addr)
{
    if (sym->kind == SYM_ADDR) {
        *space = sym->space;
        *addr = sym->addr + (uint64_t)off;
        return 0;
    }
    if (sym->kind != SYM_VAR)
        return emu_dec_error(d, s, "label used as a value");
    const RawVar *v = &d->raw->vars[sym->first];
    if (!d->st->var_placed[sym->first])
        return emu_dec_error(d, s, "variable '%s' has no storage here", v->name);
    *space = d->st->var_local[sym->first] ? SP_LOCAL : v->space;
    *addr = d->st->var_addr[sym->first] + (uint64_t)off;
    return 0;
}

static int reg_operand(Decoder *d, const RawStmt *s, const char *name, int ty, bool dst, bool wide,
                       Operand *out)
{
    int64_t num;
    uint8_t bits;
    int slot = special_slot(name, &bits);
    if (slot >= 0) {
        if (dst)
            return emu_dec_error(d, s, "special register %s cannot be written", name);
        *out = (Operand){.kind = OK_REG, .idx = slot, .bits = bits};
    } else {
        const Sym *sym = lookup(d, scope_of(s), name, &num);
        if (!sym)
            return emu_dec_error(d, s, "unknown name '%s'", name);
        if (sym->kind == SYM_PRED)
            return emu_dec_error(d, s, "predicate %s used where a .%s value is expected", name,
                             emu_types[ty].name);
        if (sym->kind != SYM_REG)
            return 1; /* not a register: the caller tries other kinds */
        *out = (Operand){.kind = OK_REG, .idx = sym->first + (int)num, .bits = sym->bits};
    }
    int tb = ty_bits(ty);
    if (ty != TY_NONE && (out->bits < tb || (out->bits > tb && !wide)))
        return emu_dec_error(d, s, "register %s (%d bits) does not fit a .%s operand", name, out->bits,
                         emu_types[ty].name);
    return 0;
}

int emu_dec_src_wide(Decoder *d, const RawStmt *s, const RawOp *r, int ty, Operand *out)
{
    switch (r->kind) {
    case RO_NAME: {
        if (r->neg || r->name2)
            return emu_dec_error(d, s, "unexpected '!' or '|' on operand %s", r->name);
        int rc = reg_operand(d, s, r->name, ty, false, true, out);
        if (rc <= 0)
            return rc;
        int64_t num;
        const Sym *sym = lookup(d, scope_of(s), r->name, &num);
        int space;
        uint64_t addr;
        if (sym_address(d, s, sym, r->ival, &space, &addr))
            return -1;
        return emu_dec_imm(d, addr & width_mask(ty_bits(ty)), out);
    }
    case RO_INT:
    case RO_FLOAT: {
        uint64_t v = 0;
        if (imm_bits(d, s, r, ty, &v))
            return -1;
        return emu_dec_imm(d, v, out);
    }
    default: return emu_dec_error(d, s, "expected a register or a constant");
    }
}

int emu_dec_src(Decoder *d, const RawStmt *s, const RawOp *r, int ty, Operand *out)
{
    if (emu_dec_src_wide(d, s, r, ty, out))
        return -1;
    if (out->kind == OK_REG && out->bits > ty_bits(ty) && ty != TY_NONE) {
        char buf[64];
        return emu_dec_error(d, s, "register %s (%d bits) does not match a .%s operand",
                         emu_dec_reg_name(d->k, out, buf, sizeof buf), out->bits, emu_types[ty].name);
    }
    return 0;
}

static int dst_common(Decoder *d, const RawStmt *s, const RawOp *r, int ty, bool wide, Operand *out)
{
    if (r->kind == RO_SINK) {
        *out = (Operand){.kind = OK_SINK, .idx = SR_SINK, .bits = 64};
        return 0;
    }
    if (r->kind != RO_NAME || r->neg || r->name2)
        return emu_dec_error(d, s, "expected a destination register");
    int rc = reg_operand(d, s, r->name, ty, true, wide, out);
    if (rc > 0)
        return emu_dec_error(d, s, "'%s' is not a register", r->name);
    return rc;
}

int emu_dec_dst_wide(Decoder *d, const RawStmt *s, const RawOp *r, int ty, Operand *out)
{
    return dst_common(d, s, r, ty, true, out);
}

int emu_dec_dst(Decoder *d, const RawStmt *s, const RawOp *r, int ty, Operand *out)
{
    if (dst_common(d, s, r, ty, false, out))
        return -1;
    return 0;
}

static int pred_by_name(Decoder *d, const RawStmt *s, const char *name, bool neg, Operand *out)
{
    int64_t num;
    const Sym *sym = lookup(d, scope_of(s), name, &num);
    if (!sym)
        return emu_dec_error(d, s, "unknown name '%s'", name);
    if (sym->kind != SYM_PRED)
        return emu_dec_error(d, s, "'%s' is not a predicate", name);
    *out = (Operand){.kind = OK_PRED, .neg = neg, .idx = sym->first + (int)num};
    return 0;
}

bool emu_dec_is_pred(Decoder *d, const RawStmt *s, const char *name)
{
    int64_t num;
    const Sym *sym = lookup(d, scope_of(s), name, &num);
    return sym && sym->kind == SYM_PRED;
}

int emu_dec_pred(Decoder *d, const RawStmt *s, const RawOp *r, bool allow_neg, Operand *out)
{
    if (r->kind == RO_INT) /* a constant predicate: true when non-zero */
        return emu_dec_imm(d, r->ival != 0, out);
    if (r->kind != RO_NAME || r->name2 || (r->neg && !allow_neg))
        return emu_dec_error(d, s, "expected a predicate");
    return pred_by_name(d, s, r->name, r->neg, out);
}

int emu_dec_pred_dst(Decoder *d, const RawStmt *s, const RawOp *r, Operand *out)
{
    if (r->kind == RO_SINK) {
        *out = (Operand){.kind = OK_PRED, .idx = 0}; /* predicate 0 is the sink */
        return 0;
    }
    if (r->kind != RO_NAME || r->name2 || r->neg)
        return emu_dec_error(d, s, "expected a destination predicate");
    return pred_by_name(d, s, r->name, false, out);
}

int emu_dec_addr(Decoder *d, const RawStmt *s, const RawOp *r, int *spacep, Operand *out)
{
    int space = *spacep;
    if (r->kind != RO_ADDR)
        return emu_dec_error(d, s, "expected an address [..]");
    if (r->nelems)
        return emu_dec_error(d, s, "coordinates {..} in an address are for tensor copies only");
    *out = (Operand){.kind = OK_ADDR, .idx = -1, .val = r->ival};
    if (!r->name)
        return 0;
    int64_t num;
    uint8_t bits;
    if (special_slot(r->name, &bits) >= 0)
        return emu_dec_error(d, s, "special register %s used as an address", r->name);
    const Sym *sym = lookup(d, scope_of(s), r->name, &num);
    if (!sym)
        return emu_dec_error(d, s, "unknown name '%s'", r->name);
    if (sym->kind == SYM_REG) {
        if (sym->bits != 32 && sym->bits != 64)
            return emu_dec_error(d, s, "address register %s must have 32 or 64 bits", r->name);
        out->idx = sym->first + (int)num;
        out->bits = sym->bits;
        return 0;
    }
    if (sym->kind != SYM_VAR && sym->kind != SYM_ADDR)
        return emu_dec_error(d, s, "'%s' cannot be used as an address", r->name);
    int vspace;
    uint64_t addr;
    if (sym_address(d, s, sym, r->ival, &vspace, &addr))
        return -1;
    if (space == SP_PARAM && vspace == SP_LOCAL) /* a function's parameter */
        *spacep = space = SP_LOCAL;
    bool host = vspace == SP_GLOBAL || vspace == SP_CONST;
    if (space != vspace && !(space == SP_GENERIC && host) && !(space == SP_GLOBAL && host))
        return emu_dec_error(d, s, "'%s' is a .%s variable, used in a .%s access", r->name,
                         emu_space_names[vspace], emu_space_names[space]);
    out->val = (int64_t)addr;
    return 0;
}

int emu_dec_vec(Decoder *d, const RawStmt *s, const RawOp *r, int n, int ty, bool dst, bool wide,
            Operand *out)
{
    if (r->kind != RO_VEC)
        return emu_dec_error(d, s, "expected a vector operand {..}");
    if (n && r->nelems != n)
        return emu_dec_error(d, s, "expected a vector of %d elements, got %d", n, r->nelems);
    Kernel *k = d->k;
    int first = k->nvec;
    for (int i = 0; i < r->nelems; i++) {
        Operand e;
        int rc = dst ? (wide ? emu_dec_dst_wide(d, s, &r->elems[i], ty, &e)
                             : emu_dec_dst(d, s, &r->elems[i], ty, &e))
                     : (r->elems[i].kind == RO_SINK
                            ? emu_dec_error(d, s, "'_' used as a source")
                            : wide ? emu_dec_src_wide(d, s, &r->elems[i], ty, &e)
                                   : emu_dec_src(d, s, &r->elems[i], ty, &e));
        if (rc)
            return -1;
        if (k->nvec >= d->st->vec_cap)
            k->vec = arena_grow(d->arena, k->vec, k->nvec, &d->st->vec_cap, sizeof *k->vec,
                                k->nvec + 1);
        k->vec[k->nvec++] = e;
    }
    *out = (Operand){.kind = OK_VEC, .idx = first, .nelem = (uint8_t)r->nelems};
    return 0;
}

int emu_dec_label(Decoder *d, const RawStmt *s, const RawOp *r, Operand *out)
{
    if (r->kind != RO_NAME || r->neg || r->name2)
        return emu_dec_error(d, s, "expected a label");
    int64_t num;
    const Sym *sym = lookup(d, scope_of(s), r->name, &num);
    if (!sym || sym->kind != SYM_LABEL)
        return emu_dec_error(d, s, "unknown label '%s'", r->name);
    *out = (Operand){.kind = OK_LABEL, .idx = sym->first};
    return 0;
}

int emu_dec_type(Decoder *d, const RawStmt *s, const Mods *m, uint64_t allowed, int *ty)
{
    if (m->ntype != 1)
        return emu_dec_error(d, s, m->ntype ? "too many types" : "missing type");
    if (!(allowed & TYB(m->type[0])))
        return emu_dec_error(d, s, "type .%s is not supported here", emu_types[m->type[0]].name);
    *ty = m->type[0];
    return 0;
}

int emu_dec_alu(Decoder *d, const RawStmt *s, Insn *in, AluFn fn, int ty, int dty, int t1, int t2,
            int t3)
{
    int ts[3] = {t1, t2, t3};
    int nsrc = t3 ? 3 : t2 ? 2 : 1;
    if (emu_dec_nops(d, s, nsrc + 1, nsrc + 1) || emu_dec_dst(d, s, &s->ops[0], dty, &in->op[0]))
        return -1;
    for (int i = 0; i < nsrc; i++)
        if (emu_dec_src(d, s, &s->ops[i + 1], ts[i], &in->op[i + 1]))
            return -1;
    in->nops = (uint8_t)(nsrc + 1);
    in->exec = emu_exec_alu;
    in->alu = fn;
    in->ty = (uint8_t)ty;
    in->bits = (uint8_t)ty_bits(ty);
    in->sgn = ty_signed(ty);
    return 0;
}

/* ---- opcodes and modifiers -------------------------------------------------- */

static void build_tables(Decoder *d)
{
    struct DecodeState *st = d->st;
    int cap = 0;
    for (const OpDesc *const *t = family_tables(); *t; t++)
        for (const OpDesc *o = *t; o->name; o++) {
            if (st->nopdescs >= cap)
                st->opdescs = arena_grow(d->arena, st->opdescs, st->nopdescs, &cap,
                                         sizeof *st->opdescs, st->nopdescs + 1);
            map_put(d->arena, &st->ops, TAG_OPCODE, o->name, st->nopdescs);
            st->opdescs[st->nopdescs++] = o;
        }
    for (size_t i = 0; i < TSR_ARRAY_LEN(mod_table); i++)
        map_put(d->arena, &st->mods, TAG_MOD, mod_table[i].name, (int)i);
}

/* A shape mMnNkK that the modifier table does not list (wgmma's m64nNk16):
 * true with the three sizes. */
static bool parse_mnk(const char *name, uint16_t mnk[3])
{
    const char *p = name;
    static const char letters[3] = {'m', 'n', 'k'};
    for (int i = 0; i < 3; i++) {
        if (*p++ != letters[i] || *p < '1' || *p > '9')
            return false;
        unsigned v = 0;
        while (*p >= '0' && *p <= '9' && v < 10000)
            v = v * 10 + (unsigned)(*p++ - '0');
        if (v >= 10000)
            return false;
        mnk[i] = (uint16_t)v;
    }
    return *p == 0;
}

/* Splits "ld.global.v4.u32" into its opcode (the longest known dotted prefix)
 * and its modifiers. */
static int split_opcode(Decoder *d, const RawStmt *s, const OpDesc **op, Mods *m)
{
    const char *text = s->opcode;
    const char *dots[16];
    int nd = 0;
    for (const char *p = text; *p; p++)
        if (*p == '.') {
            if (nd >= 15)
                return emu_dec_error(d, s, "too many modifiers");
            dots[nd++] = p;
        }
    dots[nd] = text + strlen(text);
    int base = -1, nparts = 0;
    for (int k = nd < 4 ? nd : 4; k >= 0; k--) {
        int i = map_get(&d->st->ops, TAG_OPCODE, text, (size_t)(dots[k] - text));
        if (i >= 0) {
            base = i;
            nparts = k;
            break;
        }
    }
    if (base < 0) {
        size_t n = (size_t)(dots[0] - text);
        return emu_dec_error(d, s, "unknown instruction '%.*s'", (int)n, text);
    }
    *op = d->st->opdescs[base];
    memset(m, 0, sizeof *m);
    if ((*op)->decode == emu_decode_unsupported || ((*op)->arg & OP_RAW_MODS))
        return 0;
    for (int i = nparts; i < nd; i++) {
        const char *mp = dots[i] + 1;
        size_t n = (size_t)(dots[i + 1] - mp);
        int ty = TY_NONE;
        char name[40];
        if (n >= sizeof name)
            return emu_dec_error(d, s, "unknown modifier");
        memcpy(name, mp, n);
        name[n] = 0;
        if ((ty = emu_ptx_type(name)) != TY_NONE && ty != TY_PRED) {
            if (m->ntype >= 4)
                return emu_dec_error(d, s, "too many types");
            m->type[m->ntype++] = (uint8_t)ty;
            m->cats |= MCB(MC_TYPE);
            m->text[MC_TYPE] = arena_strdup(d->arena, name);
            continue;
        }
        if (ty == TY_PRED) {
            if (m->ntype >= 4)
                return emu_dec_error(d, s, "too many types");
            m->type[m->ntype++] = TY_PRED;
            m->cats |= MCB(MC_TYPE);
            m->text[MC_TYPE] = "pred";
            continue;
        }
        int mi = map_get(&d->st->mods, TAG_MOD, name, n);
        if (mi < 0 && parse_mnk(name, m->mnk)) {
            if (m->cats & MCB(MC_SHAPE))
                return emu_dec_error(d, s, "two shapes");
            m->cats |= MCB(MC_SHAPE);
            m->text[MC_SHAPE] = arena_strdup(d->arena, name);
            m->shape = SHAPE_MNK;
            continue;
        }
        if (mi < 0)
            return emu_dec_error(d, s, "unknown modifier '.%s'", name);
        const ModDesc *md = &mod_table[mi];
        const char *t = md->name;
        if ((m->cats & MCB(md->cat)) && md->cat != MC_FLAG && md->cat != MC_SPACE &&
            md->cat != MC_LAYOUT && md->cat != MC_CACHE && md->cat != MC_SCOPE && md->cat != MC_SEM)
            return emu_dec_error(d, s, "conflicting modifiers '.%s' and '.%s'", m->text[md->cat], t);
        m->cats |= MCB(md->cat);
        m->text[md->cat] = t;
        switch (md->cat) {
        case MC_RND: m->rnd = (uint8_t)md->val; break;
        case MC_SPACE:
            if (m->nspace >= 2)
                return emu_dec_error(d, s, "too many state spaces");
            m->space[m->nspace++] = (uint8_t)md->val;
            break;
        case MC_VEC: m->vec = (uint8_t)md->val; break;
        case MC_CMP: m->cmp = (uint8_t)md->val; break;
        case MC_LOGIC: m->logic = (uint8_t)md->val; break;
        case MC_ATOM: m->atom = (uint8_t)md->val; break;
        case MC_SHFL: m->shfl = (uint8_t)md->val; break;
        case MC_VOTE: m->vote = (uint8_t)md->val; break;
        case MC_SHAPE: m->shape = (uint8_t)md->val; break;
        case MC_NUM: m->num = (uint8_t)md->val; break;
        case MC_LAYOUT:
            if (m->nlayout >= 2)
                return emu_dec_error(d, s, "too many layouts");
            m->layout[m->nlayout++] = (uint8_t)md->val;
            break;
        case MC_FLAG:
            m->flags |= md->val;
            m->flag_text[__builtin_ctz(md->val)] = t;
            break;
        case MC_PRMT: m->prmt = (uint8_t)md->val; break;
        case MC_TESTP: m->testp = (uint8_t)md->val; break;
        case MC_SHFDIR: m->shfdir = (uint8_t)md->val; break;
        default: break;
        }
    }
    return 0;
}

/* ---- a function ------------------------------------------------------------- */

static size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

static int place_var(Decoder *d, int vi, const RawVar *v)
{
    struct DecodeState *st = d->st;
    Kernel *k = d->k;
    if (st->var_placed[vi])
        return 0;
    if (v->space == SP_SHARED && !v->is_extern) {
        if (st->dyn_placed)
            return emu_dec_error(d, NULL, "shared variable '%s' first used in a called function: "
                                 "not supported by the emulator", v->name);
        k->static_smem = align_up(k->static_smem, v->align);
        st->var_addr[vi] = k->static_smem;
        k->static_smem += v->size;
        if (k->static_smem > EMU_MAX_SMEM)
            return emu_dec_error(d, NULL, "static shared memory of '%s' exceeds %d bytes", k->name,
                             EMU_MAX_SMEM);
    } else if (v->space == SP_LOCAL || (v->space == SP_PARAM && v->is_func_scope)) {
        /* a function's .param variables (call arguments) live in local memory */
        st->var_local[vi] = v->space == SP_PARAM;
        k->local_bytes = align_up(k->local_bytes, v->align);
        st->var_addr[vi] = k->local_bytes;
        k->local_bytes += v->size;
        if (k->local_bytes > EMU_MAX_LOCAL)
            return emu_dec_error(d, NULL, "local memory of '%s' exceeds %d bytes", k->name,
                             EMU_MAX_LOCAL);
    } else {
        return 0; /* module .global/.const: placed by the module; extern shared: later */
    }
    st->var_placed[vi] = true;
    return 0;
}

/* Places module-level .shared variables that an operand names. */
static int place_module_shared(Decoder *d, const RawOp *ops, int n)
{
    for (int i = 0; i < n; i++) {
        const RawOp *r = &ops[i];
        if (r->kind == RO_VEC || r->kind == RO_PAREN) {
            if (place_module_shared(d, r->elems, r->nelems))
                return -1;
            continue;
        }
        if ((r->kind != RO_NAME && r->kind != RO_ADDR) || !r->name)
            continue;
        int si = map_get(&d->st->names, TAG_MODULE, r->name, strlen(r->name));
        if (si < 0 || d->st->syms[si].kind != SYM_VAR)
            continue;
        int vi = d->st->syms[si].first;
        const RawVar *v = &d->raw->vars[vi];
        if (v->space == SP_SHARED && !v->is_extern && place_var(d, vi, v))
            return -1;
    }
    return 0;
}

/* Pass 1: scopes, registers, labels, variables. */
static int declare_names(Decoder *d)
{
    struct DecodeState *st = d->st;
    Kernel *k = d->k;
    const RawFunc *fn = d->fn;
    int scope = 0, ninsn = k->ncode, decl_cap = k->ndecls;
    int nregs = k->nregs, npreds = k->npreds; /* functions follow the kernel's registers */
    st->scopecap = 0;
    st->scope_parent = arena_grow(d->arena, NULL, 0, &st->scopecap, sizeof(int), 1);
    st->scope_parent[0] = -1;
    st->nscopes = 1;
    for (int i = 0; i < fn->nstmts; i++) {
        RawStmt *s = &fn->stmts[i];
        s->scope = scope;
        switch (s->kind) {
        case RS_OPEN:
            if (st->nscopes >= st->scopecap)
                st->scope_parent = arena_grow(d->arena, st->scope_parent, st->nscopes,
                                              &st->scopecap, sizeof(int), st->nscopes + 1);
            st->scope_parent[st->nscopes] = scope;
            scope = st->nscopes++;
            break;
        case RS_CLOSE: scope = st->scope_parent[scope]; break;
        case RS_REG: {
            bool pred = s->type == TY_PRED;
            int64_t cnt = s->count < 0 ? 1 : s->count;
            int *ctr = pred ? &npreds : &nregs;
            if (*ctr + cnt > (pred ? EMU_MAX_PREDS : EMU_MAX_REGS))
                return emu_dec_error(d, s, "too many registers in '%s'", fn->name);
            if (map_get(&st->names, scope, s->name, strlen(s->name)) >= 0)
                return emu_dec_error(d, s, "'%s' declared twice", s->name);
            int bits = pred ? 1 : ty_bits(s->type);
            if (!pred && (bits < 8 || bits > 64))
                return emu_dec_error(d, s, "registers of type .%s are not supported",
                                 emu_types[s->type].name);
            if (!pred && bits == 8)
                bits = 16; /* .b8 registers hold 16 bits (PTX stores them in 16-bit regs) */
            Sym sym = {.kind = pred ? SYM_PRED : SYM_REG, .range = s->count >= 0,
                       .bits = (uint8_t)bits, .first = *ctr, .count = cnt, .line = s->line};
            add_sym(d, scope, s->name, sym);
            RegDecl rd = {.name = s->name, .first = *ctr, .count = (int)cnt,
                          .is_range = s->count >= 0, .bits = (uint8_t)bits, .pred = pred};
            if (k->ndecls >= decl_cap)
                k->decls = arena_grow(d->arena, k->decls, k->ndecls, &decl_cap, sizeof *k->decls,
                                      k->ndecls + 1);
            k->decls[k->ndecls++] = rd;
            *ctr += (int)cnt;
            break;
        }
        case RS_LABEL:
            if (map_get(&st->names, scope, s->name, strlen(s->name)) >= 0)
                return emu_dec_error(d, s, "label '%s' defined twice", s->name);
            add_sym(d, scope, s->name, (Sym){.kind = SYM_LABEL, .first = ninsn, .line = s->line});
            break;
        case RS_VAR: {
            const RawVar *v = &d->raw->vars[s->var];
            if (map_get(&st->names, scope, v->name, strlen(v->name)) >= 0)
                return emu_dec_error(d, s, "'%s' declared twice", v->name);
            add_sym(d, scope, v->name, (Sym){.kind = SYM_VAR, .first = s->var, .line = s->line});
            if (place_var(d, s->var, v))
                return -1;
            break;
        }
        case RS_INSN:
            if (place_module_shared(d, s->ops, s->nops))
                return -1;
            ninsn++;
            break;
        }
    }
    k->nregs = nregs;
    k->npreds = npreds;
    return 0;
}

/* Dynamic shared memory follows the static allocation. */
static void place_dynamic_shared(Decoder *d)
{
    struct DecodeState *st = d->st;
    Kernel *k = d->k;
    size_t dalign = 16;
    for (int i = 0; i < d->raw->nvars; i++) {
        const RawVar *v = &d->raw->vars[i];
        if (v->space == SP_SHARED && v->is_extern && v->align > dalign)
            dalign = v->align;
    }
    k->dyn_smem_align = dalign;
    st->dyn_placed = true;
    size_t dyn_off = align_up(k->static_smem, dalign);
    for (int i = 0; i < d->raw->nvars; i++) {
        const RawVar *v = &d->raw->vars[i];
        if (v->space == SP_SHARED && v->is_extern) {
            st->var_addr[i] = dyn_off;
            st->var_placed[i] = true;
        }
    }
}

static int decode_insn(Decoder *d, const RawStmt *s, Insn *in)
{
    const OpDesc *op = NULL;
    Mods mods;
    memset(in, 0, sizeof *in);
    in->line = s->line;
    in->src_line = s->src_line;
    in->text = s->opcode;
    in->guard = -1;
    in->target = in->reconv = -1;
    if (split_opcode(d, s, &op, &mods))
        return -1;
    if (s->guard) {
        Operand g;
        if (pred_by_name(d, s, s->guard, s->guard_neg, &g))
            return -1;
        in->guard = g.idx;
        in->guard_neg = g.neg;
    }
    d->op_arg = op->arg & ~OP_RAW_MODS;
    d->opname = op->name;
    if (op->decode(d, s, &mods, in))
        return -1;
    if (!in->exec && in->ctl == CTL_EXEC)
        tsr_die("decoder for '%s' set no executor", op->name);
    for (int i = 0; i < in->nops; i++)
        if (in->op[i].kind == OK_REG && in->op[i].idx >= SR_CLOCK && in->op[i].idx <= SR_GLOBALTIMER_HI)
            in->clock = true;
    return 0;
}

static int layout_params(Decoder *d)
{
    const RawFunc *fn = d->fn;
    Kernel *k = d->k;
    k->nparams = fn->nparams;
    k->params = arena_alloc(d->arena, sizeof *k->params * (size_t)(fn->nparams + 1));
    k->param_names = arena_alloc(d->arena, sizeof *k->param_names * (size_t)(fn->nparams + 1));
    size_t off = 0;
    for (int i = 0; i < fn->nparams; i++) {
        const RawParam *p = &fn->params[i];
        size_t al = p->align ? p->align : 1;
        off = align_up(off, al);
        k->params[i] = (EmuParamInfo){.size = p->size, .align = al, .offset = off};
        k->param_names[i] = p->name;
        if (map_get(&d->st->names, TAG_PARAM, p->name, strlen(p->name)) >= 0)
            return emu_dec_error(d, NULL, "parameter '%s' declared twice", p->name);
        add_sym(d, TAG_PARAM, p->name,
                (Sym){.kind = SYM_ADDR, .space = SP_PARAM, .addr = off, .size = (uint32_t)p->size});
        off += p->size;
        if (off > EMU_MAX_PARAM)
            return emu_dec_error(d, NULL, "parameters of '%s' exceed %d bytes", fn->name, EMU_MAX_PARAM);
    }
    k->param_bytes = off;
    return 0;
}

/* A function's parameters and return values: local memory of the kernel (a
 * function is never active twice at once: recursion is refused). */
static int layout_func_params(Decoder *d, FuncInfo *fi)
{
    const RawFunc *fn = d->fn;
    Kernel *k = d->k;
    fi->param_off = arena_alloc(d->arena, sizeof(uint32_t) * (size_t)(fn->nparams + 1));
    fi->param_size = arena_alloc(d->arena, sizeof(uint32_t) * (size_t)(fn->nparams + 1));
    for (int i = 0; i < fn->nparams + fn->nrets; i++) {
        const RawParam *p = i < fn->nparams ? &fn->params[i] : &fn->rets[i - fn->nparams];
        if (map_get(&d->st->names, 0, p->name, strlen(p->name)) >= 0)
            return emu_dec_error(d, NULL, "parameter '%s' declared twice", p->name);
        k->local_bytes = align_up(k->local_bytes, p->align ? p->align : 1);
        uint32_t off = (uint32_t)k->local_bytes;
        k->local_bytes += p->size;
        if (k->local_bytes > EMU_MAX_LOCAL)
            return emu_dec_error(d, NULL, "local memory of '%s' exceeds %d bytes", k->name, EMU_MAX_LOCAL);
        add_sym(d, 0, p->name,
                (Sym){.kind = SYM_ADDR, .space = SP_LOCAL, .addr = off, .size = (uint32_t)p->size});
        if (i < fn->nparams) {
            fi->param_off[i] = off;
            fi->param_size[i] = (uint32_t)p->size;
        } else if (i == fn->nparams) {
            fi->ret_off = off;
            fi->ret_size = (uint32_t)p->size;
        }
    }
    return 0;
}

static Insn *new_insn(Decoder *d)
{
    Kernel *k = d->k;
    if (k->ncode >= d->st->code_cap)
        k->code = arena_grow(d->arena, k->code, k->ncode, &d->st->code_cap, sizeof *k->code,
                             k->ncode + 1);
    return &k->code[k->ncode++];
}

static int func_index(const RawModule *raw, const char *name)
{
    for (int i = 0; i < raw->nfuncs; i++)
        if (strcmp(raw->funcs[i].name, name) == 0 && raw->funcs[i].has_body)
            return i;
    for (int i = 0; i < raw->nfuncs; i++)
        if (strcmp(raw->funcs[i].name, name) == 0)
            return i;
    return -1;
}

/* The storage of a call argument: a .param variable declared by the caller. */
static int call_operand(Decoder *d, const RawStmt *s, const RawOp *r, uint32_t *off, uint32_t *size)
{
    int64_t num;
    const Sym *sym = r->kind == RO_NAME ? lookup(d, scope_of(s), r->name, &num) : NULL;
    if (!sym || sym->kind != SYM_VAR || !d->st->var_local[sym->first])
        return emu_dec_error(d, s, "call arguments must be .param variables of the caller");
    *off = (uint32_t)d->st->var_addr[sym->first];
    *size = (uint32_t)d->raw->vars[sym->first].size;
    return 0;
}

/* call{.uni} [(ret),] func[, (args...)] */
int emu_dec_call(Decoder *d, const RawStmt *s, Insn *in)
{
    Kernel *k = d->k;
    int i = 0;
    const RawOp *ret = NULL, *args = NULL;
    if (i < s->nops && s->ops[i].kind == RO_PAREN)
        ret = &s->ops[i++];
    if (i >= s->nops || s->ops[i].kind != RO_NAME)
        return emu_dec_error(d, s, "expected the called function");
    const char *name = s->ops[i++].name;
    if (i < s->nops && s->ops[i].kind == RO_PAREN)
        args = &s->ops[i++];
    if (i < s->nops)
        return emu_dec_error(d, s, "indirect calls are not supported by the emulator");
    if (ret && ret->nelems > 1)
        return emu_dec_error(d, s, "more than one return value");
    int nargs = args ? args->nelems : 0;
    if (nargs > EMU_MAX_CALL_ARGS)
        return emu_dec_error(d, s, "more than %d call arguments", EMU_MAX_CALL_ARGS);
    CallSite cs = {.callee = -1, .nargs = nargs, .line = s->line};
    for (int a = 0; a < nargs; a++)
        if (call_operand(d, s, &args->elems[a], &cs.arg_caller[a], &cs.arg_size[a]))
            return -1;
    if (ret && ret->nelems == 1 && call_operand(d, s, &ret->elems[0], &cs.ret_caller, &cs.ret_size))
        return -1;
    int fi = func_index(d->raw, name);
    if (fi < 0)
        return emu_dec_error(d, s, "call to unknown function '%s'", name);
    const RawFunc *callee = &d->raw->funcs[fi];
    if (callee->is_entry)
        return emu_dec_error(d, s, "call to kernel '%s'", name);
    in->ctl = CTL_CALL;
    if (!callee->has_body) {
        /* what nvcc calls without defining: printf output is dropped, assert fails */
        if (strcmp(name, "vprintf") == 0)
            cs.builtin = CALL_VPRINTF;
        else if (strcmp(name, "__assertfail") == 0)
            cs.builtin = CALL_ASSERTFAIL;
        else
            return emu_dec_error(d, s, "call to '%s', which the module does not define", name);
    } else {
        cs.callee = fi;
        if (!d->st->funcs[fi].state) {
            d->st->funcs[fi].state = 1;
            if (d->st->nqueue >= d->st->queuecap)
                d->st->queue = arena_grow(d->arena, d->st->queue, d->st->nqueue, &d->st->queuecap,
                                          sizeof(int), d->st->nqueue + 1);
            d->st->queue[d->st->nqueue++] = fi;
        }
    }
    if (k->ncalls >= d->st->call_cap)
        k->calls = arena_grow(d->arena, k->calls, k->ncalls, &d->st->call_cap, sizeof *k->calls,
                              k->ncalls + 1);
    in->target = k->ncalls;
    k->calls[k->ncalls++] = cs;
    return 0;
}

/* Decodes one function's body into the kernel's code, after what is there. */
static int decode_body(Decoder *d, const RawFunc *fn, FuncInfo *fi)
{
    struct DecodeState *st = d->st;
    Kernel *k = d->k;
    d->fn = fn;
    st->names = (StrMap){0};
    st->nsyms = st->symcap = 0;
    st->syms = NULL;
    for (int i = 0; i < d->raw->nvars; i++) {
        const RawVar *v = &d->raw->vars[i];
        if (!v->is_func_scope)
            add_sym(d, TAG_MODULE, v->name, (Sym){.kind = SYM_VAR, .first = i, .line = v->line});
    }
    if ((fn->is_entry ? layout_params(d) : layout_func_params(d, fi)) || declare_names(d))
        return -1;
    if (fn->is_entry)
        place_dynamic_shared(d);
    if (fi)
        fi->entry = k->ncode;
    for (int i = 0; i < fn->nstmts; i++) {
        const RawStmt *s = &fn->stmts[i];
        if (s->kind == RS_INSN && decode_insn(d, s, new_insn(d)))
            return -1;
    }
    /* falling off the end leaves the kernel, or returns from the function */
    *new_insn(d) = (Insn){.ctl = fn->is_entry ? CTL_EXIT : CTL_RET,
                          .line = fn->nstmts ? fn->stmts[fn->nstmts - 1].line : fn->line,
                          .text = fn->is_entry ? "(end of kernel)" : "(end of function)",
                          .guard = -1, .target = -1, .reconv = -1};
    return 0;
}

/* Refuses recursion: functions are decoded once per kernel, with one copy
 * of their registers and parameters. */
static int check_recursion(Decoder *d, int f, uint8_t *mark)
{
    if (mark[f] == 1)
        return emu_dec_error(d, NULL, "function '%s' is called recursively, which the emulator "
                             "does not support", d->raw->funcs[f].name);
    if (mark[f] == 2)
        return 0;
    mark[f] = 1;
    int32_t lo = d->st->funcs[f].entry;
    for (int c = 0; c < d->k->ncalls; c++) {
        const CallSite *cs = &d->k->calls[c];
        if (cs->callee < 0 || cs->caller_entry != lo)
            continue;
        if (check_recursion(d, cs->callee, mark))
            return -1;
    }
    mark[f] = 2;
    return 0;
}

int emu_decode_function(EmuModule *m, const RawModule *raw, const RawFunc *fn, Kernel *k,
                        const uint64_t *module_var_addr, StrBuf *err)
{
    struct DecodeState st;
    memset(&st, 0, sizeof st);
    Decoder d = {.arena = &m->arena, .m = m, .raw = raw, .fn = fn, .k = k, .err = err, .st = &st};
    memset(k, 0, sizeof *k);
    k->name = fn->name;
    k->line = fn->line;
    k->is_entry = fn->is_entry;
    memcpy(k->maxntid, fn->maxntid, sizeof k->maxntid);
    memcpy(k->reqntid, fn->reqntid, sizeof k->reqntid);
    k->minnctapersm = fn->minnctapersm;
    k->maxnreg = fn->maxnreg;
    k->nregs = SR_COUNT;
    k->npreds = 1; /* predicate 0 is the sink */
    build_tables(&d);
    st.var_addr = arena_alloc(d.arena, sizeof(uint64_t) * (size_t)(raw->nvars + 1));
    st.var_placed = arena_alloc(d.arena, sizeof(bool) * (size_t)(raw->nvars + 1));
    st.var_local = arena_alloc(d.arena, sizeof(bool) * (size_t)(raw->nvars + 1));
    st.funcs = arena_alloc(d.arena, sizeof *st.funcs * (size_t)(raw->nfuncs + 1));
    for (int i = 0; i < raw->nvars; i++) {
        const RawVar *v = &raw->vars[i];
        if (!v->is_func_scope && (v->space == SP_GLOBAL || v->space == SP_CONST)) {
            st.var_addr[i] = module_var_addr[i];
            st.var_placed[i] = true;
        }
    }
    Operand zop;
    if (emu_dec_imm(&d, 0, &zop) || decode_body(&d, fn, NULL))
        return -1;
    int entry_calls = k->ncalls;
    for (int q = 0; q < st.nqueue; q++) {
        int f = st.queue[q];
        int first_call = k->ncalls;
        if (decode_body(&d, &raw->funcs[f], &st.funcs[f]))
            return -1;
        st.funcs[f].state = 2;
        for (int c = first_call; c < k->ncalls; c++)
            k->calls[c].caller_entry = st.funcs[f].entry;
    }
    for (int c = 0; c < entry_calls; c++)
        k->calls[c].caller_entry = 0;
    /* the callees' entries and parameters, now that all are decoded */
    for (int c = 0; c < k->ncalls; c++) {
        CallSite *cs = &k->calls[c];
        if (cs->callee < 0)
            continue;
        const FuncInfo *fi = &st.funcs[cs->callee];
        const RawFunc *cf = &raw->funcs[cs->callee];
        if (cs->nargs != cf->nparams) {
            d.fn = fn;
            sb_printf(err, "ptx:%d: error: call of '%s' with %d arguments; it has %d", cs->line,
                      cf->name, cs->nargs, cf->nparams);
            return -1;
        }
        cs->entry = fi->entry;
        for (int a = 0; a < cs->nargs; a++) {
            cs->arg_callee[a] = fi->param_off[a];
            if (fi->param_size[a] < cs->arg_size[a])
                cs->arg_size[a] = fi->param_size[a];
        }
        cs->ret_callee = fi->ret_off;
        if (fi->ret_size < cs->ret_size)
            cs->ret_size = fi->ret_size;
        if (!cf->nrets)
            cs->ret_size = 0;
    }
    uint8_t *mark = arena_alloc(d.arena, (size_t)raw->nfuncs + 1);
    for (int q = 0; q < st.nqueue; q++)
        if (check_recursion(&d, st.queue[q], mark))
            return -1;
    return emu_cfg_reconv(k, err);
}
