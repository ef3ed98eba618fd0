"""The stacked-network kernels (crnn._kernels.net_*) against the NumPy
reference in crnn.reference.cells, for every cell, 1 to 3 layers, both
dtypes and every CPU path; batching, threads, cancel, sampling, checks."""

import numpy as np
import pytest

from crnn import _kernels as K
from crnn import netparams as NP
from crnn.reference import cells as R

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
TOL = {F32: 1e-4, F64: 1e-12}
CELLS = ("rnn", "lstm", "gru")

# (B, T, H, V): edge sizes T=1, H=1, V=2, B>1, odd remainders, wider layers
SIZES = [(1, 1, 1, 2), (2, 1, 3, 2), (1, 4, 1, 3), (3, 2, 1, 2), (1, 6, 16, 10),
         (3, 5, 9, 11), (4, 7, 17, 33), (1, 9, 35, 7), (5, 4, 40, 65)]


def sizes(cell, L, H, V):
    return dict(cell=cell, num_layers=L, hidden_size=H, vocab_size=V)


def make_case(rng, cell, L, B, T, H, V, dtype, dropout=True, scale=0.5):
    flat = rng.uniform(-scale, scale, NP.param_count(cell, L, H, V)).astype(dtype)
    S = K.net_state_width(cell, H)
    inputs = rng.integers(0, V, (B, T), dtype=np.int32)
    targets = rng.integers(0, V, (B, T), dtype=np.int32)
    state0 = rng.uniform(-0.8, 0.8, (L, B, S)).astype(dtype)
    masks = None
    if dropout and L > 1:
        masks = ((rng.uniform(size=(L - 1, T, B, H)) < 0.7) / 0.7).astype(dtype)
    return flat, inputs, targets, state0, masks


def run(flat, inputs, targets, state0, masks, cell, L, H, V, n_threads=1, backward=True):
    """forward (+ backward) into fresh NaN-filled outputs."""
    B, T = inputs.shape
    dt = flat.dtype
    S = state0.shape[2]
    work = np.full(K.net_workspace_size(cell, L, B, T, H, V, backward), np.nan, dt)
    out = {"state": np.full((L, B, S), np.nan, dt), "states": np.full((T, L, B, S), np.nan, dt),
           "probs": np.full((T, B, V), np.nan, dt)}
    out["loss"] = K.net_forward(work, out["state"], flat, inputs, targets, state0, masks=masks,
                                states_seq=out["states"], probs_out=out["probs"],
                                n_threads=n_threads, **sizes(cell, L, H, V))
    if backward:
        out["grads"] = np.zeros_like(flat)
        out["dstate0"] = np.full_like(state0, np.nan)
        assert K.net_backward(out["grads"], out["dstate0"], work, flat, inputs, targets,
                              masks=masks, n_threads=n_threads, **sizes(cell, L, H, V))
    out["work"] = work
    return out


def relerr(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / max(np.max(np.abs(b)), 1e-300))


# What run() returns besides the loss, compared with the reference.
COMPARED = ("grads", "dstate0", "state", "states", "probs")


def check_against_reference(got, ref, dtype):
    tol = TOL[dtype]
    assert abs(got["loss"] - ref["loss"]) <= tol * abs(ref["loss"])
    for key in COMPARED:
        if key in got:
            assert relerr(got[key], ref[key]) <= tol, key


# ---------------------------------------------------------------- layout

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("L", [1, 2, 3])
def test_layout_entries_tile_the_buffer(cell, L):
    H, V = 5, 7
    G = NP.GATES[cell]
    entries = K.net_layout(cell, L, H, V)
    at = 0
    for name, shape, offset in entries:
        assert offset == at
        at += int(np.prod(shape))
    assert at == K.net_param_count(cell, L, H, V)
    shapes = dict((n, s) for n, s, _ in entries)
    assert shapes["weight_ih_T_l0"] == (V, G * H)
    assert shapes["weight_out"] == (V, H) and shapes["bias_out"] == (V,)
    for l in range(L):
        assert shapes[f"weight_hh_l{l}"] == (G * H, H)
        if l:
            assert shapes[f"weight_ih_l{l}"] == (G * H, H)
        if cell == "rnn":
            assert shapes[f"bias_l{l}"] == (H,)
        else:
            assert shapes[f"bias_ih_l{l}"] == shapes[f"bias_hh_l{l}"] == (G * H,)


def test_one_layer_rnn_layout_is_the_min_char_rnn_layout():
    H, V = 6, 9
    assert K.net_param_count("rnn", 1, H, V) == K.param_count(H, V)
    flat = np.arange(K.param_count(H, V), dtype=np.float64)
    old, new = K.param_views(flat, H, V), NP.views(flat, "rnn", 1, H, V)
    np.testing.assert_array_equal(old["Wxh"].T, new["weight_ih_T_l0"])
    np.testing.assert_array_equal(old["Whh"], new["weight_hh_l0"])
    np.testing.assert_array_equal(old["Why"], new["weight_out"])
    np.testing.assert_array_equal(old["bh"], new["bias_l0"])
    np.testing.assert_array_equal(old["by"], new["bias_out"])


def test_one_layer_rnn_equals_the_min_char_rnn_kernels(rng):
    B, T, H, V = 3, 6, 10, 8
    flat, inputs, targets, state0, _ = make_case(rng, "rnn", 1, B, T, H, V, F64)
    got = run(flat, inputs, targets, state0, None, "rnn", 1, H, V)
    work = np.zeros(K.train_workspace_size(B, T, H, V))
    h_last = np.zeros((B, H))
    loss = K.forward(work, h_last, flat, inputs, targets, state0[0])
    grads, dh0 = np.zeros_like(flat), np.zeros((B, H))
    K.backward(grads, dh0, work, flat, inputs, targets)
    assert got["loss"] == pytest.approx(loss, rel=1e-13)
    assert relerr(got["grads"], grads) < 1e-13
    assert relerr(got["dstate0"][0], dh0) < 1e-13


# ---------------------------------------------------------------- vs reference

@pytest.mark.parametrize("size", SIZES, ids=lambda s: "B{}-T{}-H{}-V{}".format(*s))
@pytest.mark.parametrize("L", [1, 2, 3])
@pytest.mark.parametrize("cell", CELLS)
def test_forward_backward_match_reference(cell, L, size, dtype, rng):
    B, T, H, V = size
    case = make_case(rng, cell, L, B, T, H, V, dtype)
    got = run(*case, cell, L, H, V)
    ref = R.forward_backward(case[0], cell, L, H, V, case[1], case[2], case[3], case[4])
    check_against_reference(got, ref, dtype)


@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_every_cpu_path_matches_reference(cell, L, dtype, rng, isa):
    for B, T, H, V in [(1, 5, 19, 7), (4, 6, 23, 13), (2, 3, 64, 5)]:
        case = make_case(rng, cell, L, B, T, H, V, dtype)
        got = run(*case, cell, L, H, V)
        ref = R.forward_backward(case[0], cell, L, H, V, *case[1:])
        check_against_reference(got, ref, dtype)


@pytest.mark.parametrize("cell", CELLS)
def test_without_dropout_masks(cell, dtype, rng):
    B, T, H, V, L = 3, 4, 7, 6, 3
    case = make_case(rng, cell, L, B, T, H, V, dtype, dropout=False)
    assert case[4] is None
    got = run(*case, cell, L, H, V)
    check_against_reference(got, R.forward_backward(case[0], cell, L, H, V, *case[1:]), dtype)


@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_batch_equals_separate_streams(cell, L, dtype, rng):
    B, T, H, V = 4, 6, 12, 9
    flat, inputs, targets, state0, masks = make_case(rng, cell, L, B, T, H, V, dtype)
    whole = run(flat, inputs, targets, state0, masks, cell, L, H, V)
    grads = np.zeros(flat.shape)
    for b in range(B):
        m = None if masks is None else np.ascontiguousarray(masks[:, :, b:b + 1])
        one = run(flat, inputs[b:b + 1].copy(), targets[b:b + 1].copy(),
                  np.ascontiguousarray(state0[:, b:b + 1]), m, cell, L, H, V)
        tol = TOL[dtype]
        assert relerr(whole["state"][:, b], one["state"][:, 0]) <= tol
        assert relerr(whole["dstate0"][:, b], one["dstate0"][:, 0] / B) <= tol
        assert relerr(whole["probs"][:, b], one["probs"][:, 0]) <= tol
        grads += one["grads"]
        # the batch loss is the mean of the streams' losses
    assert relerr(whole["grads"], grads / B) <= TOL[dtype]


@pytest.mark.parametrize("cell", CELLS)
def test_thread_counts_give_identical_bits(cell, dtype, rng):
    # large enough that the kernels do start a team (see net_team_size)
    B, T, H, V, L = 6, 12, 96, 30, 2
    case = make_case(rng, cell, L, B, T, H, V, dtype)
    base = run(*case, cell, L, H, V, n_threads=1)
    for n in (2, 3, 4, 7):
        other = run(*case, cell, L, H, V, n_threads=n)
        assert other["loss"] == base["loss"]
        for key in ("grads", "dstate0", "state", "states", "probs"):
            np.testing.assert_array_equal(other[key], base[key], err_msg=key)


@pytest.mark.parametrize("cell", CELLS)
def test_forward_only_workspace_and_no_targets(cell, dtype, rng):
    B, T, H, V, L = 2, 5, 8, 6, 2
    flat, inputs, targets, state0, masks = make_case(rng, cell, L, B, T, H, V, dtype)
    full = run(flat, inputs, targets, state0, None, cell, L, H, V)
    work = np.zeros(K.net_workspace_size(cell, L, B, T, H, V, train=False), dtype)
    assert work.size < full["work"].size
    state = np.zeros_like(state0)
    probs = np.zeros((T, B, V), dtype)
    loss = K.net_forward(work, state, flat, inputs, None, state0, probs_out=probs,
                         **sizes(cell, L, H, V))
    assert loss == 0.0
    np.testing.assert_array_equal(state, full["state"])
    np.testing.assert_array_equal(probs, full["probs"])
    loss = K.net_forward(work, state, flat, inputs, targets, state0, **sizes(cell, L, H, V))
    assert loss == full["loss"]


@pytest.mark.parametrize("cell", CELLS)
def test_backward_twice_accumulates_and_state_may_alias(cell, rng):
    B, T, H, V, L = 3, 4, 6, 5, 2
    flat, inputs, targets, state0, masks = make_case(rng, cell, L, B, T, H, V, F64)
    once = run(flat, inputs, targets, state0, masks, cell, L, H, V)
    grads = np.zeros_like(flat)
    for _ in range(2):
        K.net_backward(grads, None, once["work"], flat, inputs, targets, masks=masks,
                       **sizes(cell, L, H, V))
    np.testing.assert_allclose(grads, 2 * once["grads"], rtol=1e-12, atol=1e-300)
    state = state0.copy()  # state_out may be state0
    work = np.zeros_like(once["work"])
    K.net_forward(work, state, flat, inputs, targets, state, masks=masks, **sizes(cell, L, H, V))
    np.testing.assert_array_equal(state, once["state"])


@pytest.mark.parametrize("cell", CELLS)
def test_cancel_stops_and_leaves_params_alone(cell, rng):
    B, T, H, V, L = 2, 30, 16, 5, 2
    flat, inputs, targets, state0, masks = make_case(rng, cell, L, B, T, H, V, F64)
    before = flat.copy()
    kw = sizes(cell, L, H, V)
    work = np.zeros(K.net_workspace_size(cell, L, B, T, H, V, True))
    state = np.zeros_like(state0)
    stop = np.ones(1, np.int32)
    assert K.net_forward(work, state, flat, inputs, targets, state0, masks=masks,
                         cancel=stop, **kw) is None
    go = np.zeros(1, np.int32)
    assert K.net_forward(work, state, flat, inputs, targets, state0, masks=masks,
                         cancel=go, **kw) is not None
    grads = np.zeros_like(flat)
    assert K.net_backward(grads, None, work, flat, inputs, targets, masks=masks,
                          cancel=stop, n_threads=2, **kw) is False
    assert K.net_backward(grads, None, work, flat, inputs, targets, masks=masks,
                          cancel=go, **kw) is True
    np.testing.assert_array_equal(flat, before)


# ---------------------------------------------------------------- sampling

def sample_kernel(flat, cell, L, H, V, state, x0, uniforms, temperature):
    out = np.zeros(len(uniforms), np.int32)
    work = np.zeros(K.net_sample_workspace_size(cell, L, H, V), flat.dtype)
    K.net_sample(out, state, work, flat, x0, uniforms, temperature, **sizes(cell, L, H, V))
    return out


@pytest.mark.parametrize("temperature", [1.0, 0.7, 0.0])
@pytest.mark.parametrize("L", [1, 2, 3])
@pytest.mark.parametrize("cell", CELLS)
def test_sample_matches_reference(cell, L, temperature, dtype, rng, isa):
    H, V, n = 13, 9, 40
    flat = rng.uniform(-0.6, 0.6, NP.param_count(cell, L, H, V)).astype(dtype)
    state = rng.uniform(-0.5, 0.5, (L, 1, K.net_state_width(cell, H))).astype(dtype)
    uniforms = rng.uniform(size=n)
    ref_ids, ref_state = R.sample(flat, cell, L, H, V, state, 3, uniforms, temperature)
    got_state = state.copy()
    ids = sample_kernel(flat, cell, L, H, V, got_state, 3, uniforms, temperature)
    np.testing.assert_array_equal(ids, ref_ids)
    assert relerr(got_state, ref_state) <= TOL[dtype] * 10


@pytest.mark.parametrize("cell", CELLS)
def test_sample_states_follow_forward(cell, rng):
    """The state after sampling equals a forward pass over the fed ids."""
    H, V, L, n = 40, 12, 2, 25
    flat = rng.uniform(-0.4, 0.4, NP.param_count(cell, L, H, V))
    state0 = rng.uniform(-0.5, 0.5, (L, 1, K.net_state_width(cell, H)))
    state = state0.copy()
    ids = sample_kernel(flat, cell, L, H, V, state, 5, rng.uniform(size=n), 1.0)
    fed = np.concatenate([[5], ids[:-1]]).astype(np.int32)[None, :]
    work = np.zeros(K.net_workspace_size(cell, L, 1, n, H, V, False))
    final = np.zeros_like(state0)
    K.net_forward(work, final, flat, fed, None, state0, **sizes(cell, L, H, V))
    assert relerr(state, final) < 1e-13


# ---------------------------------------------------------------- checks

def test_bad_arguments_raise(rng):
    cell, L, B, T, H, V = "lstm", 2, 2, 3, 4, 5
    flat, inputs, targets, state0, masks = make_case(rng, cell, L, B, T, H, V, F64)
    kw = sizes(cell, L, H, V)
    work = np.zeros(K.net_workspace_size(cell, L, B, T, H, V, True))
    state = np.zeros_like(state0)
    fwd = lambda **o: K.net_forward(*[o.get(k, v) for k, v in (
        ("work", work), ("state_out", state), ("params", flat), ("inputs", inputs),
        ("targets", targets), ("state0", state0))], masks=o.get("masks", masks),
        **{**kw, **o.get("kw", {})})
    bad = inputs.copy()
    bad[1, 2] = V
    with pytest.raises(ValueError, match=r"inputs\[1, 2\]"):
        fwd(inputs=bad)
    with pytest.raises(ValueError, match="work has"):
        fwd(work=work[:10])
    with pytest.raises(ValueError, match="state0 must have shape"):
        fwd(state0=state0[:, :, :H].copy())
    with pytest.raises(ValueError, match="masks must have shape"):
        fwd(masks=masks[:, :2].copy())
    with pytest.raises(TypeError, match="float32 but params are float64|is float32"):
        fwd(state0=state0.astype(np.float32))
    with pytest.raises(ValueError, match="params has"):
        fwd(kw={"hidden_size": 5})
    with pytest.raises(ValueError, match="unknown cell"):
        fwd(kw={"cell": "transformer"})
    with pytest.raises(ValueError, match="C-contiguous"):
        fwd(state0=np.asfortranarray(state0))
    ro = state.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        fwd(state_out=ro)
    with pytest.raises(ValueError, match="masks must be None"):
        K.net_forward(np.zeros(K.net_workspace_size(cell, 1, B, T, H, V, False)),
                      state[:1].copy(), np.zeros(K.net_param_count(cell, 1, H, V)), inputs,
                      targets, state0[:1].copy(), masks=masks[:1].copy(),
                      **{**kw, "num_layers": 1})
    small = np.zeros(K.net_workspace_size(cell, L, B, T, H, V, False))
    with pytest.raises(ValueError, match="work has"):
        K.net_backward(np.zeros_like(flat), None, small, flat, inputs, targets, masks=masks, **kw)


def test_workspace_sizes_saturate():
    with pytest.raises(OverflowError):
        K.net_workspace_size("lstm", 1000, 2**30, 2**30, 2**20, 2**20)
    assert K.net_workspace_size("gru", 2, 4, 5, 6, 7, True) > K.net_workspace_size(
        "gru", 2, 4, 5, 6, 7, False)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_cancel_from_another_thread_stops_a_long_call(n_threads, rng):
    import threading
    import time

    cell, L, B, T, H, V = "lstm", 2, 2, 20000, 32, 5
    flat, inputs, targets, state0, _ = make_case(rng, cell, L, B, T, H, V, F32, dropout=False)
    kw = sizes(cell, L, H, V)
    work = np.zeros(K.net_workspace_size(cell, L, B, T, H, V, True), np.float32)
    state = np.zeros_like(state0)
    stop = np.zeros(1, np.int32)
    timer = threading.Timer(0.002, lambda: stop.__setitem__(0, 1))
    timer.start()
    t0 = time.perf_counter()
    got = K.net_forward(work, state, flat, inputs, targets, state0, cancel=stop,
                        n_threads=n_threads, **kw)
    timer.join()
    if got is not None:  # finished before the flag was set: nothing to check
        pytest.skip("the call ended before the cancel flag was set")
    assert time.perf_counter() - t0 < 5.0
    # the next call, without the flag, runs to the end
    stop[0] = 0
    assert K.net_forward(work, state, flat, inputs, targets, state0, cancel=stop,
                         n_threads=n_threads, **kw) is not None
