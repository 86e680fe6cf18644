/* The tessera command line: compile a .tsr file and print any stage.
 *
 *   tessera compile FILE.tsr [-D NAME=VALUE]... [--kernel NAME] [--target NAME]
 *                   [--emit tokens|ast|tir|layout|llvm|ptx] [--dump-passes] [--line-info]
 *                   [--no-warp-specialize] [--no-overlap] [--no-pingpong] [--persistent] [-o FILE]
 *   tessera run FILE.tsr ...   (run.c: launch a kernel with arguments made from specs)
 *
 * Exit status: 0 success, 1 errors in the program, 2 bad usage or I/O. */
#include "ast.h"
#include "codegen.h"
#include "compile.h"
#include "readfile.h"
#include "run.h"
#include "tessera.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    char targets[128];
    target_names(targets, sizeof targets, "|", "|");
    fprintf(f,
            "usage: tessera compile FILE.tsr [-D NAME=VALUE]... [--kernel NAME] [--target %s]\n"
            "                      [--emit tokens|ast|tir|layout|llvm|ptx] [--dump-passes] [--line-info]\n"
            "                      [--no-warp-specialize] [--no-overlap] [--no-pingpong] [--persistent] [-o FILE]\n"
            "       tessera run FILE.tsr --arg NAME=SPEC... [options]   (tessera run --help)\n"
            "       tessera --version\n"
            "The default target is %s.\n",
            targets, target_default()->name);
}

typedef struct {
    const char *file, *out, *emit, *kernel, *target;
    Define defs[64];
    int ndefs;
    bool dump_passes;
    bool line_info; /* .file/.loc in the PTX (--line-info) */
    bool no_warp_specialize; /* --no-warp-specialize */
    bool no_overlap;         /* --no-overlap */
    bool no_pingpong;        /* --no-pingpong */
    bool persistent;         /* --persistent */
} Options;

static int parse_args(int argc, char **argv, Options *o)
{
    memset(o, 0, sizeof *o);
    o->emit = "tir";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (!strcmp(a, "-D") || !strcmp(a, "-o") || !strcmp(a, "--emit") || !strcmp(a, "--kernel") ||
            !strcmp(a, "--target")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tessera: %s needs a value\n", a);
                return 2;
            }
            val = argv[++i];
        } else if (!strncmp(a, "-D", 2)) {
            val = a + 2;
            a = "-D";
        } else if (!strncmp(a, "--emit=", 7)) {
            val = a + 7;
            a = "--emit";
        }
        if (!strcmp(a, "-D")) {
            const char *eq = strchr(val, '=');
            if (!eq || eq == val) {
                fprintf(stderr, "tessera: -D needs NAME=VALUE, found '%s'\n", val);
                return 2;
            }
            if (o->ndefs == (int)TSR_ARRAY_LEN(o->defs)) {
                fprintf(stderr, "tessera: too many -D options\n");
                return 2;
            }
            o->defs[o->ndefs].name = strndup(val, (size_t)(eq - val));
            o->defs[o->ndefs].value = eq + 1;
            o->ndefs++;
        } else if (!strcmp(a, "-o")) {
            o->out = val;
        } else if (!strcmp(a, "--emit")) {
            o->emit = val;
        } else if (!strcmp(a, "--kernel")) {
            o->kernel = val;
        } else if (!strcmp(a, "--target")) {
            o->target = val;
        } else if (!strcmp(a, "--dump-passes")) {
            o->dump_passes = true;
        } else if (!strcmp(a, "--line-info")) {
            o->line_info = true;
        } else if (!strcmp(a, "--no-warp-specialize")) {
            o->no_warp_specialize = true;
        } else if (!strcmp(a, "--no-overlap")) {
            o->no_overlap = true;
        } else if (!strcmp(a, "--no-pingpong")) {
            o->no_pingpong = true;
        } else if (!strcmp(a, "--persistent")) {
            o->persistent = true;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "tessera: unknown option '%s'\n", a);
            return 2;
        } else if (o->file) {
            fprintf(stderr, "tessera: more than one input file ('%s' and '%s')\n", o->file, a);
            return 2;
        } else {
            o->file = a;
        }
    }
    if (!o->file) {
        fprintf(stderr, "tessera: no input file\n");
        return 2;
    }
    static const char *const stages[] = { "tokens", "ast", "tir", "layout", "llvm", "ptx" };
    bool known = false;
    for (size_t i = 0; i < TSR_ARRAY_LEN(stages); i++)
        known |= !strcmp(o->emit, stages[i]);
    if (!known) {
        fprintf(stderr, "tessera: --emit takes tokens, ast, tir, layout, llvm or ptx, found '%s'\n", o->emit);
        return 2;
    }
    return 0;
}

static int write_output(const Options *o, const StrBuf *text)
{
    if (!o->out || !strcmp(o->out, "-")) {
        fwrite(text->data ? text->data : "", 1, text->len, stdout);
        return 0;
    }
    FILE *f = fopen(o->out, "wb");
    if (!f || fwrite(text->data ? text->data : "", 1, text->len, f) != text->len || fclose(f) != 0) {
        fprintf(stderr, "tessera: cannot write '%s': %s\n", o->out, strerror(errno));
        return 2;
    }
    return 0;
}

/* --emit llvm|ptx: one kernel's LLVM IR or PTX; dump: the IR after every
 * code-generation pass (--dump-passes). */
static void emit_gpu(const Options *o, TirModule *m, StrBuf *out, StrBuf *dump, Diag *diag)
{
    if (m->funcs.len != 1) {
        diag_error_nopos(diag, "%s has %d kernels; choose one with --kernel NAME", o->file, m->funcs.len);
        return;
    }
    CodegenOptions co = { .target = o->target, .assume_aligned = true, .line_info = o->line_info,
                          .no_warp_specialize = o->no_warp_specialize,
                          .no_overlap = o->no_overlap,
                          .no_pingpong = o->no_pingpong,
                          .persistent = o->persistent };
    CodegenResult r;
    bool llvm = !strcmp(o->emit, "llvm");
    if (compile_ptx(m->funcs.data[0], &co, llvm, dump, &r, diag)) {
        sb_puts(out, llvm ? r.llvm_ir : r.ptx);
        codegen_result_free(&r);
    }
}

static int cmd_compile(int argc, char **argv)
{
    Options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    if (o.target && !target_lookup(o.target)) { /* whatever the stage */
        char why[192];
        target_unknown_message(why, sizeof why, o.target);
        fprintf(stderr, "tessera: %s\n", why);
        return 2;
    }
    size_t len;
    const char *why;
    char *text = tsr_read_regular_file(o.file, TSR_MAX_SOURCE_BYTES, &len, &why);
    if (!text) {
        fprintf(stderr, "tessera: cannot read '%s': %s\n", o.file, why);
        return 2;
    }
    Source src = { o.file, text, len };
    Diag diag;
    diag_init(&diag, &src);
    StrBuf out, dump;
    sb_init(&out);
    sb_init(&dump);
    if (!strcmp(o.emit, "tokens")) {
        tokens_print(&out, &src);
    } else if (!strcmp(o.emit, "ast")) {
        Arena arena;
        arena_init(&arena);
        AstProgram *prog = parse_program(&arena, &src, &diag);
        if (diag.nerrors == 0)
            ast_print(&out, prog);
        arena_free(&arena);
    } else {
        StrBuf *passes = o.dump_passes ? &dump : NULL;
        TirModule *m = compile_tir(&src, o.defs, o.ndefs, o.kernel, &diag, passes);
        const Target *t = m && !strcmp(o.emit, "layout") ? compile_target(o.target, &diag) : NULL;
        for (int i = 0; t && i < m->funcs.len && !diag.nerrors; i++) {
            m->funcs.data[i]->no_overlap = o.no_overlap;
            compile_layout(m->funcs.data[i], t, &diag, passes);
        }
        if (m && (!strcmp(o.emit, "llvm") || !strcmp(o.emit, "ptx")))
            emit_gpu(&o, m, &out, passes, &diag);
        else if (m)
            tir_module_print(&out, m);
        if (o.dump_passes) { /* the IR after every pass instead of the stage */
            out.len = 0;
            sb_putn(&out, dump.data, dump.len);
        }
        if (m)
            tir_module_free(m);
    }
    if (diag.nerrors) {
        fputs(diag.out.data, stderr);
        rc = 1;
    } else {
        rc = write_output(&o, &out);
    }
    sb_free(&out);
    sb_free(&dump);
    diag_free(&diag);
    free(text);
    for (int i = 0; i < o.ndefs; i++)
        free((char *)o.defs[i].name);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--version")) {
        printf("tessera %s\n", tsr_version());
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "compile"))
        return cmd_compile(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "run"))
        return tsr_cli_run(argc - 2, argv + 2);
    usage(stderr);
    return 2;
}
