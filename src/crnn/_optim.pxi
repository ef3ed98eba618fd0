# Included by _kernels.pyx: checked wrappers around the optimizer updates of
# csrc/optim.h (API and semantics: _kernels.pyi).  Every array is checked
# (dtype, 1-D, contiguity, writability, one length, no overlap) and every
# hyperparameter range before C sees it; C then runs without the GIL.
#
# No defaults here: crnn.optim holds each optimizer's defaults, so every
# hyperparameter of these functions is a required keyword.

from libc.stdint cimport int64_t


cdef extern from "optim.h" nogil:
    ctypedef struct crnn_grad_clip:
        double scale, limit
    ctypedef struct crnn_adagrad_hyper:
        double lr, eps
    ctypedef struct crnn_sgd_hyper:
        double lr, momentum, dampening, weight_decay
        int nesterov
    ctypedef struct crnn_rmsprop_hyper:
        double lr, alpha, eps, weight_decay, momentum
    ctypedef struct crnn_adam_hyper:
        double lr, beta1, beta2, eps, weight_decay
        int decoupled

    double crnn_sumsq_f64(const double *g, size_t n) noexcept
    double crnn_sumsq_f32(const float *g, size_t n) noexcept
    void crnn_scale_f64(double *g, double s, size_t n) noexcept
    void crnn_scale_f32(float *g, float s, size_t n) noexcept
    void crnn_update_adagrad_f64(double *p, double *sum, const double *g,
                                 const crnn_adagrad_hyper *h, crnn_grad_clip clip,
                                 size_t n) noexcept
    void crnn_update_adagrad_f32(float *p, float *sum, const float *g,
                                 const crnn_adagrad_hyper *h, crnn_grad_clip clip,
                                 size_t n) noexcept
    void crnn_update_sgd_f64(double *p, double *buf, const double *g,
                             const crnn_sgd_hyper *h, crnn_grad_clip clip,
                             int64_t step, size_t n) noexcept
    void crnn_update_sgd_f32(float *p, float *buf, const float *g,
                             const crnn_sgd_hyper *h, crnn_grad_clip clip,
                             int64_t step, size_t n) noexcept
    void crnn_update_rmsprop_f64(double *p, double *square_avg, double *grad_avg,
                                 double *buf, const double *g,
                                 const crnn_rmsprop_hyper *h, crnn_grad_clip clip,
                                 size_t n) noexcept
    void crnn_update_rmsprop_f32(float *p, float *square_avg, float *grad_avg,
                                 float *buf, const float *g,
                                 const crnn_rmsprop_hyper *h, crnn_grad_clip clip,
                                 size_t n) noexcept
    void crnn_update_adam_f64(double *p, double *exp_avg, double *exp_avg_sq,
                              double *max_exp_avg_sq, const double *g,
                              const crnn_adam_hyper *h, crnn_grad_clip clip,
                              int64_t step, size_t n) noexcept
    void crnn_update_adam_f32(float *p, float *exp_avg, float *exp_avg_sq,
                              float *max_exp_avg_sq, const float *g,
                              const crnn_adam_hyper *h, crnn_grad_clip clip,
                              int64_t step, size_t n) noexcept


# ---------------------------------------------------------------- checks

def _optim_number(name, value, lo, hi, lo_open=False, hi_open=False):
    """value as a float in the interval [lo, hi] (ends open where asked)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    x = float(value)
    low_ok = x > lo if lo_open else x >= lo
    high_ok = x < hi if hi_open else x <= hi
    if not (low_ok and high_ok):   # also rejects NaN
        interval = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return x


cdef crnn_grad_clip _optim_clip(clip_scale, clip_limit) except *:
    """The gradient transform: scale >= 0 (NaN allowed: it makes the update NaN,
    as torch does for a non-finite norm), limit > 0 (inf: no value clipping)."""
    cdef crnn_grad_clip c
    s = float(clip_scale)
    if not (math.isnan(s) or (0 <= s < math.inf)):
        raise ValueError(f"clip_scale must be a finite number >= 0 (or NaN), got {clip_scale}")
    c.scale = s
    c.limit = _optim_number("clip_limit", clip_limit, 0, math.inf, lo_open=True)
    return c


cdef int64_t _optim_step(step) except -1:
    if not isinstance(step, (int, np.integer)) or isinstance(step, bool):
        raise TypeError(f"step must be an integer, got {type(step).__name__}")
    if not 1 <= step < 2 ** 62:
        raise ValueError(f"step must be >= 1 (it counts this update), got {step}")
    return <int64_t>step


def _optim_arrays(params, grads, states):
    """Check params (IN/OUT), grads (IN) and the state buffers (IN/OUT).

    states: (name, array or None, used) triples; a buffer must be given
    exactly when the settings use it.  Returns params' dtype.
    """
    _flat_float("params", params, True)
    dtype = params.dtype
    _check_float_array("grads", grads, dtype, False)
    arrays = [("params", params), ("grads", grads)]
    for name, a, used in states:
        if a is None:
            if used:
                raise ValueError(f"{name} is needed by these settings: pass a "
                                 f"zero-initialised array like params")
            continue
        if not used:
            raise ValueError(f"{name} is not used by these settings: pass None")
        _check_float_array(name, a, dtype, True)
        arrays.append((name, a))
    for name, a in arrays[1:]:
        if a.shape != params.shape:
            raise ValueError(f"{name} has shape {a.shape} but params has {params.shape}: "
                             f"every buffer of an update has params' shape")
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            if np.may_share_memory(arrays[i][1], arrays[j][1]):
                raise ValueError(f"{arrays[i][0]} and {arrays[j][0]} overlap in "
                                 f"memory: each buffer of an update must be its own array")
    return dtype


cdef real *_ptr(real[::1] a) noexcept:
    return NULL if a is None else &a[0]


# ---------------------------------------------------------------- passes

def sumsq(grads):
    """Sum of squares of a flat float array, accumulated in double."""
    _flat_float("grads", grads, False)
    cdef const double[::1] g64
    cdef const float[::1] g32
    cdef double s
    if grads.dtype == np.float64:
        g64 = grads
        with nogil:
            s = crnn_sumsq_f64(&g64[0], g64.shape[0])
    else:
        g32 = grads
        with nogil:
            s = crnn_sumsq_f32(&g32[0], g32.shape[0])
    return s


def scale(grads, factor):
    """grads *= factor, in place."""
    _flat_float("grads", grads, True)
    f = float(factor)
    if not math.isfinite(f):
        raise ValueError(f"factor must be a finite number, got {factor}")
    cdef double[::1] g64
    cdef float[::1] g32
    if grads.dtype == np.float64:
        g64 = grads
        with nogil:
            crnn_scale_f64(&g64[0], f, g64.shape[0])
    else:
        g32 = grads
        with nogil:
            crnn_scale_f32(&g32[0], <float>f, g32.shape[0])


cdef int _adagrad(real[::1] p, real[::1] s, const real[::1] g,
                  crnn_adagrad_hyper h, crnn_grad_clip c) except -1:
    with nogil:
        if real is double:
            crnn_update_adagrad_f64(&p[0], &s[0], &g[0], &h, c, p.shape[0])
        else:
            crnn_update_adagrad_f32(&p[0], &s[0], &g[0], &h, c, p.shape[0])
    return 0


def update_adagrad(params, sum, grads, *, lr, eps, clip_scale, clip_limit):
    """min-char-rnn's Adagrad, in place (see _kernels.pyi)."""
    dtype = _optim_arrays(params, grads, [("sum", sum, True)])
    cdef crnn_adagrad_hyper h
    h.lr = _optim_number("lr", lr, 0, math.inf, hi_open=True)
    h.eps = _optim_number("eps", eps, 0, math.inf, lo_open=True, hi_open=True)
    cdef crnn_grad_clip c = _optim_clip(clip_scale, clip_limit)
    if dtype == np.float64:
        _adagrad[double](params, sum, grads, h, c)
    else:
        _adagrad[float](params, sum, grads, h, c)


cdef int _sgd(real[::1] p, real[::1] buf, const real[::1] g, crnn_sgd_hyper h,
              crnn_grad_clip c, int64_t step) except -1:
    cdef real *b = _ptr(buf)
    with nogil:
        if real is double:
            crnn_update_sgd_f64(&p[0], b, &g[0], &h, c, step, p.shape[0])
        else:
            crnn_update_sgd_f32(&p[0], b, &g[0], &h, c, step, p.shape[0])
    return 0


def update_sgd(params, momentum_buffer, grads, *, lr, momentum, dampening,
               weight_decay, nesterov, step, clip_scale, clip_limit):
    """torch.optim.SGD's update, in place (see _kernels.pyi)."""
    cdef crnn_sgd_hyper h
    h.lr = _optim_number("lr", lr, 0, math.inf, hi_open=True)
    h.momentum = _optim_number("momentum", momentum, 0, 1, hi_open=True)
    h.dampening = _optim_number("dampening", dampening, 0, 1)
    h.weight_decay = _optim_number("weight_decay", weight_decay, 0, math.inf, hi_open=True)
    if not isinstance(nesterov, (bool, np.bool_)):
        raise TypeError(f"nesterov must be a bool, got {type(nesterov).__name__}")
    h.nesterov = bool(nesterov)
    if h.nesterov and (h.momentum == 0 or h.dampening != 0):
        raise ValueError("nesterov needs momentum > 0 and dampening = 0")
    cdef int64_t t = _optim_step(step)
    cdef crnn_grad_clip c = _optim_clip(clip_scale, clip_limit)
    dtype = _optim_arrays(params, grads,
                          [("momentum_buffer", momentum_buffer, h.momentum != 0)])
    if dtype == np.float64:
        _sgd[double](params, momentum_buffer, grads, h, c, t)
    else:
        _sgd[float](params, momentum_buffer, grads, h, c, t)


cdef int _rmsprop(real[::1] p, real[::1] sq, real[::1] ga, real[::1] buf,
                  const real[::1] g, crnn_rmsprop_hyper h, crnn_grad_clip c) except -1:
    cdef real *a = _ptr(ga)
    cdef real *b = _ptr(buf)
    with nogil:
        if real is double:
            crnn_update_rmsprop_f64(&p[0], &sq[0], a, b, &g[0], &h, c, p.shape[0])
        else:
            crnn_update_rmsprop_f32(&p[0], &sq[0], a, b, &g[0], &h, c, p.shape[0])
    return 0


def update_rmsprop(params, square_avg, grad_avg, momentum_buffer, grads, *, lr,
                   alpha, eps, weight_decay, momentum, clip_scale, clip_limit):
    """torch.optim.RMSprop's update, in place; centered iff grad_avg is given."""
    cdef crnn_rmsprop_hyper h
    h.lr = _optim_number("lr", lr, 0, math.inf, hi_open=True)
    h.alpha = _optim_number("alpha", alpha, 0, 1, hi_open=True)
    h.eps = _optim_number("eps", eps, 0, math.inf, lo_open=True, hi_open=True)
    h.weight_decay = _optim_number("weight_decay", weight_decay, 0, math.inf, hi_open=True)
    h.momentum = _optim_number("momentum", momentum, 0, 1, hi_open=True)
    cdef crnn_grad_clip c = _optim_clip(clip_scale, clip_limit)
    dtype = _optim_arrays(params, grads,
                          [("square_avg", square_avg, True),
                           ("grad_avg", grad_avg, grad_avg is not None),
                           ("momentum_buffer", momentum_buffer, h.momentum != 0)])
    if dtype == np.float64:
        _rmsprop[double](params, square_avg, grad_avg, momentum_buffer, grads, h, c)
    else:
        _rmsprop[float](params, square_avg, grad_avg, momentum_buffer, grads, h, c)


cdef int _adam(real[::1] p, real[::1] m, real[::1] v, real[::1] vmax,
               const real[::1] g, crnn_adam_hyper h, crnn_grad_clip c,
               int64_t step) except -1:
    cdef real *vm = _ptr(vmax)
    with nogil:
        if real is double:
            crnn_update_adam_f64(&p[0], &m[0], &v[0], vm, &g[0], &h, c, step, p.shape[0])
        else:
            crnn_update_adam_f32(&p[0], &m[0], &v[0], vm, &g[0], &h, c, step, p.shape[0])
    return 0


def update_adam(params, exp_avg, exp_avg_sq, max_exp_avg_sq, grads, *, lr, beta1,
                beta2, eps, weight_decay, decoupled, step, clip_scale, clip_limit):
    """torch.optim.Adam's (decoupled: AdamW's) update, in place; AMSGrad iff
    max_exp_avg_sq is given."""
    cdef crnn_adam_hyper h
    h.lr = _optim_number("lr", lr, 0, math.inf, hi_open=True)
    h.beta1 = _optim_number("beta1", beta1, 0, 1, hi_open=True)
    h.beta2 = _optim_number("beta2", beta2, 0, 1, hi_open=True)
    h.eps = _optim_number("eps", eps, 0, math.inf, lo_open=True, hi_open=True)
    h.weight_decay = _optim_number("weight_decay", weight_decay, 0, math.inf, hi_open=True)
    if not isinstance(decoupled, (bool, np.bool_)):
        raise TypeError(f"decoupled must be a bool, got {type(decoupled).__name__}")
    h.decoupled = bool(decoupled)
    cdef int64_t t = _optim_step(step)
    cdef crnn_grad_clip c = _optim_clip(clip_scale, clip_limit)
    dtype = _optim_arrays(params, grads,
                          [("exp_avg", exp_avg, True), ("exp_avg_sq", exp_avg_sq, True),
                           ("max_exp_avg_sq", max_exp_avg_sq, max_exp_avg_sq is not None)])
    if dtype == np.float64:
        _adam[double](params, exp_avg, exp_avg_sq, max_exp_avg_sq, grads, h, c, t)
    else:
        _adam[float](params, exp_avg, exp_avg_sq, max_exp_avg_sq, grads, h, c, t)
