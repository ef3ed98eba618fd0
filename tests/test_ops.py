"""Accuracy of the element-wise functions inside the kernels.

The kernels compute tanh (every hidden state) and exp (every softmax) with
their own branch-free polynomial versions so that they vectorise.  The C API
exposes them as crnn_tanh_{f32,f64} and crnn_exp_{f32,f64} (in place, on
the active instruction-set path); they are called here through ctypes on
the extension module itself, on every path this CPU has, and compared with
NumPy evaluated in long double (about 11 more bits than double on x86-64).
"""

import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

from crnn import _kernels as K

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
SUFFIX = {F32: "f32", F64: "f64"}
# Largest error in units in the last place (of the correctly rounded
# result) over the ranges below.  Measured: tanh <= 1.9 with FMA, 2.4
# without (the baseline path); exp <= 1.2.
MAX_ULP = {"tanh": 2.5, "exp": 1.5}
# With a long double no wider than double the reference itself is off by
# up to half a unit.
REF_SLACK = 0.0 if np.finfo(np.longdouble).nmant > 52 else 0.5


def _function(name, dtype):
    try:
        lib = ctypes.CDLL(K.__file__)
        f = getattr(lib, f"crnn_{name}_{SUFFIX[dtype]}")
    except (OSError, AttributeError):
        pytest.skip("the extension does not export the C API on this platform")
    f.restype = None
    f.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return f


def apply(name, x, n=None):
    """name(x) through the C function, on a copy; n: elements to process."""
    x = np.array(x, copy=True)
    _function(name, x.dtype)(x.ctypes.data, x.size if n is None else n)
    return x


def ulp_errors(got, ref, dtype):
    """|got - ref| in units in the last place of ref rounded to dtype."""
    rounded = ref.astype(dtype)
    ulp = np.spacing(np.abs(rounded)).astype(np.longdouble)
    return np.abs(got.astype(np.longdouble) - ref) / ulp


def wide_sample(rng, dtype, name):
    if name == "tanh":
        parts = [rng.uniform(-1, 1, 50_000), rng.uniform(-25, 25, 50_000),
                 np.exp(rng.uniform(-60, 1, 50_000)) * rng.choice([-1, 1], 50_000)]
    else:
        lo, hi = (-745.0, 709.7) if dtype == F64 else (-103.0, 88.7)
        parts = [rng.uniform(-1, 1, 50_000), rng.uniform(lo, hi, 50_000),
                 rng.uniform(-0.36, 0.36, 50_000)]
    return np.concatenate(parts).astype(dtype)


@pytest.mark.parametrize("name", ["tanh", "exp"])
def test_accuracy_over_a_wide_range(name, dtype, isa, rng):
    x = wide_sample(rng, dtype, name)
    got = apply(name, x)
    ref = getattr(np, name)(x.astype(np.longdouble))
    with np.errstate(over="ignore"):
        finite = np.isfinite(ref.astype(dtype))
    assert np.array_equal(got[~finite], ref[~finite].astype(dtype))
    err = ulp_errors(got[finite], ref[finite], dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP[name] + REF_SLACK, (
        f"{name}({x[finite][worst]!r}) = {got[finite][worst]!r}: "
        f"{float(err[worst]):.2f} ulp from {ref[finite][worst]!r}")


def test_tanh_is_accurate_relative_to_x_for_small_x(dtype, isa):
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([tiny, 2 * tiny, 3 * tiny, np.finfo(dtype).tiny, 1e-30, 1e-20,
                  1e-12, 1e-9, 3e-6, 1e-4, 1e-3], dtype=dtype)
    x = np.concatenate([x, -x])
    got = apply("tanh", x)
    ref = np.tanh(x.astype(np.longdouble))
    assert np.all(ulp_errors(got, ref, dtype) <= 1.5 + REF_SLACK)
    # below sqrt(eps) tanh(x) rounds to x itself
    small = np.abs(x) < 1e-9
    assert np.array_equal(got[small], x[small])


def test_tanh_special_values(dtype, isa):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 30.0, -30.0, 1e30, -1e30,
                  np.finfo(dtype).max, -np.finfo(dtype).max], dtype=dtype)
    got = apply("tanh", x)
    assert got[0] == 0 and not np.signbit(got[0])
    assert got[1] == 0 and np.signbit(got[1])
    assert np.isnan(got[4])
    assert list(got[[2, 5, 7, 9]]) == [1, 1, 1, 1]
    assert list(got[[3, 6, 8, 10]]) == [-1, -1, -1, -1]


def test_tanh_is_odd_and_bounded(dtype, isa, rng):
    x = (rng.standard_normal(10_000) * 3).astype(dtype)
    pos, neg = apply("tanh", x), apply("tanh", -x)
    assert np.array_equal(neg, -pos)
    assert np.all(np.abs(pos) <= 1)


def test_exp_special_values(dtype, isa):
    big = 800.0 if dtype == F64 else 100.0
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, big, -big * 2, 1e30, -1e30,
                  np.finfo(dtype).max, -np.finfo(dtype).max], dtype=dtype)
    got = apply("exp", x)
    assert got[0] == 1 and got[1] == 1
    assert got[2] == np.inf and got[5] == np.inf and got[7] == np.inf and got[9] == np.inf
    assert np.isnan(got[4])
    assert got[3] == 0 and got[6] == 0 and got[8] == 0 and got[10] == 0


def test_exp_rounds_into_the_subnormal_range(dtype, isa):
    fi = np.finfo(dtype)
    lo = np.log(np.longdouble(fi.smallest_subnormal))
    x = np.linspace(float(lo) - 1, np.log(float(fi.tiny)), 2001).astype(dtype)
    got = apply("exp", x)
    ref = np.exp(x.astype(np.longdouble))
    # measured in units of the smallest subnormal: one rounding at most
    err = np.abs(got.astype(np.longdouble) - ref) / np.longdouble(fi.smallest_subnormal)
    assert np.all(err <= 1.0)
    assert np.all(np.diff(got) >= 0)  # monotone through the range


@pytest.mark.parametrize("name", ["tanh", "exp"])
def test_every_length_is_processed_and_nothing_beyond(name, dtype, isa, rng):
    for n in range(0, 41):
        x = rng.uniform(-2, 2, 48).astype(dtype)
        got = apply(name, x, n)
        whole = apply(name, x)
        assert np.array_equal(got[:n], whole[:n]), n
        assert np.array_equal(got[n:], x[n:]), n


# ---------------------------------------------------------------------------
# the kernels' results do not depend on the number of threads

def _train_case(rng, B, T, H, V, dtype):
    n = K.param_count(H, V)
    params = (rng.standard_normal(n) * 0.1).astype(dtype)
    inputs = rng.integers(0, V, (B, T), dtype=np.int32)
    targets = rng.integers(0, V, (B, T), dtype=np.int32)
    h0 = rng.uniform(-0.5, 0.5, (B, H)).astype(dtype)
    return params, inputs, targets, h0


def _run_all(params, inputs, targets, h0, V, n_threads):
    (B, T), H, dt = inputs.shape, h0.shape[1], params.dtype
    work = np.zeros(K.train_workspace_size(B, T, H, V), dt)
    h_last = np.zeros_like(h0)
    loss = K.forward(work, h_last, params, inputs, targets, h0, n_threads)
    grads, dh0 = np.zeros_like(params), np.zeros_like(h0)
    K.backward(grads, dh0, work, params, inputs, targets, n_threads)
    p, mem, g, h = params.copy(), np.full_like(params, 0.5), np.zeros_like(params), h0.copy()
    step_losses = [K.train_step(p, mem, g, work, h, inputs, targets, 0.1, n_threads=n_threads)
                   for _ in range(3)]
    return [np.float64(loss), h_last, grads, dh0, np.array(step_losses), p, mem, g, h]


# large enough for the kernels to use several threads (B*H*H >= 2e5)
@pytest.mark.parametrize("B,T,H,V", [(8, 5, 160, 65), (16, 3, 200, 7), (9, 4, 150, 33)])
def test_results_are_bitwise_identical_for_any_thread_count(B, T, H, V, dtype, isa, rng):
    case = _train_case(rng, B, T, H, V, dtype)
    one = _run_all(*case, V, 1)
    for n_threads in (2, 3, 4):
        many = _run_all(*case, V, n_threads)
        for a, b in zip(one, many):
            assert a.tobytes() == b.tobytes(), n_threads


# ---------------------------------------------------------------------------
# train_step's Adagrad: the fast reciprocal square root (double) falls back
# to an exact square root where mem + eps leaves [1e-37, 1e37) or is NaN

@pytest.mark.parametrize("case", ["tiny-eps", "huge-mem", "nan-mem"])
def test_train_step_update_matches_adagrad_outside_the_fast_range(case, dtype, isa, rng):
    B, T, H, V = 1, 6, 20, 11
    params, inputs, targets, h0 = _train_case(rng, B, T, H, V, dtype)
    mem = np.abs(rng.standard_normal(params.size)).astype(dtype)
    eps = 1e-8
    if case == "tiny-eps":
        # h stays 0: the gradients of Whh and Why are exactly 0, so with
        # mem = 0 the square root is taken of eps alone
        views = K.param_views(params, H, V)
        views["Wxh"][...] = 0
        views["Whh"][...] = 0
        views["bh"][...] = 0
        h0[...] = 0
        mem[::2] = 0
        eps = 1e-300 if dtype == F64 else 1e-40
    elif case == "huge-mem":
        mem[::3] = 1e300 if dtype == F64 else 1e38
    else:
        mem[::5] = np.nan

    # reference: the separate kernels (exact square root and division)
    work = np.zeros(K.train_workspace_size(B, T, H, V), dtype)
    grads, dh0, h_last = np.zeros_like(params), np.zeros_like(h0), np.zeros_like(h0)
    K.forward(work, h_last, params, inputs, targets, h0)
    K.backward(grads, dh0, work, params, inputs, targets)
    K.clip(grads, 5.0)
    want_p, want_mem = params.copy(), mem.copy()
    K.adagrad(want_p, want_mem, grads, 0.1, eps)
    absent = np.setdiff1d(np.arange(V), inputs)
    for v in absent:  # train_step leaves the rows of absent characters alone
        want_p[v * H:(v + 1) * H] = params[v * H:(v + 1) * H]
        want_mem[v * H:(v + 1) * H] = mem[v * H:(v + 1) * H]

    p, m, g, h = params.copy(), mem.copy(), np.zeros_like(params), h0.copy()
    K.train_step(p, m, g, work, h, inputs, targets, 0.1, eps=eps)
    tol = 1e-12 if dtype == F64 else 1e-5
    np.testing.assert_allclose(m, want_mem, rtol=tol, atol=0, equal_nan=True)
    np.testing.assert_allclose(p, want_p, rtol=tol, atol=tol, equal_nan=True)


FORK_SCRIPT = r"""
import os, sys
import numpy as np
from crnn import _kernels as K
B, T, H, V = 16, 10, 256, 65
n = K.param_count(H, V)
p = (np.random.default_rng(0).standard_normal(n) * 0.1).astype(np.float32)
work = np.zeros(K.train_workspace_size(B, T, H, V), np.float32)
ids = np.zeros((B, T), np.int32)
def step():
    h = np.zeros((B, H), np.float32)
    return K.train_step(p.copy(), np.zeros(n, np.float32), np.zeros(n, np.float32), work, h,
                        ids, ids, 0.1, n_threads=2)
before = step()
pid = os.fork()
if pid == 0:
    os._exit(0 if step() == before else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_threads_after_fork_neither_hang_nor_change_results():
    """libgomp cannot start threads in a child forked after the parent used
    them; the kernels then run on one thread in the child."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, "-c", FORK_SCRIPT], env=env, timeout=120)
    assert done.returncode == 0
