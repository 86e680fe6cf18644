/* Running out of memory in the compiler without aborting the process.
 *
 * The compile driver runs each stage under oom_run. An allocation that fails
 * inside (tsr_xmalloc and friends, arena chunks) frees what the code
 * registered with oom_defer, then unwinds to oom_run (longjmp), which
 * returns false; outside oom_run it stays an internal error (abort). So the
 * rule inside a guarded stage: heap memory that lives across an allocation
 * is registered, or is owned by something registered (a TirFunc, a
 * TirModule, an arena from oom_arena_open). A StrBuf that cannot grow does
 * not unwind (its owner may be a local about to be freed): it keeps what it
 * has, drops the rest, and oom_run reports the failure when the stage ends;
 * code that hands such text on (inline PTX to LLVM) checks sb_failed first.
 *
 * Only Tessera's own allocations are covered: LLVM's (the optimizer and
 * NVPTX) end the process when they fail, as LLVM is built without
 * exceptions. The registrations are per thread, so threads compile
 * independently. */
#ifndef TSR_OOM_H
#define TSR_OOM_H

#include "arena.h"
#include "util.h"

#include <stdbool.h>

/* Runs fn(arg) as a guarded stage; false when memory ran out in it (what it
 * registered is freed; what fn left in caller-owned places up to the
 * failure is the caller's to free). Guards nest. */
bool oom_run(void (*fn)(void *arg), void *arg);

/* Registers fn(arg) to run if memory runs out before oom_undefer(slot).
 * Registrations are undone in reverse order. */
int oom_defer(void (*fn)(void *arg), void *arg);
void oom_undefer(int slot);
/* oom_defer(free, p), for scratch arrays; oom_free(slot, p) undoes it and
 * frees p. */
int oom_defer_free(void *p);
void oom_free(int slot, void *p);

/* An arena that is freed if memory runs out before oom_arena_close (for
 * arenas that would otherwise be local variables, which an unwind loses). */
Arena *oom_arena_open(void);
void oom_arena_close(Arena *a);
/* Ends the registration of a and hands its memory to the caller. */
Arena oom_arena_take(Arena *a);

/* For the allocation functions: memory ran out. oom_fail unwinds to the
 * innermost guard (an internal error without one); oom_note records a
 * failure that does not unwind (a StrBuf) and returns whether a guard will
 * report it (false: the caller aborts). */
TSR_NORETURN void oom_fail(size_t bytes);
bool oom_note(void);

#endif
