/* libFuzzer entry for the frontend: any bytes go through every stage a user
 * can reach from the CLI (token dump, parse and AST dump, sema building TIR,
 * the TIR passes with the verifier after each, the TIR printer) and must
 * neither crash, hang, leak nor allocate without bound.
 *
 * Compile-time parameters get values so that sema, TIR building and the
 * passes run too: a line `//D NAME=VALUE NAME=VALUE ...` in the input gives
 * defines verbatim (so the fuzzer also mutates them into bad values and
 * unknown names); any parameter without a define or a default gets a value
 * derived from a hash of the input.
 *
 * Build and run: `make fuzz`, then see tests/README.md. */
#include "ast.h"
#include "frontend.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_INPUT = 1 << 16, MAX_DEFS = 32 };

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Reads the defines of every `//D` line into defs. */
static int defines_from_comments(Arena *a, const char *text, Define *defs, int n)
{
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > 4 && !strncmp(line, "//D ", 4)) {
            const char *p = line + 4, *stop = line + len;
            while (p < stop && n < MAX_DEFS) {
                while (p < stop && *p == ' ')
                    p++;
                const char *w = p;
                while (p < stop && *p != ' ')
                    p++;
                const char *eq = memchr(w, '=', (size_t)(p - w));
                if (eq && eq > w) {
                    defs[n].name = arena_strndup(a, w, (size_t)(eq - w));
                    defs[n].value = arena_strndup(a, eq + 1, (size_t)(p - eq - 1));
                    n++;
                }
            }
        }
        line = end ? end + 1 : NULL;
    }
    return n;
}

static bool has_define(const Define *defs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(defs[i].name, name))
            return true;
    return false;
}

/* A value for every compile-time parameter that has neither a define nor a
 * default (and, now and then, for one that has a default). */
static int derived_defines(const AstProgram *prog, uint64_t h, Define *defs, int n)
{
    static const char *const types[] = { "f16", "bf16", "f32", "i32", "bool", "f16", "bf16" };
    static const char *const ints[] = { "16", "32", "64", "128", "1", "2", "8", "3", "0", "-4", "256", "4" };
    static const char *const bools[] = { "true", "false" };
    static const char *const floats[] = { "0.5", "1", "-2.25", "1e30" };
    for (int k = 0; k < prog->kernels.len; k++) {
        const AstKernel *kn = prog->kernels.data[k];
        for (int i = 0; i < kn->cparams.len && n < MAX_DEFS; i++) {
            const AstCParam *cp = &kn->cparams.data[i];
            h = h * 6364136223846793005ull + 1442695040888963407ull;
            unsigned r = (unsigned)(h >> 33);
            if (has_define(defs, n, cp->name) || (cp->deflt && r % 4 != 0))
                continue;
            const char *v;
            switch (cp->kind) {
            case CPARAM_TYPE: v = types[r / 4 % TSR_ARRAY_LEN(types)]; break;
            case CPARAM_INT: v = ints[r / 4 % TSR_ARRAY_LEN(ints)]; break;
            case CPARAM_BOOL: v = bools[r / 4 % 2]; break;
            default: v = floats[r / 4 % TSR_ARRAY_LEN(floats)]; break;
            }
            defs[n].name = cp->name;
            defs[n].value = v;
            n++;
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    Source src = { "fuzz.tsr", text, size };
    StrBuf out;
    sb_init(&out);

    tokens_print(&out, &src);

    Arena arena;
    arena_init(&arena);
    Diag diag;
    diag_init(&diag, &src);
    AstProgram *prog = parse_program(&arena, &src, &diag);
    if (diag.nerrors == 0) {
        ast_print(&out, prog);

        Define defs[MAX_DEFS];
        int ndefs = defines_from_comments(&arena, text, defs, 0);
        ndefs = derived_defines(prog, hash_bytes(data, size), defs, ndefs);
        Diag d2;
        diag_init(&d2, &src);
        StrBuf dump;
        sb_init(&dump);
        TirModule *m = frontend_compile(&src, defs, ndefs, NULL, &d2, size % 3 == 0 ? &dump : NULL);
        if (m) {
            tir_module_print(&out, m);
            tir_module_free(m);
        }
        sb_free(&dump);
        diag_free(&d2);
    }
    diag_free(&diag);
    arena_free(&arena);
    sb_free(&out);
    free(text);
    return 0;
}
