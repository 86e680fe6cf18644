/* Cases whose outputs are recorded on a real GPU (tests/emu/hwrecord.c) and
 * compared with the emulator's (tests/test_emu_hw.c): parsing the case list
 * (tests/emu/hw/cases.txt), generating the inputs deterministically, reading
 * and writing the recorded outputs. Plain C, no dependency: the recorder is
 * built on the GPU machine from this header and hwrecord.c alone.
 *
 * A case is one line:
 *   name  ptx  kernel  gx,gy,gz  bx,by,bz  dyn_smem  param...
 * where ptx names tests/emu/hw/ptx/<ptx>.ptx and each param is one of
 *   in:<type>:<count>:<seed>[:<lo>:<hi>]  a buffer of random values (bits, or
 *                                         uniform in [lo, hi))
 *   in:<type>:<count>:<seed>:special      random bits, half of them replaced by
 *                                         the type's special values (signed
 *                                         zeros, infinities, NaNs, subnormals,
 *                                         extremes, rounding boundaries)
 *   out:<type>:<count>[:<tol>]            a buffer the kernel writes, poisoned
 *                                         with 0xcd first; compared exactly, or
 *                                         within tol * (1 + |recorded|)
 *   i32:<value>, u32:<value>, f32:<value> a scalar
 *   map:<P>:<type>:<swizzle>:<dims>:<strides>:<box>:<estrides>
 *                                         a TMA tensor map (128 bytes, by value:
 *                                         a grid-constant CUtensorMap) of the
 *                                         buffer param P (an in or out of that
 *                                         type), as cuTensorMapEncodeTiled
 *                                         takes it: swizzle 0, 32, 64 or 128
 *                                         (bytes); comma lists, innermost
 *                                         dimension first, of the dims, the
 *                                         byte strides of dims 1.. ("-" for
 *                                         rank 1), the box and the traversal
 *                                         strides; no interleave, L2 promotion
 *                                         128 B, zero fill. On a GPU the
 *                                         recorders encode it with the driver,
 *                                         on the emulator emu_tensor_map_encode
 * Types: u8 u32 i32 u64 f16 bf16 f32 f64. */
#ifndef TSR_HWCASE_H
#define TSR_HWCASE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HW_MAXPARAMS = 16, HW_MAP_BYTES = 128 };

/* A tensor map param (kind 'm'). */
typedef struct {
    int buffer;             /* the param whose memory it describes */
    unsigned rank, swizzle; /* swizzle in bytes: 0, 32, 64, 128 */
    uint64_t dims[5], strides[4];
    uint32_t box[5], estrides[5];
} HwMap;

typedef struct {
    char kind;      /* 'i' input, 'o' output, 's' scalar, 'm' tensor map */
    char type[8];
    size_t count;
    uint64_t seed;
    int ranged, special;
    double lo, hi, tol;
    uint8_t scalar[8];
    size_t scalar_size;
    HwMap map;
} HwParam;

typedef struct {
    char name[64], ptx[96], kernel[96];
    unsigned grid[3], block[3];
    unsigned dyn_smem;
    int nparams;
    HwParam p[HW_MAXPARAMS];
} HwCase;

static inline size_t hw_type_size(const char *t)
{
    if (!strcmp(t, "u8"))
        return 1;
    if (!strcmp(t, "f16") || !strcmp(t, "bf16"))
        return 2;
    if (!strcmp(t, "u32") || !strcmp(t, "i32") || !strcmp(t, "f32"))
        return 4;
    if (!strcmp(t, "u64") || !strcmp(t, "f64"))
        return 8;
    return 0;
}

static inline size_t hw_bytes(const HwParam *p) { return p->count * hw_type_size(p->type); }

static inline int hw_dims(const char *s, unsigned d[3])
{
    d[0] = d[1] = d[2] = 1;
    return sscanf(s, "%u,%u,%u", &d[0], &d[1], &d[2]) >= 1 && d[0] && d[1] && d[2] ? 0 : -1;
}

/* CUtensorMapDataType of a type name (-1: none). */
static inline int hw_map_dtype(const char *t)
{
    static const char *const names[] = {"u8", "", "u32", "i32", "u64", "", "f16", "f32", "f64", "bf16"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (*names[i] && !strcmp(t, names[i]))
            return i;
    return -1;
}

/* Reads up to 5 comma-separated numbers ("-": none); returns the count or -1. */
static inline int hw_list(const char *s, uint64_t *v)
{
    if (!strcmp(s, "-"))
        return 0;
    int n = 0;
    for (;;) {
        char *end;
        if (n == 5 || *s < '0' || *s > '9')
            return -1;
        v[n++] = strtoull(s, &end, 10);
        if (!*end)
            return n;
        if (*end != ',')
            return -1;
        s = end + 1;
    }
}

/* map:<P>:<type>:<swizzle>:<dims>:<strides>:<box>:<estrides> (f[1..7]) */
static inline int hw_map_param(char **f, int n, HwParam *p)
{
    HwMap *m = &p->map;
    uint64_t v[4][5];
    int k[4];
    if (n != 8 || hw_map_dtype(f[2]) < 0)
        return -1;
    p->kind = 'm';
    snprintf(p->type, sizeof p->type, "%s", f[2]);
    m->buffer = atoi(f[1]);
    m->swizzle = (unsigned)atoi(f[3]);
    for (int i = 0; i < 4; i++)
        k[i] = hw_list(f[4 + i], v[i]);
    m->rank = (unsigned)k[0];
    if (k[0] < 1 || k[1] != k[0] - 1 || k[2] != k[0] || k[3] != k[0] ||
        (m->swizzle && m->swizzle != 32 && m->swizzle != 64 && m->swizzle != 128))
        return -1;
    for (unsigned d = 0; d < m->rank; d++) {
        m->dims[d] = v[0][d];
        m->box[d] = (uint32_t)v[2][d];
        m->estrides[d] = (uint32_t)v[3][d];
        if (d)
            m->strides[d - 1] = v[1][d - 1];
    }
    return 0;
}

/* Parses one param token; returns 0 or -1. */
static inline int hw_param(const char *tok, HwParam *p)
{
    char buf[160];
    memset(p, 0, sizeof *p);
    snprintf(buf, sizeof buf, "%s", tok);
    char *f[9];
    int n = 0;
    for (char *s = strtok(buf, ":"); s && n < 9; s = strtok(NULL, ":"))
        f[n++] = s;
    if (n < 2)
        return -1;
    if (!strcmp(f[0], "map"))
        return hw_map_param(f, n, p);
    if (!strcmp(f[0], "in") || !strcmp(f[0], "out")) {
        p->kind = f[0][0];
        snprintf(p->type, sizeof p->type, "%s", f[1]);
        if (!hw_type_size(p->type) || n < 3)
            return -1;
        p->count = strtoull(f[2], NULL, 0);
        if (!p->count || p->count > (1u << 24))
            return -1;
        if (p->kind == 'i') {
            if (n < 4)
                return -1;
            p->seed = strtoull(f[3], NULL, 0);
            if (n == 5 && !strcmp(f[4], "special"))
                p->special = 1;
            else if (n == 5)
                return -1;
            if (n >= 6) {
                p->ranged = 1;
                p->lo = atof(f[4]);
                p->hi = atof(f[5]);
            }
        } else if (n >= 4) {
            p->tol = atof(f[3]);
        }
        return 0;
    }
    p->kind = 's';
    snprintf(p->type, sizeof p->type, "%s", f[0]);
    if (!strcmp(f[0], "i32") || !strcmp(f[0], "u32")) {
        uint32_t v = (uint32_t)strtoll(f[1], NULL, 0);
        memcpy(p->scalar, &v, 4);
        p->scalar_size = 4;
    } else if (!strcmp(f[0], "f32")) {
        float v = (float)atof(f[1]);
        memcpy(p->scalar, &v, 4);
        p->scalar_size = 4;
    } else {
        return -1;
    }
    return 0;
}

/* Parses a case line; returns 1 for a case, 0 for a blank or comment line,
 * -1 for an error. */
static inline int hw_parse(const char *line, HwCase *c)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", line);
    char *hash = strchr(buf, '#');
    if (hash)
        *hash = 0;
    char *tok[4 + 2 + HW_MAXPARAMS + 1];
    int n = 0;
    for (char *s = strtok(buf, " \t\r\n"); s && n < (int)(sizeof tok / sizeof tok[0]); s = strtok(NULL, " \t\r\n"))
        tok[n++] = s;
    if (n == 0)
        return 0;
    if (n < 6)
        return -1;
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", tok[0]);
    snprintf(c->ptx, sizeof c->ptx, "%s", tok[1]);
    snprintf(c->kernel, sizeof c->kernel, "%s", tok[2]);
    if (hw_dims(tok[3], c->grid) || hw_dims(tok[4], c->block))
        return -1;
    c->dyn_smem = (unsigned)strtoul(tok[5], NULL, 0);
    for (int i = 6; i < n; i++) {
        if (c->nparams >= HW_MAXPARAMS || hw_param(tok[i], &c->p[c->nparams]))
            return -1;
        c->nparams++;
    }
    /* a map names a buffer of its type that holds every element it spans */
    for (int i = 0; i < c->nparams; i++) {
        const HwMap *m = &c->p[i].map;
        if (c->p[i].kind != 'm')
            continue;
        if (m->buffer < 0 || m->buffer >= c->nparams)
            return -1;
        const HwParam *b = &c->p[m->buffer];
        if ((b->kind != 'i' && b->kind != 'o') || strcmp(b->type, c->p[i].type))
            return -1;
        uint64_t last = (m->dims[0] - 1) * hw_type_size(b->type);
        for (unsigned d = 1; d < m->rank; d++)
            last += (m->dims[d] - 1) * m->strides[d - 1];
        if (!m->dims[0] || last + hw_type_size(b->type) > hw_bytes(b))
            return -1;
    }
    return 1;
}

static inline uint64_t hw_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint16_t hw_f16(float f) /* round to nearest even */
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffff;
    if (ax > 0x7f800000)
        return 0x7fff;
    if (ax >= 0x477ff000)
        return (uint16_t)(sign | 0x7c00);
    if (ax >= 0x38800000)
        return (uint16_t)(sign | ((ax + 0xfff + ((ax >> 13) & 1) - 0x38000000) >> 13));
    float m;
    memcpy(&m, &ax, 4);
    return (uint16_t)(sign | (uint32_t)nearbyintf(m * 16777216.0f));
}

/* Writes special value number k (any k) of a float type to dst; returns 0,
 * or -1 for a type without special values. */
static inline int hw_special(const char *type, uint64_t k, uint8_t *dst)
{
    static const uint32_t f32[] = {
        0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001,
        0x7fffffff, 0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00800000, 0x80800000,
        0x7f7fffff, 0xff7fffff, 0x3f800000, 0xbf800000, 0x3f000000, 0x3fc00000, 0xc0200000,
        0x4b000000, 0x4b000001, 0x3effffff, 0x477fe000, 0x477ff000, 0x477fefff, 0x33800000,
        0x33000000, 0x33000001, 0x38800000, 0x387fc000, 0x4f000000, 0xcf000000, 0x5f000000,
        0x3f800001, 0x3f7fffff, 0x7f000000, 0x0d000000, 0x00400000};
    static const uint64_t f64[] = {
        0x0000000000000000ull, 0x8000000000000000ull, 0x7ff0000000000000ull,
        0xfff0000000000000ull, 0x7ff8000000000000ull, 0x7ff0000000000001ull,
        0x0000000000000001ull, 0x8000000000000001ull, 0x000fffffffffffffull,
        0x0010000000000000ull, 0x7fefffffffffffffull, 0xffefffffffffffffull,
        0x3ff0000000000000ull, 0xbff0000000000000ull, 0x3fe0000000000000ull,
        0x47efffffe0000000ull, 0x47effffff0000000ull, 0x36a0000000000000ull,
        0x3690000000000000ull, 0x3690000000000001ull, 0x3ff0000010000000ull,
        0x3ff0000030000000ull, 0x43e0000000000000ull, 0xc3e0000000000000ull,
        0x41e0000000000000ull, 0x3fefffffffffffffull, 0x4330000000000001ull};
    static const uint16_t f16[] = {0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0x0001,
                                   0x8001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x3c00, 0xbc00,
                                   0x3bff, 0x3c01, 0x0200};
    static const uint16_t bf16[] = {0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x7f81, 0x0001,
                                    0x8001, 0x007f, 0x0080, 0x7f7f, 0xff7f, 0x3f80, 0xbf80,
                                    0x3f7f, 0x3f81};
    if (!strcmp(type, "f32"))
        memcpy(dst, &f32[k % (sizeof f32 / sizeof f32[0])], 4);
    else if (!strcmp(type, "f64"))
        memcpy(dst, &f64[k % (sizeof f64 / sizeof f64[0])], 8);
    else if (!strcmp(type, "f16"))
        memcpy(dst, &f16[k % (sizeof f16 / sizeof f16[0])], 2);
    else if (!strcmp(type, "bf16"))
        memcpy(dst, &bf16[k % (sizeof bf16 / sizeof bf16[0])], 2);
    else
        return -1;
    return 0;
}

/* Fills an input buffer. */
static inline void hw_fill(const HwParam *p, void *out)
{
    uint64_t s = p->seed * 0x100000001b3ull + 12345;
    size_t es = hw_type_size(p->type);
    for (size_t i = 0; i < p->count; i++) {
        uint64_t r = hw_rand(&s);
        double u = (double)(r >> 11) * 0x1p-53;
        double v = p->lo + (p->hi - p->lo) * u;
        uint8_t *dst = (uint8_t *)out + i * es;
        if (p->special && (hw_rand(&s) & 1) && hw_special(p->type, r, dst) == 0)
            continue;
        if (!p->ranged) {
            memcpy(dst, &r, es);
            continue;
        }
        if (!strcmp(p->type, "f32")) {
            float f = (float)v;
            memcpy(dst, &f, 4);
        } else if (!strcmp(p->type, "f64")) {
            memcpy(dst, &v, 8);
        } else if (!strcmp(p->type, "f16")) {
            uint16_t h = hw_f16((float)v);
            memcpy(dst, &h, 2);
        } else if (!strcmp(p->type, "bf16")) {
            float f = (float)v;
            uint32_t b;
            memcpy(&b, &f, 4);
            uint16_t h = (uint16_t)(b >> 16); /* truncation: exact in bf16 */
            memcpy(dst, &h, 2);
        } else {
            int64_t iv = (int64_t)floor(v);
            memcpy(dst, &iv, es);
        }
    }
}

/* Recorded outputs: for each output param, "out <index> <bytes>" and the
 * bytes in hex, 32 per line. */
static inline void hw_write_out(FILE *f, int index, const uint8_t *data, size_t n)
{
    fprintf(f, "out %d %zu\n", index, n);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x%s", data[i], (i % 32 == 31 || i + 1 == n) ? "\n" : "");
}

/* Reads the recorded bytes of output `index` into data (n bytes); returns 0,
 * or -1 when they are missing or of another size. */
static inline int hw_read_out(FILE *f, int index, uint8_t *data, size_t n)
{
    char line[256];
    rewind(f);
    while (fgets(line, sizeof line, f)) {
        int idx;
        size_t len;
        if (sscanf(line, "out %d %zu", &idx, &len) != 2 || idx != index)
            continue;
        if (len != n)
            return -1;
        size_t got = 0;
        while (got < n && fgets(line, sizeof line, f))
            for (char *c = line; c[0] && c[1] && got < n; c += 2) {
                unsigned b;
                if (sscanf(c, "%2x", &b) != 1)
                    break;
                data[got++] = (uint8_t)b;
            }
        return got == n ? 0 : -1;
    }
    return -1;
}

static inline double hw_value(const char *type, const uint8_t *p)
{
    if (!strcmp(type, "f32")) {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    if (!strcmp(type, "f64")) {
        double d;
        memcpy(&d, p, 8);
        return d;
    }
    if (!strcmp(type, "f16") || !strcmp(type, "bf16")) {
        uint16_t h;
        memcpy(&h, p, 2);
        if (!strcmp(type, "bf16")) {
            uint32_t b = (uint32_t)h << 16;
            float f;
            memcpy(&f, &b, 4);
            return f;
        }
        int e = (h >> 10) & 31, m = h & 1023;
        double v = e == 31 ? (m ? NAN : INFINITY) : e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
        return (h & 0x8000) ? -v : v;
    }
    return 0;
}

/* Element i of two output buffers agrees under the param's rule. */
static inline int hw_agree(const HwParam *p, const uint8_t *got, const uint8_t *want, size_t i)
{
    size_t es = hw_type_size(p->type);
    const uint8_t *g = got + i * es, *w = want + i * es;
    int fl = !strcmp(p->type, "f32") || !strcmp(p->type, "f64") || !strcmp(p->type, "f16") ||
             !strcmp(p->type, "bf16");
    if (!fl || p->tol == 0) /* exact, NaN payloads included */
        return memcmp(g, w, es) == 0;
    double a = hw_value(p->type, g), b = hw_value(p->type, w);
    if (a != a || b != b)
        return a != a && b != b;
    return fabs(a - b) <= p->tol * (1 + fabs(b)) || a == b;
}

#endif
