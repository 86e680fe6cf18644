/* Executors shared by the instruction families: the lane-wise ALU loop that
 * most arithmetic uses, and the checks for reads of registers never written. */
#include "emu_internal.h"

int emu_check_def(Warp *w, const Insn *in, const Operand *o, uint32_t mask)
{
    if (o->kind == OK_VEC) {
        const Operand *e = &w->cta->k->vec[o->idx];
        for (int i = 0; i < o->nelem; i++)
            if (emu_check_def(w, in, &e[i], mask))
                return -1;
        return 0;
    }
    if (o->kind == OK_ADDR && o->idx >= 0) {
        Operand r = {.kind = OK_REG, .idx = o->idx};
        return emu_check_def(w, in, &r, mask);
    }
    if (o->kind != OK_REG)
        return 0;
    uint32_t undef = mask & ~w->rdef[o->idx];
    if (!undef)
        return 0;
    if (w->cta->wg && emu_wg_busy(w, o->idx))
        return emu_wg_report_busy(w, in, o, undef);
    char buf[64];
    int lane = __builtin_ctz(undef);
    bool part = w->rbytes[(size_t)o->idx * WARP_SIZE + (unsigned)lane] != 0; /* a packed value */
    return emu_fault(w, in, lane, "read of register %s, %s was never written",
                     emu_dec_reg_name(w->cta->k, o, buf, sizeof buf), part ? "part of which" : "which");
}

int emu_check_pdef(Warp *w, const Insn *in, const Operand *o, uint32_t mask)
{
    if (o->kind != OK_PRED)
        return 0;
    uint32_t undef = mask & ~w->pdef[o->idx];
    if (!undef)
        return 0;
    char buf[64];
    return emu_fault(w, in, __builtin_ctz(undef), "read of predicate %s, which was never written",
                     emu_dec_reg_name(w->cta->k, o, buf, sizeof buf));
}

int emu_exec_alu(Warp *w, const Insn *in, uint32_t mask)
{
    return emu_alu_loop(w, in, mask, in->alu);
}
