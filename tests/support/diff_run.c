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

/* Relative tolerance on an element of a result of dtype dt (0 for i32:
 * exact). */
static double tolerance(DType dt)
{
    return dt == DT_BF16 ? 1.6e-2 : dt == DT_F16 ? 2e-3 : dt == DT_F32 ? 2e-5 : 0.0;
}

OutputDiff output_diff(const HostTensor *ref, const HostTensor *dev, double abs_tol, double rel_tol)
{
    OutputDiff d = { 0, 0, 0, -1 };
    for (int64_t j = 0, n = tensor_numel(ref); j < n; j++) {
        bool wr = !tensor_is_poison(ref, j), wd = !tensor_is_poison(dev, j);
        d.unwritten += !wr;
        bool bad;
        if (wr != wd) {
            bad = true;
            d.written_differ++;
        } else if (wr) {
            double x = tensor_get(ref, j), y = tensor_get(dev, j);
            bad = !((isnan(x) && isnan(y)) || x == y || fabs(x - y) <= abs_tol + rel_tol * fabs(x));
            d.values_differ += bad;
        } else {
            bad = false;
        }
        if (bad && d.first < 0)
            d.first = j;
    }
    return d;
}

void diff_run(const Case *c) { diff_run_on(c, NULL, 0); }

void diff_run_on(const Case *c, const char *target, int persistent_blocks)
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
    o.target = target;
    o.persistent_blocks = persistent_blocks;
    if (!emu_run_kernel(f, args[1], n, &o, &err))
        fail_msg("%s emu%s: %s", c->kernel, persistent_blocks ? " (persistent)" : "", err.data);
    sb_free(&err);
    int64_t unwritten = 0;
    for (int i = 0; i < n; i++) {
        const TirParam *p = &f->params.data[i];
        if (!p->is_tensor)
            continue;
        if (p->is_out) {
            const HostTensor *a = &args[0][i].tensor, *b = &args[1][i].tensor;
            double rel = tolerance(p->dt);
            OutputDiff d = output_diff(a, b, rel, rel);
            unwritten += d.unwritten;
            if (d.first >= 0)
                fail_msg("%s (%s): output %s: %lld of %lld elements written by one device only, %lld with values "
                         "that differ; first at %lld: interp %g%s, emu %g%s",
                         c->kernel, c->file, p->name, (long long)d.written_differ, (long long)tensor_numel(a),
                         (long long)d.values_differ, (long long)d.first, tensor_get(a, d.first),
                         tensor_is_poison(a, d.first) ? " (unwritten)" : "", tensor_get(b, d.first),
                         tensor_is_poison(b, d.first) ? " (unwritten)" : "");
            tensor_free(&args[1][i].tensor);
        }
        tensor_free(&args[0][i].tensor);
    }
    if (unwritten != c->unwritten)
        fail_msg("%s (%s): %lld output elements left unwritten on both devices, %lld expected", c->kernel, c->file,
                 (long long)unwritten, (long long)c->unwritten);
    free(args[0]);
    free(args[1]);
    tir_module_free(m);
}

