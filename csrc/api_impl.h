/*
 * api_impl.h - the public entry points for one float type: each forwards to
 * the instruction-set variant chosen by crnn_get_isa() (dispatch.c).
 * Included by kernels_f64.c / kernels_f32.c after the variants.
 */

#include "dispatch_macros.h"

double PUBLIC(crnn_forward)(REAL *work, REAL *h_last, const REAL *params,
                            const int32_t *inputs, const int32_t *targets,
                            const REAL *h0, int B, int T, int H, int V,
                            int n_threads)
{
    DISPATCH(crnn_forward, (work, h_last, params, inputs, targets, h0, B, T,
                            H, V, n_threads))
}

void PUBLIC(crnn_backward)(REAL *grads, REAL *dh0, REAL *work,
                           const REAL *params, const int32_t *inputs,
                           const int32_t *targets, int B, int T, int H, int V,
                           int n_threads)
{
    DISPATCH_VOID(crnn_backward, (grads, dh0, work, params, inputs, targets, B, T,
                             H, V, n_threads))
}

void PUBLIC(crnn_clip)(REAL *g, REAL limit, size_t n)
{
    DISPATCH_VOID(crnn_clip, (g, limit, n))
}

void PUBLIC(crnn_adagrad)(REAL *p, REAL *mem, const REAL *g, REAL lr,
                          REAL eps, size_t n)
{
    DISPATCH_VOID(crnn_adagrad, (p, mem, g, lr, eps, n))
}

double PUBLIC(crnn_train_step)(REAL *params, REAL *mem, REAL *grads,
                               REAL *work, REAL *h, const int32_t *inputs,
                               const int32_t *targets, REAL lr, REAL clip,
                               REAL eps, int B, int T, int H, int V,
                               int n_threads)
{
    DISPATCH(crnn_train_step, (params, mem, grads, work, h, inputs, targets,
                               lr, clip, eps, B, T, H, V, n_threads))
}

void PUBLIC(crnn_sample)(int32_t *out, REAL *h, REAL *work,
                         const REAL *params, int32_t x0,
                         const double *uniforms, double temperature, int n,
                         int H, int V)
{
    DISPATCH_VOID(crnn_sample, (out, h, work, params, x0, uniforms, temperature, n,
                           H, V))
}

void PUBLIC(crnn_trace)(REAL *states, REAL *probs, REAL *work,
                        const REAL *params, const int32_t *inputs,
                        const REAL *h0, int T, int H, int V)
{
    DISPATCH_VOID(crnn_trace, (states, probs, work, params, inputs, h0, T, H, V))
}

void PUBLIC(crnn_tanh)(REAL *x, size_t n)
{
    DISPATCH_VOID(crnn_vtanh, (x, n))
}

void PUBLIC(crnn_exp)(REAL *x, size_t n)
{
    DISPATCH_VOID(crnn_vexp, (x, n))
}

#include "dispatch_macros_end.h"
