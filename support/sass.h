/* The loops of a SASS listing (the text `nvdisasm -c` prints) and the
 * instruction counts along paths through one iteration: how the benchmark
 * (`tessera-bench ptxas`) and the tests measure a kernel's main loop.
 *
 * The listing is read as a control-flow graph of instructions: a branch
 * (BRA, JMP, or CALL.REL.NOINC to a local label, which ptxas uses for loop
 * exits) goes to its label, and to the next instruction too when it is
 * predicated; EXIT, RET, BRX and JMX end a path unless predicated; a CALL
 * to a function returns to the next instruction. Instructions not reached
 * from the first (subroutines, the trap loop after the code) are left out.
 * A loop is a back edge, a branch to an instruction that dominates it (the
 * header), and its body the natural loop: every instruction that reaches
 * the back edge without passing the header, out-of-line code ptxas places
 * after the kernel's end (mbarrier retry loops) included. */
#ifndef TSR_SASS_H
#define TSR_SASS_H

#include <stdbool.h>

typedef struct {
    int first, last;      /* instruction indices, in listing order: the lowest in the loop, and its last
                             back-edge branch */
    int instructions;     /* in the loop */
    int shortest, longest; /* instructions on the shortest and the longest path from the header to a
                              branch back to it (inner loops are counted once through) */
    int mma;              /* tensor-core instructions in it (HMMA, HGMMA) */
} SassLoop;

/* Finds up to max loops of the listing, in the order of their back edges,
 * and returns how many there are (which may exceed max); -1 when the
 * listing is too large to analyse (over a million instructions). */
int sass_loops(const char *listing, SassLoop *out, int max);

/* The main loop among n: of those with the most tensor-core instructions,
 * the innermost ones (holding no other such loop), and of those the first
 * in the listing: after loop splitting, the mask-free steady state, which
 * comes before the masked iterations. With no tensor-core instructions
 * anywhere, the longest loop. -1 when n is 0. */
int sass_main_loop(const SassLoop *loops, int n);

#endif
