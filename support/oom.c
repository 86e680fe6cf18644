/* Guarded stages and their registrations (oom.h). The registrations live in
 * thread-local storage, not in the frames of the code that made them: an
 * unwind abandons those frames, and their locals must not be read after. */
#include "oom.h"
#include "util.h"

#include <setjmp.h>
#include <stdlib.h>

/* Deeper than any stage nests its registrations (a module, a function, an
 * emitter, a pass's scratch arrays). */
enum { MAX_DEFERRED = 64 };

typedef struct {
    void (*fn)(void *arg); /* NULL: the arena below */
    void *arg;
    Arena arena;
} Deferred;

typedef struct Guard {
    jmp_buf env;
    struct Guard *outer;
    int base;          /* registrations below this belong to outer stages */
    bool outer_failed; /* the outer stage's failure flag, restored at the end */
} Guard;

static _Thread_local struct {
    Guard *guard;
    Deferred deferred[MAX_DEFERRED];
    int depth;
    bool failed;
} st;

bool oom_run(void (*fn)(void *arg), void *arg)
{
    Guard g;
    g.outer = st.guard;
    g.base = st.depth;
    g.outer_failed = st.failed;
    st.guard = &g;
    st.failed = false;
    if (setjmp(g.env) == 0)
        fn(arg);
    if (st.depth != g.base)
        tsr_die("a guarded stage returned with %d registrations left", st.depth - g.base);
    bool failed = st.failed;
    st.guard = g.outer;
    st.failed = g.outer_failed;
    return !failed;
}

static int push(void (*fn)(void *arg), void *arg)
{
    if (st.depth == MAX_DEFERRED)
        tsr_die("more than %d out-of-memory registrations", MAX_DEFERRED);
    Deferred *d = &st.deferred[st.depth];
    d->fn = fn;
    d->arg = arg;
    arena_init(&d->arena);
    return st.depth++;
}

int oom_defer(void (*fn)(void *arg), void *arg)
{
    tsr_assert(fn);
    return push(fn, arg);
}

void oom_undefer(int slot)
{
    tsr_assert(slot == st.depth - 1);
    st.depth--;
}

int oom_defer_free(void *p) { return oom_defer(free, p); }

void oom_free(int slot, void *p)
{
    oom_undefer(slot);
    free(p);
}

Arena *oom_arena_open(void) { return &st.deferred[push(NULL, NULL)].arena; }

void oom_arena_close(Arena *a)
{
    tsr_assert(st.depth > 0 && a == &st.deferred[st.depth - 1].arena);
    arena_free(a);
    st.depth--;
}

Arena oom_arena_take(Arena *a)
{
    tsr_assert(st.depth > 0 && a == &st.deferred[st.depth - 1].arena);
    Arena kept = *a;
    st.depth--;
    return kept;
}

void oom_fail(size_t bytes)
{
    Guard *g = st.guard;
    if (!g)
        tsr_die("out of memory allocating %zu bytes", bytes);
    while (st.depth > g->base) {
        Deferred *d = &st.deferred[--st.depth];
        if (d->fn)
            d->fn(d->arg);
        else
            arena_free(&d->arena);
    }
    st.failed = true;
    longjmp(g->env, 1);
}

bool oom_note(void)
{
    if (!st.guard)
        return false;
    st.failed = true;
    return true;
}
