/* The .npy reader and writer (see npy.h): the header's Python literal is
 * parsed by a small recursive-descent parser that accepts only what NumPy
 * writes, then the data is checked against the shape, byte-swapped and
 * transposed to C order as needed. */
#include "npy.h"

#include "dtype.h"
#include "readfile.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char MAGIC[6] = { '\x93', 'N', 'U', 'M', 'P', 'Y' };

/* ------------------------------------------------------------ dtypes */

static const struct {
    const char *name, *short_name;
    DLDataType dt;
    char kind; /* the descr letter */
} types[] = {
    { "bool", "bool", { NPY_DL_BOOL, 8, 1 }, 'b' },
    { "int8", "i8", { kDLInt, 8, 1 }, 'i' },
    { "int16", "i16", { kDLInt, 16, 1 }, 'i' },
    { "int32", "i32", { kDLInt, 32, 1 }, 'i' },
    { "int64", "i64", { kDLInt, 64, 1 }, 'i' },
    { "uint8", "u8", { kDLUInt, 8, 1 }, 'u' },
    { "uint16", "u16", { kDLUInt, 16, 1 }, 'u' },
    { "uint32", "u32", { kDLUInt, 32, 1 }, 'u' },
    { "uint64", "u64", { kDLUInt, 64, 1 }, 'u' },
    { "float16", "f16", { kDLFloat, 16, 1 }, 'f' },
    { "float32", "f32", { kDLFloat, 32, 1 }, 'f' },
    { "float64", "f64", { kDLFloat, 64, 1 }, 'f' },
    { "bfloat16", "bf16", { kDLBfloat, 16, 1 }, 'V' },
    { "float8_e4m3fn", "e4m3", { NPY_DL_FLOAT8_E4M3FN, 8, 1 }, 'V' },
    { "float8_e5m2", "e5m2", { NPY_DL_FLOAT8_E5M2, 8, 1 }, 'V' },
};

static int type_index(DLDataType dt)
{
    for (size_t i = 0; i < TSR_ARRAY_LEN(types); i++)
        if (types[i].dt.code == dt.code && types[i].dt.bits == dt.bits && dt.lanes == 1)
            return (int)i;
    return -1;
}

size_t npy_elem_size(DLDataType dt) { return type_index(dt) < 0 ? 0 : dt.bits / 8u; }

const char *npy_dtype_name(DLDataType dt)
{
    int i = type_index(dt);
    return i < 0 ? "unsupported" : types[i].name;
}

const char *npy_dtype_short(DLDataType dt)
{
    int i = type_index(dt);
    return i < 0 ? "unsupported" : types[i].short_name;
}

bool npy_dtype_parse(const char *s, DLDataType *out)
{
    for (size_t i = 0; i < TSR_ARRAY_LEN(types); i++)
        if (!strcmp(s, types[i].name) || !strcmp(s, types[i].short_name)) {
            *out = types[i].dt;
            return true;
        }
    return false;
}

int64_t npy_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && n > INT64_MAX / shape[i]))
            return -1;
        n *= shape[i];
    }
    return n;
}

static bool host_is_little_endian(void)
{
    uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* ------------------------------------------------------- header parsing */

typedef struct {
    const char *p, *end;
    char *err;
    size_t n;
    bool failed;
} Lit;

static bool fail(Lit *l, const char *fmt, ...) TSR_PRINTF(2, 3);
static bool fail(Lit *l, const char *fmt, ...)
{
    if (!l->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(l->err, l->n, fmt, ap);
        va_end(ap);
        l->failed = true;
    }
    return false;
}

static void skip_space(Lit *l)
{
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
        l->p++;
}

static bool expect(Lit *l, char c, const char *what)
{
    skip_space(l);
    if (l->p < l->end && *l->p == c) {
        l->p++;
        return true;
    }
    return fail(l, "header: expected %s", what);
}

/* string: '...' or "..." without escapes; at most cap-1 bytes kept. */
static bool parse_string(Lit *l, char *out, size_t cap)
{
    skip_space(l);
    if (l->p >= l->end || (*l->p != '\'' && *l->p != '"'))
        return fail(l, "header: expected a quoted string");
    char q = *l->p++;
    size_t len = 0;
    while (l->p < l->end && *l->p != q) {
        unsigned char c = (unsigned char)*l->p++;
        if (c == '\\' || c < 0x20 || c >= 0x7f)
            return fail(l, "header: unexpected character 0x%02x in a string", c);
        if (len + 1 >= cap)
            return fail(l, "header: string longer than %zu bytes", cap - 1);
        out[len++] = (char)c;
    }
    if (l->p >= l->end)
        return fail(l, "header: unterminated string");
    l->p++;
    out[len] = 0;
    return true;
}

/* bool: True | False */
static bool parse_bool(Lit *l, bool *out)
{
    skip_space(l);
    size_t left = (size_t)(l->end - l->p);
    if (left >= 4 && !memcmp(l->p, "True", 4)) {
        l->p += 4;
        *out = true;
        return true;
    }
    if (left >= 5 && !memcmp(l->p, "False", 5)) {
        l->p += 5;
        *out = false;
        return true;
    }
    return fail(l, "header: 'fortran_order' must be True or False");
}

/* dim: digits ['L'] (Python 2 wrote long integers with an L) */
static bool parse_dim(Lit *l, int64_t *out)
{
    skip_space(l);
    if (l->p >= l->end || *l->p < '0' || *l->p > '9')
        return fail(l, "header: a dimension of 'shape' is not a non-negative integer");
    int64_t v = 0;
    while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
        int d = *l->p++ - '0';
        if (v > (INT64_MAX - d) / 10)
            return fail(l, "header: a dimension of 'shape' is too large");
        v = v * 10 + d;
    }
    if (l->p < l->end && *l->p == 'L')
        l->p++;
    *out = v;
    return true;
}

/* shape: '(' [dim (',' dim)* [',']] ')'  -- a 1-tuple needs its comma */
static bool parse_shape(Lit *l, int *ndim, int64_t *shape)
{
    if (!expect(l, '(', "'(' to open 'shape'"))
        return false;
    *ndim = 0;
    bool comma = false;
    for (;;) {
        skip_space(l);
        if (l->p < l->end && *l->p == ')') {
            l->p++;
            break;
        }
        if (*ndim == NPY_MAX_DIMS)
            return fail(l, "header: 'shape' has more than %d dimensions", NPY_MAX_DIMS);
        if (!parse_dim(l, &shape[(*ndim)++]))
            return false;
        skip_space(l);
        comma = l->p < l->end && *l->p == ',';
        if (comma)
            l->p++;
        else if (l->p >= l->end || *l->p != ')')
            return fail(l, "header: expected ',' or ')' in 'shape'");
    }
    if (*ndim == 1 && !comma)
        return fail(l, "header: 'shape' (n) is not a tuple; a 1-tuple is written (n,)");
    return true;
}

/* descr: byte order [<>|=] and one of b1 i1..i8 u1..u8 f2 f4 f8 V2 */
static bool parse_descr(Lit *l, const char *s, DLDataType *dt, bool *swap)
{
    size_t len = strlen(s);
    char order = len ? s[0] : 0;
    if (len < 3 || !strchr("<>|=", order))
        return fail(l, "header: unsupported 'descr' '%s' (structured, object and string dtypes are not read)", s);
    char kind = s[1];
    char *end;
    errno = 0;
    long size = strtol(s + 2, &end, 10);
    if (*end || errno || s[2] < '1' || s[2] > '9')
        return fail(l, "header: unsupported 'descr' '%s'", s);
    for (size_t i = 0; i < TSR_ARRAY_LEN(types) && size <= 8; i++) {
        char k = types[i].kind;
        if (k == kind && types[i].dt.bits == size * 8) {
            if (kind == 'V' && order == '>')
                break;
            *dt = types[i].dt;
            bool little = host_is_little_endian();
            *swap = size > 1 && kind != 'V' && ((order == '<' && !little) || (order == '>' && little));
            if (size > 1 && order == '|' && kind != 'V')
                return fail(l, "header: 'descr' '%s' has no byte order", s);
            return true;
        }
    }
    return fail(l, "header: unsupported element type '%s' (read: b1, i1-i8, u1-u8, f2, f4, f8, V2 as bfloat16)", s);
}

typedef struct {
    DLDataType dt;
    bool swap, fortran;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
} Header;

/* header: '{' (key ':' value ',')* [key ':' value] '}' spaces, with exactly
 * the keys descr, fortran_order and shape. */
static bool parse_header(Lit *l, Header *h)
{
    bool seen[3] = { false, false, false };
    static const char *const keys[3] = { "descr", "fortran_order", "shape" };
    if (!expect(l, '{', "'{' to open the header's dict"))
        return false;
    for (;;) {
        skip_space(l);
        if (l->p < l->end && *l->p == '}') {
            l->p++;
            break;
        }
        char key[32];
        if (!parse_string(l, key, sizeof key))
            return false;
        int which = -1;
        for (int i = 0; i < 3; i++)
            if (!strcmp(key, keys[i]))
                which = i;
        if (which < 0)
            return fail(l, "header: unexpected key '%s'", key);
        if (seen[which])
            return fail(l, "header: key '%s' given twice", key);
        seen[which] = true;
        if (!expect(l, ':', "':' after a key"))
            return false;
        char descr[32];
        bool ok = which == 0   ? parse_string(l, descr, sizeof descr) && parse_descr(l, descr, &h->dt, &h->swap)
                  : which == 1 ? parse_bool(l, &h->fortran)
                               : parse_shape(l, &h->ndim, h->shape);
        if (!ok)
            return false;
        skip_space(l);
        if (l->p < l->end && *l->p == ',')
            l->p++;
        else if (l->p >= l->end || *l->p != '}')
            return fail(l, "header: expected ',' or '}' after the value of '%s'", key);
    }
    skip_space(l);
    if (l->p != l->end)
        return fail(l, "header: unexpected text after the dict");
    for (int i = 0; i < 3; i++)
        if (!seen[i])
            return fail(l, "header: key '%s' missing", keys[i]);
    return true;
}

/* ---------------------------------------------------------- the data */

static void byte_swap(unsigned char *p, size_t esize, int64_t count)
{
    for (int64_t i = 0; i < count; i++, p += esize)
        for (size_t a = 0, b = esize - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* Copies Fortran-order src into C-order dst: an odometer over the C index,
 * each step moving the Fortran offset by that dim's Fortran stride. */
static void fortran_to_c(const unsigned char *src, unsigned char *dst, size_t esize, int ndim, const int64_t *shape,
                         int64_t count)
{
    int64_t fstride[NPY_MAX_DIMS], idx[NPY_MAX_DIMS] = { 0 };
    int64_t s = 1;
    for (int d = 0; d < ndim; d++) {
        fstride[d] = s;
        s *= shape[d];
    }
    int64_t off = 0;
    for (int64_t i = 0; i < count; i++) {
        memcpy(dst + (size_t)i * esize, src + (size_t)off * esize, esize);
        for (int d = ndim - 1; d >= 0; d--) {
            off += fstride[d];
            if (++idx[d] < shape[d])
                break;
            off -= fstride[d] * shape[d];
            idx[d] = 0;
        }
    }
}

bool npy_parse(const void *buf, size_t len, NpyArray *out, char *err, size_t n)
{
    memset(out, 0, sizeof *out);
    const unsigned char *b = buf;
    if (len < 10 || memcmp(b, MAGIC, sizeof MAGIC) != 0) {
        snprintf(err, n, "not a .npy file (no \\x93NUMPY magic)");
        return false;
    }
    int major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0) {
        snprintf(err, n, "unsupported .npy version %d.%d (1.0, 2.0 and 3.0 are read)", major, minor);
        return false;
    }
    size_t hlen, hstart = major == 1 ? 10 : 12;
    if (len < hstart) {
        snprintf(err, n, "truncated header");
        return false;
    }
    hlen = major == 1 ? (size_t)b[8] | (size_t)b[9] << 8
                      : (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    if (hlen > NPY_MAX_HEADER) {
        snprintf(err, n, "header of %zu bytes (at most %d accepted)", hlen, NPY_MAX_HEADER);
        return false;
    }
    if (hlen > len - hstart) {
        snprintf(err, n, "truncated header: it says %zu bytes, the file has %zu after the preamble", hlen,
                 len - hstart);
        return false;
    }
    if (memchr(b + hstart, 0, hlen)) {
        snprintf(err, n, "header: NUL byte in the header");
        return false;
    }
    Header h;
    memset(&h, 0, sizeof h);
    Lit l = { (const char *)b + hstart, (const char *)b + hstart + hlen, err, n, false };
    if (!parse_header(&l, &h))
        return false;
    int64_t count = npy_numel(h.ndim, h.shape);
    size_t esize = npy_elem_size(h.dt);
    size_t have = len - hstart - hlen;
    if (count < 0 || (uint64_t)count > SIZE_MAX / esize) {
        snprintf(err, n, "shape too large: its element count overflows");
        return false;
    }
    size_t need = (size_t)count * esize;
    if (have != need) {
        snprintf(err, n, "%s: the shape needs %zu bytes of data, the file has %zu", have < need ? "truncated data" : "extra data",
                 need, have);
        return false;
    }
    const unsigned char *data = b + hstart + hlen;
    out->dtype = h.dt;
    out->ndim = h.ndim;
    memcpy(out->shape, h.shape, sizeof h.shape);
    out->nbytes = need;
    if (need) {
        out->data = malloc(need);
        if (!out->data) {
            snprintf(err, n, "out of memory for %zu bytes of data", need);
            return false;
        }
        if (h.fortran && h.ndim > 1)
            fortran_to_c(data, out->data, esize, h.ndim, h.shape, count);
        else
            memcpy(out->data, data, need);
        if (h.swap)
            byte_swap(out->data, esize, count);
        if (h.dt.code == NPY_DL_BOOL)
            for (size_t i = 0; i < need; i++)
                ((unsigned char *)out->data)[i] = ((unsigned char *)out->data)[i] != 0;
    }
    return true;
}

bool npy_read_file(const char *path, NpyArray *out, char *err, size_t n)
{
    memset(out, 0, sizeof *out);
    size_t len;
    const char *why;
    char *text = tsr_read_regular_file(path, SIZE_MAX - 1, &len, &why);
    if (!text) {
        snprintf(err, n, "cannot read '%s': %s", path, why);
        return false;
    }
    char msg[512];
    bool ok = npy_parse(text, len, out, msg, sizeof msg);
    if (!ok)
        snprintf(err, n, "%s: %s", path, msg);
    free(text);
    return ok;
}

/* ---------------------------------------------------------- writing */

size_t npy_header(DLDataType dt, int ndim, const int64_t *shape, char *buf)
{
    int t = type_index(dt);
    if (t < 0 || ndim < 0 || ndim > NPY_MAX_DIMS)
        return 0;
    char dict[NPY_MAX_WRITE_HEADER];
    char order = dt.bits == 8 ? '|' : host_is_little_endian() ? '<' : '>';
    if (types[t].kind == 'V')
        order = '<';
    int len = snprintf(dict, sizeof dict, "{'descr': '%c%c%d', 'fortran_order': False, 'shape': (", order,
                       types[t].kind, dt.bits / 8);
    for (int i = 0; i < ndim; i++)
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%s%lld", i ? ", " : "", (long long)shape[i]);
    len += snprintf(dict + len, sizeof dict - (size_t)len, "%s), }", ndim == 1 ? "," : "");
    /* 10 bytes of preamble + dict + spaces + '\n', a multiple of 64 */
    size_t total = (10 + (size_t)len + 1 + 63) / 64 * 64;
    size_t hlen = total - 10;
    memcpy(buf, MAGIC, sizeof MAGIC);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)len);
    memset(buf + 10 + len, ' ', hlen - (size_t)len - 1);
    buf[total - 1] = '\n';
    return total;
}

bool npy_write_file(const char *path, DLDataType dt, int ndim, const int64_t *shape, const void *data, char *err,
                    size_t n)
{
    char head[NPY_MAX_WRITE_HEADER];
    size_t hlen = npy_header(dt, ndim, shape, head);
    int64_t count = npy_numel(ndim, shape);
    if (!hlen || count < 0) {
        snprintf(err, n, "cannot write '%s': unsupported dtype or shape", path);
        return false;
    }
    size_t bytes = (size_t)count * npy_elem_size(dt);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(head, 1, hlen, f) == hlen && (bytes == 0 || fwrite(data, 1, bytes, f) == bytes);
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        snprintf(err, n, "cannot write '%s': %s", path, strerror(errno));
    return ok;
}

/* ---------------------------------------------------------- elements */

double npy_get(DLDataType dt, const void *data, int64_t i)
{
    const unsigned char *p = (const unsigned char *)data + (size_t)i * (dt.bits / 8u);
    union {
        int8_t i8; int16_t i16; int32_t i32; int64_t i64;
        uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64;
        float f32; double f64;
    } v;
    memcpy(&v, p, dt.bits / 8u);
    switch (dt.code) {
    case kDLInt: return dt.bits == 8 ? v.i8 : dt.bits == 16 ? v.i16 : dt.bits == 32 ? v.i32 : (double)v.i64;
    case kDLUInt: return dt.bits == 8 ? v.u8 : dt.bits == 16 ? v.u16 : dt.bits == 32 ? v.u32 : (double)v.u64;
    case kDLFloat: return dt.bits == 16 ? f16_bits_to_f32(v.u16) : dt.bits == 32 ? v.f32 : v.f64;
    case kDLBfloat: return bf16_bits_to_f32(v.u16);
    case NPY_DL_BOOL: return v.u8 != 0;
    case NPY_DL_FLOAT8_E4M3FN: return fp8_bits_to_f32(v.u8, DT_E4M3);
    case NPY_DL_FLOAT8_E5M2: return fp8_bits_to_f32(v.u8, DT_E5M2);
    default: tsr_unreachable();
    }
}

/* v truncated toward zero and clamped to [lo, hi]; NaN is 0. */
static double clamp_int(double v, double lo, double hi)
{
    if (v != v)
        return 0;
    v = trunc(v);
    return v < lo ? lo : v > hi ? hi : v;
}

void npy_set(DLDataType dt, void *data, int64_t i, double x)
{
    unsigned char *p = (unsigned char *)data + (size_t)i * (dt.bits / 8u);
    union {
        int8_t i8; int16_t i16; int32_t i32; int64_t i64;
        uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64;
        float f32; double f64;
    } v;
    switch (dt.code) {
    case kDLInt:
        if (dt.bits == 8) v.i8 = (int8_t)clamp_int(x, INT8_MIN, INT8_MAX);
        else if (dt.bits == 16) v.i16 = (int16_t)clamp_int(x, INT16_MIN, INT16_MAX);
        else if (dt.bits == 32) v.i32 = (int32_t)clamp_int(x, INT32_MIN, INT32_MAX);
        else v.i64 = x >= 0x1p63 ? INT64_MAX : (int64_t)clamp_int(x, -0x1p63, 0x1p63);
        break;
    case kDLUInt:
        if (dt.bits == 8) v.u8 = (uint8_t)clamp_int(x, 0, UINT8_MAX);
        else if (dt.bits == 16) v.u16 = (uint16_t)clamp_int(x, 0, UINT16_MAX);
        else if (dt.bits == 32) v.u32 = (uint32_t)clamp_int(x, 0, UINT32_MAX);
        else v.u64 = x >= 0x1p64 ? UINT64_MAX : (uint64_t)clamp_int(x, 0, 0x1p64);
        break;
    case kDLFloat:
        if (dt.bits == 16) v.u16 = f32_to_f16_bits((float)x);
        else if (dt.bits == 32) v.f32 = (float)x;
        else v.f64 = x;
        break;
    case kDLBfloat: v.u16 = f32_to_bf16_bits((float)x); break;
    case NPY_DL_BOOL: v.u8 = x != 0; break;
    case NPY_DL_FLOAT8_E4M3FN: v.u8 = f32_to_fp8_bits((float)x, DT_E4M3); break;
    case NPY_DL_FLOAT8_E5M2: v.u8 = f32_to_fp8_bits((float)x, DT_E5M2); break;
    default: tsr_unreachable();
    }
    memcpy(p, &v, dt.bits / 8u);
}

void npy_free(NpyArray *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}
