/* The runtime behind the public API (include/tessera.h): what a context, a
 * module and a kernel hold, and the interface each device implements.
 *
 *   context.c    contexts, errors, allocator hooks, buffers of host devices
 *   module.c     compiling (frontend, then PTX through the JIT cache), kernels
 *   launch.c     binding arguments, validation, launching
 *   jitcache.c   the on-disk cache of PTX
 *   device/      the three devices behind one interface (device/device.h)
 *   attention.c  tsr_attention_forward, on the public API
 *   event.c      events (tsr_event_*): CUDA events on cuda, the host clock elsewhere
 */
#ifndef TSR_RT_H
#define TSR_RT_H

#include "compile.h"
#include "interp.h"
#include "kernel_args.h"
#include "jitcache.h"
#include "tessera.h"

#include <pthread.h>

typedef struct DeviceOps DeviceOps;

/* One compiled form of a kernel for a PTX device: tensors whose bit is set
 * in `unaligned` (bit i: parameter i) are accessed element by element, the
 * others with 16-byte vectors. var[0] is the all-aligned variant. */
typedef struct {
    uint64_t unaligned;
    uint64_t divisible; /* symbolic dims that are multiples of 8 (bit s: sym s) */
    bool used;
    bool ready;
    char *ptx;
    size_t smem_bytes;
    int threads;
    void *handle; /* the device's loaded kernel */
    tsr_kernel_attributes attrs;
    TmaRequest *tma; /* malloc'd: the tensor maps this variant takes (CodegenResult.tma), ntma of them */
    int ntma;
    uint64_t tma_params; /* the tensors they describe (bit i: parameter i) */
    /* Maps encoded for earlier launches (launch.c), under ctx->work_lock:
     * TMA_CACHE_WAYS per request, replaced in turn. */
    struct TmaCacheEntry *maps;
    unsigned map_turn;
} KernelVariant;

enum { TMA_CACHE_WAYS = 4 };

enum { VARIANT_ALIGNED = 0, MAX_VARIANTS = 8 };

typedef struct {
    bool set;
    DLTensor t; /* shape and strides point into the arrays below */
    int64_t shape[TSR_MAX_RANK], strides[TSR_MAX_RANK];
    double scalar;
} BoundArg;

/* A kernel of PTX loaded by tsr_module_load_ptx (ptxmod.c): its declared
 * parameters. */
typedef struct {
    char *name;
    tsr_ptx_param_kind *params;
    int nparams;
} PtxDecl;

struct tsr_kernel {
    tsr_module *mod;
    TirFunc *f;   /* the frontend's TIR (code generation works on its own copy); NULL for loaded PTX */
    PtxDecl *ptx; /* loaded PTX (var[0] holds it), else NULL */
    Define *defs; /* the values of f's compile-time parameters (f->defines) */
    KernelVariant var[MAX_VARIANTS];
    char *tir_text, *llvm_ir; /* kept when asked (TSR_IR_*) */
    BoundArg *args;           /* one per parameter */
};

/* A module lives in its context until tsr_module_destroy or
 * tsr_context_destroy. The latter frees all of it but the handle (ctx
 * becomes NULL), which tsr_module_destroy frees later with the allocator
 * kept here: destroying a module after its context is harmless. */
struct tsr_module {
    tsr_context *ctx; /* NULL once the context is destroyed */
    tsr_allocator alloc;
    TirModule *tir;
    char *source;
    size_t len;
    char *name;
    Define *defs;
    int ndefs;
    char target[16];
    unsigned kept_ir; /* TSR_IR_* */
    bool line_info;   /* TSR_COMPILE_LINE_INFO */
    bool no_warp_specialize; /* TSR_COMPILE_NO_WARP_SPECIALIZE */
    bool no_overlap;         /* TSR_COMPILE_NO_OVERLAP */
    bool no_pingpong;        /* TSR_COMPILE_NO_PINGPONG */
    bool persistent;         /* TSR_COMPILE_PERSISTENT */
    tsr_kernel **kernels;
    int nkernels, cap_kernels;
    tsr_module *prev, *next; /* the context's live modules */
};

/* A validated launch: the arguments as host-side views (data pointers are
 * device addresses on cuda), the symbols' values and the grid. */
typedef struct {
    KernelArg *args;
    int nargs;
    int32_t *syms;
    int64_t grid[3];   /* the program's grid */
    int64_t blocks[3]; /* the grid launched: grid, or {min(instances, resident blocks), 1, 1} when persistent */
    uint64_t unaligned; /* tensors that need element-wise accesses (bit i: parameter i) */
    uint64_t divisible; /* symbolic dims that are multiples of 8 (bit s: sym s) */
    uint64_t tma_unfit; /* tensors TMA cannot take (bit i: parameter i): no tensor map may describe them */
    const TmaRequest *tma; /* the tensor maps the variant launched takes (KernelVariant.tma) */
    int ntma;
    unsigned char *maps; /* ntma encoded maps of ABI_TMAP_BYTES each, in request order */
} Launch;

typedef struct {
    void *ptr;
    size_t size;
} Allocation;

typedef struct AttnEntry AttnEntry;
typedef struct ErrSlot ErrSlot;

/* A thread's messages on a context (errors.c): the current one and the one
 * before, which stays allocated until the next failure. */
struct ErrSlot {
    pthread_t thread;
    char *cur, *prev;           /* NULL: none */
    size_t cur_size, prev_size; /* bytes allocated; 0: a static text */
    bool cleared;               /* the last call succeeded: the message is "" */
    ErrSlot *next;
};

struct tsr_context {
    tsr_allocator alloc;
    tsr_status create_status; /* not TSR_OK: creation failed, the context only holds the message */
    const DeviceOps *dev;
    void *dev_state;
    int ordinal;
    char device_name[160];
    char default_target[16];
    DLDevice dl_device;
    int host_threads;
    unsigned flags;
    unsigned long long emu_max_warp_insns; /* tsr_context_options' */
    unsigned compile_flags; /* tsr_context_options.compile_flags */
    int max_threads;   /* per block */
    int64_t max_grid[3]; /* blocks per grid dimension */
    JitCache cache;
    Allocation *allocs; /* buffers of tsr_malloc */
    int nallocs, cap_allocs;
    void **streams; /* streams of tsr_stream_create, destroyed with the context */
    int nstreams, cap_streams;
    AttnEntry *attn; /* attention modules compiled so far (attention.c) */
    tsr_module *modules; /* live modules, destroyed with the context */
    tsr_event *events;   /* live events (event.c), destroyed with the context */
    pthread_mutex_t lock; /* guards errors */
    /* Guards what launches, compiles and buffer calls in several threads
     * may change at once: kernel variants, cache statistics, the lists of
     * modules, buffers, events and attention kernels. */
    pthread_mutex_t work_lock;
    ErrSlot *errors;      /* each thread's last message (errors.c) */
    ErrSlot first_slot;   /* the creating thread's, in errors */
    bool lost_message;    /* a thread's slot could not be allocated */
};

static inline const char *rt_kernel_name(const tsr_kernel *k) { return k->f ? k->f->name : k->ptx->name; }

/* For calls that need a kernel compiled from the DSL: TSR_OK, or the
 * failure (message on the context) for a kernel of loaded PTX. */
tsr_status rt_dsl_kernel(tsr_kernel *k, const char *fn);
/* Frees a kernel of loaded PTX's declaration (ptxmod.c). */
void rt_ptx_decl_free(tsr_context *ctx, PtxDecl *d);
/* Adds a kernel to a module's list (module.c). */
tsr_status rt_module_add_kernel(tsr_module *m, tsr_kernel *k);
/* A new module handle on ctx's list, or NULL (out of memory, reported). */
tsr_module *rt_module_new(tsr_context *ctx);

/* Whether tensors on d can be used by ctx's kernels, and a DLPack device
 * type's name for messages (launch.c). */
bool rt_on_device(const tsr_context *ctx, DLDevice d);
const char *rt_dl_device_name(DLDeviceType t);

/* Starts a status-returning API call on ctx: clears the calling thread's
 * message and returns TSR_OK when ctx can be used, otherwise why not
 * (message on the context). */
tsr_status rt_enter(tsr_context *ctx);

/* Frees what the context's live modules hold, leaving their handles to
 * tsr_module_destroy (module.c). */
void rt_modules_orphan(tsr_context *ctx);
/* Destroys the attention modules kept by the context (attention.c). */
void rt_attention_release(tsr_context *ctx);
/* Frees the device events still live, leaving their handles to
 * tsr_event_destroy (event.c). */
void rt_events_release(tsr_context *ctx);

/* Memory from the context's allocator (zeroed); rt_free takes the size. */
void *rt_alloc(tsr_context *ctx, size_t size);
void rt_free(tsr_context *ctx, void *p, size_t size);

/* Copies options given with struct_size `given` (0: v1 bytes) into mine
 * (my_size bytes, zeroed first): fields past the caller's struct keep their
 * defaults, fields past this library's must be zero. Returns TSR_OK, or a
 * status with *why set. */
tsr_status rt_read_options(const void *opts, size_t given, size_t v1, void *mine, size_t my_size, const char **why);

/* Each thread's last message on a context (errors.c). rt_fail records a
 * failure as the calling thread's message and returns s; rt_clear_error
 * records a success; rt_error is the current message ("" when none). */
void rt_errors_init(tsr_context *ctx);
void rt_errors_free(tsr_context *ctx);
tsr_status rt_fail(tsr_context *ctx, tsr_status s, const char *fmt, ...) TSR_PRINTF(3, 4);
tsr_status rt_fail_text(tsr_context *ctx, tsr_status s, const char *text);
void rt_clear_error(tsr_context *ctx);
const char *rt_error(tsr_context *ctx);

/* The dynamic shared memory limit (opt-in) of a target's GPUs, for devices
 * that have no GPU to ask. */

/* The DLPack form of a DType, and the DType of a DLPack dtype (false when
 * Tessera has none). */
DLDataType rt_dl_dtype(DType dt);
bool rt_dtype_from_dl(DLDataType d, DType *out);
void rt_dl_dtype_name(DLDataType d, char *buf, size_t n);

/* The lowest address and the size in bytes of the memory a tensor spans (0
 * bytes for a tensor without elements). False when that span does not fit
 * in 63 bits or in the address space around the data pointer; launch
 * validation refuses such tensors, so devices may assume true. */
bool rt_tensor_extent(const HostTensor *t, const char **lo, size_t *bytes);
/* How a launch may access a tensor (launch.c): with 16-byte vectors (data
 * and the strides of dims longer than 1 multiples of 16 bytes), and through
 * a tensor map (rt_tma_fit). The variant a launch picks follows from it. */
void rt_tensor_access(const HostTensor *h, bool *vectors, bool *tma);

/* Packs the kernel parameters of a launch per backend/abi.h (the tensor
 * maps of l->tma included) into buf and
 * points args[i] at slot i. offsets (NULL: natural alignment) and sizes
 * (NULL: not checked) describe the PTX's parameter list, nparams long (-1:
 * unknown). Returns false with a message when the PTX's list and the ABI
 * disagree (a compiler bug) or buf is too small. */
bool rt_pack_params(const TirFunc *f, const Launch *l, const size_t *offsets, const size_t *sizes, int nparams,
                    unsigned char *buf, size_t max, void **args, StrBuf *err);
/* The number of parameter slots of a launch of f and the bytes they take
 * naturally aligned (tensor maps at 64 bytes). */
int rt_param_slots(const TirFunc *f, const Launch *l, size_t *bytes);

/* Compiles (or reads from the JIT cache) the PTX of variant `which` of a
 * kernel and loads it on the device. */
tsr_status rt_prepare_variant(tsr_kernel *k, int which, StrBuf *err);
/* The variant for a launch's misaligned tensors and divisible dims: an
 * existing one for exactly those, a new one, or (when all places are taken)
 * the one that accesses every tensor element-wise and assumes nothing. */
int rt_variant_for(tsr_kernel *k, uint64_t unaligned, uint64_t divisible);

#endif
