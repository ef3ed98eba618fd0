# cython: language_level=3
# (boundscheck/wraparound are set in setup.py: off, or on with CRNN_DEBUG=1)
"""Checked wrappers around the C kernels in csrc/ (API and semantics: _kernels.pyi).

Every argument is validated here, before C sees it: dtypes, contiguity,
shapes, id ranges, sizes.  The C call then runs without the GIL.

Fast path: arrays are bound to typed memoryviews directly; only when that
fails do we run `_diagnose`, which finds the offending argument and raises
an error that names it.
"""

import math
import os
import sys
import warnings

import numpy as np

from libc.stdint cimport int32_t


cdef extern from "crnn.h" nogil:
    ctypedef struct crnn_layout:
        size_t wxh_t, whh, why, bh, by, total

    int crnn_get_isa() noexcept
    int crnn_set_isa(int isa) noexcept
    const char *crnn_isa_name(int isa) noexcept
    int crnn_vector_code() noexcept
    crnn_layout crnn_param_layout(int H, int V) noexcept
    size_t crnn_forward_workspace(int B, int T, int H, int V) noexcept
    size_t crnn_train_workspace(int B, int T, int H, int V) noexcept
    size_t crnn_sample_workspace(int H, int V) noexcept

    double crnn_forward_f64(double *work, double *h_last, const double *params,
                            const int32_t *inputs, const int32_t *targets,
                            const double *h0, int B, int T, int H, int V,
                            int n_threads) noexcept
    double crnn_forward_f32(float *work, float *h_last, const float *params,
                            const int32_t *inputs, const int32_t *targets,
                            const float *h0, int B, int T, int H, int V,
                            int n_threads) noexcept
    void crnn_backward_f64(double *grads, double *dh0, double *work,
                           const double *params, const int32_t *inputs,
                           const int32_t *targets, int B, int T, int H, int V,
                           int n_threads) noexcept
    void crnn_backward_f32(float *grads, float *dh0, float *work,
                           const float *params, const int32_t *inputs,
                           const int32_t *targets, int B, int T, int H, int V,
                           int n_threads) noexcept
    void crnn_clip_f64(double *g, double limit, size_t n) noexcept
    void crnn_clip_f32(float *g, float limit, size_t n) noexcept
    void crnn_adagrad_f64(double *p, double *mem, const double *g, double lr,
                          double eps, size_t n) noexcept
    void crnn_adagrad_f32(float *p, float *mem, const float *g, float lr,
                          float eps, size_t n) noexcept
    double crnn_train_step_f64(double *params, double *mem, double *grads,
                               double *work, double *h, const int32_t *inputs,
                               const int32_t *targets, double lr, double clip,
                               double eps, int B, int T, int H, int V,
                               int n_threads) noexcept
    double crnn_train_step_f32(float *params, float *mem, float *grads,
                               float *work, float *h, const int32_t *inputs,
                               const int32_t *targets, float lr, float clip,
                               float eps, int B, int T, int H, int V,
                               int n_threads) noexcept
    void crnn_sample_f64(int32_t *out, double *h, double *work,
                         const double *params, int32_t x0,
                         const double *uniforms, double temperature, int n,
                         int H, int V) noexcept
    void crnn_sample_f32(int32_t *out, float *h, float *work,
                         const float *params, int32_t x0,
                         const double *uniforms, double temperature, int n,
                         int H, int V) noexcept

    size_t crnn_trace_workspace(int T, int H, int V) noexcept
    void crnn_trace_f64(double *states, double *probs, double *work,
                        const double *params, const int32_t *inputs,
                        const double *h0, int T, int H, int V) noexcept
    void crnn_trace_f32(float *states, float *probs, float *work,
                        const float *params, const int32_t *inputs,
                        const float *h0, int T, int H, int V) noexcept

ctypedef fused real:
    float
    double

# Sizes are C ints; products of them are checked in Python integers.
cdef long long INT_MAX = 2147483647
PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")


# ---------------------------------------------------------------- CPU paths

_ISA_NAMES = ("baseline", "avx2", "avx512")


def cpu_path():
    """Name of the kernel variant in use: 'baseline', 'avx2' or 'avx512'."""
    return crnn_isa_name(crnn_get_isa()).decode()


def vector_code():
    """True if the kernels use their explicit vector code, False for the
    plain-loop fallback (a build with CRNN_PLAIN_LOOPS=1)."""
    return bool(crnn_vector_code())


def _warn_if_isa_unknown():
    """csrc/dispatch.c ignores a CRNN_ISA it does not know (and runs the best
    path the CPU has): say so, once, when the module is imported."""
    name = os.environ.get("CRNN_ISA")
    if name and name not in _ISA_NAMES:
        warnings.warn(
            f"CRNN_ISA={name!r} is not one of {', '.join(_ISA_NAMES)} and is ignored; "
            f"crnn uses {cpu_path()!r}, the best path this CPU supports",
            RuntimeWarning, stacklevel=_importer_stacklevel(),
        )


def _importer_stacklevel():
    """The stack level of the first frame outside importlib and crnn itself,
    so the warning points at the user's ``import crnn``."""
    package = os.path.dirname(os.path.abspath(__file__))
    level, frame = 1, sys._getframe(0)
    while frame is not None and (frame.f_code.co_filename.startswith("<frozen importlib")
                                 or os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == package):
        level, frame = level + 1, frame.f_back
    return level


_warn_if_isa_unknown()


def set_cpu_path(name):
    """Cap the kernel variant (for testing each path); returns the one in use.

    Never selects more than the CPU supports.  Not for use while other
    threads run kernels.  The environment variable CRNN_ISA does the same at
    import time.
    """
    if name not in _ISA_NAMES:
        raise ValueError(f"unknown CPU path {name!r}; choose one of {_ISA_NAMES}")
    return crnn_isa_name(crnn_set_isa(_ISA_NAMES.index(name))).decode()


# ---------------------------------------------------------------- sizes

cdef int _size(name, value, long long minimum=1) except -1:
    """A size argument as a C int, or ValueError."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum or value > INT_MAX:
        raise ValueError(f"{name} must be in [{minimum}, {INT_MAX}], got {value}")
    return <int>value


def param_count(hidden_size, vocab_size):
    """Number of elements in the flat parameter buffer for (H, V)."""
    cdef int H = _size("hidden_size", hidden_size)
    cdef int V = _size("vocab_size", vocab_size)
    return crnn_param_layout(H, V).total


cdef size_t SIZE_MAX = <size_t>-1


cdef size_t _fits(size_t n) except 0:
    """The C size functions saturate at SIZE_MAX rather than wrap around."""
    if n == SIZE_MAX:
        raise OverflowError("a workspace for these sizes would not fit in memory")
    return n


def forward_workspace_size(batch, steps, hidden_size, vocab_size):
    """Elements of workspace that forward() needs."""
    return _fits(crnn_forward_workspace(_size("batch", batch), _size("steps", steps),
                                        _size("hidden_size", hidden_size),
                                        _size("vocab_size", vocab_size)))


def train_workspace_size(batch, steps, hidden_size, vocab_size):
    """Elements of workspace that backward() and train_step() need."""
    return _fits(crnn_train_workspace(_size("batch", batch), _size("steps", steps),
                                      _size("hidden_size", hidden_size),
                                      _size("vocab_size", vocab_size)))


def sample_workspace_size(hidden_size, vocab_size):
    """Elements of workspace that sample() needs."""
    return _fits(crnn_sample_workspace(_size("hidden_size", hidden_size),
                                       _size("vocab_size", vocab_size)))


def param_views(flat, hidden_size, vocab_size):
    """Views of the flat buffer shaped as min-char-rnn's parameters.

    Writing into a view writes into the buffer.  ``Wxh`` (H, V) is the
    transpose of the stored ``WxhT`` (V, H), so it is not C-contiguous.
    """
    cdef int H = _size("hidden_size", hidden_size)
    cdef int V = _size("vocab_size", vocab_size)
    _check_float_array("flat", flat, None)
    cdef crnn_layout L = crnn_param_layout(H, V)
    if flat.ndim != 1 or flat.shape[0] != L.total:
        raise ValueError(f"flat must have shape ({L.total},) for hidden_size={H}, "
                         f"vocab_size={V}; got {flat.shape}")
    return {
        "Wxh": flat[L.wxh_t:L.whh].reshape(V, H).T,
        "Whh": flat[L.whh:L.why].reshape(H, H),
        "Why": flat[L.why:L.bh].reshape(V, H),
        "bh": flat[L.bh:L.by],
        "by": flat[L.by:L.total],
    }


# ---------------------------------------------------------------- checks

cdef _check_float_array(name, a, dtype, bint writable=False):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(a).__name__}")
    if a.dtype != np.float64 and a.dtype != np.float32:
        raise TypeError(f"{name} must be float32 or float64, got {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} is {a.dtype} but params are {dtype}: "
                        f"use one float dtype for all arrays of a call")
    _check_layout(name, a, writable)


cdef _check_id_array(name, a):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(a).__name__}")
    if a.dtype != np.int32:
        raise TypeError(f"{name} must be int32, got {a.dtype} "
                        f"(convert with np.asarray({name}, dtype=np.int32))")
    _check_layout(name, a, False)


cdef _check_layout(name, a, bint writable):
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous "
                         f"(pass np.ascontiguousarray({name}))")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name} is an output and must be writable")


cdef _diagnose(error, dtype, floats_in=(), floats_out=(), ids=()):
    """Re-raise a failed memoryview binding as an error naming the argument."""
    for name, a in floats_out:
        _check_float_array(name, a, dtype, True)
    for name, a in floats_in:
        _check_float_array(name, a, dtype, False)
    for name, a in ids:
        _check_id_array(name, a)
    for name, a in list(floats_out) + list(floats_in) + list(ids):
        if a.size == 0:
            raise ValueError(f"{name} is empty")
    raise error




def _require(**arrays):
    """Memoryview arguments accept None; ours (but targets) must not."""
    for name, a in arrays.items():
        if a is None:
            raise TypeError(f"{name} must be a NumPy array, got None")


cdef _params_dtype(params):
    _check_float_array("params", params, None)
    if params.ndim != 1:
        raise ValueError(f"params must be 1-D (the flat buffer), got shape {params.shape}")
    return params.dtype


cdef int _vocab_size(Py_ssize_t n_params, int H) except -1:
    """V from the flat buffer's length: n = H*H + H + V*(2H + 1)."""
    cdef long long rest = <long long>n_params - <long long>H * H - H
    if rest <= 0 or rest % (2 * H + 1) != 0:
        raise ValueError(f"shape mismatch: params has {n_params} elements, which "
                         f"is not param_count(H={H}, V) for any V; H comes from "
                         f"the hidden state's shape, so check that it is (B, H) "
                         f"for the H the params were made with")
    return _size("vocab_size", rest // (2 * H + 1))


cdef int _check_ids(const int32_t[:, ::1] ids, int V, name) except -1:
    cdef Py_ssize_t b, t
    for b in range(ids.shape[0]):
        for t in range(ids.shape[1]):
            if ids[b, t] < 0 or ids[b, t] >= V:
                raise ValueError(f"{name}[{b}, {t}] = {ids[b, t]} is out of "
                                 f"range: ids must be in [0, {V})")
    return 0


cdef int _check_sizes(name, Py_ssize_t have, size_t need) except -1:
    if <size_t>have < need:
        raise ValueError(f"{name} has {have} elements but needs at least {need}")
    return 0


cdef int _check_chunk(const int32_t[:, ::1] inputs,
                      const int32_t[:, ::1] targets) except -1:
    if inputs.shape[0] < 1 or inputs.shape[1] < 1:
        raise ValueError(f"inputs must have shape (B, T) with B, T >= 1, "
                         f"got ({inputs.shape[0]}, {inputs.shape[1]})")
    if inputs.shape[0] > INT_MAX or inputs.shape[1] > INT_MAX:
        raise ValueError("inputs is too large")
    if targets is not None and (targets.shape[0] != inputs.shape[0]
                                or targets.shape[1] != inputs.shape[1]):
        raise ValueError(f"targets shape ({targets.shape[0]}, {targets.shape[1]}) "
                         f"differs from inputs shape ({inputs.shape[0]}, "
                         f"{inputs.shape[1]})")
    return 0


cdef int _check_state(name, Py_ssize_t rows, Py_ssize_t cols, int B, int H) except -1:
    if rows != B or cols != H:
        raise ValueError(f"{name} must have shape ({B}, {H}), got ({rows}, {cols})")
    return 0


cdef int _hidden_size(Py_ssize_t cols, name) except -1:
    if cols < 1 or cols > INT_MAX:
        raise ValueError(f"{name} must have shape (B, H) with H >= 1")
    return <int>cols


cdef int _threads(n_threads) except -1:
    return _size("n_threads", n_threads)


# ---------------------------------------------------------------- forward

cdef double _forward(real[::1] work, real[:, ::1] h_last,
                     const real[::1] params, const int32_t[:, ::1] inputs,
                     const int32_t[:, ::1] targets, const real[:, ::1] h0,
                     int n_threads) except? -1:
    _check_chunk(inputs, targets)
    cdef int B = <int>inputs.shape[0], T = <int>inputs.shape[1]
    cdef int H = _hidden_size(h0.shape[1], "h0")
    cdef int V = _vocab_size(params.shape[0], H)
    _check_state("h0", h0.shape[0], h0.shape[1], B, H)
    _check_state("h_last", h_last.shape[0], h_last.shape[1], B, H)
    _check_sizes("work", work.shape[0], crnn_forward_workspace(B, T, H, V))
    _check_ids(inputs, V, "inputs")
    cdef const int32_t *tp = NULL
    if targets is not None:
        _check_ids(targets, V, "targets")
        tp = &targets[0, 0]
    cdef double loss
    with nogil:
        if real is double:
            loss = crnn_forward_f64(&work[0], &h_last[0, 0], &params[0],
                                    &inputs[0, 0], tp, &h0[0, 0], B, T, H, V,
                                    n_threads)
        else:
            loss = crnn_forward_f32(&work[0], &h_last[0, 0], &params[0],
                                    &inputs[0, 0], tp, &h0[0, 0], B, T, H, V,
                                    n_threads)
    return loss


def forward(work, h_last, params, inputs, targets, h0, n_threads=1):
    """Forward over a chunk; returns the loss (see _kernels.pyi)."""
    _require(work=work, h_last=h_last, inputs=inputs, h0=h0)
    dtype = _params_dtype(params)
    threads = _threads(n_threads)
    try:
        if dtype == np.float64:
            return _forward[double](work, h_last, params, inputs, targets, h0, threads)
        return _forward[float](work, h_last, params, inputs, targets, h0, threads)
    except (ValueError, TypeError, BufferError) as error:
        ids = [("inputs", inputs)] + ([("targets", targets)] if targets is not None else [])
        _diagnose(error, dtype, [("h0", h0)], [("work", work), ("h_last", h_last)], ids)


# ---------------------------------------------------------------- backward

cdef int _backward(real[::1] grads, real[:, ::1] dh0, real[::1] work,
                   const real[::1] params, const int32_t[:, ::1] inputs,
                   const int32_t[:, ::1] targets, int n_threads) except -1:
    if targets is None:
        raise ValueError("backward needs targets")
    _check_chunk(inputs, targets)
    cdef int B = <int>inputs.shape[0], T = <int>inputs.shape[1]
    cdef int H = _hidden_size(dh0.shape[1], "dh0")
    cdef int V = _vocab_size(params.shape[0], H)
    _check_state("dh0", dh0.shape[0], dh0.shape[1], B, H)
    if grads.shape[0] != params.shape[0]:
        raise ValueError(f"grads must have the shape of params ({params.shape[0]},), "
                         f"got ({grads.shape[0]},)")
    _check_sizes("work", work.shape[0], crnn_train_workspace(B, T, H, V))
    _check_ids(inputs, V, "inputs")
    _check_ids(targets, V, "targets")
    with nogil:
        if real is double:
            crnn_backward_f64(&grads[0], &dh0[0, 0], &work[0], &params[0],
                              &inputs[0, 0], &targets[0, 0], B, T, H, V, n_threads)
        else:
            crnn_backward_f32(&grads[0], &dh0[0, 0], &work[0], &params[0],
                              &inputs[0, 0], &targets[0, 0], B, T, H, V, n_threads)
    return 0


def backward(grads, dh0, work, params, inputs, targets, n_threads=1):
    """BPTT through the chunk of the last forward(); adds to grads."""
    _require(grads=grads, dh0=dh0, work=work, inputs=inputs, targets=targets)
    dtype = _params_dtype(params)
    threads = _threads(n_threads)
    try:
        if dtype == np.float64:
            _backward[double](grads, dh0, work, params, inputs, targets, threads)
        else:
            _backward[float](grads, dh0, work, params, inputs, targets, threads)
    except (ValueError, TypeError, BufferError) as error:
        _diagnose(error, dtype, [], [("grads", grads), ("dh0", dh0), ("work", work)],
                  [("inputs", inputs), ("targets", targets)])


# ---------------------------------------------------------------- optimiser

cdef _flat_float(name, a, bint writable):
    _check_float_array(name, a, None, writable)
    if a.ndim != 1 or a.shape[0] == 0:
        raise ValueError(f"{name} must be 1-D and non-empty, got shape {a.shape}")


def clip(grads, limit):
    """Clip grads in place to [-limit, limit] (NaN stays NaN)."""
    _flat_float("grads", grads, True)
    cdef double c = float(limit)
    if not c >= 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    cdef double[::1] g64
    cdef float[::1] g32
    if grads.dtype == np.float64:
        g64 = grads
        with nogil:
            crnn_clip_f64(&g64[0], c, g64.shape[0])
    else:
        g32 = grads
        with nogil:
            crnn_clip_f32(&g32[0], <float>c, g32.shape[0])


def adagrad(params, mem, grads, learning_rate, eps=1e-8):
    """Adagrad in place: mem += g*g; params -= lr * g / sqrt(mem + eps)."""
    _flat_float("params", params, True)
    _check_float_array("mem", mem, params.dtype, True)
    _check_float_array("grads", grads, params.dtype, False)
    if mem.shape != params.shape or grads.shape != params.shape:
        raise ValueError(f"params, mem and grads must have one shape; got "
                         f"{params.shape}, {mem.shape}, {grads.shape}")
    cdef double lr, epsilon
    lr, epsilon = _rate(learning_rate, eps)
    cdef double[::1] p64, m64
    cdef const double[::1] g64
    cdef float[::1] p32, m32
    cdef const float[::1] g32
    if params.dtype == np.float64:
        p64, m64, g64 = params, mem, grads
        with nogil:
            crnn_adagrad_f64(&p64[0], &m64[0], &g64[0], lr, epsilon, p64.shape[0])
    else:
        p32, m32, g32 = params, mem, grads
        with nogil:
            crnn_adagrad_f32(&p32[0], &m32[0], &g32[0], <float>lr, <float>epsilon,
                             p32.shape[0])


cdef tuple _rate(learning_rate, eps):
    lr, epsilon = float(learning_rate), float(eps)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate}")
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"eps must be a positive number, got {eps}")
    return lr, epsilon


cdef double _train_step(real[::1] params, real[::1] mem, real[::1] grads,
                        real[::1] work, real[:, ::1] h,
                        const int32_t[:, ::1] inputs,
                        const int32_t[:, ::1] targets, double lr, double clip,
                        double eps, int n_threads) except? -1:
    _check_chunk(inputs, targets)
    cdef int B = <int>inputs.shape[0], T = <int>inputs.shape[1]
    cdef int H = _hidden_size(h.shape[1], "h")
    cdef int V = _vocab_size(params.shape[0], H)
    _check_state("h", h.shape[0], h.shape[1], B, H)
    if mem.shape[0] != params.shape[0] or grads.shape[0] != params.shape[0]:
        raise ValueError("params, mem and grads must have the same length")
    _check_sizes("work", work.shape[0], crnn_train_workspace(B, T, H, V))
    _check_ids(inputs, V, "inputs")
    _check_ids(targets, V, "targets")
    cdef double loss
    with nogil:
        if real is double:
            loss = crnn_train_step_f64(&params[0], &mem[0], &grads[0], &work[0],
                                       &h[0, 0], &inputs[0, 0], &targets[0, 0],
                                       lr, clip, eps, B, T, H, V, n_threads)
        else:
            loss = crnn_train_step_f32(&params[0], &mem[0], &grads[0], &work[0],
                                       &h[0, 0], &inputs[0, 0], &targets[0, 0],
                                       <float>lr, <float>clip, <float>eps,
                                       B, T, H, V, n_threads)
    return loss


def train_step(params, mem, grads, work, h, inputs, targets, learning_rate,
               clip=5.0, eps=1e-8, n_threads=1):
    """One full training iteration in C; returns the loss (see _kernels.pyi)."""
    _require(mem=mem, grads=grads, work=work, h=h, inputs=inputs, targets=targets)
    dtype = _params_dtype(params)
    lr, epsilon = _rate(learning_rate, eps)
    limit = float(clip)
    if not limit > 0:
        raise ValueError(f"clip must be > 0, got {clip}")
    threads = _threads(n_threads)
    try:
        if dtype == np.float64:
            return _train_step[double](params, mem, grads, work, h, inputs, targets,
                                       lr, limit, epsilon, threads)
        return _train_step[float](params, mem, grads, work, h, inputs, targets,
                                  lr, limit, epsilon, threads)
    except (ValueError, TypeError, BufferError) as error:
        _diagnose(error, dtype, [],
                  [("params", params), ("mem", mem), ("grads", grads), ("work", work),
                   ("h", h)], [("inputs", inputs), ("targets", targets)])


# ---------------------------------------------------------------- sampling

cdef int _sample(int32_t[::1] out, real[::1] h, real[::1] work,
                 const real[::1] params, long long x0,
                 const double[::1] uniforms, double temperature) except -1:
    cdef int H = _hidden_size(h.shape[0], "h")
    cdef int V = _vocab_size(params.shape[0], H)
    cdef int n = _size("len(out)", out.shape[0], 0)
    if uniforms.shape[0] != out.shape[0]:
        raise ValueError(f"uniforms must have one value per sampled id: "
                         f"len(uniforms) = {uniforms.shape[0]}, len(out) = {n}")
    if x0 < 0 or x0 >= V:
        raise ValueError(f"x0 = {x0} is out of range: ids must be in [0, {V})")
    _check_sizes("work", work.shape[0], crnn_sample_workspace(H, V))
    cdef Py_ssize_t i
    for i in range(n):
        if not (0.0 <= uniforms[i] < 1.0):
            raise ValueError(f"uniforms[{i}] = {uniforms[i]} is not in [0, 1)")
    if n == 0:
        return 0
    with nogil:
        if real is double:
            crnn_sample_f64(&out[0], &h[0], &work[0], &params[0], <int32_t>x0,
                            &uniforms[0], temperature, n, H, V)
        else:
            crnn_sample_f32(&out[0], &h[0], &work[0], &params[0], <int32_t>x0,
                            &uniforms[0], temperature, n, H, V)
    return 0


def sample(out, h, work, params, x0, uniforms, temperature):
    """Sample len(out) ids, feeding x0 first (see _kernels.pyi)."""
    _require(out=out, h=h, work=work, uniforms=uniforms)
    dtype = _params_dtype(params)
    if not isinstance(x0, (int, np.integer)) or isinstance(x0, bool):
        raise TypeError(f"x0 must be an integer id, got {type(x0).__name__}")
    if not 0 <= x0 <= INT_MAX:
        raise ValueError(f"x0 = {x0} is out of range: ids must be >= 0")
    if not isinstance(uniforms, np.ndarray) or uniforms.dtype != np.float64:
        raise TypeError("uniforms must be a float64 NumPy array")
    temp = float(temperature)
    if not (temp >= 0 and math.isfinite(temp)):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    try:
        if dtype == np.float64:
            _sample[double](out, h, work, params, x0, uniforms, temp)
        else:
            _sample[float](out, h, work, params, x0, uniforms, temp)
    except (ValueError, TypeError, BufferError) as error:
        if isinstance(out, np.ndarray) and not out.flags.writeable:
            raise ValueError("out is an output and must be writable") from None
        _check_layout("uniforms", uniforms, False)
        _diagnose(error, dtype, [], [("h", h), ("work", work)], [("out", out)])


# ---------------------------------------------------------------- trace

def trace_workspace_size(steps, hidden_size, vocab_size):
    """Elements of workspace that trace() needs."""
    return _fits(crnn_trace_workspace(_size("steps", steps),
                                      _size("hidden_size", hidden_size),
                                      _size("vocab_size", vocab_size)))


cdef int _trace(real[:, ::1] states, real[:, ::1] probs, real[::1] work,
                const real[::1] params, const int32_t[::1] inputs,
                const real[::1] h0) except -1:
    cdef int H = _hidden_size(h0.shape[0], "h0")
    cdef int V = _vocab_size(params.shape[0], H)
    cdef int T = _size("len(inputs)", inputs.shape[0])
    _check_state("states", states.shape[0], states.shape[1], T, H)
    _check_state("probs", probs.shape[0], probs.shape[1], T, V)
    _check_sizes("work", work.shape[0], crnn_trace_workspace(T, H, V))
    cdef Py_ssize_t i
    for i in range(T):
        if inputs[i] < 0 or inputs[i] >= V:
            raise ValueError(f"inputs[{i}] = {inputs[i]} is out of range: "
                             f"ids must be in [0, {V})")
    with nogil:
        if real is double:
            crnn_trace_f64(&states[0, 0], &probs[0, 0], &work[0], &params[0],
                           &inputs[0], &h0[0], T, H, V)
        else:
            crnn_trace_f32(&states[0, 0], &probs[0, 0], &work[0], &params[0],
                           &inputs[0], &h0[0], T, H, V)
    return 0


def trace(states, probs, work, params, inputs, h0):
    """One stream's states and predictions over a chunk (see _kernels.pyi)."""
    _require(states=states, probs=probs, work=work, inputs=inputs, h0=h0)
    dtype = _params_dtype(params)
    try:
        if dtype == np.float64:
            _trace[double](states, probs, work, params, inputs, h0)
        else:
            _trace[float](states, probs, work, params, inputs, h0)
    except (ValueError, TypeError, BufferError) as error:
        _diagnose(error, dtype, [("h0", h0)],
                  [("states", states), ("probs", probs), ("work", work)],
                  [("inputs", inputs)])


include "_net.pxi"
include "_optim.pxi"
