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
    AttnFeatures f;  /* window and soft-cap (f.alibi is ignored: see alibi) */
    bool alibi;      /* ALiBi with the paper's slopes 2^(-8 (h + 1) / Hq) */
} AttnDecodeCase;

/* The two kernels for one case on one target (block sizes from
 * attention_decode_config and attention_decode_combine_config, the case's
 * features). */
typedef struct {
    TirModule *split, *combine;
} AttnDecodeModules;

AttnDecodeModules attn_decode_compile(const char *target, DType dt, const AttnDecodeCase *c);
void attn_decode_free(AttnDecodeModules *m);

/* The host tensors of one run: q, o [B, Hq, Sq, D], lse [B, Hq, Sq], the
 * caches kc, vc [pages, P, Hkv, D], the block table bt [B, pages per
 * sequence] and seqk [B]; op and lp, the split workspace [splits, B * Hkv,
 * rows, ...] (poisoned, as o and lse are). */
typedef struct {
    HostTensor q, kc, vc, o, lse, op, lp, bt, seqk, slopes; /* slopes: f32 [Hq], or [0] without ALiBi */
    double scale;
} AttnDecodeTensors;

/* Runs decoding on t (the outputs: o and lse), false with a message in err
 * on failure. */
typedef bool (*AttnDecodeRunner)(const AttnDecodeCase *c, AttnDecodeTensors *t, void *ctx, StrBuf *err);

/* Makes the inputs, runs run, measures the errors (fails the test if run
 * fails). */
AttnErrors attn_decode_check_with(DType dt, const AttnDecodeCase *c, uint64_t seed, AttnDecodeRunner run, void *ctx);

/* The same with the split and the combine kernel of m, each launched by
 * run (with its ctx). */
AttnErrors attn_decode_check_run(const AttnDecodeModules *m, DType dt, const AttnDecodeCase *c, uint64_t seed,
                                 KernelRunner run, void *ctx);
void attn_decode_check_assert(const AttnErrors *e, DType dt, const AttnDecodeCase *c, const char *what);

#endif
