/* NumPy's .npy format: reading and writing whole arrays, as `tessera run`
 * and its tests exchange tensors with NumPy.
 *
 * Read: format versions 1.0, 2.0 and 3.0; C or Fortran order (a Fortran
 * array is transposed to C order on reading); little- or big-endian or
 * byte-less ('|') element types, swapped to the host's order. Element types
 * ('descr'): b1 (bool), i1 i2 i4 i8, u1 u2 u4 u8, f2 f4 f8, and V2, read as
 * bfloat16 (see below). Anything else (structured or object dtypes, complex,
 * strings, datetimes) is refused with a message.
 * Write: version 1.0, C order, the host's byte order (little-endian on
 * every machine Tessera runs on), the header padded so that the data starts at a multiple of
 * 64 bytes, as NumPy writes it.
 *
 * fp8: e4m3 and e5m2 arrays are written as '<V1' (one raw byte an element,
 * as ml_dtypes' float8_e4m3fn and float8_e5m2 arrays are saved); a V1 file
 * reads as e4m3 codes, which `tessera run` takes as the codes of whichever
 * fp8 dtype the kernel declares.
 * bfloat16: NumPy has no bfloat16. The convention here is the one ml_dtypes'
 * bfloat16 arrays produce when NumPy saves them: descr '<V2' (two raw bytes
 * per element, the bits of the bfloat16 little-endian); '|V2' is read too. In NumPy, `np.load(f).view(ml_dtypes.bfloat16)` gives the values
 * back, or `(a.view('<u2').astype('<u4') << 16).view('<f4')` without
 * ml_dtypes.
 * On a big-endian host the bytes are the host's.
 *
 * Hostile input: the header is parsed as the small Python literal it should
 * be (a dict with the keys descr, fortran_order and shape, nothing else), its
 * length is capped (NPY_MAX_HEADER), every size product is checked for
 * overflow, and the data must be exactly as long as the shape says, so a
 * file never makes the reader allocate more than the file holds. Every
 * refusal is a message, never a crash. */
#ifndef TSR_NPY_H
#define TSR_NPY_H

#include <dlpack/dlpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    NPY_MAX_DIMS = 32,          /* NumPy's historical limit */
    NPY_MAX_HEADER = 1 << 20,   /* bytes of header text accepted */
    NPY_DL_BOOL = 6,            /* DLDataType code kDLBool (DLPack 0.8+) */
    /* DLPack 1.1's codes of the 8-bit floats (PyTorch's float8_e4m3fn and
     * float8_e5m2 export them); the installed dlpack.h may predate them. */
    NPY_DL_FLOAT8_E4M3FN = 10,
    NPY_DL_FLOAT8_E5M2 = 12
};

/* An array in C order, in the host's byte order, owning its data. dtype is
 * one of: kDLInt 8/16/32/64, kDLUInt 8/16/32/64, kDLFloat 16/32/64,
 * kDLBfloat 16, NPY_DL_BOOL 8 (one byte, 0 or 1); lanes 1. */
typedef struct {
    DLDataType dtype;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    void *data;   /* malloc'd; may be NULL when there are no elements */
    size_t nbytes;
} NpyArray;

/* Element count of a shape; -1 when it overflows int64 (or a dim < 0). */
int64_t npy_numel(int ndim, const int64_t *shape);
/* Bytes per element of a supported dtype, 0 for an unsupported one. */
size_t npy_elem_size(DLDataType dt);
/* A readable name: "float32", "bfloat16", "int8", "bool", ... or "unsupported",
 * and the short one, as the DSL spells its types: "f32", "bf16", "i8", ... */
const char *npy_dtype_name(DLDataType dt);
const char *npy_dtype_short(DLDataType dt);
/* Parses the names npy_dtype_name gives, and the short ones f16 bf16 f32 f64
 * i8 i16 i32 i64 u8 u16 u32 u64 bool. */
bool npy_dtype_parse(const char *s, DLDataType *out);

/* Parses a whole .npy image. On failure returns false with a message in err
 * (n bytes) and leaves *out empty. */
bool npy_parse(const void *buf, size_t len, NpyArray *out, char *err, size_t n);
/* Reads a .npy file; the message names the path. */
bool npy_read_file(const char *path, NpyArray *out, char *err, size_t n);

/* Makes the header of an array (magic, version, length, the dict, padding);
 * returns its length, or 0 when the dtype is unsupported or ndim is out of
 * range. buf must hold NPY_MAX_WRITE_HEADER bytes. */
enum { NPY_MAX_WRITE_HEADER = 2048 };
size_t npy_header(DLDataType dt, int ndim, const int64_t *shape, char *buf);
/* Writes data (C order, host byte order, npy_numel * elem size bytes) as a
 * .npy file. */
bool npy_write_file(const char *path, DLDataType dt, int ndim, const int64_t *shape, const void *data, char *err,
                    size_t n);

/* Element i of data of a supported dtype, as a double (f16 and bf16 exact;
 * 64-bit integers rounded), and the reverse (rounded to nearest even for
 * floats, saturated and truncated toward zero for integers, NaN as 0; bool:
 * non-zero is 1). */
double npy_get(DLDataType dt, const void *data, int64_t i);
void npy_set(DLDataType dt, void *data, int64_t i, double v);

void npy_free(NpyArray *a);

#endif
