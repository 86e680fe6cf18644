/* A small seeded random generator (splitmix64) for the inputs the benchmark,
 * `tessera run` and the tests make: the same seed gives the same numbers on
 * every machine. */
#ifndef TSR_RNG_H
#define TSR_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t s;
} SplitMix;

static inline uint64_t splitmix_next(SplitMix *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 bits. */
static inline double splitmix_uniform(SplitMix *r) { return (double)(splitmix_next(r) >> 11) * 0x1.0p-53; }

/* Standard normal (Box-Muller on two uniforms; u = 0 taken as 2^-60). */
static inline double splitmix_normal(SplitMix *r)
{
    double u = splitmix_uniform(r), v = splitmix_uniform(r);
    return sqrt(-2.0 * log(u > 0 ? u : 0x1.0p-60)) * cos(6.283185307179586 * v);
}

#endif
