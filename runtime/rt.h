/* The runtime behind the public API (include/tessera.h): what a context, a
 * module and a kernel hold, and the interface each device implements.
 *
 *   context.c    contexts, errors, allocator hooks, buffers of host devices
 *   module.c     compiling (frontend, then PTX through the JIT cache), kernels
 *   launch.c     binding arguments, validation, launching
 *   jitcache.c   the on-disk cache of PTX
 *   dev_interp.c, dev_emu.c, cuda/cuda.c   the three devices
 *   attention.c  tsr_attention_forward, on the public API
 *   event.c      events (tsr_event_*): CUDA events on cuda, the host clock elsewhere
 */
#ifndef TSR_RT_H
#define TSR_RT_H

#include "compile.h"
#include "interp.h"
#include "jitcache.h"
#include "tessera.h"

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
} KernelVariant;

enum { VARIANT_ALIGNED = 0, MAX_VARIANTS = 8 };

typedef struct {
    bool set;
    DLTensor t; /* shape and strides point into the arrays below */
    int64_t shape[TSR_MAX_RANK], strides[TSR_MAX_RANK];
    double scalar;
} BoundArg;

struct tsr_kernel {
    tsr_module *mod;
    TirFunc *f;   /* the frontend's TIR (code generation works on its own copy) */
    Define *defs; /* the values of f's compile-time parameters (f->defines) */
    KernelVariant var[MAX_VARIANTS];
    char *tir_text, *llvm_ir; /* kept when asked (TSR_IR_*) */
    BoundArg *args;           /* one per parameter */
    StrBuf err;
};

struct tsr_module {
    tsr_context *ctx;
    TirModule *tir;
    char *source;
    size_t len;
    char *name;
    Define *defs;
    int ndefs;
    char target[16];
    unsigned kept_ir; /* TSR_IR_* */
    tsr_kernel **kernels;
    int nkernels, cap_kernels;
    tsr_module *prev, *next; /* the context's live modules */
    StrBuf err;
};

/* A validated launch: the arguments as host-side views (data pointers are
 * device addresses on cuda), the symbols' values and the grid. */
typedef struct {
    KernelArg *args;
    int nargs;
    int32_t *syms;
    int64_t grid[3];
    uint64_t unaligned; /* tensors that need element-wise accesses (bit i: parameter i) */
    uint64_t divisible; /* symbolic dims that are multiples of 8 (bit s: sym s) */
} Launch;

typedef struct {
    void *ptr;
    size_t size;
} Allocation;

typedef struct AttnEntry AttnEntry;

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
    int max_threads;   /* per block */
    int64_t max_grid[3]; /* blocks per grid dimension */
    JitCache cache;
    Allocation *allocs; /* buffers of tsr_malloc */
    int nallocs, cap_allocs;
    AttnEntry *attn; /* attention modules compiled so far (attention.c) */
    tsr_module *modules; /* live modules, destroyed with the context */
    tsr_event *events;   /* live events (event.c), destroyed with the context */
    StrBuf err;
};

/* What a device provides. Functions return a status and append a message to
 * err on failure. */
struct DeviceOps {
    const char *name;
    tsr_device_kind kind;
    bool runs_ptx; /* loads PTX (cuda, emu) rather than running TIR (interp) */
    /* Sets up ctx->dev_state, device_name, default_target, dl_device and
     * the limits max_threads and max_grid. */
    tsr_status (*open)(tsr_context *ctx, StrBuf *err);
    void (*close)(tsr_context *ctx);
    /* Loads v->ptx (kernel `name`) and fills v->handle and v->attrs. */
    tsr_status (*load)(tsr_context *ctx, const char *name, KernelVariant *v, StrBuf *err);
    void (*unload)(tsr_context *ctx, KernelVariant *v);
    /* Device checks of one tensor argument beyond the generic ones (NULL: none). */
    tsr_status (*check_tensor)(tsr_context *ctx, const char *param, const HostTensor *t, StrBuf *err);
    tsr_status (*launch)(tsr_context *ctx, tsr_kernel *k, KernelVariant *v, const Launch *l, void *stream,
                         StrBuf *err);
    tsr_status (*mem_alloc)(tsr_context *ctx, size_t bytes, void **ptr, StrBuf *err);
    tsr_status (*mem_free)(tsr_context *ctx, void *ptr, size_t bytes, StrBuf *err);
    tsr_status (*mem_copy)(tsr_context *ctx, void *dst, const void *src, size_t bytes, tsr_copy_kind kind,
                           void *stream, StrBuf *err);
    tsr_status (*mem_set)(tsr_context *ctx, void *dst, int value, size_t bytes, void *stream, StrBuf *err);
    tsr_status (*sync)(tsr_context *ctx, void *stream, bool whole_context, StrBuf *err);
    /* Events (event.c); NULL on the host devices, whose events read the
     * host's clock. */
    tsr_status (*event_create)(tsr_context *ctx, void **handle, StrBuf *err);
    void (*event_destroy)(tsr_context *ctx, void *handle);
    tsr_status (*event_record)(tsr_context *ctx, void *handle, void *stream, StrBuf *err);
    tsr_status (*event_sync)(tsr_context *ctx, void *handle, StrBuf *err);
    tsr_status (*event_elapsed)(tsr_context *ctx, void *start, void *end, float *ms, StrBuf *err);
};

extern const DeviceOps rt_interp_device;
extern const DeviceOps rt_emu_device;
extern const DeviceOps rt_cuda_device;

/* Sets up a context of a host device (emu, interp): its name, the CPU as
 * the DLPack device, and the limits a GPU has. */
void rt_host_open(tsr_context *ctx, const char *name);
/* The buffers of host devices (emu, interp): allocator memory. */
tsr_status rt_host_alloc(tsr_context *ctx, size_t bytes, void **ptr, StrBuf *err);
tsr_status rt_host_free(tsr_context *ctx, void *ptr, size_t bytes, StrBuf *err);
tsr_status rt_host_copy(tsr_context *ctx, void *dst, const void *src, size_t bytes, tsr_copy_kind kind, void *stream,
                        StrBuf *err);
tsr_status rt_host_set(tsr_context *ctx, void *dst, int value, size_t bytes, void *stream, StrBuf *err);
tsr_status rt_host_sync(tsr_context *ctx, void *stream, bool whole_context, StrBuf *err);

/* TSR_OK when ctx can be used; otherwise why not (message on the context). */
tsr_status rt_context_usable(tsr_context *ctx);

/* Destroys the attention modules kept by the context (attention.c). */
void rt_attention_release(tsr_context *ctx);
/* Destroys the events still live (event.c). */
void rt_events_release(tsr_context *ctx);

/* Memory from the context's allocator (zeroed); rt_free takes the size. */
void *rt_alloc(tsr_context *ctx, size_t size);
void rt_free(tsr_context *ctx, void *p, size_t size);

/* Records a failure: replaces the handle's message and returns s. */
tsr_status rt_fail(StrBuf *msg, tsr_status s, const char *fmt, ...) TSR_PRINTF(3, 4);
/* Replaces the handle's message with text. */
tsr_status rt_fail_text(StrBuf *msg, tsr_status s, const char *text);

/* The dynamic shared memory limit (opt-in) of a target's GPUs, for devices
 * that have no GPU to ask. */

/* The DLPack form of a DType, and the DType of a DLPack dtype (false when
 * Tessera has none). */
DLDataType rt_dl_dtype(DType dt);
bool rt_dtype_from_dl(DLDataType d, DType *out);
void rt_dl_dtype_name(DLDataType d, char *buf, size_t n);

/* The lowest address and the size in bytes of the memory a tensor spans. */
void rt_tensor_extent(const HostTensor *t, const char **lo, size_t *bytes);

/* Packs the kernel parameters of a launch per backend/abi.h into buf and
 * points args[i] at slot i. offsets (NULL: natural alignment) and sizes
 * (NULL: not checked) describe the PTX's parameter list, nparams long (-1:
 * unknown). Returns false with a message when the PTX's list and the ABI
 * disagree (a compiler bug) or buf is too small. */
bool rt_pack_params(const TirFunc *f, const Launch *l, const size_t *offsets, const size_t *sizes, int nparams,
                    unsigned char *buf, size_t max, void **args, StrBuf *err);
/* The number of parameter slots of f and the bytes they take naturally aligned. */
int rt_param_slots(const TirFunc *f, size_t *bytes);

/* Compiles (or reads from the JIT cache) the PTX of variant `which` of a
 * kernel and loads it on the device. */
tsr_status rt_prepare_variant(tsr_kernel *k, int which, StrBuf *err);
/* The variant for a launch's misaligned tensors and divisible dims: an
 * existing one for exactly those, a new one, or (when all places are taken)
 * the one that accesses every tensor element-wise and assumes nothing. */
int rt_variant_for(tsr_kernel *k, uint64_t unaligned, uint64_t divisible);

#endif
