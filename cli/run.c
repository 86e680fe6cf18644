/* `tessera run`: launches a kernel on a device with arguments made from the
 * command line (run_args.c), reports its outputs (how many elements were
 * never written: outputs start as a poison pattern), compares them with a
 * second device (--compare) or a reference kernel (--reference), times it
 * as tessera-bench does (--reps), and saves every tensor as .npy (--save).
 *
 * Exit status: 0 success; 1 the kernel does not compile, fails at launch
 * (emu's out-of-bounds and race reports included) or a comparison fails;
 * 2 bad usage, a bad argument spec, I/O, or a missing device. */
#define _POSIX_C_SOURCE 200809L
#include "run.h"

#include "bench.h"
#include "npy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A kernel compiled and launched on one device, with its results. */
typedef struct {
    const char *label;    /* "emu", "interp", "cuda", "reference" */
    tsr_context *ctx;
    tsr_module *mod;
    tsr_kernel *k;
    const char *file;     /* the source compiled */
    RunArg *args;         /* the kernel's arguments (host) */
    int nargs;
    void **dev;           /* device buffer of each tensor argument */
    void **result;        /* host copy of each output after the launch */
} Run;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tessera run FILE.tsr [-D NAME=VALUE]... [--kernel K] [--device auto|cuda|emu|interp]\n"
            "                   [--target T] --arg NAME=SPEC... [--dim NAME=N]... [--save DIR] [--reps N]\n"
            "                   [--warmup N] [--seed S] [--compare DEVICE] [--reference FILE.tsr[:KERNEL]]\n"
            "                   [--atol X] [--rtol X] [--no-emu-checks] [--emu-max-insns N] [--persistent] [--quiet]\n"
            "SPEC: randn|rand|zeros|ones|arange[:DTYPE][[d0,d1,...]], a .npy file, or a number (scalars)\n");
}

static const char *kind_name(tsr_device_kind k)
{
    return k == TSR_DEVICE_CUDA ? "cuda" : k == TSR_DEVICE_EMU ? "emu" : k == TSR_DEVICE_INTERP ? "interp" : "auto";
}

static tsr_device_kind parse_kind(const char *s)
{
    return !strcmp(s, "cuda") ? TSR_DEVICE_CUDA : !strcmp(s, "emu") ? TSR_DEVICE_EMU
                                                : !strcmp(s, "interp") ? TSR_DEVICE_INTERP
                                                                       : TSR_DEVICE_AUTO;
}

/* ------------------------------------------------------- devices */

static int open_device(const RunOptions *o, const char *device, tsr_context **ctx)
{
    tsr_context_options co;
    tsr_context_options_init(&co);
    co.device = parse_kind(device);
    if (o->emu_checks)
        co.flags = TSR_EMU_CHECK_RACES | TSR_EMU_CHECK_UNINIT; /* ignored by the other devices */
    co.emu_max_warp_insns = o->emu_max_insns;
    if (tsr_context_create(&co, ctx) != TSR_OK) {
        fprintf(stderr, "tessera run: device %s: %s\n", device, *ctx ? tsr_context_error(*ctx) : "out of memory");
        return 2;
    }
    return 0;
}

/* Prints the library's compile errors in the command line's words: the -D
 * values reach it as the C API's defines, which its messages call "define
 * NAME" and "a tsr_define named NAME" (frontend/sema.c). */
static void print_compile_errors(const char *msg)
{
    static const char api_missing[] = "(give a tsr_define named ", api_unused[] = ": error: define ";
    while (*msg) {
        if (!strncmp(msg, api_missing, sizeof api_missing - 1)) {
            msg += sizeof api_missing - 1;
            size_t name = strcspn(msg, ")\n");
            fprintf(stderr, "(give -D %.*s=...", (int)name, msg);
            msg += name;
        } else if (!strncmp(msg, api_unused, sizeof api_unused - 1)) {
            fputs(": error: -D ", stderr);
            msg += sizeof api_unused - 1;
        } else {
            fputc(*msg++, stderr);
        }
    }
}

/* Compiles file (for the reference: FILE.tsr[:KERNEL]) and picks the kernel. */
static int compile(const RunOptions *o, Run *r, const char *file, const char *kernel)
{
    tsr_define defs[RUN_MAX_ITEMS];
    for (int i = 0; i < o->ndefines; i++)
        defs[i] = (tsr_define){ o->defines[i].name, o->defines[i].value };
    tsr_compile_options co;
    tsr_compile_options_init(&co);
    co.target = o->target;
    co.defines = defs;
    co.ndefines = o->ndefines;
    co.kernel = kernel;
    /* On emu, with source lines in the PTX, so that fault reports name them. */
    if (!strcmp(tsr_context_device_name(r->ctx), "emu"))
        co.flags = TSR_COMPILE_LINE_INFO;
    if (o->persistent)
        co.flags |= TSR_COMPILE_PERSISTENT;
    r->file = file;
    tsr_status s = tsr_module_compile_file(r->ctx, file, &co, &r->mod);
    if (s != TSR_OK) {
        print_compile_errors(tsr_context_error(r->ctx));
        if (s != TSR_ERR_COMPILE)
            fputc('\n', stderr);
        return s == TSR_ERR_COMPILE ? 1 : 2;
    }
    if (!kernel && tsr_module_kernel_count(r->mod) > 1) {
        fprintf(stderr, "tessera run: %s has %d kernels; choose one with %s:", file, tsr_module_kernel_count(r->mod),
                r->label && !strcmp(r->label, "reference") ? "--reference FILE.tsr:KERNEL" : "--kernel");
        for (int i = 0; i < tsr_module_kernel_count(r->mod); i++)
            fprintf(stderr, " %s", tsr_module_kernel_name(r->mod, i));
        fputc('\n', stderr);
        return 2;
    }
    if (tsr_module_get_kernel(r->mod, kernel, &r->k) != TSR_OK) {
        fprintf(stderr, "tessera run: %s\n", tsr_module_error(r->mod));
        return 2;
    }
    return 0;
}

/* The source line a fault report names (", source line N"), printed as a
 * compiler prints a position. */
static void show_source_line(const Run *r, const char *msg)
{
    const char *at = strstr(msg, ", source line ");
    int line = at ? atoi(at + 14) : 0;
    size_t len;
    char *text = line > 0 && r->file ? tsr_read_file(r->file, &len) : NULL;
    if (!text)
        return;
    const char *p = text;
    for (int n = 1; n < line && *p; n++)
        p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n');
    if (*p)
        fprintf(stderr, "%s:%d: the source line of the faulting instruction:\n    %.*s\n", r->file, line,
                (int)strcspn(p, "\n"), p);
    free(text);
}

static bool is_tensor_out(const RunArg *a) { return a->info.is_tensor && a->info.is_output; }

/* Copies the arguments to the device and binds them. */
static int bind(Run *r)
{
    r->dev = calloc((size_t)r->nargs + 1, sizeof(void *));
    r->result = calloc((size_t)r->nargs + 1, sizeof(void *));
    if (!r->dev || !r->result)
        return fprintf(stderr, "tessera run: out of memory\n"), 2;
    for (int i = 0; i < r->nargs; i++) {
        RunArg *a = &r->args[i];
        tsr_status s;
        if (!a->info.is_tensor) {
            s = tsr_kernel_set_scalar(r->k, i, a->scalar);
        } else {
            /* (16 bytes at least: an empty tensor still needs a non-NULL pointer) */
            size_t bytes = a->nbytes < 16 ? 16 : a->nbytes;
            s = tsr_malloc(r->ctx, bytes, &r->dev[i]);
            if (s == TSR_OK)
                s = tsr_memcpy(r->ctx, r->dev[i], a->data, a->nbytes, TSR_COPY_HOST_TO_DEVICE, NULL);
            if (s != TSR_OK)
                return fprintf(stderr, "tessera run: %s: %s\n", r->label, tsr_context_error(r->ctx)), 2;
            DLTensor t = { r->dev[i], tsr_context_dl_device(r->ctx), a->ndim, a->info.dtype, a->shape, NULL, 0 };
            s = tsr_kernel_set_tensor(r->k, i, &t);
        }
        if (s != TSR_OK)
            return fprintf(stderr, "tessera run: %s: %s\n", r->label, tsr_kernel_error(r->k)), 2;
    }
    return 0;
}

static int launch(Run *r)
{
    tsr_status s = tsr_kernel_launch(r->k, NULL);
    if (s == TSR_OK && tsr_stream_synchronize(r->ctx, NULL) != TSR_OK) {
        fprintf(stderr, "tessera run: %s: %s\n", r->label, tsr_context_error(r->ctx));
        return 1;
    }
    if (s != TSR_OK) {
        fprintf(stderr, "tessera run: %s: %s: %s\n", r->label, tsr_status_name(s), tsr_kernel_error(r->k));
        show_source_line(r, tsr_kernel_error(r->k));
        return 1;
    }
    return 0;
}

static int fetch_results(Run *r)
{
    for (int i = 0; i < r->nargs; i++) {
        RunArg *a = &r->args[i];
        if (!is_tensor_out(a))
            continue;
        r->result[i] = malloc(a->nbytes ? a->nbytes : 1);
        if (!r->result[i])
            return fprintf(stderr, "tessera run: out of memory\n"), 2;
        if (tsr_memcpy(r->ctx, r->result[i], r->dev[i], a->nbytes, TSR_COPY_DEVICE_TO_HOST, NULL) != TSR_OK)
            return fprintf(stderr, "tessera run: %s: %s\n", r->label, tsr_context_error(r->ctx)), 2;
    }
    return 0;
}

/* Opens the device, compiles, makes the arguments, launches once. */
static int run_once(const RunOptions *o, Run *r, const char *device, const char *file, const char *kernel,
                    bool all_args_known)
{
    int rc = open_device(o, device, &r->ctx);
    if (!r->label && r->ctx)
        r->label = kind_name(tsr_context_device_kind(r->ctx));
    if (!rc)
        rc = compile(o, r, file, kernel);
    if (!rc && !run_make_args(o, r->k, all_args_known, &r->args, &r->nargs))
        rc = 2;
    if (!rc)
        rc = bind(r);
    if (!rc)
        rc = launch(r);
    if (!rc)
        rc = fetch_results(r);
    return rc;
}

static void run_free(Run *r)
{
    for (int i = 0; i < r->nargs; i++) {
        if (r->dev)
            tsr_free(r->ctx, r->dev[i]);
        if (r->result)
            free(r->result[i]);
    }
    free(r->dev);
    free(r->result);
    run_free_args(r->args, r->nargs);
    tsr_module_destroy(r->mod);
    r->mod = NULL;
    tsr_context_destroy(r->ctx);
}

/* ------------------------------------------------------- reports */

static void shape_text(const RunArg *a, char *buf, size_t n)
{
    int len = snprintf(buf, n, "%s[", npy_dtype_short(a->info.dtype));
    for (int d = 0; d < a->ndim && (size_t)len < n; d++)
        len += snprintf(buf + len, n - (size_t)len, "%s%lld", d ? ", " : "", (long long)a->shape[d]);
    if ((size_t)len < n)
        snprintf(buf + len, n - (size_t)len, "]");
}

static int64_t count_unwritten(const RunArg *a, const void *data)
{
    int64_t n = 0, count = run_numel(a);
    for (int64_t i = 0; i < count; i++)
        n += run_is_poison(a->info.dtype, data, i);
    return n;
}

/* One line per argument: what it is and, for outputs, what was written. */
static void report(const Run *r, bool quiet, bool persistent)
{
    int64_t grid[3] = { 0, 0, 0 };
    tsr_kernel_grid(r->k, grid);
    printf("%s on %s: grid %lld x %lld x %lld", tsr_kernel_name(r->k), tsr_context_device_name(r->ctx),
           (long long)grid[0], (long long)grid[1], (long long)grid[2]);
    int64_t blocks[3] = { 0, 0, 0 };
    if (persistent && tsr_kernel_launch_grid(r->k, blocks) == TSR_OK)
        printf(", persistent on %lld blocks", (long long)blocks[0]);
    putchar('\n');
    for (int i = 0; i < r->nargs; i++) {
        const RunArg *a = &r->args[i];
        char shape[128];
        if (!a->info.is_tensor) {
            printf("  %-8s %s = %g\n", a->info.name, npy_dtype_short(a->info.dtype), a->scalar);
            continue;
        }
        shape_text(a, shape, sizeof shape);
        printf("  %-8s %-4s %-20s", a->info.name, a->info.is_output ? "out" : "in", shape);
        if (!is_tensor_out(a)) {
            printf(" %s\n", a->spec);
            continue;
        }
        const void *data = r->result[i];
        int64_t n = run_numel(a), unwritten = count_unwritten(a, data), nans = 0;
        double lo = INFINITY, hi = -INFINITY, sum = 0;
        for (int64_t e = 0; e < n; e++) {
            if (run_is_poison(a->info.dtype, data, e))
                continue;
            double v = npy_get(a->info.dtype, data, e);
            if (v != v) {
                nans++;
                continue;
            }
            lo = fmin(lo, v);
            hi = fmax(hi, v);
            sum += v;
        }
        printf(" written %lld of %lld", (long long)(n - unwritten), (long long)n);
        int64_t finite = n - unwritten - nans;
        if (!quiet && finite > 0)
            printf("; min %.6g max %.6g mean %.6g", lo, hi, sum / (double)finite);
        if (nans)
            printf("; %lld NaN", (long long)nans);
        printf("\n");
    }
}

static void default_tolerance(DLDataType dt, double *atol, double *rtol)
{
    if (dt.code == kDLFloat && dt.bits == 32)
        *atol = 1e-5, *rtol = 1e-4;
    else if (dt.code == kDLFloat && dt.bits == 16)
        *atol = 1e-3, *rtol = 1e-2;
    else if (dt.code == kDLBfloat)
        *atol = 1e-2, *rtol = 2e-2;
    else
        *atol = 0, *rtol = 0;
}

/* Compares the outputs of b with those of a (the one checked against),
 * matched by name. Returns the number of outputs that differ. */
static int compare(const RunOptions *o, const Run *a, const Run *b)
{
    printf("compare %s with %s:\n", b->label, a->label);
    int failed = 0, compared = 0;
    for (int i = 0; i < a->nargs; i++) {
        const RunArg *x = &a->args[i];
        int j = tsr_kernel_param_index(b->k, x->info.name);
        if (!is_tensor_out(x) || j < 0 || !is_tensor_out(&b->args[j]))
            continue;
        const RunArg *y = &b->args[j];
        if (x->ndim != y->ndim || memcmp(x->shape, y->shape, sizeof(int64_t) * (size_t)x->ndim) ||
            x->info.dtype.code != y->info.dtype.code || x->info.dtype.bits != y->info.dtype.bits) {
            printf("  %s: shapes or dtypes differ\n", x->info.name);
            failed++;
            continue;
        }
        compared++;
        double atol, rtol;
        default_tolerance(x->info.dtype, &atol, &rtol);
        atol = o->atol >= 0 ? o->atol : atol;
        rtol = o->rtol >= 0 ? o->rtol : rtol;
        int64_t n = run_numel(x), bad = 0, unwritten_a = 0, unwritten_b = 0, first_bad = -1;
        double max_abs = 0, max_rel = 0;
        for (int64_t e = 0; e < n; e++) {
            bool pa = run_is_poison(x->info.dtype, a->result[i], e), pb = run_is_poison(y->info.dtype, b->result[j], e);
            unwritten_a += pa;
            unwritten_b += pb;
            double va = npy_get(x->info.dtype, a->result[i], e), vb = npy_get(y->info.dtype, b->result[j], e);
            bool same = pa == pb && (pa || (va != va && vb != vb) || va == vb);
            double diff = same ? 0 : fabs(va - vb);
            if (!same && !pa && !pb && diff == diff) {
                max_abs = fmax(max_abs, diff);
                if (va != 0)
                    max_rel = fmax(max_rel, diff / fabs(va));
            }
            if (!same && !(diff <= atol + rtol * fabs(va))) {
                if (first_bad < 0)
                    first_bad = e;
                bad++;
            }
        }
        printf("  %-8s max abs diff %.3g, max rel diff %.3g; %lld of %lld elements differ (beyond %g + %g * |%s|); "
               "never written: %lld on %s, %lld on %s\n",
               x->info.name, max_abs, max_rel, (long long)bad, (long long)n, atol, rtol, a->label,
               (long long)unwritten_a, a->label, (long long)unwritten_b, b->label);
        if (bad) {
            printf("           first at flat index %lld: %s %.8g, %s %.8g\n", (long long)first_bad, a->label,
                   npy_get(x->info.dtype, a->result[i], first_bad), b->label,
                   npy_get(y->info.dtype, b->result[j], first_bad));
            failed++;
        }
    }
    if (!compared && !failed) {
        printf("  no output of the same name to compare\n");
        failed++;
    }
    printf("%s\n", failed ? "MISMATCH" : "match");
    return failed;
}

/* ------------------------------------------------------- timing */

/* As tessera-bench: warm-up launches, then reps launches each between two
 * events; on cuda the L2 cache is flushed before each (a memset of a
 * buffer larger than any L2). Times on emu and interp are CPU times. */
static int time_run(const RunOptions *o, Run *r)
{
    bool cuda = tsr_context_device_kind(r->ctx) == TSR_DEVICE_CUDA;
    int warmup = o->warmup >= 0 ? o->warmup : cuda ? 3 : 0;
    size_t flush_bytes = (size_t)256 << 20;
    void *flush = NULL;
    tsr_event *ev[2] = { NULL, NULL };
    double *times = calloc((size_t)o->reps, sizeof *times);
    tsr_status s = times ? TSR_OK : TSR_ERR_OUT_OF_MEMORY;
    if (s == TSR_OK && cuda)
        s = tsr_malloc(r->ctx, flush_bytes, &flush);
    if (s == TSR_OK)
        s = tsr_event_create(r->ctx, &ev[0]);
    if (s == TSR_OK)
        s = tsr_event_create(r->ctx, &ev[1]);
    for (int i = 0; i < warmup && s == TSR_OK; i++)
        s = tsr_kernel_launch(r->k, NULL);
    for (int i = 0; i < o->reps && s == TSR_OK; i++) {
        float ms = 0;
        if (flush)
            s = tsr_memset(r->ctx, flush, i & 0xff, flush_bytes, NULL);
        if (s == TSR_OK)
            s = tsr_event_record(ev[0], NULL);
        if (s == TSR_OK)
            s = tsr_kernel_launch(r->k, NULL);
        if (s == TSR_OK)
            s = tsr_event_record(ev[1], NULL);
        if (s == TSR_OK)
            s = tsr_event_elapsed_ms(ev[0], ev[1], &ms);
        times[i] = ms;
    }
    if (s == TSR_OK) {
        TimeStats st = bench_time_stats(times, o->reps);
        printf("time of %s on %s: median %.4g ms [%.4g .. %.4g] over %d runs after %d warm-up (%s)\n",
               tsr_kernel_name(r->k), r->label, st.median, st.min, st.max, o->reps, warmup,
               cuda ? "GPU time, L2 flushed before each" : "CPU time");
    } else {
        fprintf(stderr, "tessera run: timing on %s: %s %s\n", r->label, tsr_context_error(r->ctx),
                tsr_kernel_error(r->k));
    }
    tsr_event_destroy(ev[0]);
    tsr_event_destroy(ev[1]);
    tsr_free(r->ctx, flush);
    free(times);
    return s == TSR_OK ? 0 : 1;
}

/* ------------------------------------------------------- saving */

/* Saves the inputs (as made) and outputs of r into dir as NAME.npy, the
 * outputs as NAME.SUFFIX.npy when suffix is given. */
static int save(const char *dir, const Run *r, const char *suffix)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "tessera run: cannot create '%s': %s\n", dir, strerror(errno));
        return 2;
    }
    for (int i = 0; i < r->nargs; i++) {
        const RunArg *a = &r->args[i];
        if (!a->info.is_tensor || (suffix && !a->info.is_output))
            continue;
        char path[4096], err[512];
        snprintf(path, sizeof path, "%s/%s%s%s.npy", dir, a->info.name, suffix ? "." : "", suffix ? suffix : "");
        const void *data = is_tensor_out(a) ? r->result[i] : a->data;
        if (!npy_write_file(path, a->info.dtype, a->ndim, a->shape, data, err, sizeof err)) {
            fprintf(stderr, "tessera run: %s\n", err);
            return 2;
        }
        printf("saved %s\n", path);
    }
    return 0;
}

/* ------------------------------------------------------- main */

/* FILE.tsr[:KERNEL] */
static void split_reference(const char *spec, char *file, size_t n, const char **kernel)
{
    const char *colon = strrchr(spec, ':');
    *kernel = NULL;
    if (colon && colon > spec && colon[1] && !strchr(colon, '/')) {
        snprintf(file, n, "%.*s", (int)(colon - spec), spec);
        *kernel = colon + 1;
    } else {
        snprintf(file, n, "%s", spec);
    }
}

static int worst(int a, int b) { return a > b ? a : b; }

int tsr_cli_run(int argc, char **argv)
{
    if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        usage(stdout);
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* reports and notes on stderr interleave in order */
    RunOptions o;
    if (!run_parse_options(argc, argv, &o)) {
        usage(stderr);
        run_free_options(&o);
        return 2;
    }
    Run main_run = { .label = NULL }, other = { .label = NULL }, ref = { .label = "reference" };
    int rc = run_once(&o, &main_run, o.device, o.file, o.kernel, true);
    bool ran = rc == 0; /* the others are compared with this run's results */
    if (ran)
        report(&main_run, o.quiet, o.persistent);
    if (ran && o.save_dir)
        rc = save(o.save_dir, &main_run, NULL);
    if (ran && rc != 2 && o.reference) {
        char ref_file[4096];
        const char *ref_kernel;
        split_reference(o.reference, ref_file, sizeof ref_file, &ref_kernel);
        int r = run_once(&o, &ref, o.device, ref_file, ref_kernel, false);
        if (!r && o.save_dir)
            r = save(o.save_dir, &ref, "reference");
        if (!r && compare(&o, &main_run, &ref))
            r = 1;
        rc = worst(rc, r);
    }
    if (ran && rc != 2 && o.compare) {
        int c = run_once(&o, &other, o.compare, o.file, o.kernel, true);
        if (!c && o.save_dir)
            c = save(o.save_dir, &other, other.label);
        if (!c && compare(&o, &main_run, &other))
            c = 1;
        rc = worst(rc, c);
    }
    if (!rc && o.reps > 0) {
        rc = time_run(&o, &main_run);
        if (!rc && o.reference)
            rc = time_run(&o, &ref);
    }
    run_free(&main_run);
    run_free(&other);
    run_free(&ref);
    run_free_options(&o);
    return rc;
}
