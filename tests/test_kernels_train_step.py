"""crnn._kernels clip, adagrad and train_step against crnn.reference.minchar."""

import numpy as np
import pytest

from crnn.data import chunk_start
from crnn.reference import minchar as ref
from crnn import _kernels as K
from _kernel_helpers import F64, TOL, same_bytes


# ---------------------------------------------------------------------------
# clip and Adagrad

def test_clip_matches_reference_with_nan_and_inf(dtype, rng, isa):
    g = (rng.standard_normal(1000) * 6).astype(dtype)
    g[[3, 10, 500]] = np.nan
    g[[4, 11]] = [np.inf, -np.inf]
    g[[5, 6, 7, 8]] = [5.0, -5.0, np.nextafter(dtype.type(5), dtype.type(6)), -0.0]
    expected = ref.clip(g.astype(F64), 5.0)
    K.clip(g, 5.0)
    assert np.isnan(g[[3, 10, 500]]).all(), "NaN must stay NaN"
    assert np.array_equal(np.isnan(g), np.isnan(expected))
    assert np.array_equal(g, expected.astype(dtype), equal_nan=True)
    assert np.nanmax(np.abs(g)) == 5.0


@pytest.mark.parametrize("limit", [0.0, 1e-3, 1.0, 1e30])
def test_clip_limits(limit, dtype, rng):
    g = (rng.standard_normal(257) * 3).astype(dtype)
    expected = ref.clip(g, dtype.type(limit))
    K.clip(g, limit)
    assert np.array_equal(g, expected.astype(dtype))


def test_clip_single_element(dtype):
    g = np.array([7.5], dtype)
    K.clip(g, 5.0)
    assert g[0] == 5.0


@pytest.mark.parametrize("lr,eps", [(0.1, 1e-8), (1e-3, 1e-8), (0.5, 1e-2)])
def test_adagrad_matches_reference(lr, eps, dtype, rng, isa):
    n = 1001
    p = rng.standard_normal(n).astype(dtype)
    mem = rng.uniform(0, 3, n).astype(dtype)
    mem[:10] = 0  # the first step of training
    g = (rng.standard_normal(n) * 2).astype(dtype)
    g[10:15] = 0
    rp, rm = ref.adagrad(p.astype(F64), mem.astype(F64), g.astype(F64), lr, eps)
    p0 = p.copy()
    K.adagrad(p, mem, g, lr, eps)
    assert ref.rel_err(mem, rm) <= TOL[dtype]
    assert ref.rel_err(p, rp) <= TOL[dtype]
    if dtype == F64:  # the step itself (in float32 the rounding of p dominates small steps)
        assert ref.rel_err(p - p0, rp - p0) <= TOL[dtype]
    assert np.array_equal(p[10:15], p0[10:15])  # zero gradient: no move


def test_adagrad_default_eps(dtype, rng):
    n = 50
    p, mem, g = (rng.standard_normal(n).astype(dtype) for _ in range(3))
    mem = np.abs(mem)
    rp, rm = ref.adagrad(p.astype(F64), mem.astype(F64), g.astype(F64), 0.1, 1e-8)
    K.adagrad(p, mem, g, 0.1)
    assert ref.rel_err(p, rp) <= TOL[dtype] and ref.rel_err(mem, rm) <= TOL[dtype]


# ---------------------------------------------------------------------------
# train_step

def manual_step(params, mem, h, inputs, targets, lr, clip, eps, V):
    """zero grads + forward + backward + clip + adagrad, kernel by kernel."""
    (B, T), H, dt = inputs.shape, h.shape[1], params.dtype
    params, mem = params.copy(), mem.copy()
    work = np.zeros(K.train_workspace_size(B, T, H, V), dt)
    h_last = np.empty_like(h)
    grads = np.zeros_like(params)
    loss = K.forward(work, h_last, params, inputs, targets, h)
    K.backward(grads, np.empty_like(h), work, params, inputs, targets)
    K.clip(grads, clip)
    K.adagrad(params, mem, grads, lr, eps)
    return loss, params, mem, grads, h_last


def reference_step(params, mem, h, inputs, targets, lr, clip, eps, H, V):
    loss, rg, rh, _ = ref.loss_fun_batch(inputs, targets, h.astype(F64), ref.from_flat(params, H, V))
    g = ref.clip(ref.to_flat(rg), clip)
    p, m = ref.adagrad(params.astype(F64), mem.astype(F64), g, lr, eps)
    return loss, p, m, g, rh, ref.to_flat(rg)


@pytest.mark.parametrize("B", [1, 3])
@pytest.mark.parametrize("lr,clip,eps", [(0.1, 5.0, 1e-8), (0.05, 0.5, 1e-6)])
def test_train_step_equals_its_parts_and_the_reference(B, lr, clip, eps, dtype, rng, make_params, isa):
    T, H, V = 30, 10, 8
    params = make_params(rng, H, V, dtype, 0.5)
    present = np.array([0, 2, 3], dtype=np.int32)  # chars 1, 4..7 never appear as input
    inputs = rng.choice(present, (B, T)).astype(np.int32)
    targets = np.zeros((B, T), np.int32)  # one dominant target: large dby, clipping matters
    targets[:, ::3] = rng.integers(0, V, targets[:, ::3].shape)
    h0 = rng.uniform(-0.5, 0.5, (B, H)).astype(dtype)
    mem = rng.uniform(0.5, 2.0, params.shape).astype(dtype)

    m_loss, m_params, m_mem, m_grads, m_h = manual_step(params, mem, h0, inputs, targets, lr, clip, eps, V)
    r_loss, r_params, r_mem, r_grads, r_h, r_raw = reference_step(
        params, mem, h0, inputs, targets, lr, clip, eps, H, V)
    assert np.max(np.abs(r_raw)) > clip, "test data must exercise clipping"

    p, m, h = params.copy(), mem.copy(), h0.copy()
    g = np.full_like(params, 123.0)  # garbage: train_step must zero it first
    work = np.full(K.train_workspace_size(B, T, H, V), np.nan, dtype)
    loss = K.train_step(p, m, g, work, h, inputs, targets, lr, clip, eps)

    tol = TOL[dtype]
    for got, manual, refv, name in [(loss, m_loss, r_loss, "loss"), (p, m_params, r_params, "params"),
                                    (m, m_mem, r_mem, "mem"), (g, m_grads, r_grads, "grads"),
                                    (h, m_h, r_h, "h")]:
        assert ref.rel_err(got, manual) <= tol, f"{name}: train_step != forward+backward+clip+adagrad"
        assert ref.rel_err(got, refv) <= tol, f"{name}: train_step != reference"
    assert np.max(np.abs(g)) <= clip

    # Wxh columns (WxhT rows) of characters absent from the inputs: untouched
    absent = np.setdiff1d(np.arange(V), present)
    WxhT = lambda flat: flat[:V * H].reshape(V, H)  # noqa: E731
    assert same_bytes(WxhT(p)[absent], WxhT(params)[absent])
    assert same_bytes(WxhT(m)[absent], WxhT(mem)[absent])
    assert np.all(WxhT(g)[absent] == 0)
    assert not np.array_equal(WxhT(p)[present], WxhT(params)[present])


def test_train_step_reusing_buffers_with_other_characters(dtype, rng, make_params):
    """A second step on the same buffers, with inputs drawn from other
    characters: grads is this step's gradient only, nothing stale survives."""
    B, T, H, V = 2, 12, 6, 9
    params = make_params(rng, H, V, dtype, 0.4)
    mem = rng.uniform(0.5, 2.0, params.shape).astype(dtype)
    grads = np.zeros_like(params)
    work = np.zeros(K.train_workspace_size(B, T, H, V), dtype)
    h = rng.uniform(-0.5, 0.5, (B, H)).astype(dtype)
    first = rng.choice([0, 1, 2, 3], (B, T)).astype(np.int32)
    K.train_step(params, mem, grads, work, h, first, rng.integers(0, V, (B, T), dtype=np.int32), 0.1)
    second = rng.choice([4, 5, 6], (B, T)).astype(np.int32)
    targets = rng.integers(0, V, (B, T), dtype=np.int32)
    p0, m0, h0 = params.copy(), mem.copy(), h.copy()
    r_loss, r_params, r_mem, r_grads, r_h, _ = reference_step(p0, m0, h0, second, targets, 0.1, 5.0, 1e-8, H, V)
    loss = K.train_step(params, mem, grads, work, h, second, targets, 0.1)
    tol = TOL[dtype]
    assert ref.rel_err(grads, r_grads) <= tol
    assert np.all(grads[:V * H].reshape(V, H)[[0, 1, 2, 3, 7, 8]] == 0)
    assert ref.rel_err(loss, r_loss) <= tol and ref.rel_err(h, r_h) <= tol
    assert ref.rel_err(params, r_params) <= tol and ref.rel_err(mem, r_mem) <= tol


def test_train_step_from_zero_memory_like_min_char_rnn(dtype, rng):
    """First step of min-char-rnn: mem = 0, h = 0, weights N(0,1)*0.01."""
    B, T, H, V = 1, 25, 20, 9
    params = ref.to_flat(ref.random_params(rng, H, V, 0.01, 0.0), dtype)
    inputs = rng.integers(0, V, (B, T), dtype=np.int32)
    targets = rng.integers(0, V, (B, T), dtype=np.int32)
    h = np.zeros((B, H), dtype)
    mem = np.zeros_like(params)
    r_loss, r_params, r_mem, _, r_h, _ = reference_step(params, mem, h, inputs, targets, 0.1, 5.0, 1e-8, H, V)
    p, g = params.copy(), np.zeros_like(params)
    loss = K.train_step(p, mem, g, np.zeros(K.train_workspace_size(B, T, H, V), dtype), h, inputs, targets, 0.1)
    # with mem = 0 the step is lr*g/sqrt(g*g+eps): amplifies float32 noise in
    # near-zero gradients, so only float64 is held to the tight tolerance here
    tol = TOL[dtype] if dtype == F64 else 1e-3
    assert ref.rel_err(loss, r_loss) <= TOL[dtype]
    assert ref.rel_err(h, r_h) <= TOL[dtype]
    assert ref.rel_err(mem, r_mem) <= tol
    assert ref.rel_err(p, r_params) <= tol


def test_train_steps_follow_min_char_rnn_training_loop(rng):
    """Several train_step calls over a data stream == reference.train_reference."""
    H, V, T, n_iters = 8, 6, 5, 20
    data = rng.integers(0, V, 62).tolist()
    P0 = ref.random_params(rng, H, V, 0.3, 0.0)
    state = ref.train_reference(data, P0, n_iters, seq_length=T, learning_rate=0.1)

    params, mem = ref.to_flat(P0), np.zeros(ref.flat_size(H, V))
    grads, work = np.zeros_like(params), np.zeros(K.train_workspace_size(1, T, H, V))
    h, p, losses = np.zeros((1, H)), 0, []
    for n in range(n_iters):
        p, reset = chunk_start(p, T, len(data), first=n == 0)
        if reset:
            h[...] = 0
        inputs = np.array([data[p:p + T]], np.int32)
        targets = np.array([data[p + 1:p + T + 1]], np.int32)
        losses.append(K.train_step(params, mem, grads, work, h, inputs, targets, 0.1))
        p += T
    assert ref.rel_err(losses, state["losses"]) <= 1e-10
    assert ref.rel_err(params, ref.to_flat(state["params"])) <= 1e-10
    assert ref.rel_err(mem, ref.to_flat(state["mem"])) <= 1e-10
    assert ref.rel_err(h[0], state["h"]) <= 1e-10
