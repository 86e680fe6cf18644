/* The kernel parameter ABI shared by code generation and the runtime
 * devices (cuda, emu): what a launch passes, in order.
 *
 *   for each TIR parameter, in declaration order:
 *     tensor: its data pointer (8 bytes, global memory), then one i64 stride
 *             per dimension, in elements
 *     scalar: f32/i32/u32: 4 bytes; f16/bf16: 2 bytes (the bits); bool: i32 0
 *             or 1; i8/u8: an i32 holding the value; i64: 8 bytes (ABI_I64,
 *             the slot of a scalar parameter rather than a tensor's stride)
 *   then one i32 per symbolic dimension, in TirFunc.syms order;
 *   then one tensor map per TmaRequest, in TirFunc.tma order: 128 bytes,
 *     64-byte aligned, a grid constant (PTX `.param .align 64 .b8 p[128]`,
 *     read in place through its address: never copied to local memory).
 *
 * A kernel without requests has exactly the parameters it had before tensor
 * maps existed. The generated code assumes the last dimension of every
 * tensor has stride 1 (the runtime checks it before launching). */
#ifndef TSR_ABI_H
#define TSR_ABI_H

#include "tir.h"

typedef enum { ABI_PTR, ABI_I64, ABI_I32, ABI_F32, ABI_B16, ABI_TMAP } AbiKind;

enum { ABI_TMAP_BYTES = 128, ABI_TMAP_ALIGN = 64 };

typedef struct {
    AbiKind kind;
    int param;  /* TIR parameter (a tensor map's tensor), or TIR_NONE for a symbol */
    int dim;    /* stride's dim, the symbol index, or the tensor map's request index */
} AbiSlot;

/* Fills slots (up to max) and returns how many the kernel takes, with the
 * tensor maps of f->tma. */
int abi_slots(const TirFunc *f, AbiSlot *slots, int max);
/* The same with the tensor maps of a compiled variant (the runtime keeps
 * them beside its PTX; its TirFunc is the frontend's, without requests). */
int abi_slots_with(const TirFunc *f, const TmaRequest *tma, int ntma, AbiSlot *slots, int max);
int abi_slot_size(AbiKind k);
int abi_slot_align(AbiKind k);

/* The bytes a swizzle mode permutes within (0 for none). */
int abi_swizzle_span(int swizzle);
/* Whether request r of f can be encoded for any tensor TMA takes: a tensor
 * parameter of rank r->rank, boxes of 1..256 elements, an inner box extent
 * that is a multiple of 16 bytes and within the swizzle span. If not,
 * writes why. */
bool abi_tma_request_ok(const TirFunc *f, const TmaRequest *r, StrBuf *why);

#endif
