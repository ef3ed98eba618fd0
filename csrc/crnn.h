/*
 * crnn.h - the whole C API of crnn's kernels.
 *
 * A vanilla tanh RNN language model (min-char-rnn) over B independent streams:
 *
 *     h_t = tanh(Wxh[:, x_t] + Whh h_{t-1} + bh)
 *     y_t = Why h_t + by,   p_t = softmax(y_t)
 *     loss = (1/B) * sum_b sum_t -log p_t[target_t]        (nats)
 *
 * Conventions
 *  - Outputs first, const inputs next, sizes last.  Shapes are row-major.
 *  - Every function exists for double (_f64) and float (_f32), generated from
 *    one template (kernels_impl.h).  Losses are returned as double.
 *  - Gradient kernels accumulate (+=); callers zero explicitly.
 *  - No allocation, no printing, no Python.  Inputs are assumed valid: all
 *    checking happens in the Cython layer (src/crnn/_kernels.pyx).
 *  - ids (inputs, targets) are int32, shape (B, T), in [0, V).
 *  - n_threads: at most that many threads (OpenMP builds), fewer when the
 *    chunk is too small to gain (always one for B = 1).  Results are the
 *    same bits for any n_threads.  In a process forked after the kernels
 *    used threads, they use one (libgomp cannot start threads there).
 *
 * Parameter layout: one flat buffer of crnn_param_count(H, V) elements,
 *     WxhT (V,H) | Whh (H,H) | Why (V,H) | bh (H) | by (V)
 * Wxh is stored transposed so that the input column of character c is one
 * contiguous row.  Gradients and Adagrad memory use the same layout, so clip
 * and Adagrad are single passes over memory.
 */
#ifndef CRNN_H
#define CRNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction-set variants, chosen once at load time: the best this CPU
 * supports, capped by the environment variable CRNN_ISA (baseline, avx2,
 * avx512).  crnn_set_isa caps it again (never above what the CPU supports)
 * and returns the variant now active; call it only while no kernel runs. */
enum { CRNN_ISA_BASELINE = 0, CRNN_ISA_AVX2 = 1, CRNN_ISA_AVX512 = 2 };
int crnn_get_isa(void);
int crnn_set_isa(int isa);
const char *crnn_isa_name(int isa);
/* 1 if the kernels were built with their explicit vector code (GCC/Clang
 * vector extensions), 0 for the plain-loop fallback (-DCRNN_NO_VECTOR_EXT). */
int crnn_vector_code(void);

/* Offsets (in elements) of each parameter inside the flat buffer. */
typedef struct {
    size_t wxh_t, whh, why, bh, by, total;
} crnn_layout;

crnn_layout crnn_param_layout(int H, int V);

/* Workspace sizes, in elements of the kernel's float type. */
size_t crnn_forward_workspace(int B, int T, int H, int V);
size_t crnn_train_workspace(int B, int T, int H, int V); /* >= forward's */
size_t crnn_sample_workspace(int H, int V);

/* Forward over a chunk.  Fills work (what backward needs), writes the final
 * hidden state h_last (B,H) and returns the loss.  targets may be NULL: then
 * only the hidden states are computed and 0 is returned.
 * work: crnn_forward_workspace(B,T,H,V) elements.  h0: (B,H). */
double crnn_forward_f64(double *work, double *h_last, const double *params,
                        const int32_t *inputs, const int32_t *targets,
                        const double *h0, int B, int T, int H, int V,
                        int n_threads);
double crnn_forward_f32(float *work, float *h_last, const float *params,
                        const int32_t *inputs, const int32_t *targets,
                        const float *h0, int B, int T, int H, int V,
                        int n_threads);

/* Backward (BPTT) through the chunk last seen by forward.  Adds the gradient
 * of the loss to grads and overwrites dh0 (B,H) with d loss / d h0.
 * work: crnn_train_workspace(B,T,H,V) elements, forward part filled. */
void crnn_backward_f64(double *grads, double *dh0, double *work,
                       const double *params, const int32_t *inputs,
                       const int32_t *targets, int B, int T, int H, int V,
                       int n_threads);
void crnn_backward_f32(float *grads, float *dh0, float *work,
                       const float *params, const int32_t *inputs,
                       const int32_t *targets, int B, int T, int H, int V,
                       int n_threads);

/* g = min(max(g, -limit), limit), element-wise; NaN stays NaN. */
void crnn_clip_f64(double *g, double limit, size_t n);
void crnn_clip_f32(float *g, float limit, size_t n);

/* Adagrad: mem += g*g; p -= lr * g / sqrt(mem + eps). */
void crnn_adagrad_f64(double *p, double *mem, const double *g, double lr,
                      double eps, size_t n);
void crnn_adagrad_f32(float *p, float *mem, const float *g, float lr,
                      float eps, size_t n);

/* One training iteration: zero grads, forward from h, backward, clip to
 * [-clip, clip], Adagrad.  WxhT rows of characters absent from inputs have an
 * exactly zero gradient and are skipped (identical result, less work).
 * h (B,H) is the initial state on entry, the final state on return; grads
 * holds the clipped gradient.  Returns the loss (NaN/inf if it diverged). */
double crnn_train_step_f64(double *params, double *mem, double *grads,
                           double *work, double *h, const int32_t *inputs,
                           const int32_t *targets, double lr, double clip,
                           double eps, int B, int T, int H, int V,
                           int n_threads);
double crnn_train_step_f32(float *params, float *mem, float *grads,
                           float *work, float *h, const int32_t *inputs,
                           const int32_t *targets, float lr, float clip,
                           float eps, int B, int T, int H, int V,
                           int n_threads);

/* Sample n ids, one stream.  Feeds x0, then each sampled id.  Step i draws
 * out[i] from softmax(y / temperature) by inverse CDF with uniforms[i] in
 * [0,1): the first id whose cumulative probability exceeds u.  temperature 0
 * picks the most likely id (the first on ties).  h (H) in/out.
 * work: crnn_sample_workspace(H,V) elements. */
void crnn_sample_f64(int32_t *out, double *h, double *work,
                     const double *params, int32_t x0, const double *uniforms,
                     double temperature, int n, int H, int V);
void crnn_sample_f32(int32_t *out, float *h, float *work, const float *params,
                     int32_t x0, const double *uniforms, double temperature,
                     int n, int H, int V);

/* Trace of one stream over a chunk of T inputs, for looking inside a model:
 * probs row t (V) = softmax(Why h + by) for the state h before inputs[t]
 * (h0 for t = 0): the prediction of inputs[t]; states row t (H) = the
 * hidden state after reading inputs[t].  To continue over the next chunk,
 * pass states row T-1 as its h0.  states: (T,H), probs: (T,V), h0: (H).
 * work: crnn_trace_workspace(T,H,V) elements. */
size_t crnn_trace_workspace(int T, int H, int V);
void crnn_trace_f64(double *states, double *probs, double *work,
                    const double *params, const int32_t *inputs,
                    const double *h0, int T, int H, int V);
void crnn_trace_f32(float *states, float *probs, float *work,
                    const float *params, const int32_t *inputs,
                    const float *h0, int T, int H, int V);

/* The element-wise functions inside the kernels, x = tanh(x) and x = exp(x)
 * in place over n elements, on the active instruction-set variant: exposed
 * so that their accuracy can be tested directly. */
void crnn_tanh_f64(double *x, size_t n);
void crnn_tanh_f32(float *x, size_t n);
void crnn_exp_f64(double *x, size_t n);
void crnn_exp_f32(float *x, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* CRNN_H */
