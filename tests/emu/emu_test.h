/* Helpers for the emulator's tests (tests/test_emu_*.c): loading PTX text,
 * launching with a list of buffers, compiling CUDA C and LLVM IR at test time
 * (a missing compiler is a skip with a reason), a small deterministic random
 * generator. Include after <cmocka.h>. All functions are static inline so
 * that each test uses what it needs. */
#ifndef TSR_EMU_TEST_H
#define TSR_EMU_TEST_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu/emu.h"

/* ---- random numbers --------------------------------------------------------- */

typedef struct {
    uint64_t s;
} EtRng;

static inline uint64_t et_rand(EtRng *r)
{
    /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline float et_randf(EtRng *r, float lo, float hi)
{
    return lo + (hi - lo) * (float)((et_rand(r) >> 40) * 0x1p-24);
}

static inline float f32_of_bits(uint32_t v)
{
    float f;
    memcpy(&f, &v, 4);
    return f;
}
static inline uint32_t bits_of_f32(float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    return v;
}
static inline double f64_of_bits(uint64_t v)
{
    double f;
    memcpy(&f, &v, 8);
    return f;
}
static inline uint64_t bits_of_f64(double f)
{
    uint64_t v;
    memcpy(&v, &f, 8);
    return v;
}

/* ---- modules and launches ---------------------------------------------------- */

static inline EmuModule *et_load(const char *ptx)
{
    StrBuf err;
    sb_init(&err);
    EmuModule *m = NULL;
    if (emu_module_load(ptx, strlen(ptx), &m, &err)) {
        print_error("PTX did not load: %s\n", err.data);
        sb_free(&err);
        fail();
    }
    sb_free(&err);
    return m;
}

/* Loads PTX that must fail; returns the message (free it). */
static inline char *et_load_error(const char *ptx)
{
    StrBuf err;
    sb_init(&err);
    EmuModule *m = NULL;
    if (!emu_module_load(ptx, strlen(ptx), &m, &err)) {
        emu_module_free(m);
        print_error("PTX loaded but should not have:\n%s\n", ptx);
        fail();
    }
    return sb_take(&err);
}

typedef struct {
    unsigned grid[3], block[3];
    size_t dyn_smem;
    bool races, uninit;
    int host_threads;
    uint64_t max_insns;
} EtConfig;

#define ET_CONFIG(gx, bx) ((EtConfig){.grid = {(gx), 1, 1}, .block = {(bx), 1, 1}})

/* Runs a kernel; returns 0 or -1 with the message in *msg (free it). */
static inline int et_launch(EmuModule *m, const char *kernel, void **args, const EmuRegion *regions,
                            int nregions, EtConfig c, char **msg, EmuStats *stats)
{
    for (int i = 0; i < 3; i++) {
        if (!c.grid[i])
            c.grid[i] = 1;
        if (!c.block[i])
            c.block[i] = 1;
    }
    EmuLaunch L = {.grid = {c.grid[0], c.grid[1], c.grid[2]},
                   .block = {c.block[0], c.block[1], c.block[2]},
                   .dyn_smem = c.dyn_smem,
                   .regions = regions,
                   .nregions = nregions,
                   .check_races = c.races,
                   .check_uninit = c.uninit,
                   .host_threads = c.host_threads,
                   .max_warp_insns = c.max_insns,
                   .stats = stats};
    StrBuf err;
    sb_init(&err);
    int rc = emu_launch(m, kernel, args, &L, &err);
    if (msg)
        *msg = rc ? sb_take(&err) : NULL;
    sb_free(&err);
    return rc;
}

/* Runs a kernel that must succeed. */
static inline void et_run(EmuModule *m, const char *kernel, void **args, const EmuRegion *regions,
                          int nregions, EtConfig c)
{
    char *msg;
    if (et_launch(m, kernel, args, regions, nregions, c, &msg, NULL)) {
        print_error("kernel '%s' failed: %s\n", kernel, msg);
        free(msg);
        fail();
    }
}

/* Runs a kernel that must fail with a message containing each of the
 * NULL-terminated strings. */
static inline void et_run_fails(EmuModule *m, const char *kernel, void **args,
                                const EmuRegion *regions, int nregions, EtConfig c, ...)
{
    char *msg;
    if (!et_launch(m, kernel, args, regions, nregions, c, &msg, NULL)) {
        print_error("kernel '%s' succeeded but should have failed\n", kernel);
        fail();
    }
    va_list ap;
    va_start(ap, c);
    for (const char *s; (s = va_arg(ap, const char *));) {
        if (!strstr(msg, s)) {
            print_error("message lacks \"%s\":\n%s\n", s, msg);
            free(msg);
            va_end(ap);
            fail();
        }
    }
    va_end(ap);
    free(msg);
}

/* ---- compiling at test time ---------------------------------------------------- */

/* The build directory the tests write into (BUILD, set by make test). */
static inline const char *et_build_dir(void)
{
    const char *b = getenv("BUILD");
    return b && *b ? b : "build";
}

static inline bool et_have_tool(const char *path)
{
    if (strchr(path, '/'))
        return access(path, X_OK) == 0;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "command -v '%s' >/dev/null 2>&1", path);
    return system(cmd) == 0;
}

/* nvcc: $NVCC, else nvcc on the PATH, else /usr/local/cuda/bin/nvcc. NULL if none. */
static inline const char *et_nvcc(void)
{
    const char *e = getenv("NVCC");
    if (e && *e)
        return et_have_tool(e) ? e : NULL;
    if (et_have_tool("nvcc"))
        return "nvcc";
    return et_have_tool("/usr/local/cuda/bin/nvcc") ? "/usr/local/cuda/bin/nvcc" : NULL;
}

/* llc of LLVM 19: $LLC, else llc-19. NULL if none. */
static inline const char *et_llc(void)
{
    const char *e = getenv("LLC");
    if (e && *e)
        return et_have_tool(e) ? e : NULL;
    return et_have_tool("llc-19") ? "llc-19" : NULL;
}

static inline void et_mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0777);
            *p = '/';
        }
    mkdir(buf, 0777);
}

/* Runs a shell command; on failure prints it with its output and fails. */
static inline void et_system(const char *cmd, const char *log)
{
    char full[4096];
    snprintf(full, sizeof full, "%s >'%s' 2>&1", cmd, log);
    if (system(full) != 0) {
        size_t n;
        char *out = tsr_read_file(log, &n);
        print_error("command failed: %s\n%s\n", cmd, out ? out : "");
        free(out);
        fail();
    }
}

/* Writes the emulator's tensor map of d into map (64-aligned, 128 bytes) or
 * fails with the broken rule. */
static inline void et_tensor_map(void *map, const EmuTensorMapDesc *d)
{
    StrBuf err;
    sb_init(&err);
    if (emu_tensor_map_encode(map, d, &err)) {
        print_error("%s\n", err.data);
        fail();
    }
    sb_free(&err);
}

/* Reads a whole file or fails. */
static inline char *et_read(const char *path)
{
    size_t n;
    char *s = tsr_read_file(path, &n);
    if (!s) {
        print_error("cannot read %s: %s\n", path, strerror(errno));
        fail();
    }
    return s;
}

#endif
