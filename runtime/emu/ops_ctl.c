/* Control instructions: bra, exit, ret, the CTA barriers (bar, barrier: sync,
 * arrive, red), memory fences (no-ops: the emulator is sequentially
 * consistent; fence.proxy.async informs the race detector), trap and brkpt (errors), vprintf's
 * output (emu_vprintf, for sched.c's calls), and hints that change nothing here
 * (nanosleep, pmevent, griddepcontrol). The warp loop in
 * sched.c executes branches, exits and barriers. */
#include <stdio.h>
#include <string.h>

#include "emu_internal.h"
#include "printf_fmt.h"

static int decode_bra(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    Operand t;
    if (emu_dec_allow(d, s, m, 0, MF_UNI) || emu_dec_nops(d, s, 1, 1) || emu_dec_label(d, s, &s->ops[0], &t))
        return -1;
    in->ctl = CTL_BRA;
    in->target = t.idx;
    return 0;
}

static int decode_exit(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, 0, MF_UNI) || emu_dec_nops(d, s, 0, 0))
        return -1;
    in->ctl = d->op_arg && !d->fn->is_entry ? CTL_RET : CTL_EXIT;
    return 0;
}

/* bar{.cta}.sync a{, b} | bar.arrive a, b | bar.red.op.type d, a{, b}, {!}c and the
 * barrier{.cta} spellings. Operands: op[0] d, op[1] a, op[2] b, op[3] c. */
static int decode_bar(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, MCB(MC_TYPE) | MCB(MC_LOGIC) | MCB(MC_SCOPE),
                  MF_SYNC | MF_ARRIVE | MF_RED | MF_ALIGNED))
        return -1;
    uint32_t kind = m->flags & (MF_SYNC | MF_ARRIVE | MF_RED);
    if (kind & (kind - 1))
        return emu_dec_error(d, s, "conflicting barrier operations");
    if (!kind)
        kind = MF_SYNC;
    in->ctl = CTL_BAR;
    in->flags = kind;
    if (kind == MF_RED) {
        int ty = m->ntype ? m->type[0] : TY_NONE;
        if (m->logic == LOGIC_POPC ? ty != TY_U32 : (m->logic != LOGIC_AND && m->logic != LOGIC_OR) || ty != TY_PRED)
            return emu_dec_error(d, s, "bar.red needs .popc.u32, .and.pred or .or.pred");
        in->mode = m->logic;
        if (emu_dec_nops(d, s, 3, 4))
            return -1;
        int rc = m->logic == LOGIC_POPC ? emu_dec_dst(d, s, &s->ops[0], TY_U32, &in->op[0])
                                        : emu_dec_pred_dst(d, s, &s->ops[0], &in->op[0]);
        if (rc || emu_dec_src(d, s, &s->ops[1], TY_U32, &in->op[1]) ||
            (s->nops == 4 && emu_dec_src(d, s, &s->ops[2], TY_U32, &in->op[2])) ||
            emu_dec_pred(d, s, &s->ops[s->nops - 1], true, &in->op[3]))
            return -1;
        in->nops = 4;
        return 0;
    }
    if (m->ntype || m->logic)
        return emu_dec_error(d, s, "unexpected modifier on a barrier");
    if (emu_dec_nops(d, s, kind == MF_ARRIVE ? 2 : 1, 2) ||
        emu_dec_src(d, s, &s->ops[0], TY_U32, &in->op[1]) ||
        (s->nops == 2 && emu_dec_src(d, s, &s->ops[1], TY_U32, &in->op[2])))
        return -1;
    in->nops = 3;
    return 0;
}

static int decode_nop(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, MCB(MC_SCOPE) | MCB(MC_SEM) | MCB(MC_TYPE) | MCB(MC_SPACE) | MCB(MC_ATOM),
                  MF_SYNC | MF_ALIGNED))
        return -1;
    for (int i = 0; i < s->nops; i++) {
        Operand o;
        if (s->ops[i].kind != RO_INT && emu_dec_src_wide(d, s, &s->ops[i], TY_NONE, &o))
            return -1;
    }
    in->ctl = CTL_NOP;
    return 0;
}

/* fence.proxy.async{.space}: for the race detector, the warp's generic stores
 * become visible to the async proxy (wgmma operands). */
static int exec_proxy_fence(Warp *w, const Insn *in, uint32_t mask)
{
    if (w->cta->race)
        emu_race_proxy_fence(w);
    return 0;
}

static int decode_proxy_fence(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (decode_nop(d, s, m, in))
        return -1;
    in->ctl = CTL_EXEC;
    in->exec = exec_proxy_fence;
    return 0;
}

static int decode_call(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, 0, MF_UNI))
        return -1;
    return emu_dec_call(d, s, in);
}

static int exec_trap(Warp *w, const Insn *in, uint32_t mask)
{
    return emu_fault(w, in, (int)__builtin_ctz(mask), "%s executed",
                     in->mode ? "brkpt" : "trap");
}

static int decode_trap(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    if (emu_dec_allow(d, s, m, 0, 0) || emu_dec_nops(d, s, 0, 0))
        return -1;
    in->mode = (uint8_t)d->op_arg;
    in->exec = exec_trap;
    return 0;
}

/* vprintf's arguments, read from the lane's argument buffer: each at the
 * next offset aligned to its size, as CUDA lays them out. */
typedef struct {
    Warp *w;
    const Insn *in;
    int lane;
    uint64_t buf, off;
    bool fault;
} PrintArgs;

static bool next_print_arg(void *ctx, int bytes, uint64_t *bits)
{
    PrintArgs *a = ctx;
    a->off = (a->off + (uint64_t)bytes - 1) & ~(uint64_t)(bytes - 1);
    int space;
    const uint8_t *p = a->buf ? emu_resolve(a->w, a->in, a->lane, SP_GENERIC, a->buf + a->off, (unsigned)bytes,
                                            false, &space)
                              : NULL;
    if (!p) {
        a->fault = a->buf != 0; /* emu_resolve recorded why */
        return false;
    }
    *bits = 0;
    memcpy(bits, p, (size_t)bytes);
    a->off += (uint64_t)bytes;
    return true;
}

static const char *print_string(void *ctx, uint64_t addr, char *buf, size_t n)
{
    PrintArgs *a = ctx;
    return emu_read_string(a->w, (unsigned)a->lane, addr, buf, n);
}

int emu_vprintf(Warp *w, const Insn *in, int lane, uint64_t fmt, uint64_t args)
{
    char text[1024];
    PrintArgs pa = { w, in, lane, args, 0, false };
    FmtArgs fa = { next_print_arg, print_string, &pa };
    StrBuf out;
    sb_init(&out);
    fmt_apply(&out, emu_read_string(w, (unsigned)lane, fmt, text, sizeof text), &fa);
    if (!pa.fault && out.len)
        fputs(out.data, stdout);
    sb_free(&out);
    return pa.fault ? -1 : 0;
}

int emu_decode_unsupported(Decoder *d, const RawStmt *s, const Mods *m, Insn *in)
{
    return emu_dec_error(d, s, "'%s' is not supported by the emulator", d->opname);
}

const OpDesc emu_ops_ctl[] = {
    {"bra", decode_bra, 0},
    {"exit", decode_exit, 0},
    {"ret", decode_exit, 1},
    {"bar", decode_bar, 0},
    {"barrier", decode_bar, 0},
    {"membar", decode_nop, 0},
    {"fence", decode_nop, 0},
    {"fence.proxy.async", decode_proxy_fence, 0},
    {"fence.proxy.alias", decode_nop, 0},
    {"fence.mbarrier_init", decode_nop, 0},
    {"nanosleep", decode_nop, 0},
    {"pmevent", decode_nop, 0},
    {"griddepcontrol.launch_dependents", decode_nop, 0},
    {"griddepcontrol.wait", decode_nop, 0},
    {"trap", decode_trap, 0},
    {"brkpt", decode_trap, 1},
    {"call", decode_call, 0},
    {"brx", emu_decode_unsupported, 0},
    {"mbarrier", emu_decode_unsupported, 0},
    {"tcgen05", emu_decode_unsupported, 0},
    {NULL, NULL, 0},
};
