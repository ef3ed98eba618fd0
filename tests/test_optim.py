"""crnn.optim (the C updates through crnn._kernels) against crnn.reference.optim.

Every optimizer and setting combination that changes the arithmetic, with
each gradient clipping mode, over 20 steps of fixed random gradients, on each
CPU path and for sizes that fill no vector exactly.  float64 within 1e-12 of
the reference (relative to the largest element), float32 within 1e-4.
"""

import json
import math

import numpy as np
import pytest

from crnn.reference import minchar as ref
from crnn import _kernels as K
from crnn import optim
from crnn.errors import OptimizerError
from crnn.reference import optim as R

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
TOL = {F32: 1e-4, F64: 1e-12}
STEPS = 20

CONFIGS = [
    ("adagrad", {}),
    ("adagrad", {"eps": 1e-4}),
    ("sgd", {}),
    ("sgd", {"weight_decay": 0.05}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "dampening": 0.3}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("sgd", {"momentum": 0.5, "nesterov": True, "weight_decay": 0.05}),
    ("rmsprop", {}),
    ("rmsprop", {"alpha": 0.95}),  # char-rnn
    ("rmsprop", {"alpha": 0.3}),  # the other form of the lerp (weight >= 1/2)
    ("rmsprop", {"weight_decay": 0.05}),
    ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"centered": True, "alpha": 0.3, "momentum": 0.5, "weight_decay": 0.05}),
    ("adam", {}),
    ("adam", {"betas": (0.3, 0.9)}),  # lerp weight >= 1/2
    ("adam", {"weight_decay": 0.05}),
    ("adam", {"amsgrad": True}),
    ("adam", {"amsgrad": True, "weight_decay": 0.05, "eps": 1e-6}),
    ("adamw", {}),
    ("adamw", {"weight_decay": 0.2, "amsgrad": True}),
]
CONFIG_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in s.items()) or 'default'}" for n, s in CONFIGS]
CLIPS = [("none", None), ("value", 0.8), ("norm", 1.5)]


def gradients(rng, n, steps=STEPS):
    """A fixed sequence of gradients; a few elements stay exactly zero (the
    rows of characters absent from every chunk)."""
    gs = [rng.standard_normal(n) * rng.uniform(0.2, 2.0) for _ in range(steps)]
    for g in gs:
        g[: n // 10] = 0
    return gs


def run_reference(name, settings, p, gs, lrs, clip, clip_value):
    state = {}
    for t, (g, lr) in enumerate(zip(gs, lrs), start=1):
        if clip == "value":
            g = R.clip_by_value(g, clip_value)
        elif clip == "norm":
            g, _ = R.clip_by_norm(g, clip_value)
        p, state = R.update(name, p, state, g, lr, t, **settings)
    return p, state


def run_crnn(name, settings, p, gs, lrs, clip, clip_value, dtype):
    opt = optim.make_optimizer(name, p.size, dtype, **settings)
    p = p.astype(dtype)
    for g, lr in zip(gs, lrs):
        opt.step(p, g.astype(dtype), lr, clip=clip, clip_value=clip_value)
    return p, opt


@pytest.mark.parametrize("name,settings", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("clip,clip_value", CLIPS, ids=[c for c, _ in CLIPS])
@pytest.mark.parametrize("n", [1, 7, 1003])
def test_update_matches_reference(name, settings, clip, clip_value, n, dtype, rng, isa):
    p0 = rng.standard_normal(n)
    gs = gradients(rng, n)
    lrs = [optim.OPTIMIZERS[name].default_lr * (1 + 0.1 * math.sin(i)) for i in range(STEPS)]
    if dtype == F32:  # the reference sees exactly the float32 inputs
        p0 = p0.astype(F32).astype(F64)
        gs = [g.astype(F32).astype(F64) for g in gs]
    rp, rstate = run_reference(name, settings, p0, gs, lrs, clip, clip_value)
    p, opt = run_crnn(name, settings, p0, gs, lrs, clip, clip_value, dtype)
    assert opt.step_count == STEPS
    assert set(opt.state) == set(rstate)
    assert ref.rel_err(p, rp) <= TOL[dtype]
    if dtype == F64:  # the displacement itself, not only the parameters
        assert ref.rel_err(p - p0, rp - p0) <= TOL[dtype]
    for key, value in rstate.items():
        assert ref.rel_err(opt.state[key], value) <= TOL[dtype], key


@pytest.mark.parametrize("name,settings", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("clip,clip_value", CLIPS[1:], ids=[c for c, _ in CLIPS[1:]])
def test_fused_clip_is_clip_then_step_bit_for_bit(name, settings, clip, clip_value, dtype, rng):
    n = 517
    p_fused = rng.standard_normal(n).astype(dtype)
    p_apart = p_fused.copy()
    fused = optim.make_optimizer(name, n, dtype, **settings)
    apart = optim.make_optimizer(name, n, dtype, **settings)
    for g in gradients(rng, n, 5):
        g = g.astype(dtype)
        g_before = g.copy()
        norm_fused = fused.step(p_fused, g, 0.01, clip=clip, clip_value=clip_value)
        assert np.array_equal(g, g_before)  # the fused step never writes the gradient
        norm_apart = optim.clip_gradients(g, clip, clip_value)
        apart.step(p_apart, g, 0.01)
        assert norm_fused == norm_apart
    assert np.array_equal(p_fused, p_apart)
    for key in fused.state:
        assert np.array_equal(fused.state[key], apart.state[key])


def test_adagrad_is_the_existing_kernels_bit_for_bit(dtype, rng, isa):
    """min-char-rnn's step: clip to [-5, 5], then Adagrad (crnn_clip, crnn_adagrad)."""
    n = 1001
    p_new = rng.standard_normal(n).astype(dtype)
    p_old, mem = p_new.copy(), np.zeros(n, dtype)
    opt = optim.make_optimizer("adagrad", n, dtype)
    for g in gradients(rng, n, 10):
        g = (g * 4).astype(dtype)
        opt.step(p_new, g, 0.1, clip="value", clip_value=5.0)
        K.clip(g, 5.0)
        K.adagrad(p_old, mem, g, 0.1)
    assert np.array_equal(p_new, p_old)
    assert np.array_equal(opt.state["sum"], mem)


# ---------------------------------------------------------------- clipping

def test_clip_by_norm_matches_reference(dtype, rng, isa):
    for n in (1, 9, 4097):
        g = (rng.standard_normal(n) * 3).astype(dtype)
        want, want_norm = R.clip_by_norm(g.astype(F64), 2.0)
        norm = optim.clip_gradients(g, "norm", 2.0)
        assert abs(norm - want_norm) <= 1e-13 * want_norm
        assert ref.rel_err(g, want) <= TOL[dtype]
        assert np.sqrt(np.sum(g.astype(F64) ** 2)) <= 2.0 * (1 + 1e-6)


def test_clip_by_norm_leaves_small_gradients_alone(dtype, rng):
    g = (rng.standard_normal(100) * 1e-3).astype(dtype)
    before = g.copy()
    norm = optim.clip_gradients(g, "norm", 5.0)
    assert norm < 5.0 and np.array_equal(g, before)


def test_clip_by_norm_of_a_non_finite_gradient_is_nan_like_torch(dtype):
    g = np.array([1.0, np.inf, 2.0], dtype)
    assert optim.clip_gradients(g, "norm", 1.0) == math.inf
    assert np.all(np.isnan(g))


def test_clip_by_value_and_none(dtype, rng):
    g = (rng.standard_normal(300) * 10).astype(dtype)
    want = R.clip_by_value(g, 5.0)
    assert optim.clip_gradients(g, "value", 5.0) is None
    assert np.array_equal(g, want)
    before = g.copy()
    assert optim.clip_gradients(g, "none") is None
    assert np.array_equal(g, before)


@pytest.mark.parametrize("n", [1, 7, 8, 9, 4095, 4096, 4097, 100003])
def test_sumsq_is_accurate_and_repeatable(n, dtype, rng, isa):
    g = rng.standard_normal(n).astype(dtype)
    exact = math.fsum(float(x) * float(x) for x in g.astype(F64))
    s = K.sumsq(g)
    assert abs(s - exact) <= 1e-14 * exact
    assert all(K.sumsq(g) == s for _ in range(3))


def test_scale(dtype, rng):
    g = rng.standard_normal(33).astype(dtype)
    want = g * dtype.type(0.25)
    K.scale(g, 0.25)
    assert np.array_equal(g, want)


# ---------------------------------------------------------------- state

@pytest.mark.parametrize("name,settings", CONFIGS, ids=CONFIG_IDS)
def test_resume_mid_schedule_is_bit_exact(name, settings, rng, tmp_path):
    from crnn import schedules

    n, total, cut = 257, 20, 9
    schedule = schedules.make_schedule(
        "warmup", iterations=5, inner=schedules.make_schedule("cosine", total=total, floor=0.1))
    base = optim.OPTIMIZERS[name].default_lr
    p0 = rng.standard_normal(n)
    gs = gradients(rng, n, total)

    unbroken = optim.make_optimizer(name, n, np.float64, **settings)
    p_unbroken = p0.copy()
    for g in gs:
        unbroken.step(p_unbroken, g, schedule.lr(base, unbroken.step_count),
                      clip="norm", clip_value=2.0)

    first = optim.make_optimizer(name, n, np.float64, **settings)
    p = p0.copy()
    for g in gs[:cut]:
        first.step(p, g, schedule.lr(base, first.step_count), clip="norm", clip_value=2.0)
    saved = first.state_dict()
    meta = json.dumps({"name": saved["name"], "settings": saved["settings"],
                       "step_count": saved["step_count"], "schedule": schedule.to_json()})
    np.savez(tmp_path / "state.npz", params=p, **saved["arrays"])
    del first, p

    meta = json.loads(meta)
    with np.load(tmp_path / "state.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    p = arrays.pop("params")
    resumed = optim.Optimizer.from_state_dict(
        {"name": meta["name"], "settings": meta["settings"], "step_count": meta["step_count"],
         "arrays": arrays}, n, np.float64)
    schedule2 = schedules.from_json(meta["schedule"])
    for g in gs[cut:]:
        resumed.step(p, g, schedule2.lr(base, resumed.step_count), clip="norm", clip_value=2.0)
    assert resumed.step_count == unbroken.step_count == total
    assert np.array_equal(p, p_unbroken)
    for key in unbroken.state:
        assert np.array_equal(resumed.state[key], unbroken.state[key])


def test_state_dict_is_a_copy_and_json_able():
    opt = optim.make_optimizer("adam", 4, np.float32, amsgrad=True)
    opt.step(np.zeros(4, np.float32), np.ones(4, np.float32), 0.1)
    d = opt.state_dict()
    json.dumps({k: v for k, v in d.items() if k != "arrays"})
    assert sorted(d["arrays"]) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
    d["arrays"]["exp_avg"][:] = 7
    assert not np.any(opt.state["exp_avg"] == 7)
    opt.reset()
    assert opt.step_count == 0 and not np.any(opt.state["exp_avg_sq"])


def test_settings_include_defaults_and_defaults_are_pytorchs():
    assert optim.make_optimizer("adam", 1).settings == {
        "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False}
    assert optim.make_optimizer("adamw", 1).settings["weight_decay"] == 0.01
    assert optim.make_optimizer("rmsprop", 1).settings == {
        "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0, "centered": False}
    assert optim.make_optimizer("sgd", 1).settings == {
        "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}
    assert optim.make_optimizer("adagrad", 1).settings == {"eps": 1e-8}
    lrs = {name: optim.make_optimizer(name, 1).default_lr for name in optim.OPTIMIZERS}
    assert lrs == {"adagrad": 0.1, "adam": 2e-3, "adamw": 2e-3, "rmsprop": 2e-3, "sgd": 3e-3}
    s = optim.make_optimizer("rmsprop", 1, alpha=0.95, centered=True, momentum=0.9)
    assert sorted(s.state) == ["grad_avg", "momentum_buffer", "square_avg"]
    assert optim.make_optimizer("sgd", 1).state == {}


# ---------------------------------------------------------------- bad input

BAD_SETTINGS = [
    ("adamm", {}, "unknown optimizer"),
    ("adam", {"momentum": 0.9}, "no setting momentum"),
    ("adam", {"betas": (0.9, 1.0)}, "betas"),
    ("adam", {"betas": (-0.1, 0.9)}, "betas"),
    ("adam", {"betas": 0.9}, "two numbers"),
    ("adam", {"eps": 0.0}, "eps"),
    ("adamw", {"weight_decay": -1e-2}, "weight_decay"),
    ("adam", {"amsgrad": 1}, "True or False"),
    ("rmsprop", {"alpha": 1.0}, "alpha"),
    ("rmsprop", {"eps": float("nan")}, "eps"),
    ("rmsprop", {"momentum": -0.5}, "momentum"),
    ("sgd", {"momentum": 1.5}, "momentum"),
    ("sgd", {"nesterov": True}, "nesterov"),
    ("sgd", {"momentum": 0.9, "dampening": 0.1, "nesterov": True}, "nesterov"),
    ("sgd", {"dampening": 2.0}, "dampening"),
    ("adagrad", {"eps": -1.0}, "eps"),
    ("adagrad", {"eps": "1e-8"}, "eps"),
]


@pytest.mark.parametrize("name,settings,words", BAD_SETTINGS)
def test_bad_settings_raise_a_clear_error(name, settings, words):
    with pytest.raises(OptimizerError, match=words) as info:
        optim.make_optimizer(name, 10, **settings)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("size,dtype", [(0, F64), (-3, F64), (2.0, F64), (5, np.int32)])
def test_bad_size_or_dtype(size, dtype):
    with pytest.raises(OptimizerError):
        optim.make_optimizer("adam", size, dtype)


@pytest.mark.parametrize("lr", [-0.1, float("nan"), float("inf"), "0.1", None])
def test_bad_learning_rate_raises(lr):
    opt = optim.make_optimizer("sgd", 3)
    p = np.zeros(3)
    with pytest.raises(OptimizerError, match="learning rate"):
        opt.step(p, np.ones(3), lr)
    assert opt.step_count == 0 and not np.any(p)


@pytest.mark.parametrize("mode,value", [("clip", 1.0), ("norm", None), ("norm", 0.0),
                                        ("value", -5.0), ("value", float("inf"))])
def test_bad_clipping_raises(mode, value):
    with pytest.raises(OptimizerError):
        optim.clip_gradients(np.ones(3), mode, value)
    with pytest.raises(OptimizerError):
        optim.make_optimizer("adam", 3).step(np.zeros(3), np.ones(3), 0.1, clip=mode,
                                             clip_value=value)


def test_step_rejects_wrong_arrays():
    opt = optim.make_optimizer("adam", 3)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        opt.step(np.zeros(4), np.ones(4), 0.1)
    with pytest.raises(ValueError, match="float64"):
        opt.step(np.zeros(3, np.float32), np.ones(3, np.float32), 0.1)
    with pytest.raises(ValueError, match="overlap"):
        p = np.zeros(3)
        opt.step(p, p, 0.1)


@pytest.mark.parametrize("arrays,step_count,words", [
    ({"exp_avg": np.zeros(3)}, 0, "buffers"),
    ({"exp_avg": np.zeros(3), "exp_avg_sq": np.zeros(4)}, 0, "shape"),
    ({"exp_avg": np.zeros(3), "exp_avg_sq": np.full(3, np.nan)}, 0, "NaN"),
    ({"exp_avg": np.zeros(3), "exp_avg_sq": -np.ones(3)}, 0, "negative"),
    ({"exp_avg": np.zeros(3), "exp_avg_sq": np.zeros(3)}, -1, "step_count"),
    ({"exp_avg": np.zeros(3), "exp_avg_sq": np.zeros(3)}, 1.5, "step_count"),
])
def test_load_state_rejects_what_does_not_fit(arrays, step_count, words):
    opt = optim.make_optimizer("adam", 3)
    opt.state["exp_avg"][:] = 1
    with pytest.raises(OptimizerError, match=words):
        opt.load_state(arrays, step_count)
    assert np.all(opt.state["exp_avg"] == 1) and opt.step_count == 0  # unchanged


def test_kernel_checks(rng):
    p, m, v, g = (np.zeros(5) for _ in range(4))
    common = dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                  decoupled=False, step=1, clip_scale=1.0, clip_limit=math.inf)
    K.update_adam(p, m, v, None, g, **common)
    with pytest.raises(TypeError, match="float32"):
        K.update_adam(p, m.astype(np.float32), v, None, g, **common)
    with pytest.raises(ValueError, match="shape"):
        K.update_adam(p, m, np.zeros(6), None, g, **common)
    with pytest.raises(ValueError, match="C-contiguous"):
        K.update_adam(p, m, np.zeros(10)[::2], None, g, **common)
    with pytest.raises(ValueError, match="writable"):
        ro = np.zeros(5)
        ro.flags.writeable = False
        K.update_adam(ro, m, v, None, g, **common)
    with pytest.raises(ValueError, match="step"):
        K.update_adam(p, m, v, None, g, **{**common, "step": 0})
    with pytest.raises(ValueError, match="beta1"):
        K.update_adam(p, m, v, None, g, **{**common, "beta1": 1.0})
    with pytest.raises(ValueError, match="clip_limit"):
        K.update_adam(p, m, v, None, g, **{**common, "clip_limit": 0.0})
    with pytest.raises(ValueError, match="needed"):
        K.update_sgd(p, None, g, lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0,
                     nesterov=False, step=1, clip_scale=1.0, clip_limit=math.inf)
    with pytest.raises(ValueError, match="not used"):
        K.update_sgd(p, m, g, lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0,
                     nesterov=False, step=1, clip_scale=1.0, clip_limit=math.inf)
    with pytest.raises(ValueError, match="overlap"):
        K.update_adagrad(p[:3], p[2:], g[:3], lr=0.1, eps=1e-8, clip_scale=1.0,
                         clip_limit=math.inf)
    with pytest.raises(TypeError):
        K.update_adagrad(p, m, g, lr=0.1, eps=1e-8)  # every setting is required
    read_only_grads = g.copy()
    read_only_grads.flags.writeable = False
    K.update_adagrad(p, m, read_only_grads, lr=0.1, eps=1e-8, clip_scale=1.0,
                     clip_limit=math.inf)
