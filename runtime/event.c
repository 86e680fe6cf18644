/* Events (tsr_event_*): points in a stream's work whose elapsed times measure
 * it. On cuda each event is a CUevent (device/cuda.c); on emu and interp, whose
 * launches complete before they return, recording reads the host's monotonic
 * clock. A context keeps its live events in a list and destroys them with
 * itself. Errors are reported on the context. */
#define _POSIX_C_SOURCE 200809L
#include "device/device.h"

#include <time.h>

struct tsr_event {
    tsr_context *ctx; /* NULL once the context is destroyed: only tsr_event_destroy is left */
    tsr_allocator alloc;
    void *handle; /* the device's event; NULL on host devices */
    bool recorded;
    double host_ms; /* host devices: the monotonic clock when recorded */
    tsr_event *prev, *next;
};

static double host_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Moves the message of a device call that failed onto the context. */
static tsr_status on_context(tsr_context *ctx, tsr_status s, StrBuf *err)
{
    if (s != TSR_OK)
        rt_fail_text(ctx, s, err->data);
    sb_free(err);
    return s;
}

tsr_status tsr_event_create(tsr_context *ctx, tsr_event **out)
{
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (!out)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_event_create: out is NULL");
    *out = NULL;
    tsr_event *ev = rt_alloc(ctx, sizeof *ev);
    if (!ev)
        return rt_fail(ctx, TSR_ERR_OUT_OF_MEMORY, "out of host memory");
    ev->ctx = ctx;
    ev->alloc = ctx->alloc;
    if (ctx->dev->event_create) {
        StrBuf err;
        sb_init_soft(&err);
        s = on_context(ctx, ctx->dev->event_create(ctx, &ev->handle, &err), &err);
        if (s != TSR_OK) {
            rt_free(ctx, ev, sizeof *ev);
            return s;
        }
    }
    pthread_mutex_lock(&ctx->work_lock);
    ev->next = ctx->events;
    if (ctx->events)
        ctx->events->prev = ev;
    ctx->events = ev;
    pthread_mutex_unlock(&ctx->work_lock);
    *out = ev;
    return TSR_OK;
}

/* Frees the device's event and takes ev off the context's list; the handle
 * stays for tsr_event_destroy. */
static void event_release(tsr_event *ev)
{
    tsr_context *ctx = ev->ctx;
    if (ev->handle)
        ctx->dev->event_destroy(ctx, ev->handle);
    pthread_mutex_lock(&ctx->work_lock);
    if (ev->prev)
        ev->prev->next = ev->next;
    else
        ctx->events = ev->next;
    if (ev->next)
        ev->next->prev = ev->prev;
    pthread_mutex_unlock(&ctx->work_lock);
    ev->handle = NULL;
    ev->ctx = NULL;
}

void tsr_event_destroy(tsr_event *ev)
{
    if (!ev)
        return;
    if (ev->ctx)
        event_release(ev);
    tsr_allocator a = ev->alloc; /* the context may be gone already */
    a.free(a.user, ev, sizeof *ev);
}

void rt_events_release(tsr_context *ctx)
{
    while (ctx->events)
        event_release(ctx->events);
}

tsr_status tsr_event_record(tsr_event *ev, void *stream)
{
    if (!ev || !ev->ctx)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_context *ctx = ev->ctx;
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (ev->handle) {
        StrBuf err;
        sb_init_soft(&err);
        s = on_context(ctx, ctx->dev->event_record(ctx, ev->handle, stream, &err), &err);
    } else {
        ev->host_ms = host_clock_ms();
    }
    if (s == TSR_OK)
        ev->recorded = true;
    return s;
}

tsr_status tsr_event_synchronize(tsr_event *ev)
{
    if (!ev || !ev->ctx)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_context *ctx = ev->ctx;
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (!ev->recorded)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_event_synchronize: the event was never recorded");
    if (!ev->handle)
        return TSR_OK;
    StrBuf err;
    sb_init_soft(&err);
    return on_context(ctx, ctx->dev->event_sync(ctx, ev->handle, &err), &err);
}

tsr_status tsr_event_elapsed_ms(tsr_event *start, tsr_event *end, float *ms)
{
    if (!start || !end || !start->ctx || !end->ctx)
        return TSR_ERR_INVALID_ARGUMENT;
    tsr_context *ctx = start->ctx;
    tsr_status s = rt_enter(ctx);
    if (s != TSR_OK)
        return s;
    if (end->ctx != ctx)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT,
                       "tsr_event_elapsed_ms: the two events belong to different contexts");
    if (!ms)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_event_elapsed_ms: ms is NULL");
    if (!start->recorded || !end->recorded)
        return rt_fail(ctx, TSR_ERR_INVALID_ARGUMENT, "tsr_event_elapsed_ms: the %s event was never recorded",
                       start->recorded ? "end" : "start");
    if (!start->handle) {
        *ms = (float)(end->host_ms - start->host_ms);
        return TSR_OK;
    }
    StrBuf err;
    sb_init_soft(&err);
    s = ctx->dev->event_sync(ctx, end->handle, &err);
    if (s == TSR_OK)
        s = ctx->dev->event_elapsed(ctx, start->handle, end->handle, ms, &err);
    return on_context(ctx, s, &err);
}
