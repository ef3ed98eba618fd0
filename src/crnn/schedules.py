"""Learning-rate schedules: the rate of each iteration as a pure function of
the iteration count.

``schedule.lr(base_lr, iteration)`` is the rate for iteration ``iteration``
(0 for the first update, i.e. the optimizer's step_count before the step).
Nothing else is remembered, so a run resumed at iteration i uses exactly the
rates an unbroken run would: the schedule's position is the iteration count
saved with the training state, and its spec is ``to_json()``.

    constant                      base
    step(factor, every, start)    base * factor ** decays, one decay at
                                  iteration start and one every `every` after
                                  (char-rnn: factor 0.97, every = one epoch,
                                  start = 10 epochs)
    cosine(total, floor)          half a cosine from base to floor * base over
                                  `total` iterations, then floor * base
    warmup(iterations, inner)     inner's rate times (i + 1) / iterations while
                                  that is below 1: combines with any of the above

    >>> s = make_schedule("warmup", iterations=100, inner={"kind": "cosine", "total": 10000})
    >>> s.lr(2e-3, 0) == 2e-3 / 100
    True
"""

from __future__ import annotations

import inspect
import json
import math
from typing import Any

from .errors import OptimizerError

__all__ = ["Schedule", "Constant", "StepDecay", "Cosine", "Warmup", "make_schedule",
           "from_json", "SCHEDULES"]


def _count(kind, name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) and not _is_np_int(value):
        raise OptimizerError(f"{kind} schedule: {name} must be a whole number of iterations "
                             f">= {minimum}, got {value!r}")
    if value < minimum:
        raise OptimizerError(f"{kind} schedule: {name} must be >= {minimum}, got {value}")
    return int(value)


def _is_np_int(value):
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return False
    return isinstance(value, np.integer)


def _fraction(kind, name, value, low_open):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    x = float(value) if ok else math.nan
    if not ((x > 0 if low_open else x >= 0) and x <= 1):
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise OptimizerError(f"{kind} schedule: {name} must be a number in {interval}, "
                             f"got {value!r}")
    return x


class Schedule:
    """Base class: subclasses define kind, lr() and _options()."""

    kind = ""

    def lr(self, base_lr: float, iteration: int) -> float:
        raise NotImplementedError

    def _options(self) -> dict[str, Any]:
        return {}

    def to_json(self) -> dict[str, Any]:
        """The spec as a JSON-able dict; from_json() rebuilds the schedule."""
        return {"kind": self.kind, **self._options()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._options().items())
        return f"{type(self).__name__}({args})"

    @staticmethod
    def _check_iteration(base_lr, iteration):
        if isinstance(iteration, bool) or not (isinstance(iteration, int) or _is_np_int(iteration)) \
                or iteration < 0:
            raise OptimizerError(f"iteration must be an integer >= 0, got {iteration!r}")
        if isinstance(base_lr, bool) or not isinstance(base_lr, (int, float)) \
                or not (0 < base_lr < math.inf):
            raise OptimizerError(f"the learning rate must be a positive number, got {base_lr!r}")


class Constant(Schedule):
    kind = "constant"

    def lr(self, base_lr, iteration):
        self._check_iteration(base_lr, iteration)
        return float(base_lr)


class StepDecay(Schedule):
    """base * factor ** decays; decays = 0 before `start`, then 1 + the
    number of whole `every`-iteration periods since `start`."""

    kind = "step"

    def __init__(self, every: int, factor: float = 0.97, start: int | None = None):
        self.factor = _fraction("step", "factor", factor, low_open=True)
        self.every = _count("step", "every", every, 1)
        self.start = self.every if start is None else _count("step", "start", start, 0)

    def decays(self, iteration: int) -> int:
        return 0 if iteration < self.start else (iteration - self.start) // self.every + 1

    def lr(self, base_lr, iteration):
        self._check_iteration(base_lr, iteration)
        return float(base_lr) * self.factor ** self.decays(int(iteration))

    def _options(self):
        return {"every": self.every, "factor": self.factor, "start": self.start}


class Cosine(Schedule):
    """floor*base + (base - floor*base) (1 + cos(pi min(i, total) / total)) / 2."""

    kind = "cosine"

    def __init__(self, total: int, floor: float = 0.0):
        self.total = _count("cosine", "total", total, 1)
        self.floor = _fraction("cosine", "floor", floor, low_open=False)

    def lr(self, base_lr, iteration):
        self._check_iteration(base_lr, iteration)
        base = float(base_lr)
        low = self.floor * base
        progress = min(int(iteration), self.total) / self.total
        return low + (base - low) * (1 + math.cos(math.pi * progress)) / 2

    def _options(self):
        return {"total": self.total, "floor": self.floor}


class Warmup(Schedule):
    """inner.lr(base, i) * min(1, (i + 1) / iterations): a linear ramp over
    the first `iterations` iterations, the inner schedule's rate after."""

    kind = "warmup"

    def __init__(self, iterations: int, inner: "Schedule | dict | str | None" = None):
        self.iterations = _count("warmup", "iterations", iterations, 1)
        if inner is None:
            inner = Constant()
        elif not isinstance(inner, Schedule):
            inner = from_json(inner)
        self.inner = inner

    def lr(self, base_lr, iteration):
        self._check_iteration(base_lr, iteration)
        ramp = min(1.0, (int(iteration) + 1) / self.iterations)
        return self.inner.lr(base_lr, iteration) * ramp

    def _options(self):
        return {"iterations": self.iterations, "inner": self.inner.to_json()}


SCHEDULES = {cls.kind: cls for cls in (Constant, StepDecay, Cosine, Warmup)}


def make_schedule(kind: str = "constant", **options) -> Schedule:
    """A schedule from its kind and options (see the module docstring)."""
    if kind not in SCHEDULES:
        raise OptimizerError(f"unknown learning-rate schedule {kind!r}: choose one of "
                             f"{', '.join(SCHEDULES)}")
    cls = SCHEDULES[kind]
    params = inspect.signature(cls).parameters
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise OptimizerError(f"{kind} schedule has no option {', '.join(unknown)}; its options "
                             f"are {', '.join(params) or '(none)'}")
    missing = [n for n, p in params.items()
               if p.default is inspect.Parameter.empty and n not in options]
    if missing:
        raise OptimizerError(f"{kind} schedule needs {', '.join(missing)} (a number of "
                             f"iterations, e.g. {missing[0]}=1000)")
    return cls(**options)


def from_json(spec: "dict | str") -> Schedule:
    """The schedule described by to_json()'s dict (or that dict as JSON
    text, or just a kind's name: "constant")."""
    if isinstance(spec, str) and spec in SCHEDULES:
        return make_schedule(spec)
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as error:
            raise OptimizerError(f"schedule spec is not valid JSON: {error}") from None
    if not isinstance(spec, dict) or "kind" not in spec:
        raise OptimizerError(f"a schedule spec is a dict with a 'kind' key, got {spec!r}")
    options = {k: v for k, v in spec.items() if k != "kind"}
    return make_schedule(spec["kind"], **options)
