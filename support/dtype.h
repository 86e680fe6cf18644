/* Element types and bit-exact conversions between f32 and the 16-bit float
 * formats (round to nearest even, as a GPU stores them). */
#ifndef TSR_DTYPE_H
#define TSR_DTYPE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { DT_BOOL, DT_I32, DT_F16, DT_BF16, DT_F32, DT_COUNT } DType;

const char *dtype_name(DType t);
int dtype_size(DType t); /* bytes in memory; bool is 1 */
bool dtype_is_float(DType t);
/* Parses "f16", "bf16", "f32", "i32", "bool"; returns false if unknown. */
bool dtype_parse(const char *s, DType *out);

uint16_t f32_to_f16_bits(float f);
float f16_bits_to_f32(uint16_t h);
uint16_t f32_to_bf16_bits(float f);
float bf16_bits_to_f32(uint16_t h);
/* Rounds f to the precision of t (identity for f32). */
float round_to_dtype(float f, DType t);

#endif
