/* The .npy reader and writer (support/npy.c): every element type written
 * and read back; files laid out by hand as NumPy writes them (versions 1-3,
 * Fortran order, big-endian, bfloat16 as '<V2', Python 2's long integers);
 * and malformed or hostile files, each refused with a message: bad magic and
 * versions, header lengths past the file, broken dicts, missing, unknown and
 * repeated keys, unsupported dtypes, shapes that overflow, data too short or
 * too long, every truncation of a valid file and random byte mutations. */
#define _POSIX_C_SOURCE 200809L
#include "npy.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

/* A .npy image: magic, version major.0, the header length in 2 (v1) or 4
 * bytes, the header text as given (no padding), then the data. */
static unsigned char *make_npy(int major, const char *header, const void *data, size_t dlen, size_t *len)
{
    size_t hl = strlen(header), pre = major == 1 ? 10 : 12;
    *len = pre + hl + dlen;
    unsigned char *b = tsr_xmalloc(*len + 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    for (size_t i = 0; i < pre - 8; i++)
        b[8 + i] = (unsigned char)(hl >> (8 * i));
    memcpy(b + pre, header, hl);
    if (dlen)
        memcpy(b + pre + hl, data, dlen);
    return b;
}

static bool parse(int major, const char *header, const void *data, size_t dlen, NpyArray *a, char *err)
{
    size_t len;
    unsigned char *b = make_npy(major, header, data, dlen, &len);
    bool ok = npy_parse(b, len, a, err, 256);
    free(b);
    return ok;
}

static void round_trip_every_dtype(void **state)
{
    (void)state;
    static const char *const names[] = { "bool", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64",
                                         "f16", "f32", "f64", "bf16" };
    int64_t shapes[3][3] = { { 0 }, { 7 }, { 2, 3, 5 } };
    int ndims[3] = { 0, 1, 3 };
    char path[] = "/tmp/tsr_npy_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    for (size_t t = 0; t < TSR_ARRAY_LEN(names); t++) {
        DLDataType dt;
        assert_true(npy_dtype_parse(names[t], &dt));
        for (int s = 0; s < 3; s++) {
            int64_t n = npy_numel(ndims[s], shapes[s]);
            size_t es = npy_elem_size(dt);
            unsigned char *data = tsr_xmalloc((size_t)n * es);
            for (int64_t i = 0; i < n; i++)
                npy_set(dt, data, i, (double)(i % 5) - (dt.code == kDLUInt ? 0 : 2));
            char err[256];
            assert_true(npy_write_file(path, dt, ndims[s], shapes[s], data, err, sizeof err));
            NpyArray a;
            if (!npy_read_file(path, &a, err, sizeof err))
                fail_msg("%s rank %d: %s", names[t], ndims[s], err);
            assert_int_equal(a.dtype.code, dt.code);
            assert_int_equal(a.dtype.bits, dt.bits);
            assert_int_equal(a.ndim, ndims[s]);
            for (int d = 0; d < a.ndim; d++)
                assert_int_equal(a.shape[d], shapes[s][d]);
            assert_int_equal(a.nbytes, (size_t)n * es);
            assert_memory_equal(a.data, data, a.nbytes);
            npy_free(&a);
            free(data);
        }
    }
    unlink(path);
}

/* The header as NumPy 2 writes it: data at a multiple of 64, '\n' last. */
static void header_layout(void **state)
{
    (void)state;
    char buf[NPY_MAX_WRITE_HEADER];
    int64_t shape[2] = { 3, 4 };
    size_t len = npy_header((DLDataType){ kDLFloat, 32, 1 }, 2, shape, buf);
    assert_int_equal(len, 128); /* 10 + 60 + 1 bytes, rounded up to 64 */
    assert_int_equal(buf[len - 1], '\n');
    const char want[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    assert_memory_equal(buf + 10, want, sizeof want - 1);
    int64_t one[1] = { 5 };
    len = npy_header((DLDataType){ kDLBfloat, 16, 1 }, 1, one, buf);
    assert_non_null(strstr(buf + 10, "'descr': '<V2'"));
    assert_non_null(strstr(buf + 10, "'shape': (5,)"));
    assert_int_equal(npy_header((DLDataType){ kDLFloat, 32, 1 }, 2, shape, buf) % 64, 0);
    assert_int_equal(npy_header((DLDataType){ 5 /* complex */, 64, 1 }, 2, shape, buf), 0);
}

static void versions_and_spellings(void **state)
{
    (void)state;
    float v[6] = { 1, 2, 3, 4, 5, 6 };
    const char *headers[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}\n", /* no trailing comma */
        "{'shape': (2L, 3L), 'fortran_order': False, 'descr': '<f4'}",      /* Python 2, keys reordered */
        "{ 'descr' : '<f4' ,\n 'fortran_order' : False ,\t'shape' : ( 2 , 3 , ) , }",
    };
    for (int major = 1; major <= 3; major++)
        for (size_t h = 0; h < TSR_ARRAY_LEN(headers); h++) {
            NpyArray a;
            char err[256];
            if (!parse(major, headers[h], v, sizeof v, &a, err))
                fail_msg("v%d header %zu: %s", major, h, err);
            assert_int_equal(a.ndim, 2);
            assert_int_equal(a.shape[0], 2);
            assert_int_equal(a.shape[1], 3);
            assert_memory_equal(a.data, v, sizeof v);
            npy_free(&a);
        }
    /* 0-d, and an empty array. */
    NpyArray a;
    char err[256];
    double x = 2.5;
    assert_true(parse(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", &x, 8, &a, err));
    assert_int_equal(a.ndim, 0);
    assert_true(npy_get(a.dtype, a.data, 0) == 2.5);
    npy_free(&a);
    assert_true(parse(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4), }", NULL, 0, &a, err));
    assert_int_equal(a.shape[0], 0);
    assert_null(a.data);
    npy_free(&a);
}

static void fortran_order(void **state)
{
    (void)state;
    /* A 2x3 matrix [[0 1 2] [3 4 5]] stored column by column. */
    int16_t f2[6] = { 0, 3, 1, 4, 2, 5 };
    NpyArray a;
    char err[256];
    assert_true(parse(1, "{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3), }", f2, sizeof f2, &a, err));
    for (int i = 0; i < 6; i++)
        assert_true(npy_get(a.dtype, a.data, i) == i);
    npy_free(&a);
    /* 2x3x4, element (i,j,k) = 100i + 10j + k, Fortran: i fastest. */
    int32_t f3[24];
    for (int k = 0, n = 0; k < 4; k++)
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 2; i++)
                f3[n++] = 100 * i + 10 * j + k;
    assert_true(parse(2, "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }", f3, sizeof f3, &a, err));
    for (int i = 0, n = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++)
                assert_true(npy_get(a.dtype, a.data, n++) == 100 * i + 10 * j + k);
    npy_free(&a);
}

static void big_endian_and_bfloat16(void **state)
{
    (void)state;
    NpyArray a;
    char err[256];
    /* 1.0 and -2.0 as big-endian f8; 258 and -1 as big-endian i4; 1.0 as big-endian f2 (0x3c00). */
    const unsigned char f8[16] = { 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0 };
    assert_true(parse(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", f8, 16, &a, err));
    assert_true(npy_get(a.dtype, a.data, 0) == 1.0 && npy_get(a.dtype, a.data, 1) == -2.0);
    npy_free(&a);
    const unsigned char i4[8] = { 0, 0, 1, 2, 0xff, 0xff, 0xff, 0xff };
    assert_true(parse(3, "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", i4, 8, &a, err));
    assert_true(npy_get(a.dtype, a.data, 0) == 258 && npy_get(a.dtype, a.data, 1) == -1);
    npy_free(&a);
    const unsigned char f2[2] = { 0x3c, 0x00 };
    assert_true(parse(1, "{'descr': '>f2', 'fortran_order': False, 'shape': (1,), }", f2, 2, &a, err));
    assert_true(npy_get(a.dtype, a.data, 0) == 1.0);
    npy_free(&a);
    /* bfloat16 1.5 is 0x3fc0, little-endian bytes c0 3f; bool bytes other than 0/1 read as 1. */
    const unsigned char bf[2] = { 0xc0, 0x3f };
    assert_true(parse(1, "{'descr': '<V2', 'fortran_order': False, 'shape': (1,), }", bf, 2, &a, err));
    assert_int_equal(a.dtype.code, kDLBfloat);
    assert_true(npy_get(a.dtype, a.data, 0) == 1.5);
    npy_free(&a);
    const unsigned char b1[3] = { 0, 1, 7 };
    assert_true(parse(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", b1, 3, &a, err));
    assert_int_equal(((unsigned char *)a.data)[2], 1);
    npy_free(&a);
}

/* Files NumPy 2 wrote (tests/fuzz/npy-seeds, also the fuzzer's seeds): an
 * independent check of the layout, version 2 and 3 headers included. */
static void files_numpy_wrote(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int ndim;
        int64_t shape[3];
        double first, last;
    } cases[] = {
        { "i4_v2.npy", 2, { 2, 3 }, 0, 5 },    { "i4_v3.npy", 2, { 2, 3 }, 0, 5 },
        { "i8_be.npy", 1, { 5 }, 0, 4 },       { "bool.npy", 1, { 3 }, 1, 1 },
        { "i1_scalar.npy", 0, { 0 }, -5, -5 }, { "u8_empty.npy", 2, { 0, 3 }, 0, 0 },
        { "f2_3d.npy", 3, { 2, 2, 3 }, 0, 0 }, { "f8_be_fortran.npy", 2, { 3, 4 }, 0, 0 },
        { "bf16_v2.npy", 1, { 4 }, 0, 0 },
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++) {
        char path[256], err[512];
        snprintf(path, sizeof path, "tests/fuzz/npy-seeds/%s", cases[i].file);
        NpyArray a;
        if (!npy_read_file(path, &a, err, sizeof err))
            fail_msg("%s", err);
        assert_int_equal(a.ndim, cases[i].ndim);
        for (int d = 0; d < a.ndim; d++)
            assert_int_equal(a.shape[d], cases[i].shape[d]);
        int64_t n = npy_numel(a.ndim, a.shape);
        if (n && (cases[i].first || cases[i].last)) {
            assert_true(npy_get(a.dtype, a.data, 0) == cases[i].first);
            assert_true(npy_get(a.dtype, a.data, n - 1) == cases[i].last);
        }
        if (!strcmp(cases[i].file, "bf16_v2.npy")) /* '|V2' holding the raw bits 0, 1, 2, 3 */
            for (int e = 0; e < 4; e++)
                assert_int_equal(((uint16_t *)a.data)[e], e);
        npy_free(&a);
    }
}

static void element_conversions(void **state)
{
    (void)state;
    unsigned char buf[8];
    DLDataType i8 = { kDLInt, 8, 1 }, u16 = { kDLUInt, 16, 1 }, f16 = { kDLFloat, 16, 1 }, i64 = { kDLInt, 64, 1 };
    npy_set(i8, buf, 0, 300);
    assert_true(npy_get(i8, buf, 0) == 127);
    npy_set(i8, buf, 0, -2.7);
    assert_true(npy_get(i8, buf, 0) == -2);
    npy_set(u16, buf, 0, -5);
    assert_true(npy_get(u16, buf, 0) == 0);
    npy_set(u16, buf, 0, 0.0 / 0.0);
    assert_true(npy_get(u16, buf, 0) == 0);
    npy_set(f16, buf, 0, 65504.0);
    assert_true(npy_get(f16, buf, 0) == 65504.0);
    npy_set(i64, buf, 0, 1e30);
    assert_true(npy_get(i64, buf, 0) == 0x1p63);
    DLDataType dt;
    assert_true(npy_dtype_parse("float16", &dt) && dt.code == kDLFloat && dt.bits == 16);
    assert_false(npy_dtype_parse("f128", &dt));
    assert_string_equal(npy_dtype_name((DLDataType){ kDLBfloat, 16, 1 }), "bfloat16");
}

/* Each malformed header must be refused with a message containing `want`. */
static void malformed_headers(void **state)
{
    (void)state;
    static const struct {
        int major;
        const char *header;
        size_t dlen;
        const char *want;
    } cases[] = {
        { 1, "", 0, "expected '{'" },
        { 1, "[]", 0, "expected '{'" },
        { 1, "{'descr': '<f4', 'fortran_order': False}", 0, "'shape' missing" },
        { 1, "{'descr': '<f4', 'shape': (1,)}", 4, "'fortran_order' missing" },
        { 1, "{'fortran_order': False, 'shape': (1,)}", 4, "'descr' missing" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", 4, "unexpected key 'extra'" },
        { 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4, "given twice" },
        { 1, "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,)}", 4, "quoted string" },
        { 1, "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", 8, "unsupported 'descr'" },
        { 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", 8, "unsupported element type" },
        { 1, "{'descr': '<U5', 'fortran_order': False, 'shape': (1,)}", 20, "unsupported element type" },
        { 1, "{'descr': '<f3', 'fortran_order': False, 'shape': (1,)}", 3, "unsupported element type" },
        { 1, "{'descr': '<f', 'fortran_order': False, 'shape': (1,)}", 4, "unsupported 'descr'" },
        { 1, "{'descr': '<f04', 'fortran_order': False, 'shape': (1,)}", 4, "unsupported 'descr'" },
        { 1, "{'descr': '>f8888888888888888888', 'fortran_order': False, 'shape': (1,)}", 4, "unsupported element" },
        { 1, "{'descr': '>f99999999999999999999', 'fortran_order': False, 'shape': (1,)}", 4, "unsupported 'descr'" },
        { 1, "{'descr': '|i4', 'fortran_order': False, 'shape': (1,)}", 4, "no byte order" },
        { 1, "{'descr': '>V2', 'fortran_order': False, 'shape': (1,)}", 2, "unsupported element type" },
        { 1, "{'descr': '<f4\\n', 'fortran_order': False, 'shape': (1,)}", 4, "unexpected character" },
        { 1, "{'descr': '<f4", 0, "unterminated string" },
        { 1, "{'descr': '<f4', 'fortran_order': true, 'shape': (1,)}", 4, "True or False" },
        { 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4, "True or False" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 0, "non-negative integer" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}", 0, "expected ',' or ')'" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", 12, "not a tuple" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': [3]}", 12, "'(' to open" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,", 12, "dimension of 'shape'" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", 0, "too large" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4)}", 0, "overflows" },
        { 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}", 0, "overflows" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", 4, "after the dict" },
        { 1, "{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", 4, "expected ',' or '}'" },
        { 1, "{'descr' '<f4', 'fortran_order': False, 'shape': (1,)}", 4, "':' after a key" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 20, "truncated data" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 28, "extra data" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0,)}", 4, "extra data" },
        { 3, "{'d\xc3\xa9scr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4, "unexpected character" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,),, }", 4, "quoted string" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}}", 4, "after the dict" },
        { 1, "{'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': 1}", 0, "longer than" },
    };
    unsigned char zeros[32] = { 0 };
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++) {
        NpyArray a;
        char err[256] = "";
        if (parse(cases[i].major, cases[i].header, zeros, cases[i].dlen, &a, err))
            fail_msg("case %zu (%s) was accepted", i, cases[i].header);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu (%s): message '%s' lacks '%s'", i, cases[i].header, err, cases[i].want);
        assert_null(a.data);
    }
    /* 33 dimensions. */
    char big[512] = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    for (int d = 0; d < NPY_MAX_DIMS + 1; d++)
        strcat(big, "1,");
    strcat(big, ")}");
    NpyArray a;
    char err[256];
    assert_false(parse(1, big, zeros, 4, &a, err));
    assert_non_null(strstr(err, "more than 32 dimensions"));
}

static void malformed_preambles(void **state)
{
    (void)state;
    NpyArray a;
    char err[256];
    static const unsigned char cases[][12] = {
        { 0x93, 'N', 'U', 'M', 'P', 'X', 1, 0, 0, 0 },      /* magic */
        { 0x93, 'N', 'U', 'M', 'P', 'Y', 4, 0, 0, 0 },      /* version 4.0 */
        { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 1, 0, 0 },      /* version 1.1 */
        { 0x93, 'N', 'U', 'M', 'P', 'Y', 0, 0, 0, 0 },      /* version 0.0 */
        { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0xff }, /* header past the end */
        { 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xff, 0xff, 0xff, 0xff }, /* 4 GiB header */
        { 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0, 0, 0x20, 0 }, /* 2 MiB header, over the cap */
    };
    static const char *const want[] = { "magic", "version 4.0", "version 1.1", "version 0.0", "truncated header",
                                        "at most", "at most" };
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++) {
        assert_false(npy_parse(cases[i], sizeof cases[i], &a, err, sizeof err));
        if (!strstr(err, want[i]))
            fail_msg("case %zu: message '%s' lacks '%s'", i, err, want[i]);
    }
    assert_false(npy_parse("\x93NUMPY\x02", 7, &a, err, sizeof err));
    assert_false(npy_parse("\x93NUMPY\x02\x00\x00\x00", 10, &a, err, sizeof err)); /* v2 preamble is 12 */
    assert_false(npy_parse("", 0, &a, err, sizeof err));
    /* A NUL inside the header. */
    size_t len;
    unsigned char *b = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "abcd", 4, &len);
    b[20] = 0;
    assert_false(npy_parse(b, len, &a, err, sizeof err));
    assert_non_null(strstr(err, "NUL"));
    free(b);
    /* A missing file names the path. */
    assert_false(npy_read_file("/nonexistent/x.npy", &a, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/x.npy"));
}

/* Every prefix of a valid file, and random mutations of it: refused or
 * read, never a crash or a read past the buffer (ASan checks). */
static void truncations_and_mutations(void **state)
{
    (void)state;
    float v[12];
    for (int i = 0; i < 12; i++)
        v[i] = (float)i;
    size_t len;
    unsigned char *good = make_npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }", v, sizeof v, &len);
    NpyArray a;
    char err[256];
    assert_true(npy_parse(good, len, &a, err, sizeof err));
    npy_free(&a);
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *p = tsr_xmalloc(cut + 1); /* exactly cut bytes readable by the parser */
        memcpy(p, good, cut);
        assert_false(npy_parse(p, cut, &a, err, sizeof err));
        assert_true(err[0] != 0);
        free(p);
    }
    uint64_t s = 12345;
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        unsigned char *p = tsr_xmalloc(len);
        memcpy(p, good, len);
        int flips = 1 + (int)(iter % 4);
        for (int f = 0; f < flips; f++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(s >> 33) % len;
            static const char alphabet[] = "{}()',:0123456789 <>|fiuVbTF\n\x00\xff";
            p[at] = (s >> 20) & 1 ? (unsigned char)(s >> 40) : (unsigned char)alphabet[(s >> 24) % (sizeof alphabet - 1)];
        }
        err[0] = 0;
        if (npy_parse(p, len, &a, err, sizeof err)) {
            accepted++;
            assert_int_equal(a.nbytes, (size_t)npy_numel(a.ndim, a.shape) * npy_elem_size(a.dtype));
            npy_free(&a);
        } else {
            assert_true(err[0] != 0);
        }
        free(p);
    }
    assert_true(accepted > 0); /* mutations of the data bytes still read */
    free(good);
}

/* npy_read_file reads regular files only: a FIFO with no writer and a link
 * to /dev/zero are refused at once (both hung; alarm turns a hang into a
 * failure), a directory says so (it said "Input/output error"). */
static void files_that_are_not_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/tsr_npy_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char fifo[64], zero[64], sub[64];
    snprintf(fifo, sizeof fifo, "%s/fifo.npy", dir);
    snprintf(zero, sizeof zero, "%s/zero.npy", dir);
    snprintf(sub, sizeof sub, "%s/dir.npy", dir);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    assert_int_equal(symlink("/dev/zero", zero), 0);
    assert_int_equal(mkdir(sub, 0755), 0);
    const char *const cases[][2] = { { fifo, "is not a regular file" }, { zero, "is not a regular file" },
                                     { sub, "is a directory" }, { "/nonexistent.npy", "No such file" } };
    alarm(60);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        NpyArray a;
        char err[512];
        assert_false(npy_read_file(cases[i][0], &a, err, sizeof err));
        if (!strstr(err, cases[i][1]) || !strstr(err, cases[i][0]))
            fail_msg("%s: %s", cases[i][0], err);
    }
    alarm(0);
    unlink(fifo);
    unlink(zero);
    rmdir(sub);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_every_dtype), cmocka_unit_test(header_layout),
        cmocka_unit_test(versions_and_spellings), cmocka_unit_test(fortran_order),
        cmocka_unit_test(big_endian_and_bfloat16), cmocka_unit_test(files_numpy_wrote),
        cmocka_unit_test(element_conversions),
        cmocka_unit_test(malformed_headers),      cmocka_unit_test(malformed_preambles),
        cmocka_unit_test(truncations_and_mutations), cmocka_unit_test(files_that_are_not_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
