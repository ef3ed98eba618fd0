# Included by _kernels.pyx: checked wrappers of the one-layer tanh kernels
# (csrc/crnn.h, the min-char-rnn network): forward, backward, clip, Adagrad,
# the fused train_step, sampling and tracing.  The checks they share with
# _net.pxi and _optim.pxi are in _kernels.pyx.

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
