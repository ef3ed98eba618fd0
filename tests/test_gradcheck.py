"""Central-difference gradient checks (float64).

The kernels' backward() against finite differences of their own forward()
loss, for all five parameters and the initial state, before any clipping; and
the NumPy reference against finite differences of its own loss, so the
reference is checked independently of the kernels.
"""

import numpy as np
import pytest

from crnn.reference import minchar as ref
from crnn import _kernels as K

STEP = 1e-5  # central differences: truncation ~STEP**2, rounding ~1e-16*loss/STEP
TOL = 1e-6

# (B, T, H, V): edge sizes and a long chunk with one dominant target whose
# by-gradient is far beyond the clip limit of 5 (backward must not clip)
CASES = [(1, 1, 1, 2), (1, 6, 5, 4), (3, 4, 4, 3), (2, 8, 7, 5), (1, 30, 3, 2)]


def make(rng, B, T, H, V, scale=0.5):
    params = ref.to_flat(ref.random_params(rng, H, V, scale, 0.3))
    inputs = rng.integers(0, V, (B, T), dtype=np.int32)
    targets = rng.integers(0, V, (B, T), dtype=np.int32)
    if T == 30:
        targets[:] = 0
    h0 = rng.uniform(-0.7, 0.7, (B, H))
    return params, inputs, targets, h0


def kernel_loss(params, inputs, targets, h0):
    (B, T), H = inputs.shape, h0.shape[1]
    V = (params.size - H * H - H) // (2 * H + 1)
    work = np.zeros(K.forward_workspace_size(B, T, H, V))
    return K.forward(work, np.empty((B, H)), params, inputs, targets, h0)


def numeric_grad(f, x):
    g = np.zeros_like(x)
    for i in range(x.size):
        old = x.flat[i]
        x.flat[i] = old + STEP
        up = f()
        x.flat[i] = old - STEP
        down = f()
        x.flat[i] = old
        g.flat[i] = (up - down) / (2 * STEP)
    return g


@pytest.mark.parametrize("B,T,H,V", CASES)
def test_kernel_gradients_match_central_differences(B, T, H, V, rng):
    params, inputs, targets, h0 = make(rng, B, T, H, V)
    work = np.zeros(K.train_workspace_size(B, T, H, V))
    K.forward(work, np.empty((B, H)), params, inputs, targets, h0)
    grads, dh0 = np.zeros_like(params), np.empty_like(h0)
    K.backward(grads, dh0, work, params, inputs, targets)

    num = numeric_grad(lambda: kernel_loss(params, inputs, targets, h0), params)
    num_dh0 = numeric_grad(lambda: kernel_loss(params, inputs, targets, h0), h0)

    analytic, numeric = ref.from_flat(grads, H, V), ref.from_flat(num, H, V)
    errs = {k: ref.rel_err(analytic[k], numeric[k]) for k in ref.PARAM_NAMES}
    errs["dh0"] = ref.rel_err(dh0, num_dh0)
    assert all(e < TOL for e in errs.values()), errs
    if T == 30:
        assert np.max(np.abs(grads)) > 5, "this case must have unclipped gradients beyond 5"


@pytest.mark.parametrize("B,T,H,V", CASES[:4])
def test_reference_gradients_match_central_differences(B, T, H, V, rng):
    params, inputs, targets, h0 = make(rng, B, T, H, V)
    P = ref.from_flat(params, H, V)
    _, grads, _, dh0 = ref.loss_fun_batch(inputs, targets, h0, P)
    for name in ref.PARAM_NAMES:
        num = numeric_grad(lambda: ref.loss_fun_batch(inputs, targets, h0, P)[0], P[name])
        assert ref.rel_err(grads[name], num) < TOL, name
    num = numeric_grad(lambda: ref.loss_fun_batch(inputs, targets, h0, P)[0], h0)
    assert ref.rel_err(dh0, num) < TOL


def test_reference_loss_by_hand():
    """One step, H = 1, V = 2, numbers worked out by hand."""
    P = {"Wxh": np.array([[0.5, -0.25]]), "Whh": np.array([[0.8]]), "Why": np.array([[1.0], [-2.0]]),
         "bh": np.array([0.1]), "by": np.array([0.0, 0.3])}
    h0 = np.array([0.2])
    loss, g, h, dh0 = ref.loss_fun([1], [0], h0, P)
    h1 = np.tanh(-0.25 + 0.8 * 0.2 + 0.1)  # = tanh(0.01)
    y = np.array([h1, -2 * h1 + 0.3])
    p = np.exp(y) / np.exp(y).sum()
    assert np.isclose(h[0], h1, rtol=0, atol=1e-15)
    assert np.isclose(loss, -np.log(p[0]), rtol=1e-14)
    dy = p - np.array([1.0, 0.0])
    assert np.allclose(g["by"], dy, rtol=1e-14)
    dhraw = (1 - h1 ** 2) * (dy @ np.array([1.0, -2.0]))
    assert np.allclose(g["Wxh"], [[0.0, dhraw]], rtol=1e-14)
    assert np.allclose(g["Whh"], [[dhraw * 0.2]], rtol=1e-14)
    assert np.allclose(dh0, [0.8 * dhraw], rtol=1e-14)


def test_reference_choose_and_clip():
    p = np.array([0.0, 0.25, 0.0, 0.5, 0.25, 0.0])
    assert ref.choose(p, 0.0) == 1  # first id with p > 0
    assert ref.choose(p, 0.2499) == 1
    assert ref.choose(p, 0.25) == 3  # cumsum must be strictly greater than u
    assert ref.choose(p, 0.9999) == 4
    assert ref.choose(p, 1.5) == 4  # beyond the total: last id with p > 0
    g = ref.clip(np.array([np.nan, -7.0, 7.0, 1.0, np.inf]), 5.0)
    assert np.isnan(g[0]) and list(g[1:]) == [-5.0, 5.0, 1.0, 5.0]


def test_reference_training_loop_resets_like_min_char_rnn(rng):
    data = rng.integers(0, 4, 20).tolist()
    P = ref.random_params(rng, 3, 4, 0.1)
    s = ref.train_reference(data, P, 3, seq_length=5)
    assert s["p"] == 15 and s["n"] == 3
    s = ref.train_reference(data, P, 1, seq_length=5, state=s)  # 15 + 5 + 1 >= 20: back to 0
    assert s["p"] == 5 and len(s["losses"]) == 4
    whole = ref.train_reference(data, P, 4, seq_length=5)
    assert whole["losses"] == s["losses"]
    assert np.isclose(whole["smooth_loss"], np.log(4) * 5 * 0.999 ** 4 + sum(
        0.001 * 0.999 ** (3 - i) * l for i, l in enumerate(whole["losses"])))
