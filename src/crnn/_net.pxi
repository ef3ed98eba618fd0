# Included by _kernels.pyx: checked wrappers of the stacked-network kernels
# (csrc/net.h).  Sizes (cell, num_layers, hidden_size, vocab_size) are
# keyword arguments; B and T come from inputs.  Every array is checked
# (dtype, contiguity, shape, writability, id ranges) before the C call,
# which then runs without the GIL.

cdef extern from "net.h" nogil:
    ctypedef struct crnn_net_param:
        char name[32]
        size_t rows, cols, offset

    int crnn_net_gates(int cell) noexcept
    int crnn_net_state_width(int cell, int H) noexcept
    int crnn_net_param_entries(int cell, int L) noexcept
    int crnn_net_params(crnn_net_param *out, int cell, int L, int H, int V) noexcept
    size_t crnn_net_param_total(int cell, int L, int H, int V) noexcept
    size_t crnn_net_workspace(int cell, int L, int B, int T, int H, int V,
                              int train) noexcept
    size_t crnn_net_sample_workspace(int cell, int L, int H, int V) noexcept
    int crnn_net_forward_f64(double *loss, double *work, double *state_out,
                             const double *params, const int32_t *inputs,
                             const int32_t *targets, const double *state0,
                             const double *masks, double *states_seq,
                             double *probs_out, const volatile int *cancel,
                             int cell, int L, int B, int T, int H, int V,
                             int n_threads) noexcept
    int crnn_net_forward_f32(double *loss, float *work, float *state_out,
                             const float *params, const int32_t *inputs,
                             const int32_t *targets, const float *state0,
                             const float *masks, float *states_seq,
                             float *probs_out, const volatile int *cancel,
                             int cell, int L, int B, int T, int H, int V,
                             int n_threads) noexcept
    int crnn_net_backward_f64(double *grads, double *dstate0, double *work,
                              const double *params, const int32_t *inputs,
                              const int32_t *targets, const double *masks,
                              const volatile int *cancel, int cell, int L,
                              int B, int T, int H, int V, int n_threads) noexcept
    int crnn_net_backward_f32(float *grads, float *dstate0, float *work,
                              const float *params, const int32_t *inputs,
                              const int32_t *targets, const float *masks,
                              const volatile int *cancel, int cell, int L,
                              int B, int T, int H, int V, int n_threads) noexcept
    void crnn_net_sample_f64(int32_t *out, double *state, double *work,
                             const double *params, int32_t x0,
                             const double *uniforms, double temperature, int n,
                             int cell, int L, int H, int V) noexcept
    void crnn_net_sample_f32(int32_t *out, float *state, float *work,
                             const float *params, int32_t x0,
                             const double *uniforms, double temperature, int n,
                             int cell, int L, int H, int V) noexcept


CELLS = ("rnn", "lstm", "gru")


cdef int _cell_id(cell) except -1:
    """'rnn', 'lstm', 'gru' (or 0, 1, 2) as the C cell id."""
    if isinstance(cell, str) and cell in CELLS:
        return CELLS.index(cell)
    if isinstance(cell, (int, np.integer)) and not isinstance(cell, bool) \
            and 0 <= cell < len(CELLS):
        return <int>cell
    raise ValueError(f"unknown cell {cell!r}; choose one of {CELLS}")


cdef class _NetSizes:
    """The checked sizes of one call."""
    cdef public int cell, L, H, V, S, G

    def __init__(self, cell, num_layers, hidden_size, vocab_size):
        self.cell = _cell_id(cell)
        self.L = _size("num_layers", num_layers)
        self.H = _size("hidden_size", hidden_size)
        self.V = _size("vocab_size", vocab_size)
        if self.V < 2:
            raise ValueError(f"vocab_size must be >= 2, got {self.V}")
        self.S = crnn_net_state_width(self.cell, self.H)
        self.G = crnn_net_gates(self.cell)
        if <long long>self.G * self.H > INT_MAX or <long long>self.S > INT_MAX:
            raise ValueError("hidden_size is too large")

    def total(self):
        return _fits(crnn_net_param_total(self.cell, self.L, self.H, self.V))


def net_layout(cell, num_layers, hidden_size, vocab_size):
    """The flat parameter buffer's entries, in order: a list of
    (name, shape, offset); shape is (rows, cols), or (rows,) for biases."""
    cdef _NetSizes z = _NetSizes(cell, num_layers, hidden_size, vocab_size)
    z.total()
    cdef int n = crnn_net_param_entries(z.cell, z.L)
    entries = np.zeros(n * sizeof(crnn_net_param), dtype=np.uint8)
    cdef unsigned char[::1] raw = entries
    cdef crnn_net_param *p = <crnn_net_param *>&raw[0]
    crnn_net_params(p, z.cell, z.L, z.H, z.V)
    out = []
    for i in range(n):
        name = p[i].name.decode()
        rows, cols = int(p[i].rows), int(p[i].cols)
        shape = (rows,) if name.startswith("bias") else (rows, cols)
        out.append((name, shape, int(p[i].offset)))
    return out


def net_param_count(cell, num_layers, hidden_size, vocab_size):
    """Elements of the flat parameter buffer."""
    return _NetSizes(cell, num_layers, hidden_size, vocab_size).total()


def net_state_width(cell, hidden_size):
    """S, the last axis of a state (L, B, S): H, or 2H for the LSTM."""
    return crnn_net_state_width(_cell_id(cell), _size("hidden_size", hidden_size))


def net_workspace_size(cell, num_layers, batch, steps, hidden_size, vocab_size,
                       train=True):
    """Elements of workspace net_forward needs (train: and net_backward)."""
    cdef _NetSizes z = _NetSizes(cell, num_layers, hidden_size, vocab_size)
    return _fits(crnn_net_workspace(z.cell, z.L, _size("batch", batch),
                                    _size("steps", steps), z.H, z.V, bool(train)))


def net_sample_workspace_size(cell, num_layers, hidden_size, vocab_size):
    """Elements of workspace net_sample needs."""
    cdef _NetSizes z = _NetSizes(cell, num_layers, hidden_size, vocab_size)
    return _fits(crnn_net_sample_workspace(z.cell, z.L, z.H, z.V))


cdef int _check_shape(name, a, tuple shape) except -1:
    if a is not None and tuple(a.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(a.shape)}")
    return 0


cdef const int *_cancel_ptr(cancel) except? NULL:
    """The int the kernels poll: element 0 of an int32 array, or NULL."""
    cdef const int32_t[::1] c
    if cancel is None:
        return NULL
    if not isinstance(cancel, np.ndarray) or cancel.dtype != np.int32 \
            or cancel.ndim != 1 or cancel.shape[0] < 1 or not cancel.flags.c_contiguous:
        raise TypeError("cancel must be None or a 1-D int32 array (element 0 is polled)")
    c = cancel
    return <const int *>&c[0]


cdef _net_checks(_NetSizes z, params, inputs, targets, masks, int train):
    """Shapes common to forward and backward; returns (B, T)."""
    _check_id_array("inputs", inputs)
    if inputs.ndim != 2 or inputs.shape[0] < 1 or inputs.shape[1] < 1:
        raise ValueError(f"inputs must have shape (B, T) with B, T >= 1, got {inputs.shape}")
    B, T = _size("batch", inputs.shape[0]), _size("steps", inputs.shape[1])
    if params.shape[0] != z.total():
        raise ValueError(f"params has {params.shape[0]} elements; cell "
                         f"{CELLS[z.cell]!r} with num_layers={z.L}, hidden_size={z.H}, "
                         f"vocab_size={z.V} needs {z.total()}")
    _check_ids(inputs, z.V, "inputs")
    if targets is not None:
        _check_id_array("targets", targets)
        _check_shape("targets", targets, (B, T))
        _check_ids(targets, z.V, "targets")
    if masks is not None:
        if z.L == 1:
            raise ValueError("masks must be None for a single layer (dropout acts "
                             "between layers)")
        _check_float_array("masks", masks, params.dtype)
        _check_shape("masks", masks, (z.L - 1, T, B, z.H))
    _fits(crnn_net_workspace(z.cell, z.L, B, T, z.H, z.V, train))
    return B, T


cdef int _work_ok(work, _NetSizes z, int B, int T, int train) except -1:
    _check_float_array("work", work, None, True)
    if work.ndim != 1:
        raise ValueError(f"work must be 1-D, got shape {work.shape}")
    _check_sizes("work", work.shape[0], crnn_net_workspace(z.cell, z.L, B, T, z.H,
                                                            z.V, train))
    return 0


cdef object _forward_net(real[::1] work, real[:, :, ::1] state_out,
                         const real[::1] params, const int32_t[:, ::1] inputs,
                         const int32_t[:, ::1] targets, const real[:, :, ::1] state0,
                         const real[:, :, :, ::1] masks, real[:, :, :, ::1] seq,
                         real[:, :, ::1] probs, const int *cancel, _NetSizes z,
                         int B, int T, int n_threads):
    cdef const int32_t *tp = NULL
    cdef const real *mp = NULL
    cdef real *sp = NULL
    cdef real *pp = NULL
    if targets is not None:
        tp = &targets[0, 0]
    if masks is not None:
        mp = &masks[0, 0, 0, 0]
    if seq is not None:
        sp = &seq[0, 0, 0, 0]
    if probs is not None:
        pp = &probs[0, 0, 0]
    cdef double loss = 0.0
    cdef int stopped
    with nogil:
        if real is double:
            stopped = crnn_net_forward_f64(&loss, &work[0], &state_out[0, 0, 0],
                                           &params[0], &inputs[0, 0], tp,
                                           &state0[0, 0, 0], mp, sp, pp, cancel,
                                           z.cell, z.L, B, T, z.H, z.V, n_threads)
        else:
            stopped = crnn_net_forward_f32(&loss, &work[0], &state_out[0, 0, 0],
                                           &params[0], &inputs[0, 0], tp,
                                           &state0[0, 0, 0], mp, sp, pp, cancel,
                                           z.cell, z.L, B, T, z.H, z.V, n_threads)
    return None if stopped else loss


def net_forward(work, state_out, params, inputs, targets, state0, *, cell,
                num_layers, hidden_size, vocab_size, masks=None, states_seq=None,
                probs_out=None, cancel=None, n_threads=1):
    """Forward over a chunk (see _kernels.pyi); the loss, 0.0 without
    targets, or None if cancelled."""
    cdef _NetSizes z = _NetSizes(cell, num_layers, hidden_size, vocab_size)
    _require(work=work, state_out=state_out, inputs=inputs, state0=state0)
    dtype = _params_dtype(params)
    threads = _threads(n_threads)
    B, T = _net_checks(z, params, inputs, targets, masks, 0)
    _work_ok(work, z, B, T, 0)
    for name, a in (("state0", state0), ("state_out", state_out)):
        _check_float_array(name, a, dtype, name == "state_out")
        _check_shape(name, a, (z.L, B, z.S))
    if states_seq is not None:
        _check_float_array("states_seq", states_seq, dtype, True)
        _check_shape("states_seq", states_seq, (T, z.L, B, z.S))
    if probs_out is not None:
        _check_float_array("probs_out", probs_out, dtype, True)
        _check_shape("probs_out", probs_out, (T, B, z.V))
    _check_float_array("work", work, dtype, True)
    cdef const int *cp = _cancel_ptr(cancel)
    if dtype == np.float64:
        return _forward_net[double](work, state_out, params, inputs, targets, state0,
                                    masks, states_seq, probs_out, cp, z, B, T, threads)
    return _forward_net[float](work, state_out, params, inputs, targets, state0,
                               masks, states_seq, probs_out, cp, z, B, T, threads)


cdef bint _backward_net(real[::1] grads, real[:, :, ::1] dstate0, real[::1] work,
                        const real[::1] params, const int32_t[:, ::1] inputs,
                        const int32_t[:, ::1] targets, const real[:, :, :, ::1] masks,
                        const int *cancel, _NetSizes z, int B, int T, int n_threads):
    cdef const real *mp = NULL
    cdef real *dp = NULL
    if masks is not None:
        mp = &masks[0, 0, 0, 0]
    if dstate0 is not None:
        dp = &dstate0[0, 0, 0]
    cdef int stopped
    with nogil:
        if real is double:
            stopped = crnn_net_backward_f64(&grads[0], dp, &work[0], &params[0],
                                            &inputs[0, 0], &targets[0, 0], mp, cancel,
                                            z.cell, z.L, B, T, z.H, z.V, n_threads)
        else:
            stopped = crnn_net_backward_f32(&grads[0], dp, &work[0], &params[0],
                                            &inputs[0, 0], &targets[0, 0], mp, cancel,
                                            z.cell, z.L, B, T, z.H, z.V, n_threads)
    return not stopped


def net_backward(grads, dstate0, work, params, inputs, targets, *, cell, num_layers,
                 hidden_size, vocab_size, masks=None, cancel=None, n_threads=1):
    """BPTT through the chunk of the last net_forward (see _kernels.pyi); adds
    to grads.  True when done, False if cancelled."""
    cdef _NetSizes z = _NetSizes(cell, num_layers, hidden_size, vocab_size)
    _require(grads=grads, work=work, inputs=inputs, targets=targets)
    dtype = _params_dtype(params)
    threads = _threads(n_threads)
    B, T = _net_checks(z, params, inputs, targets, masks, 1)
    _work_ok(work, z, B, T, 1)
    _check_float_array("work", work, dtype, True)
    _check_float_array("grads", grads, dtype, True)
    _check_shape("grads", grads, (params.shape[0],))
    if dstate0 is not None:
        _check_float_array("dstate0", dstate0, dtype, True)
        _check_shape("dstate0", dstate0, (z.L, B, z.S))
    cdef const int *cp = _cancel_ptr(cancel)
    if dtype == np.float64:
        return _backward_net[double](grads, dstate0, work, params, inputs, targets,
                                     masks, cp, z, B, T, threads)
    return _backward_net[float](grads, dstate0, work, params, inputs, targets, masks,
                                cp, z, B, T, threads)


cdef int _sample_net(int32_t[::1] out, real[:, :, ::1] state, real[::1] work,
                     const real[::1] params, int32_t x0, const double[::1] uniforms,
                     double temperature, _NetSizes z) except -1:
    cdef int n = <int>out.shape[0]
    if n == 0:
        return 0
    with nogil:
        if real is double:
            crnn_net_sample_f64(&out[0], &state[0, 0, 0], &work[0], &params[0], x0,
                                &uniforms[0], temperature, n, z.cell, z.L, z.H, z.V)
        else:
            crnn_net_sample_f32(&out[0], &state[0, 0, 0], &work[0], &params[0], x0,
                                &uniforms[0], temperature, n, z.cell, z.L, z.H, z.V)
    return 0


def net_sample(out, state, work, params, x0, uniforms, temperature, *, cell,
               num_layers, hidden_size, vocab_size):
    """Sample len(out) ids from one stream, feeding x0 first (see _kernels.pyi)."""
    cdef _NetSizes z = _NetSizes(cell, num_layers, hidden_size, vocab_size)
    dtype = _params_dtype(params)
    if params.shape[0] != z.total():
        raise ValueError(f"params has {params.shape[0]} elements but needs {z.total()}")
    _check_id_array("out", out)
    if not out.flags.writeable:
        raise ValueError("out is an output and must be writable")
    if out.ndim != 1:
        raise ValueError(f"out must be 1-D, got shape {out.shape}")
    _size("len(out)", out.shape[0], 0)
    _check_float_array("state", state, dtype, True)
    _check_shape("state", state, (z.L, 1, z.S))
    _check_float_array("work", work, dtype, True)
    if work.ndim != 1:
        raise ValueError(f"work must be 1-D, got shape {work.shape}")
    _check_sizes("work", work.shape[0], crnn_net_sample_workspace(z.cell, z.L, z.H, z.V))
    if not isinstance(x0, (int, np.integer)) or isinstance(x0, bool):
        raise TypeError(f"x0 must be an integer id, got {type(x0).__name__}")
    if not 0 <= x0 < z.V:
        raise ValueError(f"x0 = {x0} is out of range: ids must be in [0, {z.V})")
    if not isinstance(uniforms, np.ndarray) or uniforms.dtype != np.float64:
        raise TypeError("uniforms must be a float64 NumPy array")
    _check_layout("uniforms", uniforms, False)
    if uniforms.shape != out.shape:
        raise ValueError(f"uniforms must have one value per sampled id: "
                         f"len(uniforms) = {uniforms.shape[0]}, len(out) = {out.shape[0]}")
    if uniforms.size and not (np.all(uniforms >= 0.0) and np.all(uniforms < 1.0)):
        raise ValueError("uniforms must be in [0, 1)")
    temp = float(temperature)
    if not (temp >= 0 and math.isfinite(temp)):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    if dtype == np.float64:
        _sample_net[double](out, state, work, params, x0, uniforms, temp, z)
    else:
        _sample_net[float](out, state, work, params, x0, uniforms, temp, z)
