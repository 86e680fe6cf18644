/* The TIR pass pipelines. The target-independent one is the list below; the
 * code-generation one is the target's (Target.codegen_passes, see
 * backend/target.c). The verifier runs after each pass; with a dump buffer,
 * the IR after each pass is recorded too (`--dump-passes`).
 *
 * A test hook: the environment variable TSR_SKIP_PASSES, a comma-separated
 * list of pass names or `all`, leaves out those of the optimizations (fold,
 * cse, dce, fuse, loopsplit, pipeline), so differential tests (tests/diffgen) can run
 * programs with the optimizations on and off. The passes that lower (layout,
 * smem) always run. Not for users: the runtime's JIT cache does not know of
 * it. */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

static const Pass pipeline[] = {
    { "fold", tir_pass_fold },
    { "cse", tir_pass_cse },
    { "fold", tir_pass_fold },
    { "dce", tir_pass_dce },
    { NULL, NULL },
};

static void verify_or_die(TirFunc *f, const char *after)
{
    StrBuf why;
    sb_init(&why);
    if (!tir_verify(f, &why))
        tsr_die("%s (after %s)", why.data, after);
    sb_free(&why);
}

static bool listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *s = list; *s;) {
        size_t n = strcspn(s, ",");
        if (n == len && !strncmp(s, name, n))
            return true;
        s += n + (s[n] == ',');
    }
    return false;
}

/* Whether TSR_SKIP_PASSES leaves this pass out (see the top of the file). */
static bool skipped(const Pass *p)
{
    const char *skip = getenv("TSR_SKIP_PASSES");
    return skip && listed("fold,cse,dce,fuse,loopsplit,pipeline", p->name) && (listed(skip, "all") || listed(skip, p->name));
}

static void run(TirFunc *f, const Pass *passes, const Target *t, StrBuf *dump)
{
    for (const Pass *p = passes; p->name; p++) {
        if (skipped(p))
            continue;
        p->run(f, t);
        if (f->layout_too_big)
            return; /* the driver reports it; the rest would work on a truncated layout */
        verify_or_die(f, p->name);
        if (dump) {
            sb_printf(dump, "// ----- after %s\n", p->name);
            tir_print(dump, f);
        }
    }
}

void tir_run_passes(TirFunc *f, StrBuf *dump)
{
    verify_or_die(f, "sema");
    run(f, pipeline, NULL, dump);
}

void tir_run_codegen_passes(TirFunc *f, const Target *t, StrBuf *dump)
{
    if (f->laid_out)
        return;
    run(f, t->codegen_passes, t, dump);
    f->laid_out = true;
}
