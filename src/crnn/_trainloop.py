"""CharRNN's training loop (a mixin of crnn.model.CharRNN).

One iteration: every stream's next chunk (min-char-rnn's pointer rule,
crnn.data.chunk_start), forward and backward through the kernels, then the
optimizer's update with clipping fused into it.  The min-char-rnn setup
(one tanh layer, Adagrad, clipping by value) runs the fused C step instead,
which is exactly min-char-rnn.  A snapshot every SNAPSHOT_EVERY iterations
lets a diverged run roll back; a cancelled iteration (a stop request while a
long kernel call runs) leaves the model as it was before it.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np

from . import _kernels
from ._modelutil import RateMeter, burn_in_ids, check_int
from .data import TextOrIds, as_ids, chunk_start
from .errors import CorpusError, TrainingDivergedError

SNAPSHOT_EVERY = 100
# A loss per character above this many times an untrained model's (ln V) is
# divergence, as NaN is: no model learning its text is ever that far off.
DIVERGENCE_FACTOR = 5.0

Callback = Callable[[Any, dict], Optional[bool]]


class TrainingMixin:
    @property
    def divergence_limit(self) -> float:
        """Nats per character past which a loss counts as divergence:
        DIVERGENCE_FACTOR times an untrained model's ln V (at least 1)."""
        return DIVERGENCE_FACTOR * max(math.log(self.vocab_size), 1.0)

    def request_cancel(self) -> None:
        """Make the kernel call under way (and the iteration it belongs to)
        stop as soon as it can; ``train`` then returns.  Thread-safe."""
        self._cancel[0] = 1

    def train(self, text_or_ids: TextOrIds, iterations: int, callback: Optional[Callback] = None,
              callback_every: int = 1) -> int:
        """Train for ``iterations`` more iterations, continuing the model's own state.

        ``text_or_ids`` is a str or a 1-D array of ids (from
        ``crnn.data.encode_corpus``, or a memory map for corpora larger than
        memory).  ``callback(model, info)`` runs after every iteration whose
        number is a multiple of ``callback_every``; ``info`` holds iteration,
        loss, smooth_loss, chars_per_sec (since the previous callback) and
        elapsed (seconds in this call).  If it returns False, training stops.

        Returns the number of iterations done (fewer after a callback's
        False or :meth:`request_cancel`).  If the loss becomes NaN, infinite
        or larger than :attr:`divergence_limit`, the model is rolled back to
        its last good state (at most SNAPSHOT_EVERY iterations back) and
        TrainingDivergedError is raised.
        """
        iterations = check_int("iterations", iterations, 0)
        callback_every = check_int("callback_every", callback_every, 1)
        ids = as_ids(text_or_ids, self.vocab)
        segment = self._segment_length(len(ids))
        self._allocate_training_buffers()
        self._cancel[0] = 0
        if not self._take_snapshot():
            raise ValueError("the model's weights or optimizer state contain NaN or inf")
        meter = RateMeter(self.batch_size * self.seq_length, self._iteration)
        loss_limit = self.divergence_limit * self._seq_length  # nats per chunk
        done, loss = 0, 0.0
        while done < iterations:
            step = self._one_iteration(ids, segment)
            if step is None:  # cancelled: nothing changed
                break
            loss = step
            done += 1
            if not (loss <= loss_limit):  # also catches NaN
                self._roll_back(loss)
            self._iteration += 1
            self._smooth_loss = 0.999 * self._smooth_loss + 0.001 * loss
            if self._iteration % SNAPSHOT_EVERY == 0 and not self._take_snapshot():
                self._roll_back(loss)
            if callback is not None and self._iteration % callback_every == 0:
                info = meter.report(self._iteration, loss, self._smooth_loss)
                if callback(self, info) is False:
                    break
        if done:
            self._check_finite(loss)
            # The start state is read from stream 0's training state, which is
            # in the regime the trained network lives in (from zero, some
            # networks settle elsewhere and stay there).
            self._burn_in = burn_in_ids(ids, self.vocab)
            self._burn_in_from = self._state[:, :1].copy()
        return done

    def _one_iteration(self, ids: np.ndarray, segment: int) -> Optional[float]:
        """One training step; its loss, or None if it was cancelled."""
        lr = self.current_learning_rate
        if self._fused:
            self._fill_batch(ids, segment)
            self._optimizer.step_count += 1
            return _kernels.train_step(
                self._flat, self._optimizer.state["sum"], self._grads_flat, self._work,
                self._state[0], self._inputs, self._targets, lr, self._grad_clip,
                self._optimizer.settings["eps"], self._n_threads)
        before = (list(self._pointers), self._state.copy(), self._rng.bit_generator.state)
        self._fill_batch(ids, segment)
        masks = self._dropout_masks()
        self._grads_flat.fill(0.0)
        loss = self._engine.forward_backward(
            self._grads_flat, self._work, self._state, self._state_next, self._flat,
            self._inputs, self._targets, masks, self._cancel, self._n_threads)
        if loss is None:
            self._pointers, self._state[...], self._rng.bit_generator.state = before
            return None
        self._optimizer.step(self._flat, self._grads_flat, lr, clip=self._clip_mode,
                             clip_value=self._grad_clip)
        self._state[...] = self._state_next
        return loss

    def _dropout_masks(self) -> Optional[np.ndarray]:
        """Inverted dropout between layers: 0 or 1/(1-p), drawn from the model's generator."""
        p, net = self._network.dropout, self._network
        if p == 0 or net.num_layers == 1:
            return None
        shape = (net.num_layers - 1, self.seq_length, self.batch_size, net.hidden_size)
        keep = self._rng.random(shape) >= p
        return (keep / (1.0 - p)).astype(self._dtype)

    def _check_finite(self, loss: float) -> None:
        """Roll back and raise if an update left non-finite weights (the loss,
        computed before the update, can still be finite)."""
        if not self._finite():
            self._roll_back(loss)

    def _finite(self) -> bool:
        return bool(np.isfinite(self._flat).all()) and all(
            np.isfinite(b).all() for b in self._optimizer.state.values())

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
        if self._work is not None:
            return
        B, T, H, V = self.batch_size, self.seq_length, self.hidden_size, self.vocab_size
        if self._fused:
            size = _kernels.train_workspace_size(B, T, H, V)
        else:
            size = self._engine.train_workspace_size(B, T)
            self._state_next = np.empty_like(self._state)
        self._work = np.empty(size, self._dtype)
        self._grads_flat = np.zeros_like(self._flat)
        self._inputs = np.zeros((B, T), np.int32)
        self._targets = np.zeros((B, T), np.int32)

    def _fill_batch(self, ids: np.ndarray, segment: int) -> None:
        """Load the next chunk of every stream into inputs/targets (resetting
        a stream's state where min-char-rnn's pointer rule says so)."""
        T = self._seq_length
        for b, pointer in enumerate(self._pointers):
            p, reset = chunk_start(pointer, T, segment, first=self._iteration == 0)
            if reset:
                self._state[:, b] = 0.0
            start = b * segment + p
            self._inputs[b] = ids[start : start + T]
            self._targets[b] = ids[start + 1 : start + T + 1]
            self._pointers[b] = p + T

    def _take_snapshot(self) -> bool:
        """Copy the training state for a roll-back; False if it is not finite."""
        if not self._finite():
            return False
        if self._snapshot is None:
            self._snapshot = {"params": np.empty_like(self._flat),
                              "optimizer": {k: np.empty_like(v) for k, v in self._optimizer.state.items()}}
        snap = self._snapshot
        np.copyto(snap["params"], self._flat)
        for name, buffer in self._optimizer.state.items():
            np.copyto(snap["optimizer"][name], buffer)
        snap.update(state=self._state.copy(), pointers=list(self._pointers), iteration=self._iteration,
                    smooth_loss=self._smooth_loss, steps=self._optimizer.step_count,
                    rng=self._rng.bit_generator.state)
        return True

    def _roll_back(self, loss: float) -> None:
        """Restore the last snapshot and raise TrainingDivergedError."""
        bad_loss = not (loss / self._seq_length <= self.divergence_limit)
        diverged_at = self._iteration + (1 if bad_loss else 0)
        snap = self._snapshot
        np.copyto(self._flat, snap["params"])
        for name, buffer in self._optimizer.state.items():
            np.copyto(buffer, snap["optimizer"][name])
        self._state[...] = snap["state"]
        self._pointers = list(snap["pointers"])
        self._iteration = snap["iteration"]
        self._smooth_loss = snap["smooth_loss"]
        self._optimizer.step_count = snap["steps"]
        self._rng.bit_generator.state = snap["rng"]
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
            f"(now {self.learning_rate:g})",
            iteration=diverged_at, restored_iteration=self._iteration, what=what,
        )
