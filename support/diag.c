/* Formatting of diagnostics with the source line and a caret. */
#include "diag.h"

#include <stdio.h>

void diag_init(Diag *d, const Source *src)
{
    d->src = src;
    sb_init(&d->out);
    d->nerrors = 0;
    d->max_errors = 20;
    d->api_defines = false;
    d->out_of_memory = false;
}

void diag_free(Diag *d) { sb_free(&d->out); }

bool diag_full(const Diag *d) { return d->nerrors >= (d->max_errors ? d->max_errors : 20); }

static void show_line(Diag *d, SrcPos pos)
{
    const Source *s = d->src;
    if (!s || !s->text || pos.line <= 0)
        return;
    size_t off = (size_t)pos.off <= s->len ? (size_t)pos.off : s->len;
    size_t start = off, end = off;
    while (start > 0 && s->text[start - 1] != '\n')
        start--;
    while (end < s->len && s->text[end] != '\n' && s->text[end] != 0)
        end++;
    sb_putn(&d->out, s->text + start, end - start);
    sb_putc(&d->out, '\n');
    for (size_t i = start; i < off; i++) /* one space per character, tabs kept */
        if (((unsigned char)s->text[i] & 0xC0) != 0x80)
            sb_putc(&d->out, s->text[i] == '\t' ? '\t' : ' ');
    sb_puts(&d->out, "^\n");
}

static void emit(Diag *d, SrcPos pos, const char *kind, const char *fmt, va_list ap)
{
    const char *name = d->src && d->src->name ? d->src->name : "<input>";
    sb_printf(&d->out, "%s:%d:%d: %s: ", name, pos.line, pos.col, kind);
    sb_vprintf(&d->out, fmt, ap);
    sb_putc(&d->out, '\n');
    show_line(d, pos);
}

void diag_verror(Diag *d, SrcPos pos, const char *fmt, va_list ap)
{
    if (diag_full(d)) {
        d->nerrors++;
        return;
    }
    d->nerrors++;
    emit(d, pos, "error", fmt, ap);
    if (diag_full(d))
        sb_puts(&d->out, "too many errors; stopping\n");
}

void diag_error(Diag *d, SrcPos pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, pos, fmt, ap);
    va_end(ap);
}

void diag_note(Diag *d, SrcPos pos, const char *fmt, ...)
{
    if (diag_full(d))
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(d, pos, "note", fmt, ap);
    va_end(ap);
}

void diag_error_nopos(Diag *d, const char *fmt, ...)
{
    d->nerrors++;
    sb_puts(&d->out, "tessera: error: ");
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&d->out, fmt, ap);
    va_end(ap);
    sb_putc(&d->out, '\n');
}
