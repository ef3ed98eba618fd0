"""CharRNN: min-char-rnn's model, training loop, sampling and evaluation.

The numbers live in one flat buffer laid out as the kernels expect (see
``crnn._kernels``); ``model.params`` gives min-char-rnn-shaped views of it.
Every heavy step is one call into the C kernels; this module keeps the
bookkeeping: data pointers, hidden states, smooth loss, callbacks.
"""

from __future__ import annotations

import math
import numbers
import time
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from . import _kernels
from .data import TextOrIds, as_ids, chunk_start
from .errors import CorpusError, TrainingDivergedError, VocabError
from .vocab import Vocab

CLIP = 5.0  # gradients are clipped element-wise to [-CLIP, CLIP]
EPS = 1e-8  # Adagrad's epsilon
PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")
DTYPES = ("float32", "float64")

# A copy of the training state is kept every SNAPSHOT_EVERY iterations so a
# diverged run can be rolled back (two buffer copies per 100 steps: ~free).
SNAPSHOT_EVERY = 100
# A loss per character above this many times an untrained model's (ln V) is
# divergence, as NaN is: no model learning its text is ever that far off.
DIVERGENCE_FACTOR = 5.0
# The validation losses kept in the model (and its file) for curves; when
# full, every other entry is dropped, so the curve keeps its whole span.
VAL_HISTORY_MAX = 512
EVAL_CHUNK = 1024  # time steps per forward call when evaluating (at most)
# Multiply-adds per kernel call when evaluating or sampling (at most, but at
# least one step): keeps a stop request or Ctrl-C answered within a fraction
# of a second even for enormous networks.
MACS_PER_CALL = 2e8
# The start state that sampling and evaluation use is the hidden state after
# reading the last BURN_IN characters of the training text up to its last
# newline (see CharRNN.start_state).  Searched for in the last NEWLINE_WINDOW.
BURN_IN = 1000
NEWLINE_WINDOW = 1 << 16
SAMPLE_BLOCK = 256  # ids sampled per kernel call (and uniforms drawn per block)

Callback = Callable[["CharRNN", dict], Optional[bool]]


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _check_positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return float(value)


def _check_temperature(temperature: Any) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature must be a number, got {temperature!r}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(
            f"temperature must be >= 0 (0 = always the most likely character), got {temperature}"
        )
    return float(temperature)


def _check_dtype(dtype: Any) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dtype


class CharRNN:
    """A character-level vanilla RNN language model (Karpathy's min-char-rnn).

    ``batch_size`` B > 1 trains B streams at once: the corpus is cut into B
    contiguous segments, each stream has its own data pointer and hidden
    state, and the loss is summed over time and averaged over streams (so
    B = 1 is exactly min-char-rnn).  ``n_threads`` lets the kernels split
    the streams over threads.
    """

    def __init__(
        self,
        vocab: Vocab,
        hidden_size: int = 100,
        seq_length: int = 25,
        learning_rate: float = 0.1,
        batch_size: int = 1,
        dtype: Any = "float64",
        seed: Optional[int] = None,
        n_threads: int = 1,
    ) -> None:
        if not isinstance(vocab, Vocab):
            raise TypeError("vocab must be a crnn.Vocab (e.g. crnn.Vocab.from_text(text))")
        self._vocab = vocab
        self._hidden_size = _check_int("hidden_size", hidden_size, 1)
        self._seq_length = _check_int("seq_length", seq_length, 1)
        self._batch_size = _check_int("batch_size", batch_size, 1)
        self.learning_rate = learning_rate
        self.n_threads = n_threads
        self._dtype = _check_dtype(dtype)
        self._rng = np.random.default_rng(seed)

        H, V, B, T = self._hidden_size, len(vocab), self._batch_size, self._seq_length
        size = _kernels.param_count(H, V)
        self._flat = np.zeros(size, self._dtype)
        self._memory_flat = np.zeros(size, self._dtype)
        self._params = _kernels.param_views(self._flat, H, V)
        self._memory = _kernels.param_views(self._memory_flat, H, V)
        self._init_weights()

        # Training state (saved in model files; see crnn.io).
        self._iteration = 0
        self._smooth_loss = -math.log(1.0 / V) * T
        self._pointers = [0] * B
        self._h = np.zeros((B, H), self._dtype)
        # Where sampling and evaluation start: see start_state.  _burn_in
        # holds the ids it is computed from until it is needed.
        self._start_state = np.zeros((1, H), self._dtype)
        self._burn_in: Optional[np.ndarray] = None
        self.val_history = ValHistory()

        # Training buffers, allocated once on the first call to train().
        self._grads_flat: Optional[np.ndarray] = None
        self._work: Optional[np.ndarray] = None
        self._inputs: Optional[np.ndarray] = None
        self._targets: Optional[np.ndarray] = None
        self._snapshot: Optional[dict] = None

    def _init_weights(self) -> None:
        # min-char-rnn: weights N(0, 1) * 0.01 drawn in the order Wxh, Whh,
        # Why; biases zero.  Drawn in float64 so float32 models of the same
        # seed are the rounded float64 model.
        for name in ("Wxh", "Whh", "Why"):
            view = self._params[name]
            view[...] = self._rng.standard_normal(view.shape) * 0.01

    # ------------------------------------------------------------------
    # Properties

    @property
    def vocab(self) -> Vocab:
        return self._vocab

    @property
    def vocab_size(self) -> int:
        return len(self._vocab)

    @property
    def hidden_size(self) -> int:
        return self._hidden_size

    @property
    def seq_length(self) -> int:
        return self._seq_length

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def learning_rate(self) -> float:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = _check_positive_float("learning_rate", value)

    @property
    def n_threads(self) -> int:
        return self._n_threads

    @n_threads.setter
    def n_threads(self, value: int) -> None:
        self._n_threads = _check_int("n_threads", value, 1)

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Writable views of the weights: Wxh (H,V), Whh (H,H), Why (V,H), bh (H,), by (V,)."""
        return self._params

    @property
    def memory(self) -> dict[str, np.ndarray]:
        """Writable views of the Adagrad memory, with the keys and shapes of ``params``."""
        return self._memory

    @property
    def param_count(self) -> int:
        return self._flat.size

    @property
    def iteration(self) -> int:
        """Training iterations done so far (over the model's whole life)."""
        return self._iteration

    @property
    def smooth_loss(self) -> float:
        """Exponential moving average of the loss (nats per seq_length chars)."""
        return self._smooth_loss

    @property
    def divergence_limit(self) -> float:
        """Nats per character past which a loss counts as divergence:
        DIVERGENCE_FACTOR times an untrained model's ln V (at least 1)."""
        return DIVERGENCE_FACTOR * max(math.log(self.vocab_size), 1.0)

    @property
    def hidden_state(self) -> np.ndarray:
        """A copy of the training hidden states, shape (batch_size, hidden_size)."""
        return self._h.copy()

    @property
    def start_state(self) -> np.ndarray:
        """A copy of the hidden state (1, hidden_size) that sampling and evaluation start from.

        min-char-rnn resets its state only when an epoch starts, so a trained
        network has rarely seen a zero state, and some networks predict
        wildly from one.  So after training, the start state is the state
        reached by reading, from zero, the last characters of the training
        text up to its last newline: the network stands at the start of a
        line, as it often did in training.  It is saved in model files
        (format 1 files, which lack it, start from zeros as before).
        """
        self._settle_start_state()
        return self._start_state.copy()

    def _settle_start_state(self) -> None:
        """Compute the start state from the pending burn-in ids, if any."""
        if self._burn_in is None:
            return
        h = np.zeros((1, self.hidden_size), self._dtype)
        for _ in self._run_forward(self._burn_in, h, with_targets=False):
            pass
        self._start_state[...] = h
        self._burn_in = None

    def _first_state(self, warm_start: bool) -> np.ndarray:
        """A copy of the state a stream starts from: the training state of
        stream 0 with ``warm_start``, else the start state."""
        if warm_start:
            return self._h[:1].copy()
        return self.start_state

    @property
    def pointers(self) -> tuple[int, ...]:
        """Each stream's data pointer, relative to the start of its segment."""
        return tuple(self._pointers)

    def __repr__(self) -> str:
        return (
            f"CharRNN(vocab_size={self.vocab_size}, hidden_size={self.hidden_size}, "
            f"seq_length={self.seq_length}, learning_rate={self.learning_rate}, "
            f"batch_size={self.batch_size}, dtype='{self.dtype.name}', "
            f"iteration={self.iteration})"
        )

    # ------------------------------------------------------------------
    # min-char-rnn's lossFun

    def loss_and_grads(
        self, inputs: Sequence[int], targets: Sequence[int], h: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
        """Loss (nats, summed over the sequence), clipped gradients and last hidden state.

        ``inputs`` and ``targets`` are id sequences of equal length, ``h``
        the hidden state before the first input, shape (hidden_size,).
        The model is not changed.
        """
        inputs_2d = self._id_row(inputs, "inputs")
        targets_2d = self._id_row(targets, "targets")
        if inputs_2d.shape != targets_2d.shape:
            raise ValueError("inputs and targets must have the same length")
        h0 = np.array(h, dtype=self._dtype).reshape(1, -1)
        if h0.shape != (1, self.hidden_size):
            raise ValueError(f"h must have shape ({self.hidden_size},)")
        H, V, T = self.hidden_size, self.vocab_size, inputs_2d.shape[1]
        work = np.empty(_kernels.train_workspace_size(1, T, H, V), self._dtype)
        h_last = np.empty_like(h0)
        loss = _kernels.forward(work, h_last, self._flat, inputs_2d, targets_2d, h0)
        grads = np.zeros_like(self._flat)
        dh0 = np.empty_like(h0)
        _kernels.backward(grads, dh0, work, self._flat, inputs_2d, targets_2d)
        _kernels.clip(grads, CLIP)
        return loss, _kernels.param_views(grads, H, V), h_last[0]

    def _steps_per_call(self) -> int:
        """Time steps of one stream per forward or sampling call (see MACS_PER_CALL)."""
        H, V = self.hidden_size, self.vocab_size
        return max(1, int(MACS_PER_CALL // (H * H + V * H)))

    def _id_row(self, ids: Any, name: str) -> np.ndarray:
        """``ids`` as a (1, T) int32 array, checked against the vocabulary."""
        array = np.asarray(ids)
        if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "iu":
            raise ValueError(f"{name} must be a non-empty 1-D sequence of integer ids")
        if array.min() < 0 or array.max() >= self.vocab_size:
            raise VocabError(f"{name} must be ids in [0, {self.vocab_size})")
        return np.ascontiguousarray(array, dtype=np.int32).reshape(1, -1)

    # ------------------------------------------------------------------
    # Training

    def train(
        self,
        text_or_ids: TextOrIds,
        iterations: int,
        callback: Optional[Callback] = None,
        callback_every: int = 1,
    ) -> int:
        """Train for ``iterations`` more iterations, continuing the model's own state.

        ``text_or_ids`` is a str or a 1-D array of ids (from
        ``crnn.data.encode_corpus``, or a memory map from
        ``crnn.data.encode_file`` for corpora larger than memory).  ``callback(model, info)`` runs
        after every iteration whose number is a multiple of
        ``callback_every``; ``info`` holds iteration, loss, smooth_loss,
        chars_per_sec (since the previous callback) and elapsed (seconds in
        this call).  If it returns False, training stops.

        Returns the number of iterations done.  If the loss becomes NaN or
        infinite, the model is rolled back to its last good state (at most
        SNAPSHOT_EVERY iterations back) and TrainingDivergedError is raised.
        """
        iterations = _check_int("iterations", iterations, 0)
        callback_every = _check_int("callback_every", callback_every, 1)
        ids = as_ids(text_or_ids, self.vocab)
        segment = self._segment_length(len(ids))
        self._allocate_training_buffers()
        if not self._take_snapshot():
            raise ValueError("the model's weights or Adagrad memory contain NaN or inf")

        meter = _RateMeter(self.batch_size * self.seq_length, self._iteration)
        loss_limit = self.divergence_limit * self._seq_length  # nats per chunk
        for done in range(1, iterations + 1):
            self._fill_batch(ids, segment)
            loss = _kernels.train_step(
                self._flat, self._memory_flat, self._grads_flat, self._work, self._h,
                self._inputs, self._targets, self._learning_rate, CLIP, EPS, self._n_threads,
            )
            if not (loss <= loss_limit):  # also catches NaN
                self._roll_back(loss)
            self._iteration += 1
            self._smooth_loss = 0.999 * self._smooth_loss + 0.001 * loss
            if self._iteration % SNAPSHOT_EVERY == 0 and not self._take_snapshot():
                self._roll_back(loss)
            if callback is not None and self._iteration % callback_every == 0:
                info = meter.report(self._iteration, loss, self._smooth_loss)
                if callback(self, info) is False:
                    self._check_finite(loss)
                    self._burn_in = _burn_in_ids(ids, self.vocab)
                    return done
        if iterations:
            self._check_finite(loss)
            self._burn_in = _burn_in_ids(ids, self.vocab)
        return iterations

    def _check_finite(self, loss: float) -> None:
        """Roll back and raise if an update left non-finite weights (the loss,
        computed before the update, can still be finite)."""
        if not (np.isfinite(self._flat).all() and np.isfinite(self._memory_flat).all()):
            self._roll_back(loss)

    def _segment_length(self, n_chars: int) -> int:
        """Length of each stream's contiguous share of the corpus."""
        segment = n_chars // self.batch_size
        needed = self.batch_size * (self.seq_length + 1)
        if segment < self.seq_length + 1:
            raise CorpusError(
                f"the text has {n_chars} characters but training needs at least "
                f"{needed} (batch_size * (seq_length + 1)); give more text or "
                "lower seq_length / batch_size",
                kind="too_short",
            )
        return segment

    def _allocate_training_buffers(self) -> None:
        if self._work is None:
            B, T, H, V = self.batch_size, self.seq_length, self.hidden_size, self.vocab_size
            self._work = np.empty(_kernels.train_workspace_size(B, T, H, V), self._dtype)
            self._grads_flat = np.zeros_like(self._flat)
            self._inputs = np.zeros((B, T), np.int32)
            self._targets = np.zeros((B, T), np.int32)

    def _fill_batch(self, ids: np.ndarray, segment: int) -> None:
        """Load the next chunk of every stream into inputs/targets.

        min-char-rnn's pointer rule, per stream: back to the start of the
        segment (with a zero hidden state) when the chunk would run past it,
        and on the model's very first iteration.
        """
        T = self._seq_length
        for b, pointer in enumerate(self._pointers):
            p, reset = chunk_start(pointer, T, segment, first=self._iteration == 0)
            if reset:
                self._h[b] = 0.0
            start = b * segment + p
            self._inputs[b] = ids[start : start + T]
            self._targets[b] = ids[start + 1 : start + T + 1]
            self._pointers[b] = p + T

    def _take_snapshot(self) -> bool:
        """Copy the training state for a roll-back; False if it is not finite."""
        if not (np.isfinite(self._flat).all() and np.isfinite(self._memory_flat).all()):
            return False
        snap = self._snapshot
        if snap is None:
            snap = self._snapshot = {
                "params": np.empty_like(self._flat),
                "memory": np.empty_like(self._memory_flat),
                "h": np.empty_like(self._h),
            }
        np.copyto(snap["params"], self._flat)
        np.copyto(snap["memory"], self._memory_flat)
        np.copyto(snap["h"], self._h)
        snap["pointers"] = list(self._pointers)
        snap["iteration"] = self._iteration
        snap["smooth_loss"] = self._smooth_loss
        return True

    def _roll_back(self, loss: float) -> None:
        """Restore the last snapshot and raise TrainingDivergedError."""
        bad_loss = not (loss / self._seq_length <= self.divergence_limit)
        diverged_at = self._iteration + (1 if bad_loss else 0)
        snap = self._snapshot
        np.copyto(self._flat, snap["params"])
        np.copyto(self._memory_flat, snap["memory"])
        np.copyto(self._h, snap["h"])
        self._pointers = list(snap["pointers"])
        self._iteration = snap["iteration"]
        self._smooth_loss = snap["smooth_loss"]
        if not math.isfinite(loss):
            what = f"the loss became {loss}"
        elif bad_loss:
            what = (f"the loss rose to {loss / self._seq_length:.6g} nats/char, over "
                    f"{DIVERGENCE_FACTOR:g}x an untrained model's {math.log(self.vocab_size):.4g}")
        else:
            what = "the weights became NaN or inf"
        raise TrainingDivergedError(
            f"training diverged at iteration {diverged_at}: {what}. The model was "
            f"rolled back to iteration {self._iteration}; try a lower learning rate "
            f"(now {self._learning_rate:g})",
            iteration=diverged_at,
            restored_iteration=self._iteration,
            what=what,
        )

    # ------------------------------------------------------------------
    # Evaluation

    def evaluate(
        self, text_or_ids: TextOrIds, warm_start: bool = False,
        should_stop: Optional[Callable[[], bool]] = None,
    ) -> Optional[dict[str, float]]:
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
        h = self._first_state(warm_start)
        total = 0.0
        for chunk_loss in self._run_forward(ids, h, with_targets=True):
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

    def _run_forward(self, ids: np.ndarray, h: np.ndarray, with_targets: bool) -> Iterator[float]:
        """Feed ``ids`` (1-D) through the network in chunks, updating ``h`` (1, H) in place.

        With targets, ids[i+1] is the target of ids[i] (so len(ids) - 1
        steps run); without, every id is fed.  Yields each chunk's loss.
        """
        steps = len(ids) - 1 if with_targets else len(ids)
        H, V = self.hidden_size, self.vocab_size
        chunk = max(1, min(EVAL_CHUNK, self._steps_per_call(), steps))
        work = np.empty(_kernels.forward_workspace_size(1, chunk, H, V), self._dtype)
        h_next = np.empty_like(h)
        for start in range(0, steps, chunk):
            stop = min(start + chunk, steps)
            inputs = np.ascontiguousarray(ids[start:stop], dtype=np.int32).reshape(1, -1)
            targets = None
            if with_targets:
                targets = np.ascontiguousarray(ids[start + 1 : stop + 1], dtype=np.int32).reshape(1, -1)
            yield _kernels.forward(work, h_next, self._flat, inputs, targets, h, self._n_threads)
            h[...] = h_next

    # ------------------------------------------------------------------
    # Sampling

    def sample(
        self,
        n: int,
        prime: str = "",
        temperature: float = 1.0,
        seed: Optional[int] = None,
        warm_start: bool = False,
    ) -> str:
        """``n`` new characters generated after ``prime`` (the prime is not included).

        The prime is fed through the network first, starting from
        :attr:`start_state` (or, with ``warm_start``, from the training state
        of stream 0).  Without a prime the first character is drawn from the
        network's prediction from that state.  The same seed gives the same text; seed None uses
        fresh randomness (never the model's own generator, so sampling does
        not change training).  Temperature 0 always takes the most likely
        character.
        """
        args = self._check_sample_args(n, prime, temperature, seed, warm_start)
        return "".join(self._sample_blocks(*args))

    def generate(
        self,
        n: int,
        prime: str = "",
        temperature: float = 1.0,
        seed: Optional[int] = None,
        warm_start: bool = False,
    ) -> Iterator[str]:
        """Like :meth:`sample`, but yields the characters one at a time as they are made.

        ``''.join(model.generate(n, ...)) == model.sample(n, ...)`` for the same seed.
        """
        blocks = self._sample_blocks(*self._check_sample_args(n, prime, temperature, seed, warm_start))
        return (char for block in blocks for char in block)

    def _check_sample_args(self, n: Any, prime: Any, temperature: Any, seed: Any, warm_start: bool) -> tuple:
        n = _check_int("n", n, 0)
        if not isinstance(prime, str):
            raise TypeError(f"prime must be a str, got {type(prime).__name__}")
        prime_ids = self.vocab.encode(prime)  # VocabError naming unknown chars
        h = self._first_state(warm_start)
        return n, prime_ids, _check_temperature(temperature), np.random.default_rng(seed), h

    def _sample_blocks(
        self, n: int, prime_ids: np.ndarray, temperature: float, rng: np.random.Generator, h: np.ndarray
    ) -> Iterator[str]:
        # Everything mutable is local to this call (h is a copy), so threads
        # may sample from one model at once.  Uniforms come from rng in
        # order, so the block size does not change the text.
        if n == 0:
            return
        if len(prime_ids):
            for _ in self._run_forward(prime_ids[:-1], h, with_targets=False):
                pass
            x = int(prime_ids[-1])
        else:
            x = self._first_id(h[0], rng.random(), temperature)
            yield self.vocab.decode([x])
            n -= 1
        work = np.empty(_kernels.sample_workspace_size(self.hidden_size, self.vocab_size), self._dtype)
        state = h[0]
        while n > 0:
            out = np.empty(min(SAMPLE_BLOCK, self._steps_per_call(), n), np.int32)
            _kernels.sample(out, state, work, self._flat, x, rng.random(out.size), temperature)
            yield self.vocab.decode(out)
            x = int(out[-1])
            n -= out.size

    def _first_id(self, h: np.ndarray, u: float, temperature: float) -> int:
        """Draw an id from softmax((Why h + by) / temperature) by inverse CDF, as the kernel does."""
        logits = self._params["Why"].astype(np.float64) @ h + self._params["by"]
        if temperature == 0:
            return int(np.argmax(logits))
        z = logits / temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        # If rounding leaves u beyond the total, take the last possible id.
        last = int(np.flatnonzero(p > 0)[-1])
        return int(min(np.searchsorted(np.cumsum(p), u, side="right"), last))

    # ------------------------------------------------------------------
    # Looking inside

    def trace(self, text: str, top_k: int = 5) -> Any:
        """What the model predicts and what its hidden state holds at every
        character of ``text``, from the state ``sample`` and ``evaluate``
        start from: a :class:`crnn.viz.Trace` with ``prob`` (N,), ``topk_ids``
        and ``topk_probs`` (N, top_k), ``layers`` [{"h": (N, H)}] and
        ``nats_per_char`` (see :func:`crnn.viz.trace`)."""
        from .viz.trace import trace

        return trace(self, text, top_k)

    # ------------------------------------------------------------------
    # Saving and restoring

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
            "hidden": self._h,
            "start_state": self.start_state,
            "rng_state": self._rng.bit_generator.state,
        }

    def _set_state(
        self, iteration: int, smooth_loss: float, pointers: Sequence[int], hidden: np.ndarray,
        rng_state: dict, start_state: Optional[np.ndarray] = None,
    ) -> None:
        self._rng.bit_generator.state = rng_state
        self._start_state[...] = 0.0 if start_state is None else start_state
        self._burn_in = None
        self._iteration = int(iteration)
        self._smooth_loss = float(smooth_loss)
        self._pointers = [int(p) for p in pointers]
        self._h[...] = hidden
        self._snapshot = None


def _burn_in_ids(ids: np.ndarray, vocab: Vocab) -> np.ndarray:
    """The ids the start state is read from: the last BURN_IN ids of the text
    up to and including its last newline (the whole tail if the last
    NEWLINE_WINDOW ids hold none), as an int32 copy."""
    tail = np.asarray(ids[-NEWLINE_WINDOW:])
    end = len(tail)
    if "\n" in vocab:
        newlines = np.flatnonzero(tail == int(vocab.encode("\n")[0]))
        if len(newlines):
            end = int(newlines[-1]) + 1
    return np.array(tail[max(0, end - BURN_IN) : end], dtype=np.int32)


class ValHistory(list):
    """(iteration, validation nats/char) pairs, at most VAL_HISTORY_MAX: when
    full, every other entry is dropped (the first and the newest stay)."""

    def append(self, item: tuple) -> None:
        iteration, loss = item
        super().append((int(iteration), float(loss)))
        if len(self) > VAL_HISTORY_MAX:
            self[:] = self[:-1:2] + self[-1:]


class _RateMeter:
    """Builds the callback's info dict, measuring chars/s between calls."""

    def __init__(self, chars_per_iteration: int, iteration: int) -> None:
        self._chars_per_iteration = chars_per_iteration
        self._start = self._last_time = time.perf_counter()
        self._last_iteration = iteration

    def report(self, iteration: int, loss: float, smooth_loss: float) -> dict:
        now = time.perf_counter()
        chars = (iteration - self._last_iteration) * self._chars_per_iteration
        elapsed = now - self._last_time
        rate = chars / elapsed if elapsed > 0 else float("inf")
        self._last_time, self._last_iteration = now, iteration
        return {
            "iteration": iteration,
            "loss": loss,
            "smooth_loss": smooth_loss,
            "chars_per_sec": rate,
            "elapsed": now - self._start,
        }
