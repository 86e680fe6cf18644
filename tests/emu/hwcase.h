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
 *   out:<type>:<count>[:<tol>]            a buffer the kernel writes, poisoned
 *                                         with 0xcd first; compared exactly, or
 *                                         within tol * (1 + |recorded|)
 *   i32:<value>, u32:<value>, f32:<value> a scalar
 * Types: u8 u32 i32 u64 f16 bf16 f32 f64. */
#ifndef TSR_HWCASE_H
#define TSR_HWCASE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HW_MAXPARAMS = 16 };

typedef struct {
    char kind;      /* 'i' input, 'o' output, 's' scalar */
    char type[8];
    size_t count;
    uint64_t seed;
    int ranged;
    double lo, hi, tol;
    uint8_t scalar[8];
    size_t scalar_size;
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

/* Parses one param token; returns 0 or -1. */
static inline int hw_param(const char *tok, HwParam *p)
{
    char buf[128];
    memset(p, 0, sizeof *p);
    snprintf(buf, sizeof buf, "%s", tok);
    char *f[8];
    int n = 0;
    for (char *s = strtok(buf, ":"); s && n < 8; s = strtok(NULL, ":"))
        f[n++] = s;
    if (n < 2)
        return -1;
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
