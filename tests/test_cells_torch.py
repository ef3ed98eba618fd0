"""Parity with PyTorch (skipped when torch is not importable): for random
weights, crnn's network and nn.LSTM / nn.GRU / nn.RNN + nn.Linear (weights
moved by crnn.netparams' state-dict functions) give the same loss (sum over
time of cross-entropy, mean over streams), gradients and state gradients,
in float64."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crnn import _kernels as K  # noqa: E402
from crnn import netparams as NP  # noqa: E402

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


class Net(torch.nn.Module):
    def __init__(self, cell, L, H, V):
        super().__init__()
        self.rnn = MODULES[cell](V, H, L)
        self.out = torch.nn.Linear(H, V)


def torch_loss_and_grads(net, cell, inputs, targets, state0, H, V):
    B, T = inputs.shape
    x = torch.nn.functional.one_hot(torch.from_numpy(inputs.T.astype(np.int64)), V).double()
    s0 = torch.from_numpy(state0.copy()).requires_grad_(True)
    hx = (s0[:, :, :H].contiguous(), s0[:, :, H:].contiguous()) if cell == "lstm" else s0
    ys, _ = net.rnn(x, hx)
    logits = net.out(ys)  # (T, B, V)
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(T * B, V), torch.from_numpy(targets.T.reshape(-1).astype(np.int64)),
        reduction="sum") / B
    loss.backward()
    grads = {k: p.grad.numpy().copy() for k, p in net.named_parameters()}
    return loss.item(), grads, s0.grad.numpy()


def crnn_and_torch(cell, L, rng, B=3, T=7, H=10, V=8):
    """For random weights, inputs and start state: crnn's loss, flat
    gradients and start-state gradient, then PyTorch's (the gradients
    mapped into crnn's flat layout).  Also used by
    benchmarks/parity_cells.py."""
    flat = rng.uniform(-0.5, 0.5, NP.param_count(cell, L, H, V))
    inputs = rng.integers(0, V, (B, T), dtype=np.int32)
    targets = rng.integers(0, V, (B, T), dtype=np.int32)
    state0 = rng.uniform(-0.5, 0.5, (L, B, K.net_state_width(cell, H)))

    net = Net(cell, L, H, V).double()
    sd = NP.to_torch_state_dict(flat, cell, L, H, V)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)
    t_loss, t_grads, t_dstate0 = torch_loss_and_grads(net, cell, inputs, targets, state0, H, V)
    if cell == "rnn":  # our one bias: its gradient is that of either torch bias
        for k in list(t_grads):
            if k.startswith("rnn.bias_hh"):
                t_grads[k] = np.zeros_like(t_grads[k])
    t_flat_grads = NP.flat_from_torch_state_dict(t_grads, cell, L, H, V)

    kw = dict(cell=cell, num_layers=L, hidden_size=H, vocab_size=V)
    work = np.zeros(K.net_workspace_size(cell, L, B, T, H, V, True))
    state = np.zeros_like(state0)
    loss = K.net_forward(work, state, flat, inputs, targets, state0, **kw)
    grads, dstate0 = np.zeros_like(flat), np.zeros_like(state0)
    K.net_backward(grads, dstate0, work, flat, inputs, targets, **kw)
    return (loss, grads, dstate0), (t_loss, t_flat_grads, t_dstate0)


@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_loss_and_gradients_equal_pytorch(cell, L, rng):
    (loss, grads, dstate0), (t_loss, t_flat_grads, t_dstate0) = crnn_and_torch(cell, L, rng)

    assert abs(loss - t_loss) <= 1e-10 * abs(t_loss)
    scale = np.max(np.abs(t_flat_grads))
    assert np.max(np.abs(grads - t_flat_grads)) <= 1e-10 * scale
    assert np.max(np.abs(dstate0 - t_dstate0)) <= 1e-10 * np.max(np.abs(t_dstate0))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_state_dict_round_trip_through_torch(cell, rng):
    L, H, V = 2, 6, 5
    flat = rng.uniform(-1, 1, NP.param_count(cell, L, H, V))
    net = Net(cell, L, H, V).double()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in
                         NP.to_torch_state_dict(flat, cell, L, H, V).items()})
    back = NP.flat_from_torch_state_dict(net.state_dict(), cell, L, H, V)
    np.testing.assert_array_equal(back, flat)
