/*
 * optim_variants.h - compiles optim_impl.h once per instruction set for the
 * float type REAL / SUFFIX (as variants.h does for the model kernels), then
 * the public entry points of optim.h, each forwarding to the variant that
 * crnn_get_isa() chose.  Included by optim_f64.c and optim_f32.c.
 */

#define ISA _baseline
#define CRNN_VECTOR_BYTES 16
#include "optim_impl.h"
#undef ISA
#undef CRNN_VECTOR_BYTES

#if CRNN_MULTI_ISA
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define ISA _avx2
#define CRNN_VECTOR_BYTES 32
#include "optim_impl.h"
#undef ISA
#undef CRNN_VECTOR_BYTES
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma", "prefer-vector-width=512")
#define ISA _avx512
#define CRNN_VECTOR_BYTES 64
#include "optim_impl.h"
#undef ISA
#undef CRNN_VECTOR_BYTES
#pragma GCC pop_options
#endif

#define OAPI_CAT_(a, b, c) a##b##c
#define OAPI_CAT(a, b, c) OAPI_CAT_(a, b, c)
#define VARIANT(name, isa) OAPI_CAT(name, SUFFIX, isa)
#define PUBLIC(name) OAPI_CAT(name, SUFFIX, )

#if CRNN_MULTI_ISA
#define DISPATCH(name, args)                                                 \
    switch (crnn_get_isa()) {                                                \
    case CRNN_ISA_AVX512: return VARIANT(name, _avx512) args;                \
    case CRNN_ISA_AVX2: return VARIANT(name, _avx2) args;                    \
    default: return VARIANT(name, _baseline) args;                           \
    }
#else
#define DISPATCH(name, args) return VARIANT(name, _baseline) args;
#endif

/* "return f();" with f void is not ISO C: the void entry points call
 * through DISPATCH_VOID. */
#if CRNN_MULTI_ISA
#define DISPATCH_VOID(name, args)                                            \
    switch (crnn_get_isa()) {                                                \
    case CRNN_ISA_AVX512: VARIANT(name, _avx512) args; break;                \
    case CRNN_ISA_AVX2: VARIANT(name, _avx2) args; break;                    \
    default: VARIANT(name, _baseline) args; break;                           \
    }
#else
#define DISPATCH_VOID(name, args) VARIANT(name, _baseline) args;
#endif

double PUBLIC(crnn_sumsq)(const REAL *g, size_t n)
{
    DISPATCH(crnn_sumsq, (g, n))
}

void PUBLIC(crnn_scale)(REAL *g, REAL s, size_t n)
{
    DISPATCH_VOID(crnn_scale, (g, s, n))
}

void PUBLIC(crnn_update_adagrad)(REAL *p, REAL *sum, const REAL *g,
                                 const crnn_adagrad_hyper *h,
                                 crnn_grad_clip clip, size_t n)
{
    DISPATCH_VOID(crnn_update_adagrad, (p, sum, g, h, clip, n))
}

void PUBLIC(crnn_update_sgd)(REAL *p, REAL *buf, const REAL *g,
                             const crnn_sgd_hyper *h, crnn_grad_clip clip,
                             int64_t step, size_t n)
{
    DISPATCH_VOID(crnn_update_sgd, (p, buf, g, h, clip, step, n))
}

void PUBLIC(crnn_update_rmsprop)(REAL *p, REAL *square_avg, REAL *grad_avg,
                                 REAL *buf, const REAL *g,
                                 const crnn_rmsprop_hyper *h,
                                 crnn_grad_clip clip, size_t n)
{
    DISPATCH_VOID(crnn_update_rmsprop,
                  (p, square_avg, grad_avg, buf, g, h, clip, n))
}

void PUBLIC(crnn_update_adam)(REAL *p, REAL *exp_avg, REAL *exp_avg_sq,
                              REAL *max_exp_avg_sq, const REAL *g,
                              const crnn_adam_hyper *h, crnn_grad_clip clip,
                              int64_t step, size_t n)
{
    DISPATCH_VOID(crnn_update_adam, (p, exp_avg, exp_avg_sq, max_exp_avg_sq,
                                     g, h, clip, step, n))
}

#undef DISPATCH
#undef DISPATCH_VOID
#undef PUBLIC
#undef VARIANT
#undef OAPI_CAT
#undef OAPI_CAT_
