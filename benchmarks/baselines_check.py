"""Self-check of the baselines: started from the same weights, the three
trainers must report the same losses (and PyTorch the same clipped gradients).

    python benchmarks/baselines_check.py     (or python benchmarks/baselines.py)
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from baselines import (MinCharRNN, NumpyVectorised, TorchRNN, chunk_start,  # noqa: E402
                       init_weights, torch_available)
from baselines_sampling import NumpySampler, sample_minchar  # noqa: E402


def _compare_torch_grads(vec: "NumpyVectorised", tor: "TorchRNN") -> None:
    pairs = [
        (tor.rnn.weight_ih_l0, vec.gWxhT.T),
        (tor.rnn.weight_hh_l0, vec.gWhh),
        (tor.rnn.bias_ih_l0, vec.gbh),
        (tor.out.weight, vec.gWhy),
        (tor.out.bias, vec.gby),
    ]
    for q, g in pairs:
        err = float(np.max(np.abs(q.grad.numpy() - g)))
        assert err <= 1e-12, err


def _selfcheck() -> None:
    rng = np.random.default_rng(1)
    V, H, T = 11, 16, 7
    ids = rng.integers(0, V, 400).astype(np.int32)
    ref = MinCharRNN(ids, V, H, T)
    vec = NumpyVectorised(ids, V, H, T)
    tor = TorchRNN(ids, V, H, T) if torch_available() else None
    for it in range(80):  # crosses the wrap-around at least once
        ref.train(1)
        vec.train(1)
        assert abs(ref.loss - vec.loss) <= 1e-10 * abs(ref.loss), (it, ref.loss, vec.loss)
        if tor is not None and it < 3:
            tor.train(1)
            # same loss and clipped gradients before the first update; after
            # it the runs part, because torch's Adagrad divides by
            # sqrt(mem) + eps instead of sqrt(mem + eps) (matters for tiny g)
            if it == 0:
                assert abs(ref.loss - tor.loss) <= 1e-12 * abs(ref.loss), (ref.loss, tor.loss)
                _compare_torch_grads(vec, tor)
    Wxh = vec.WxhT.T
    assert np.allclose(Wxh, ref.Wxh, rtol=0, atol=1e-12)
    assert np.allclose(vec.Whh, ref.Whh, rtol=0, atol=1e-12)
    # batch: B streams trained together = loss averaged over the streams
    B = 3
    vb = NumpyVectorised(ids, V, H, T, batch_size=B)
    vb.train(1)
    if tor is not None:
        tb = TorchRNN(ids, V, H, T, batch_size=B)
        tb.train(1)
        assert abs(vb.loss - tb.loss) <= 1e-12 * abs(vb.loss), (vb.loss, tb.loss)
        _compare_torch_grads(vb, tb)
    # float32 runs
    NumpyVectorised(ids, V, H, T, batch_size=2, dtype="float32").train(3)
    # samplers: same distribution code, same weights -> sane ids
    w = init_weights(V, H)
    assert len(sample_minchar(w, 50)) == 50
    s = NumpySampler(w).sample(200)
    assert s.min() >= 0 and s.max() < V
    crnn_rule = _check_pointer_rule()
    print("baselines self-check ok (torch %s; pointer rule %s)"
          % ("checked" if tor is not None else "not installed", crnn_rule))


def _check_pointer_rule() -> str:
    """The baselines' chunk_start against crnn.data.chunk_start, when crnn imports."""
    try:
        from crnn.data import chunk_start as crnn_chunk_start
    except ImportError:  # crnn not built or installed: the baselines run without it
        return "not compared with crnn's (crnn not importable)"
    for segment in range(2, 40):
        for T in range(1, segment):
            for p in range(0, segment + 2):
                for first in (False, True):
                    assert chunk_start(p, T, segment, first) == crnn_chunk_start(p, T, segment, first)
    return "same as crnn.data.chunk_start"


if __name__ == "__main__":
    _selfcheck()
