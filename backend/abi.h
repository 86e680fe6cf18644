/* The kernel parameter ABI shared by code generation and the runtime
 * devices (cuda, emu): what a launch passes, in order.
 *
 *   for each TIR parameter, in declaration order:
 *     tensor: its data pointer (8 bytes, global memory), then one i64 stride
 *             per dimension, in elements
 *     scalar: f32/i32: 4 bytes; f16/bf16: 2 bytes (the bits); bool: i32 0 or 1
 *   then one i32 per symbolic dimension, in TirFunc.syms order.
 *
 * The generated code assumes the last dimension of every tensor has stride 1
 * (the runtime checks it before launching). */
#ifndef TSR_ABI_H
#define TSR_ABI_H

#include "tir.h"

typedef enum { ABI_PTR, ABI_I64, ABI_I32, ABI_F32, ABI_B16 } AbiKind;

typedef struct {
    AbiKind kind;
    int param;  /* TIR parameter, or TIR_NONE for a symbol */
    int dim;    /* stride's dim, or the symbol index */
} AbiSlot;

/* Fills slots (up to max) and returns how many the kernel takes. */
int abi_slots(const TirFunc *f, AbiSlot *slots, int max);
int abi_slot_size(AbiKind k);

#endif
