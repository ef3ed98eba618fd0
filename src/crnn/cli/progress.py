"""What ``crnn train`` shows while it runs: the progress bar or lines on
standard error, and the --log CSV file."""

from __future__ import annotations

import contextlib
import csv
import math
import os
import shutil
import sys
import time
from typing import Any, Iterator, Optional

import click

from .common import fail, num

LINE_SECONDS = 10.0  # seconds between plain progress lines (stderr not a terminal)
BAR_SECONDS = 0.1  # seconds between progress bar redraws


class Progress:
    """Progress on standard error: click's progress bar on a terminal,
    plain lines every LINE_SECONDS otherwise."""

    def __init__(self, target: Optional[int], deadline: Optional[float], model: Any,
                 stream: Any = None) -> None:
        self.target, self.deadline, self.model = target, deadline, model
        self.start_iteration = model.iteration
        self.started = time.monotonic()
        self.last_shown = -math.inf
        self.stream = stream if stream is not None else sys.stderr
        self.bar: Any = None
        self.bar_position = 0
        self.info: Optional[dict] = None
        self.printed_iteration: Optional[int] = None
        self.chars_per_iteration = model.seq_length * model.batch_size
        self.rate_mark = (self.started, self.start_iteration)
        self.rate: Optional[float] = None

    def __enter__(self) -> "Progress":
        if self.stream.isatty():
            self.bar = click.progressbar(
                length=self._length(), label="training", file=self.stream, width=24,
                show_pos=self.target is not None, item_show_func=lambda status: status,
            )
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
        elif self.info is not None and self.info["iteration"] != self.printed_iteration:
            self._print_line()  # the final state, unless just shown

    def _length(self) -> int:
        """Bar length: iterations to the target, or else seconds to the deadline."""
        if self.target is not None:
            return max(1, self.target - self.start_iteration)
        return max(1, round(self.deadline - self.started))

    def _position(self) -> int:
        if self.target is not None:
            return self.model.iteration - self.start_iteration
        return int(time.monotonic() - self.started)

    def _status(self) -> str:
        info = self.info
        return (f"it {info['iteration']:,}  loss {num(info['smooth_loss'], 3)}"
                f"  {_si(self._chars_per_sec())} chars/s")

    def update(self, info: dict) -> None:
        self.info = info
        now = time.monotonic()
        interval = BAR_SECONDS if self.bar is not None else LINE_SECONDS
        if now - self.last_shown < interval:
            return
        self.last_shown = now
        if self.bar is not None:
            position = self._position()
            self.bar.update(position - self.bar_position, self._status())
            self.bar_position = position
        else:
            self._print_line()

    def _print_line(self) -> None:
        left = self._seconds_left()
        eta = f"  {_clock(left)} left" if left is not None else ""
        total = f"/{self.target:,}" if self.target is not None else ""
        info = self.info
        self.printed_iteration = info["iteration"]
        click.echo(f"iteration {info['iteration']:,}{total}  loss "
                   f"{num(info['smooth_loss'])} nats/char  "
                   f"{_si(self._chars_per_sec())} chars/s{eta}", file=self.stream)

    def _chars_per_sec(self) -> float:
        """Training speed, measured over at least a second once running."""
        now, iteration = time.monotonic(), self.model.iteration
        then, before = self.rate_mark
        if self.rate is None:  # first call: the model's measure of one iteration
            self.rate = self.info["chars_per_sec"]
        elif now - then >= 1.0:
            self.rate = (iteration - before) * self.chars_per_iteration / max(now - then, 1e-9)
            self.rate_mark = (now, iteration)
        return self.rate

    def _seconds_left(self) -> Optional[float]:
        lefts = []
        if self.deadline is not None:
            lefts.append(max(0.0, self.deadline - time.monotonic()))
        done = self.model.iteration - self.start_iteration
        if self.target is not None and done > 0:
            rate = done / max(time.monotonic() - self.started, 1e-9)
            lefts.append((self.target - self.model.iteration) / rate)
        return min(lefts) if lefts else None

    def note(self, message: str) -> None:
        """A message on its own lines, not mixed into the bar."""
        if self.bar is not None:
            width = shutil.get_terminal_size().columns
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()
            self.last_shown = -math.inf  # redraw the bar at the next update
        click.echo(message, file=self.stream)


def _si(value: float) -> str:
    """1234567 -> '1.23M': short numbers for progress lines."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class CsvLog:
    """The --log file: one row per iteration, appended; validation loss on
    the rows of checkpoints.  A row is written once the next one starts, so
    a checkpoint's validation loss joins the row of its iteration."""

    HEADER = ("iteration", "loss", "smooth_loss", "val_loss", "chars_per_sec")

    def __init__(self, file: Any) -> None:
        self.file = file
        self.writer = csv.writer(file) if file is not None else None
        self.pending: Optional[list] = None
        if file is not None and file.tell() == 0:
            self.writer.writerow(self.HEADER)

    def add(self, iteration: int, loss: float, smooth_loss: float, chars_per_sec: float) -> None:
        if self.writer is None:
            return
        self._flush_pending()
        self.pending = [iteration, f"{loss:.6f}", f"{smooth_loss:.6f}", "", f"{chars_per_sec:.0f}"]

    def set_validation(self, val_loss: float) -> None:
        if self.pending is not None:
            self.pending[3] = f"{val_loss:.6f}"

    def _flush_pending(self) -> None:
        if self.pending is not None:
            self.writer.writerow(self.pending)
            self.pending = None

    def close(self) -> None:
        if self.file is not None:
            self._flush_pending()
            self.file.close()


@contextlib.contextmanager
def open_log(path: Optional[str]) -> Iterator[CsvLog]:
    """The --log CSV file opened for appending (or a log that writes nothing)."""
    file = None
    if path is not None:
        if os.path.isdir(path):
            fail(f"--log '{path}' is a folder; give a file name such as {os.path.join(path, 'log.csv')}")
        file = open(path, "a", newline="", encoding="utf-8")
    log = CsvLog(file)
    try:
        yield log
    finally:
        log.close()


# ----------------------------------------------------------------------
