/* Plain C references for the kernels of this folder: attention in double
 * precision (the truth) and in the kernel's own precision (the yardstick of
 * FlashAttention's tolerance rule). Used by the tests and the benchmark. */
#ifndef TSR_REFERENCE_H
#define TSR_REFERENCE_H

#include "dtype.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int B, Hq, Hkv, Sq, Sk, D;
    bool causal;     /* bottom-right aligned when Sq != Sk */
    double scale;
} AttnShape;

/* The features of kernels/attention_ext.tsr, all off when zero (NULL
 * stands for that too). local: row r sees keys c with r + Sk - Sq -
 * window_left <= c <= r + Sk - Sq + window_right, a negative extent leaving
 * its side open (causal makes the right one 0). softcap > 0: scores s
 * become softcap * tanh(s / softcap). alibi (Hq floats): alibi[h] * |r + Sk
 * - Sq - c| is taken off the score of row r and key c. */
typedef struct {
    bool local;
    int window_left, window_right;
    double softcap;
    const float *alibi;
} AttnFeatures;

/* How many keys query row r sees (a run of keys from *first), with the
 * features f (NULL: none): for counting FLOPs. */
int attention_visible_keys(const AttnShape *s, const AttnFeatures *f, int r, int *first);

/* Inputs are float arrays holding the exact values of the f16/bf16 tensors,
 * contiguous [B, H, S, D]. */
typedef struct {
    const float *q, *k, *v;
} AttnInputs;

/* Double-precision output row (b, h, r): o_row[D] and the natural-log LSE.
 * A row that sees no key gives zeros and -inf. */
void ref_attention_row(const AttnShape *s, const AttnInputs *in, int b, int h, int r, double *o_row, double *lse);
/* The same with the features of f. */
void ref_attention_row_ext(const AttnShape *s, const AttnFeatures *f, const AttnInputs *in, int b, int h, int r,
                           double *o_row, double *lse);

/* The same row computed as a kernel of dtype dt would: scores rounded to dt,
 * softmax in f32, probabilities rounded to dt, f32 accumulation, output
 * rounded to dt. */
void ref_attention_row_lowp(const AttnShape *s, const AttnInputs *in, DType dt, int b, int h, int r, float *o_row);
void ref_attention_row_lowp_ext(const AttnShape *s, const AttnFeatures *f, const AttnInputs *in, DType dt, int b,
                                int h, int r, float *o_row);

/* fp8 attention (kernels/attention_fp8.tsr): in holds the values of the
 * fp8 tensors with their descale factors applied (code value * descale, in
 * float: exact, as fp8 values have 4 significant bits and the descales are
 * what the caller gives), so ref_attention_row is the truth. This is the
 * row as FlashAttention-3's fp8 kernel computes it, the yardstick of the
 * tolerance rule: scores in f32, p = exp(s - max) in f32 whose sum is the
 * normalizer, p rounded to e4m3 for the product with v, f32 accumulation,
 * output rounded to out_dt (bf16 or f16). */
void ref_attention_row_fp8(const AttnShape *s, const AttnInputs *in, DType out_dt, int b, int h, int r,
                           float *o_row);

/* Gradients of the attention's outputs O for an upstream gradient dout
 * (float array [B, Hq, Sq, D], like q): dq [B, Hq, Sq, D], dk and dv
 * [B, Hkv, Sk, D], contiguous, in double precision. Grouped-query attention
 * sums dk and dv over the query heads of a group; a row that sees no key
 * gives a zero dq row and nothing to dk and dv. The probabilities are
 * recomputed from q and k in double: the truth does not inherit the
 * forward kernel's O and LSE. */
void ref_attention_backward(const AttnShape *s, const AttnInputs *in, const float *dout, double *dq, double *dk,
                            double *dv);

/* The same gradients computed as a framework in dtype dt would (PyTorch's
 * autograd on f16/bf16 tensors): scores, probabilities, dP, dS (scaled) and
 * the outputs rounded to dt, sums in higher precision. The yardstick of
 * FlashAttention's rule for the backward kernels. */
void ref_attention_backward_lowp(const AttnShape *s, const AttnInputs *in, const float *dout, DType dt, double *dq,
                                 double *dk, double *dv);

/* The tolerance of FlashAttention's rule for a kernel of dtype dt: the
 * kernel's max error may be at most 2x the low-precision reference's error
 * plus this slack. */
double attention_slack(DType dt);

#endif
