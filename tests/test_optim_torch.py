"""crnn.optim against torch.optim itself (skipped when PyTorch is not installed).

Same parameter vector, same gradient sequence, same learning rates, 20 steps
in float64, with no clipping, clipping by value (torch.nn.utils.
clip_grad_value_) and by norm (clip_grad_norm_): parameters and every state
buffer within 1e-9 relative (to the largest element) of PyTorch's.  Adagrad
is left out: crnn's is min-char-rnn's formula (eps inside the square root),
not torch.optim.Adagrad's.  Also the schedules against torch's lr_scheduler.
"""

import math

import numpy as np
import pytest

from crnn.reference import minchar as ref
from crnn import optim, schedules

torch = pytest.importorskip("torch")

TOL = 1e-9
STEPS = 20

TORCH_CONFIGS = [
    ("sgd", {}),
    ("sgd", {"weight_decay": 0.05}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("sgd", {"momentum": 0.5, "nesterov": True, "weight_decay": 0.05}),
    ("rmsprop", {}),
    ("rmsprop", {"alpha": 0.95}),
    ("rmsprop", {"alpha": 0.3, "eps": 1e-6}),
    ("rmsprop", {"weight_decay": 0.05}),
    ("rmsprop", {"momentum": 0.9}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.05}),
    ("adam", {}),
    ("adam", {"betas": (0.3, 0.9)}),
    ("adam", {"weight_decay": 0.05}),
    ("adam", {"amsgrad": True}),
    ("adam", {"amsgrad": True, "weight_decay": 0.05, "eps": 1e-6}),
    ("adamw", {}),
    ("adamw", {"weight_decay": 0.2}),
    ("adamw", {"weight_decay": 0.2, "amsgrad": True}),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in s.items()) or 'default'}"
       for n, s in TORCH_CONFIGS]
TORCH_CLASS = {"sgd": "SGD", "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}


def torch_optimizer(name, settings, param, lr):
    cls = getattr(torch.optim, TORCH_CLASS[name])
    kwargs = dict(settings)
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    return cls([param], lr=lr, **kwargs)


@pytest.mark.parametrize("name,settings", TORCH_CONFIGS, ids=IDS)
@pytest.mark.parametrize("clip,clip_value", [("none", None), ("value", 0.8), ("norm", 1.5)])
def test_matches_torch_optim(name, settings, clip, clip_value, rng):
    n = 1003
    p0 = rng.standard_normal(n)
    gs = [rng.standard_normal(n) * rng.uniform(0.2, 2.0) for _ in range(STEPS)]
    for g in gs:
        g[:50] = 0
    base = optim.OPTIMIZERS[name].default_lr * 10  # large enough to move p visibly
    lrs = [base * (1 + 0.1 * math.sin(i)) for i in range(STEPS)]

    p = p0.copy()
    ours = optim.make_optimizer(name, n, np.float64, **settings)
    param = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float64))
    theirs = torch_optimizer(name, settings, param, lrs[0])
    for g, lr in zip(gs, lrs):
        norm = ours.step(p, g, lr, clip=clip, clip_value=clip_value)
        param.grad = torch.tensor(g, dtype=torch.float64)
        if clip == "norm":
            torch_norm = torch.nn.utils.clip_grad_norm_([param], clip_value)
            assert abs(norm - float(torch_norm)) <= 1e-12 * float(torch_norm)
        elif clip == "value":
            torch.nn.utils.clip_grad_value_([param], clip_value)
        theirs.param_groups[0]["lr"] = lr
        theirs.step()

    want = param.detach().numpy()
    assert ref.rel_err(p, want) <= TOL
    assert ref.rel_err(p - p0, want - p0) <= TOL
    torch_state = theirs.state[param]
    for key, value in ours.state.items():
        assert ref.rel_err(value, torch_state[key].numpy()) <= TOL, key


@pytest.mark.parametrize("name,settings", TORCH_CONFIGS, ids=IDS)
def test_matches_torch_optim_in_float32(name, settings, rng):
    """float32 end to end (torch's float32 kernels, ours): within 1e-5."""
    n = 1003
    p0 = rng.standard_normal(n).astype(np.float32)
    gs = [(rng.standard_normal(n) * rng.uniform(0.2, 2.0)).astype(np.float32)
          for _ in range(STEPS)]
    lr = optim.OPTIMIZERS[name].default_lr * 10
    p = p0.copy()
    ours = optim.make_optimizer(name, n, np.float32, **settings)
    param = torch.nn.Parameter(torch.tensor(p0))
    theirs = torch_optimizer(name, settings, param, lr)
    for g in gs:
        ours.step(p, g, lr, clip="norm", clip_value=1.5)
        param.grad = torch.tensor(g)
        torch.nn.utils.clip_grad_norm_([param], 1.5)
        theirs.step()
    want = param.detach().numpy()
    assert ref.rel_err(p, want) <= 1e-5
    assert ref.rel_err(p - p0, want - p0) <= 1e-4  # float32 rounding of p dominates


def test_cosine_matches_torch_cosine_annealing():
    total, base, floor = 50, 0.1, 0.05
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=base)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=floor * base)
    ours = schedules.make_schedule("cosine", total=total, floor=floor)
    for it in range(total + 1):  # (torch's rate rises again after T_max; ours stays)
        assert abs(ours.lr(base, it) - opt.param_groups[0]["lr"]) <= 1e-12 * base, it
        opt.step()
        sched.step()
    assert ours.lr(base, total + 5) == floor * base


def test_step_decay_matches_torch_step_lr():
    base, every = 0.1, 7
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=base)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=every, gamma=0.97)
    ours = schedules.make_schedule("step", factor=0.97, every=every)  # start defaults to every
    for it in range(60):
        assert abs(ours.lr(base, it) - opt.param_groups[0]["lr"]) <= 1e-13 * base, it
        opt.step()
        sched.step()


def test_warmup_matches_torch_linear_lr():
    base, n = 0.1, 10
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=base)
    sched = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / n, end_factor=1.0,
                                              total_iters=n - 1)
    ours = schedules.make_schedule("warmup", iterations=n)
    for it in range(3 * n):
        assert abs(ours.lr(base, it) - opt.param_groups[0]["lr"]) <= 1e-13 * base, it
        opt.step()
        sched.step()
