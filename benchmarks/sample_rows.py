"""The sampling rows: one stream of characters from a zero state, float64 H=100
and float32 H=512, untrained weights (N(0,1)*0.01) shared by every row of a group.

Every runner's ``run(n)`` generates n characters and returns n.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import baselines as bl
import baselines_sampling as bs
from environment import BlasThreads
from harness import Case

G_SAMPLE_SMALL = "sample float64 H=100, one stream"
G_SAMPLE_BIG = "sample float32 H=512, one stream"
SAMPLE_GROUPS = ((G_SAMPLE_SMALL, 100, "float64"), (G_SAMPLE_BIG, 512, "float32"))
WEIGHT_NAMES = ("Wxh", "Whh", "Why", "bh", "by")


class SampleRunner:
    """Generation: run(n) makes n characters from a zero state."""

    unit = "char"

    def __init__(self, fn: Callable[[int], Any], blas: BlasThreads):
        self.fn = fn
        self.blas = blas

    def run(self, n: int) -> int:
        self.blas.set(1)
        with np.errstate(all="ignore"):
            self.fn(n)
        return n


def crnn_model(crnn, text: str, H: int, dtype: str):
    """An untrained crnn model of the group (its weights are the group's weights)."""
    return crnn.CharRNN(crnn.Vocab.from_text(text), hidden_size=H, dtype=dtype, seed=0)


def crnn_sample_runner(model, blas: BlasThreads) -> SampleRunner:
    return SampleRunner(lambda n: model.sample(n, seed=0), blas)


def make_kernel_sampler(kernels, weights, H, dtype):
    V = weights[0].shape[1]
    dt = np.dtype(dtype)
    params = np.zeros(kernels.param_count(H, V), dt)
    views = kernels.param_views(params, H, V)
    for name, w in zip(WEIGHT_NAMES, weights):
        views[name][...] = w
    work = np.zeros(kernels.sample_workspace_size(H, V), dt)
    h = np.zeros(H, dt)

    def run(n: int) -> None:
        rng = np.random.default_rng(0)
        out = np.empty(n, np.int32)
        h.fill(0.0)
        kernels.sample(out, h, work, params, 0, rng.random(n), 1.0)

    return run


def sample_cases(ctx) -> list[list[Case]]:
    """One block per group."""
    crnn, blas = ctx.crnn, ctx.blas
    blocks = []
    for g, H, dt in SAMPLE_GROUPS:
        model = None
        if crnn.available:
            model = crnn_model(crnn, ctx.text, H, dt)
            weights = tuple(np.array(model.params[k]) for k in WEIGHT_NAMES)
        else:
            weights = bl.init_weights(ctx.V, H, dt, 0)
        meta = dict(hidden_size=H, dtype=dt, threads=1)
        rows = [
            Case(g, "min-char-rnn numpy sample()",
                 lambda w=weights: SampleRunner(lambda n: bs.sample_minchar(w, n, seed=0), blas),
                 key="minchar", **meta),
            Case(g, "numpy sampling loop",
                 lambda w=weights: SampleRunner(bs.NumpySampler(w).sample, blas),
                 ref=True, key="numpy", **meta),
        ]
        if model is not None:
            rows.append(Case(g, "crnn CharRNN.sample",
                             lambda m=model: crnn_sample_runner(m, blas), key="crnn", **meta))
            rows.append(Case(g, "crnn _kernels.sample (one call)",
                             lambda w=weights, H=H, dt=dt: SampleRunner(
                                 make_kernel_sampler(crnn.kernels, w, H, dt), blas),
                             key="kernel", **meta))
        blocks.append(rows)
    return blocks
