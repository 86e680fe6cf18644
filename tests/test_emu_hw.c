/* The emulator against a real GPU: the cases of tests/emu/hw/cases.txt run
 * on the emulator with the same PTX and inputs that tests/emu/hwrun.sh used
 * on a GPU, and their outputs must agree with the recorded ones (exactly, or
 * within the case's tolerance for tensor-core sums and approximate
 * functions). Cases without a recording are skipped with a message; with no
 * recording at all the test is a skip. EMU_HW_DIR overrides the directory.
 *
 * The TMA cases (tests/emu/conform_tma.cu) are also checked without a GPU:
 * each runs on the emulator and must give what the CUDA driver's
 * documentation of cuTensorMapEncodeTiled and the PTX ISA's tensor copies
 * say, computed here from the case's box, strides and swizzle (not by the
 * emulator's code), so a recording later confirms the rules or the model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "emu/emu_test.h"
#include "emu/hwcase.h"
#include "hopper_gemm.h"

static const char *hw_dir(void)
{
    const char *d = getenv("EMU_HW_DIR");
    return d && *d ? d : "tests/emu/hw";
}

/* The emulator's tensor map of a map param over its buffer. */
static void encode_map(const HwParam *p, const void *global, void *map)
{
    const HwMap *hm = &p->map;
    EmuTensorMapDesc d = {.dtype = hw_map_dtype(p->type), .rank = hm->rank, .global = global,
                          .swizzle = hm->swizzle == 32 ? EMU_TMAP_SWIZZLE_32B
                                   : hm->swizzle == 64 ? EMU_TMAP_SWIZZLE_64B
                                   : hm->swizzle == 128 ? EMU_TMAP_SWIZZLE_128B
                                   : EMU_TMAP_SWIZZLE_NONE,
                          .oob_fill = EMU_TMAP_OOB_ZERO};
    memcpy(d.dims, hm->dims, sizeof d.dims);
    memcpy(d.strides, hm->strides, sizeof d.strides);
    memcpy(d.box, hm->box, sizeof d.box);
    memcpy(d.elem_strides, hm->estrides, sizeof d.elem_strides);
    et_tensor_map(map, &d);
}

/* Runs a case on the emulator: buf[i] receives each buffer param's memory
 * after the launch (the caller frees them). Returns 0, or 1 with the
 * emulator's message printed. */
static int emu_run(const HwCase *c, const char *ptx_text, uint8_t *buf[HW_MAXPARAMS])
{
    EmuModule *m = et_load(ptx_text);
    uint64_t ptr[HW_MAXPARAMS];
    void *args[HW_MAXPARAMS];
    EmuRegion regs[HW_MAXPARAMS];
    _Alignas(64) uint8_t maps[HW_MAXPARAMS][EMU_TENSOR_MAP_BYTES];
    int nregs = 0;
    for (int i = 0; i < c->nparams; i++) {
        const HwParam *p = &c->p[i];
        buf[i] = NULL;
        if (p->kind == 's') {
            args[i] = (void *)p->scalar;
            continue;
        }
        if (p->kind == 'm') {
            args[i] = maps[i];
            continue;
        }
        size_t n = hw_bytes(p);
        buf[i] = aligned_alloc(256, (n + 255) / 256 * 256);
        if (p->kind == 'i')
            hw_fill(p, buf[i]);
        else
            memset(buf[i], 0xcd, n);
        ptr[i] = (uint64_t)(uintptr_t)buf[i];
        args[i] = &ptr[i];
        regs[nregs++] = (EmuRegion){buf[i], n, p->kind == 'o'};
    }
    for (int i = 0; i < c->nparams; i++)
        if (c->p[i].kind == 'm')
            encode_map(&c->p[i], buf[c->p[i].map.buffer], maps[i]);
    EtConfig cfg = {.grid = {c->grid[0], c->grid[1], c->grid[2]},
                    .block = {c->block[0], c->block[1], c->block[2]},
                    .dyn_smem = c->dyn_smem, .races = true, .uninit = true, .host_threads = 2};
    char *msg;
    int bad = 0;
    if (et_launch(m, c->kernel, args, regs, nregs, cfg, &msg, NULL)) {
        print_error("case %s: the emulator failed: %s\n", c->name, msg);
        free(msg);
        bad = 1;
    }
    emu_module_free(m);
    return bad;
}

/* Runs one case on the emulator and compares; returns the mismatches. */
static int run_case(const HwCase *c, FILE *rec, const char *ptx_text)
{
    uint8_t *buf[HW_MAXPARAMS] = {0};
    int bad = emu_run(c, ptx_text, buf);
    for (int i = 0; i < c->nparams && !bad; i++) {
        const HwParam *p = &c->p[i];
        if (p->kind != 'o')
            continue;
        size_t n = hw_bytes(p);
        uint8_t *want = malloc(n);
        if (hw_read_out(rec, i, want, n)) {
            print_error("case %s: no recorded output %d of %zu bytes\n", c->name, i, n);
            bad++;
        } else {
            for (size_t e = 0; e < p->count; e++)
                if (!hw_agree(p, buf[i], want, e) && bad++ < 10) {
                    size_t es = hw_type_size(p->type);
                    uint64_t g = 0, w = 0;
                    memcpy(&g, buf[i] + e * es, es);
                    memcpy(&w, want + e * es, es);
                    print_error("case %s: output %d element %zu (%s): emulator 0x%llx (%g), GPU "
                                "0x%llx (%g)\n", c->name, i, e, p->type, (unsigned long long)g,
                                hw_value(p->type, buf[i] + e * es), (unsigned long long)w,
                                hw_value(p->type, want + e * es));
                }
        }
        free(want);
    }
    for (int i = 0; i < c->nparams; i++)
        free(buf[i]);
    return bad;
}

static void test_recorded_cases(void **state)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/cases.txt", hw_dir());
    FILE *f = fopen(path, "r");
    if (!f) {
        print_error("cannot read %s\n", path);
        fail();
    }
    char line[2048];
    int lineno = 0, recorded = 0, missing = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        HwCase c;
        int k = hw_parse(line, &c);
        if (k < 0) {
            print_error("%s:%d: malformed case\n", path, lineno);
            fail();
        }
        if (k == 0)
            continue;
        char out[1024], ptx[1024];
        snprintf(out, sizeof out, "%s/%s.out", hw_dir(), c.name);
        snprintf(ptx, sizeof ptx, "%s/ptx/%s.ptx", hw_dir(), c.ptx);
        FILE *rec = fopen(out, "r");
        size_t n;
        char *text = rec ? tsr_read_file(ptx, &n) : NULL;
        if (!rec || !text) {
            missing++;
            if (rec)
                fclose(rec);
            continue;
        }
        recorded++;
        if (run_case(&c, rec, text))
            failed++;
        fclose(rec);
        free(text);
    }
    fclose(f);
    if (!recorded) {
        print_message("SKIP: no outputs recorded on a GPU in %s (sh tests/emu/hwprep.sh, then "
                      "the bundle's hwrun.sh on a GPU machine)\n", hw_dir());
        skip();
    }
    if (missing)
        print_message("%d of %d cases have no recording yet\n", missing, missing + recorded);
    if (failed) {
        print_error("%d of %d recorded cases disagree with the emulator\n", failed, recorded);
        fail();
    }
}

/* ---- TMA cases against the documented rules ------------------------------------------ */

/* Where byte `off` of the dense box lands in shared memory, from the tile's
 * 1024-aligned base, under a swizzle of `span` bytes (0: none). The PTX
 * ISA's tensor swizzling modes and the CUDA programming guide's TMA swizzle:
 * shared memory is seen as rows of 128 bytes, and in row r the 16-byte chunk
 * j (0..7) is stored as chunk j ^ (r mod span/16); the pattern repeats
 * every 8, 4 or 2 rows (1024, 512, 256 bytes). */
static size_t tma_shared_offset(size_t off, unsigned span)
{
    if (!span)
        return off;
    size_t row = off / 128, chunk = off % 128 / 16;
    return row * 128 + (chunk ^ row % (span / 16)) * 16 + off % 16;
}

/* The elements of a box per dimension: cuTensorMapEncodeTiled's
 * documentation, ceil(boxDim[i] / elementStrides[i]), where
 * elementStrides[0] is ignored without interleave. */
static unsigned tma_count(const HwMap *m, unsigned d)
{
    unsigned e = d ? m->estrides[d] : 1;
    return (m->box[d] + e - 1) / e;
}

/* Visits each element of the box at coords, dense in shared memory
 * (dimension 0 fastest): its byte offset in the box and in the tensor
 * (SIZE_MAX when outside the tensor: a load reads zero, a store skips it). */
typedef void (*TmaVisit)(void *ctx, size_t box_off, size_t tensor_off);

static size_t tma_each(const HwMap *m, size_t es, const int32_t *coords, TmaVisit fn, void *ctx)
{
    size_t total = 1;
    for (unsigned d = 0; d < m->rank; d++)
        total *= tma_count(m, d);
    for (size_t lin = 0; lin < total; lin++) {
        size_t rest = lin, g = 0;
        bool in = true;
        for (unsigned d = 0; d < m->rank; d++) {
            unsigned n = tma_count(m, d), e = d ? m->estrides[d] : 1;
            int64_t c = coords[d] + (int64_t)(rest % n) * e;
            rest /= n;
            if (c < 0 || (uint64_t)c >= m->dims[d])
                in = false;
            else
                g += (size_t)c * (d ? m->strides[d - 1] : es);
        }
        fn(ctx, lin * es, in ? g : SIZE_MAX);
    }
    return total * es;
}

typedef struct {
    const uint8_t *src; /* the tensor (load), the tile's bytes (store) */
    uint8_t *dst;       /* the tile (load), the tensor (store) */
    size_t es;
    unsigned span;
    bool store;
} TmaRef;

static void tma_ref_elem(void *ctx, size_t box_off, size_t g)
{
    TmaRef *r = ctx;
    size_t s = tma_shared_offset(box_off, r->span);
    for (size_t b = 0; b < r->es; b++) {
        /* the swizzle moves whole 16-byte chunks: an element never straddles two */
        size_t sb = tma_shared_offset(box_off + b, r->span);
        assert_true(sb == s + b);
        if (r->store && g != SIZE_MAX)
            r->dst[g + b] = r->src[sb];
        else if (!r->store)
            r->dst[sb] = g == SIZE_MAX ? 0 : r->src[g + b];
    }
}

/* What a conform_tma kernel must leave in its outputs (the layout of
 * conform_tma.cu's parameters): for tma_load, out = {1 (the phase completed
 * on the box's full byte count), the tile}; for tma_store, the tensor. The
 * inputs come from hw_fill. Returns the expected bytes of param `*which`. */
static uint8_t *tma_expect(const HwCase *c, int *which, size_t *n)
{
    const HwParam *mp = &c->p[0], *tensor = &c->p[1], *io = &c->p[2];
    bool store = !strcmp(c->kernel, "tma_store");
    assert_true(store || !strcmp(c->kernel, "tma_load"));
    assert_true(c->nparams == 10 && mp->kind == 'm' && mp->map.buffer == 1);
    int32_t coords[5];
    for (int d = 0; d < 5; d++)
        memcpy(&coords[d], c->p[3 + d].scalar, 4);
    uint32_t bytes;
    memcpy(&bytes, c->p[8].scalar, 4);
    size_t es = hw_type_size(tensor->type);
    uint8_t *tens = malloc(hw_bytes(tensor)), *tile = malloc(bytes);
    TmaRef r = {.es = es, .span = mp->map.swizzle, .store = store};
    size_t box;
    if (store) {
        memset(tens, 0xcd, hw_bytes(tensor));
        hw_fill(io, tile);
        r.src = tile;
        r.dst = tens;
        box = tma_each(&mp->map, es, coords, tma_ref_elem, &r);
        *which = 1;
        *n = hw_bytes(tensor);
        free(tile);
        assert_int_equal(box, bytes);
        return tens;
    }
    hw_fill(tensor, tens);
    memset(tile, 0xab, bytes);
    r.src = tens;
    r.dst = tile;
    box = tma_each(&mp->map, es, coords, tma_ref_elem, &r);
    assert_int_equal(box, bytes); /* the case's expect_tx is the whole box */
    *which = 2;
    *n = hw_bytes(io);
    assert_int_equal(*n, 4 + bytes);
    uint8_t *out = malloc(*n);
    uint32_t one = 1;
    memcpy(out, &one, 4);
    memcpy(out + 4, tile, bytes);
    free(tile);
    free(tens);
    return out;
}

/* conform_tma's PTX: the one a GPU ran (EMU_HW_DIR/ptx), else nvcc's here;
 * NULL (a skip, the reason in why) without either. */
static char *tma_ptx(char *why, size_t n)
{
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/ptx/conform_tma.sm_90a.ptx", hw_dir());
    char *text = tsr_read_file(path, &len);
    return text ? text : hopper_ptx("conform_tma", false, why, n);
}

static void test_tma_cases(void **state)
{
    (void)state;
    char why[256];
    char *text = tma_ptx(why, sizeof why);
    if (!text) {
        print_message("SKIP: %s, and no recorded conform_tma PTX; the TMA cases are not run on "
                      "the emulator\n", why);
        skip();
    }
    char path[1024], line[2048];
    snprintf(path, sizeof path, "%s/cases.txt", hw_dir());
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int cases = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        HwCase c;
        if (hw_parse(line, &c) != 1 || strcmp(c.ptx, "conform_tma.sm_90a"))
            continue;
        cases++;
        uint8_t *buf[HW_MAXPARAMS] = {0};
        int which, bad = emu_run(&c, text, buf);
        size_t n;
        uint8_t *want = tma_expect(&c, &which, &n);
        for (size_t i = 0; i < n && !bad; i++)
            if (buf[which][i] != want[i] && bad++ < 8)
                print_error("case %s: output %d byte %zu: emulator 0x%02x, expected 0x%02x\n",
                            c.name, which, i, buf[which][i], want[i]);
        failed += bad != 0;
        free(want);
        for (int i = 0; i < c.nparams; i++)
            free(buf[i]);
    }
    fclose(f);
    free(text);
    print_message("%d TMA cases on the emulator, %d disagree with the documented rules\n", cases,
                  failed);
    assert_true(cases >= 19);
    assert_int_equal(failed, 0);
}

/* hwcase.h's tensor map params: the fields, and lines that are refused (a
 * map over no buffer, another type, a buffer too small for what the map
 * spans, lists of the wrong lengths, an unknown swizzle). */
static void test_map_params(void **state)
{
    (void)state;
    static const char head[] = "c conform_tma.sm_90a tma_load 1,1,1 128,1,1 0 ";
    char line[512];
    HwCase c;
    snprintf(line, sizeof line, "%s%s", head,
             "map:1:f16:64:100,30:208:32,8:1,2 in:f16:3120:1 out:u32:4");
    assert_int_equal(hw_parse(line, &c), 1);
    const HwMap *m = &c.p[0].map;
    assert_int_equal(c.p[0].kind, 'm');
    assert_int_equal(hw_map_dtype(c.p[0].type), 6); /* CU_TENSOR_MAP_DATA_TYPE_FLOAT16 */
    assert_true(m->buffer == 1 && m->rank == 2 && m->swizzle == 64);
    assert_true(m->dims[0] == 100 && m->dims[1] == 30 && m->strides[0] == 208);
    assert_true(m->box[0] == 32 && m->box[1] == 8 && m->estrides[0] == 1 && m->estrides[1] == 2);
    snprintf(line, sizeof line, "%s%s", head, "map:1:f16:64:100,30:208:32,8:1,2 in:f16:3116:1");
    assert_int_equal(hw_parse(line, &c), 1); /* exactly what the map spans */
    snprintf(line, sizeof line, "%s%s", head, "map:1:u32:0:100:-:64:1 in:u32:100:1");
    assert_int_equal(hw_parse(line, &c), 1);
    assert_true(c.p[0].map.rank == 1 && c.p[0].map.dims[0] == 100);
    static const char *const bad[] = {
        "map:1:f16:64:100,30:208:32,8:1,2 in:f16:3115:1",   /* one element short */
        "map:1:f16:64:100,30:208:32,8:1,2 in:u32:3120:1",   /* another type */
        "map:2:f16:64:100,30:208:32,8:1,2 in:f16:3120:1",   /* no such param */
        "map:1:f16:64:100,30:208:32,8:1,2 u32:5",           /* not a buffer */
        "map:1:f16:48:100,30:208:32,8:1,2 in:f16:3120:1",   /* swizzle */
        "map:1:f16:64:100,30:-:32,8:1,2 in:f16:3120:1",     /* strides */
        "map:1:f16:64:100,30:208:32:1,2 in:f16:3120:1",     /* box */
        "map:1:f16:64:100,30:208:32,8:1 in:f16:3120:1",     /* traversal strides */
        "map:1:f16:64:100,30:208:32,8 in:f16:3120:1",       /* a field missing */
        "map:1:u16:0:100:-:64:1 in:u32:100:1",              /* a type of no buffer */
        "map:1:u32:0:1,2,3,4,5,6:-:64:1 in:u32:100:1",      /* rank 6 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(line, sizeof line, "%s%s", head, bad[i]);
        if (hw_parse(line, &c) != -1) {
            print_error("accepted: %s\n", bad[i]);
            fail();
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_cases),
        cmocka_unit_test(test_tma_cases),
        cmocka_unit_test(test_map_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
