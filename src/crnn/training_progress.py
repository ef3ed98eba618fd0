"""Progress of a training run on standard error, as ``crnn train`` shows it.

A drop-in for the command line's old ``Progress`` class, built from
``crnn.progress``: on a terminal the one-line bar (``ProgressLine``), which
fits the terminal's width and comes back straight after every note; else a
plain line at the first report, every ``line_seconds`` and at the end:

    iteration 153,005/300,000  loss 1.3373 nats/char  211k chars/s  0:00:17 left

Both show the model's total iteration count against the run's target, so a
resumed run has one count, and the same time-left estimate (``EtaEstimator``).
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, Callable, Optional

from .progress import EtaEstimator, ProgressLine, format_si

LINE_SECONDS = 10.0  # seconds between plain lines (standard error not a terminal)


class TrainingProgress:
    """``update(info)`` after every iteration (``info`` from ``CharRNN.train``'s
    callback: iteration, smooth_loss, chars_per_sec); ``note(message)`` for
    checkpoints and samples; use as a context manager around the run.

    ``target`` is the model's total iterations at which the run ends and
    ``deadline`` the ``clock()`` time at which it ends (None: no such
    limit); ``time_limit`` (seconds) fills the bar when there is no target.
    """

    def __init__(self, *, start_iteration: int, target: Optional[int], deadline: Optional[float],
                 time_limit: Optional[float], seq_length: int, batch_size: int,
                 stream: Any = None, clock: Callable[[], float] = time.monotonic,
                 tty: Optional[bool] = None, line_seconds: float = LINE_SECONDS, width: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.clock, self.line_seconds = clock, line_seconds
        self.target, self.time_limit = target, time_limit
        self.seq_length, self.chars_per_iteration = seq_length, seq_length * batch_size
        self.started = clock()
        self.eta = EtaEstimator(start_iteration, target, deadline, clock=clock)
        if tty is None:
            tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.bar = ProgressLine(self.stream, clock=clock, width=width) if tty else None
        self.info: Optional[dict] = None
        self._last_line = -math.inf
        self._printed_iteration: Optional[int] = None

    def __enter__(self) -> "TrainingProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.info is not None and self.info["iteration"] != self._printed_iteration:
            self._print_line()  # the final state, unless just shown

    def update(self, info: dict) -> None:
        self.info = info
        self.eta.update(info["iteration"])
        if self.bar is not None:
            self.bar.update(**self._fields())
        elif self.clock() - self._last_line >= self.line_seconds:
            self._print_line()

    def note(self, message: str) -> None:
        """``message`` on its own line(s); the bar is drawn again below it."""
        if self.bar is not None:
            if self.info is not None:
                self.bar.fields = self._fields()  # the note's moment, not the last redraw's
            self.bar.note(message)
        else:
            self.stream.write(message.rstrip("\n") + "\n")
            self.stream.flush()

    def _chars_per_sec(self) -> float:
        rate = self.eta.rate()  # over the recent window, once time has passed
        return rate * self.chars_per_iteration if rate is not None else self.info["chars_per_sec"]

    def _fields(self) -> dict:
        elapsed = self.clock() - self.started
        fraction = None
        if self.target is None and self.time_limit:
            fraction = elapsed / self.time_limit
        return dict(iteration=self.info["iteration"], target=self.target, elapsed=elapsed,
                    seconds_left=self.eta.seconds_left(),
                    loss_per_char=self.info["smooth_loss"] / self.seq_length,
                    chars_per_sec=self._chars_per_sec(), fraction=fraction)

    def _print_line(self) -> None:
        self._last_line = self.clock()
        self._printed_iteration = self.info["iteration"]
        total = f"/{self.target:,}" if self.target is not None else ""
        left = self.eta.seconds_left()
        eta = f"  {_hms(left)} left" if left is not None else ""
        loss = self.info["smooth_loss"] / self.seq_length
        self.stream.write(f"iteration {self.info['iteration']:,}{total}  loss {_loss(loss)} nats/char  "
                          f"{format_si(self._chars_per_sec())} chars/s{eta}\n")
        self.stream.flush()


def _loss(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"


def _hms(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
