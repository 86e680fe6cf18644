/* The reducer: shrinks a failing generated program to a small one that
 * fails the same way (same verdict), by deleting statements, unwrapping
 * blocks and ifs, replacing expressions by zeros or by one of their
 * operands, shrinking sizes, tiles and warps, and dropping unused
 * parameters. Every candidate is run through the caller's function
 * (fuzz-diff runs it in a child process, so crashes and hangs reduce too). */
#ifndef TSR_DIFFGEN_REDUCE_H
#define TSR_DIFFGEN_REDUCE_H

#include "check.h"
#include "gen.h"

typedef Verdict (*ReduceRun)(const Program *p, void *ctx);

/* Shrinks p in place for at most `seconds`; returns the number of
 * candidates tried. */
int reduce_program(Program *p, Verdict want, ReduceRun run, void *ctx, double seconds);

#endif
