/*
 * net.h - the C API of crnn's stacked networks: L recurrent layers of one
 * cell type (tanh RNN, LSTM or GRU, with PyTorch's equations) over one-hot
 * character inputs, then a linear output layer and softmax, over B
 * independent streams of T steps.
 *
 *   rnn:  h' = tanh(W_ih x + b + W_hh h)                 (one bias per layer)
 *   lstm: i,f,g,o = chunks of W_ih x + b_ih + W_hh h + b_hh   (that order)
 *         i,f,o = sigmoid, g = tanh;  c' = f*c + i*g;  h' = o*tanh(c')
 *   gru:  r,z,n chunks;  r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z alike,
 *         n = tanh(W_in x + b_in + r*(W_hn h + b_hn));  h' = (1-z)*n + z*h
 *   out:  logits = W_out h_top + b_out;  p = softmax(logits)
 *   loss = (1/B) * sum_b sum_t -log p_t[target_t]        (nats)
 *
 * Layer 0's input x is one-hot, so W_ih x is a row of the stored W_ih^T.
 * The input of layer l > 0 is mask_{l-1} * h_{l-1} (element-wise): the
 * caller's dropout masks hold 0 or 1/(1-p) (inverted dropout) and are only
 * passed when training; NULL means no dropout.
 *
 * Conventions as in crnn.h: outputs first, const inputs, sizes last; every
 * function for double (_f64) and float (_f32) from one template
 * (net_impl.h), dispatched to the CPU's instruction-set variant; gradients
 * accumulate (+=); inputs assumed valid (checked in src/crnn/_net.pxi);
 * results the same bits for any n_threads.
 *
 * Parameter layout: one flat buffer, listed by crnn_net_param (net_layout.c,
 * the only place the formula lives).  In order:
 *   for l in 0..L-1:  W_ih^T (V, G*H) for l = 0, else W_ih (G*H, H);
 *                     W_hh (G*H, H)
 *   W_out (V, H)
 *   for l in 0..L-1:  rnn: b (H);  lstm, gru: b_ih (G*H), b_hh (G*H)
 *   b_out (V)
 * with G = 1, 4, 3 gates (rnn, lstm, gru) in PyTorch's gate order.  For the
 * rnn cell with L = 1 this is exactly crnn.h's layout (WxhT|Whh|Why|bh|by).
 *
 * State: (L, B, S) with S = H (rnn, gru) or 2H (lstm: [h | c]).
 */
#ifndef CRNN_NET_H
#define CRNN_NET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { CRNN_CELL_RNN = 0, CRNN_CELL_LSTM = 1, CRNN_CELL_GRU = 2 };

/* Gates per cell (1, 4, 3) and state width per layer (H or 2H). */
int crnn_net_gates(int cell);
int crnn_net_state_width(int cell, int H);

/* One entry of the parameter layout: a row-major (rows, cols) block at
 * offset (elements) in the flat buffer.  Vectors have cols = 1. */
typedef struct {
    char name[32];
    size_t rows, cols, offset;
} crnn_net_param;

/* Number of entries: 2L + 1 weights, L (rnn) or 2L biases, + 1. */
int crnn_net_param_entries(int cell, int L);
/* Fills out[0 .. entries) in buffer order; returns the number written. */
int crnn_net_params(crnn_net_param *out, int cell, int L, int H, int V);
/* Elements of the flat buffer (saturates at SIZE_MAX). */
size_t crnn_net_param_total(int cell, int L, int H, int V);

/* Workspace, in elements of the kernel's float type (saturating: SIZE_MAX
 * means "does not fit").  train = 0: enough for forward; train = 1: for
 * forward then backward. */
size_t crnn_net_workspace(int cell, int L, int B, int T, int H, int V,
                          int train);
size_t crnn_net_sample_workspace(int cell, int L, int H, int V);

/* Forward over a chunk.  Writes the final state state_out (L,B,S); if
 * targets (B,T) is given, *loss; if states_seq (T,L,B,S) is given, the state
 * after every step; if probs_out (T,B,V) is given, the softmax outputs.
 * state0 (L,B,S); masks (L-1,T,B,H) or NULL.  work: crnn_net_workspace
 * elements (train = 1 if backward follows).  cancel: NULL, or polled at every
 * time step and between chunk-wide products.  Returns 0, or 1 if *cancel
 * became non-zero (then the outputs are undefined; params are never
 * written). */
int crnn_net_forward_f64(double *loss, double *work, double *state_out,
                         const double *params, const int32_t *inputs,
                         const int32_t *targets, const double *state0,
                         const double *masks, double *states_seq,
                         double *probs_out, const volatile int *cancel,
                         int cell, int L, int B, int T, int H, int V,
                         int n_threads);
int crnn_net_forward_f32(double *loss, float *work, float *state_out,
                         const float *params, const int32_t *inputs,
                         const int32_t *targets, const float *state0,
                         const float *masks, float *states_seq,
                         float *probs_out, const volatile int *cancel,
                         int cell, int L, int B, int T, int H, int V,
                         int n_threads);

/* BPTT through the chunk last seen by forward (with targets, same inputs,
 * masks and sizes; work from that call, train = 1).  Adds the gradient of
 * the loss to grads (params' layout); overwrites dstate0 (L,B,S), if not
 * NULL, with d loss / d state0.  Leaves the forward part of work intact, so
 * backward may run again.  Returns 0, or 1 if cancelled (grads undefined). */
int crnn_net_backward_f64(double *grads, double *dstate0, double *work,
                          const double *params, const int32_t *inputs,
                          const int32_t *targets, const double *masks,
                          const volatile int *cancel, int cell, int L, int B,
                          int T, int H, int V, int n_threads);
int crnn_net_backward_f32(float *grads, float *dstate0, float *work,
                          const float *params, const int32_t *inputs,
                          const int32_t *targets, const float *masks,
                          const volatile int *cancel, int cell, int L, int B,
                          int T, int H, int V, int n_threads);

/* Sample n ids from one stream, exactly crnn_sample's rule: feed x0, then
 * each sampled id; step i draws from softmax(logits / temperature) by
 * inverse CDF with uniforms[i] in [0,1) (the first id whose cumulative
 * probability exceeds u), temperature 0 = argmax (the first on ties).
 * state (L,1,S) in/out.  work: crnn_net_sample_workspace elements. */
void crnn_net_sample_f64(int32_t *out, double *state, double *work,
                         const double *params, int32_t x0,
                         const double *uniforms, double temperature, int n,
                         int cell, int L, int H, int V);
void crnn_net_sample_f32(int32_t *out, float *state, float *work,
                         const float *params, int32_t x0,
                         const double *uniforms, double temperature, int n,
                         int cell, int L, int H, int V);

#ifdef __cplusplus
}
#endif

#endif /* CRNN_NET_H */
