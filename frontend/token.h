/* Tokens of the Tessera language, produced by the re2c lexer (lexer.re). */
#ifndef TSR_TOKEN_H
#define TSR_TOKEN_H

#include "diag.h"

#define TSR_TOKENS(X)                                                                  \
    X(EOF, "end of file") X(ERROR, "invalid token") X(IDENT, "identifier")             \
    X(INT, "integer literal") X(FLOAT, "float literal")                                \
    X(KW_KERNEL, "'kernel'") X(KW_LET, "'let'") X(KW_VAR, "'var'") X(KW_FOR, "'for'")  \
    X(KW_IN, "'in'") X(KW_STEP, "'step'") X(KW_PIPELINE, "'pipeline'")                 \
    X(KW_IF, "'if'") X(KW_ELSE, "'else'") X(KW_GRID, "'grid'") X(KW_WARPS, "'warps'")  \
    X(KW_OUT, "'out'") X(KW_TRUE, "'true'") X(KW_FALSE, "'false'") X(KW_INF, "'inf'")  \
    X(KW_NONE, "'None'") X(KW_TYPE, "'type'") X(KW_INT, "'int'") X(KW_FLOAT, "'float'")\
    X(KW_F16, "'f16'") X(KW_BF16, "'bf16'") X(KW_F32, "'f32'") X(KW_I32, "'i32'")      \
    X(KW_BOOL, "'bool'") X(KW_I8, "'i8'") X(KW_U8, "'u8'") X(KW_U32, "'u32'")           \
    X(KW_I64, "'i64'") X(KW_E4M3, "'e4m3'") X(KW_E5M2, "'e5m2'")                       \
    X(KW_WHILE, "'while'") X(KW_BREAK, "'break'")                                      \
    X(KW_CONTINUE, "'continue'") X(KW_RETURN, "'return'")                              \
    X(LPAREN, "'('") X(RPAREN, "')'") X(LBRACK, "'['") X(RBRACK, "']'")                \
    X(LBRACE, "'{'") X(RBRACE, "'}'") X(COMMA, "','") X(SEMI, "';'") X(COLON, "':'")   \
    X(DOTDOT, "'..'") X(QUESTION, "'?'") X(PLUS, "'+'") X(MINUS, "'-'")                \
    X(STAR, "'*'") X(SLASH, "'/'") X(PERCENT, "'%'") X(BANG, "'!'") X(ASSIGN, "'='")   \
    X(EQ, "'=='") X(NE, "'!='") X(LT, "'<'") X(LE, "'<='") X(GT, "'>'") X(GE, "'>='")  \
    X(ANDAND, "'&&'") X(OROR, "'||'") X(AMP, "'&'") X(PIPE, "'|'") X(CARET, "'^'")     \
    X(TILDE, "'~'") X(SHL, "'<<'") X(SHR, "'>>'") X(STRING, "string literal")

typedef enum {
#define X(name, text) TK_##name,
    TSR_TOKENS(X)
#undef X
    TK_COUNT
} TokKind;

typedef struct {
    TokKind kind;
    SrcPos pos;
    const char *start; /* points into the source */
    int len;
    const char *error; /* for TK_ERROR: what is wrong */
} Token;

typedef struct {
    const char *text; /* NUL-terminated */
    size_t len;
    const char *cur;
    int line;
    const char *line_start;
    /* Columns count characters, not bytes: the UTF-8 continuation bytes
     * between line_start and col_at (positions are asked for in order, so
     * each byte is looked at once). */
    const char *col_at;
    int col_cont;
} Lexer;

void lexer_init(Lexer *lx, const Source *src);
/* Returns the next token; TK_EOF at the end (repeatedly). */
Token lexer_next(Lexer *lx);
const char *tok_kind_name(TokKind k);     /* e.g. "'('" or "identifier" */
const char *tok_kind_ident(TokKind k);    /* e.g. "LPAREN", for token dumps */
/* The message of a TK_ERROR token, with the offending text where it helps
 * (e.g. "unexpected character '@'"). */
void tok_error_message(const Token *t, StrBuf *out);

#endif
