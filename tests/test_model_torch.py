"""20 training steps of a model built with from_torch_state_dict equal
PyTorch's own training (nn.LSTM/GRU/RNN + nn.Linear, torch.optim,
clip_grad_norm_) on the same data, in float64.  Skipped without torch."""

import numpy as np
import pytest

import crnn

torch = pytest.importorskip("torch")

TEXT = "".join(f"{i % 7} the cat sat; the dog {'ran' if i % 3 else 'sat'}.\n" for i in range(80))
H, T, B, STEPS = 8, 6, 2, 20
OPTIMIZERS = {
    "adam": (torch.optim.Adam, {}, {}),
    "adamw": (torch.optim.AdamW, {}, {}),
    "rmsprop": (torch.optim.RMSprop, {"alpha": 0.95}, {"alpha": 0.95}),
    "sgd": (torch.optim.SGD, {"momentum": 0.9}, {"momentum": 0.9}),
}


class Net(torch.nn.Module):
    def __init__(self, cell, V, layers):
        super().__init__()
        kind = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
        self.rnn = kind(V, H, layers)
        self.out = torch.nn.Linear(H, V)


def torch_training(net, cell, ids, V, make_opt, clip):
    """min-char-rnn's streams and pointers (no wrap in 20 steps), crnn's loss:
    summed over time, averaged over the B streams."""
    opt = make_opt(net.parameters())
    segment = len(ids) // B
    state = None
    for n in range(STEPS):
        chunk = np.stack([ids[b * segment + n * T: b * segment + n * T + T + 1] for b in range(B)])
        x = torch.nn.functional.one_hot(torch.tensor(chunk[:, :-1].T.astype(np.int64)), V).double()  # (T, B, V)
        y = torch.tensor(chunk[:, 1:].T.astype(np.int64))
        out, state = net.rnn(x, state)
        logits = net.out(out)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1),
                                                 reduction="sum") / B
        opt.zero_grad()
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        state = tuple(s.detach() for s in state) if cell == "lstm" else state.detach()


@pytest.mark.parametrize("clip", [False, True], ids=["no-clip", "norm-clip"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("cell, layers", [("lstm", 1), ("gru", 2), ("rnn", 2)])
def test_twenty_steps_match_torch_optim(cell, layers, name, clip):
    torch.manual_seed(0)
    vocab = crnn.Vocab.from_text(TEXT)
    V = len(vocab)
    net = Net(cell, V, layers).double()
    if cell == "rnn":
        # crnn's rnn cell has one bias per layer (min-char-rnn's bh): the same
        # network in torch keeps bias_hh at zero and out of training (two
        # trained biases would each take an optimizer step: twice the move).
        for layer in range(layers):
            bias = getattr(net.rnn, f"bias_hh_l{layer}")
            bias.requires_grad_(False)
            bias.zero_()
    sd = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    kind, torch_settings, crnn_settings = OPTIMIZERS[name]
    lr = 0.01
    model = crnn.CharRNN.from_torch_state_dict(
        sd, vocab, cell=cell, seq_length=T, batch_size=B, optimizer=name, learning_rate=lr,
        optimizer_settings=crnn_settings, grad_clip=1.0 if clip else None,
        clip_mode="norm" if clip else "none")
    ids = vocab.encode(TEXT)
    assert len(ids) // B > STEPS * T + 1  # no stream wraps around
    torch_training(net, cell, ids, V, lambda p: kind(p, lr=lr, **torch_settings), clip)
    model.train(ids, iterations=STEPS)
    want = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    got = model.to_torch_state_dict()
    worst = max(np.abs(got[k] - want[k]).max() / np.abs(want[k]).max() for k in want)
    print(f"{cell}-{layers} {name} clip={clip}: worst relative difference {worst:.2e}")
    assert worst <= 1e-9, worst
