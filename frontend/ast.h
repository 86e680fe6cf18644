/* The abstract syntax tree of a Tessera source file. Every node keeps its
 * source position so that later stages can report errors at the right place.
 * Nodes live in the parser's arena. */
#ifndef TSR_AST_H
#define TSR_AST_H

#include "arena.h"
#include "token.h"

typedef struct AstNode AstNode;
typedef VEC(AstNode *) AstList;

typedef enum {
    /* expressions */
    AST_INT,     /* ival */
    AST_FLOAT,   /* fval */
    AST_BOOL,    /* ival: 0 or 1 */
    AST_INF,     /* the constant inf */
    AST_NAME,    /* name */
    AST_DTYPE,   /* a dtype keyword used as a value (cast callee): ival = DType */
    AST_UNARY,   /* op a */
    AST_BINARY,  /* a op b */
    AST_TERNARY, /* a ? b : c */
    AST_CALL,    /* name<targs>[shape](args); has_shape/has_args say which parts were written */
    AST_INDEX,   /* a[args]: items are expressions or AST_SLICE / AST_NEWAXIS / AST_FULL */
    AST_SLICE,   /* a : +b inside an index */
    AST_FULL,    /* ':' inside an index */
    AST_NEWAXIS, /* None inside an index */
    AST_STRING,  /* "text": name, without the quotes (only as an argument of device_print, device_assert) */
    /* statements */
    AST_LET,    /* let name = a; */
    AST_VAR,    /* var name = a; */
    AST_ASSIGN, /* a = b; or a = b if c; (a is a name or an index of a name; c: a mask) */
    AST_FOR,    /* for name in a .. b step c pipeline(d, overlap = else_, pingpong = e) body; ival: loop depth (sema) */
    AST_WHILE,  /* while a body; ival: loop depth (sema) */
    AST_JUMP,   /* break, continue or return (op: the keyword); ival: the depth of the loop it leaves (sema) */
    AST_IF,     /* if a body else_ (else_ is a block, another if, or NULL) */
    AST_BLOCK,  /* { args } */
    AST_EXPR,   /* a; */
} AstKind;

struct AstNode {
    AstKind kind;
    SrcPos pos;
    TokKind op;
    const char *name;
    int64_t ival;
    double fval;
    AstNode *a, *b, *c, *d;
    AstNode *body, *else_;
    AstNode *e; /* AST_FOR: the pipeline's pingpong option */
    AstList args;  /* call arguments, index items, block statements */
    AstList targs; /* call <...> arguments */
    AstList shape; /* call [...] shape */
    bool has_targs, has_shape, has_args;
};

typedef enum { CPARAM_TYPE, CPARAM_INT, CPARAM_BOOL, CPARAM_FLOAT } CParamKind;

typedef struct {
    const char *name;
    SrcPos pos;
    CParamKind kind;
    AstNode *deflt; /* may be NULL */
} AstCParam;

typedef struct {
    const char *name;
    SrcPos pos;
    bool is_out;
    AstNode *dtype;  /* AST_DTYPE or AST_NAME (a type parameter) */
    bool is_tensor;  /* written with [dims] */
    AstList dims;    /* each an expression; a bare unknown name is a symbolic dim */
} AstParam;

typedef struct {
    const char *name;
    SrcPos pos;
    VEC(AstCParam) cparams;
    VEC(AstParam) params;
    AstList grid;
    AstNode *warps; /* may be NULL: the default */
    AstNode *regs, *min_blocks; /* the resource clauses; NULL: the compiler's choice */
    /* schedule(AXIS, reverse = B): the order of a persistent kernel's
     * instances; NULL: none given (reverse NULL: false) */
    AstNode *schedule_axis, *schedule_reverse;
    AstNode *body;
} AstKernel;

typedef struct {
    VEC(AstKernel *) kernels;
} AstProgram;

/* Parses a whole source. Errors go to diag; the result is NULL only when no
 * kernel could be parsed at all. Nodes are allocated in arena. */
AstProgram *parse_program(Arena *arena, const Source *src, Diag *diag);

void ast_print(StrBuf *out, const AstProgram *prog);
void tokens_print(StrBuf *out, const Source *src);
const char *cparam_kind_name(CParamKind k);

#endif
