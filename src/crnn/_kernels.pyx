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


include "_tanh.pxi"
include "_net.pxi"
include "_optim.pxi"
