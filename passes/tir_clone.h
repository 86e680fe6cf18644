/* Copies of TIR instructions with their values renamed, for the passes that
 * duplicate code (loop splitting, loop rotation). A Cloner maps each value
 * that existed when it was set up to the value standing for it in the copy
 * being built; values it does not map stand for themselves. */
#ifndef TSR_TIR_CLONE_H
#define TSR_TIR_CLONE_H

#include "tir.h"

typedef struct {
    TirFunc *f;
    Arena *arena;
    ValId *to; /* per value: its copy, or TIR_NONE */
    int nto;
} Cloner;

/* Maps nothing yet; covers the values f has now. */
void cloner_init(Cloner *c, TirFunc *f, Arena *arena);
/* What stands for v in the copy. */
ValId cloner_get(const Cloner *c, ValId v);
/* Makes `to` stand for `from` (which existed at cloner_init); `to` takes
 * from's layout. */
void cloner_map(Cloner *c, ValId from, ValId to);
/* Appends to block b a copy of instruction id, its arguments renamed and
 * its nested blocks copied; its results are mapped to the copy's. */
InstId cloner_inst(Cloner *c, InstId id, BlockId b);

/* Calls loop(ctx, b, i) for every FOR of block b and of the blocks nested
 * in it, innermost first (the loops inside a loop's body before the loop),
 * where the FOR is instruction i of block b. loop returns -1 when it left
 * the code as it was, else the index in b of the last instruction it dealt
 * with (the walk goes on after it: past code it added). Returns whether any
 * call changed the code. */
bool tir_each_loop_inner_first(TirFunc *f, BlockId b, int (*loop)(void *ctx, BlockId b, int i), void *ctx);

#endif
