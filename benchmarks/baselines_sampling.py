"""The sampling baselines: min-char-rnn's ``sample()`` and a tuned NumPy loop.

Both take the weights as ``(Wxh (H,V), Whh (H,H), Why (V,H), bh (H,), by (V,))``
(what ``baselines.init_weights`` returns) and generate one stream of ids.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["sample_minchar", "NumpySampler"]


def sample_minchar(weights, n: int, seed_ix: int = 0, seed: int = 0,
                   h: Optional[np.ndarray] = None) -> list:
    """min-char-rnn's sample(): column vectors, one-hot dot, rng.choice with p."""
    Wxh, Whh, Why, bh, by = weights
    H, V = Wxh.shape
    dt = Wxh.dtype
    bh = bh.reshape(-1, 1)
    by = by.reshape(-1, 1)
    rng = np.random.default_rng(seed)
    h = np.zeros((H, 1), dt) if h is None else np.asarray(h, dt).reshape(H, 1)
    x = np.zeros((V, 1), dt)
    x[seed_ix] = 1
    ixes = []
    for _ in range(n):
        h = np.tanh(np.dot(Wxh, x) + np.dot(Whh, h) + bh)
        y = np.dot(Why, h) + by
        p = np.exp(y) / np.sum(np.exp(y))
        ix = rng.choice(V, p=p.ravel())
        x = np.zeros((V, 1), dt)
        x[ix] = 1
        ixes.append(ix)
    return ixes


class NumpySampler:
    """A tuned NumPy sampling loop: row gather, preallocated vectors,
    inverse-CDF sampling from pre-drawn uniforms."""

    name = "numpy sampling loop"

    def __init__(self, weights):
        Wxh, Whh, Why, bh, by = weights
        self.H, self.V = Wxh.shape
        dt = Wxh.dtype
        # row c of WxhT_bh is Wxh[:, c] + bh: the input term and the bias in one gather
        self.WxhT_bh = np.ascontiguousarray(Wxh.T + bh.reshape(1, -1))
        self.Whh = np.ascontiguousarray(Whh)
        self.Why = np.ascontiguousarray(Why)
        self.by = np.ascontiguousarray(by.reshape(-1))
        self.h = np.zeros(self.H, dt)
        self.y = np.zeros(self.V, dt)

    def sample(self, n: int, seed_ix: int = 0, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        u = rng.random(n)
        out = np.empty(n, np.int32)
        h, y = self.h, self.y
        h.fill(0.0)
        a = np.empty_like(h)
        ix = seed_ix
        inv_t = 1.0 / temperature
        Whh, Why, WxhT_bh, by = self.Whh, self.Why, self.WxhT_bh, self.by
        last = self.V - 1
        for i in range(n):
            np.dot(Whh, h, out=a)
            a += WxhT_bh[ix]
            np.tanh(a, out=h)
            np.dot(Why, h, out=y)
            y += by
            if inv_t != 1.0:
                y *= inv_t
            y -= y.max()
            np.exp(y, out=y)
            np.cumsum(y, out=y)
            ix = min(int(np.searchsorted(y, u[i] * y[last], side="right")), last)
            out[i] = ix
        return out
