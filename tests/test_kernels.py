"""crnn._kernels against the pure-NumPy reference in crnn.reference.minchar.

Covers: loss/gradients/dh0/h_last vs the reference, batching, workspaces,
n_threads, clip, Adagrad, train_step, sampling, that inputs are never
modified, read-only inputs, and that every bad input raises (and leaves every
argument untouched: nothing invalid may reach C).
"""

import numpy as np
import pytest

from crnn.data import chunk_start
from crnn.reference import minchar as ref
from crnn import _kernels as K

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
TOL = {F32: 1e-4, F64: 1e-12}

# (B, T, H, V, weight scale): edge sizes T=1, H=1, V=2 and realistic ones
SIZES = [
    (1, 1, 1, 2, 0.5),
    (1, 1, 5, 2, 0.5),
    (1, 4, 1, 3, 0.5),
    (2, 1, 3, 2, 0.5),
    (3, 2, 1, 2, 0.5),
    (1, 25, 16, 10, 0.3),
    (3, 7, 8, 5, 0.5),
    (4, 25, 32, 65, 0.2),
    (1, 25, 100, 65, 0.1),
    (1, 25, 100, 65, 0.01),  # min-char-rnn's own initialisation
    (8, 25, 100, 65, 0.1),
    # odd sizes: remainders of the vectorised loops on every CPU path
    (5, 13, 17, 33, 0.3),
    (7, 9, 67, 129, 0.15),
    (1, 200, 9, 4, 0.4),
    (3, 25, 128, 256, 0.12),
]


def size_id(s):
    return "B{}-T{}-H{}-V{}-s{}".format(*s)


def make_case(rng, make_params, B, T, H, V, dtype, scale=0.3):
    params = make_params(rng, H, V, dtype, scale)
    inputs = rng.integers(0, V, (B, T), dtype=np.int32)
    targets = rng.integers(0, V, (B, T), dtype=np.int32)
    h0 = rng.uniform(-0.8, 0.8, (B, H)).astype(dtype)
    return params, inputs, targets, h0


def fwd_bwd(params, inputs, targets, h0, V, n_threads=1, extra_work=0):
    """forward + backward into fresh buffers; outputs pre-filled with NaN so
    an output the kernel forgets to write is noticed."""
    (B, T), H, dt = inputs.shape, h0.shape[1], params.dtype
    work = np.zeros(K.train_workspace_size(B, T, H, V) + extra_work, dt)
    h_last = np.full((B, H), np.nan, dt)
    loss = K.forward(work, h_last, params, inputs, targets, h0, n_threads)
    grads = np.zeros_like(params)
    dh0 = np.full_like(h0, np.nan)
    K.backward(grads, dh0, work, params, inputs, targets, n_threads)
    return loss, grads, h_last, dh0


def errors_vs_reference(got, params, inputs, targets, h0, H, V):
    loss, grads, h_last, dh0 = got
    rl, rg, rh, rd = ref.loss_fun_batch(inputs, targets, h0.astype(F64), ref.from_flat(params, H, V))
    g = ref.from_flat(grads, H, V)
    errs = {"loss": ref.rel_err(loss, rl), "h_last": ref.rel_err(h_last, rh), "dh0": ref.rel_err(dh0, rd)}
    errs.update({"d" + k: ref.rel_err(g[k], rg[k]) for k in ref.PARAM_NAMES})
    return errs


def assert_small(errs, tol):
    bad = {k: e for k, e in errs.items() if not e <= tol}
    assert not bad, f"relative errors above {tol}: {bad}"


def same_bytes(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------------
# parameter layout

@pytest.mark.parametrize("H,V", [(1, 1), (1, 2), (3, 5), (100, 65)])
def test_param_count_and_views_follow_documented_layout(H, V, dtype):
    n = K.param_count(H, V)
    assert n == ref.flat_size(H, V)
    flat = np.arange(n, dtype=dtype)
    views = K.param_views(flat, H, V)
    shapes = {"Wxh": (H, V), "Whh": (H, H), "Why": (V, H), "bh": (H,), "by": (V,)}
    expected = ref.from_flat(flat, H, V)
    for name, shape in shapes.items():
        v = views[name]
        assert v.shape == shape, name
        assert v.dtype == dtype, name
        assert np.shares_memory(v, flat), f"{name} must be a view, not a copy"
        assert np.array_equal(v, expected[name]), name
    # writing through a view lands in the flat buffer at the documented place
    views["Wxh"][H - 1, V - 1] = -1.0
    assert flat[V * H - 1] == -1.0


def test_param_views_rejects_wrong_buffer():
    with pytest.raises(ValueError, match=r"(?i)size|length|shape|param"):
        K.param_views(np.zeros(K.param_count(3, 4) + 1), 3, 4)
    with pytest.raises(TypeError):
        K.param_views(np.zeros(K.param_count(3, 4), dtype=np.int64), 3, 4)
    with pytest.raises(ValueError, match=r"(?i)contiguous"):
        K.param_views(np.zeros(2 * K.param_count(3, 4))[::2], 3, 4)


@pytest.mark.parametrize("H,V", [(0, 3), (3, 0), (-1, 3)])
def test_param_count_rejects_nonpositive_sizes(H, V):
    with pytest.raises(ValueError):
        K.param_count(H, V)


# ---------------------------------------------------------------------------
# forward + backward vs the reference

@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_forward_backward_match_reference(size, dtype, rng, make_params, isa):
    B, T, H, V, scale = size
    params, inputs, targets, h0 = make_case(rng, make_params, B, T, H, V, dtype, scale)
    got = fwd_bwd(params, inputs, targets, h0, V)
    assert isinstance(got[0], float)
    assert_small(errors_vs_reference(got, params, inputs, targets, h0, H, V), TOL[dtype])


def test_zero_initial_state_and_biases(dtype, rng):
    """min-char-rnn's starting point: h0 = 0, biases 0, weights N(0,1)*0.01."""
    B, T, H, V = 1, 25, 100, 65
    params = ref.to_flat(ref.random_params(rng, H, V, 0.01, 0.0), dtype)
    inputs = rng.integers(0, V, (B, T), dtype=np.int32)
    targets = rng.integers(0, V, (B, T), dtype=np.int32)
    h0 = np.zeros((B, H), dtype)
    got = fwd_bwd(params, inputs, targets, h0, V)
    assert abs(got[0] - T * np.log(V)) < 0.1  # near-uniform predictions
    assert_small(errors_vs_reference(got, params, inputs, targets, h0, H, V), TOL[dtype])


def test_batch_equals_separate_streams(dtype, rng, make_params):
    B, T, H, V = 5, 9, 12, 7
    params, inputs, targets, h0 = make_case(rng, make_params, B, T, H, V, dtype, 0.4)
    loss, grads, h_last, dh0 = fwd_bwd(params, inputs, targets, h0, V)
    singles = [fwd_bwd(params, inputs[b:b + 1].copy(), targets[b:b + 1].copy(), h0[b:b + 1].copy(), V)
               for b in range(B)]
    tol = TOL[dtype]
    assert ref.rel_err(loss, np.mean([s[0] for s in singles])) <= tol
    mean_grads = np.mean([s[1].astype(F64) for s in singles], axis=0)
    assert ref.rel_err(grads, mean_grads) <= tol
    assert ref.rel_err(h_last, np.concatenate([s[2] for s in singles])) <= tol
    assert ref.rel_err(dh0, np.concatenate([s[3] for s in singles]) / B) <= tol


def test_streams_are_independent(rng, make_params):
    """Changing one stream's data leaves the other streams' h_last and dh0 alone."""
    B, T, H, V = 3, 6, 5, 4
    params, inputs, targets, h0 = make_case(rng, make_params, B, T, H, V, F64, 0.5)
    _, _, h1, d1 = fwd_bwd(params, inputs, targets, h0, V)
    inputs2, targets2 = inputs.copy(), targets.copy()
    inputs2[1] = (inputs2[1] + 1) % V
    targets2[1] = (targets2[1] + 1) % V
    _, _, h2, d2 = fwd_bwd(params, inputs2, targets2, h0, V)
    for b in (0, 2):
        assert np.array_equal(h1[b], h2[b]) and np.array_equal(d1[b], d2[b])
    assert not np.array_equal(h1[1], h2[1])


@pytest.mark.parametrize("n_threads", [1, 2, 3, 8])
def test_n_threads_gives_reference_results(n_threads, dtype, rng, make_params, isa):
    B, T, H, V = 5, 10, 24, 11
    params, inputs, targets, h0 = make_case(rng, make_params, B, T, H, V, dtype, 0.3)
    got = fwd_bwd(params, inputs, targets, h0, V, n_threads=n_threads)
    assert_small(errors_vs_reference(got, params, inputs, targets, h0, H, V), TOL[dtype])


def test_forward_without_targets_computes_states_only(dtype, rng, make_params):
    B, T, H, V = 3, 5, 6, 4
    params, inputs, targets, h0 = make_case(rng, make_params, B, T, H, V, dtype)
    work = np.zeros(K.forward_workspace_size(B, T, H, V), dtype)
    h_last = np.full((B, H), np.nan, dtype)
    assert K.forward(work, h_last, params, inputs, None, h0) == 0.0
    _, _, rh, _ = ref.loss_fun_batch(inputs, targets, h0.astype(F64), ref.from_flat(params, H, V))
    assert ref.rel_err(h_last, rh) <= TOL[dtype]


def test_forward_workspace_is_enough_for_the_loss(dtype, rng, make_params):
    B, T, H, V = 2, 8, 6, 5
    params, inputs, targets, h0 = make_case(rng, make_params, B, T, H, V, dtype)
    nf, nt = K.forward_workspace_size(B, T, H, V), K.train_workspace_size(B, T, H, V)
    assert 0 <= nf <= nt
    losses = []
    for n in (nf, nt, nt + 13):  # a larger workspace than needed is fine too
        h_last = np.full((B, H), np.nan, dtype)
        losses.append(K.forward(np.zeros(n, dtype), h_last, params, inputs, targets, h0))
        rl, _, rh, _ = ref.loss_fun_batch(inputs, targets, h0.astype(F64), ref.from_flat(params, H, V))
        assert ref.rel_err(losses[-1], rl) <= TOL[dtype]
        assert ref.rel_err(h_last, rh) <= TOL[dtype]
    assert losses[0] == losses[1] == losses[2]


def test_workspace_sizes_grow_with_the_problem():
    for f in (K.forward_workspace_size, K.train_workspace_size):
        assert f(2, 3, 4, 5) >= f(1, 3, 4, 5) and f(1, 30, 4, 5) >= f(1, 3, 4, 5)
    # backward needs at least the hidden states of every step
    assert K.train_workspace_size(2, 3, 4, 5) >= 2 * 3 * 4
    assert K.sample_workspace_size(4, 5) >= 0


def test_huge_workspace_sizes_do_not_wrap_around():
    """A size that does not fit must raise, not come back small."""
    M = 2**31 - 1
    for f in (K.forward_workspace_size, K.train_workspace_size):
        try:
            n = f(M, M, M, M)
        except (ValueError, OverflowError):
            continue
        assert n >= M * M * M, f"{f.__name__}: {n} < B*T*H = {M**3}"


def test_backward_with_a_larger_workspace(dtype, rng, make_params):
    B, T, H, V = 2, 5, 4, 3
    params, inputs, targets, h0 = make_case(rng, make_params, B, T, H, V, dtype)
    got = fwd_bwd(params, inputs, targets, h0, V, extra_work=11)
    assert_small(errors_vs_reference(got, params, inputs, targets, h0, H, V), TOL[dtype])


def test_backward_twice_accumulates(dtype, rng, make_params, isa):
    B, T, H, V = 2, 6, 7, 5
    params, inputs, targets, h0 = make_case(rng, make_params, B, T, H, V, dtype)
    work = np.zeros(K.train_workspace_size(B, T, H, V), dtype)
    h_last = np.empty((B, H), dtype)
    K.forward(work, h_last, params, inputs, targets, h0)
    grads = np.zeros_like(params)
    dh0_1, dh0_2 = np.empty_like(h0), np.empty_like(h0)
    K.backward(grads, dh0_1, work, params, inputs, targets)
    once = grads.copy()
    K.backward(grads, dh0_2, work, params, inputs, targets)
    assert np.any(once != 0)
    assert ref.rel_err(grads, 2.0 * once.astype(F64)) <= TOL[dtype]
    assert np.array_equal(dh0_1, dh0_2)  # dh0 is overwritten, not accumulated
    _, rg, _, rd = ref.loss_fun_batch(inputs, targets, h0.astype(F64), ref.from_flat(params, H, V))
    assert ref.rel_err(once, ref.to_flat(rg)) <= TOL[dtype]
    assert ref.rel_err(dh0_2, rd) <= TOL[dtype]


def test_backward_adds_to_existing_gradients(dtype, rng, make_params):
    B, T, H, V = 1, 5, 4, 6
    params, inputs, targets, h0 = make_case(rng, make_params, B, T, H, V, dtype)
    work = np.zeros(K.train_workspace_size(B, T, H, V), dtype)
    K.forward(work, np.empty((B, H), dtype), params, inputs, targets, h0)
    start = rng.standard_normal(params.shape).astype(dtype)
    grads = start.copy()
    K.backward(grads, np.empty_like(h0), work, params, inputs, targets)
    _, rg, _, _ = ref.loss_fun_batch(inputs, targets, h0.astype(F64), ref.from_flat(params, H, V))
    expected = start.astype(F64) + ref.to_flat(rg)
    assert ref.rel_err(grads, expected) <= TOL[dtype]


def test_extreme_logits_give_finite_loss(dtype, rng):
    """Large weights: the max must be subtracted inside the softmax."""
    B, T, H, V = 1, 6, 4, 5
    P = ref.random_params(rng, H, V, 0.5, 0.0)
    P["Why"] = P["Why"] * 200.0  # logits of order +-hundreds: exp overflows without the shift
    params = ref.to_flat(P, dtype)
    inputs = rng.integers(0, V, (B, T), dtype=np.int32)
    targets = rng.integers(0, V, (B, T), dtype=np.int32)
    h0 = np.zeros((B, H), dtype)
    got = fwd_bwd(params, inputs, targets, h0, V)
    assert np.isfinite(got[0]) and np.all(np.isfinite(got[1])) and np.all(np.isfinite(got[3]))
    errs = errors_vs_reference(got, params, inputs, targets, h0, H, V)
    assert errs["loss"] <= 10 * TOL[dtype]  # loss of order 1e3: a few more ulps of cancellation


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


# ---------------------------------------------------------------------------
# sampling

def safe_uniforms(rng, P, h, x0, n, temperature, margin):
    """Uniforms at least `margin` away from every cumsum boundary of the
    reference's distribution, so float rounding cannot flip a choice."""
    h, x, us = np.array(h, F64), x0, []
    for _ in range(n):
        h, probs = ref.sample_step_probs(P, h, x, temperature)
        c = np.cumsum(probs)
        while True:
            u = rng.random()
            if np.min(np.abs(c - u)) > margin:
                break
        us.append(u)
        x = ref.choose(probs, u)
    return np.array(us)


def run_sample(params, h, x0, uniforms, temperature, H, V):
    out = np.full(len(uniforms), -7, np.int32)
    h = h.copy()
    work = np.full(K.sample_workspace_size(H, V), np.nan, params.dtype)
    K.sample(out, h, work, params, x0, uniforms, temperature)
    return out, h


@pytest.mark.parametrize("H,V", [(1, 2), (16, 10), (100, 65)])
@pytest.mark.parametrize("temperature", [0.5, 1.0, 1.7])
def test_sample_matches_reference(H, V, temperature, dtype, rng, make_params, isa):
    # weights ~ 1/sqrt(H): larger ones make the recurrence chaotic and float32
    # states drift away from float64 ones after some steps, whatever the kernel
    scale = min(0.5, 1 / np.sqrt(H))
    params = make_params(rng, H, V, dtype, scale, 0.5)
    P = ref.from_flat(params, H, V)
    h0 = rng.uniform(-0.5, 0.5, H).astype(dtype)
    x0 = int(rng.integers(V))
    margin = 1e-9 if dtype == F64 else 1e-3
    us = safe_uniforms(rng, P, h0, x0, 60, temperature, margin)
    r_ids, r_h = ref.sample_reference(P, h0, x0, us, temperature)
    ids, h = run_sample(params, h0, x0, us, temperature, H, V)
    assert np.array_equal(ids, r_ids)
    assert ref.rel_err(h, r_h) <= TOL[dtype]
    assert len(set(ids.tolist())) > 1 or V == 2  # the test is not trivially one-valued


def test_sample_plain_random_uniforms_f64(rng, make_params):
    H, V = 30, 20
    params = make_params(rng, H, V, F64, 1 / np.sqrt(H), 0.5)  # non-chaotic (see above)
    P = ref.from_flat(params, H, V)
    h0 = np.zeros(H)
    us = rng.random(300)
    r_ids, r_h = ref.sample_reference(P, h0, 3, us, 1.0)
    ids, h = run_sample(params, h0, 3, us, 1.0, H, V)
    assert np.array_equal(ids, r_ids)
    assert ref.rel_err(h, r_h) <= 1e-12


def test_sample_one_step_and_h_update(dtype, rng, make_params):
    H, V = 7, 4
    params = make_params(rng, H, V, dtype, 0.5)
    P = ref.from_flat(params, H, V)
    h0 = rng.uniform(-0.5, 0.5, H).astype(dtype)
    us = safe_uniforms(rng, P, h0, 2, 1, 1.0, 1e-3)
    r_ids, r_h = ref.sample_reference(P, h0, 2, us, 1.0)
    ids, h = run_sample(params, h0, 2, us, 1.0, H, V)
    assert np.array_equal(ids, r_ids)
    assert ref.rel_err(h, r_h) <= TOL[dtype]
    # the state after one step is tanh(Wxh[:, x0] + Whh h0 + bh)
    assert ref.rel_err(h, np.tanh(P["Wxh"][:, 2] + P["Whh"] @ h0.astype(F64) + P["bh"])) <= TOL[dtype]


def test_sample_temperature_zero_is_argmax(dtype, rng, make_params, isa):
    H, V = 20, 12
    params = make_params(rng, H, V, dtype, 0.5, 0.5)
    P = ref.from_flat(params, H, V)
    h0 = np.zeros(H, dtype)
    us1, us2 = rng.random(40), rng.random(40)
    r_ids, r_h = ref.sample_reference(P, h0, 0, us1, 0.0)
    ids1, h1 = run_sample(params, h0, 0, us1, 0.0, H, V)
    ids2, _ = run_sample(params, h0, 0, us2, 0.0, H, V)
    assert np.array_equal(ids1, r_ids)
    assert np.array_equal(ids2, r_ids)  # the uniforms do not matter
    assert ref.rel_err(h1, r_h) <= TOL[dtype]


def test_sample_tiny_temperature_tends_to_argmax(dtype, rng, make_params):
    H, V, n = 20, 12, 40
    params = make_params(rng, H, V, dtype, 0.5, 0.5)
    P = ref.from_flat(params, H, V)
    h0 = np.zeros(H, dtype)
    # precondition: at every step the two largest logits differ by > 1e-3
    h, x = np.zeros(H), 0
    for _ in range(n):
        h = np.tanh(P["Wxh"][:, x] + P["Whh"] @ h + P["bh"])
        y = np.sort(P["Why"] @ h + P["by"])
        assert y[-1] - y[-2] > 1e-3
        x = int(np.argmax(P["Why"] @ h + P["by"]))
    r_ids, _ = ref.sample_reference(P, h0, 0, np.zeros(n), 0.0)
    for us in (rng.random(n), np.full(n, np.nextafter(1.0, 0.0)), np.zeros(n)):
        ids, h = run_sample(params, h0, 0, us, 1e-6, H, V)
        assert np.array_equal(ids, r_ids)
        assert np.all(np.isfinite(h))


def test_sample_argmax_ties_pick_the_first(dtype, rng, make_params):
    H, V = 5, 6
    params = make_params(rng, H, V, dtype, 0.5)
    views = K.param_views(params, H, V)
    views["Why"][...] = 0  # logits = by, whatever the state
    views["by"][...] = [0.0, 2.0, -1.0, 2.0, 2.0, 1.0]
    ids, _ = run_sample(params, np.zeros(H, dtype), 0, rng.random(10), 0.0, H, V)
    assert np.all(ids == 1)


def test_sample_never_picks_an_impossible_id(dtype, rng, make_params, isa):
    """u = 0 and u just below 1 must not select ids of probability 0."""
    H, V = 4, 6
    params = make_params(rng, H, V, dtype, 0.5)
    views = K.param_views(params, H, V)
    views["Why"][...] = 0
    views["by"][...] = [-1000.0, 0.3, -0.2, 0.1, 0.0, -1000.0]  # p[0] = p[5] = 0 exactly
    probs = ref.softmax(views["by"].astype(F64))
    assert probs[0] == 0 and probs[5] == 0
    ids, _ = run_sample(params, np.zeros(H, dtype), 0, np.zeros(5), 1.0, H, V)
    assert np.all(ids == 1), ids  # first id with p > 0
    ids, _ = run_sample(params, np.zeros(H, dtype), 0, np.full(5, np.nextafter(1.0, 0.0)), 1.0, H, V)
    assert np.all(ids == 4), ids  # last id with p > 0


def test_sample_h_matches_reference_over_a_long_run(dtype, rng, make_params):
    H, V, n = 50, 30, 200
    params = make_params(rng, H, V, dtype, 0.2, 0.2)
    P = ref.from_flat(params, H, V)
    h0 = rng.uniform(-0.3, 0.3, H).astype(dtype)
    us = safe_uniforms(rng, P, h0, 5, n, 0.8, 1e-9 if dtype == F64 else 1e-3)
    r_ids, r_h = ref.sample_reference(P, h0, 5, us, 0.8)
    ids, h = run_sample(params, h0, 5, us, 0.8, H, V)
    assert np.array_equal(ids, r_ids)
    assert ref.rel_err(h, r_h) <= TOL[dtype]


# ---------------------------------------------------------------------------
# valid argument sets for every kernel (used by the next three sections)

B0, T0, H0, V0 = 2, 3, 4, 5


def args_forward(dt, B=B0, T=T0, H=H0, V=V0):
    rng = np.random.default_rng(7)
    return {
        "work": np.zeros(K.train_workspace_size(B, T, H, V), dt),
        "h_last": np.zeros((B, H), dt),
        "params": ref.to_flat(ref.random_params(rng, H, V, 0.4, 0.1), dt),
        "inputs": rng.integers(0, V, (B, T), dtype=np.int32),
        "targets": rng.integers(0, V, (B, T), dtype=np.int32),
        "h0": rng.uniform(-0.5, 0.5, (B, H)).astype(dt),
    }


def args_backward(dt):
    a = args_forward(dt)
    K.forward(a["work"], a["h_last"], a["params"], a["inputs"], a["targets"], a["h0"])
    return {"grads": np.zeros_like(a["params"]), "dh0": np.zeros_like(a["h0"]), "work": a["work"],
            "params": a["params"], "inputs": a["inputs"], "targets": a["targets"]}


def args_train_step(dt):
    a = args_forward(dt)
    return {"params": a["params"], "mem": np.full_like(a["params"], 0.5), "grads": np.zeros_like(a["params"]),
            "work": a["work"], "h": a["h0"], "inputs": a["inputs"], "targets": a["targets"],
            "learning_rate": 0.1, "clip": 5.0, "eps": 1e-8}


def args_sample(dt, n=6):
    rng = np.random.default_rng(8)
    return {"out": np.zeros(n, np.int32), "h": rng.uniform(-0.5, 0.5, H0).astype(dt),
            "work": np.zeros(K.sample_workspace_size(H0, V0), dt),
            "params": ref.to_flat(ref.random_params(rng, H0, V0, 0.4, 0.1), dt),
            "x0": 1, "uniforms": rng.random(n), "temperature": 0.9}


def args_clip(dt):
    return {"grads": (np.random.default_rng(9).standard_normal(50) * 8).astype(dt), "limit": 5.0}


def args_adagrad(dt):
    rng = np.random.default_rng(10)
    return {"params": rng.standard_normal(40).astype(dt), "mem": rng.uniform(0, 1, 40).astype(dt),
            "grads": rng.standard_normal(40).astype(dt), "learning_rate": 0.1, "eps": 1e-8}


ARGS = {"forward": args_forward, "backward": args_backward, "train_step": args_train_step,
        "sample": args_sample, "clip": args_clip, "adagrad": args_adagrad}
# arguments each kernel may only read
IN_ARGS = {"forward": ["params", "inputs", "targets", "h0"], "backward": ["params", "inputs", "targets"],
           "train_step": ["inputs", "targets"], "sample": ["params", "uniforms"],
           "clip": [], "adagrad": ["grads"]}


def call(kernel, args):
    return getattr(K, kernel)(*args.values())


def snapshot(args):
    return {k: v.copy() for k, v in args.items() if isinstance(v, np.ndarray)}


@pytest.mark.parametrize("kernel", list(ARGS))
def test_valid_argument_sets_are_accepted(kernel, dtype):
    """The baselines of the bad-input tests below are themselves valid."""
    args = ARGS[kernel](dtype)
    before = snapshot(args)
    call(kernel, args)
    changed = [k for k in before if not same_bytes(before[k], args[k])]
    assert changed, "a kernel that writes nothing"


# ---------------------------------------------------------------------------
# inputs are never modified; read-only inputs are accepted

@pytest.mark.parametrize("kernel", [k for k in ARGS if IN_ARGS[k]])
def test_kernels_change_only_their_outputs(kernel, dtype):
    args = ARGS[kernel](dtype)
    before = snapshot(args)
    call(kernel, args)
    for name in IN_ARGS[kernel]:
        assert same_bytes(args[name], before[name]), f"{kernel} modified its input {name}"


@pytest.mark.parametrize("kernel", [k for k in ARGS if IN_ARGS[k]])
def test_read_only_inputs_are_accepted(kernel, dtype):
    writable = ARGS[kernel](dtype)
    call(kernel, writable)
    args = ARGS[kernel](dtype)
    for name in IN_ARGS[kernel]:
        args[name].flags.writeable = False
    result = call(kernel, args)
    for name, value in args.items():
        if isinstance(value, np.ndarray):
            assert same_bytes(value, writable[name]), name
    if kernel == "forward":
        assert result == call(kernel, ARGS[kernel](dtype))


def test_forward_read_only_without_targets(dtype):
    a = args_forward(dtype)
    for name in ("params", "inputs", "h0"):
        a[name].flags.writeable = False
    a["targets"] = None
    assert call("forward", a) == 0.0


def test_read_only_work_is_rejected(dtype):
    a = args_forward(dtype)
    a["work"].flags.writeable = False
    with pytest.raises(ValueError, match=r"(?i)work"):
        call("forward", a)


# ---------------------------------------------------------------------------
# bad inputs raise, with a useful message, and change nothing

def strided(a):
    """A non-contiguous view with the same shape and values as `a`."""
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    v = big[..., ::2]
    v[...] = a
    assert not v.flags.c_contiguous
    return v


def put_id(name, value, where=-1):
    def mutate(a, dt):
        ids = a[name].copy()
        ids.flat[where] = value
        a[name] = ids
    return mutate


def replace(name, make):
    def mutate(a, dt):
        a[name] = make(a, dt)
    return mutate


def several(*mutations):
    def mutate(a, dt):
        for m in mutations:
            m(a, dt)
    return mutate


def other(dt):
    return F32 if dt == F64 else F64


ID_WORDS = {"inputs": r"(?i)input", "targets": r"(?i)target"}
DTYPE = r"(?i)dtype|float|type"
CONTIG = r"(?i)contiguous"
SHAPE = r"(?i)shape|size|length|dimension|match|expected|elements"
WORK = r"(?i)work"
EMPTY = r"(?i)\bT\b|step|empty|zero|at least|positive|>= ?1|length"

BAD = []  # (id, kernel, mutate, exception, message pattern)

for kern in ("forward", "backward", "train_step"):
    for ids in ("inputs", "targets"):
        BAD += [
            (f"{ids}=-1", kern, put_id(ids, -1), ValueError, ID_WORDS[ids]),
            (f"{ids}=V", kern, put_id(ids, V0), ValueError, ID_WORDS[ids]),
            (f"{ids}=V-mid", kern, put_id(ids, V0, where=T0), ValueError, ID_WORDS[ids]),
            (f"{ids}=huge", kern, put_id(ids, 2**31 - 1, where=0), ValueError, ID_WORDS[ids]),
            (f"{ids}-int64", kern, replace(ids, lambda a, dt, n=ids: a[n].astype(np.int64)), TypeError,
             r"(?i)int32|dtype|type"),
            (f"{ids}-float", kern, replace(ids, lambda a, dt, n=ids: a[n].astype(dt)), TypeError,
             r"(?i)int32|dtype|type"),
            (f"{ids}-strided", kern, replace(ids, lambda a, dt, n=ids: strided(a[n])), ValueError, CONTIG),
            (f"{ids}-fortran", kern, replace(ids, lambda a, dt, n=ids: np.asfortranarray(a[n])), ValueError,
             CONTIG),
            (f"{ids}-1d", kern, replace(ids, lambda a, dt, n=ids: a[n][0].copy()), ValueError,
             r"(?i)dimension|shape|ndim|2-?d"),
            (f"{ids}-longer", kern, replace(ids, lambda a, dt, n=ids: np.zeros((B0, T0 + 1), np.int32)),
             ValueError, SHAPE),
            (f"{ids}-more-rows", kern, replace(ids, lambda a, dt, n=ids: np.zeros((B0 + 1, T0), np.int32)),
             ValueError, SHAPE),
        ]
    BAD += [
        ("T=0", kern, several(replace("inputs", lambda a, dt: np.zeros((B0, 0), np.int32)),
                              replace("targets", lambda a, dt: np.zeros((B0, 0), np.int32))), ValueError, EMPTY),
        ("params+1", kern, replace("params", lambda a, dt: np.zeros(a["params"].size + 1, dt)), ValueError,
         r"(?i)param|size|length|shape"),
        ("params-1", kern, replace("params", lambda a, dt: np.zeros(a["params"].size - 1, dt)), ValueError,
         r"(?i)param|size|length|shape"),
        ("params-2d", kern, replace("params", lambda a, dt: a["params"].reshape(1, -1)), ValueError,
         r"(?i)dimension|shape|ndim|param"),
        ("params-strided", kern, replace("params", lambda a, dt: strided(a["params"])), ValueError, CONTIG),
        ("params-other-dtype", kern, replace("params", lambda a, dt: a["params"].astype(other(dt))), TypeError,
         DTYPE),
        ("params-float16", kern, replace("params", lambda a, dt: a["params"].astype(np.float16)), TypeError,
         DTYPE),
        ("params-int", kern, replace("params", lambda a, dt: a["params"].astype(np.int64)), TypeError, DTYPE),
        ("work-short", kern, replace("work", lambda a, dt, k=kern: np.zeros(
            (K.forward_workspace_size if k == "forward" else K.train_workspace_size)(B0, T0, H0, V0) - 1, dt)),
         ValueError, WORK),
        ("work-other-dtype", kern, replace("work", lambda a, dt: a["work"].astype(other(dt))), TypeError, DTYPE),
        ("work-strided", kern, replace("work", lambda a, dt: strided(a["work"])), ValueError, CONTIG),
    ]

# per-kernel float arrays of shape (B, H)
for kern, name in [("forward", "h_last"), ("forward", "h0"), ("backward", "dh0"), ("train_step", "h")]:
    BAD += [
        (f"{name}-other-dtype", kern, replace(name, lambda a, dt, n=name: a[n].astype(other(dt))), TypeError, DTYPE),
        (f"{name}-fortran", kern, replace(name, lambda a, dt, n=name: np.asfortranarray(a[n])), ValueError, CONTIG),
        (f"{name}-strided", kern, replace(name, lambda a, dt, n=name: strided(a[n])), ValueError, CONTIG),
        (f"{name}-B+1", kern, replace(name, lambda a, dt: np.zeros((B0 + 1, H0), dt)), ValueError, SHAPE),
        (f"{name}-H+1", kern, replace(name, lambda a, dt: np.zeros((B0, H0 + 1), dt)), ValueError, SHAPE),
        (f"{name}-1d", kern, replace(name, lambda a, dt: np.zeros(H0, dt)), ValueError,
         r"(?i)dimension|shape|ndim|2-?d"),
    ]

BAD += [
    ("B=0", "forward", several(*[replace(n, lambda a, dt, n=n: a[n][:0].copy())
                                 for n in ("inputs", "targets", "h0", "h_last")]), ValueError,
     r"(?i)\bB\b|batch|stream|empty|zero|at least|positive"),
    ("forward-workspace-for-backward", "backward",
     replace("work", lambda a, dt: a["work"][:K.forward_workspace_size(B0, T0, H0, V0)].copy()), ValueError, WORK),
    ("targets-None", "backward", replace("targets", lambda a, dt: None), (TypeError, ValueError), r"(?i)target"),
    ("targets-None", "train_step", replace("targets", lambda a, dt: None), (TypeError, ValueError), r"(?i)target"),
]

for kern, names in [("backward", ["grads"]), ("train_step", ["grads", "mem"]), ("adagrad", ["grads", "mem"])]:
    for name in names:
        BAD += [
            (f"{name}+1", kern, replace(name, lambda a, dt, n=name: np.zeros(a[n].size + 1, dt)), ValueError,
             SHAPE),
            (f"{name}-1", kern, replace(name, lambda a, dt, n=name: np.zeros(a[n].size - 1, dt)), ValueError,
             SHAPE),
            (f"{name}-other-dtype", kern, replace(name, lambda a, dt, n=name: a[n].astype(other(dt))), TypeError,
             DTYPE),
            (f"{name}-strided", kern, replace(name, lambda a, dt, n=name: strided(a[n])), ValueError, CONTIG),
        ]

BAD += [
    ("params-strided", "adagrad", replace("params", lambda a, dt: strided(a["params"])), ValueError, CONTIG),
    ("params+1", "adagrad", replace("params", lambda a, dt: np.zeros(a["params"].size + 1, dt)), ValueError,
     SHAPE),
    ("params-int", "adagrad", replace("params", lambda a, dt: a["params"].astype(np.int64)), TypeError, DTYPE),
    ("grads-int", "clip", replace("grads", lambda a, dt: a["grads"].astype(np.int64)), TypeError, DTYPE),
    ("grads-float16", "clip", replace("grads", lambda a, dt: a["grads"].astype(np.float16)), TypeError, DTYPE),
    ("grads-strided", "clip", replace("grads", lambda a, dt: strided(a["grads"])), ValueError, CONTIG),
    # sampling
    ("n-mismatch", "sample", replace("out", lambda a, dt: np.zeros(a["out"].size + 1, np.int32)), ValueError,
     r"(?i)uniform|length|size|shape|\bn\b"),
    ("n-mismatch-uniforms", "sample", replace("uniforms", lambda a, dt: a["uniforms"][:-1].copy()), ValueError,
     r"(?i)uniform|length|size|shape|\bn\b"),
    ("x0=-1", "sample", replace("x0", lambda a, dt: -1), ValueError, r"(?i)x0"),
    ("x0=V", "sample", replace("x0", lambda a, dt: V0), ValueError, r"(?i)x0"),
    ("temperature<0", "sample", replace("temperature", lambda a, dt: -0.5), ValueError, r"(?i)temperature"),
    ("temperature-nan", "sample", replace("temperature", lambda a, dt: float("nan")), ValueError,
     r"(?i)temperature"),
    ("h-H+1", "sample", replace("h", lambda a, dt: np.zeros(H0 + 1, dt)), ValueError, SHAPE),
    ("h-2d", "sample", replace("h", lambda a, dt: a["h"].reshape(1, -1)), ValueError,
     r"(?i)dimension|shape|ndim|\bh\b"),
    ("h-other-dtype", "sample", replace("h", lambda a, dt: a["h"].astype(other(dt))), TypeError, DTYPE),
    ("h-strided", "sample", replace("h", lambda a, dt: strided(a["h"])), ValueError, CONTIG),
    ("work-short", "sample", replace("work", lambda a, dt: np.zeros(K.sample_workspace_size(H0, V0) - 1, dt)),
     ValueError, WORK),
    ("work-other-dtype", "sample", replace("work", lambda a, dt: a["work"].astype(other(dt))), TypeError, DTYPE),
    ("params+1", "sample", replace("params", lambda a, dt: np.zeros(a["params"].size + 1, dt)), ValueError,
     r"(?i)param|size|length|shape"),
    ("params-other-dtype", "sample", replace("params", lambda a, dt: a["params"].astype(other(dt))), TypeError,
     DTYPE),
    ("params-strided", "sample", replace("params", lambda a, dt: strided(a["params"])), ValueError, CONTIG),
    ("uniforms-float32", "sample", replace("uniforms", lambda a, dt: a["uniforms"].astype(np.float32)), TypeError,
     r"(?i)uniform|float64|dtype"),
    ("uniforms-strided", "sample", replace("uniforms", lambda a, dt: strided(a["uniforms"])), ValueError, CONTIG),
    ("out-int64", "sample", replace("out", lambda a, dt: a["out"].astype(np.int64)), TypeError,
     r"(?i)int32|dtype|type"),
    ("out-strided", "sample", replace("out", lambda a, dt: strided(a["out"])), ValueError, CONTIG),
]


@pytest.mark.parametrize("case_id,kernel,mutate,exc,pattern", BAD, ids=[f"{b[1]}-{b[0]}" for b in BAD])
def test_bad_input_raises_and_changes_nothing(case_id, kernel, mutate, exc, pattern, dtype):
    args = ARGS[kernel](dtype)
    mutate(args, dtype)
    before = snapshot(args)
    with pytest.raises(exc, match=pattern):
        call(kernel, args)
    for name, value in before.items():
        assert same_bytes(args[name], value), f"{name} changed although the call was rejected"


def set_arg(name, value):
    def mutate(a, dt):
        a[name] = value
    return mutate


BAD_SCALARS = [
    # n_threads (appended as the last positional argument)
    *[(f"n_threads={n}", k, set_arg("n_threads", n), ValueError, r"(?i)n_threads")
      for k in ("forward", "backward", "train_step") for n in (0, -2)],
    ("n_threads=1.5", "forward", set_arg("n_threads", 1.5), TypeError, r"(?i)n_threads"),
    # optimiser settings
    ("limit<0", "clip", set_arg("limit", -1.0), ValueError, r"(?i)limit"),
    ("limit-nan", "clip", set_arg("limit", float("nan")), ValueError, r"(?i)limit"),
    *[(f"lr={lr}", k, set_arg("learning_rate", lr), ValueError, r"(?i)learning_rate")
      for k in ("adagrad", "train_step") for lr in (0.0, -0.1, float("nan"), float("inf"))],
    *[(f"eps={e}", k, set_arg("eps", e), ValueError, r"(?i)eps")
      for k in ("adagrad", "train_step") for e in (0.0, -1e-8, float("nan"))],
    ("clip=0", "train_step", set_arg("clip", 0.0), ValueError, r"(?i)clip"),
    ("clip<0", "train_step", set_arg("clip", -5.0), ValueError, r"(?i)clip"),
    ("clip-nan", "train_step", set_arg("clip", float("nan")), ValueError, r"(?i)clip"),
    # sampling
    *[(f"uniform={u}", "sample", put_id("uniforms", u, where=2), ValueError, r"(?i)uniform")
      for u in (1.0, -0.25, float("nan"), 7.0)],
    ("x0-float", "sample", set_arg("x0", 1.0), TypeError, r"(?i)x0"),
    ("x0-huge", "sample", set_arg("x0", 2**40), ValueError, r"(?i)x0"),
    ("temperature-inf", "sample", set_arg("temperature", float("inf")), ValueError, r"(?i)temperature"),
    # not arrays at all
    ("params-list", "forward", replace("params", lambda a, dt: a["params"].tolist()), TypeError,
     r"(?i)params"),
    ("inputs-list", "forward", replace("inputs", lambda a, dt: a["inputs"].tolist()), TypeError,
     r"(?i)inputs"),
    ("grads-list", "clip", replace("grads", lambda a, dt: a["grads"].tolist()), TypeError, r"(?i)grads"),
    ("h-None", "sample", set_arg("h", None), TypeError, r"(?i)\bh\b"),
    ("h0-None", "forward", set_arg("h0", None), TypeError, r"(?i)h0"),
]


@pytest.mark.parametrize("case_id,kernel,mutate,exc,pattern", BAD_SCALARS,
                         ids=[f"{b[1]}-{b[0]}" for b in BAD_SCALARS])
def test_bad_scalar_or_object_raises_and_changes_nothing(case_id, kernel, mutate, exc, pattern, dtype):
    test_bad_input_raises_and_changes_nothing(case_id, kernel, mutate, exc, pattern, dtype)


@pytest.mark.parametrize("kernel,out", [("forward", "h_last"), ("backward", "grads"), ("backward", "dh0"),
                                        ("train_step", "params"), ("train_step", "mem"), ("train_step", "h"),
                                        ("sample", "out"), ("sample", "h"), ("clip", "grads"),
                                        ("adagrad", "params"), ("adagrad", "mem")])
def test_read_only_outputs_are_rejected(kernel, out, dtype):
    args = ARGS[kernel](dtype)
    args[out].flags.writeable = False
    before = snapshot(args)
    with pytest.raises(ValueError, match=r"(?i)writ|read-only|readonly"):
        call(kernel, args)
    for name, value in before.items():
        assert same_bytes(args[name], value), name


def test_sample_zero_ids_is_a_no_op(dtype):
    a = args_sample(dtype, n=0)
    h = a["h"].copy()
    call("sample", a)
    assert same_bytes(a["h"], h)


def test_numpy_integer_scalars_are_accepted(dtype):
    a = args_sample(dtype)
    b = args_sample(dtype)
    b["x0"] = np.int64(a["x0"])
    call("sample", a)
    call("sample", b)
    assert same_bytes(a["out"], b["out"]) and same_bytes(a["h"], b["h"])
