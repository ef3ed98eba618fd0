"""CharRNN: a character-level language model, its training, sampling and evaluation.

The network is described once (crnn.network: cell, layers, sizes); its
numbers live in one flat buffer laid out as the kernels expect, and
``model.params`` gives named views of it (min-char-rnn's Wxh, Whh, Why, bh,
by for the default network).  The optimizer (crnn.optim) is a named update
over that buffer with state buffers of its own.  Every heavy step is one
call into the C kernels (crnn.engine); this module keeps the bookkeeping.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from . import _kernels, netparams, optim, schedules
from ._modelutil import (
    BURN_IN, DTYPES, VAL_HISTORY_MAX, ValHistory, check_dtype, check_int, check_positive_float,
    check_temperature,
)
from ._trainloop import DIVERGENCE_FACTOR, SNAPSHOT_EVERY, TrainingMixin
from .data import TextOrIds, as_ids
from .engine import Engine
from .errors import CorpusError, OptimizerError, VocabError
from .network import Network
from .vocab import Vocab

__all__ = ["BURN_IN", "CharRNN", "DIVERGENCE_FACTOR", "DTYPES", "SNAPSHOT_EVERY", "VAL_HISTORY_MAX"]

CLIP = 5.0  # min-char-rnn clips every gradient element to [-5, 5]
PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")
EVAL_CHUNK = 1024  # time steps per forward call when evaluating (at most)
# Multiply-adds per kernel call when evaluating or sampling (at most, but at
# least one step): keeps a stop request or Ctrl-C answered within a fraction
# of a second even for enormous networks.
MACS_PER_CALL = 2e8
SAMPLE_BLOCK = 256  # ids sampled per kernel call (and uniforms drawn per block)
DEFAULT = object()  # "not given": the optimizer's own default


class CharRNN(TrainingMixin):
    """A character-level recurrent language model.

    The default is Karpathy's min-char-rnn exactly: one tanh layer of 100
    units, seq_length 25, Adagrad 0.1, gradients clipped to [-5, 5].
    ``cell`` "lstm" or "gru" (PyTorch's equations), ``num_layers``,
    ``dropout`` (between layers), ``optimizer`` ("adagrad", "adam",
    "adamw", "rmsprop", "sgd", with ``optimizer_settings`` as in
    torch.optim), ``grad_clip`` with ``clip_mode`` ("value", "norm",
    "none"; default "value" for Adagrad, "norm" otherwise) and
    ``lr_schedule`` (a crnn.schedules spec) choose other models.
    ``batch_size`` B > 1 trains B streams at once, each on its own
    contiguous segment of the text; the loss is summed over time and
    averaged over streams.  ``n_threads`` lets the kernels use threads.
    """

    def __init__(
        self, vocab: Vocab, hidden_size: int = 100, seq_length: int = 25,
        learning_rate: Any = None, batch_size: int = 1, dtype: Any = "float64",
        seed: Optional[int] = None, n_threads: int = 1, *, cell: str = "rnn",
        num_layers: int = 1, dropout: float = 0.0, init: Optional[str] = None,
        optimizer: str = "adagrad", optimizer_settings: Optional[dict] = None,
        grad_clip: Any = DEFAULT, clip_mode: Optional[str] = None, lr_schedule: Any = None,
    ) -> None:
        if not isinstance(vocab, Vocab):
            raise TypeError("vocab must be a crnn.Vocab (e.g. crnn.Vocab.from_text(text))")
        self._vocab = vocab
        self._network = Network(cell, check_int("num_layers", num_layers, 1),
                                check_int("hidden_size", hidden_size, 1), len(vocab),
                                float(dropout), init)
        self._seq_length = check_int("seq_length", seq_length, 1)
        self._batch_size = check_int("batch_size", batch_size, 1)
        self.n_threads = n_threads
        self._dtype = check_dtype(dtype)
        self._rng = np.random.default_rng(seed)
        self._engine = Engine(self._network)
        self._flat = self._network.initial_params(self._rng, self._dtype)
        self._params = self._network.views(self._flat)
        self._set_optimizer(optimizer, optimizer_settings or {}, grad_clip, clip_mode)
        self.learning_rate = self._optimizer.default_lr if learning_rate is None else learning_rate
        self.lr_schedule = lr_schedule

        # Training state (saved in model files; see crnn.io).
        L, B, S = self._network.num_layers, self._batch_size, self._network.state_width
        self._iteration = 0
        self._smooth_loss = -math.log(1.0 / len(vocab)) * self._seq_length
        self._pointers = [0] * B
        self._state = np.zeros((L, B, S), self._dtype)
        # Where sampling and evaluation start (see start_state); _burn_in
        # holds the ids it is computed from until it is needed.
        self._start_state = np.zeros((L, S), self._dtype)
        self._burn_in: Optional[np.ndarray] = None
        self.val_history = ValHistory()
        self.preset: Optional[str] = None  # the crnn train --preset it came from, if any
        self._cancel = np.zeros(1, np.int32)  # polled by the kernels; see request_cancel

        # Training buffers, allocated once on the first call to train().
        self._grads_flat = self._work = self._inputs = self._targets = None
        self._snapshot: Optional[dict] = None

    def _set_optimizer(self, name: str, settings: dict, grad_clip: Any, clip_mode: Optional[str]) -> None:
        self._optimizer = optim.make_optimizer(name, self._flat.size, self._dtype, **settings)
        if clip_mode is None:
            clip_mode = "value" if self._optimizer.name == "adagrad" else "norm"
        if grad_clip is DEFAULT:
            grad_clip = CLIP
        if grad_clip is None:
            clip_mode = "none"
        optim.clip_gradients(np.zeros(1, self._dtype), clip_mode, grad_clip)  # checks both
        self._clip_mode = clip_mode
        self._grad_clip = None if clip_mode == "none" else float(grad_clip)
        self._fused = (self._engine.fused_step_ok(self._batch_size, self._seq_length)
                       and self._optimizer.name == "adagrad" and clip_mode == "value")

    # ------------------------------------------------------------------
    # Properties

    vocab = property(lambda self: self._vocab)
    vocab_size = property(lambda self: len(self._vocab))
    network = property(lambda self: self._network, doc="The crnn.network.Network description.")
    cell = property(lambda self: self._network.cell)
    num_layers = property(lambda self: self._network.num_layers)
    hidden_size = property(lambda self: self._network.hidden_size)
    dropout = property(lambda self: self._network.dropout)
    seq_length = property(lambda self: self._seq_length)
    batch_size = property(lambda self: self._batch_size)
    dtype = property(lambda self: self._dtype)
    optimizer = property(lambda self: self._optimizer, doc="The crnn.optim.Optimizer (state inside).")
    grad_clip = property(lambda self: self._grad_clip)
    clip_mode = property(lambda self: self._clip_mode)
    param_count = property(lambda self: self._flat.size)
    iteration = property(lambda self: self._iteration,
                         doc="Training iterations done so far (over the model's whole life).")
    smooth_loss = property(lambda self: self._smooth_loss,
                           doc="Moving average of the loss (nats per seq_length chars).")
    params = property(lambda self: self._params, doc="Writable named views of the weights.")

    @property
    def learning_rate(self) -> float:
        """The base learning rate (the schedule scales it; see current_learning_rate)."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = check_positive_float("learning_rate", value)

    @property
    def lr_schedule(self) -> schedules.Schedule:
        return self._lr_schedule

    @lr_schedule.setter
    def lr_schedule(self, spec: Any) -> None:
        if spec is None:
            spec = schedules.Constant()
        elif isinstance(spec, (dict, str)):
            spec = schedules.from_json(spec)
        if not isinstance(spec, schedules.Schedule):
            raise OptimizerError(f"lr_schedule must be a crnn.schedules spec, got {spec!r}")
        self._lr_schedule = spec

    @property
    def current_learning_rate(self) -> float:
        """The rate the next iteration uses: the schedule at the model's iteration."""
        return self._lr_schedule.lr(self._learning_rate, self._iteration)

    @property
    def n_threads(self) -> int:
        return self._n_threads

    @n_threads.setter
    def n_threads(self, value: int) -> None:
        self._n_threads = check_int("n_threads", value, 1)

    @property
    def memory(self) -> dict[str, np.ndarray]:
        """Adagrad's memory as views shaped like ``params`` (Adagrad models only)."""
        if self._optimizer.name != "adagrad":
            raise AttributeError(f"memory is Adagrad's; this model uses {self._optimizer.name} "
                                 "(see model.optimizer.state)")
        return self._network.views(self._optimizer.state["sum"])

    @property
    def hidden_state(self) -> np.ndarray:
        """A copy of the top layer's training h, shape (batch_size, hidden_size)."""
        return self._state[-1, :, : self.hidden_size].copy()

    @property
    def training_state(self) -> np.ndarray:
        """A copy of every stream's state, (num_layers, batch_size, state_width)."""
        return self._state.copy()

    @property
    def start_state(self) -> np.ndarray:
        """A copy of the state (num_layers, state_width) that sampling and
        evaluation start from: after training, the state reached by reading
        the last characters of the training text up to its last newline,
        starting from stream 0's training state (min-char-rnn resets its state
        only at an epoch's start, so a trained network has rarely seen a zero
        state, and some predict wildly from one, or settle from one into a
        regime training never saw).  Saved in model files; format 1 files
        start from zeros."""
        self._settle_start_state()
        return self._start_state.copy()

    def _settle_start_state(self) -> None:
        if self._burn_in is None:
            return
        state = self._burn_in_from.copy()
        for _ in self._run_forward(self._burn_in, state, with_targets=False):
            pass
        self._start_state[...] = state[:, 0]
        self._burn_in = None

    def _first_state(self, warm_start: bool) -> np.ndarray:
        """A copy (L, 1, S) of the state a stream starts from: the training
        state of stream 0 with ``warm_start``, else the start state."""
        if warm_start:
            return self._state[:, :1].copy()
        return self.start_state[:, None, :]

    @property
    def pointers(self) -> tuple[int, ...]:
        """Each stream's data pointer, relative to the start of its segment."""
        return tuple(self._pointers)

    def __repr__(self) -> str:
        net = "" if self._network.is_min_char_rnn else \
            f"cell='{self.cell}', num_layers={self.num_layers}, "
        return (f"CharRNN({net}vocab_size={self.vocab_size}, hidden_size={self.hidden_size}, "
                f"seq_length={self.seq_length}, learning_rate={self.learning_rate}, "
                f"batch_size={self.batch_size}, dtype='{self.dtype.name}', "
                f"iteration={self.iteration})")

    # ------------------------------------------------------------------
    # min-char-rnn's lossFun

    def loss_and_grads(self, inputs: Sequence[int], targets: Sequence[int],
                       h: np.ndarray) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
        """min-char-rnn's lossFun (its network only): loss (nats, summed over
        the sequence), clipped gradients and last hidden state.  ``h`` is the
        state before the first input, shape (hidden_size,).  The model is
        not changed."""
        if not self._network.is_min_char_rnn:
            raise ValueError("loss_and_grads is min-char-rnn's lossFun: one tanh layer only")
        inputs_2d, targets_2d = self._id_row(inputs, "inputs"), self._id_row(targets, "targets")
        if inputs_2d.shape != targets_2d.shape:
            raise ValueError("inputs and targets must have the same length")
        h0 = np.array(h, dtype=self._dtype).reshape(1, -1)
        if h0.shape != (1, self.hidden_size):
            raise ValueError(f"h must have shape ({self.hidden_size},)")
        H, V, T = self.hidden_size, self.vocab_size, inputs_2d.shape[1]
        work = np.empty(_kernels.train_workspace_size(1, T, H, V), self._dtype)
        h_last, dh0 = np.empty_like(h0), np.empty_like(h0)
        loss = _kernels.forward(work, h_last, self._flat, inputs_2d, targets_2d, h0)
        grads = np.zeros_like(self._flat)
        _kernels.backward(grads, dh0, work, self._flat, inputs_2d, targets_2d)
        _kernels.clip(grads, CLIP)
        return loss, self._network.views(grads), h_last[0]

    def _steps_per_call(self) -> int:
        """Time steps of one stream per forward or sampling call (see MACS_PER_CALL)."""
        per_step = self._flat.size + self.num_layers * self.hidden_size * self.hidden_size
        return max(1, int(MACS_PER_CALL // per_step))

    def _id_row(self, ids: Any, name: str) -> np.ndarray:
        """``ids`` as a (1, T) int32 array, checked against the vocabulary."""
        array = np.asarray(ids)
        if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "iu":
            raise ValueError(f"{name} must be a non-empty 1-D sequence of integer ids")
        if array.min() < 0 or array.max() >= self.vocab_size:
            raise VocabError(f"{name} must be ids in [0, {self.vocab_size})")
        return np.ascontiguousarray(array, dtype=np.int32).reshape(1, -1)

    # ------------------------------------------------------------------
    # Evaluation

    def evaluate(self, text_or_ids: TextOrIds, warm_start: bool = False,
                 should_stop: Optional[Callable[[], bool]] = None) -> Optional[dict[str, float]]:
        """How well the model predicts ``text_or_ids``, read as one stream.

        The stream starts from :attr:`start_state` (where ``crnn sample``
        and ``crnn eval`` start), or with ``warm_start`` from the training
        state of stream 0.  Returns nats_per_char, bits_per_char, perplexity
        and chars (the number of predicted characters: the length minus
        one).  The model is not changed.  ``should_stop``, if given, is asked
        between pieces of the text; if it returns True, evaluation stops and
        None is returned.
        """
        ids = as_ids(text_or_ids, self.vocab)
        if len(ids) < 2:
            raise CorpusError("evaluation needs a text of at least 2 characters", kind="too_short")
        state = self._first_state(warm_start)
        total = 0.0
        for chunk_loss in self._run_forward(ids, state, with_targets=True):
            total += chunk_loss
            if should_stop is not None and should_stop():
                return None
        chars = len(ids) - 1
        nats = total / chars
        return {
            "nats_per_char": nats,
            "bits_per_char": nats / math.log(2),
            "perplexity": math.exp(nats) if nats < 709.78 else math.inf,  # exp overflows past ~709.78
            "chars": chars,
        }

    def _run_forward(self, ids: np.ndarray, state: np.ndarray, with_targets: bool) -> Iterator[float]:
        """Feed ``ids`` (1-D) through the network in chunks, updating ``state``
        (L, 1, S) in place.  With targets, ids[i+1] is the target of ids[i]
        (len(ids) - 1 steps run); without, every id is fed.  Yields each
        chunk's loss."""
        steps = len(ids) - 1 if with_targets else len(ids)
        chunk = max(1, min(EVAL_CHUNK, self._steps_per_call(), steps))
        work = np.empty(self._engine.forward_workspace_size(chunk), self._dtype)
        state_next = np.empty_like(state)
        for start in range(0, steps, chunk):
            stop = min(start + chunk, steps)
            inputs = np.ascontiguousarray(ids[start:stop], dtype=np.int32).reshape(1, -1)
            targets = None
            if with_targets:
                targets = np.ascontiguousarray(ids[start + 1 : stop + 1], dtype=np.int32).reshape(1, -1)
            yield self._engine.forward(work, state_next, self._flat, inputs, targets, state,
                                       self._n_threads)
            state[...] = state_next

    # ------------------------------------------------------------------
    # Sampling

    def sample(self, n: int, prime: str = "", temperature: float = 1.0, seed: Optional[int] = None,
               warm_start: bool = False) -> str:
        """``n`` new characters generated after ``prime`` (the prime is not included).

        The prime is fed through the network first, starting from
        :attr:`start_state` (or, with ``warm_start``, from the training state
        of stream 0).  Without a prime the first character is drawn from the
        network's prediction from that state.  The same seed gives the same
        text; seed None uses fresh randomness (never the model's own
        generator, so sampling does not change training).  Temperature 0
        always takes the most likely character.
        """
        args = self._check_sample_args(n, prime, temperature, seed, warm_start)
        return "".join(self._sample_blocks(*args))

    def generate(self, n: int, prime: str = "", temperature: float = 1.0,
                 seed: Optional[int] = None, warm_start: bool = False) -> Iterator[str]:
        """Like :meth:`sample`, but yields the characters one at a time as they are made.

        ``''.join(model.generate(n, ...)) == model.sample(n, ...)`` for the same seed.
        """
        blocks = self._sample_blocks(*self._check_sample_args(n, prime, temperature, seed, warm_start))
        return (char for block in blocks for char in block)

    def _check_sample_args(self, n: Any, prime: Any, temperature: Any, seed: Any, warm_start: bool) -> tuple:
        n = check_int("n", n, 0)
        if not isinstance(prime, str):
            raise TypeError(f"prime must be a str, got {type(prime).__name__}")
        prime_ids = self.vocab.encode(prime)  # VocabError naming unknown chars
        state = self._first_state(warm_start)
        return n, prime_ids, check_temperature(temperature), np.random.default_rng(seed), state

    def _sample_blocks(self, n: int, prime_ids: np.ndarray, temperature: float,
                       rng: np.random.Generator, state: np.ndarray) -> Iterator[str]:
        # Everything mutable is local to this call (state is a copy), so
        # threads may sample from one model at once.  Uniforms come from rng
        # in order, so the block size does not change the text.
        if n == 0:
            return
        if len(prime_ids):
            for _ in self._run_forward(prime_ids[:-1], state, with_targets=False):
                pass
            x = int(prime_ids[-1])
        else:
            x = self._first_id(state[-1, 0, : self.hidden_size], rng.random(), temperature)
            yield self.vocab.decode([x])
            n -= 1
        work = np.empty(self._engine.sample_workspace_size(), self._dtype)
        while n > 0:
            out = np.empty(min(SAMPLE_BLOCK, self._steps_per_call(), n), np.int32)
            self._engine.sample(out, state, work, self._flat, x, rng.random(out.size), temperature)
            yield self.vocab.decode(out)
            x = int(out[-1])
            n -= out.size

    def _first_id(self, h: np.ndarray, u: float, temperature: float) -> int:
        """Draw an id from softmax((W_out h + b_out) / temperature) by inverse CDF, as the kernel does."""
        logits = self._first_logits(h)
        if temperature == 0:
            return int(np.argmax(logits))
        z = logits / temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        # If rounding leaves u beyond the total, take the last possible id.
        last = int(np.flatnonzero(p > 0)[-1])
        return int(min(np.searchsorted(np.cumsum(p), u, side="right"), last))

    def _first_logits(self, h: np.ndarray) -> np.ndarray:
        """W_out h + b_out in float64: the prediction from a top-layer h."""
        views = netparams.views(self._flat, self.cell, self.num_layers, self.hidden_size, self.vocab_size)
        return views["weight_out"].astype(np.float64) @ h + views["bias_out"]

    # ------------------------------------------------------------------
    # Looking inside, and PyTorch

    def trace(self, text: str, top_k: int = 5) -> Any:
        """What the model predicts and what its state holds at every character
        of ``text``, from the state ``sample`` and ``evaluate`` start from: a
        :class:`crnn.viz.Trace` with ``prob`` (N,), ``topk_ids`` and
        ``topk_probs`` (N, top_k), ``layers`` [{"h": (N, H)} (and "c" for the
        LSTM) per layer] and ``nats_per_char`` (see :func:`crnn.viz.trace`)."""
        from .viz.trace import trace

        return trace(self, text, top_k)

    def to_torch_state_dict(self) -> dict[str, np.ndarray]:
        """The weights as NumPy arrays under the keys of a PyTorch module with
        ``rnn = nn.LSTM(V, H, L)`` (or nn.GRU, nn.RNN) and ``out = nn.Linear(H, V)``:
        "rnn.weight_ih_l0" (G*H, V), ..., "out.weight", "out.bias".  The rnn
        cell's one bias is bias_ih; its bias_hh is zeros."""
        return self._network.to_torch_state_dict(self._flat)

    @classmethod
    def from_torch_state_dict(cls, state_dict: Any, vocab: Vocab, cell: str = "rnn",
                              **options: Any) -> "CharRNN":
        """A model whose weights come from such a state dict (arrays that
        np.asarray accepts; for a torch tensor pass ``.numpy()``).  The sizes
        come from the dict; ``options`` as for CharRNN.  For the rnn cell,
        bias_ih + bias_hh becomes its one bias."""
        sd = dict(state_dict)
        layers = sum(1 for key in sd if key.startswith("rnn.weight_hh_l"))
        if layers == 0 or "rnn.weight_hh_l0" not in sd:
            raise ValueError("the state dict has no 'rnn.weight_hh_l0': expected the keys of "
                             "rnn = nn.LSTM/GRU/RNN(V, H, L) and out = nn.Linear(H, V)")
        hidden = int(np.shape(sd["rnn.weight_hh_l0"])[1])
        model = cls(vocab, hidden_size=hidden, cell=cell, num_layers=layers, **options)
        model._flat[...] = model._network.flat_from_torch_state_dict(sd, model.dtype)
        return model

    # ------------------------------------------------------------------
    # Saving and restoring (crnn.io)

    def save(self, path: Any) -> None:
        """Write the model atomically to ``path`` (.npz); see :func:`crnn.io.save`."""
        from .io import save

        save(self, path)

    def _get_state(self) -> dict[str, Any]:
        """Everything crnn.io stores besides the vocabulary and weights."""
        return {
            "iteration": self._iteration,
            "smooth_loss": self._smooth_loss,
            "pointers": list(self._pointers),
            "state": self._state,
            "start_state": self.start_state,
            "rng_state": self._rng.bit_generator.state,
        }

    def _set_state(self, iteration: int, smooth_loss: float, pointers: Sequence[int],
                   state: np.ndarray, rng_state: dict,
                   start_state: Optional[np.ndarray] = None) -> None:
        self._rng.bit_generator.state = rng_state
        self._start_state[...] = 0.0 if start_state is None else start_state
        self._burn_in = None
        self._iteration = int(iteration)
        self._smooth_loss = float(smooth_loss)
        self._pointers = [int(p) for p in pointers]
        self._state[...] = state
        self._snapshot = None
