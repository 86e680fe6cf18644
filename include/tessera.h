/* Tessera: the public C API.
 *
 * Embed the Tessera JIT in a C program: compile kernels written in the DSL at
 * run time, bind their arguments (tensors as DLPack DLTensors, scalars), and
 * launch them on a device:
 *
 *   cuda    the GPU, through the CUDA driver (libcuda.so.1, opened at run time;
 *           a program linked with Tessera starts on machines without it)
 *   emu     a PTX emulator on the CPU: runs the code the GPU would run
 *   interp  the tile-IR interpreter on the CPU: the meaning of a program
 *
 * A minimal program:
 *
 *   tsr_context *ctx;
 *   if (tsr_context_create(NULL, &ctx) != TSR_OK) { puts(tsr_context_error(ctx)); ... }
 *   tsr_module *mod;
 *   tsr_define defs[] = { { "T", "f16" } };
 *   tsr_compile_options co = { .defines = defs, .ndefines = 1 };
 *   if (tsr_module_compile(ctx, source, strlen(source), &co, &mod) != TSR_OK)
 *       puts(tsr_context_error(ctx));          // file:line:col: error: ... and a caret
 *   tsr_kernel *k;
 *   tsr_module_get_kernel(mod, "scale", &k);
 *   tsr_kernel_set_tensor(k, 0, &x);           // DLTensor on tsr_context_device(ctx)
 *   tsr_kernel_set_scalar_by_name(k, "alpha", 2.0);
 *   if (tsr_kernel_launch(k, stream) != TSR_OK) puts(tsr_kernel_error(k));
 *   tsr_stream_synchronize(ctx, stream);
 *   tsr_module_destroy(mod);
 *   tsr_context_destroy(ctx);
 *
 * Conventions.
 *  - Errors. Every function that can fail returns a tsr_status; TSR_OK is
 *    0, tsr_status_name and tsr_status_string name the others. Each call
 *    that returns a tsr_status records its outcome on the one context it
 *    works on (directly, or through a module, kernel or event of that
 *    context), for the calling thread: a success clears the message, a
 *    failure replaces it. tsr_context_error(ctx) returns the calling
 *    thread's message ("" after a success); tsr_module_error and
 *    tsr_kernel_error return the same as tsr_context_error of their
 *    context. Calls that return no status (getters such as
 *    tsr_kernel_param_count, the *_error functions themselves, destroys)
 *    leave the message alone.
 *  - Lifetime of a message: the string returned by tsr_context_error (or
 *    tsr_module_error, tsr_kernel_error) stays valid until the calling
 *    thread's second failing call on that context after it (successes free
 *    nothing), or until the context is destroyed. So it may be passed along
 *    with the call it reports on, `f(call(ctx), tsr_context_error(ctx))`, in
 *    either order of evaluation (evaluated first, it shows the message from
 *    before the call). Copy it to keep it longer. tsr_context_error(NULL)
 *    returns a constant text (a context that could not be allocated); when
 *    the allocator fails while a message is kept, the message is a
 *    constant "out of host memory ..." text instead.
 *  - There is no global mutable state: everything hangs off a context. Two
 *    contexts may be used from two threads at once. On one context, see
 *    "Threads" at tsr_kernel_launch_args for what may run at once.
 *  - Other strings returned by the library live as long as the handle they
 *    came from.
 *  - Size and shape arguments are in elements unless the name says bytes.
 *  - Ownership: handles are created by *_create / tsr_module_compile* /
 *    tsr_module_load_ptx and freed by the matching destroy (kernel handles
 *    belong to their module); tensor data is always the caller's, never
 *    freed by the library, and must stay valid while a launch that uses it
 *    runs (on cuda, until the stream is synchronized); a tensor bound with
 *    tsr_kernel_set_tensor keeps its data pointer until rebound.
 *  - Structs: the options structs passed in (tsr_context_options,
 *    tsr_compile_options, tsr_attention_options) start with struct_size and
 *    may grow at their end. The structs the library fills
 *    (tsr_param_info, tsr_kernel_attributes, tsr_cache_stats) and the other
 *    structs passed in (tsr_arg, tsr_ptx_arg, tsr_launch_dims, ...) keep
 *    their layout within a minor version (the SONAME carries it); new
 *    information comes through new functions.
 */
#ifndef TESSERA_H
#define TESSERA_H

#include <stddef.h>
#include <stdint.h>

#include <dlpack/dlpack.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TESSERA_VERSION_MAJOR 0
#define TESSERA_VERSION_MINOR 1
#define TESSERA_VERSION_PATCH 0
#define TESSERA_VERSION_STRING "0.1.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons. */
#define TESSERA_VERSION_NUMBER (TESSERA_VERSION_MAJOR * 10000 + TESSERA_VERSION_MINOR * 100 + TESSERA_VERSION_PATCH)

#if defined(__GNUC__)
#define TSR_API __attribute__((visibility("default")))
#else
#define TSR_API
#endif

/* ------------------------------------------------------------------ basics */

/* Returns TESSERA_VERSION_STRING of the library actually linked. */
TSR_API const char *tsr_version(void);

typedef enum tsr_status {
    TSR_OK = 0,
    TSR_ERR_INVALID_ARGUMENT = 1, /* a bad call: NULL handle, unknown option value, index out of range */
    TSR_ERR_COMPILE = 2,          /* the program has errors; the message holds the diagnostics */
    TSR_ERR_NO_DEVICE = 3,        /* the device asked for is not there (no driver, no GPU) */
    TSR_ERR_DEVICE = 4,           /* the device failed: a driver call, a module load, a kernel fault */
    TSR_ERR_LAUNCH = 5,           /* the arguments of a launch are invalid; nothing was launched */
    TSR_ERR_OUT_OF_MEMORY = 6,    /* host or device memory ran out */
    TSR_ERR_NOT_FOUND = 7,        /* no kernel or parameter of that name */
    TSR_ERR_IO = 8,               /* a file could not be read */
    TSR_ERR_UNSUPPORTED = 9       /* valid, but not supported by this build, device or target */
} tsr_status;

/* A constant name for a status, e.g. "TSR_ERR_LAUNCH"; "unknown status" for
 * other values. */
TSR_API const char *tsr_status_name(tsr_status s);
/* A short constant description of a status, e.g. "invalid launch
 * arguments"; "unknown status" for other values. The message of the failure
 * itself is tsr_context_error's. */
TSR_API const char *tsr_status_string(tsr_status s);

typedef struct tsr_context tsr_context;
typedef struct tsr_module tsr_module;
typedef struct tsr_kernel tsr_kernel;

/* ----------------------------------------------------------------- context */

typedef enum tsr_device_kind {
    TSR_DEVICE_AUTO = 0, /* cuda when a GPU and its driver are present, else emu;
                            the environment variable TESSERA_DEVICE (cuda, emu
                            or interp) overrides the choice */
    TSR_DEVICE_CUDA = 1,
    TSR_DEVICE_EMU = 2,
    TSR_DEVICE_INTERP = 3
} tsr_device_kind;

/* Host memory hooks. alloc returns memory of at least `size` bytes aligned to
 * `align` (a power of two, at most 4096), or NULL; free receives the size
 * given to alloc. Tessera uses them for its handles, error messages, the
 * buffers of the host devices (tsr_malloc on emu and interp) and each
 * launch's own arrays: when they fail, the call returns
 * TSR_ERR_OUT_OF_MEMORY and leaks nothing. The compiler's working memory
 * (the IR while compiling, loading PTX into emu) comes from malloc; when that
 * fails, tsr_module_compile and a launch that must generate a variant return
 * TSR_ERR_OUT_OF_MEMORY and leak nothing too, as do a launch on interp or
 * emu whose interpreter or emulator runs out, and tsr_module_load_ptx. LLVM's
 * own allocations (its optimizer and NVPTX backend) still end the process
 * when they fail. */
typedef struct tsr_allocator {
    void *(*alloc)(void *user, size_t size, size_t align);
    void (*free)(void *user, void *ptr, size_t size);
    void *user;
} tsr_allocator;

typedef enum tsr_cache_mode {
    TSR_CACHE_DEFAULT = 0, /* on, unless the environment says TESSERA_CACHE=0 */
    TSR_CACHE_OFF = 1,
    TSR_CACHE_ON = 2
} tsr_cache_mode;

/* Flags of tsr_context_options.flags. */
enum {
    TSR_EMU_CHECK_RACES = 1 << 0,  /* emu: detect shared-memory races (slower) */
    TSR_EMU_CHECK_UNINIT = 1 << 1  /* emu: detect reads of registers and shared memory never written (slower) */
};

/* Every field is checked: a value the library does not know (a device kind,
 * cache mode or flag bit of a newer version, host_threads < 0, an ordinal
 * other than 0 on emu and interp) gives TSR_ERR_INVALID_ARGUMENT. */
typedef struct tsr_context_options {
    /* sizeof(tsr_context_options) as the program was compiled; set by
     * tsr_context_options_init (which writes the whole struct of the
     * library's version: a binding that declares the struct itself, as
     * python/ does, zeroes it and sets struct_size instead). It lets the
     * struct grow: the library reads
     * only the fields the program's struct has (later fields take their
     * defaults), and refuses with TSR_ERR_UNSUPPORTED a struct from a newer
     * version whose fields this library does not know are not zero. 0 means
     * the size of version 0.1's struct, so a zeroed struct works. */
    size_t struct_size;
    tsr_device_kind device;
    int device_ordinal;            /* cuda: which GPU (0 = the first); emu, interp: 0. With
                                      TSR_DEVICE_AUTO, an ordinal other than 0 never falls
                                      back to emu */
    const tsr_allocator *allocator; /* NULL: malloc and free; copied at creation */
    /* JIT cache of generated PTX on disk. cache_dir NULL: TESSERA_CACHE_DIR,
     * else $XDG_CACHE_HOME/tessera, else ~/.cache/tessera. */
    tsr_cache_mode cache;
    const char *cache_dir;
    int host_threads;              /* emu and interp: CPU threads per launch; 0 = all cores */
    unsigned flags;                /* TSR_EMU_* */
    /* The target modules and attention compile for unless their options
     * name one: "sm_80", "sm_89", "sm_90" or "sm_90a"; NULL: the device's own (see
     * tsr_context_default_target). Lets emu run the code of either GPU
     * generation. An unknown name is TSR_ERR_INVALID_ARGUMENT. */
    const char *target;
    /* Since 0.1 (after target): TSR_COMPILE_* flags added to those of every
     * module compiled in this context, attention's included (e.g.
     * TSR_COMPILE_NO_WARP_SPECIALIZE for an ablation). Unknown bits are
     * TSR_ERR_INVALID_ARGUMENT. */
    unsigned compile_flags;
    /* Since 0.1 (after compile_flags). emu: a launch whose warps execute
     * more instructions than this stops with TSR_ERR_DEVICE, naming the
     * instruction (and DSL line) a warp was at ("an infinite loop?");
     * 0: 2^36. */
    unsigned long long emu_max_warp_insns;
} tsr_context_options;

/* Fills *opts with the defaults (struct_size, then all zero:
 * TSR_DEVICE_AUTO, GPU 0, malloc, the default cache, all cores, no extra
 * checks). */
TSR_API void tsr_context_options_init(tsr_context_options *opts);

/* Creates a context on the device opts->device (opts NULL: the defaults).
 * As with sqlite3_open, *out is set even when creation fails (unless memory
 * ran out, then it is NULL), so that tsr_context_error can say why; such a
 * context is only good for tsr_context_error and tsr_context_destroy.
 * Returns TSR_ERR_NO_DEVICE when cuda is asked for and there is no driver or
 * no such GPU, TSR_ERR_DEVICE when the driver fails. */
TSR_API tsr_status tsr_context_create(const tsr_context_options *opts, tsr_context **out);

/* Destroys a context and frees what it owns: the buffers from tsr_malloc
 * and streams still live, and everything its live modules (with their
 * kernels) and events hold. NULL is ignored.
 * Destroy order: modules and events may be destroyed before or after their
 * context. After it, their handles accept only tsr_module_destroy and
 * tsr_event_destroy (which then free the handle itself; call them as for
 * any handle you created), tsr_module_error and tsr_module_kernel_count
 * (0); other calls return TSR_ERR_INVALID_ARGUMENT. Kernel handles die with
 * the context: do not use them after it. */
TSR_API void tsr_context_destroy(tsr_context *ctx);

/* The message of the calling thread's last status-returning call on this
 * context or its modules, kernels and events: "" when it succeeded. See
 * "Errors" and "Lifetime of a message" at the top. */
TSR_API const char *tsr_context_error(const tsr_context *ctx);

/* The device this context runs on (never TSR_DEVICE_AUTO once created). */
TSR_API tsr_device_kind tsr_context_device_kind(const tsr_context *ctx);

/* A readable description, e.g. "emu", "interp", "cuda:0 NVIDIA H200 (sm_90)". */
TSR_API const char *tsr_context_device_name(const tsr_context *ctx);

/* The DLDevice that tensors passed to this context's kernels must carry:
 * {kDLCPU, 0} on emu and interp (plain host memory), {kDLCUDA, ordinal} on
 * cuda (kDLCUDAManaged is accepted too). */
TSR_API DLDevice tsr_context_dl_device(const tsr_context *ctx);

/* The target a module compiles for when tsr_compile_options.target is NULL:
 * tsr_context_options.target when it was given, else
 * on cuda the GPU's own (sm_80 for compute capability 8.x, sm_90a for 9.0,
 * sm_90 for later GPUs, which cannot run sm_90a code), on emu and interp
 * "sm_90a", Tessera's default target. */
TSR_API const char *tsr_context_default_target(const tsr_context *ctx);

typedef struct tsr_cache_stats {
    uint64_t hits;         /* PTX read from the cache */
    uint64_t misses;       /* PTX generated (no entry, cache off, or corrupt entry) */
    uint64_t corrupt;      /* entries found damaged (truncated, bad checksum) and rebuilt */
    uint64_t writes;       /* entries written */
    uint64_t write_errors; /* entries that could not be written (not an error for the caller) */
} tsr_cache_stats;

/* Counters of the JIT cache since the context was created. */
TSR_API void tsr_context_cache_stats(const tsr_context *ctx, tsr_cache_stats *out);

/* The directory of the JIT cache, or NULL when the cache is off. */
TSR_API const char *tsr_context_cache_dir(const tsr_context *ctx);

/* ----------------------------------------------------------------- modules */

/* A compile-time parameter of the kernels (<...> in the DSL), as with the
 * CLI's -D NAME=VALUE. */
typedef struct tsr_define {
    const char *name;
    const char *value;
} tsr_define;

/* Intermediate forms a module can keep for tsr_module_ir. */
typedef enum tsr_ir_kind {
    TSR_IR_TIR = 1 << 0,  /* the tile IR after the frontend's passes */
    TSR_IR_LLVM = 1 << 1, /* LLVM IR before optimization */
    TSR_IR_PTX = 1 << 2   /* PTX (what cuda and emu load) */
} tsr_ir_kind;

typedef struct tsr_compile_options {
    size_t struct_size;         /* as in tsr_context_options: 0 or sizeof, see tsr_compile_options_init */
    const char *target;         /* "sm_80", "sm_89", "sm_90" or "sm_90a"; NULL: tsr_context_default_target */
    const tsr_define *defines;  /* ndefines compile-time parameters */
    int ndefines;
    const char *kernel;         /* compile only this kernel; NULL: every kernel of the source */
    const char *source_name;    /* the name in diagnostics; NULL: "<string>" (or the path) */
    unsigned keep_ir;           /* TSR_IR_* flags: what tsr_module_ir can return */
    /* Since 0.1 (after keep_ir): TSR_COMPILE_* flags. */
    unsigned flags;
} tsr_compile_options;

/* tsr_compile_options.flags. TSR_COMPILE_LINE_INFO: the PTX carries the DSL
 * source lines (.file/.loc), so emu's fault reports name the source line and
 * GPU profilers and debuggers show it. Off by default: the PTX is then
 * exactly what it was; with it, ptxas 13 made the same SASS for every kernel
 * measured (backend/lineinfo.c). Part of the JIT cache key. */
/* TSR_COMPILE_NO_WARP_SPECIALIZE: no producer warpgroup on sm_90a (the
 * kernel's warps copy their own tiles, as on sm_80), for ablation and
 * debugging (backend/README.md). Part of the JIT cache key. */
/* TSR_COMPILE_NO_OVERLAP: every asynchronous dot (sm_90a's wgmma) waited
 * for right after it is issued, instead of where its result is first read
 * (backend/README.md), for ablation and debugging. Part of the JIT cache
 * key. */
/* TSR_COMPILE_NO_PINGPONG: the consumer warpgroups of a warp-specialized
 * kernel (sm_90a) issue their dots whenever they reach them instead of in
 * turn (backend/README.md), for ablation and debugging. Part of the JIT
 * cache key. */
/* TSR_COMPILE_PERSISTENT: persistent kernels. A launch runs at most as many
 * blocks as the device holds at once (multiprocessors x the kernel's blocks
 * per multiprocessor; tsr_kernel_launch_grid), and each block runs the
 * program's instances from its own index in steps of the blocks launched,
 * in the order of the kernel's `schedule` clause (dsl/README.md §5.3;
 * backend/README.md, "Persistent kernels"). The results are those of the
 * ordinary launch; program_id and num_programs are the program's. The
 * instances of one launch must number at most INT32_MAX (else
 * TSR_ERR_LAUNCH). interp runs the program's grid as always. Part of the
 * JIT cache key. */
enum {
    TSR_COMPILE_LINE_INFO = 1 << 0,
    TSR_COMPILE_NO_WARP_SPECIALIZE = 1 << 1,
    TSR_COMPILE_NO_OVERLAP = 1 << 2,
    TSR_COMPILE_NO_PINGPONG = 1 << 3,
    TSR_COMPILE_PERSISTENT = 1 << 4,
    TSR_COMPILE_FLAGS_ALL = (1 << 5) - 1 /* every flag this version knows */
};

/* Fills *opts with the defaults: struct_size, then all zero. */
TSR_API void tsr_compile_options_init(tsr_compile_options *opts);

/* Compiles DSL source text (len bytes; NUL not needed) for the context's
 * device. opts may be NULL. On success *out is a module owning its kernels.
 * Returns TSR_ERR_COMPILE when the program has errors, or needs more than a
 * GPU offers (more than 2^14 registers per thread for a tile, more than 256
 * kernel parameter values, more shared memory than a block of the target
 * may have): tsr_context_error then
 * holds every diagnostic as "name:line:col: error: message" followed by the
 * source line and a caret under the column. On cuda and emu the PTX of each
 * kernel comes from the JIT cache when there, else it is generated and
 * stored; on cuda it is loaded by the driver (TSR_ERR_DEVICE with the
 * driver's error and info logs when it refuses). */
TSR_API tsr_status tsr_module_compile(tsr_context *ctx, const char *source, size_t len,
                                      const tsr_compile_options *opts, tsr_module **out);

/* As tsr_module_compile with the contents of a file; diagnostics name the
 * path unless opts->source_name says otherwise. Only a regular file of at
 * most 64 MB is read (a FIFO or device is refused, never waited on):
 * TSR_ERR_IO otherwise, or when it cannot be read, with the reason ("is a
 * directory", "is not a regular file", "No such file or directory"). */
TSR_API tsr_status tsr_module_compile_file(tsr_context *ctx, const char *path, const tsr_compile_options *opts,
                                           tsr_module **out);

/* Destroys a module and its kernels, before or after its context (see
 * tsr_context_destroy). NULL is ignored. */
TSR_API void tsr_module_destroy(tsr_module *mod);

/* tsr_context_error of the module's context (kept for older programs). */
TSR_API const char *tsr_module_error(const tsr_module *mod);

/* How many kernels the module holds, and the name of kernel i. */
TSR_API int tsr_module_kernel_count(const tsr_module *mod);
TSR_API const char *tsr_module_kernel_name(const tsr_module *mod, int i);

/* Finds a kernel by name (NULL: the module's only kernel). The handle lives
 * as long as the module. TSR_ERR_NOT_FOUND when there is none. */
TSR_API tsr_status tsr_module_get_kernel(tsr_module *mod, const char *name, tsr_kernel **out);

/* The text of one intermediate form of a kernel (name NULL: the only one), or
 * NULL when it was not kept (see tsr_compile_options.keep_ir). TSR_IR_PTX is
 * always available on cuda and emu. */
TSR_API const char *tsr_module_ir(const tsr_module *mod, const char *kernel, tsr_ir_kind kind);

/* ----------------------------------------------------------------- kernels */

/* The module a kernel belongs to, and its name. */
TSR_API tsr_module *tsr_kernel_module(const tsr_kernel *k);
TSR_API const char *tsr_kernel_name(const tsr_kernel *k);

/* tsr_context_error of the kernel's context (kept for older programs). */
TSR_API const char *tsr_kernel_error(const tsr_kernel *k);

enum { TSR_MAX_RANK = 4 };

/* A kernel parameter as declared in the DSL. */
typedef struct tsr_param_info {
    const char *name;
    int is_tensor;
    int is_output;                       /* declared `out` */
    DLDataType dtype;                    /* of the elements, or of the scalar */
    int ndim;                            /* 0 for scalars */
    const char *dim_names[TSR_MAX_RANK]; /* the symbol of each dim, NULL for a constant dim */
    int64_t dim_values[TSR_MAX_RANK];    /* the value of a constant dim, -1 for a symbol */
} tsr_param_info;

/* How many parameters the kernel takes, and what parameter i is. */
TSR_API int tsr_kernel_param_count(const tsr_kernel *k);
TSR_API tsr_status tsr_kernel_param_info(tsr_kernel *k, int i, tsr_param_info *out);

/* The position of the parameter called name, or -1. */
TSR_API int tsr_kernel_param_index(const tsr_kernel *k, const char *name);

/* What the device reports of the compiled kernel (the variant for aligned
 * tensors). Fields a device does not know are 0. */
typedef struct tsr_kernel_attributes {
    int threads;             /* threads per block */
    int max_threads;         /* cuda: the most threads per block the kernel can run with (registers limit it) */
    size_t dynamic_smem;     /* bytes of dynamic shared memory per block */
    size_t static_smem;      /* bytes of static shared memory per block */
    int num_regs;            /* cuda: registers per thread (NUM_REGS); emu: the emulator's count */
    size_t local_bytes;      /* bytes of local memory per thread: register spills and stack */
    size_t max_dynamic_smem; /* the most dynamic shared memory the device lets this kernel use */
} tsr_kernel_attributes;

TSR_API tsr_status tsr_kernel_get_attributes(tsr_kernel *k, tsr_kernel_attributes *out);

/* Binds argument i (by position) or the parameter called name. A tensor's
 * description (shape, strides, dtype, device) is copied, the data stays the
 * caller's: it must stay valid until the launch has completed. strides NULL
 * means contiguous row-major; byte_offset is added to data. A scalar is
 * converted to the parameter's dtype (floats rounded; an integer dtype
 * needs an integer in its range, checked at launch; bool: non-zero is
 * true). Binding checks only that the kind of argument matches: everything
 * else is checked at launch. Arguments stay bound across launches. */
TSR_API tsr_status tsr_kernel_set_tensor(tsr_kernel *k, int i, const DLTensor *t);
TSR_API tsr_status tsr_kernel_set_scalar(tsr_kernel *k, int i, double value);
TSR_API tsr_status tsr_kernel_set_tensor_by_name(tsr_kernel *k, const char *name, const DLTensor *t);
TSR_API tsr_status tsr_kernel_set_scalar_by_name(tsr_kernel *k, const char *name, double value);

/* Checks the bound arguments as a launch would and computes the grid (in
 * blocks: x, y, z). Returns TSR_ERR_LAUNCH with a message naming the
 * parameter and the dimension at fault. */
TSR_API tsr_status tsr_kernel_grid(tsr_kernel *k, int64_t grid[3]);

/* The same for the grid a launch runs: the program's grid, except for a
 * kernel compiled with TSR_COMPILE_PERSISTENT on a PTX device: {blocks, 1,
 * 1}, blocks the fewer of the program's instances and the blocks of the
 * kernel the device holds at once (its multiprocessors, emu's 4, times the
 * blocks one holds: the driver's occupancy on cuda; on emu what the
 * target's shared memory and 2048 threads per multiprocessor allow).
 * Prepares the kernel's variant for these arguments (compiling it if
 * needed). */
TSR_API tsr_status tsr_kernel_launch_grid(tsr_kernel *k, int64_t grid[3]);

/* Launches the kernel with the bound arguments. Before anything runs, every
 * argument is checked: all bound; dtypes and ranks; constant dims (such as
 * the head dim D) and symbolic dims consistent across tensors; non-NULL data
 * (NULL is fine for a tensor with a dim of 0, which is never accessed)
 * aligned to the element size; the last dim contiguous (stride 1); tensors
 * on the context's device; grid and shared memory within the device's
 * limits. A violation returns TSR_ERR_LAUNCH and launches nothing.
 * Tensors whose data is not 16-byte aligned, or whose row strides are not
 * multiples of 16 bytes, run a variant of the kernel compiled for scalar
 * accesses (once, on first need; cached like the rest).
 *
 * stream: a CUstream on cuda (NULL: the default stream); the launch is
 * asynchronous there, and faults surface at synchronization. On emu and
 * interp the stream is ignored and the launch completes before the call
 * returns (TSR_ERR_DEVICE for a kernel fault found by the emulator: the
 * message names the kernel, the PTX line and instruction, the DSL source
 * line when the PTX has line information, and the thread, then lists the
 * PTX around that line, from the variant that ran). A grid
 * with no blocks launches nothing and succeeds. */
TSR_API tsr_status tsr_kernel_launch(tsr_kernel *k, void *stream);

/* One argument of tsr_kernel_launch_args, by position: a tensor parameter
 * takes .tensor (its description is read during the call; its data must
 * stay valid until the launch has completed), a scalar parameter takes
 * .scalar with .tensor NULL, converted as by tsr_kernel_set_scalar. */
typedef struct tsr_arg {
    const DLTensor *tensor;
    double scalar;
} tsr_arg;

/* Launches the kernel with arguments given for this call only (nargs must
 * be tsr_kernel_param_count), checked and run as tsr_kernel_launch does; the
 * arguments bound on the kernel are neither used nor changed.
 *
 * Threads. tsr_kernel_launch_args may be called from several threads at
 * once, on one kernel or several, and at the same time as any other call on
 * the same context except destroying the context or the kernel's module:
 * variants compiled on first need are compiled once (other launches of the
 * kernel wait for it), and each thread sees only its own error messages.
 * So may tsr_module_compile, tsr_module_compile_file,
 * tsr_module_get_kernel, the getters, tsr_malloc, tsr_free, tsr_memcpy,
 * tsr_memset, the synchronization, stream and event calls (each event used
 * by one thread at a time), tsr_attention_forward and tsr_attention_backward. The allocator hooks
 * must then be thread-safe. What is not: the tsr_kernel_set_* calls and
 * tsr_kernel_launch / tsr_kernel_grid, which use the arguments bound on the
 * kernel, from two threads on one kernel; and any destroy with calls on the
 * same handle in flight. */
TSR_API tsr_status tsr_kernel_launch_args(tsr_kernel *k, const tsr_arg *args, int nargs, void *stream);

/* Waits for the work queued on a stream (NULL: the default stream), or for
 * all the context's work. Immediate on emu and interp. */
TSR_API tsr_status tsr_stream_synchronize(tsr_context *ctx, void *stream);
TSR_API tsr_status tsr_context_synchronize(tsr_context *ctx);

/* A new stream of the context: a CUstream on cuda (cuStreamCreate with
 * CU_STREAM_DEFAULT, in the context's CUcontext). On emu and interp, whose
 * launches complete before they return, *stream is NULL, the one stream
 * there is. Streams still live are destroyed with the context. */
TSR_API tsr_status tsr_stream_create(tsr_context *ctx, void **stream);
/* Destroys a stream from tsr_stream_create once its work is done; NULL is
 * ignored. */
TSR_API tsr_status tsr_stream_destroy(tsr_context *ctx, void *stream);

/* cuda: the CUcontext the context works in (the device's primary context,
 * the one the CUDA runtime uses; retained by Tessera until
 * tsr_context_destroy) and its CUdevice, for code that launches its own
 * work on Tessera's memory and streams. Either pointer may be NULL.
 * TSR_ERR_UNSUPPORTED on emu and interp. */
TSR_API tsr_status tsr_context_cuda(tsr_context *ctx, void **cu_context, int *cu_device);

/* ----------------------------------------------------------------- buffers */

/* Device memory for the context's device: cuda memory on cuda (a CUdeviceptr
 * as a pointer), host memory from the context's allocator on emu and interp
 * (aligned to 256 bytes). *ptr is NULL for size 0. */
TSR_API tsr_status tsr_malloc(tsr_context *ctx, size_t bytes, void **ptr);
/* Frees memory from tsr_malloc; NULL is ignored. On cuda it waits for work
 * using it (as cuMemFree does). */
TSR_API tsr_status tsr_free(tsr_context *ctx, void *ptr);

typedef enum tsr_copy_kind {
    TSR_COPY_HOST_TO_DEVICE = 0,
    TSR_COPY_DEVICE_TO_HOST = 1,
    TSR_COPY_DEVICE_TO_DEVICE = 2
} tsr_copy_kind;

/* Copies bytes, ordered after the work queued on stream (NULL: the default
 * stream); the copy has completed when the call returns. */
TSR_API tsr_status tsr_memcpy(tsr_context *ctx, void *dst, const void *src, size_t bytes, tsr_copy_kind kind,
                              void *stream);
/* Sets bytes of device memory to (unsigned char)value, like memset, ordered
 * on stream and completed on return. */
TSR_API tsr_status tsr_memset(tsr_context *ctx, void *dst, int value, size_t bytes, void *stream);

/* ------------------------------------------------------------------ events */

/* Events mark points in the work queued on a stream, as CUDA events do, to
 * time it:
 *
 *   tsr_event *a, *b;
 *   tsr_event_create(ctx, &a);
 *   tsr_event_create(ctx, &b);
 *   tsr_event_record(a, stream);
 *   tsr_kernel_launch(k, stream);
 *   tsr_event_record(b, stream);
 *   float ms;
 *   tsr_event_elapsed_ms(a, b, &ms);   // waits for b
 *
 * On cuda an event is a CUevent and the time is the GPU's. On emu and
 * interp, whose launches complete before they return, recording reads the
 * host's monotonic clock: the times are CPU times. Events belong to their
 * context: errors are reported there (tsr_context_error), and
 * tsr_context_destroy frees what the events still live hold. */
typedef struct tsr_event tsr_event;

TSR_API tsr_status tsr_event_create(tsr_context *ctx, tsr_event **out);
/* Before or after its context (see tsr_context_destroy); NULL is ignored. */
TSR_API void tsr_event_destroy(tsr_event *ev);
/* Records the event on stream (NULL: the default stream): it completes when
 * the work queued there before it has. Recording again moves it. */
TSR_API tsr_status tsr_event_record(tsr_event *ev, void *stream);
/* Waits until the event has completed. */
TSR_API tsr_status tsr_event_synchronize(tsr_event *ev);
/* Milliseconds from start to end, two recorded events of one context; waits
 * for end to complete first. TSR_ERR_INVALID_ARGUMENT when either was never
 * recorded. */
TSR_API tsr_status tsr_event_elapsed_ms(tsr_event *start, tsr_event *end, float *ms);

/* ------------------------------------------------------- PTX written elsewhere */

/* Modules of PTX that Tessera did not generate (hand-written, or from
 * `nvcc -ptx`), run on cuda (loaded by the driver) or emu (the emulator,
 * with its checks). Each kernel's parameters are declared, in order, so
 * that launches are checked and, on emu, the memory a kernel may touch is
 * known:
 *
 *   tsr_ptx_param_kind params[] = { TSR_PTX_TENSOR_MAP, TSR_PTX_TENSOR_OUT, TSR_PTX_I32 };
 *   tsr_ptx_kernel decl = { "my_kernel", params, 3 };
 *   tsr_module_load_ptx(ctx, ptx, strlen(ptx), &decl, 1, &mod);
 *   tsr_module_get_kernel(mod, "my_kernel", &k);
 *   tsr_tensor_map map;
 *   uint32_t box[2] = { 64, 64 };                   // innermost dim first
 *   tsr_tensor_map_encode(ctx, &a, 2, box, TSR_TMA_SWIZZLE_128B, &map);
 *   tsr_ptx_arg args[3] = { { .map = &map }, { .tensor = &d }, { .i = 7 } };
 *   tsr_launch_dims dims = { { 4, 1, 1 }, { 128, 1, 1 }, 0 };
 *   tsr_kernel_launch_ptx(k, &dims, args, 3, stream);
 */
typedef enum tsr_ptx_param_kind {
    TSR_PTX_TENSOR_IN = 1, /* .u64/.b64: a tensor's data address; the kernel reads the memory it spans */
    TSR_PTX_TENSOR_OUT,    /* the same, and the kernel may write it */
    TSR_PTX_I32,           /* .s32/.u32/.b32 */
    TSR_PTX_I64,           /* .s64/.u64/.b64 (a plain integer, not memory) */
    TSR_PTX_F32,
    TSR_PTX_F64,
    TSR_PTX_TENSOR_MAP     /* `.param .align 64 .b8 name[128]`, a grid constant (CUDA's
                              `const __grid_constant__ CUtensorMap`): a tsr_tensor_map */
} tsr_ptx_param_kind;

typedef struct tsr_ptx_kernel {
    const char *name;                 /* the .entry */
    const tsr_ptx_param_kind *params; /* its parameters, in order */
    int nparams;
} tsr_ptx_kernel;

/* Loads PTX text (len bytes; NUL not needed) as a module holding the
 * declared kernels (the .entry functions named; others are ignored). On emu
 * the PTX is parsed by the emulator, and every declared parameter list is
 * checked against the PTX's (sizes; a tensor map's 128 bytes and 64-byte
 * alignment); on cuda the driver loads it (cuModuleLoadDataEx) and the same
 * check runs when the emulator can read the PTX. Errors: TSR_ERR_DEVICE with
 * "ptx:LINE: error: ..." (emu) or the driver's logs (cuda) for PTX that does
 * not load; TSR_ERR_NOT_FOUND for a kernel that is not there;
 * TSR_ERR_INVALID_ARGUMENT for a list that does not match;
 * TSR_ERR_UNSUPPORTED on interp, which runs no PTX. The kernels are
 * launched with tsr_kernel_launch_ptx only (the tsr_kernel_set_* calls,
 * tsr_kernel_launch, tsr_kernel_launch_args and tsr_kernel_grid return
 * TSR_ERR_INVALID_ARGUMENT for them); tsr_kernel_param_count gives the
 * declared count, tsr_kernel_param_info is TSR_ERR_UNSUPPORTED, and
 * tsr_module_ir(mod, name, TSR_IR_PTX) the text loaded. */
TSR_API tsr_status tsr_module_load_ptx(tsr_context *ctx, const char *ptx, size_t len, const tsr_ptx_kernel *kernels,
                                       int nkernels, tsr_module **out);

/* A tensor map (TMA) for a kernel of this context's device, made by
 * tsr_tensor_map_encode: the device's 128-byte map (cuTensorMapEncodeTiled's
 * on cuda, the emulator's own on emu) and what launches check it with. Opaque;
 * copy it freely. */
typedef struct tsr_tensor_map {
    uint64_t opaque[24];
} tsr_tensor_map;

typedef enum tsr_tma_swizzle {
    TSR_TMA_SWIZZLE_NONE = 0,
    TSR_TMA_SWIZZLE_32B = 1,
    TSR_TMA_SWIZZLE_64B = 2,
    TSR_TMA_SWIZZLE_128B = 3
} tsr_tma_swizzle;

/* Describes tensor t (on the context's device, 1 to 5 dims, the last
 * contiguous) for tiled TMA copies of boxes of box[0..rank-1] elements,
 * box[0] along t's last dim (innermost first, as cuTensorMapEncodeTiled and
 * the coordinates of cp.async.bulk.tensor order them), with the given
 * swizzle; traversal strides 1, no interleave, L2 promotion 128 B, elements
 * outside the tensor read as zero. rank must be t->ndim. Element types:
 * (u)int8/16/32/64, float16/32/64, bfloat16. TSR_ERR_INVALID_ARGUMENT,
 * with the rule, when cuTensorMapEncodeTiled's documented rules are broken:
 * data 16-byte aligned, dims 1..2^32, byte strides of the outer dims
 * multiples of 16 below 2^40, box extents 1..256, box[0] times the element
 * size a multiple of 16 bytes and within the swizzle span (32, 64 or 128
 * bytes). TSR_ERR_UNSUPPORTED on interp, and on cuda when the GPU (before
 * compute capability 9.0) or the driver has no tensor maps. The map is used
 * by value at launch; t's data must stay valid while kernels use it. */
TSR_API tsr_status tsr_tensor_map_encode(tsr_context *ctx, const DLTensor *t, int rank, const uint32_t *box,
                                         tsr_tma_swizzle swizzle, tsr_tensor_map *out);

/* One argument of tsr_kernel_launch_ptx, by the kind declared: .tensor for
 * TSR_PTX_TENSOR_IN/OUT (its data address is passed; on emu the memory it
 * spans is what the kernel may touch), .map for TSR_PTX_TENSOR_MAP (copied
 * into the parameter; on emu the memory of its tensor may be read and
 * written by the kernel), .i for TSR_PTX_I32 (-2^31 .. 2^32-1) and
 * TSR_PTX_I64, .f for TSR_PTX_F32 and TSR_PTX_F64. */
typedef struct tsr_ptx_arg {
    const DLTensor *tensor;
    const tsr_tensor_map *map;
    int64_t i;
    double f;
} tsr_ptx_arg;

/* The shape of a launch: blocks per grid, threads per block (x, y, z; none
 * 0) and bytes of dynamic shared memory. */
typedef struct tsr_launch_dims {
    unsigned grid[3];
    unsigned block[3];
    size_t dynamic_smem;
} tsr_launch_dims;

/* Launches a kernel of a module from tsr_module_load_ptx. Checked before
 * anything runs (TSR_ERR_LAUNCH with a message naming the argument): nargs
 * is the declared count; each argument of its kind; tensors on the
 * context's device (on cuda, memory of its GPU) with a span that fits the
 * address space; integers in range; tensor maps made by
 * tsr_tensor_map_encode for this device (a map of another device, or bytes
 * that are not a map, are refused); the grid and block within the
 * device's limits, dynamic shared memory within what the kernel may use (on
 * cuda more than 48 KB is opted into). On emu a fault (an access outside
 * the declared memory, a tensor map read from a local copy because the
 * parameter was not a grid constant, a race) is TSR_ERR_DEVICE with the
 * emulator's message; on cuda the launch is asynchronous on stream, as
 * tsr_kernel_launch's. */
TSR_API tsr_status tsr_kernel_launch_ptx(tsr_kernel *k, const tsr_launch_dims *dims, const tsr_ptx_arg *args,
                                         int nargs, void *stream);

/* --------------------------------------------------------------- attention */

/* Flash attention, forward: O = softmax(scale * Q K^T) V per head, and LSE,
 * the natural-log log-sum-exp of each score row, from the kernels built into
 * the library (kernels/attention.tsr). Shapes, contiguous in the last dim:
 *   q [B, Hq, Sq, D], k and v [B, Hkv, Sk, D], o [B, Hq, Sq, D] (q's dtype),
 *   lse [B, Hq, Sq] float32
 * with dtype float16 or bfloat16, D in 64, 128, 256 (other multiples of 16
 * may work), Hq a multiple of Hkv (grouped-query attention). causal: query
 * row r sees keys c <= r + Sk - Sq (bottom-right aligned). The specialization
 * for the dtype, D, causal and target is compiled on first use and kept by
 * the context. Errors are reported on the context: TSR_ERR_UNSUPPORTED for a
 * dtype or shape the kernels do not handle, otherwise as tsr_kernel_launch. */
TSR_API tsr_status tsr_attention_forward(tsr_context *ctx, const DLTensor *q, const DLTensor *k, const DLTensor *v,
                                         const DLTensor *o, const DLTensor *lse, float scale, int causal,
                                         void *stream);

/* The options of tsr_attention_forward_ex; all zero (after
 * tsr_attention_options_init) is tsr_attention_forward with scale 1/sqrt(D)
 * and no mask. struct_size as in tsr_context_options: the struct grows at
 * its end, and a library refuses fields it does not know that are set. */
typedef struct tsr_attention_options {
    size_t struct_size;
    float scale;          /* of the scores; 0: 1 / sqrt(D) */
    int causal;           /* bottom-right aligned, per sequence */
    /* Local (sliding-window) attention when `local` is nonzero, with
     * FlashAttention's semantics: query row r sees keys c with
     * r + Sk - Sq - window_left <= c <= r + Sk - Sq + window_right; a
     * negative extent leaves its side open, and causal makes the right
     * extent 0. Key blocks outside a block of rows' window are skipped. */
    int local;
    int window_left, window_right;
    /* Logit soft-capping (Gemma 2): scores s become softcap * tanh(s /
     * softcap), before ALiBi and the masks. 0: off. */
    float softcap;
    /* ALiBi: float32 [Hq] slopes on the device; alibi_slopes[h] * |r + Sk -
     * Sq - c| is taken off the score of query head h, row r, key c. NULL:
     * off. */
    const DLTensor *alibi_slopes;
    /* Variable-length (packed) batches, FlashAttention's varlen layout: q
     * and o [total_q, Hq, D], k and v [total_k, Hkv, D], lse float32 [Hq,
     * total_q]; cu_seqlens_q and cu_seqlens_k int32 [B + 1] on the device,
     * nondecreasing from 0: sequence b has query rows cu_seqlens_q[b] ..
     * cu_seqlens_q[b + 1] - 1 and keys likewise, and may be empty.
     * max_seqlen_q must be at least the longest query length (rows beyond it
     * are not computed; the device copies of cu_seqlens are not read on the
     * host). NULL: a dense batch [B, H, S, D]. */
    const DLTensor *cu_seqlens_q, *cu_seqlens_k;
    int max_seqlen_q;
    /* Decoding from a paged KV cache (kernels/attention_decode.tsr) when
     * block_table is set: k and v are the caches [pages, P, Hkv, D] (any
     * page size P), block_table int32 [B, pages per sequence] names the
     * pages of each sequence in order, cache_seqlens int32 [B] its keys
     * (the Sq new tokens of q [B, Hq, Sq, D] are the last; causal: token s
     * sees keys j <= s + cache_seqlens[b] - Sq), all on the device; o and
     * lse as in the dense case. The query heads of a GQA group and the Sq
     * tokens share one tile (q, o and lse must space each head's rows
     * evenly, as contiguous tensors do); meant for Sq from 1 to 16. The keys
     * are split among num_splits programs per sequence and key/value head
     * (0: the library picks: enough to fill a large GPU twice, at most one
     * per page), combined by a second launch weighted by their LSEs; the
     * partial results, splits * B * Hq * Sq * (D + 1) floats, come from
     * tsr_malloc and are freed before the call returns (on cuda, after the
     * launches, as tsr_free waits). Windows, soft-capping and ALiBi as
     * above (token s lines up with key s + cache_seqlens[b] - Sq; pages
     * before every token's window are not read); cu_seqlens are refused
     * with TSR_ERR_UNSUPPORTED. */
    const DLTensor *block_table, *cache_seqlens;
    int num_splits;
    /* fp8 attention (kernels/attention_fp8.tsr), FlashAttention-3's
     * semantics: when q is float8_e4m3fn or float8_e5m2 (DLPack 1.1 codes
     * 10 and 12), q, k and v [B, H, S, D] hold fp8 codes whose values are
     * the codes times descale_q, descale_k and descale_v (0: 1). The scores
     * are the products of the codes summed in f32, times descale_q *
     * descale_k * scale; P = exp(S - rowmax) in f32, whose row sums give the
     * normalizer and lse; P is rounded to e4m3 (cvt.rn.satfinite) for the
     * product with V, and O = (e4m3(P) V) * descale_v / rowsum, stored in
     * o's dtype, bfloat16 or float16. V in its natural layout [B, H, Sk, D]
     * (no transposed copy). Dense batches only: no window, soft-cap, ALiBi,
     * cu_seqlens or paged cache with fp8 (TSR_ERR_UNSUPPORTED), and no
     * backward pass. On a GPU it needs sm_89 or later (fp8 conversions).
     * The products run on the fp8 tensor cores (mma.sync m16n8k32) for the
     * sm_89 target; for sm_90 and sm_90a (no fp8 mma.sync in their PTX;
     * wgmma's fp8 form is not emitted yet) on the 16-bit ones after exact
     * widening to f16. */
    float descale_q, descale_k, descale_v;
} tsr_attention_options;

/* Fills *opts with the defaults: struct_size, then all zero. */
TSR_API void tsr_attention_options_init(tsr_attention_options *opts);

/* tsr_attention_forward with options. When q is an fp8 tensor it runs
 * kernels/attention_fp8.tsr (see descale_q above). Without windows,
 * soft-capping, ALiBi or packing it runs kernels/attention.tsr as
 * tsr_attention_forward does;
 * with any of them kernels/attention_ext.tsr, specialized (and compiled on
 * first use) for the features on, whose values (extents, cap, lengths) are
 * run-time arguments. Errors as tsr_attention_forward's, and
 * TSR_ERR_INVALID_ARGUMENT for options out of range (opts NULL, a negative
 * or non-finite softcap, one of cu_seqlens_q and cu_seqlens_k alone),
 * TSR_ERR_LAUNCH for optional tensors of the wrong dtype or shape,
 * TSR_ERR_OUT_OF_MEMORY when the decoding's workspace cannot be had,
 * TSR_ERR_UNSUPPORTED for cu_seqlens beside a block_table. The
 * backward pass takes none of these features yet. */
TSR_API tsr_status tsr_attention_forward_ex(tsr_context *ctx, const DLTensor *q, const DLTensor *k,
                                            const DLTensor *v, const DLTensor *o, const DLTensor *lse,
                                            const tsr_attention_options *opts, void *stream);

/* Flash attention, backward: the gradients dq, dk, dv of the loss for its
 * gradient dout of the forward's output o, from q, k, v, o and lse as
 * tsr_attention_forward wrote them (same scale and causal), by the kernels
 * of kernels/attention_bwd.tsr. Shapes as for the forward: dout and dq as q,
 * dk and dv as k, all of q's dtype. Grouped-query attention: dk and dv of a
 * key/value head sum over the query heads of its group. A query row that
 * sees no key (lse -inf) gets a zero dq row and gives nothing to dk and dv.
 * Three launches on stream: Delta = rowsum(dout * o) per query row, then dk
 * and dv (each block of keys walks the query blocks of its group; on sm_90a
 * at D=256 two launches, dk then dv, as their accumulators do not fit in
 * registers together), then dq (each block of queries walks the key blocks
 * again). No atomics: the
 * results are the same bits on every run. This deterministic mode is the
 * only one (an atomic f32 accumulation of dq would save recomputing the
 * scores, but gives other bits from run to run, which makes training runs
 * irreproducible; the DSL has no atomics). The
 * workspace, B * Hq * Sq floats, comes from tsr_malloc (the context's
 * allocator on emu and interp) and is freed before the call returns, which
 * on cuda waits for the launches (as tsr_free does). Errors as
 * tsr_attention_forward's; TSR_ERR_OUT_OF_MEMORY when the workspace cannot
 * be had. */
TSR_API tsr_status tsr_attention_backward(tsr_context *ctx, const DLTensor *q, const DLTensor *k, const DLTensor *v,
                                          const DLTensor *o, const DLTensor *lse, const DLTensor *dout,
                                          const DLTensor *dq, const DLTensor *dk, const DLTensor *dv, float scale,
                                          int causal, void *stream);

#ifdef __cplusplus
}
#endif

#endif
