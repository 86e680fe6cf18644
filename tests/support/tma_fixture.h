/* A kernel that takes a tensor map, before code generation makes any: the
 * DSL kernel `tma_copy` (B = A, rows of 64 f16, a block of 64 rows per
 * program) whose aligned variant's JIT cache entry is replaced by
 * hand-written sm_90a PTX with the same parameters plus one tensor map of A
 * (box 64 x 64, 128B swizzle): the PTX loads its block by TMA on an
 * mbarrier and stores it to B. The runtime's whole tensor-map path runs on
 * it: requests read from the cache entry, maps encoded per launch, packed as
 * grid-constant parameters. Other variants (tensors TMA cannot take) are
 * compiled by Tessera and take no map. */
#ifndef TSR_TMA_FIXTURE_H
#define TSR_TMA_FIXTURE_H

#include "tessera.h"
#include "tir.h"

extern const char tma_fixture_src[];
extern const TmaRequest tma_fixture_request;

/* Writes the entry into the cache directory `dir` for `target`, with
 * `requests` (NULL: tma_fixture_request, the one the PTX uses). */
void tma_fixture_install(const char *dir, const char *target, const TmaRequest *requests, int n);

/* Fills A (M rows of `stride` elements, 64 used) with distinct values and B
 * (M x 64, contiguous) with a poison pattern; describes both. */
typedef struct {
    int64_t m, stride;
    uint16_t *a, *b;
    int64_t a_shape[2], a_strides[2], b_shape[2];
    DLTensor ta, tb;
} TmaFixtureData;
void tma_fixture_data(TmaFixtureData *d, int64_t m, int64_t stride, void *a_mem, void *b_mem);
/* How many elements of B differ from A. */
int tma_fixture_mismatches(const TmaFixtureData *d, const uint16_t *b);

#endif
