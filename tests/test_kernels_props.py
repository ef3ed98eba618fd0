"""Property tests: the kernels over random small shapes, dtypes, ids, strides.

Every array argument of a call is, at random, a plain valid array or a variant
of it (non-contiguous view, reversed strides, Fortran order, a stride trick
that NumPy still calls contiguous, read-only, another dtype, non-native byte
order, one element more or less, an extra dimension, a list).  Ids and scalar
arguments are drawn in and out of range.  An oracle that reads the spec in
``_kernels.pyi`` decides from the actual arguments whether the call is valid:

- valid   -> the call must succeed and equal crnn.reference.minchar;
- invalid -> the call must raise ValueError (bad shape, range, contiguity,
  read-only output) or TypeError (wrong dtype, not an array), and leave
  every argument byte-identical.

Either way the process must not crash.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from crnn.reference import minchar as ref
from crnn import _kernels as K

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
I32 = np.dtype(np.int32)
TOL = {F32: 1e-4, F64: 1e-12}

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

VARIANTS = ["ok"] * 10 + ["readonly", "strided", "reversed", "fortran", "size1-strides", "other-float",
                          "int", "half", "byteswap", "grow", "shrink", "extra-dim", "list"]


# ---------------------------------------------------------------------------
# argument variants

def variant(a, kind):
    """`a` (a valid C-contiguous array) turned into variant `kind`."""
    if kind == "ok":
        return a.copy()
    if kind == "readonly":
        a = a.copy()
        a.flags.writeable = False
        return a
    if kind == "strided":
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        v = big[..., ::2]
        v[...] = a
        return v
    if kind == "reversed":
        return a[..., ::-1].copy()[..., ::-1]
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "size1-strides":  # odd strides on length-1 axes: still C-contiguous for NumPy
        c = a.copy()
        strides = tuple(s if n > 1 else 977 * a.itemsize for n, s in zip(c.shape, c.strides))
        return np.lib.stride_tricks.as_strided(c, c.shape, strides)
    if kind == "other-float":
        return a.astype(F32 if a.dtype == F64 else F64)
    if kind == "int":
        return a.astype(np.int64)
    if kind == "half":
        return a.astype(np.float16)
    if kind == "byteswap":
        return a.astype(a.dtype.newbyteorder())
    if kind == "grow":
        return np.concatenate([a, np.zeros(a.shape[:-1] + (1,), a.dtype)], axis=-1)
    if kind == "shrink":
        return a[..., :-1].copy()
    if kind == "extra-dim":
        return a[None].copy()
    if kind == "list":
        return a.tolist()
    raise AssertionError(kind)


BENIGN = ["ok", "ok", "ok", "readonly", "size1-strides"]


class Variants:
    """Draws the variants of one call's arrays.

    Per example a mode is drawn, so that valid calls are frequent:
    'clean' (only variants that keep an input valid), 'one' (one array gets
    any variant) or 'many' (every array gets any variant)."""

    def __init__(self, data, n_arrays):
        self.data = data
        self.mode = data.draw(st.sampled_from(["clean", "clean", "one", "many"]), label="mode")
        self.chosen = data.draw(st.integers(0, n_arrays - 1), label="chosen")
        self.i = -1

    def __call__(self, a, name):
        self.i += 1
        wild = self.mode == "many" or (self.mode == "one" and self.i == self.chosen)
        kind = self.data.draw(st.sampled_from(VARIANTS if wild else BENIGN), label=f"variant of {name}")
        with np.errstate(invalid="ignore", over="ignore"):
            return variant(a, kind)

    def scalar(self, valid, invalid, name):
        """A scalar argument: out-of-range values only in the 'many' mode."""
        return self.data.draw(st.sampled_from(valid + (invalid if self.mode == "many" else [])), label=name)

    @property
    def corrupt(self):
        """Whether out-of-range ids/uniforms may be drawn in this example."""
        return self.mode != "clean"


def draw_ids(data, shape, V, name, corrupt=True):
    """Valid ids, sometimes (if `corrupt`) with one out-of-range value."""
    ids = np.array(data.draw(st.lists(st.integers(0, V - 1), min_size=int(np.prod(shape)),
                                      max_size=int(np.prod(shape))), label=name), np.int32).reshape(shape)
    if corrupt and data.draw(st.integers(0, 3), label=f"corrupt {name}?") == 0:
        pos = data.draw(st.integers(0, ids.size - 1))
        ids.flat[pos] = data.draw(st.sampled_from([-1, V, V + 3, -(2 ** 31), 2 ** 31 - 1]))
    return ids


def draw_floats(data, rng, dt, shape, scale):
    return (rng.standard_normal(shape) * scale).astype(dt)


# ---------------------------------------------------------------------------
# the oracle

class Oracle:
    """Collects what is wrong with a call, as the spec defines it."""

    def __init__(self):
        self.type = False  # a wrong dtype or a non-array: TypeError
        self.value = False  # bad shape / range / contiguity / read-only output: ValueError
        self.unknown = False  # some check could not be made because of a type fault

    def array(self, a, dtypes, out=False):
        """True if `a` is an ndarray whose values can be inspected."""
        if not isinstance(a, np.ndarray):
            self.type = self.unknown = True
            return False
        if a.dtype not in dtypes:  # includes non-native byte order
            self.type = True
        if not a.flags.c_contiguous:
            self.value = True
        if out and not a.flags.writeable:
            self.value = True
        return True

    def need(self, ok):
        if not ok:
            self.value = True
        return ok

    def expected(self):
        if self.type and (self.value or self.unknown):
            return (TypeError, ValueError)
        if self.type:
            return TypeError
        if self.value:
            return ValueError
        return None


def float_dtype(params):
    if isinstance(params, np.ndarray) and params.dtype in (F32, F64):
        return params.dtype
    return None


def check_chunk(o, params, inputs, targets, states, ndims):
    """Common checks of forward/backward/train_step; returns (B, T, H, V) or None.

    states: (name, array) of the (B, H) arrays; the first one defines H."""
    dt = float_dtype(params)
    fl = (dt,) if dt is not None else (F32, F64)
    ok = o.array(params, (F32, F64))
    ok &= all([o.array(inputs, (I32,))] + ([o.array(targets, (I32,))] if targets is not None else []))
    ok &= all([o.array(a, fl, out=out) for a, out in states])
    if not ok:
        return None
    arrays = [params, inputs] + ([targets] if targets is not None else []) + [a for a, _ in states]
    if not o.need([a.ndim for a in arrays] == ndims):
        return None
    B, T = inputs.shape
    H = states[0][0].shape[1]
    o.need(B >= 1 and T >= 1 and H >= 1)
    o.need(targets is None or targets.shape == inputs.shape)
    o.need(all(a.shape == (B, H) for a, _ in states))
    rest = params.size - H * H - H
    if not o.need(H >= 1 and rest > 0 and rest % (2 * H + 1) == 0):
        return None
    V = rest // (2 * H + 1)
    for ids in (inputs, targets):
        if ids is not None and ids.size:
            o.need(ids.min() >= 0 and ids.max() < V)
    return B, T, H, V


def snapshot(args):
    return [(a.copy(), a.dtype, a.shape) if isinstance(a, np.ndarray) else a for a in args]


def assert_unchanged(args, before):
    for a, b in zip(args, before):
        if isinstance(a, np.ndarray):
            assert a.dtype == b[1] and a.shape == b[2] and a.tobytes() == b[0].tobytes()


def expect_error(fn, args, expected):
    event("raises " + (expected.__name__ if isinstance(expected, type) else "ValueError or TypeError"))
    before = snapshot(args)
    with pytest.raises(expected):
        fn(*args)
    assert_unchanged(args, before)


def draw_sizes(data):
    B = data.draw(st.integers(1, 3), label="B")
    T = data.draw(st.integers(1, 4), label="T")
    H = data.draw(st.integers(1, 4), label="H")
    V = data.draw(st.integers(2, 5), label="V")
    dt = data.draw(st.sampled_from([F32, F64]), label="dtype")
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    return B, T, H, V, dt, np.random.default_rng(seed)


def reference_chunk(params, inputs, targets, h0, H, V):
    tg = targets if targets is not None else inputs
    return ref.loss_fun_batch(np.asarray(inputs), np.asarray(tg), np.asarray(h0, F64),
                              ref.from_flat(np.asarray(params, F64), H, V))


# ---------------------------------------------------------------------------
# the kernels

@SETTINGS
@given(st.data())
def test_forward_valid_or_raises(data):
    var = Variants(data, 6)
    B, T, H, V, dt, rng = draw_sizes(data)
    params = variant(ref.to_flat(ref.random_params(rng, H, V, 0.5, 0.2), dt), "ok")
    with_targets = data.draw(st.booleans(), label="targets?")
    args = [
        var(np.zeros(K.train_workspace_size(B, T, H, V), dt), "work"),
        var(np.full((B, H), np.nan, dt), "h_last"),
        var(params, "params"),
        var(draw_ids(data, (B, T), V, "inputs", var.corrupt), "inputs"),
        var(draw_ids(data, (B, T), V, "targets", var.corrupt), "targets") if with_targets else None,
        var(draw_floats(data, rng, dt, (B, H), 0.5), "h0"),
        var.scalar([1, 2, 3], [0, -1], "n_threads"),
    ]
    work, h_last, params, inputs, targets, h0, n_threads = args
    o = Oracle()
    dims = check_chunk(o, params, inputs, targets, [(h0, False), (h_last, True)], [1, 2, 2, 2, 2][:5 - (targets is None)])
    if o.array(work, (float_dtype(params) or F64,), out=True) and dims:
        o.need(work.ndim == 1 and work.size >= K.forward_workspace_size(*dims))
    o.need(n_threads >= 1)
    expected = o.expected()
    if expected is not None:
        return expect_error(K.forward, args, expected)
    event("valid call")

    before = snapshot([params, inputs, targets, h0])
    loss = K.forward(*args)
    assert_unchanged([params, inputs, targets, h0], before)
    B, T, H, V = dims
    r_loss, _, r_h, _ = reference_chunk(params, inputs, targets, h0, H, V)
    tol = TOL[params.dtype]
    assert ref.rel_err(h_last, r_h) <= tol
    if targets is None:
        assert loss == 0.0
    else:
        assert ref.rel_err(loss, r_loss) <= tol


@SETTINGS
@given(st.data())
def test_backward_valid_or_raises(data):
    var = Variants(data, 6)
    B, T, H, V, dt, rng = draw_sizes(data)
    args = [
        var(draw_floats(data, rng, dt, ref.flat_size(H, V), 0.1), "grads"),
        var(np.full((B, H), np.nan, dt), "dh0"),
        var(np.zeros(K.train_workspace_size(B, T, H, V), dt), "work"),
        var(ref.to_flat(ref.random_params(rng, H, V, 0.5, 0.2), dt), "params"),
        var(draw_ids(data, (B, T), V, "inputs", var.corrupt), "inputs"),
        var(draw_ids(data, (B, T), V, "targets", var.corrupt), "targets"),
        var.scalar([1, 2], [0], "n_threads"),
    ]
    grads, dh0, work, params, inputs, targets, n_threads = args
    o = Oracle()
    dims = check_chunk(o, params, inputs, targets, [(dh0, True)], [1, 2, 2, 2])
    fl = (float_dtype(params) or F64,)
    if o.array(grads, fl, out=True) and isinstance(params, np.ndarray):
        o.need(grads.shape == params.shape)
    if o.array(work, fl, out=True) and dims:
        o.need(work.ndim == 1 and work.size >= K.train_workspace_size(*dims))
    o.need(n_threads >= 1)
    expected = o.expected()
    if expected is not None:
        return expect_error(K.backward, args, expected)
    event("valid call")

    B, T, H, V = dims
    h0 = draw_floats(data, rng, params.dtype, (B, H), 0.5)
    K.forward(work, np.empty((B, H), params.dtype), params, inputs, targets, h0)
    start = grads.astype(F64)
    before = snapshot([params, inputs, targets])
    K.backward(*args)
    assert_unchanged([params, inputs, targets], before)
    _, r_g, _, r_dh0 = reference_chunk(params, inputs, targets, h0, H, V)
    tol = TOL[params.dtype]
    assert ref.rel_err(grads.astype(F64) - start, ref.to_flat(r_g)) <= 10 * tol  # minus the start: cancellation
    assert ref.rel_err(dh0, r_dh0) <= tol


LR, BAD_LR = [0.1, 1e-3], [0.0, -0.1, float("nan"), float("inf")]
EPS, BAD_EPS = [1e-8, 1e-3], [0.0, -1e-8, float("nan")]


def rate_ok(lr, eps):
    return math.isfinite(lr) and lr > 0 and math.isfinite(eps) and eps > 0


@SETTINGS
@given(st.data())
def test_train_step_valid_or_raises(data):
    var = Variants(data, 7)
    B, T, H, V, dt, rng = draw_sizes(data)
    n = ref.flat_size(H, V)
    args = [
        var(ref.to_flat(ref.random_params(rng, H, V, 0.5, 0.2), dt), "params"),
        var(rng.uniform(0.5, 2.0, n).astype(dt), "mem"),
        var(np.full(n, 9.0, dt), "grads"),
        var(np.zeros(K.train_workspace_size(B, T, H, V), dt), "work"),
        var(draw_floats(data, rng, dt, (B, H), 0.5), "h"),
        var(draw_ids(data, (B, T), V, "inputs", var.corrupt), "inputs"),
        var(draw_ids(data, (B, T), V, "targets", var.corrupt), "targets"),
        var.scalar(LR, BAD_LR, "lr"),
        var.scalar([5.0, 0.1], [0.0, -1.0, float("nan")], "clip"),
        var.scalar(EPS, BAD_EPS, "eps"),
        var.scalar([1, 2], [0], "n_threads"),
    ]
    params, mem, grads, work, h, inputs, targets, lr, clip, eps, n_threads = args
    o = Oracle()
    dims = check_chunk(o, params, inputs, targets, [(h, True)], [1, 2, 2, 2])
    if isinstance(params, np.ndarray) and not params.flags.writeable:
        o.value = True
    fl = (float_dtype(params) or F64,)
    for a in (mem, grads):
        if o.array(a, fl, out=True) and isinstance(params, np.ndarray):
            o.need(a.shape == params.shape)
    if o.array(work, fl, out=True) and dims:
        o.need(work.ndim == 1 and work.size >= K.train_workspace_size(*dims))
    o.need(rate_ok(lr, eps) and clip > 0 and n_threads >= 1)
    expected = o.expected()
    if expected is not None:
        return expect_error(K.train_step, args, expected)
    event("valid call")

    B, T, H, V = dims
    h0 = h.copy()
    r_loss, r_g, r_h, _ = reference_chunk(params, inputs, targets, h0, H, V)
    r_g = ref.clip(ref.to_flat(r_g), clip)
    r_p, r_m = ref.adagrad(params.astype(F64), mem.astype(F64), r_g, lr, eps)
    before = snapshot([inputs, targets])
    loss = K.train_step(*args)
    assert_unchanged([inputs, targets], before)
    tol = TOL[params.dtype]
    assert ref.rel_err(loss, r_loss) <= tol
    assert ref.rel_err(h, r_h) <= tol
    assert ref.rel_err(grads, r_g) <= tol
    assert ref.rel_err(mem, r_m) <= tol
    assert ref.rel_err(params, r_p) <= tol


@SETTINGS
@given(st.data())
def test_sample_valid_or_raises(data):
    var = Variants(data, 5)
    _, _, H, V, dt, rng = draw_sizes(data)
    n = data.draw(st.integers(0, 5), label="n")
    us = np.array(data.draw(st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=n, max_size=n)), F64)
    if n and var.corrupt and data.draw(st.integers(0, 3), label="corrupt uniforms?") == 0:
        us[data.draw(st.integers(0, n - 1))] = data.draw(st.sampled_from([1.0, -0.25, 1.5, float("nan")]))
    args = [
        var(np.full(n, -5, np.int32), "out"),
        var(draw_floats(data, rng, dt, H, 0.5), "h"),
        var(np.zeros(K.sample_workspace_size(H, V), dt), "work"),
        var(ref.to_flat(ref.random_params(rng, H, V, 0.5, 0.5), dt), "params"),
        var.scalar(list(range(V)), [-2, -1, V, V + 1], "x0"),
        var(us, "uniforms"),
        var.scalar([0.0, 0.3, 1.0, 2.5], [-1.0, float("nan"), float("inf")], "temperature"),
    ]
    out, h, work, params, x0, uniforms, temperature = args
    o = Oracle()
    dt_p = float_dtype(params)
    known = o.array(params, (F32, F64))
    known &= o.array(h, (dt_p or F64,), out=True)
    known &= o.array(out, (I32,), out=True)
    known &= o.array(uniforms, (F64,))
    known &= o.array(work, (dt_p or F64,), out=True)
    o.need(temperature >= 0 and math.isfinite(temperature))
    o.need(x0 >= 0)
    dims = None
    if known and o.need(params.ndim == 1 and h.ndim == 1 and out.ndim == 1 and uniforms.ndim == 1
                        and work.ndim == 1):
        Hh = h.shape[0]
        rest = params.size - Hh * Hh - Hh
        if o.need(Hh >= 1 and rest > 0 and rest % (2 * Hh + 1) == 0):
            Vv = rest // (2 * Hh + 1)
            o.need(x0 < Vv)
            o.need(uniforms.shape == out.shape)
            o.need(bool(np.all((uniforms >= 0) & (uniforms < 1))))
            o.need(work.size >= K.sample_workspace_size(Hh, Vv))
            dims = Hh, Vv
    expected = o.expected()
    if expected is not None:
        return expect_error(K.sample, args, expected)
    event("valid call")

    Hh, Vv = dims
    P = ref.from_flat(np.asarray(params, F64), Hh, Vv)
    r_ids, r_h = ref.sample_reference(P, np.asarray(h, F64), x0, uniforms, temperature)
    h_in = h.copy()
    before = snapshot([params, uniforms])
    K.sample(*args)
    assert_unchanged([params, uniforms], before)
    assert np.all((out >= 0) & (out < Vv))
    if len(out) == 0:
        assert np.array_equal(h, h_in)
        return
    # float32 may flip a choice whose uniform sits right on a cumsum boundary
    hh, x, safe = np.asarray(h_in, F64), x0, True
    for u in uniforms:
        hh, probs = ref.sample_step_probs(P, hh, x, temperature)
        safe &= bool(np.min(np.abs(np.cumsum(probs) - u)) > (1e-9 if params.dtype == F64 else 1e-3))
        x = ref.choose(probs, u)
    if safe or temperature == 0:
        assert np.array_equal(out, r_ids)
        assert ref.rel_err(h, r_h) <= TOL[params.dtype]


@SETTINGS
@given(st.data())
def test_clip_valid_or_raises(data):
    var = Variants(data, 1)
    dt = data.draw(st.sampled_from([F32, F64]))
    vals = data.draw(st.lists(st.one_of(st.floats(-20, 20), st.sampled_from([np.nan, np.inf, -np.inf])),
                              min_size=1, max_size=40))
    grads = var(np.array(vals, dt), "grads")
    limit = var.scalar([5.0, 0.5, 0.0, float("inf")], [-1.0, float("nan")], "limit")
    o = Oracle()
    if o.array(grads, (F32, F64), out=True):
        o.need(grads.ndim == 1 and grads.size >= 1)
    o.need(limit >= 0)
    expected = o.expected()
    if expected is not None:
        return expect_error(K.clip, [grads, limit], expected)
    event("valid call")
    expected_values = ref.clip(grads.astype(F64), grads.dtype.type(limit)).astype(grads.dtype)
    K.clip(grads, limit)
    assert np.array_equal(grads, expected_values, equal_nan=True)


@SETTINGS
@given(st.data())
def test_adagrad_valid_or_raises(data):
    var = Variants(data, 3)
    dt = data.draw(st.sampled_from([F32, F64]))
    n = data.draw(st.integers(1, 30))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
    args = [
        var(rng.standard_normal(n).astype(dt), "params"),
        var(rng.uniform(0, 2, n).astype(dt), "mem"),
        var((rng.standard_normal(n) * 3).astype(dt), "grads"),
        var.scalar(LR, BAD_LR, "lr"),
        var.scalar(EPS, BAD_EPS, "eps"),
    ]
    params, mem, grads, lr, eps = args
    o = Oracle()
    dt_p = float_dtype(params)
    known = o.array(params, (F32, F64), out=True)
    known &= o.array(mem, (dt_p or F64,), out=True)
    known &= o.array(grads, (dt_p or F64,))
    if known:
        o.need(params.ndim == 1 and params.size >= 1 and mem.shape == params.shape
               and grads.shape == params.shape)
    o.need(rate_ok(lr, eps))
    expected = o.expected()
    if expected is not None:
        return expect_error(K.adagrad, args, expected)
    event("valid call")
    r_p, r_m = ref.adagrad(params.astype(F64), mem.astype(F64), grads.astype(F64), lr, eps)
    before = snapshot([grads])
    K.adagrad(*args)
    assert_unchanged([grads], before)
    assert ref.rel_err(mem, r_m) <= TOL[params.dtype]
    assert ref.rel_err(params, r_p) <= TOL[params.dtype]
