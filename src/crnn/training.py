"""crnn.Trainer: one training run as a library object.

A Trainer owns what a run needs beyond ``model.train``: the train/validation
split, limits (iterations, epochs, time), atomic checkpoints that are
validated before they are written, the best-validation model kept beside
the latest one, divergence, and a stop request that a signal handler or
another thread may make.  It prints nothing: it reports through a callback
(and the ``crnn.training`` logger).  ``crnn train`` is this class plus
option parsing and formatting.

    trainer = crnn.Trainer(model, text, val_fraction=0.1, checkpoint="m.npz")
    history = trainer.run(iterations=300_000, time_limit=600, callback=report)
    history.val_loss        # one entry per checkpoint, nats/char
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from . import io as _io
from .data import TextOrIds, as_ids
from .errors import CheckpointError, CorpusError, TrainingDivergedError
from .model import DIVERGENCE_FACTOR, CharRNN

log = logging.getLogger(__name__)

DEFAULT_CHECKPOINT_EVERY = 10_000
# Iterations per model.train call when nothing else pauses the run (the
# stop request and the clock are checked after every iteration regardless).
MAX_CHUNK = 10_000
# Validation scores at most this many held-out characters: a 10% tail of a
# 1 GB corpus would take longer to score than the training between two
# checkpoints.
VAL_MAX_CHARS = 1_000_000
SAMPLE_LENGTH = 200


@dataclass
class Event:
    """What the callback is told.  ``kind`` is "progress" (after every
    iteration), "checkpoint" (after validating and saving) or "sample".
    Losses are in nats per character."""

    kind: str
    iteration: int
    loss: Optional[float] = None
    smooth_loss: Optional[float] = None
    chars_per_sec: Optional[float] = None
    val_loss: Optional[float] = None
    val_bits: Optional[float] = None
    saved: Optional[str] = None  # the checkpoint path written, if any
    best: bool = False  # this checkpoint is the best validation so far
    text: Optional[str] = None  # the sample, for "sample"


@dataclass
class History:
    """The record of a run: validation at each checkpoint, and how it ended."""

    start_iteration: int
    end_iteration: int = 0
    checkpoint_iterations: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)  # nats/char, one per validated checkpoint
    best_iteration: Optional[int] = None
    best_val_loss: Optional[float] = None
    stop_reason: Optional[str] = None  # "done", "time" or "stopped"
    seconds: float = 0.0


Callback = Callable[["Trainer", Event], Any]


def best_path_for(checkpoint: str) -> str:
    """``m.npz`` -> ``m.best.npz``: where the best-validation model is kept."""
    root, ext = os.path.splitext(checkpoint)
    return f"{root}.best{ext or '.npz'}"


def split_validation(ids: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(training ids, held-out ids): the held-out part is the last ``fraction``."""
    held = int(len(ids) * fraction)
    if held < 2:  # too little to evaluate: train on everything
        held = 0
    return ids[: len(ids) - held], ids[len(ids) - held :]


class Trainer:
    """One training run of ``model`` on ``text_or_ids``.

    ``val_fraction`` of the text's end is held out for validation (or pass
    ``val_text``).  With ``checkpoint`` a path, the model is saved there every
    ``checkpoint_every`` iterations and at the end, each time after its
    validation loss proved finite and sane (weights that diverged are never
    written over a good checkpoint); with ``keep_best`` the checkpoint with
    the lowest validation loss is also kept at ``best_checkpoint`` (default
    ``best_path_for(checkpoint)``).  ``sample_every`` reports a short sample.
    """

    def __init__(
        self, model: Any, text_or_ids: TextOrIds, *, val_fraction: float = 0.1,
        val_text: Optional[TextOrIds] = None, checkpoint: Optional[str] = None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY, keep_best: bool = True,
        best_checkpoint: Optional[str] = None, sample_every: Optional[int] = None,
        val_max_chars: int = VAL_MAX_CHARS,
    ) -> None:
        if not 0 <= val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        if checkpoint_every < 1 or (sample_every is not None and sample_every < 1):
            raise ValueError("checkpoint_every and sample_every must be at least 1")
        self.model = model
        ids = as_ids(text_or_ids, model.vocab)
        if val_text is not None:
            self.train_ids, self.val_ids = ids, as_ids(val_text, model.vocab)
        else:
            self.train_ids, self.val_ids = split_validation(ids, val_fraction)
        self.val_ids = self.val_ids[:val_max_chars]
        self._check_length()
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        self.best_checkpoint = best_checkpoint
        if keep_best and self.checkpoint is not None and best_checkpoint is None:
            self.best_checkpoint = best_path_for(self.checkpoint)
        self.checkpoint_every = checkpoint_every
        self.sample_every = sample_every
        self.saved_iteration: Optional[int] = None  # the last checkpoint written
        self._validated_iteration: Optional[int] = None  # the last one validated
        self._stop = threading.Event()
        self.history = History(start_iteration=model.iteration)
        self._continue_best()

    def _continue_best(self) -> None:
        """A resumed run keeps the best model so far, if its file is still there
        (the model's val_history knows its loss), and clears what killed saves
        of either file left behind."""
        for path in (self.checkpoint, self.best_checkpoint):
            if path is not None and os.path.isdir(os.path.dirname(os.path.abspath(path))):
                _io.remove_stale_temporaries(path)
        history = list(self.model.val_history)
        if self.best_checkpoint is not None and history and os.path.exists(self.best_checkpoint):
            iteration, loss = min(history, key=lambda pair: pair[1])
            self.history.best_iteration, self.history.best_val_loss = iteration, loss

    def _check_length(self) -> None:
        model = self.model
        needed = model.batch_size * (model.seq_length + 1)
        if len(self.train_ids) < needed:
            raise CorpusError(
                f"the training text has {len(self.train_ids):,} characters (after holding out "
                f"{len(self.val_ids):,} for validation) but training needs at least {needed:,} "
                "(batch_size * (seq_length + 1)); give more text or lower seq_length / batch_size",
                kind="too_short",
            )

    # ------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the run to stop: it ends after the iteration under way (or the
        validation under way), saves a checkpoint and returns.  Safe from a
        signal handler or another thread.  A long kernel call under way is
        cancelled (for networks that train through the cancellable kernels;
        the fused min-char-rnn step is never longer than about a second)."""
        self._stop.set()
        self.model.request_cancel()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def epoch_iterations(self, epochs: float) -> int:
        """The model's total iteration count after ``epochs`` passes over the text."""
        chars_per_iteration = self.model.seq_length * self.model.batch_size
        return max(1, math.ceil(epochs * len(self.train_ids) / chars_per_iteration))

    def run(
        self, iterations: Optional[int] = None, *, epochs: Optional[float] = None,
        time_limit: Optional[float] = None, callback: Optional[Callback] = None,
    ) -> History:
        """Train until the model's TOTAL iteration count reaches ``iterations``
        (or ``epochs`` passes over the training text), or ``time_limit``
        seconds pass, or a stop is requested; whichever comes first.  (Totals,
        so that a resumed run finishes the same job.)  Returns the History.

        Raises TrainingDivergedError (the model is rolled back and the last
        checkpoint is left as it was) and CheckpointError (a save failed; the
        previous checkpoint file is intact).
        """
        targets = [t for t in (iterations, None if epochs is None else self.epoch_iterations(epochs))
                   if t is not None]
        if not targets and time_limit is None:
            raise ValueError("give iterations, epochs or time_limit (else the run never ends)")
        self._target = min(targets) if targets else None
        self._deadline = None if time_limit is None else time.monotonic() + time_limit
        self._callback = callback
        started = time.monotonic()
        # At the deadline, a long kernel call under way is cancelled too.
        alarm = None if time_limit is None else threading.Timer(time_limit, self.model.request_cancel)
        if alarm is not None:
            alarm.daemon = True
            alarm.start()
        try:
            reason = self._run_loop()
        finally:
            if alarm is not None:
                alarm.cancel()
        self.history.stop_reason = reason
        self.history.end_iteration = self.model.iteration
        self.history.seconds = time.monotonic() - started
        log.info("run ended (%s) at iteration %d", reason, self.model.iteration)
        return self.history

    def _run_loop(self) -> str:
        reason = None
        while reason is None:
            self._train_until_pause()
            reason = self._stop_reason()
            if reason is not None or self.model.iteration % self.checkpoint_every == 0:
                self.checkpoint_now(final=reason is not None)
            if self.sample_every and self.model.iteration % self.sample_every == 0:
                self._emit(Event("sample", self.model.iteration,
                                 text=self.model.sample(SAMPLE_LENGTH, seed=self.model.iteration)))
        return reason

    def _stop_reason(self) -> Optional[str]:
        if self._stop.is_set():
            return "stopped"
        if self._target is not None and self.model.iteration >= self._target:
            return "done"
        if self._out_of_time():
            return "time"
        return None

    def _out_of_time(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _steps_to_next_pause(self) -> int:
        iteration = self.model.iteration
        stops = [iteration + MAX_CHUNK, _next_multiple(iteration, self.checkpoint_every)]
        if self.sample_every:
            stops.append(_next_multiple(iteration, self.sample_every))
        if self._target is not None:
            stops.append(self._target)
        return max(0, min(stops) - iteration)

    def _train_until_pause(self) -> None:
        steps = self._steps_to_next_pause()
        if steps and self._stop_reason() is None:
            self.model.train(self.train_ids, iterations=steps, callback=self._after_iteration)
        if not all(np.isfinite(a).all() for a in self.model.params.values()):
            # The loss can still be finite on the step that overflowed the weights.
            raise self._diverged(self.model.iteration, "the weights became NaN or infinite")

    def _after_iteration(self, model: Any, info: dict) -> bool:
        T = model.seq_length
        self._emit(Event("progress", info["iteration"], loss=info["loss"] / T,
                         smooth_loss=info["smooth_loss"] / T, chars_per_sec=info["chars_per_sec"]))
        return not (self._stop.is_set() or self._out_of_time())

    def _emit(self, event: Event) -> None:
        if self._callback is not None:
            self._callback(self, event)

    # ------------------------------------------------------------------

    def checkpoint_now(self, final: bool = False) -> Optional[float]:
        """Validate, then save (the latest and, if it is the best, the best
        model).  Returns the validation loss (None without validation text,
        or when a stop request cut the validation short).  The time limit
        cuts short only the validations of checkpoints before the ``final``
        one: the model a run ends with is always validated."""
        model = self.model
        # A checkpoint of this iteration is written already; but if the
        # deadline cut its validation short, the final one still validates.
        validated = self._validated_iteration == model.iteration or not len(self.val_ids)
        if self.saved_iteration == model.iteration and (validated or not final):
            return None
        val = self._validate(final)
        if val is not None:
            self._validated_iteration = model.iteration
            model.val_history.append((model.iteration, val))  # saved with the model
        if self.checkpoint is not None:
            self._save(self.checkpoint)
        self.saved_iteration = model.iteration
        best = val is not None and (self.history.best_val_loss is None or val < self.history.best_val_loss)
        if best:
            self.history.best_iteration, self.history.best_val_loss = model.iteration, val
            if self.best_checkpoint is not None:
                self._save(self.best_checkpoint, copy_of=self.checkpoint)
        if val is not None:
            self.history.checkpoint_iterations.append(model.iteration)
            self.history.val_loss.append(val)
        self._emit(Event("checkpoint", model.iteration, val_loss=val,
                         val_bits=None if val is None else val / math.log(2),
                         saved=self.checkpoint, best=best))
        return val

    def _validate(self, final: bool = False) -> Optional[float]:
        """Held-out nats/char from the model's start state (what ``crnn eval``
        will report), or None.  A stop request cuts it short, and so does
        the deadline unless this is the run's ``final`` checkpoint."""
        if not len(self.val_ids):
            return None
        def interrupted() -> bool:
            return self._stop.is_set() or (not final and self._out_of_time())
        result = self.model.evaluate(self.val_ids, should_stop=interrupted)
        if result is None:
            return None
        val = result["nats_per_char"]
        if not math.isfinite(val):
            raise self._diverged(self.model.iteration, f"the validation loss became {val}")
        if val > self.model.divergence_limit:
            raise self._diverged(self.model.iteration, (
                f"the validation loss rose to {val:.6g} nats/char, over {DIVERGENCE_FACTOR:g}x an "
                f"untrained model's {math.log(self.model.vocab_size):.4g}"))
        return val

    def _save(self, path: str, copy_of: Optional[str] = None) -> None:
        """Save the model to ``path`` (or copy the file just saved at ``copy_of``)."""
        try:
            if copy_of is not None:
                _io.copy_model_file(copy_of, path)
            else:
                self.model.save(path)
        except OSError as exc:
            raise CheckpointError(
                f"could not save the checkpoint of iteration {self.model.iteration:,} to {path!r}"
                f" ({os.strerror(exc.errno) if exc.errno else exc})",
                errno=exc.errno, path=path, iteration=self.model.iteration,
                saved_iteration=self.saved_iteration,
            ) from exc

    def _diverged(self, iteration: int, what: str) -> TrainingDivergedError:
        return TrainingDivergedError(
            f"training diverged at iteration {iteration:,} ({what}); try a lower learning rate",
            iteration=iteration, restored_iteration=self.model.iteration, what=what,
        )


def iterations_per_second(model: CharRNN, text_or_ids: TextOrIds, seconds: float = 3.0) -> float:
    """Training iterations per second of ``model``'s configuration on this
    machine now: a throwaway model of the same network, optimizer, batch,
    sequence length, dtype and threads trains on ``text_or_ids`` for about
    ``seconds`` (``model`` itself is not touched).  A schedule that must end
    with a time limit (cosine) is sized with it."""
    probe = CharRNN(
        model.vocab, hidden_size=model.hidden_size, seq_length=model.seq_length,
        batch_size=model.batch_size, dtype=model.dtype, seed=0, n_threads=model.n_threads,
        cell=model.cell, num_layers=model.num_layers, dropout=model.dropout,
        optimizer=model.optimizer.name, optimizer_settings=model.optimizer.settings,
        grad_clip=model.grad_clip, clip_mode=model.clip_mode)
    ids = as_ids(text_or_ids, model.vocab)
    probe.train(ids, 1)  # allocation and first-call costs are not the rate
    started = time.perf_counter()
    end = started + seconds
    done = probe.train(ids, 2**62, callback=lambda m, info: time.perf_counter() < end)
    return done / max(time.perf_counter() - started, 1e-9)


def _next_multiple(iteration: int, every: int) -> int:
    return (iteration // every + 1) * every
