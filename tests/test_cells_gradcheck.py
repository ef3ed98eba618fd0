"""Central-difference gradient checks of the network kernels in float64:
every parameter and every entry of the initial state, for every cell and
1 to 3 layers, with and without fixed dropout masks."""

import numpy as np
import pytest

from crnn import _kernels as K
from crnn import netparams as NP


def loss_of(flat, inputs, targets, state0, masks, cell, L, H, V):
    B, T = inputs.shape
    work = np.zeros(K.net_workspace_size(cell, L, B, T, H, V, False))
    out = np.zeros_like(state0)
    return K.net_forward(work, out, flat, inputs, targets, state0, masks=masks, cell=cell,
                         num_layers=L, hidden_size=H, vocab_size=V)


def analytic(flat, inputs, targets, state0, masks, cell, L, H, V):
    B, T = inputs.shape
    work = np.zeros(K.net_workspace_size(cell, L, B, T, H, V, True))
    out = np.zeros_like(state0)
    kw = dict(cell=cell, num_layers=L, hidden_size=H, vocab_size=V)
    K.net_forward(work, out, flat, inputs, targets, state0, masks=masks, **kw)
    grads, dstate0 = np.zeros_like(flat), np.zeros_like(state0)
    K.net_backward(grads, dstate0, work, flat, inputs, targets, masks=masks, **kw)
    return grads, dstate0


def numeric(f, x, eps=1e-6):
    g = np.zeros_like(x)
    flat = x.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        up = f()
        flat[i] = keep - eps
        down = f()
        flat[i] = keep
        g.reshape(-1)[i] = (up - down) / (2 * eps)
    return g


@pytest.mark.parametrize("dropout", [False, True], ids=["plain", "dropout"])
@pytest.mark.parametrize("L", [1, 2, 3])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradients_match_central_differences(cell, L, dropout, rng):
    if dropout and L == 1:
        pytest.skip("dropout acts between layers")
    B, T, H, V = 2, 3, 3, 4
    flat = rng.uniform(-0.7, 0.7, NP.param_count(cell, L, H, V))
    inputs = rng.integers(0, V, (B, T), dtype=np.int32)
    targets = rng.integers(0, V, (B, T), dtype=np.int32)
    state0 = rng.uniform(-0.8, 0.8, (L, B, K.net_state_width(cell, H)))
    masks = None
    if dropout:
        masks = (rng.uniform(size=(L - 1, T, B, H)) < 0.6) / 0.6
    args = (inputs, targets, state0, masks, cell, L, H, V)
    grads, dstate0 = analytic(flat, *args)
    num = numeric(lambda: loss_of(flat, *args), flat)
    np.testing.assert_allclose(grads, num, rtol=1e-6, atol=1e-8)
    num_s = numeric(lambda: loss_of(flat, *args), state0)
    np.testing.assert_allclose(dstate0, num_s, rtol=1e-6, atol=1e-8)
    # every parameter matters somewhere (no entry silently ignored)
    for name, view in NP.views(grads, cell, L, H, V).items():
        assert np.any(view != 0), name
