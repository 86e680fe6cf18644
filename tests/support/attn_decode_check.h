/* The check of kernels/attention_decode.tsr (paged KV cache, split-KV with
 * a combine kernel, the query heads of a GQA group packed into one tile),
 * shared by the tests of every device: both kernels on random inputs with a
 * scattered block table and poisoned outputs and workspace, against the
 * double reference on each sequence's keys gathered from its pages. */
#ifndef TSR_ATTN_DECODE_CHECK_H
#define TSR_ATTN_DECODE_CHECK_H

#include "attn_check.h"

typedef struct {
    int B, Hq, Hkv, Sq, D;
    bool causal;
    int page;        /* keys per page */
    int splits;      /* split-KV programs per (sequence, key/value head) */
    const int *seqk; /* B cache lengths (the Sq new tokens last) */
} AttnDecodeCase;

/* The two kernels for one case on one target (block sizes from
 * attention_decode_config and attention_decode_combine_config). */
typedef struct {
    TirModule *split, *combine;
} AttnDecodeModules;

AttnDecodeModules attn_decode_compile(const char *target, DType dt, const AttnDecodeCase *c);
void attn_decode_free(AttnDecodeModules *m);

/* Runs the split and the combine kernel with run (fails the test if a
 * launch fails) and measures the errors. */
AttnErrors attn_decode_check_run(const AttnDecodeModules *m, DType dt, const AttnDecodeCase *c, uint64_t seed,
                                 KernelRunner run, void *ctx);
void attn_decode_check_assert(const AttnErrors *e, DType dt, const AttnDecodeCase *c, const char *what);

#endif
