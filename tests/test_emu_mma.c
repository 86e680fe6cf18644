/* Tensor-core fragments in the emulator (ops_mma.c) against the PTX ISA's
 * layout tables, written out here from the ISA text: each lane's fragment is
 * built on the host from the matrices, the kernel runs mma.sync / ldmatrix /
 * stmatrix / movmatrix, and the results are mapped back through the tables
 * and compared with the matrix product computed on the host. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "emu/emu_test.h"

/* ---- the ISA's tables (groupID g = lane >> 2, threadID_in_group t = lane % 4) -- */

/* A of m16n8k16 (.f16/.bf16): element i of 8 (register i/2, half i%2) */
static void a_k16(int lane, int i, int *row, int *col)
{
    int g = lane >> 2, t = lane % 4;
    *row = (i < 2 || (i >= 4 && i < 6)) ? g : g + 8;
    *col = t * 2 + (i & 1) + (i >= 4 ? 8 : 0);
}
/* B of m16n8k16: element i of 4 */
static void b_k16(int lane, int i, int *row, int *col)
{
    int g = lane >> 2, t = lane % 4;
    *row = t * 2 + (i & 1) + (i >= 2 ? 8 : 0);
    *col = g;
}
/* A of m16n8k8 (.f16/.bf16): element i of 4 */
static void a_k8(int lane, int i, int *row, int *col)
{
    int g = lane >> 2, t = lane % 4;
    *row = i < 2 ? g : g + 8;
    *col = t * 2 + (i & 1);
}
/* B of m16n8k8 (.f16/.bf16): element i of 2 */
static void b_k8(int lane, int i, int *row, int *col)
{
    *row = (lane % 4) * 2 + (i & 1);
    *col = lane >> 2;
}
/* A of m16n8k8 .tf32: element i of 4 (one per register) */
static void a_tf32(int lane, int i, int *row, int *col)
{
    int g = lane >> 2, t = lane % 4;
    *row = (i == 0 || i == 2) ? g : g + 8;
    *col = i < 2 ? t : t + 4;
}
/* B of m16n8k8 .tf32: element i of 2 */
static void b_tf32(int lane, int i, int *row, int *col)
{
    *row = (lane % 4) + (i ? 4 : 0);
    *col = lane >> 2;
}
/* C and D: element i of 4 */
static void c_layout(int lane, int i, int *row, int *col)
{
    int g = lane >> 2, t = lane % 4;
    *row = i < 2 ? g : g + 8;
    *col = t * 2 + (i & 1);
}

/* ---- element encodings -------------------------------------------------------------- */

static uint16_t f16_of_float(float f)
{
    _Float16 h = (_Float16)f;
    uint16_t v;
    memcpy(&v, &h, 2);
    return v;
}
static float float_of_f16(uint16_t v)
{
    _Float16 h;
    memcpy(&h, &v, 2);
    return (float)h;
}
static uint16_t bf16_of_float(float f) /* inputs here are exact in bf16 */
{
    return (uint16_t)(bits_of_f32(f) >> 16);
}

enum { T_F16, T_BF16, T_TF32 };

typedef struct {
    const char *insn;
    int K, in, acc16; /* inner size, input type, f16 accumulators */
} MmaCase;

static const char *const mma_head =
    ".version 8.0\n.target sm_80\n.address_size 64\n"
    ".visible .entry k(.param .u64 a, .param .u64 b, .param .u64 c, .param .u64 d)\n"
    "{\n"
    "  .reg .b32 %r<16>;\n  .reg .f32 %f<12>;\n  .reg .b64 %rd<16>;\n"
    "  ld.param.u64 %rd1, [a];\n  ld.param.u64 %rd2, [b];\n"
    "  ld.param.u64 %rd3, [c];\n  ld.param.u64 %rd4, [d];\n"
    "  mov.u32 %r0, %laneid;\n"
    "  mul.wide.u32 %rd5, %r0, 16;\n  mul.wide.u32 %rd6, %r0, 8;\n"
    "  add.s64 %rd7, %rd1, %rd5;\n  ld.global.v4.u32 {%r1, %r2, %r3, %r4}, [%rd7];\n"
    "  add.s64 %rd8, %rd2, %rd6;\n  ld.global.v2.u32 {%r5, %r6}, [%rd8];\n"
    "  add.s64 %rd9, %rd3, %rd5;\n  ld.global.v4.f32 {%f1, %f2, %f3, %f4}, [%rd9];\n"
    "  mov.b32 %r7, %f1;\n  mov.b32 %r8, %f2;\n"
    "  add.s64 %rd10, %rd4, %rd5;\n";

static void run_mma(const MmaCase *mc, EtRng *rng, bool integers)
{
    float A[16][16], B[16][8], C[16][8];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float v = integers ? (float)((int)(et_rand(rng) % 9) - 4)
                               : et_randf(rng, -2, 2);
            if (mc->in == T_BF16)
                v = f32_of_bits(bits_of_f32(v) & 0xffff0000u);
            else if (mc->in == T_TF32)
                v = f32_of_bits(bits_of_f32(v) & 0xffffe000u);
            else
                v = float_of_f16(f16_of_float(v));
            A[i][j] = v;
        }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 8; j++) {
            float v = integers ? (float)((int)(et_rand(rng) % 7) - 3) : et_randf(rng, -2, 2);
            if (mc->in == T_BF16)
                v = f32_of_bits(bits_of_f32(v) & 0xffff0000u);
            else if (mc->in == T_TF32)
                v = f32_of_bits(bits_of_f32(v) & 0xffffe000u);
            else
                v = float_of_f16(f16_of_float(v));
            B[i][j] = v;
            float cv = integers ? (float)((int)(et_rand(rng) % 11) - 5) : et_randf(rng, -1, 1);
            C[i][j] = mc->acc16 ? float_of_f16(f16_of_float(cv)) : cv;
        }
    uint32_t afrag[32][4] = {{0}}, bfrag[32][2] = {{0}}, cfrag[32][4] = {{0}}, dfrag[32][4];
    for (int l = 0; l < 32; l++) {
        int r, c;
        if (mc->in == T_TF32) {
            for (int i = 0; i < 4; i++) {
                a_tf32(l, i, &r, &c);
                afrag[l][i] = bits_of_f32(A[r][c]);
            }
            for (int i = 0; i < 2; i++) {
                b_tf32(l, i, &r, &c);
                bfrag[l][i] = bits_of_f32(B[r][c]);
            }
        } else {
            int na = mc->K == 16 ? 8 : 4, nb = mc->K == 16 ? 4 : 2;
            for (int i = 0; i < na; i++) {
                (mc->K == 16 ? a_k16 : a_k8)(l, i, &r, &c);
                uint16_t v = mc->in == T_BF16 ? bf16_of_float(A[r][c]) : f16_of_float(A[r][c]);
                afrag[l][i / 2] |= (uint32_t)v << (16 * (i % 2));
            }
            for (int i = 0; i < nb; i++) {
                (mc->K == 16 ? b_k16 : b_k8)(l, i, &r, &c);
                uint16_t v = mc->in == T_BF16 ? bf16_of_float(B[r][c]) : f16_of_float(B[r][c]);
                bfrag[l][i / 2] |= (uint32_t)v << (16 * (i % 2));
            }
        }
        for (int i = 0; i < 4; i++) {
            c_layout(l, i, &r, &c);
            if (mc->acc16)
                cfrag[l][i / 2] |= (uint32_t)f16_of_float(C[r][c]) << (16 * (i % 2));
            else
                cfrag[l][i] = bits_of_f32(C[r][c]);
        }
    }
    char ptx[4096];
    snprintf(ptx, sizeof ptx, "%s  %s\n%s  ret;\n}\n", mma_head, mc->insn,
             mc->acc16 ? "  st.global.v2.u32 [%rd10], {%r9, %r10};\n"
                       : "  st.global.v4.f32 [%rd10], {%f5, %f6, %f7, %f8};\n");
    EmuModule *m = et_load(ptx);
    void *pa = afrag, *pb = bfrag, *pc = cfrag, *pd = dfrag;
    void *args[] = {&pa, &pb, &pc, &pd};
    EmuRegion regs[] = {{afrag, sizeof afrag, false}, {bfrag, sizeof bfrag, false},
                        {cfrag, sizeof cfrag, false}, {dfrag, sizeof dfrag, true}};
    EtConfig cfg = ET_CONFIG(1, 32);
    cfg.uninit = true;
    et_run(m, "k", args, regs, 4, cfg);
    emu_module_free(m);
    for (int l = 0; l < 32; l++)
        for (int i = 0; i < 4; i++) {
            int r, c;
            c_layout(l, i, &r, &c);
            double want = C[r][c];
            for (int k = 0; k < mc->K; k++)
                want += (double)A[r][k] * B[k][c];
            float got = mc->acc16 ? float_of_f16((uint16_t)(dfrag[l][i / 2] >> (16 * (i % 2))))
                                  : f32_of_bits(dfrag[l][i]);
            double tol = integers ? 0 : mc->acc16 ? fabs(want) * 1e-3 + 1e-3 : fabs(want) * 1e-6 + 1e-6;
            if (!(fabs(got - want) <= tol)) { /* NaN fails */
                print_error("%s: D[%d][%d] (lane %d, element %d) = %g, want %g\n", mc->insn, r,
                            c, l, i, got, want);
                fail();
            }
        }
}

static void test_mma(void **state)
{
    static const MmaCase cases[] = {
        {"mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%f5, %f6, %f7, %f8}, "
         "{%r1, %r2, %r3, %r4}, {%r5, %r6}, {%f1, %f2, %f3, %f4};", 16, T_F16, 0},
        {"mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%f5, %f6, %f7, %f8}, "
         "{%r1, %r2, %r3, %r4}, {%r5, %r6}, {%f1, %f2, %f3, %f4};", 16, T_BF16, 0},
        {"mma.sync.aligned.m16n8k16.row.col.f16.f16.f16.f16 {%r9, %r10}, "
         "{%r1, %r2, %r3, %r4}, {%r5, %r6}, {%r7, %r8};", 16, T_F16, 1},
        {"mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%f5, %f6, %f7, %f8}, "
         "{%r1, %r2}, {%r5}, {%f1, %f2, %f3, %f4};", 8, T_F16, 0},
        {"mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%f5, %f6, %f7, %f8}, "
         "{%r1, %r2}, {%r5}, {%f1, %f2, %f3, %f4};", 8, T_BF16, 0},
        {"mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%f5, %f6, %f7, %f8}, "
         "{%r1, %r2, %r3, %r4}, {%r5, %r6}, {%f1, %f2, %f3, %f4};", 8, T_TF32, 0},
    };
    EtRng rng = {2024};
    for (size_t i = 0; i < TSR_ARRAY_LEN(cases); i++) {
        run_mma(&cases[i], &rng, true);
        run_mma(&cases[i], &rng, false);
    }
}

/* ---- fp8: m16n8k32 with .e4m3/.e5m2 inputs (sm_89) ----------------------------- */

/* A of m16n8k32 (8-bit types): element i of 16 (register i/4, byte i%4) */
static void a_k32_8bit(int lane, int i, int *row, int *col)
{
    int g = lane >> 2, t = lane % 4;
    *row = (i < 4 || (i >= 8 && i < 12)) ? g : g + 8;
    *col = t * 4 + (i & 3) + (i >= 8 ? 16 : 0);
}
/* B of m16n8k32 (8-bit types): element i of 8 */
static void b_k32_8bit(int lane, int i, int *row, int *col)
{
    int g = lane >> 2, t = lane % 4;
    *row = t * 4 + (i & 3) + (i >= 4 ? 16 : 0);
    *col = g;
}

/* The value of an fp8 code, from the format's definition (e4m3: bias 7, no
 * infinities; e5m2: bias 15); NaN codes are not used here. */
static double f8_val(unsigned code, bool e5m2)
{
    int mb = e5m2 ? 2 : 3, bias = e5m2 ? 15 : 7;
    int e = (int)(code >> mb) & (e5m2 ? 31 : 15), m = (int)code & ((1 << mb) - 1);
    double v = e ? ldexp((1 << mb) + m, e - bias - mb) : ldexp(m, 1 - bias - mb);
    return code & 0x80 ? -v : v;
}

/* A random finite code of magnitude below 16 (no NaN, no infinity). */
static unsigned f8_code(EtRng *rng, bool e5m2)
{
    for (;;) {
        unsigned c = (unsigned)(et_rand(rng) & 0xff);
        double v = f8_val(c, e5m2);
        if (fabs(v) < 16 && ((c & 0x7f) >> (e5m2 ? 2 : 3)) != (e5m2 ? 31u : 15u))
            return c;
    }
}

static void run_mma_f8(bool a5, bool b5, EtRng *rng)
{
    unsigned A[16][32], B[32][8];
    float C[16][8];
    for (int i = 0; i < 16; i++)
        for (int k = 0; k < 32; k++)
            A[i][k] = f8_code(rng, a5);
    for (int k = 0; k < 32; k++)
        for (int j = 0; j < 8; j++)
            B[k][j] = f8_code(rng, b5);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 8; j++)
            C[i][j] = et_randf(rng, -1, 1);
    uint32_t afrag[32][4] = {{0}}, bfrag[32][2] = {{0}}, cfrag[32][4] = {{0}}, dfrag[32][4];
    for (int l = 0; l < 32; l++) {
        int r, c;
        for (int i = 0; i < 16; i++) {
            a_k32_8bit(l, i, &r, &c);
            afrag[l][i / 4] |= A[r][c] << (8 * (i % 4));
        }
        for (int i = 0; i < 8; i++) {
            b_k32_8bit(l, i, &r, &c);
            bfrag[l][i / 4] |= B[r][c] << (8 * (i % 4));
        }
        for (int i = 0; i < 4; i++) {
            c_layout(l, i, &r, &c);
            cfrag[l][i] = bits_of_f32(C[r][c]);
        }
    }
    char insn[256], ptx[4096];
    snprintf(insn, sizeof insn,
             "mma.sync.aligned.m16n8k32.row.col.f32.%s.%s.f32 {%%f5, %%f6, %%f7, %%f8}, "
             "{%%r1, %%r2, %%r3, %%r4}, {%%r5, %%r6}, {%%f1, %%f2, %%f3, %%f4};",
             a5 ? "e5m2" : "e4m3", b5 ? "e5m2" : "e4m3");
    snprintf(ptx, sizeof ptx, "%s  %s\n  st.global.v4.f32 [%%rd10], {%%f5, %%f6, %%f7, %%f8};\n  ret;\n}\n",
             mma_head, insn);
    char *p = strstr(ptx, ".version 8.0\n.target sm_80");
    memcpy(p, ".version 8.4\n.target sm_89", strlen(".version 8.4\n.target sm_89"));
    EmuModule *m = et_load(ptx);
    void *pa = afrag, *pb = bfrag, *pc = cfrag, *pd = dfrag;
    void *args[] = {&pa, &pb, &pc, &pd};
    EmuRegion regs[] = {{afrag, sizeof afrag, false}, {bfrag, sizeof bfrag, false},
                        {cfrag, sizeof cfrag, false}, {dfrag, sizeof dfrag, true}};
    EtConfig cfg = ET_CONFIG(1, 32);
    cfg.uninit = true;
    et_run(m, "k", args, regs, 4, cfg);
    emu_module_free(m);
    for (int l = 0; l < 32; l++)
        for (int i = 0; i < 4; i++) {
            int r, c;
            c_layout(l, i, &r, &c);
            double want = C[r][c], mag = fabs(C[r][c]);
            for (int k = 0; k < 32; k++) {
                double x = f8_val(A[r][k], a5) * f8_val(B[k][c], b5);
                want += x;
                mag += fabs(x);
            }
            float got = f32_of_bits(dfrag[l][i]);
            if (!(fabs(got - want) <= mag * 0x1p-23)) {
                print_error("%s: D[%d][%d] (lane %d, element %d) = %.9g, want %.9g\n", insn, r, c, l, i, got, want);
                fail();
            }
        }
}

/* Every pairing of e4m3 and e5m2 (the ISA allows mixed inputs), against
 * the fragment tables above; and the forms the emulator refuses. */
static void test_mma_fp8(void **state)
{
    (void)state;
    EtRng rng = {89};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            for (int rep = 0; rep < 3; rep++)
                run_mma_f8(a, b, &rng);
    static const char *const bad[] = {
        "mma.sync.aligned.m16n8k32.row.col.f16.e4m3.e4m3.f16 {%r9, %r10}, {%r1, %r2, %r3, %r4}, {%r5, %r6}, "
        "{%r7, %r8};",
        "mma.sync.aligned.m16n8k16.row.col.f32.e4m3.e4m3.f32 {%f5, %f6, %f7, %f8}, {%r1, %r2, %r3, %r4}, "
        "{%r5, %r6}, {%f1, %f2, %f3, %f4};",
        "mma.sync.aligned.m16n8k32.row.col.f32.f16.e4m3.f32 {%f5, %f6, %f7, %f8}, {%r1, %r2, %r3, %r4}, "
        "{%r5, %r6}, {%f1, %f2, %f3, %f4};",
    };
    for (size_t i = 0; i < TSR_ARRAY_LEN(bad); i++) {
        char ptx[4096];
        snprintf(ptx, sizeof ptx, "%s  %s\n  ret;\n}\n", mma_head, bad[i]);
        char *msg = et_load_error(ptx);
        if (!strstr(msg, "not supported") && !strstr(msg, "accumulator"))
            fail_msg("%s: %s", bad[i], msg);
        free(msg);
    }
}

/* ---- ldmatrix, stmatrix, movmatrix ------------------------------------------------ */

/* Element (row, col) of matrix j: a value that names it. */
static uint16_t mat_elem(int j, int row, int col) { return (uint16_t)(0x1000 * (j + 1) + 16 * row + col); }

/* The row of matrix j that lane 8j+r gives the address of is stored at slot
 * perm(j, r) of shared memory: rows need not be contiguous or in order. */
static int slot_of(int j, int r) { return j * 8 + (r * 5 + j) % 8; }

static const char *const ldm_ptx_fmt =
    ".version 8.0\n.target sm_80\n.address_size 64\n"
    ".visible .entry k(.param .u64 src, .param .u64 slots, .param .u64 out)\n"
    "{\n"
    "  .reg .b32 %%r<16>;\n  .reg .b64 %%rd<12>;\n"
    "  .shared .align 16 .b8 sm[512];\n"
    "  ld.param.u64 %%rd1, [src];\n  ld.param.u64 %%rd2, [slots];\n  ld.param.u64 %%rd3, [out];\n"
    "  mov.u32 %%r0, %%laneid;\n"
    /* copy the 32 rows (16 bytes each) into shared memory */
    "  mul.wide.u32 %%rd4, %%r0, 16;\n  add.s64 %%rd5, %%rd1, %%rd4;\n"
    "  ld.global.v4.u32 {%%r1, %%r2, %%r3, %%r4}, [%%rd5];\n"
    "  shl.b32 %%r5, %%r0, 4;\n  mov.u32 %%r6, sm;\n  add.s32 %%r7, %%r6, %%r5;\n"
    "  st.shared.v4.u32 [%%r7], {%%r1, %%r2, %%r3, %%r4};\n"
    "  bar.sync 0;\n"
    /* this lane's row address: slot slots[lane] */
    "  mul.wide.u32 %%rd6, %%r0, 4;\n  add.s64 %%rd7, %%rd2, %%rd6;\n"
    "  ld.global.u32 %%r8, [%%rd7];\n  shl.b32 %%r8, %%r8, 4;\n  add.s32 %%r9, %%r6, %%r8;\n"
    "  mov.u32 %%r10, 0;\n  mov.u32 %%r11, 0;\n  mov.u32 %%r12, 0;\n  mov.u32 %%r13, 0;\n"
    "  %s\n"
    "  add.s64 %%rd8, %%rd3, %%rd4;\n"
    "  st.global.v4.u32 [%%rd8], {%%r10, %%r11, %%r12, %%r13};\n"
    "  ret;\n"
    "}\n";

static void run_ldmatrix(int num, bool trans)
{
    uint16_t src[32][8];
    uint32_t slots[32];
    for (int j = 0; j < 4; j++)
        for (int r = 0; r < 8; r++) {
            for (int c = 0; c < 8; c++)
                src[slot_of(j, r)][c] = mat_elem(j, r, c);
            slots[8 * j + r] = (uint32_t)slot_of(j, r);
        }
    static const char *const dsts[] = {"", "{%r10}", "{%r10, %r11}", "", "{%r10, %r11, %r12, %r13}"};
    char insn[160], ptx[4096];
    snprintf(insn, sizeof insn, "ldmatrix.sync.aligned.m8n8.x%d%s.shared.b16 %s, [%%r9];", num,
             trans ? ".trans" : "", dsts[num]);
    snprintf(ptx, sizeof ptx, ldm_ptx_fmt, insn);
    EmuModule *m = et_load(ptx);
    uint32_t out[32][4];
    void *ps = src, *pl = slots, *po = out;
    void *args[] = {&ps, &pl, &po};
    EmuRegion regs[] = {{src, sizeof src, false}, {slots, sizeof slots, false}, {out, sizeof out, true}};
    EtConfig c = ET_CONFIG(1, 32);
    c.races = true;
    et_run(m, "k", args, regs, 3, c);
    emu_module_free(m);
    for (int l = 0; l < 32; l++)
        for (int j = 0; j < num; j++) {
            /* lane l holds row l/4, columns 2(l%4) and 2(l%4)+1 (transposed: of the
               transposed matrix) */
            int r = l / 4, c0 = 2 * (l % 4);
            uint16_t lo = trans ? mat_elem(j, c0, r) : mat_elem(j, r, c0);
            uint16_t hi = trans ? mat_elem(j, c0 + 1, r) : mat_elem(j, r, c0 + 1);
            if (out[l][j] != ((uint32_t)hi << 16 | lo)) {
                print_error("%s: lane %d register %d = 0x%08x, want 0x%04x%04x\n", insn, l, j,
                            out[l][j], hi, lo);
                fail();
            }
        }
}

static void test_ldmatrix(void **state)
{
    for (int trans = 0; trans < 2; trans++) {
        run_ldmatrix(1, trans);
        run_ldmatrix(2, trans);
        run_ldmatrix(4, trans);
    }
}

/* stmatrix writes fragments back; ldmatrix of the result must give them
 * back, and the bytes must be the matrices the fragments describe. */
static const char *const stm_ptx =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .entry k(.param .u64 out, .param .u32 trans)\n"
    "{\n"
    "  .reg .pred %p<2>;\n  .reg .b32 %r<20>;\n  .reg .b64 %rd<8>;\n"
    "  .shared .align 16 .b8 sm[512];\n"
    "  ld.param.u64 %rd1, [out];\n  ld.param.u32 %r14, [trans];\n"
    "  mov.u32 %r0, %laneid;\n"
    /* register j of lane l: 0x1000(j+1) + 16(l/4) + 2(l%4), and +1 in the high half */
    "  shr.u32 %r1, %r0, 2;\n  shl.b32 %r1, %r1, 4;\n  and.b32 %r2, %r0, 3;\n  shl.b32 %r2, %r2, 1;\n"
    "  add.s32 %r3, %r1, %r2;\n  add.s32 %r4, %r3, 1;\n  shl.b32 %r4, %r4, 16;\n  or.b32 %r3, %r3, %r4;\n"
    "  add.s32 %r10, %r3, 0x10001000;\n  add.s32 %r11, %r3, 0x20002000;\n"
    "  add.s32 %r12, %r3, 0x30003000;\n  add.s32 %r13, %r3, 0x40004000;\n"
    "  shl.b32 %r5, %r0, 4;\n  mov.u32 %r6, sm;\n  add.s32 %r7, %r6, %r5;\n"
    "  setp.ne.u32 %p1, %r14, 0;\n"
    "  @!%p1 stmatrix.sync.aligned.m8n8.x4.shared.b16 [%r7], {%r10, %r11, %r12, %r13};\n"
    "  @%p1 stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%r7], {%r10, %r11, %r12, %r13};\n"
    "  bar.sync 0;\n"
    "  ld.shared.v4.u32 {%r15, %r16, %r17, %r18}, [%r7];\n"
    "  mul.wide.u32 %rd2, %r0, 32;\n  add.s64 %rd3, %rd1, %rd2;\n"
    "  st.global.v4.u32 [%rd3], {%r15, %r16, %r17, %r18};\n"
    "  movmatrix.sync.aligned.m8n8.trans.b16 %r19, %r10;\n"
    "  st.global.u32 [%rd3+16], %r19;\n"
    "  ret;\n"
    "}\n";

static void test_stmatrix_movmatrix(void **state)
{
    EmuModule *m = et_load(stm_ptx);
    for (uint32_t trans = 0; trans < 2; trans++) {
        uint32_t out[32][8];
        void *p = out;
        void *args[] = {&p, &trans};
        EmuRegion r = {out, sizeof out, true};
        et_run(m, "k", args, &r, 1, ET_CONFIG(1, 32));
        for (int l = 0; l < 32; l++) {
            /* lane l = 8j + row gave the address of row `row` of matrix j */
            int j = l / 8, row = l % 8;
            uint16_t got[8];
            memcpy(got, out[l], 16);
            for (int c = 0; c < 8; c++) {
                /* the fragments hold element (r, c) = 16 r + c of each matrix (trans:
                   of its transpose) */
                uint16_t want = (uint16_t)(0x1000 * (j + 1) + (trans ? 16 * c + row : 16 * row + c));
                if (got[c] != want) {
                    print_error("stmatrix%s: matrix %d row %d col %d = 0x%04x, want 0x%04x\n",
                                trans ? ".trans" : "", j, row, c, got[c], want);
                    fail();
                }
            }
            /* movmatrix: lane l gets row l/4 of the transposed matrix 0 */
            int r0 = l / 4, c0 = 2 * (l % 4);
            uint32_t want = (uint32_t)(0x1000 + 16 * (c0 + 1) + r0) << 16 | (0x1000 + 16 * c0 + r0);
            assert_int_equal(out[l][4], want);
        }
    }
    emu_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mma),
        cmocka_unit_test(test_mma_fp8),
        cmocka_unit_test(test_ldmatrix),
        cmocka_unit_test(test_stmatrix_movmatrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
