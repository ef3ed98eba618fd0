/*
 * optim_api_impl.h - the public entry points of optim.h for one float type:
 * each forwards to the instruction-set variant of optim_impl.h that
 * crnn_get_isa() chose.  Included by optim_f64.c and optim_f32.c.
 */

#include "dispatch_macros.h"

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

#include "dispatch_macros_end.h"
