/* The differential runner (see diff_run.h). */
#include "diff_run.h"
#include "emu_run.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static int64_t sym_value(const Case *c, const char *name)
{
    for (int i = 0; i < c->nsyms; i++)
        if (!strcmp(c->syms[i].name, name))
            return c->syms[i].value;
    fail_msg("no value for dimension %s", name);
    return 0;
}

/* Tolerance on one element of a result of dtype dt. */
static double tolerance(DType dt, double ref)
{
    double rel = dt == DT_BF16 ? 1.6e-2 : dt == DT_F16 ? 2e-3 : dt == DT_F32 ? 2e-5 : 0.0;
    return rel * (1.0 + fabs(ref));
}

void diff_run(const Case *c)
{
    TirModule *m = compile_file_or_fail(c->file, c->defs, c->ndefs);
    TirFunc *f = module_func(m, c->kernel);
    int n = f->params.len;
    KernelArg *args[2] = { calloc((size_t)n, sizeof(KernelArg)), calloc((size_t)n, sizeof(KernelArg)) };
    Rng rng;
    rng_seed(&rng, 99);
    for (int i = 0; i < n; i++) {
        const TirParam *p = &f->params.data[i];
        if (!p->is_tensor) {
            args[0][i] = args[1][i] = arg_scalar(c->scalar);
            continue;
        }
        int64_t shape[TIR_MAX_RANK];
        for (int d = 0; d < p->rank; d++)
            shape[d] = p->dim_sym[d] == TIR_NONE ? p->dim_const[d] : sym_value(c, f->syms.data[p->dim_sym[d]].name);
        HostTensor t = tensor_new(p->dt, p->rank, shape);
        if (p->is_out) {
            tensor_poison(&t);
            args[0][i] = arg_tensor(t);
            HostTensor u = tensor_new(p->dt, p->rank, shape);
            tensor_poison(&u);
            args[1][i] = arg_tensor(u);
        } else {
            if (p->dt == DT_I32)
                tensor_fill_uniform(&t, &rng, -100, 100);
            else
                tensor_fill_normal(&t, &rng, 1.0);
            args[0][i] = args[1][i] = arg_tensor(t);
        }
    }
    StrBuf err;
    sb_init(&err);
    if (!interp_launch(f, args[0], n, 0, &err))
        fail_msg("%s interp: %s", c->kernel, err.data);
    EmuRunOptions o = { 0 };
    o.check_races = o.check_uninit = true;
    o.host_threads = 2;
    if (!emu_run_kernel(f, args[1], n, &o, &err))
        fail_msg("%s emu: %s", c->kernel, err.data);
    sb_free(&err);
    for (int i = 0; i < n; i++) {
        const TirParam *p = &f->params.data[i];
        if (!p->is_tensor)
            continue;
        if (p->is_out) {
            const HostTensor *a = &args[0][i].tensor, *b = &args[1][i].tensor;
            int64_t bad = 0, first = -1;
            for (int64_t j = 0; j < tensor_numel(a); j++) {
                double x = tensor_get(a, j), y = tensor_get(b, j);
                bool same = (isnan(x) && isnan(y)) || fabs(x - y) <= tolerance(p->dt, x) || x == y;
                if (!same && bad++ == 0)
                    first = j;
            }
            if (bad)
                fail_msg("%s (%s): output %s differs at %lld of %lld elements; first at %lld: interp %g, emu %g",
                         c->kernel, c->file, p->name, (long long)bad, (long long)tensor_numel(a), (long long)first,
                         tensor_get(a, first), tensor_get(b, first));
            tensor_free(&args[1][i].tensor);
        }
        tensor_free(&args[0][i].tensor);
    }
    free(args[0]);
    free(args[1]);
    tir_module_free(m);
}

