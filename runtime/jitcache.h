/* The JIT cache: generated PTX on disk, so that a kernel compiled once is
 * loaded in milliseconds by later processes.
 *
 * An entry is one file, <dir>/<key>.tsrjit, where the key is the SHA-256 of
 * everything that can change the PTX: the source text, the defines, the
 * kernel, the target, the code generation options, and the compiler's
 * identity (tsr_version, the LLVM version, and a hash of the compiler's
 * sources taken at build time). The file holds a small text header (the key
 * again, the kernel's shared memory and threads, the tensor maps it takes
 * (TirFunc.tma, known only after code generation: one "map" line each), the
 * PTX's length, and a SHA-256 of the header's lines before it and of the
 * PTX) and the PTX.
 * Entries are written to a temporary file in the same directory and renamed
 * into place, so a reader never sees a partial entry; a damaged entry
 * (truncated, edited anywhere, threads that are not the kernel's) reads as a
 * miss and is rebuilt. */
#ifndef TSR_JITCACHE_H
#define TSR_JITCACHE_H

#include "sema.h"
#include "tir.h"
#include "tessera.h"

typedef struct {
    bool enabled;
    char *dir; /* malloc'd */
    tsr_cache_stats stats;
} JitCache;

typedef struct {
    const char *source;
    size_t len;
    const Define *defs;
    int ndefs;
    const char *kernel;
    const char *target;
    uint64_t unaligned; /* tensors accessed element by element (CodegenOptions) */
    uint64_t divisible; /* symbolic dims promised to be multiples of 8 */
    bool line_info;     /* .file/.loc in the PTX (CodegenOptions.line_info) */
    bool no_warp_specialize; /* CodegenOptions.no_warp_specialize */
    bool no_overlap;         /* CodegenOptions.no_overlap */
    bool no_pingpong;        /* CodegenOptions.no_pingpong */
    bool persistent;         /* CodegenOptions.persistent */
} JitKeyInput;

typedef struct {
    char *ptx; /* malloc'd */
    size_t smem_bytes;
    int threads;
    TmaRequest *tma; /* malloc'd (NULL when ntma is 0): the kernel's tensor-map parameters */
    int ntma;
} JitEntry;

/* The most tensor maps an entry may list (each is a kernel parameter). */
enum { JIT_MAX_TMA = 64 };

/* Resolves the directory (dir, else TESSERA_CACHE_DIR, else
 * $XDG_CACHE_HOME/tessera, else $HOME/.cache/tessera) and whether the cache
 * is on (mode, else TESSERA_CACHE=0 turns it off). */
void jit_cache_open(JitCache *c, tsr_cache_mode mode, const char *dir);
void jit_cache_close(JitCache *c);

void jit_key(const JitKeyInput *in, char hex[65]);

/* The most dynamic shared memory an entry may claim (no GPU has 1 MB). */
enum { JIT_MAX_SMEM = 1 << 20 };

/* Reads entry `key` of a kernel whose warps are `threads` threads, to which
 * code generation may add `extra_threads` (a producer warpgroup): true on a
 * hit, with e->ptx and e->tma malloc'd. The requests are only checked for
 * their form here; the caller checks them against the kernel. A damaged
 * entry, or one whose threads are neither, is counted as corrupt and reads
 * as a miss. */
bool jit_cache_get(JitCache *c, const char *key, int threads, int extra_threads, JitEntry *e);
/* Stores an entry, atomically; failures only count in the statistics. */
void jit_cache_put(JitCache *c, const char *key, const JitEntry *e);
/* The path of an entry (for tests and messages). */
void jit_cache_path(const JitCache *c, const char *key, StrBuf *out);

#endif
