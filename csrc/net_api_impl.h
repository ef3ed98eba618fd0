/*
 * net_api_impl.h - the public network entry points (net.h) for one float
 * type: each forwards to the instruction-set variant chosen by
 * crnn_get_isa() (dispatch.c).
 */

#include "dispatch_macros.h"

int PUBLIC(crnn_net_forward)(double *loss, REAL *work, REAL *state_out,
                             const REAL *params, const int32_t *inputs,
                             const int32_t *targets, const REAL *state0,
                             const REAL *masks, REAL *states_seq,
                             REAL *probs_out, const volatile int *cancel,
                             int cell, int L, int B, int T, int H, int V,
                             int n_threads)
{
    DISPATCH(crnn_net_forward,
                 (loss, work, state_out, params, inputs, targets, state0,
                  masks, states_seq, probs_out, cancel, cell, L, B, T, H, V,
                  n_threads))
}

int PUBLIC(crnn_net_backward)(REAL *grads, REAL *dstate0, REAL *work,
                              const REAL *params, const int32_t *inputs,
                              const int32_t *targets, const REAL *masks,
                              const volatile int *cancel, int cell, int L,
                              int B, int T, int H, int V, int n_threads)
{
    DISPATCH(crnn_net_backward,
                 (grads, dstate0, work, params, inputs, targets, masks,
                  cancel, cell, L, B, T, H, V, n_threads))
}

void PUBLIC(crnn_net_sample)(int32_t *out, REAL *state, REAL *work,
                             const REAL *params, int32_t x0,
                             const double *uniforms, double temperature,
                             int n, int cell, int L, int H, int V)
{
    DISPATCH_VOID(crnn_net_sample, (out, state, work, params, x0,
                                        uniforms, temperature, n, cell, L, H,
                                        V))
}

#include "dispatch_macros_end.h"
