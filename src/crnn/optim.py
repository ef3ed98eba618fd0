"""Optimizers over the flat parameter buffer, and gradient clipping.

An optimizer is a named update with its own state buffers, each a flat array
the size of the parameter buffer (so every update is one pass over memory in
C, csrc/optim.h):

    adagrad  min-char-rnn's:  sum += g*g;  p -= lr * g / sqrt(sum + eps)
    sgd      torch.optim.SGD       (momentum, dampening, nesterov, weight_decay)
    rmsprop  torch.optim.RMSprop   (alpha, eps, weight_decay, momentum, centered);
             char-rnn's RMSprop is alpha=0.95
    adam     torch.optim.Adam      (betas, eps, weight_decay as L2, amsgrad)
    adamw    torch.optim.AdamW     (Adam with decoupled weight decay, default 0.01)

Settings default to PyTorch's.  Learning rates are not settings: each step is
given one (by a schedule, crnn.schedules); ``default_lr`` is the rate to use
when the user names none (0.1 Adagrad as min-char-rnn, 2e-3 Adam, AdamW and
RMSprop as char-rnn, 3e-3 SGD: the best of 3e-3, 5e-3, 1e-2, 2e-2 after
20000 min-char-rnn iterations on tinyshakespeare; 3e-2 and up diverge with
the loss summed over 25 characters.  With momentum mu, use about (1 - mu)
times that).

    >>> import numpy as np
    >>> opt = make_optimizer("adam", 3, np.float64, betas=(0.9, 0.99))
    >>> p, g = np.zeros(3), np.array([1.0, -2.0, 0.5])
    >>> opt.step(p, g, 1e-3, clip="norm", clip_value=1.0)   # returns ||g||
    2.29128784747792
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from . import _kernels
from .errors import OptimizerError

__all__ = ["OPTIMIZERS", "CLIP_MODES", "Optimizer", "OptimizerError", "clip_gradients",
           "make_optimizer"]

CLIP_MODES = ("none", "value", "norm")
NORM_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_: scale = max_norm / (norm + 1e-6)


# ---------------------------------------------------------------- settings

def _number(opt, name, value, low, high, low_open=False, high_open=False, example=None):
    """A float setting in [low, high] (ends open where asked), or OptimizerError."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    x = float(value) if ok else math.nan
    if ok and (x > low if low_open else x >= low) and (x < high if high_open else x <= high):
        return x
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    hint = f", e.g. {name}={example}" if example is not None else ""
    raise OptimizerError(f"{opt} setting {name} must be a number in {interval}{hint}; "
                         f"got {value!r}")


def _flag(opt, name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise OptimizerError(f"{opt} setting {name} must be True or False, got {value!r}")
    return bool(value)


def _check_sgd(s):
    s["momentum"] = _number("sgd", "momentum", s["momentum"], 0, 1, high_open=True, example=0.9)
    s["dampening"] = _number("sgd", "dampening", s["dampening"], 0, 1)
    s["weight_decay"] = _number("sgd", "weight_decay", s["weight_decay"], 0, math.inf,
                                high_open=True)
    s["nesterov"] = _flag("sgd", "nesterov", s["nesterov"])
    if s["nesterov"] and (s["momentum"] == 0 or s["dampening"] != 0):
        raise OptimizerError("sgd setting nesterov=True needs momentum > 0 and dampening = 0 "
                             "(e.g. momentum=0.9, dampening=0)")


def _check_rmsprop(s):
    s["alpha"] = _number("rmsprop", "alpha", s["alpha"], 0, 1, high_open=True, example=0.95)
    s["eps"] = _number("rmsprop", "eps", s["eps"], 0, math.inf, True, True, example=1e-8)
    s["weight_decay"] = _number("rmsprop", "weight_decay", s["weight_decay"], 0, math.inf,
                                high_open=True)
    s["momentum"] = _number("rmsprop", "momentum", s["momentum"], 0, 1, high_open=True)
    s["centered"] = _flag("rmsprop", "centered", s["centered"])


def _check_adam(s, opt):
    betas = s["betas"]
    if (isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__")
            or len(betas) != 2):
        raise OptimizerError(f"{opt} setting betas must be two numbers in [0, 1), "
                             f"e.g. betas=(0.9, 0.999); got {betas!r}")
    s["betas"] = [_number(opt, f"betas[{i}]", b, 0, 1, high_open=True) for i, b in enumerate(betas)]
    s["eps"] = _number(opt, "eps", s["eps"], 0, math.inf, True, True, example=1e-8)
    s["weight_decay"] = _number(opt, "weight_decay", s["weight_decay"], 0, math.inf,
                                high_open=True)
    s["amsgrad"] = _flag(opt, "amsgrad", s["amsgrad"])


def _check_adagrad(s):
    s["eps"] = _number("adagrad", "eps", s["eps"], 0, math.inf, True, True, example=1e-8)


# ---------------------------------------------------------------- the updates
# Each runs one C pass: (optimizer, params, grads, lr, t, clip scale, clip limit).

def _run_adagrad(o, p, g, lr, t, scale, limit):
    _kernels.update_adagrad(p, o.state["sum"], g, lr=lr, eps=o._settings["eps"],
                            clip_scale=scale, clip_limit=limit)


def _run_sgd(o, p, g, lr, t, scale, limit):
    s = o._settings
    _kernels.update_sgd(p, o.state.get("momentum_buffer"), g, lr=lr, momentum=s["momentum"],
                        dampening=s["dampening"], weight_decay=s["weight_decay"],
                        nesterov=s["nesterov"], step=t, clip_scale=scale, clip_limit=limit)


def _run_rmsprop(o, p, g, lr, t, scale, limit):
    s = o._settings
    _kernels.update_rmsprop(p, o.state["square_avg"], o.state.get("grad_avg"),
                            o.state.get("momentum_buffer"), g, lr=lr, alpha=s["alpha"],
                            eps=s["eps"], weight_decay=s["weight_decay"],
                            momentum=s["momentum"], clip_scale=scale, clip_limit=limit)


def _run_adam(o, p, g, lr, t, scale, limit):
    s = o._settings
    _kernels.update_adam(p, o.state["exp_avg"], o.state["exp_avg_sq"],
                         o.state.get("max_exp_avg_sq"), g, lr=lr, beta1=s["betas"][0],
                         beta2=s["betas"][1], eps=s["eps"], weight_decay=s["weight_decay"],
                         decoupled=o.name == "adamw", step=t, clip_scale=scale,
                         clip_limit=limit)


@dataclass(frozen=True)
class _Kind:
    defaults: dict
    default_lr: float
    check: Callable[[dict], None]
    buffers: Callable[[dict], tuple]  # settings -> names of the state buffers
    run: Callable
    nonnegative: tuple = ()  # buffers that can never hold a negative value


_ADAM_BUFFERS = lambda s: ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if s["amsgrad"] else ())
_ADAM_DEFAULTS = {"betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False}
_ADAM_NONNEG = ("exp_avg_sq", "max_exp_avg_sq")

OPTIMIZERS: dict[str, _Kind] = {
    "adagrad": _Kind({"eps": 1e-8}, 0.1, _check_adagrad, lambda s: ("sum",), _run_adagrad,
                     ("sum",)),
    "adam": _Kind(_ADAM_DEFAULTS, 2e-3, lambda s: _check_adam(s, "adam"), _ADAM_BUFFERS,
                  _run_adam, _ADAM_NONNEG),
    "adamw": _Kind({**_ADAM_DEFAULTS, "weight_decay": 1e-2}, 2e-3,
                   lambda s: _check_adam(s, "adamw"), _ADAM_BUFFERS, _run_adam, _ADAM_NONNEG),
    "rmsprop": _Kind({"alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0,
                      "centered": False}, 2e-3, _check_rmsprop,
                     lambda s: (("square_avg",) + (("grad_avg",) if s["centered"] else ())
                                + (("momentum_buffer",) if s["momentum"] else ())),
                     _run_rmsprop, ("square_avg",)),
    "sgd": _Kind({"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
                 3e-3, _check_sgd,
                 lambda s: ("momentum_buffer",) if s["momentum"] else (), _run_sgd),
}


# ---------------------------------------------------------------- clipping

def _clip_mode(mode, value):
    """(mode, value as float or None), checked."""
    if mode not in CLIP_MODES:
        raise OptimizerError(f"unknown gradient clipping {mode!r}: choose one of "
                             f"{', '.join(CLIP_MODES)}")
    if mode == "none":
        return mode, None
    v = value
    ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
    if not (ok and 0 < float(v) < math.inf):
        what = "the bound on each element, e.g. 5" if mode == "value" else "the largest norm, e.g. 1.0"
        raise OptimizerError(f"clipping by {mode} needs a positive finite value ({what}); "
                             f"got {value!r}")
    return mode, float(v)


def _norm_scale(norm, max_norm):
    """torch's factor min(1, max_norm / (norm + 1e-6)); NaN for a non-finite
    norm (torch's product is then NaN too)."""
    if not math.isfinite(norm):
        return math.nan
    return min(1.0, max_norm / (norm + NORM_EPS))


def _clip_transform(grads, mode, value):
    """(scale, limit, norm or None) of the fused clip, for one update."""
    mode, value = _clip_mode(mode, value)
    if mode == "norm":
        norm = math.sqrt(_kernels.sumsq(grads))
        return _norm_scale(norm, value), math.inf, norm
    if mode == "value":
        return 1.0, value, None
    return 1.0, math.inf, None


def clip_gradients(grads, mode, value=None):
    """Clip grads in place.  mode "value": each element into [-value, value]
    (min-char-rnn: 5); "norm": scale by min(1, value / (||grads|| + 1e-6)) as
    torch.nn.utils.clip_grad_norm_ does, and return ||grads|| before clipping;
    "none": leave grads as they are.  Returns None unless mode is "norm"."""
    mode, value = _clip_mode(mode, value)
    if mode == "value":
        _kernels.clip(grads, value)
    elif mode == "norm":
        norm = math.sqrt(_kernels.sumsq(grads))
        scale = _norm_scale(norm, value)
        if math.isnan(scale):
            grads.fill(np.nan)
        elif scale != 1.0:
            _kernels.scale(grads, scale)
        return norm
    return None


# ---------------------------------------------------------------- the optimizer

class Optimizer:
    """One optimizer's settings and state for a parameter buffer of ``size``
    elements of ``dtype``.  Make one with :func:`make_optimizer`."""

    def __init__(self, name: str, size: int, dtype, settings: dict) -> None:
        self.name = name
        self.size = size
        self.dtype = np.dtype(dtype)
        self._kind = OPTIMIZERS[name]
        self._settings = settings
        self.default_lr = self._kind.default_lr
        self.state = {b: np.zeros(size, self.dtype) for b in self._kind.buffers(settings)}
        self.step_count = 0

    @property
    def settings(self) -> dict:
        """The hyperparameters, defaults included (a JSON-able copy)."""
        return {k: list(v) if isinstance(v, list) else v for k, v in self._settings.items()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings.items())
        return f"<Optimizer {self.name}({args}) size={self.size} step_count={self.step_count}>"

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float, *,
             clip: str = "none", clip_value: float | None = None) -> float | None:
        """Update params in place from grads (not modified) at rate lr.

        clip, clip_value: as :func:`clip_gradients`, fused into the update (the
        same result as clipping first, without writing the clipped gradient).
        Returns the gradient's norm before clipping when clip is "norm".
        """
        for what, a in (("params", params), ("grads", grads)):
            if not isinstance(a, np.ndarray) or a.shape != (self.size,) or a.dtype != self.dtype:
                got = (f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray)
                       else type(a).__name__)
                raise ValueError(f"{what} must be a {self.dtype} array of shape ({self.size},) "
                                 f"for this optimizer, got {got}")
        rate = _number(self.name, "learning rate", lr, 0, math.inf, high_open=True)
        scale, limit, norm = _clip_transform(grads, clip, clip_value)
        self._kind.run(self, params, grads, rate, self.step_count + 1, scale, limit)
        self.step_count += 1
        return norm

    def reset(self) -> None:
        """Back to the state of a new optimizer (buffers zero, no steps)."""
        for a in self.state.values():
            a.fill(0)
        self.step_count = 0

    def state_dict(self) -> dict[str, Any]:
        """name, settings, step_count (JSON-able) and arrays (copies of the
        state buffers) -- all that load_state needs to continue bit-exactly."""
        return {"name": self.name, "settings": self.settings, "step_count": self.step_count,
                "arrays": {k: v.copy() for k, v in self.state.items()}}

    def load_state(self, arrays: Mapping[str, np.ndarray], step_count: int) -> None:
        """Take over saved buffers (converted to this dtype) and step count."""
        names = set(self.state)
        if set(arrays) != names:
            raise OptimizerError(
                f"saved {self.name} state has buffers {sorted(arrays)} but these settings "
                f"use {sorted(names)}: load it with the settings it was saved with")
        if (not isinstance(step_count, (int, np.integer)) or isinstance(step_count, bool)
                or step_count < 0):
            raise OptimizerError(f"step_count must be an integer >= 0, got {step_count!r}")
        loaded = {}
        for name in self.state:
            a = np.asarray(arrays[name])
            if a.shape != (self.size,) or a.dtype.kind != "f":
                raise OptimizerError(f"saved {self.name} buffer {name} is {a.dtype} {a.shape}; "
                                     f"expected floats of shape ({self.size},)")
            if not np.all(np.isfinite(a)):
                raise OptimizerError(f"saved {self.name} buffer {name} holds NaN or inf: the "
                                     f"file is damaged; start the optimizer afresh")
            if name in self._kind.nonnegative and np.any(a < 0):
                raise OptimizerError(f"saved {self.name} buffer {name} holds negative values, "
                                     f"which it never can: the file is damaged")
            loaded[name] = a
        for name, a in loaded.items():
            self.state[name][...] = a
        self.step_count = int(step_count)

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any], size: int, dtype) -> "Optimizer":
        """An optimizer rebuilt from :meth:`state_dict`'s output."""
        opt = make_optimizer(state["name"], size, dtype, **state["settings"])
        opt.load_state(state["arrays"], state["step_count"])
        return opt


def make_optimizer(name: str, size: int, dtype=np.float64, **settings) -> Optimizer:
    """The optimizer called name (see OPTIMIZERS) for a flat buffer of size
    elements of dtype (float32 or float64), its settings defaulting to
    PyTorch's.  Unknown names or settings and values out of range raise
    OptimizerError (a ValueError)."""
    key = name.lower() if isinstance(name, str) else name
    if key not in OPTIMIZERS:
        raise OptimizerError(f"unknown optimizer {name!r}: choose one of "
                             f"{', '.join(sorted(OPTIMIZERS))}")
    kind = OPTIMIZERS[key]
    unknown = sorted(set(settings) - set(kind.defaults))
    if unknown:
        raise OptimizerError(f"{key} has no setting {', '.join(unknown)}; its settings are "
                             f"{', '.join(kind.defaults)}")
    if (not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1):
        raise OptimizerError(f"size must be a positive integer (the parameter count), "
                             f"got {size!r}")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise OptimizerError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
    values = {**kind.defaults, **settings}
    kind.check(values)
    return Optimizer(key, int(size), dtype, values)
