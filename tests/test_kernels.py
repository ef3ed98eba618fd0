"""crnn._kernels against the pure-NumPy reference in crnn.reference.minchar.

Covers: the parameter layout, loss/gradients/dh0/h_last vs the reference,
batching, workspaces and n_threads.  The other kernels and the argument
checks have files of their own: test_kernels_train_step.py (clip, Adagrad,
train_step), test_kernels_sample.py (sampling) and test_kernels_arguments.py
(inputs are never modified, read-only inputs, and every bad input raises and
leaves every argument untouched: nothing invalid may reach C).
"""

import numpy as np
import pytest

from crnn.reference import minchar as ref
from crnn import _kernels as K
from _kernel_helpers import F64, TOL

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
