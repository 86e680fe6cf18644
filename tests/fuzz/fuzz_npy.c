/* libFuzzer entry for the .npy reader (support/npy.c): any bytes must be
 * read or refused with a message, never crash, read out of bounds, leak or
 * allocate more than the input holds; what is read must be consistent (its
 * size is the shape's) and must write back and read again to the same
 * array. `make fuzz` builds it as build-fuzz/fuzz_npy; seeds are made by
 * tests/fuzz/make-npy-seeds.sh. */
#include "npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    NpyArray a;
    char err[512];
    err[0] = 0;
    if (!npy_parse(data, size, &a, err, sizeof err)) {
        if (!err[0])
            abort(); /* a refusal must say why */
        return 0;
    }
    size_t want = (size_t)npy_numel(a.ndim, a.shape) * npy_elem_size(a.dtype);
    if (a.nbytes != want || (want && !a.data))
        abort();
    /* Written back, the array must read the same. */
    char head[NPY_MAX_WRITE_HEADER];
    size_t hlen = npy_header(a.dtype, a.ndim, a.shape, head);
    if (!hlen)
        abort();
    unsigned char *copy = malloc(hlen + a.nbytes + 1);
    memcpy(copy, head, hlen);
    if (a.nbytes)
        memcpy(copy + hlen, a.data, a.nbytes);
    NpyArray b;
    if (!npy_parse(copy, hlen + a.nbytes, &b, err, sizeof err) || b.ndim != a.ndim || b.nbytes != a.nbytes ||
        memcmp(b.shape, a.shape, sizeof(int64_t) * (size_t)a.ndim) || (a.nbytes && memcmp(a.data, b.data, a.nbytes)))
        abort();
    npy_free(&b);
    free(copy);
    npy_free(&a);
    return 0;
}
