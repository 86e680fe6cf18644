/* The table of GPU targets (see target.h) and the questions asked of it.
 * Tune or add a generation here: each row is one target's facts and the
 * policies of its instruction family (target_<family>.c). */
#include "target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target_families.h"

#define SM80_FAMILY                                                                                                \
    .plan_dot = target_sm80_plan_dot, .operand_smem_layout = target_sm80_operand_smem_layout,                     \
    .codegen_passes = target_sm80_passes, .emit = &target_sm80_emit
#define SM90A_FAMILY                                                                                               \
    .plan_dot = target_sm90a_plan_dot, .operand_smem_layout = target_sm90a_operand_smem_layout,                   \
    .dot_async = target_sm90a_dot_async, .codegen_passes = target_sm90a_passes, .emit = &target_sm90a_emit

static const Target targets[] = {
    /* PTX 7.0 is what sm_80's instructions need; 7.8 brings sm_90, 8.0
     * sm_90a. Shared memory per block is the opt-in maximum of the
     * generation (163 KB on A100, 227 KB on H100/H200); per SM, the whole. */
    { .name = "sm_80", .llvm_cpu = "sm_80", .llvm_features = "+ptx70", .sm = 80, .arch_specific = false,
      .smem_per_block = 166912, .smem_per_sm = 164 * 1024, .regs_per_sm = 65536, .max_threads_per_block = 1024,
      SM80_FAMILY },
    /* sm_89 (Ada: L4, L40, RTX 40) is sm_80's family plus fp8: cvt to and
     * from e4m3x2/e5m2x2 (PTX 7.8) and mma.sync.m16n8k32 on e4m3/e5m2 (PTX
     * 8.4); 99 KB of shared memory per block, 100 KB per SM. */
    { .name = "sm_89", .llvm_cpu = "sm_89", .llvm_features = "+ptx84", .sm = 89, .arch_specific = false,
      .smem_per_block = 101376, .smem_per_sm = 100 * 1024, .regs_per_sm = 65536, .max_threads_per_block = 1024,
      SM80_FAMILY },
    { .name = "sm_90", .llvm_cpu = "sm_90", .llvm_features = "+ptx78", .sm = 90, .arch_specific = false,
      .smem_per_block = 232448, .smem_per_sm = 228 * 1024, .regs_per_sm = 65536, .max_threads_per_block = 1024,
      SM80_FAMILY },
    { .name = "sm_90a", .llvm_cpu = "sm_90a", .llvm_features = "+ptx80", .sm = 90, .arch_specific = true,
      .smem_per_block = 232448, .smem_per_sm = 228 * 1024, .regs_per_sm = 65536, .max_threads_per_block = 1024,
      SM90A_FAMILY },
};

static const char default_name[] = "sm_90a";

const Target *target_lookup(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < TSR_ARRAY_LEN(targets); i++)
        if (!strcmp(targets[i].name, name))
            return &targets[i];
    return NULL;
}

const Target *target_default(void) { return target_lookup(default_name); }

int target_count(void) { return (int)TSR_ARRAY_LEN(targets); }

const Target *target_at(int i) { return i >= 0 && i < target_count() ? &targets[i] : NULL; }

void target_names(char *buf, size_t size, const char *sep, const char *last_sep)
{
    size_t pos = 0, n = TSR_ARRAY_LEN(targets);
    buf[0] = 0;
    for (size_t i = 0; i < n && pos < size; i++)
        pos += (size_t)snprintf(buf + pos, size - pos, "%s%s", i == 0 ? "" : i + 1 == n ? last_sep : sep,
                                targets[i].name);
}

void target_unknown_message(char *buf, size_t size, const char *name)
{
    char names[128];
    target_names(names, sizeof names, ", ", " or ");
    snprintf(buf, size, "unknown target '%s' (use %s)", name, names);
}

const Target *target_for_sm(int sm, bool arch_specific)
{
    const Target *best = NULL;
    for (int i = 0; i < target_count(); i++) {
        const Target *t = target_at(i);
        if (t->sm > sm || (t->arch_specific && (!arch_specific || t->sm != sm)))
            continue;
        if (!best || t->sm > best->sm || (t->sm == best->sm && t->arch_specific))
            best = t;
    }
    return best;
}

const Target *target_for_device(int major, int minor)
{
    /* Arch-specific code runs on exactly its generation (sm_90a on 9.0
     * only); later GPUs get the newest portable target. */
    return target_for_sm(major * 10 + minor, true);
}

const Target *target_of_ptx(const char *ptx)
{
    bool arch;
    int sm = target_sm_of_ptx(ptx, &arch);
    const Target *t = target_for_sm(sm, arch);
    return t ? t : &targets[0];
}

int target_sm_of_ptx(const char *ptx, bool *arch_specific)
{
    *arch_specific = false;
    const char *t = ptx ? strstr(ptx, ".target sm_") : NULL;
    if (!t)
        return 0;
    char *end;
    long sm = strtol(t + strlen(".target sm_"), &end, 10);
    if (sm <= 0 || sm > 1000)
        return 0;
    *arch_specific = *end == 'a' || *end == 'f';
    return (int)sm;
}

int target_ptx_version(const Target *t)
{
    const char *p = strstr(t->llvm_features, "+ptx");
    return p ? atoi(p + 4) : 0;
}

bool target_has_fp8_mma(const Target *t) { return t->sm >= 89 && target_ptx_version(t) >= 84; }

bool target_has_fp8_wgmma(const Target *t) { return t->sm == 90 && t->arch_specific; }

/* A shared tile stores its logical dim 1 contiguously unless transposed:
 * K for A [M, K], N for B [K, N]. */
DotOperandSource dot_operand_source(const Layout *l, int which)
{
    if (!l || l->kind != LAYOUT_SHARED)
        return DOT_FROM_REGS;
    return l->transposed == (which == 1) ? DOT_FROM_SMEM_K : DOT_FROM_SMEM_MN;
}

void dot_plan_fma_operands(DotPlan *plan, int K)
{
    plan->a = layout_fma_operand(&plan->acc, K, false);
    plan->b = layout_fma_operand(&plan->acc, K, true);
}
