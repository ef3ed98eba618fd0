"""What a model predicts and what its hidden units do, character by character.

``trace(model, text)`` reads ``text`` once through the network, from the
same start state ``sample`` and ``evaluate`` use, and keeps for every
position j:

* ``prob[j]``: the probability the model gave ``text[j]`` before reading it
  (from the start state's prediction for j = 0),
* ``topk_ids[j]``, ``topk_probs[j]``: that same prediction's k most likely
  characters, most likely first (ties: the lower id first),
* ``layers[l]["h"][j]`` (and ``["c"]`` for an LSTM): the state of layer l
  after reading ``text[j]``.

The heavy work is the C kernels' (``crnn._kernels.trace``: the recurrence
and the softmax of every step, a chunk of characters per call); Python only
slices the results.  ``assemble`` is the cell-agnostic half: it turns any
network's per-step predictions and stacked states into a :class:`Trace`,
so a stacked LSTM or GRU kernel that writes the states of every layer
(net.h's ``states_seq``, (T, L, S) for one stream) plugs in unchanged.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _kernels
from ..errors import CorpusError

TRACE_CHUNK = 1024  # characters per kernel call


@dataclass
class Trace:
    """The result of :func:`trace`; ``trace_result["prob"]`` works as well as ``.prob``."""

    text: str
    ids: np.ndarray  # (N,) int32
    prob: np.ndarray  # (N,) probability of text[j] given text[:j]
    topk_ids: np.ndarray  # (N, k) int32
    topk_probs: np.ndarray  # (N, k)
    layers: list  # per layer: {"h": (N, H)} (+ "c": (N, H) for an LSTM)
    nats_per_char: float  # mean -log prob over text[1:] (as `crnn eval` counts)
    cell: str = "rnn"

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    @property
    def surprise(self) -> np.ndarray:
        """-log prob per character, in nats (inf where prob rounded to 0)."""
        with np.errstate(divide="ignore"):
            return -np.log(self.prob.astype(np.float64))

    @property
    def bits_per_char(self) -> float:
        return self.nats_per_char / math.log(2)


def trace(model: Any, text: str, top_k: int = 5) -> Trace:
    """Trace ``model`` over ``text`` (see the module docstring).

    Raises VocabError naming characters the model does not know, and
    CorpusError for an empty text.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
    if not text:
        raise CorpusError("trace needs a text of at least 1 character", kind="empty")
    ids = model.vocab.encode(text)
    cell = getattr(model, "cell", "rnn")
    if cell == "rnn" and getattr(model, "num_layers", 1) == 1:
        probs, states = tanh_rnn_steps(model, ids)
        states = states[:, None, :]
    else:
        probs, states = network_steps(model, ids)
    return assemble(text, ids, probs, states, cell, model.hidden_size, top_k)


def network_steps(model: Any, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Any network through the stacked-network kernel: (probs (N, V), states
    (N, L, S)); probs[j] is the prediction of ids[j] (row 0 the start
    state's), states[j] the state after reading it."""
    N = len(ids)
    state = model.start_state[:, None, :]
    probs = np.empty((N, model.vocab_size), model.dtype)
    states = np.empty((N, model.num_layers, state.shape[2]), model.dtype)
    probs[0] = _softmax(model._first_logits(state[-1, 0, : model.hidden_size]))
    for lo in range(0, N, TRACE_CHUNK):
        hi = min(lo + TRACE_CHUNK, N)
        chunk_probs, chunk_states = model._engine.trace_chunk(model._flat, ids[lo:hi], state)
        states[lo:hi] = chunk_states
        after = chunk_probs[: N - 1 - lo] if hi == N else chunk_probs
        probs[lo + 1 : lo + 1 + len(after)] = after
    return probs, states


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()


def start_state(model: Any) -> np.ndarray:
    """The hidden state ``sample`` and ``evaluate`` start from, shape (H,):
    the model's saved ``start_state`` if it has one, else zeros."""
    H = model.hidden_size
    saved = getattr(model, "start_state", None)
    if saved is None:
        return np.zeros(H, model.dtype)
    state = np.asarray(saved, dtype=model.dtype).reshape(-1)
    if state.shape != (H,):
        raise ValueError(f"the model's start_state has shape {np.shape(saved)}, not ({H},)")
    return np.ascontiguousarray(state)


def tanh_rnn_steps(model: Any, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-layer tanh RNN through the C kernel: (probs (N, V), states (N, H)).

    probs[j] is the prediction of ids[j]; states[j] the state after it.
    """
    N, H, V = len(ids), model.hidden_size, model.vocab_size
    dtype = model.dtype
    flat = model._flat
    probs = np.empty((N, V), dtype)
    states = np.empty((N, H), dtype)
    chunk = min(TRACE_CHUNK, N)
    work = np.empty(_kernels.trace_workspace_size(chunk, H, V), dtype)
    ids32 = np.ascontiguousarray(ids, dtype=np.int32)
    h0 = start_state(model)
    for lo in range(0, N, chunk):
        hi = min(lo + chunk, N)
        # Row slices of C-contiguous arrays are contiguous: the kernel
        # writes straight into the result.
        _kernels.trace(states[lo:hi], probs[lo:hi], work, flat, ids32[lo:hi], h0)
        h0 = states[hi - 1]
    return probs, states


def assemble(
    text: str,
    ids: np.ndarray,
    probs: np.ndarray,
    states: np.ndarray,
    cell: str,
    hidden_size: int,
    top_k: int = 5,
) -> Trace:
    """A :class:`Trace` from any network's per-step outputs.

    ``probs`` (N, V): row j the prediction of ids[j] (a kernel that writes
    the prediction *after* each step gives rows 0..N-2 of it; row 0 is then
    the start state's prediction).  ``states`` (N, L, S): the state of every
    layer after each step, S = H, or 2H for an LSTM laid out [h | c].
    """
    N, V = probs.shape
    if states.ndim != 3 or states.shape[0] != N:
        raise ValueError(f"states must have shape (N={N}, L, S), got {states.shape}")
    H = hidden_size
    k = min(top_k, V)
    # Stable sort of -p: equal probabilities keep the lower id first.
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    topk_probs = np.take_along_axis(probs, order, axis=1)
    prob = probs[np.arange(N), ids]
    layers = []
    for layer in range(states.shape[1]):
        entry = {"h": states[:, layer, :H]}
        if cell == "lstm":
            entry["c"] = states[:, layer, H : 2 * H]
        layers.append(entry)
    counted = prob[1:] if N > 1 else prob
    with np.errstate(divide="ignore"):
        nats = float(-np.log(counted.astype(np.float64)).mean())
    return Trace(
        text=text,
        ids=np.asarray(ids, np.int32),
        prob=prob,
        topk_ids=order.astype(np.int32),
        topk_probs=topk_probs,
        layers=layers,
        nats_per_char=nats,
        cell=cell,
    )
