/* The check of kernels/attention_ext.tsr (windows, soft-capping, ALiBi,
 * packed variable-length batches), shared by the tests of every device: run
 * the kernel on random inputs with poisoned outputs and measure its errors
 * against the double reference, sequence by sequence. */
#ifndef TSR_ATTN_EXT_CHECK_H
#define TSR_ATTN_EXT_CHECK_H

#include "attn_check.h"

/* One problem: shape s (for a dense batch; a packed one takes B, the
 * number of sequences, from it), features f (whose slopes the check fills
 * in when `alibi` is set). seq_q and seq_k (B lengths each, NULL for a dense batch) make a
 * packed batch of B sequences in FlashAttention's layout: Q and O [total_q,
 * Hq, D], K and V [total_k, Hkv, D], LSE [Hq, total_q]. */
typedef struct {
    AttnShape s;
    AttnFeatures f;
    bool alibi;
    const int *seq_q, *seq_k;
    /* A dense batch's key blocks of this many keys (the kernel's BN) that
     * lie wholly before every row's window are NaN in K and V: a kernel
     * that loaded them (masking them rather than skipping them) writes NaN,
     * as 0 * NaN is NaN. 0: none. */
    int nan_skipped_blocks;
} AttnExtCase;

/* Compiles kernels/attention_ext.tsr with the features of c and the blocks
 * and warps attention_ext_config() gives for target. */
TirModule *attn_ext_compile(const char *target, DType dt, const AttnExtCase *c);

/* Fails the test if the runner fails. */
AttnErrors attn_ext_check_run(TirFunc *f, DType dt, const AttnExtCase *c, uint64_t seed, KernelRunner run,
                              void *ctx);
/* attn_check_assert's rule, naming the case's features. */
void attn_ext_check_assert(const AttnErrors *e, DType dt, const AttnExtCase *c, const char *what);

#endif
