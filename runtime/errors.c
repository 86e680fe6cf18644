/* The error model of the API: every call that returns a tsr_status records
 * its outcome on the context it works on (directly, or through a module,
 * kernel or event of it), for the calling thread only. A success clears the
 * thread's message; a failure replaces it. So threads launching on one
 * context at once never see each other's messages.
 *
 * A message stays allocated until the second failure after it (in that
 * thread, on that context): a success frees nothing, so the string
 * tsr_context_error returned before a call is still readable after it, and
 * `f(call(ctx), tsr_context_error(ctx))` never reads freed memory, whatever
 * order C evaluates the arguments in. Messages live in the context's
 * allocator; when that runs out, a fixed text says so. The thread that made
 * the context has its slot inside it, so its messages never need memory
 * they might not get. */
#define _POSIX_C_SOURCE 200809L
#include "rt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>


static char lost[] = "out of host memory (the message of the failure could not be kept)";

void rt_errors_init(tsr_context *ctx)
{
    pthread_mutex_init(&ctx->lock, NULL);
    memset(&ctx->first_slot, 0, sizeof ctx->first_slot);
    ctx->first_slot.thread = pthread_self();
    ctx->errors = &ctx->first_slot;
}

static void drop(tsr_context *ctx, char *text, size_t size)
{
    if (text && size)
        rt_free(ctx, text, size);
}

void rt_errors_free(tsr_context *ctx)
{
    while (ctx->errors) {
        ErrSlot *e = ctx->errors;
        ctx->errors = e->next;
        drop(ctx, e->cur, e->cur_size);
        drop(ctx, e->prev, e->prev_size);
        if (e != &ctx->first_slot)
            rt_free(ctx, e, sizeof *e);
    }
    pthread_mutex_destroy(&ctx->lock);
}

/* The calling thread's slot; made when `make` (NULL when memory ran out).
 * ctx->lock is held. */
static ErrSlot *slot(tsr_context *ctx, bool make)
{
    pthread_t self = pthread_self();
    for (ErrSlot *e = ctx->errors; e; e = e->next)
        if (pthread_equal(e->thread, self))
            return e;
    ErrSlot *e = make ? rt_alloc(ctx, sizeof *e) : NULL;
    if (e) {
        e->thread = self;
        e->next = ctx->errors;
        ctx->errors = e;
    }
    return e;
}

/* Makes text (size bytes allocated, 0 for a static text) the thread's
 * message; the one before stays allocated until the next failure. */
static void install(tsr_context *ctx, char *text, size_t size)
{
    pthread_mutex_lock(&ctx->lock);
    ErrSlot *e = slot(ctx, true);
    if (e) {
        drop(ctx, e->prev, e->prev_size);
        e->prev = e->cur;
        e->prev_size = e->cur_size;
        e->cur = text;
        e->cur_size = size;
        e->cleared = false;
    } else {
        drop(ctx, text, size);
        ctx->lost_message = true;
    }
    pthread_mutex_unlock(&ctx->lock);
}

void rt_clear_error(tsr_context *ctx)
{
    pthread_mutex_lock(&ctx->lock);
    ErrSlot *e = slot(ctx, false);
    if (e)
        e->cleared = true; /* freed by the failures to come, not now */
    pthread_mutex_unlock(&ctx->lock);
}

tsr_status rt_fail_text(tsr_context *ctx, tsr_status s, const char *text)
{
    size_t n = strlen(text ? text : "") + 1;
    char *copy = rt_alloc(ctx, n);
    if (copy)
        memcpy(copy, text ? text : "", n);
    install(ctx, copy ? copy : lost, copy ? n : 0);
    return s;
}

tsr_status rt_fail(tsr_context *ctx, tsr_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = n >= 0 ? rt_alloc(ctx, (size_t)n + 1) : NULL;
    if (text) {
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    install(ctx, text ? text : lost, text ? (size_t)n + 1 : 0);
    return s;
}

const char *rt_error(tsr_context *ctx)
{
    pthread_mutex_lock(&ctx->lock);
    ErrSlot *e = slot(ctx, false);
    /* A thread whose slot could not be made has no message of its own. */
    const char *text = !e ? (ctx->lost_message ? lost : "") : e->cur && !e->cleared ? e->cur : "";
    pthread_mutex_unlock(&ctx->lock);
    return text;
}
