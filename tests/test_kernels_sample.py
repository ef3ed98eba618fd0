"""crnn._kernels.sample against crnn.reference.minchar: ids, states, temperatures, edge uniforms."""

import numpy as np
import pytest

from crnn.reference import minchar as ref
from crnn import _kernels as K
from _kernel_helpers import F64, TOL


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
