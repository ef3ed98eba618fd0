"""Which kernels run a network: one place that calls crnn._kernels.

States are (L, B, S) arrays (see crnn.network).  The min-char-rnn network
(one tanh layer) evaluates, samples and traces with its own kernels
(crnn.h), exactly as crnn 0.1.0 did, and trains with the fused
clip-and-Adagrad step when its optimizer is min-char-rnn's; every other
network, and every other training setup, runs the stacked-network kernels
(net.h), which can be cancelled between time steps.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from . import _kernels
from .network import Network

# The fused min-char-rnn step cannot be cancelled part-way (it updates the
# weights while it computes their gradient), so it is used only while one
# iteration is short: at most this many multiply-adds (3 B T H^2: about a
# second on one core).  Larger networks train through the cancellable kernels.
FUSED_MAX_MACS = 2e10


class Engine:
    def __init__(self, net: Network) -> None:
        self.net = net
        self._sizes = dict(cell=net.cell, num_layers=net.num_layers,
                           hidden_size=net.hidden_size, vocab_size=net.vocab_size)

    def fused_step_ok(self, batch_size: int, seq_length: int) -> bool:
        """Whether min-char-rnn's fused train_step may train this network."""
        H = self.net.hidden_size
        return self.net.is_min_char_rnn and 3.0 * batch_size * seq_length * H * H <= FUSED_MAX_MACS

    # ------------------------------------------------------------------
    # Training: forward then backward over a chunk of B streams

    def _legacy_training(self, batch_size: int, seq_length: int) -> bool:
        """min-char-rnn's network trains through its own (uncancellable)
        kernels while an iteration is short, or when its vocabulary has one
        character (which the stacked-network kernels do not take)."""
        return self.net.is_min_char_rnn and (self.fused_step_ok(batch_size, seq_length)
                                             or self.net.vocab_size < 2)

    def train_workspace_size(self, batch_size: int, seq_length: int) -> int:
        if self._legacy_training(batch_size, seq_length):
            return _kernels.train_workspace_size(batch_size, seq_length, self.net.hidden_size,
                                                 self.net.vocab_size)
        return _kernels.net_workspace_size(
            self.net.cell, self.net.num_layers, batch_size, seq_length, self.net.hidden_size,
            self.net.vocab_size, True)

    def forward_backward(self, grads: np.ndarray, work: np.ndarray, state: np.ndarray,
                         state_out: np.ndarray, flat: np.ndarray, inputs: np.ndarray,
                         targets: np.ndarray, masks: Optional[np.ndarray],
                         cancel: np.ndarray, n_threads: int) -> Optional[float]:
        """The chunk's loss, with its gradient added to grads and the final
        state in state_out; None if cancelled (then nothing is meaningful)."""
        if self._legacy_training(*inputs.shape):
            loss = _kernels.forward(work, state_out[0], flat, inputs, targets, state[0], n_threads)
            dh0 = np.empty_like(state[0])
            _kernels.backward(grads, dh0, work, flat, inputs, targets, n_threads)
            return loss
        loss = _kernels.net_forward(work, state_out, flat, inputs, targets, state, masks=masks,
                                    cancel=cancel, n_threads=n_threads, **self._sizes)
        if loss is None:
            return None
        done = _kernels.net_backward(grads, None, work, flat, inputs, targets, masks=masks,
                                     cancel=cancel, n_threads=n_threads, **self._sizes)
        return loss if done else None

    # ------------------------------------------------------------------
    # One stream, forward only: evaluation and feeding a prime

    def forward_workspace_size(self, steps: int) -> int:
        if self.net.is_min_char_rnn:
            return _kernels.forward_workspace_size(1, steps, self.net.hidden_size, self.net.vocab_size)
        return _kernels.net_workspace_size(self.net.cell, self.net.num_layers, 1, steps,
                                           self.net.hidden_size, self.net.vocab_size, False)

    def forward(self, work: np.ndarray, state_out: np.ndarray, flat: np.ndarray,
                inputs: np.ndarray, targets: Optional[np.ndarray], state: np.ndarray,
                n_threads: int) -> float:
        """Loss of one stream's chunk (0 without targets); state (L, 1, S)."""
        if self.net.is_min_char_rnn:
            return _kernels.forward(work, state_out[0], flat, inputs, targets, state[0], n_threads)
        return _kernels.net_forward(work, state_out, flat, inputs, targets, state,
                                    n_threads=n_threads, **self._sizes)

    # ------------------------------------------------------------------
    # Sampling and tracing

    def sample_workspace_size(self) -> int:
        if self.net.is_min_char_rnn:
            return _kernels.sample_workspace_size(self.net.hidden_size, self.net.vocab_size)
        return _kernels.net_sample_workspace_size(self.net.cell, self.net.num_layers,
                                                  self.net.hidden_size, self.net.vocab_size)

    def sample(self, out: np.ndarray, state: np.ndarray, work: np.ndarray, flat: np.ndarray,
               x0: int, uniforms: np.ndarray, temperature: float) -> None:
        """Sample len(out) ids; state (L, 1, S) in/out."""
        if self.net.is_min_char_rnn:
            _kernels.sample(out, state[0, 0], work, flat, x0, uniforms, temperature)
        else:
            _kernels.net_sample(out, state, work, flat, x0, uniforms, temperature, **self._sizes)

    def trace_chunk(self, flat: np.ndarray, ids: np.ndarray, state: np.ndarray,
                    n_threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(probs (T, V), states (T, L, S)) of one stream reading ``ids`` from
        ``state`` (L, 1, S), which is updated: probs[t] is the prediction after
        reading ids[t], states[t] the state after it."""
        T, net = len(ids), self.net
        inputs = np.ascontiguousarray(ids, dtype=np.int32).reshape(1, -1)
        seq = np.empty((T, net.num_layers, 1, net.state_width), flat.dtype)
        probs = np.empty((T, 1, net.vocab_size), flat.dtype)
        work = np.empty(_kernels.net_workspace_size(net.cell, net.num_layers, 1, T,
                                                    net.hidden_size, net.vocab_size, False),
                        flat.dtype)
        state_out = np.empty_like(state)
        _kernels.net_forward(work, state_out, flat, inputs, None, state, states_seq=seq,
                             probs_out=probs, n_threads=n_threads, **self._sizes)
        state[...] = state_out
        return probs[:, 0], seq[:, :, 0]
