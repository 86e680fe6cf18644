/* Embedding Tessera: compile a kernel written in the DSL at run time, run it
 * on the best device there is (the GPU when there is one, else the PTX
 * emulator), and check the result. Build it against an installed Tessera:
 *
 *   cc -std=c11 embed.c $(pkg-config --cflags --libs tessera) -o embed
 *
 * It needs no file but itself: the kernel is a string. */
#include <tessera.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Softmax of each row of an M x N matrix, for rows of up to BN elements. */
static const char source[] =
    "kernel softmax_rows<BN: int = 128>(X: f32[M, N], Y: out f32[M, N])\n"
    "  grid (M) warps 4\n"
    "{\n"
    "    let r = program_id(0);\n"
    "    let x = where(arange<BN>(0) < N, X[r, 0 : +BN], -inf);\n"
    "    let e = exp(x - reduce_max(x));\n"
    "    Y[r, 0 : +BN] = e / reduce_sum(e);\n"
    "}\n";

#define CHECK(call, handle_error)                                                                  \
    do {                                                                                           \
        tsr_status s_ = (call);                                                                    \
        if (s_ != TSR_OK) {                                                                        \
            fprintf(stderr, "%s failed: %s\n%s\n", #call, tsr_status_name(s_), handle_error);      \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(void)
{
    enum { M = 37, N = 100 };
    printf("tessera %s\n", tsr_version());

    tsr_context *ctx;
    CHECK(tsr_context_create(NULL, &ctx), tsr_context_error(ctx)); /* TSR_DEVICE_AUTO */
    printf("device: %s\n", tsr_context_device_name(ctx));

    tsr_module *mod;
    tsr_define defs[] = { { "BN", "128" } };
    tsr_compile_options co = { .defines = defs, .ndefines = 1, .source_name = "softmax_rows.tsr" };
    CHECK(tsr_module_compile(ctx, source, strlen(source), &co, &mod), tsr_context_error(ctx));
    tsr_kernel *k;
    CHECK(tsr_module_get_kernel(mod, "softmax_rows", &k), tsr_module_error(mod));

    /* Inputs on the host, copied to the device's memory. */
    static float x[M * N], y[M * N];
    for (int i = 0; i < M * N; i++)
        x[i] = (float)((i * 37 % 101) - 50) / 10.0f;
    void *dx, *dy;
    CHECK(tsr_malloc(ctx, sizeof x, &dx), tsr_context_error(ctx));
    CHECK(tsr_malloc(ctx, sizeof y, &dy), tsr_context_error(ctx));
    CHECK(tsr_memcpy(ctx, dx, x, sizeof x, TSR_COPY_HOST_TO_DEVICE, NULL), tsr_context_error(ctx));

    /* Tensors are DLPack descriptions of that memory. */
    int64_t shape[2] = { M, N };
    DLTensor tx = { .data = dx, .device = tsr_context_dl_device(ctx), .ndim = 2,
                    .dtype = { kDLFloat, 32, 1 }, .shape = shape };
    DLTensor ty = tx;
    ty.data = dy;
    CHECK(tsr_kernel_set_tensor_by_name(k, "X", &tx), tsr_kernel_error(k));
    CHECK(tsr_kernel_set_tensor_by_name(k, "Y", &ty), tsr_kernel_error(k));
    CHECK(tsr_kernel_launch(k, NULL), tsr_kernel_error(k)); /* the default stream */
    CHECK(tsr_stream_synchronize(ctx, NULL), tsr_context_error(ctx));
    CHECK(tsr_memcpy(ctx, y, dy, sizeof y, TSR_COPY_DEVICE_TO_HOST, NULL), tsr_context_error(ctx));

    /* The same in plain C. */
    double worst = 0;
    for (int r = 0; r < M; r++) {
        double mx = -INFINITY, sum = 0;
        for (int c = 0; c < N; c++)
            mx = fmax(mx, x[r * N + c]);
        for (int c = 0; c < N; c++)
            sum += exp(x[r * N + c] - mx);
        for (int c = 0; c < N; c++)
            worst = fmax(worst, fabs(y[r * N + c] - exp(x[r * N + c] - mx) / sum));
    }
    printf("softmax of %d rows of %d: max error %.3g\n", M, N, worst);

    tsr_context_destroy(ctx); /* frees the buffers and what the module holds */
    tsr_module_destroy(mod);  /* every handle made is destroyed, before or after its context */
    if (!(worst < 1e-5)) {
        printf("FAILED\n");
        return 1;
    }
    printf("ok\n");
    return 0;
}
