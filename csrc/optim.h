/*
 * optim.h - the C API of crnn's optimizers: one update pass per optimizer
 * over a flat parameter buffer, the gradient clipped on the way in.
 *
 * The formulas are torch.optim's (Adam, AdamW, RMSprop, SGD, in the order of
 * operations of their single-tensor CPU code), except Adagrad, which is
 * min-char-rnn's:  sum += g*g;  p -= lr * g / sqrt(sum + eps).
 *
 * Conventions (as in crnn.h)
 *  - Outputs first, const inputs next, sizes last; every function exists for
 *    double (_f64) and float (_f32) from one template (optim/optim_impl.h),
 *    compiled per instruction set and dispatched by crnn_get_isa().
 *  - All arrays have n elements, the parameter buffer's layout, and do not
 *    overlap.  State buffers marked "or NULL" are used only by the settings
 *    named beside them and must be NULL otherwise.
 *  - Hyperparameters are passed as double and rounded to the float type once
 *    per call.  Inputs are assumed valid: the Cython layer checks them.
 *  - The gradient g is never written.  Each update reads it through the
 *    clip transform below, so clipping costs no pass of its own (by norm it
 *    costs one read of g, crnn_sumsq, to find the scale).
 */
#ifndef CRNN_OPTIM_H
#define CRNN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How each update sees the gradient:  x = clamp(g * scale, -limit, limit)
 * (NaN stays NaN).  No clipping: scale 1, limit INFINITY.  By value: scale
 * 1, limit the bound.  By global norm (torch.nn.utils.clip_grad_norm_):
 * scale = min(1, max_norm / (norm + 1e-6)), limit INFINITY. */
typedef struct {
    double scale, limit;
} crnn_grad_clip;

/* Sum of g[i]^2 accumulated in double, in a fixed order (so repeated calls
 * give the same bits; the instruction sets may differ in the last bits). */
double crnn_sumsq_f64(const double *g, size_t n);
double crnn_sumsq_f32(const float *g, size_t n);

/* g *= s. */
void crnn_scale_f64(double *g, double s, size_t n);
void crnn_scale_f32(float *g, float s, size_t n);

/* Adagrad (min-char-rnn):  sum += x*x;  p -= lr * x / sqrt(sum + eps). */
typedef struct {
    double lr, eps;
} crnn_adagrad_hyper;

void crnn_update_adagrad_f64(double *p, double *sum, const double *g,
                             const crnn_adagrad_hyper *h, crnn_grad_clip clip,
                             size_t n);
void crnn_update_adagrad_f32(float *p, float *sum, const float *g,
                             const crnn_adagrad_hyper *h, crnn_grad_clip clip,
                             size_t n);

/* SGD (torch.optim.SGD):  x += weight_decay * p;  with momentum mu > 0,
 * buf = x on the first step (step == 1), else buf = mu*buf + (1-dampening)*x,
 * and d = x + mu*buf (nesterov) or buf;  without, d = x;  p -= lr * d.
 * buf: or NULL when momentum == 0.  step counts from 1. */
typedef struct {
    double lr, momentum, dampening, weight_decay;
    int nesterov;
} crnn_sgd_hyper;

void crnn_update_sgd_f64(double *p, double *buf, const double *g,
                         const crnn_sgd_hyper *h, crnn_grad_clip clip,
                         int64_t step, size_t n);
void crnn_update_sgd_f32(float *p, float *buf, const float *g,
                         const crnn_sgd_hyper *h, crnn_grad_clip clip,
                         int64_t step, size_t n);

/* RMSprop (torch.optim.RMSprop):  x += weight_decay * p;
 * sq = alpha*sq + (1-alpha)*x*x;  centered: ga = lerp(ga, x, 1-alpha),
 * avg = sqrt(sq - ga*ga) + eps, else avg = sqrt(sq) + eps;
 * momentum mu > 0: buf = mu*buf + x/avg, p -= lr*buf;  else p -= lr*x/avg.
 * grad_avg: or NULL unless centered.  buf: or NULL when momentum == 0. */
typedef struct {
    double lr, alpha, eps, weight_decay, momentum;
} crnn_rmsprop_hyper;

void crnn_update_rmsprop_f64(double *p, double *square_avg, double *grad_avg,
                             double *buf, const double *g,
                             const crnn_rmsprop_hyper *h, crnn_grad_clip clip,
                             size_t n);
void crnn_update_rmsprop_f32(float *p, float *square_avg, float *grad_avg,
                             float *buf, const float *g,
                             const crnn_rmsprop_hyper *h, crnn_grad_clip clip,
                             size_t n);

/* Adam / AdamW (torch.optim.Adam, AdamW), step t counting from 1:
 * decoupled (AdamW): p *= 1 - lr*weight_decay;  else x += weight_decay * p;
 * m = lerp(m, x, 1-beta1);  v = beta2*v + (1-beta2)*x*x;
 * amsgrad: vmax = max(vmax, v), used for v below;
 * p -= (lr / (1-beta1^t)) * m / (sqrt(v) / sqrt(1-beta2^t) + eps)
 * (the division by sqrt(1-beta2^t) done as a product with its inverse).
 * max_exp_avg_sq: or NULL unless amsgrad. */
typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
    int decoupled;
} crnn_adam_hyper;

void crnn_update_adam_f64(double *p, double *exp_avg, double *exp_avg_sq,
                          double *max_exp_avg_sq, const double *g,
                          const crnn_adam_hyper *h, crnn_grad_clip clip,
                          int64_t step, size_t n);
void crnn_update_adam_f32(float *p, float *exp_avg, float *exp_avg_sq,
                          float *max_exp_avg_sq, const float *g,
                          const crnn_adam_hyper *h, crnn_grad_clip clip,
                          int64_t step, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* CRNN_OPTIM_H */
