/* Element types and bit-exact conversions between f32 and the 16-bit float
 * formats (round to nearest even, as a GPU stores them). */
#ifndef TSR_DTYPE_H
#define TSR_DTYPE_H

#include <stdbool.h>
#include <stdint.h>

/* The integer dtypes after f32 (i8, u8: storage; u32: bits and hashes; i64:
 * offsets) and the 8-bit floats (e4m3, e5m2: storage, conversions and dot
 * operands) were added after the others, which keep their numbers. */
typedef enum {
    DT_BOOL, DT_I32, DT_F16, DT_BF16, DT_F32, DT_I8, DT_U8, DT_U32, DT_I64, DT_E4M3, DT_E5M2, DT_COUNT
} DType;

const char *dtype_name(DType t);
int dtype_size(DType t); /* bytes in memory; bool is 1 */
bool dtype_is_float(DType t);  /* f16 bf16 f32 e4m3 e5m2 */
bool dtype_is_fp8(DType t);    /* e4m3 e5m2: no arithmetic of their own */
bool dtype_is_int(DType t);    /* i8 u8 i32 u32 i64 (not bool) */
bool dtype_is_signed(DType t); /* i8 i32 i64 */
int dtype_bits(DType t);       /* of an integer dtype's values */
/* An integer of dtype t from the low bits of v: wrapped to the dtype's width,
 * sign- or zero-extended back to 64 bits (the one representation of integer
 * values in the interpreter and the constant folder). */
int64_t int_wrap(int64_t v, DType t);
/* Whether v is a value of integer dtype t. */
bool int_fits(int64_t v, DType t);
/* Parses "f16", "bf16", "f32", "i32", "bool", "i8", "u8", "u32", "i64", "e4m3", "e5m2";
 * returns false if unknown. */
bool dtype_parse(const char *s, DType *out);

uint16_t f32_to_f16_bits(float f);
float f16_bits_to_f32(uint16_t h);
uint16_t f32_to_bf16_bits(float f);
float bf16_bits_to_f32(uint16_t h);
/* The 8-bit floats (OCP FP8): e4m3 (bias 7, no infinities, NaN S.1111.111,
 * largest 448) and e5m2 (bias 15, IEEE-like, largest 57344). A conversion to
 * them is PTX's cvt.rn.satfinite: rounded to nearest even, a result beyond
 * the largest finite value (infinities included) is that value with the
 * sign kept, NaN becomes 0x7f. Codes decode exactly (an e5m2 NaN or e4m3
 * NaN is a quiet f32 NaN). t is DT_E4M3 or DT_E5M2. */
uint8_t f32_to_fp8_bits(float f, DType t);
float fp8_bits_to_f32(uint8_t v, DType t);
/* The largest finite value of an fp8 dtype (448 or 57344). */
float fp8_max(DType t);
/* Rounds f to the precision of t (identity for f32; fp8 saturates). */
float round_to_dtype(float f, DType t);

#endif
