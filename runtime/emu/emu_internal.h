/* Internal structures of the PTX emulator, shared by its files:
 *   emu_ptx_parse.c   PTX text -> raw statements (names, opcodes, operand trees)
 *   decode.c      raw statements -> decoded kernels (Insn arrays), the opcode table
 *   ops_*.c       one family of instructions each: its decoder and executors
 *   cfg.c         reconvergence points (immediate post-dominators) of branches
 *   fp.c          bit-exact floating-point rounding and conversions
 *   sched.c       grid, CTAs, warps, the SIMT stack, barriers, host threads
 *   memory.c      address resolution and checks for every state space
 *   race.c        the shared-memory race detector (and the async proxy's
 *                 pending reads and writes)
 * Each instruction is decoded once into an Insn with resolved register slots;
 * a warp executes an Insn for all its active lanes at once. */
#ifndef TSR_EMU_INTERNAL_H
#define TSR_EMU_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "emu.h"
#include "util.h"

enum { WARP_SIZE = 32 };
#define FULL_MASK 0xffffffffu

/* Limits that keep hostile PTX from exhausting the host. */
enum {
    EMU_MAX_REGS = 1 << 16,   /* register slots per function */
    EMU_MAX_PREDS = 1 << 14,
    EMU_MAX_SMEM = 228 * 1024, /* shared memory per CTA (sm_90: 227 KB + 1 KB) */
    EMU_MAX_LOCAL = 512 * 1024, /* local memory per thread */
    EMU_MAX_PARAM = 32 * 1024,
    EMU_MAX_THREADS = 1024,
};

/* ---- types ---------------------------------------------------------------- */

enum {
    TY_NONE,
    TY_B8, TY_B16, TY_B32, TY_B64, TY_B128,
    TY_U8, TY_U16, TY_U32, TY_U64,
    TY_S8, TY_S16, TY_S32, TY_S64,
    TY_F16, TY_F16X2, TY_BF16, TY_BF16X2, TY_TF32, TY_F32, TY_F64,
    TY_E4M3, TY_E5M2, TY_E4M3X2, TY_E5M2X2,
    TY_U16X2, TY_S16X2,
    TY_PRED,
    TY_COUNT
};

enum { TK_BITS, TK_UINT, TK_SINT, TK_FLOAT, TK_PRED };

typedef struct {
    const char *name; /* without the dot */
    uint8_t size;     /* bytes */
    uint8_t kind;     /* TK_* */
} TypeDesc;

extern const TypeDesc emu_types[TY_COUNT];
static inline int ty_size(int t) { return emu_types[t].size; }
static inline int ty_bits(int t) { return emu_types[t].size * 8; }
static inline bool ty_signed(int t) { return emu_types[t].kind == TK_SINT; }
static inline bool ty_float(int t) { return emu_types[t].kind == TK_FLOAT; }
static inline bool ty_int(int t)
{
    return emu_types[t].kind == TK_UINT || emu_types[t].kind == TK_SINT ||
           emu_types[t].kind == TK_BITS;
}
/* Population counts without libgcc's slow generic routine (no -mpopcnt). */
static inline int popc32(uint32_t v)
{
    v = v - ((v >> 1) & 0x55555555u);
    v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
    return (int)((((v + (v >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24);
}
static inline int popc64(uint64_t v) { return popc32((uint32_t)v) + popc32((uint32_t)(v >> 32)); }
static inline uint64_t width_mask(int bits) { return bits >= 64 ? ~0ull : (1ull << bits) - 1; }
static inline int64_t sext(uint64_t v, int bits)
{
    return bits >= 64 ? (int64_t)v : (int64_t)(v << (64 - bits)) >> (64 - bits);
}

/* Floating-point formats (fp.c). */
enum { FMT_F16, FMT_BF16, FMT_TF32, FMT_F32, FMT_F64, FMT_E4M3, FMT_E5M2, FMT_COUNT };
/* Rounding modes. RND_NONE means "the default" (rn for floats). */
enum { RND_NONE, RND_RN, RND_RZ, RND_RM, RND_RP, RND_RNA, RND_RNI, RND_RZI, RND_RMI, RND_RPI };

/* State spaces. */
enum { SP_NONE, SP_GENERIC, SP_GLOBAL, SP_SHARED, SP_LOCAL, SP_PARAM, SP_CONST, SP_COUNT };
extern const char *const emu_space_names[SP_COUNT];

/* ---- fp.c ----------------------------------------------------------------- */

/* Rounds the exact value (-1)^sign * mag * 2^exp2 to `fmt` with mode `rnd`
 * (RND_RN/RZ/RM/RP/RNA); `satfinite` turns overflow into the largest finite
 * value. Returns the format's bits. */
uint64_t emu_fp_round(int fmt, int sign, uint64_t mag, int exp2, int rnd, bool satfinite);
/* Rounds s + tiny, where tiny has the sign of `resid` (0: s is exact) and is
 * smaller than half an ulp of s: the exact result of an operation whose
 * double-precision result is s. Handles NaN and infinities. */
uint64_t emu_fp_from_double(int fmt, double s, int resid, int rnd, bool satfinite);
/* The same for the value (s + tiny) * 2^scale. */
uint64_t emu_fp_from_double_scaled(int fmt, double s, int resid, int scale, int rnd, bool satfinite);
double emu_fp_to_double(int fmt, uint64_t bits);
uint64_t emu_fp_canonical_nan(int fmt);
bool emu_fp_is_nan(int fmt, uint64_t bits);
bool emu_fp_is_subnormal(int fmt, uint64_t bits);
/* Sign-preserving zero for subnormal inputs (the .ftz rule). */
uint64_t emu_fp_flush(int fmt, uint64_t bits);
int emu_fp_bits(int fmt);
/* The exact double result of op(x, y, z) rounded to nearest, and the sign of
 * what rounding dropped. op is one of FOP_* below. Returns false when the
 * residual cannot be known (fma on doubles). */
enum { FOP_ADD, FOP_SUB, FOP_MUL, FOP_FMA, FOP_DIV, FOP_SQRT };
bool emu_fp_exact_op(int op, double x, double y, double z, double *s, int *resid);
static inline float f32_of(uint64_t v)
{
    union { uint32_t u; float f; } c = {.u = (uint32_t)v};
    return c.f;
}
static inline uint32_t f32_bits(float f)
{
    union { uint32_t u; float f; } c = {.f = f};
    return c.u;
}
static inline double f64_of(uint64_t v)
{
    union { uint64_t u; double f; } c = {.u = v};
    return c.f;
}
static inline uint64_t f64_bits(double f)
{
    union { uint64_t u; double f; } c = {.f = f};
    return c.u;
}
static inline float emu_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f)
        return f32_of(sign | 0x7f800000u | mant << 13);
    if (exp == 0) {
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    return f32_of(sign | (exp + 112) << 23 | mant << 13);
}
static inline float emu_bf16_to_f32(uint16_t h) { return f32_of((uint32_t)h << 16); }
/* Round-to-nearest-even f32 -> f16/bf16, NaN -> the canonical NaN (fast paths
 * of emu_fp_from_double). */
uint16_t emu_f32_to_f16_rn(uint32_t x);
uint16_t emu_f32_to_bf16_rn(uint32_t x);

/* ---- raw statements (emu_ptx_parse.c) ----------------------------------------- */

enum { RO_NAME, RO_INT, RO_FLOAT, RO_ADDR, RO_VEC, RO_SINK, RO_PAREN };

typedef struct RawOp RawOp;
struct RawOp {
    uint8_t kind;
    bool neg;          /* !name */
    char fkind;        /* RO_FLOAT: 'f' (0f bits), 'd' (0d bits), 'x' (decimal) */
    const char *name;  /* RO_NAME; RO_ADDR base (NULL: absolute address) */
    const char *name2; /* RO_NAME: the q of "p|q" */
    int64_t ival;      /* RO_INT value; RO_ADDR offset; RO_FLOAT bits */
    RawOp *elems;      /* RO_VEC, RO_PAREN */
    int nelems;
};

enum { RS_INSN, RS_LABEL, RS_REG, RS_VAR, RS_OPEN, RS_CLOSE };

typedef struct {
    uint8_t kind;
    int line;
    int src_line; /* RS_INSN: the line of the last .loc before it (0: none) */
    /* RS_INSN */
    const char *opcode;
    const char *guard;
    bool guard_neg;
    RawOp *ops;
    int nops;
    /* RS_LABEL, RS_REG (name, type, count: -1 for a plain name), RS_VAR */
    const char *name;
    int type;
    int64_t count;
    int var; /* RS_VAR: index into the module's variables */
    int scope; /* set by the decoder: the block the statement is in */
} RawStmt;

/* A variable: module-level .global/.const/.shared, or a function's .local/.shared. */
typedef struct {
    const char *name;
    int space;
    int type;
    size_t size, align;
    bool is_extern; /* .extern .shared: dynamic shared memory */
    bool is_func_scope;
    uint8_t *init; /* initial bytes (size), NULL: zero */
    int line;
} RawVar;

typedef struct {
    const char *name;
    int type;
    size_t size, align;
} RawParam;

typedef struct {
    const char *name;
    int line;
    bool is_entry, has_body;
    RawParam *params;
    int nparams;
    RawParam *rets;
    int nrets;
    unsigned maxntid[3], reqntid[3], minnctapersm, maxnreg;
    RawStmt *stmts;
    int nstmts;
} RawFunc;

typedef struct {
    int ptx_major, ptx_minor;
    int sm;            /* 80 for sm_80, ... */
    bool sm_a;         /* sm_90a */
    int address_size;
    RawFunc *funcs;
    int nfuncs;
    RawVar *vars;
    int nvars;
} RawModule;

int emu_ptx_parse(Arena *a, const char *text, size_t len, RawModule *out, StrBuf *err);
int emu_ptx_type(const char *s); /* "u32" -> TY_U32, TY_NONE if unknown */

/* ---- decoded instructions ------------------------------------------------- */

enum { OK_NONE, OK_REG, OK_PRED, OK_IMM, OK_ADDR, OK_VEC, OK_SINK, OK_LABEL };

typedef struct {
    uint8_t kind;
    bool neg;          /* OK_PRED: !p */
    uint8_t nelem;     /* OK_VEC */
    uint8_t bits;      /* OK_REG, OK_ADDR: the (base) register's width */
    int32_t idx;       /* OK_REG slot; OK_PRED index; OK_IMM pool row; OK_VEC first
                          element in Kernel.vec; OK_ADDR base slot (-1: none);
                          OK_LABEL instruction index */
    int64_t val;       /* OK_IMM value; OK_ADDR offset */
} Operand;

typedef struct Warp Warp;
typedef struct Insn Insn;
/* Executes an instruction for the lanes in mask (non-empty). Returns 0, or
 * non-zero after recording an error with emu_fault. */
typedef int (*ExecFn)(Warp *w, const Insn *in, uint32_t mask);
/* A lane-wise operation on raw operand bits. */
typedef uint64_t (*AluFn)(const Insn *in, uint64_t a, uint64_t b, uint64_t c);

/* How the warp loop treats an instruction. */
/* CTL_WAIT: instructions that may suspend the warp (mbarrier waits,
 * setmaxnreg.inc); their exec returns a RUN_* code. */
enum { CTL_EXEC, CTL_BRA, CTL_EXIT, CTL_BAR, CTL_NOP, CTL_CALL, CTL_RET, CTL_WAIT };

enum { MAX_OPS = 7 };

struct Insn {
    ExecFn exec;
    AluFn alu;
    uint8_t ctl;
    uint8_t nops;
    uint8_t ty, ty2;     /* instruction type(s) */
    uint8_t bits;        /* ty's width in bits */
    uint8_t rnd;
    uint8_t space, space2;
    uint8_t vec;         /* vector width of ld/st */
    uint8_t sub;         /* family-specific operation selector */
    uint8_t mode;        /* family-specific mode */
    uint8_t fmt;         /* float format of ty */
    bool ftz, sat, clock;
    bool sgn;            /* ty is signed */
    uint32_t flags;      /* family-specific */
    int32_t guard;       /* predicate index, -1: none */
    bool guard_neg;
    int32_t target;      /* CTL_BRA: target index */
    int32_t reconv;      /* CTL_BRA: reconvergence index, -1: none */
    int32_t line;
    int32_t src_line;    /* the source line of the PTX's last .loc before it, 0: none */
    const char *text;    /* opcode with its modifiers, for messages */
    Operand op[MAX_OPS];
};

/* A call: arguments are copied between the caller's .param variables and
 * the callee's parameters, both in the thread's local memory. */
enum { EMU_MAX_CALL_ARGS = 16 };
enum { CALL_NONE, CALL_VPRINTF, CALL_ASSERTFAIL };
typedef struct {
    int callee;         /* raw function index; -1 for a builtin */
    int builtin;
    int32_t entry;      /* the callee's first instruction */
    int32_t caller_entry;
    int nargs;
    uint32_t arg_caller[EMU_MAX_CALL_ARGS], arg_callee[EMU_MAX_CALL_ARGS];
    uint32_t arg_size[EMU_MAX_CALL_ARGS];
    uint32_t ret_caller, ret_callee, ret_size;
    int line;
} CallSite;

/* A register as declared. */
typedef struct {
    const char *name; /* for ranges: the prefix; the number is slot - first */
    int first, count; /* slots [first, first+count) */
    bool is_range;
    uint8_t bits;
    bool pred;
} RegDecl;

typedef struct {
    const char *name;
    int line;
    bool is_entry;
    Insn *code;
    int ncode;
    int nregs;  /* 64-bit slots, including the special registers */
    int npreds;
    RegDecl *decls; /* for names in messages */
    int ndecls;
    Operand *vec;   /* elements of vector operands */
    int nvec;
    EmuParamInfo *params;
    const char **param_names;
    int nparams;
    size_t param_bytes;
    size_t static_smem, dyn_smem_align, local_bytes;
    unsigned maxntid[3], reqntid[3], minnctapersm, maxnreg;
    uint64_t *pool; /* immediate broadcast rows: pool[row*32 + lane] */
    int npool;
    CallSite *calls; /* CTL_CALL instructions: target indexes this */
    int ncalls;
    bool uses_wgmma; /* has wgmma instructions: CTAs keep warpgroup state */
    bool uses_mbarrier;
    bool uses_tma;
} Kernel;

/* Module-level .global/.const storage. */
typedef struct {
    const char *name;
    int space;
    uint8_t *data;
    size_t size;
} ModVar;

struct EmuModule {
    Arena arena;   /* decoded kernels */
    Arena scratch; /* the raw module: names and texts the kernels point to */
    Kernel *kernels;
    int nkernels;
    ModVar *vars;
    int nvars;
    int sm;
};

/* Generic executors (exec.c). */
/* op[0] = alu(op[1], op[2], op[3]) lane by lane. */
int emu_exec_alu(Warp *w, const Insn *in, uint32_t mask);

/* Special registers live in the first slots of every warp's register file. */
enum {
    SR_ZERO,
    SR_TID_X, SR_TID_Y, SR_TID_Z,
    SR_NTID_X, SR_NTID_Y, SR_NTID_Z,
    SR_CTAID_X, SR_CTAID_Y, SR_CTAID_Z,
    SR_NCTAID_X, SR_NCTAID_Y, SR_NCTAID_Z,
    SR_LANEID, SR_WARPID, SR_NWARPID, SR_SMID, SR_NSMID, SR_GRIDID,
    SR_LANEMASK_EQ, SR_LANEMASK_LE, SR_LANEMASK_LT, SR_LANEMASK_GE, SR_LANEMASK_GT,
    SR_CLOCK, SR_CLOCK_HI, SR_CLOCK64, SR_GLOBALTIMER, SR_GLOBALTIMER_LO, SR_GLOBALTIMER_HI,
    SR_DYN_SMEM, SR_TOTAL_SMEM,
    SR_CLUSTERID_X, SR_CLUSTERID_Y, SR_CLUSTERID_Z,
    SR_NCLUSTERID_X, SR_NCLUSTERID_Y, SR_NCLUSTERID_Z,
    SR_CLUSTER_CTAID_X, SR_CLUSTER_CTAID_Y, SR_CLUSTER_CTAID_Z,
    SR_CLUSTER_NCTAID_X, SR_CLUSTER_NCTAID_Y, SR_CLUSTER_NCTAID_Z,
    SR_CLUSTER_CTARANK, SR_CLUSTER_NCTARANK, SR_IS_EXPLICIT_CLUSTER,
    SR_CARRY, /* the carry flag of add.cc and friends */
    SR_SINK,  /* where writes to '_' go */
    SR_COUNT
};

/* ---- decoding (decode.c) -------------------------------------------------- */

/* Modifier categories. */
enum {
    MC_TYPE, MC_RND, MC_SPACE, MC_VEC, MC_CMP, MC_LOGIC, MC_ATOM, MC_SHFL, MC_VOTE,
    MC_SHAPE, MC_NUM, MC_LAYOUT, MC_FLAG, MC_CACHE, MC_SCOPE, MC_SEM, MC_PRMT,
    MC_TESTP, MC_SHFDIR, MC_COUNT
};
#define MCB(c) (1u << (c))
#define MC_MEMHINTS (MCB(MC_CACHE) | MCB(MC_SCOPE) | MCB(MC_SEM))

/* Flag modifiers. */
enum {
    MF_FTZ = 1u << 0, MF_SAT = 1u << 1, MF_APPROX = 1u << 2, MF_FULL = 1u << 3,
    MF_RELU = 1u << 4, MF_NAN = 1u << 5, MF_UNI = 1u << 6, MF_SYNC = 1u << 7,
    MF_ALIGNED = 1u << 8, MF_TRANS = 1u << 9, MF_CC = 1u << 10, MF_WRAP = 1u << 11,
    MF_CLAMP = 1u << 12, MF_SHIFTAMT = 1u << 13, MF_ARRIVE = 1u << 14, MF_RED = 1u << 15,
    MF_SATFINITE = 1u << 16, MF_NOFTZ = 1u << 17, MF_XORSIGN = 1u << 18, MF_ABS = 1u << 19,
    MF_TO = 1u << 20, MF_CACHE_HINT = 1u << 21, MF_WIDE = 1u << 22, MF_NC = 1u << 23,
    MF_PREFETCH = 1u << 24,
};

enum { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_LO, CMP_LS, CMP_HI, CMP_HS,
       CMP_EQU, CMP_NEU, CMP_LTU, CMP_LEU, CMP_GTU, CMP_GEU, CMP_NUM, CMP_NAN, CMP_NONE };
enum { LOGIC_NONE, LOGIC_AND, LOGIC_OR, LOGIC_XOR, LOGIC_POPC };
enum { ATOM_NONE, ATOM_ADD, ATOM_INC, ATOM_DEC, ATOM_MIN, ATOM_MAX, ATOM_EXCH, ATOM_CAS,
       ATOM_AND, ATOM_OR, ATOM_XOR };
/* ops_mem.c: the value an atomic operation op (ATOM_*) on a `bits`-wide
 * value of format fmt (FMT_COUNT: an integer, signed when sgn) stores over
 * old (also cp.reduce.async.bulk's element reduction). */
uint64_t emu_atom_apply(int op, int bits, int fmt, bool sgn, uint64_t old, uint64_t b, uint64_t c);
enum { SHFL_NONE, SHFL_UP, SHFL_DOWN, SHFL_BFLY, SHFL_IDX };
enum { VOTE_NONE, VOTE_ALL, VOTE_ANY, VOTE_BALLOT };
enum { SHAPE_NONE, SHAPE_M8N8, SHAPE_M16N8K8, SHAPE_M16N8K16, SHAPE_M16N8K4, SHAPE_M8N8K4,
       SHAPE_M16N8K32, SHAPE_MNK /* any other mMnNkK: Mods.mnk holds the sizes */ };
enum { LAYOUT_ROW = 1, LAYOUT_COL = 2 };
enum { PRMT_NONE, PRMT_F4E, PRMT_B4E, PRMT_RC8, PRMT_ECL, PRMT_ECR, PRMT_RC16 };
enum { TESTP_FINITE = 1, TESTP_INFINITE, TESTP_NUMBER, TESTP_NOTANUMBER, TESTP_NORMAL,
       TESTP_SUBNORMAL };

typedef struct {
    uint8_t type[4];
    int ntype;
    uint8_t rnd, vec, cmp, logic, atom, shfl, vote, shape, num, prmt, testp, shfdir;
    uint8_t space[2];
    int nspace;
    uint8_t layout[2];
    int nlayout;
    uint16_t mnk[3];               /* SHAPE_MNK: M, N, K */
    uint32_t flags;
    uint32_t cats;                 /* MCB() of the categories present */
    const char *text[MC_COUNT];    /* a modifier of each category, for messages */
    const char *flag_text[32];
} Mods;

typedef struct Decoder Decoder;
typedef int (*DecodeFn)(Decoder *d, const RawStmt *s, const Mods *mods, Insn *in);

typedef struct {
    const char *name; /* base opcode, may contain dots ("cp.async.wait_group") */
    DecodeFn decode;
    int arg;          /* family-specific selector passed through Decoder.op_arg, or'ed with
                         OP_RAW_MODS when the decoder parses the modifiers itself (the
                         text of s->opcode after the name) */
} OpDesc;
enum { OP_RAW_MODS = 1 << 16 };

/* Floating-point forms of add, sub, mul, mad, div, abs, neg, min, max, whose
 * opcodes the integer table owns (ops_float.c). */
int emu_decode_float(Decoder *d, const RawStmt *s, const Mods *m, Insn *in);
/* The decoder of instructions the emulator knows but does not run: an error
 * naming them, whatever their modifiers (ops_ctl.c). */
int emu_decode_unsupported(Decoder *d, const RawStmt *s, const Mods *m, Insn *in);
/* call{.uni} [(ret),] func[, (args)]: decode.c, which decodes the callee. */
int emu_dec_call(Decoder *d, const RawStmt *s, Insn *in);
/* Family tables (each ops_*.c defines one, terminated by {NULL}). */
extern const OpDesc emu_ops_int[], emu_ops_float[], emu_ops_mov[], emu_ops_cvt[],
    emu_ops_mem[], emu_ops_ctl[], emu_ops_warp[], emu_ops_mma[], emu_ops_wgmma[], emu_ops_mbar[], emu_ops_tma[];

struct Decoder {
    Arena *arena;
    EmuModule *m;
    const RawModule *raw;
    const RawFunc *fn;
    Kernel *k;
    StrBuf *err;
    int op_arg;
    const char *opname;
    /* name scopes, labels, shared/local layout: private to decode.c */
    struct DecodeState *st;
};

int emu_dec_error(Decoder *d, const RawStmt *s, const char *fmt, ...) TSR_PRINTF(3, 4);
/* Rejects any modifier whose category is not in `cats` or flag not in `flags`. */
int emu_dec_allow(Decoder *d, const RawStmt *s, const Mods *m, uint32_t cats, uint32_t flags);
int emu_dec_nops(Decoder *d, const RawStmt *s, int lo, int hi);
/* Operands. `ty` is the type the operand is read or written as. */
int emu_dec_src(Decoder *d, const RawStmt *s, const RawOp *r, int ty, Operand *out);
int emu_dec_dst(Decoder *d, const RawStmt *s, const RawOp *r, int ty, Operand *out);
/* Like emu_dec_dst/emu_dec_src but the register may be wider than ty (ld, st, cvt). */
int emu_dec_dst_wide(Decoder *d, const RawStmt *s, const RawOp *r, int ty, Operand *out);
int emu_dec_src_wide(Decoder *d, const RawStmt *s, const RawOp *r, int ty, Operand *out);
int emu_dec_pred(Decoder *d, const RawStmt *s, const RawOp *r, bool allow_neg, Operand *out);
int emu_dec_pred_dst(Decoder *d, const RawStmt *s, const RawOp *r, Operand *out);
bool emu_dec_is_pred(Decoder *d, const RawStmt *s, const char *name);
/* Address [reg+off], [sym+off], [imm]; *space selects how symbols resolve.
 * A .param access to a function's parameter changes *space to SP_LOCAL,
 * where those live. */
int emu_dec_addr(Decoder *d, const RawStmt *s, const RawOp *r, int *space, Operand *out);
/* A {a, b, ...} list of n elements (n = 0: any count). */
int emu_dec_vec(Decoder *d, const RawStmt *s, const RawOp *r, int n, int ty, bool dst, bool wide,
            Operand *out);
int emu_dec_label(Decoder *d, const RawStmt *s, const RawOp *r, Operand *out);
/* The one type of an instruction, which must be in `allowed` (TYB bits). */
#define TYB(t) (1ull << (t))
#define TYS_UINT (TYB(TY_U16) | TYB(TY_U32) | TYB(TY_U64))
#define TYS_SINT (TYB(TY_S16) | TYB(TY_S32) | TYB(TY_S64))
#define TYS_BITS (TYB(TY_B16) | TYB(TY_B32) | TYB(TY_B64))
#define TYS_INT (TYS_UINT | TYS_SINT)
int emu_dec_type(Decoder *d, const RawStmt *s, const Mods *m, uint64_t allowed, int *ty);
/* Decodes "d, a[, b[, c]]" for emu_exec_alu with the given operand types
 * (t2/t3 TY_NONE when absent) and sets in->ty/bits/sgn from ty. */
int emu_dec_alu(Decoder *d, const RawStmt *s, Insn *in, AluFn fn, int ty, int dty, int t1, int t2,
            int t3);
/* Decodes one function of a raw module into k. module_var_addr gives the host
 * address of each module-level .global/.const variable. */
int emu_decode_function(EmuModule *m, const RawModule *raw, const RawFunc *fn, Kernel *k,
                        const uint64_t *module_var_addr, StrBuf *err);
/* A broadcast row for a constant value (used for implicit operands). */
int emu_dec_imm(Decoder *d, uint64_t v, Operand *out);
const char *emu_dec_reg_name(const Kernel *k, const Operand *o, char *buf, size_t n);

/* ---- execution (sched.c, memory.c, race.c) --------------------------------- */

typedef struct {
    int32_t pc, rpc; /* rpc: reconvergence pc, -1: none */
    uint32_t mask;
} SimtEntry;

typedef struct {
    uint32_t dst;      /* shared offset */
    const uint8_t *src;
    uint8_t size, src_size;
    uint8_t lane;
    uint32_t group;
    int32_t line;
} CpAsync;

/* WS_MBAR: suspended in mbarrier.try_wait on the object at shared offset
 * bar_id. */
enum { WS_RUN, WS_BAR, WS_MBAR, WS_REGS, WS_DONE }; /* WS_REGS: in setmaxnreg.inc */
/* What running an instruction that may block does to the warp's slice: it
 * blocks, finishes, goes on (YIELD), ends the slice (SWITCH), or fails. */
enum { RUN_BLOCKED, RUN_DONE, RUN_YIELD, RUN_ERROR, RUN_SWITCH };

/* An active call: the SIMT entries above `base` run the callee. */
typedef struct {
    int base;
    uint32_t returned;
    const CallSite *cs;
} CallFrame;
enum { RPC_RETURN = -2 }; /* the reconvergence pc of a callee's entries */

typedef struct Cta Cta;

struct Warp {
    Cta *cta;
    int id;
    uint32_t live;         /* lanes not exited */
    uint32_t active;       /* lanes of the current SIMT entry (before the guard) */
    uint64_t *r;           /* r[slot*32 + lane] */
    uint32_t *p;           /* p[pred] = lane mask */
    uint32_t *rdef, *pdef; /* lanes whose register was written (check_uninit) */
    uint8_t *rbytes;       /* [slot*32 + lane]: where rdef's bit is clear, the bytes written (a
                              packed value with a never-written element; ops_mov.c), else 0 */
    int32_t *wg_touch;     /* per slot, since the last wgmma.fence: WG_WRITTEN after a write by
                              another instruction (ops_wgmma.c; check_uninit), or NULL */
    SimtEntry *stack;
    int sp, stack_cap;
    int state;
    int bar_id;
    const Insn *bar_insn;
    uint32_t bar_mask;
    CpAsync *cp;
    int ncp, cp_cap;
    uint32_t cp_group;    /* groups committed so far */
    uint64_t icount;
    uint32_t *vc;          /* race detector: vector clock over warps */
    CallFrame *frames;
    int nframes, frames_cap;
};

typedef struct {
    uint32_t arrived;      /* warps arrived */
    uint32_t expected;     /* warps expected, 0: all live warps */
    uint64_t waiting;      /* warps blocked on it (bit per warp) */
    uint32_t red_popc;
    bool red_and, red_or;
    uint32_t *vc;          /* race detector: join of the arrivers' clocks */
} Barrier;

typedef struct {
    uintptr_t base, end;
    bool writable;
    const char *name; /* module variable, or NULL for a launch buffer */
} Region;

typedef struct Launch Launch;
typedef struct RaceState RaceState;

struct Cta {
    Launch *L;
    const Kernel *k;
    unsigned ctaid[3];
    Warp *warps;
    int nwarps;
    uint64_t *regs;
    uint32_t *preds, *rdef, *pdef;
    uint8_t *rbytes;
    uint8_t *smem;
    size_t smem_size;
    uint8_t *sdef; /* per byte of smem: written since the block began (check_uninit), or NULL */
    uint8_t *local; /* local_bytes per thread */
    size_t local_size;
    Barrier bars[16];
    RaceState *race;
    struct WgState *wg; /* wgmma state (ops_wgmma.c); NULL without wgmma */
    struct MbarState *mbar; /* mbarriers (ops_mbar.c); NULL without them */
    struct TmaState *tma;   /* bulk copies (ops_tma.c); NULL without them */
    int last_region;
    uint64_t insns, thread_insns;
    StrBuf err;
    bool failed;
    int fault_line; /* the PTX line emu_fault named, 0: none */
};

struct Launch {
    EmuModule *m;
    const Kernel *k;
    const EmuLaunch *cfg;
    uint8_t *params;
    Region *regions;
    int nregions;
    size_t smem_bytes;
    unsigned nthreads, nwarps;
    uint64_t nctas;
    uint64_t max_insns;
    atomic_uint_fast64_t next_cta;
    atomic_uint_fast64_t insns;
    atomic_int failed;
    atomic_int out_of_memory;  /* a worker ran out of host memory */
    StrBuf fault;              /* the first failing CTA's message (under fault_lock) */
    int fault_line;            /* and the PTX line it names (0: none) */
    pthread_mutex_t fault_lock;
};

/* The working memory of a launch (CTA state, barrier and copy tables) is
 * allocated with tsr_x* inside a guarded stage per host thread
 * (support/oom.h): running out unwinds to the worker, which frees its CTA.
 * emu_grow makes room for `need` elements of `elem` bytes in p, of capacity
 * *cap (doubling from `first`), zeroing the new ones; when memory runs out
 * it unwinds with p and *cap unchanged, so the owner frees p as before. */
void *emu_grow(void *p, int *cap, int need, size_t elem, int first);

/* Records an error for the lane (-1: the warp) and returns -1. */
int emu_fault(Warp *w, const Insn *in, int lane, const char *fmt, ...) TSR_PRINTF(4, 5);
/* check_uninit for shared memory (memory.c): bytes [off, off + size) are
 * written; a read of them faults when one was never written since the
 * block began (its contents are the poison the emulator filled it with).
 * Both do nothing when the check is off. */
void emu_smem_written(Cta *c, uint32_t off, size_t size);
int emu_smem_read(Warp *w, const Insn *in, int lane, uint32_t off, size_t size);

/* Operand access for executors. */
static inline const uint64_t *opv(Warp *w, const Insn *in, const Operand *o)
{
    extern const uint64_t emu_zero_row[WARP_SIZE];
    switch (o->kind) {
    case OK_REG: return w->r + (size_t)o->idx * WARP_SIZE;
    case OK_IMM: return w->cta->k->pool + (size_t)o->idx * WARP_SIZE;
    default: return emu_zero_row;
    }
    (void)in;
}
static inline uint64_t *opd(Warp *w, const Operand *o)
{
    return w->r + (size_t)o->idx * WARP_SIZE;
}
/* Checks (when enabled) that the register operand was written in all lanes of
 * mask; records an error otherwise. */
int emu_check_def(Warp *w, const Insn *in, const Operand *o, uint32_t mask);
static inline int check_src(Warp *w, const Insn *in, const Operand *o, uint32_t mask)
{
    if (!w->rdef)
        return 0;
    return emu_check_def(w, in, o, mask);
}
/* A register written by an instruction other than wgmma.mma_async: a later
 * wgmma that reads it needs a wgmma.fence in between (ops_wgmma.c). */
enum { WG_WRITTEN = 1 << 30 };
static inline void wg_written(Warp *w, const Operand *o)
{
    if (w->wg_touch && o->kind == OK_REG)
        w->wg_touch[o->idx] |= WG_WRITTEN;
}
static inline void mark_def(Warp *w, const Operand *o, uint32_t mask)
{
    if (w->rdef && o->kind == OK_REG)
        w->rdef[o->idx] |= mask;
    wg_written(w, o);
}
/* The lanes of mask get the definedness def (whole registers: the lanes
 * that become undefined hold no written byte). */
static inline void set_def_lanes(Warp *w, int slot, uint32_t mask, uint32_t def)
{
    uint32_t undef = mask & ~def;
    w->rdef[slot] = (w->rdef[slot] & ~mask) | (def & mask);
    if (w->wg_touch)
        w->wg_touch[slot] |= WG_WRITTEN;
    for (unsigned l = 0; undef; l++, undef >>= 1)
        if (undef & 1)
            w->rbytes[(size_t)slot * WARP_SIZE + l] = 0;
}
static inline void mark_pdef(Warp *w, int pred, uint32_t mask)
{
    if (w->pdef)
        w->pdef[pred] |= mask;
}
static inline uint32_t pred_val(Warp *w, const Operand *o)
{
    uint32_t v = o->kind == OK_IMM ? (o->val ? FULL_MASK : 0) : w->p[o->idx];
    return o->neg ? ~v : v;
}
static inline void pred_set(Warp *w, int pred, uint32_t mask, uint32_t val)
{
    w->p[pred] = (w->p[pred] & ~mask) | (val & mask);
    mark_pdef(w, pred, mask);
}
int emu_check_pdef(Warp *w, const Insn *in, const Operand *o, uint32_t mask);

#define FOR_LANES(l, mask)                                                                 \
    for (uint32_t l##_left = (mask), l; l##_left && ((l = (uint32_t)__builtin_ctz(l##_left)), 1); \
         l##_left &= l##_left - 1)

/* The lane loop of the ALU executor. Instantiated with a constant f (see
 * EMU_ALU_EXEC), f is inlined into it: the hot operations get loops of their
 * own, the rest share emu_exec_alu's, which calls through in->alu. */
static inline __attribute__((always_inline)) int emu_alu_loop(Warp *w, const Insn *in,
                                                              uint32_t mask, AluFn f)
{
    if (w->rdef && (check_src(w, in, &in->op[1], mask) || check_src(w, in, &in->op[2], mask) ||
                    check_src(w, in, &in->op[3], mask)))
        return -1;
    const uint64_t *a = opv(w, in, &in->op[1]);
    const uint64_t *b = opv(w, in, &in->op[2]);
    const uint64_t *c = opv(w, in, &in->op[3]);
    uint64_t *d = opd(w, &in->op[0]);
    uint64_t dm = width_mask(in->op[0].bits);
    if (mask == FULL_MASK) {
        for (unsigned l = 0; l < WARP_SIZE; l++)
            d[l] = f(in, a[l], b[l], c[l]) & dm;
    } else {
        FOR_LANES(l, mask)
        d[l] = f(in, a[l], b[l], c[l]) & dm;
    }
    mark_def(w, &in->op[0], mask);
    return 0;
}
#define EMU_ALU_EXEC(fn) \
    static int exec_##fn(Warp *w, const Insn *in, uint32_t mask) { return emu_alu_loop(w, in, mask, fn); }

static inline unsigned lane_tid_linear(const Warp *w, unsigned lane)
{
    return (unsigned)w->id * WARP_SIZE + lane;
}
void emu_thread_coords(const Warp *w, unsigned lane, unsigned tid[3]);
/* ops_ctl.c: CUDA's vprintf(fmt, args) for one lane, written to stdout
 * (support/printf_fmt.h); -1 after recording a fault (an unreadable
 * argument buffer). */
int emu_vprintf(Warp *w, const Insn *in, int lane, uint64_t fmt, uint64_t args);

/* memory.c: resolves an address of `size` bytes for a lane; returns a host
 * pointer, or NULL after recording an error. `write` checks writability;
 * `space` may be SP_GENERIC. *out_space receives the resolved space. */
uint8_t *emu_resolve(Warp *w, const Insn *in, int lane, int space, uint64_t addr, unsigned size,
                     bool write, int *out_space);
/* emu_resolve's fast path, inlined into the memory instructions: aligned
 * shared accesses in bounds, and global (or generic) accesses inside the
 * buffer the CTA used last. Everything else, errors included, goes to
 * emu_resolve. */
static inline uint8_t *emu_resolve_fast(Warp *w, const Insn *in, int lane, int space,
                                        uint64_t addr, unsigned size, bool write, int *out_space)
{
    Cta *c = w->cta;
    if (!(addr & (size - 1))) {
        if (space == SP_GENERIC && addr - (uintptr_t)c->smem < c->smem_size) {
            space = SP_SHARED;
            addr -= (uintptr_t)c->smem;
        }
        if (space == SP_SHARED && addr < c->smem_size && size <= c->smem_size - addr) {
            *out_space = SP_SHARED;
            return c->smem + addr;
        }
        const Region *r = &c->L->regions[c->last_region];
        if ((space == SP_GLOBAL || space == SP_GENERIC) && addr >= r->base && addr < r->end &&
            size <= r->end - addr && (r->writable || !write)) {
            *out_space = SP_GLOBAL;
            return (uint8_t *)(uintptr_t)addr;
        }
    }
    return emu_resolve(w, in, lane, space, addr, size, write, out_space);
}

/* The address an OK_ADDR operand gives in a lane. */
static inline uint64_t addr_of(Warp *w, const Operand *o, unsigned lane)
{
    uint64_t base = o->idx >= 0 ? w->r[(size_t)o->idx * WARP_SIZE + lane] : 0;
    uint64_t addr = base + (uint64_t)o->val;
    /* [reg+imm] with a 32-bit register is 32-bit arithmetic: ptxas folds
     * `mov.u32 %r, -96; st.shared [%r+772]` into STS [0x2a4], and LLVM relies
     * on it for 32-bit shared pointers (a negative base and a positive
     * immediate). */
    return o->bits == 32 ? (uint32_t)addr : addr;
}
/* A NUL-terminated string a lane's generic pointer points to (at most n-1
 * bytes), or "?" where it cannot be read; records no error. */
const char *emu_read_string(Warp *w, unsigned lane, uint64_t addr, char *buf, size_t n);
/* Completes this warp's cp.async copies of groups < upto (all when upto is
 * UINT32_MAX). */
int emu_cp_async_complete(Warp *w, const Insn *in, uint32_t upto);

/* race.c */
RaceState *emu_race_new(size_t smem_size, int nwarps);
void emu_race_free(RaceState *r);
void emu_race_reset(RaceState *r, int nwarps);
/* Records an access of [off, off+size) by (warp, lane); value: the bytes written
 * (NULL for reads); serial identifies the instruction instance. */
int emu_race_access(Warp *w, const Insn *in, int lane, uint32_t off, unsigned size, const uint8_t *value,
                uint64_t serial);
void emu_race_cp_async_issue(Cta *c, uint32_t off, unsigned size, int delta);
/* Barrier synchronisation: an arriving warp releases its clock into the
 * barrier; at completion the waiting warps acquire the joined clocks. */
void emu_race_barrier_arrive(Cta *c, Barrier *b, Warp *w, bool waits);
void emu_race_barrier_complete(Cta *c, Barrier *b, uint64_t warps);

/* race.c: bytes that an asynchronous reader (a wgmma in flight) will read;
 * a write to them is reported, naming `line`. */
void emu_race_async_read(Cta *c, uint32_t off, unsigned size, int delta, int line);

/* race.c: fence.proxy.async by the warp: its generic stores so far become
 * visible to the async proxy. */
void emu_race_proxy_fence(Warp *w);
/* A read through the async proxy: reports bytes stored without a fence. */
int emu_race_async_proxy_read(Warp *w, const Insn *in, uint32_t off, unsigned size);

/* ops_wgmma.c: warpgroup state of a CTA. */
struct WgState *emu_wg_new(Cta *c);
void emu_wg_free(struct WgState *s);
void emu_wg_reset(Cta *c);
/* A warp exits: its wgmmas must have been waited for. */
int emu_wg_warp_exit(Warp *w);
/* All warps have exited: the warps of each warpgroup ran the same warpgroup
 * instructions. */
int emu_wg_cta_end(Cta *c);
/* A register slot a wgmma in flight reads or writes (nonzero only while
 * check_uninit is on). */
bool emu_wg_busy(const Warp *w, int slot);
/* The warps waiting in setmaxnreg.inc, for a deadlock report. */
void emu_wg_describe(Cta *c, StrBuf *sb);
/* Reports an access to a busy register slot. */
int emu_wg_report_busy(Warp *w, const Insn *in, const Operand *o, uint32_t lanes);

/* race.c: shared bytes an asynchronous copy will write (TMA loads): any
 * access before it lands is reported, naming `line`. */
void emu_race_async_write_pending(Cta *c, uint32_t off, unsigned size, int delta, int line);
/* The copy issued by `warp` (clock vc then) lands: accesses of other warps
 * not ordered before the issue are races; then the bytes count as written
 * by nobody (readers are ordered by the mbarrier). */
int emu_race_async_write(Cta *c, const uint32_t *vc, int warp, const Insn *in, uint32_t off,
                         unsigned size);

/* race.c: the 8 bytes of a live mbarrier (line: its init) or of none
 * (0): loads and stores to a live one are reported. */
void emu_race_mbarrier(Cta *c, uint32_t off, int line);

/* ops_tma.c: asynchronous bulk copies of a CTA. */
struct TmaState *emu_tma_new(Cta *c);
void emu_tma_free(struct TmaState *s);
void emu_tma_reset(Cta *c);
/* Lands the loads pending on the mbarrier at `mbar` (all when UINT32_MAX);
 * returns how many, or -1 after an error. */
int emu_tma_land(Cta *c, uint32_t mbar);
/* The warp exits: its stores are performed. */
int emu_tma_warp_exit(Warp *w);

/* ops_mbar.c: the mbarriers of a CTA. */
struct MbarState *emu_mbar_new(Cta *c);
void emu_mbar_free(struct MbarState *s);
void emu_mbar_reset(Cta *c);
/* test_wait / try_wait: a RUN_* code; the warp is suspended when blocked. */
int emu_mbar_wait(Warp *w, const Insn *in, uint32_t mask);
bool emu_mbar_live(Cta *c, uint32_t off);
/* Transaction bytes landing on the mbarrier at `off` (-1: none is live). */
int emu_mbar_complete_tx(Cta *c, uint32_t off, uint32_t bytes);
/* The waiting warps and every live mbarrier, for a deadlock report. */
void emu_mbar_describe(Cta *c, StrBuf *sb);

/* cfg.c: sets reconv of every CTL_BRA instruction. */
int emu_cfg_reconv(Kernel *k, StrBuf *err);

#endif
