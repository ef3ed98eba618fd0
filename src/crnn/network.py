"""The network, described once: one-hot input gather, ``num_layers``
recurrent layers of one cell type, a softmax output layer.

Everything else follows from this description: the parameter names, shapes
and offsets in the flat buffer (the layout lives in C, csrc/net_layout.c,
read through crnn.netparams), the initial weights, the size of the
optimizer's state buffers (one flat buffer each, of ``param_count``
elements) and the state a stream carries, (num_layers, state_width).

The min-char-rnn network (cell "rnn", one layer) keeps min-char-rnn's names
and shapes in ``views``: Wxh (H,V), Whh, Why, bh, by.  Its flat layout is
the same as the general one (net.h says so), so every kernel can run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from . import _kernels, netparams

CELLS = netparams.CELLS
INIT_SCHEMES = netparams.INIT_SCHEMES
MIN_CHAR_RNN_NAMES = ("Wxh", "Whh", "Why", "bh", "by")


@dataclass(frozen=True)
class Network:
    cell: str
    num_layers: int
    hidden_size: int
    vocab_size: int
    dropout: float = 0.0
    init: Optional[str] = None  # None: the cell's default scheme

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.init is not None and self.init not in INIT_SCHEMES:
            raise ValueError(f"init must be one of {', '.join(INIT_SCHEMES)}, got {self.init!r}")
        if not self.is_min_char_rnn and self.vocab_size < 2:
            raise ValueError(f"the {self.cell} cell needs at least 2 characters in the vocabulary")

    @property
    def is_min_char_rnn(self) -> bool:
        """min-char-rnn's network: one tanh layer (its own fused kernels apply)."""
        return self.cell == "rnn" and self.num_layers == 1

    @property
    def init_scheme(self) -> str:
        return self.init or ("min-char-rnn" if self.cell == "rnn" else "pytorch")

    @property
    def state_width(self) -> int:
        """S: a layer's state is h (H), or [h | c] (2H) for the LSTM."""
        return 2 * self.hidden_size if self.cell == "lstm" else self.hidden_size

    @property
    def param_count(self) -> int:
        if self.is_min_char_rnn:  # the same layout, also for a 1-character vocabulary
            return _kernels.param_count(self.hidden_size, self.vocab_size)
        return netparams.param_count(self.cell, self.num_layers, self.hidden_size, self.vocab_size)

    def layout(self) -> list:
        """[(name, shape, offset)] of the flat buffer, in buffer order."""
        if not self.is_min_char_rnn:
            return netparams.layout(self.cell, self.num_layers, self.hidden_size, self.vocab_size)
        probe = np.zeros(self.param_count, np.float64)
        base = probe.__array_interface__["data"][0]
        views = _kernels.param_views(probe, self.hidden_size, self.vocab_size)
        # Wxh is stored transposed (its view is WxhT.T): the stored block is WxhT (V, H).
        entries = [("WxhT" if name == "Wxh" else name, view.T.shape if name == "Wxh" else view.shape,
                    (view.__array_interface__["data"][0] - base) // 8) for name, view in views.items()]
        return sorted(entries, key=lambda entry: entry[2])

    def views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Named, writable views into ``flat`` (min-char-rnn's names and
        shapes for its network: Wxh (H, V) is a transposed view)."""
        if self.is_min_char_rnn:
            return _kernels.param_views(flat, self.hidden_size, self.vocab_size)
        return netparams.views(flat, self.cell, self.num_layers, self.hidden_size, self.vocab_size)

    def initial_params(self, rng: np.random.Generator, dtype: Any) -> np.ndarray:
        """A new flat buffer of initial weights drawn from ``rng``."""
        if self.is_min_char_rnn and self.init_scheme == "min-char-rnn":
            # min-char-rnn: N(0, 1) * 0.01 drawn in the order Wxh (H, V), Whh,
            # Why, biases zero; drawn in float64, so float32 models of a seed
            # are the rounded float64 model.
            flat = np.zeros(self.param_count, np.float64)
            views = self.views(flat)
            for name in ("Wxh", "Whh", "Why"):
                views[name][...] = rng.standard_normal(views[name].shape) * 0.01
            return flat.astype(dtype)
        return netparams.init_params(self.cell, self.num_layers, self.hidden_size,
                                     self.vocab_size, rng, self.init_scheme, dtype)

    def to_json(self) -> dict:
        return {"cell": self.cell, "num_layers": self.num_layers, "hidden_size": self.hidden_size,
                "dropout": self.dropout, "init": self.init_scheme}

    def to_torch_state_dict(self, flat: np.ndarray) -> dict:
        return netparams.to_torch_state_dict(flat, self.cell, self.num_layers, self.hidden_size,
                                             self.vocab_size)

    def flat_from_torch_state_dict(self, state_dict: Any, dtype: Any) -> np.ndarray:
        return netparams.flat_from_torch_state_dict(state_dict, self.cell, self.num_layers,
                                                    self.hidden_size, self.vocab_size, dtype)
