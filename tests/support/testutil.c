/* Test helpers (see testutil.h). */
#include "testutil.h"

#include "rng.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

void rng_seed(Rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 1; }

uint64_t rng_u64(Rng *r)
{
    SplitMix m = { r->s };
    uint64_t z = splitmix_next(&m);
    r->s = m.s;
    return z;
}

double rng_uniform(Rng *r) { return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

double rng_normal(Rng *r)
{
    double u = rng_uniform(r), v = rng_uniform(r);
    if (u < 1e-300)
        u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

double test_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

long test_env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : dflt;
}

HostTensor tensor_new(DType dt, int rank, const int64_t *shape)
{
    HostTensor t = { 0 };
    t.dt = dt;
    t.rank = rank;
    int64_t n = 1;
    for (int d = rank - 1; d >= 0; d--) {
        t.shape[d] = shape[d];
        t.strides[d] = n;
        n *= shape[d];
    }
    t.data = calloc((size_t)(n ? n : 1), (size_t)dtype_size(dt));
    return t;
}

void tensor_free(HostTensor *t)
{
    free(t->data);
    t->data = NULL;
}

int64_t tensor_numel(const HostTensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++)
        n *= t->shape[d];
    return n;
}

double tensor_get(const HostTensor *t, int64_t i)
{
    switch (t->dt) {
    case DT_F32: return ((const float *)t->data)[i];
    case DT_F16: return f16_bits_to_f32(((const uint16_t *)t->data)[i]);
    case DT_BF16: return bf16_bits_to_f32(((const uint16_t *)t->data)[i]);
    case DT_I32: return ((const int32_t *)t->data)[i];
    case DT_I8: return ((const int8_t *)t->data)[i];
    case DT_U32: return ((const uint32_t *)t->data)[i];
    case DT_I64: return (double)((const int64_t *)t->data)[i];
    case DT_E4M3:
    case DT_E5M2: return fp8_bits_to_f32(((const uint8_t *)t->data)[i], t->dt);
    default: return ((const uint8_t *)t->data)[i];
    }
}

void tensor_set(HostTensor *t, int64_t i, double v)
{
    switch (t->dt) {
    case DT_F32: ((float *)t->data)[i] = (float)v; break;
    case DT_F16: ((uint16_t *)t->data)[i] = f32_to_f16_bits((float)v); break;
    case DT_BF16: ((uint16_t *)t->data)[i] = f32_to_bf16_bits((float)v); break;
    case DT_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
    case DT_BOOL: ((uint8_t *)t->data)[i] = v != 0; break;
    case DT_E4M3:
    case DT_E5M2: ((uint8_t *)t->data)[i] = f32_to_fp8_bits((float)v, t->dt); break;
    default: { /* the other integers: v (an integer in range of i64) wrapped to the dtype */
        int64_t w = int_wrap(v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v, t->dt);
        if (t->dt == DT_I64)
            ((int64_t *)t->data)[i] = w;
        else if (t->dt == DT_U32)
            ((uint32_t *)t->data)[i] = (uint32_t)w;
        else
            ((uint8_t *)t->data)[i] = (uint8_t)w;
        break;
    }
    }
}

void tensor_fill_normal(HostTensor *t, Rng *r, double scale)
{
    for (int64_t i = 0, n = tensor_numel(t); i < n; i++)
        tensor_set(t, i, rng_normal(r) * scale);
}

void tensor_fill_uniform(HostTensor *t, Rng *r, double lo, double hi)
{
    for (int64_t i = 0, n = tensor_numel(t); i < n; i++)
        tensor_set(t, i, dtype_is_int(t->dt) ? floor(lo + rng_uniform(r) * (hi - lo)) : lo + rng_uniform(r) * (hi - lo));
}

/* The poison's bits per dtype: signalling NaNs (quiet bit clear, payload
 * 0x5a) for the floats. */
static uint32_t poison_bits(DType dt)
{
    switch (dt) {
    case DT_F32: return 0x7f805a5au;
    case DT_F16: return 0x7d5au;
    case DT_BF16: return 0x7f9au;
    case DT_I32:
    case DT_U32:
    case DT_I64: return (uint32_t)TSR_POISON_I32; /* i64: in both halves */
    case DT_E4M3:
    case DT_E5M2: return 0xffu; /* a NaN no conversion makes (they make 0x7f) */
    default: return 0xa5u; /* neither true nor false; for i8 and u8 a value like another */
    }
}

static uint32_t element_bits(const HostTensor *t, int64_t i)
{
    switch (dtype_size(t->dt)) {
    case 8: {
        uint64_t v = ((const uint64_t *)t->data)[i];
        return (uint32_t)(v >> 32) == (uint32_t)v ? (uint32_t)v : 0; /* both halves, or no poison */
    }
    case 4: return ((const uint32_t *)t->data)[i];
    case 2: return ((const uint16_t *)t->data)[i];
    default: return ((const uint8_t *)t->data)[i];
    }
}

void tensor_poison(HostTensor *t)
{
    uint32_t bits = poison_bits(t->dt);
    for (int64_t i = 0, n = tensor_numel(t); i < n; i++) {
        switch (dtype_size(t->dt)) {
        case 8: ((uint64_t *)t->data)[i] = (uint64_t)bits << 32 | bits; break;
        case 4: ((uint32_t *)t->data)[i] = bits; break;
        case 2: ((uint16_t *)t->data)[i] = (uint16_t)bits; break;
        default: ((uint8_t *)t->data)[i] = (uint8_t)bits; break;
        }
    }
}

bool tensor_is_poison(const HostTensor *t, int64_t i) { return element_bits(t, i) == poison_bits(t->dt); }

float *tensor_to_float(const HostTensor *t)
{
    int64_t n = tensor_numel(t);
    float *f = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)tensor_get(t, i);
    return f;
}

KernelArg arg_tensor(HostTensor t)
{
    KernelArg a = { 0 };
    a.is_tensor = true;
    a.tensor = t;
    return a;
}

KernelArg arg_scalar(double v)
{
    KernelArg a = { 0 };
    a.scalar = v;
    return a;
}

TirModule *compile_string(const char *name, const char *text, const Define *defs, int ndefs, StrBuf *diags)
{
    Source src = { name, text, strlen(text) };
    Diag diag;
    diag_init(&diag, &src);
    TirModule *m = compile_tir(&src, defs, ndefs, NULL, &diag, NULL);
    if (diags && diag.out.data)
        sb_puts(diags, diag.out.data);
    diag_free(&diag);
    return m;
}

TirModule *compile_file_or_fail(const char *path, const Define *defs, int ndefs)
{
    size_t len;
    char *text = tsr_read_file(path, &len);
    if (!text)
        fail_msg("cannot read %s", path);
    StrBuf diags;
    sb_init(&diags);
    TirModule *m = compile_string(path, text, defs, ndefs, &diags);
    if (!m)
        fail_msg("%s does not compile:\n%s", path, diags.data ? diags.data : "");
    sb_free(&diags);
    free(text);
    return m;
}

TirFunc *module_func(TirModule *m, const char *name)
{
    for (int i = 0; i < m->funcs.len; i++)
        if (!strcmp(m->funcs.data[i]->name, name))
            return m->funcs.data[i];
    fail_msg("no kernel %s", name);
    return NULL;
}
