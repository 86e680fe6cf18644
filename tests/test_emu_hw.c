/* The emulator against a real GPU: the cases of tests/emu/hw/cases.txt run
 * on the emulator with the same PTX and inputs that tests/emu/hwrun.sh used
 * on a GPU, and their outputs must agree with the recorded ones (exactly, or
 * within the case's tolerance for tensor-core sums and approximate
 * functions). Cases without a recording are skipped with a message; with no
 * recording at all the test is a skip. EMU_HW_DIR overrides the directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "emu/emu_test.h"
#include "emu/hwcase.h"

static const char *hw_dir(void)
{
    const char *d = getenv("EMU_HW_DIR");
    return d && *d ? d : "tests/emu/hw";
}

/* Runs one case on the emulator and compares; returns the mismatches. */
static int run_case(const HwCase *c, FILE *rec, const char *ptx_text)
{
    EmuModule *m = et_load(ptx_text);
    uint8_t *buf[HW_MAXPARAMS] = {0};
    uint64_t ptr[HW_MAXPARAMS];
    void *args[HW_MAXPARAMS];
    EmuRegion regs[HW_MAXPARAMS];
    int nregs = 0;
    for (int i = 0; i < c->nparams; i++) {
        const HwParam *p = &c->p[i];
        if (p->kind == 's') {
            args[i] = (void *)p->scalar;
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
    emu_module_free(m);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
