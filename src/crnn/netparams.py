"""The flat parameter buffer of a stacked network: named views, initialisers
and conversion to and from a PyTorch state dict.

The layout (names, shapes, offsets) is defined once, in C, and read through
``crnn._kernels.net_layout``; nothing here repeats it.  Entries, in buffer
order (G = 1, 4, 3 gates for rnn, lstm, gru; gates in PyTorch's order)::

    weight_ih_T_l0  (V, G*H)  layer 0's W_ih, transposed: row c is char c's input
    weight_hh_l0    (G*H, H)
    weight_ih_l1    (G*H, H)  layers > 0 (as PyTorch stores them)
    weight_hh_l1    (G*H, H)
    ...
    weight_out      (V, H)
    bias_l0         (H,)      rnn: one bias per layer (min-char-rnn's bh)
    bias_ih_l0, bias_hh_l0  (G*H,)  lstm, gru: PyTorch's two biases
    ...
    bias_out        (V,)

A PyTorch model with the same numbers is ``rnn = nn.LSTM(V, H, L)`` (or GRU,
or RNN with tanh) fed one-hot inputs, and ``out = nn.Linear(H, V)``.
"""

import numpy as np

from crnn import _kernels

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
INIT_SCHEMES = ("min-char-rnn", "pytorch", "char-rnn", "embedding")


def _cell_name(cell):
    if cell in CELLS:
        return cell
    if isinstance(cell, (int, np.integer)) and 0 <= cell < len(CELLS):
        return CELLS[cell]
    raise ValueError(f"unknown cell {cell!r}; choose one of {CELLS}")


def layout(cell, num_layers, hidden_size, vocab_size):
    """[(name, shape, offset), ...] in buffer order (from the C layout)."""
    return _kernels.net_layout(cell, num_layers, hidden_size, vocab_size)


def param_count(cell, num_layers, hidden_size, vocab_size):
    """Elements of the flat buffer."""
    return _kernels.net_param_count(cell, num_layers, hidden_size, vocab_size)


def views(flat, cell, num_layers, hidden_size, vocab_size):
    """{name: view into flat}, shaped as the layout says; writing into a view
    writes into the buffer."""
    n = param_count(cell, num_layers, hidden_size, vocab_size)
    if not isinstance(flat, np.ndarray) or flat.ndim != 1 or flat.shape[0] != n:
        shape = getattr(flat, "shape", None)
        raise ValueError(f"flat must be a 1-D array of {n} elements, got shape {shape}")
    out = {}
    for name, shape, offset in layout(cell, num_layers, hidden_size, vocab_size):
        out[name] = flat[offset:offset + int(np.prod(shape))].reshape(shape)
    return out


def init_params(cell, num_layers, hidden_size, vocab_size, rng, scheme=None,
                dtype=np.float64):
    """A new flat buffer of initial weights drawn from the numpy Generator rng.

    scheme (default: "min-char-rnn" for the rnn cell, "pytorch" otherwise):
      "min-char-rnn"  weights N(0,1) * 0.01, biases 0
      "pytorch"       every weight and bias uniform in [-1/sqrt(H), 1/sqrt(H)]
                      (nn.LSTM / nn.GRU / nn.RNN's default)
      "char-rnn"      everything uniform in [-0.08, 0.08]; for the LSTM the
                      forget-gate chunk of bias_ih is 1 (Karpathy's char-rnn)
      "embedding"     "pytorch", except layer 0's input weights: the product
                      E @ W_ih.T of an nn.Embedding(V, H) table E ~ N(0, 1) and
                      a "pytorch" W_ih, i.e. the map a PyTorch model that
                      feeds nn.Embedding into the cell starts from.  Its
                      entries have a standard deviation near 0.58 instead of
                      1/sqrt(3H), so characters move the state from step one.
    Entries are drawn in buffer order, in float64, then cast to dtype.
    """
    cell = _cell_name(cell)
    if scheme is None:
        scheme = "min-char-rnn" if cell == "rnn" else "pytorch"
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {INIT_SCHEMES}")
    H = hidden_size
    flat = np.zeros(param_count(cell, num_layers, H, vocab_size), dtype=np.float64)
    for name, view in views(flat, cell, num_layers, H, vocab_size).items():
        if scheme == "min-char-rnn":
            if name.startswith("weight"):
                view[...] = rng.standard_normal(view.shape) * 0.01
        elif scheme == "pytorch" or (scheme == "embedding" and name != "weight_ih_T_l0"):
            bound = 1.0 / np.sqrt(H)
            view[...] = rng.uniform(-bound, bound, view.shape)
        elif scheme == "embedding":
            bound = 1.0 / np.sqrt(H)
            table = rng.standard_normal((vocab_size, H))
            view[...] = table @ rng.uniform(-bound, bound, (view.shape[1], H)).T
        else:
            view[...] = rng.uniform(-0.08, 0.08, view.shape)
            if cell == "lstm" and name.startswith("bias_ih"):
                view[H:2 * H] = 1.0
    return flat.astype(dtype)


def _torch_key(name):
    """Our entry name -> PyTorch's key, for entries that map one to one."""
    if name == "weight_out":
        return "out.weight"
    if name == "bias_out":
        return "out.bias"
    return "rnn." + name.replace("weight_ih_T_", "weight_ih_")


def to_torch_state_dict(flat, cell, num_layers, hidden_size, vocab_size):
    """{PyTorch key: NumPy array (a copy)} for a module with
    ``rnn = nn.LSTM(V, H, L)`` (or nn.GRU, nn.RNN) and ``out = nn.Linear(H, V)``.
    The rnn cell's one bias becomes bias_ih; its bias_hh is zeros."""
    cell = _cell_name(cell)
    sd = {}
    for name, view in views(flat, cell, num_layers, hidden_size, vocab_size).items():
        if name.startswith("bias_l"):  # rnn: one bias
            layer = name[len("bias_"):]
            sd[f"rnn.bias_ih_{layer}"] = view.copy()
            sd[f"rnn.bias_hh_{layer}"] = np.zeros_like(view)
        elif name.startswith("weight_ih_T_"):
            sd[_torch_key(name)] = view.T.copy()
        else:
            sd[_torch_key(name)] = view.copy()
    return sd


def _get(sd, key, shape):
    if key not in sd:
        raise ValueError(f"state dict has no key {key!r}")
    value = sd[key]
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    a = np.asarray(value, dtype=np.float64)
    if a.shape != tuple(shape):
        raise ValueError(f"state dict entry {key!r} has shape {a.shape}, "
                         f"expected {tuple(shape)}")
    return a


def flat_from_torch_state_dict(sd, cell, num_layers, hidden_size, vocab_size,
                               dtype=np.float64):
    """A flat buffer from a PyTorch state dict (see to_torch_state_dict).
    For the rnn cell, bias_ih + bias_hh becomes the one bias.  ValueError
    naming the key if one is missing or has the wrong shape."""
    cell = _cell_name(cell)
    flat = np.zeros(param_count(cell, num_layers, hidden_size, vocab_size), np.float64)
    for name, view in views(flat, cell, num_layers, hidden_size, vocab_size).items():
        if name.startswith("bias_l"):
            layer = name[len("bias_"):]
            view[...] = (_get(sd, f"rnn.bias_ih_{layer}", view.shape)
                         + _get(sd, f"rnn.bias_hh_{layer}", view.shape))
        elif name.startswith("weight_ih_T_"):
            view[...] = _get(sd, _torch_key(name), view.shape[::-1]).T
        else:
            view[...] = _get(sd, _torch_key(name), view.shape)
    return flat.astype(dtype)


def dropout_masks(rng, p, num_layers, steps, batch, hidden_size, dtype=np.float64):
    """Inverted-dropout masks for one training chunk, (L-1, T, B, H): each
    entry 0 with probability p, else 1/(1-p), drawn from the Generator rng.
    None when there is nothing to drop (p == 0 or one layer)."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout must be in [0, 1), got {p}")
    if p == 0 or num_layers < 2:
        return None
    keep = rng.random((num_layers - 1, steps, batch, hidden_size)) >= p
    return (keep / (1.0 - p)).astype(dtype)
