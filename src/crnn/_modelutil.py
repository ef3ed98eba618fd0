"""Small pieces of CharRNN that need no model: argument checks, the burn-in
text of the start state, the validation history, the training rate meter."""

from __future__ import annotations

import math
import numbers
import time
from typing import Any

import numpy as np

from .vocab import Vocab

DTYPES = ("float32", "float64")
# The start state is the state after reading the last BURN_IN characters of
# the training text up to its last newline (searched in the last NEWLINE_WINDOW).
BURN_IN = 1000
NEWLINE_WINDOW = 1 << 16
# The validation losses kept in the model (and its file) for curves; when
# full, every other entry is dropped, so the curve keeps its whole span.
VAL_HISTORY_MAX = 512


def check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def check_positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return float(value)


def check_temperature(temperature: Any) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature must be a number, got {temperature!r}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(
            f"temperature must be >= 0 (0 = always the most likely character), got {temperature}"
        )
    return float(temperature)


def check_dtype(dtype: Any) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dtype


def burn_in_ids(ids: np.ndarray, vocab: Vocab) -> np.ndarray:
    """The ids the start state is read from: the last BURN_IN ids of the text
    up to and including its last newline (the whole tail if the last
    NEWLINE_WINDOW ids hold none), as an int32 copy."""
    tail = np.asarray(ids[-NEWLINE_WINDOW:])
    end = len(tail)
    if "\n" in vocab:
        newlines = np.flatnonzero(tail == int(vocab.encode("\n")[0]))
        if len(newlines):
            end = int(newlines[-1]) + 1
    return np.array(tail[max(0, end - BURN_IN) : end], dtype=np.int32)


class ValHistory(list):
    """(iteration, validation nats/char) pairs, at most VAL_HISTORY_MAX: when
    full, every other entry is dropped (the first and the newest stay)."""

    def append(self, item: tuple) -> None:
        iteration, loss = item
        super().append((int(iteration), float(loss)))
        if len(self) > VAL_HISTORY_MAX:
            self[:] = self[:-1:2] + self[-1:]


class RateMeter:
    """Builds the callback's info dict, measuring chars/s between calls."""

    def __init__(self, chars_per_iteration: int, iteration: int) -> None:
        self._chars_per_iteration = chars_per_iteration
        self._start = self._last_time = time.perf_counter()
        self._last_iteration = iteration

    def report(self, iteration: int, loss: float, smooth_loss: float) -> dict:
        now = time.perf_counter()
        chars = (iteration - self._last_iteration) * self._chars_per_iteration
        elapsed = now - self._last_time
        rate = chars / elapsed if elapsed > 0 else float("inf")
        self._last_time, self._last_iteration = now, iteration
        return {
            "iteration": iteration,
            "loss": loss,
            "smooth_loss": smooth_loss,
            "chars_per_sec": rate,
            "elapsed": now - self._start,
        }
