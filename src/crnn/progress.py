"""The one-line training status on a terminal, and the time-left estimate.

Three small pieces, none of which knows about models or click:

* ``render_progress(width, ...)``: the status line as a string that always
  fits ``width - 1`` columns (a line as wide as the terminal would wrap on
  some terminals).  Parts are dropped, least useful first, as the width
  narrows (elapsed time, bar, rate, time left, percentage).
* ``ProgressLine``: draws that line on a stream with ``"\\r"``, at most every
  ``min_interval`` seconds, and prints notes on their own lines with the bar
  drawn again straight after.
* ``EtaEstimator``: seconds left, from a recent rate once a warm-up has
  passed, and from a deadline.

Every function that reads the time takes a ``clock`` (for tests).
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from collections import deque
from typing import Any, Callable, Optional

BAR_MIN, BAR_MAX = 10, 40  # columns inside the brackets of the bar


# ----------------------------------------------------------------------
# Formatting numbers for people


def format_loss(value: float) -> str:
    """3 decimals, or scientific when absurdly large (a diverging run)."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3f}" if abs(value) < 1e6 else f"{value:.3g}"


def format_si(value: float) -> str:
    """1234567 -> '1.23M': short numbers for rates."""
    if not math.isfinite(value):
        return str(value)
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def format_clock(seconds: float) -> str:
    """62 -> '1:02', 3725 -> '1:02:05' (hours only when there are some)."""
    if not math.isfinite(seconds):
        return "?"
    seconds = max(0, int(round(seconds)))
    hours, minutes, secs = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _count(iteration: int, target: Optional[int], short: bool) -> str:
    """'71,086/300,000' (the model's total against the run's end), or '71.1k/300k'."""
    fmt = format_si if short else (lambda n: f"{n:,}")
    if target is None:
        return ("it " if short else "iteration ") + fmt(iteration)
    return f"{fmt(iteration)}/{fmt(target)}"


def _bar(fraction: float, inner: int) -> str:
    filled = int(inner * min(max(fraction, 0.0), 1.0))
    return "[" + "#" * filled + "-" * (inner - filled) + "]"


# ----------------------------------------------------------------------
# The line


# What each level shows, richest first; the first that fits is used.
_LEVELS = (
    ("bar", "pct", "count", "loss", "rate", "elapsed", "eta"),
    ("bar", "pct", "count", "loss", "rate", "eta"),
    ("pct", "count", "loss", "rate", "eta"),
    ("pct", "count", "loss", "eta"),
    ("pct", "count", "loss"),
    ("count", "loss"),
    ("short_count", "loss"),
    ("short_count",),
)


def render_progress(
    width: int,
    *,
    iteration: int,
    target: Optional[int] = None,
    elapsed: float,
    seconds_left: Optional[float] = None,
    loss_per_char: float,
    chars_per_sec: float,
    fraction: Optional[float] = None,
) -> str:
    """The status line, at most ``width - 1`` columns (ASCII only).

    ``iteration`` is the model's total iteration count and ``target`` the
    total the run ends at (None: no iteration limit), so a resumed run shows
    one count, ``71,086/300,000``.  ``fraction`` (0..1) fills the bar; by
    default ``iteration / target`` (give ``elapsed / time_limit`` for a run
    with only a time limit); with neither there is no bar.  As the width
    narrows the elapsed time goes first (the least useful), then the bar,
    the rate, the time left, the percentage; the count is shortened last.
    """
    room = width - 1
    if room <= 0:
        return ""
    if fraction is None and target:
        fraction = iteration / target
    if fraction is not None and not math.isfinite(fraction):
        fraction = None
    parts = {
        # Floored like the bar, so "100%" means done.
        "pct": None if fraction is None else f"{math.floor(100 * min(max(fraction, 0.0), 1.0))}%",
        "count": _count(iteration, target, short=False),
        "short_count": _count(iteration, target, short=True),
        "loss": f"loss {format_loss(loss_per_char)}",
        "rate": f"{format_si(chars_per_sec)} chars/s",
        "elapsed": f"{format_clock(elapsed)} elapsed",
        "eta": None if seconds_left is None else f"{format_clock(seconds_left)} left",
    }
    for level in _LEVELS:
        # Single spaces only where there is no bar: a cramped bar helps nobody.
        for sep in ("  ",) if "bar" in level else ("  ", " "):
            line = _fit(level, parts, fraction, sep, room)
            if line is not None:
                return line
    return parts["short_count"][:room]


def _fit(level: tuple, parts: dict, fraction: Optional[float], sep: str, room: int) -> Optional[str]:
    """``level``'s parts joined by ``sep`` if they fit in ``room`` columns, else None."""
    shown = [parts[name] for name in level if name != "bar" and parts[name] is not None]
    text = sep.join(shown)
    if "bar" not in level:
        return text if len(text) <= room else None
    if fraction is None:
        return None  # nothing to draw: the next level says the same without a bar
    inner = min(BAR_MAX, room - len(text) - len(sep) - 2)
    if inner < BAR_MIN:
        return None
    return _bar(fraction, inner) + sep + text


# ----------------------------------------------------------------------
# Drawing it


def terminal_width(stream: Any, fallback: int = 80) -> int:
    """Columns of the terminal ``stream`` writes to (not necessarily stdout's)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return shutil.get_terminal_size((fallback, 24)).columns


class ProgressLine:
    """The status line on ``stream`` (a terminal), redrawn in place.

    ``update(**fields)`` takes ``render_progress``'s keyword arguments and
    redraws at most every ``min_interval`` seconds; ``note(message)`` prints
    a message on its own line(s) and draws the bar again at once (a bar
    left cleared until the next due update would vanish in runs that pause
    for long, e.g. at checkpoints).  ``close()`` leaves the final line
    drawn and moves to the next line.  ``width`` is a fixed column count, a
    callable returning one, or None for the stream's terminal width (read
    at every draw, so resizing works).
    """

    def __init__(self, stream: Any = None, *, clock: Callable[[], float] = time.monotonic,
                 width: Any = None, min_interval: float = 0.2) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.clock, self.min_interval = clock, min_interval
        self._width = width
        self.fields: Optional[dict] = None
        self._last_draw = -math.inf
        self._shown = 0  # columns of the line on screen now (0: none)

    def width(self) -> int:
        if self._width is None:
            return terminal_width(self.stream)
        return self._width() if callable(self._width) else int(self._width)

    def update(self, force: bool = False, **fields: Any) -> bool:
        """Record the latest figures; draw them if due (or ``force``).  True if drawn."""
        self.fields = fields
        if not force and self.clock() - self._last_draw < self.min_interval:
            return False
        self.redraw()
        return True

    def redraw(self) -> None:
        """Draw the latest figures now (nothing before the first update)."""
        if self.fields is None:
            return
        width = self.width()
        line = render_progress(width, **self.fields)
        # Spaces over the tail of a longer previous line, within this width.
        pad = max(0, min(self._shown, width - 1) - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._shown = len(line)
        self._last_draw = self.clock()

    def clear(self) -> None:
        """Blank the line and return the cursor to its start."""
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()
            self._shown = 0

    def note(self, message: str) -> None:
        """``message`` on its own line(s), then the bar again below it."""
        self.clear()
        self.stream.write(message.rstrip("\n") + "\n")
        self.stream.flush()
        self.redraw()

    def close(self) -> None:
        """Draw the final figures and end the line (the bar stays visible)."""
        if self.fields is not None:
            self.redraw()
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = 0

    def __enter__(self) -> "ProgressLine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ----------------------------------------------------------------------
# Time left


class EtaEstimator:
    """Seconds left in a run that ends at ``target`` iterations or at
    ``deadline`` (a ``clock()`` value), whichever comes first.

    The iteration estimate waits for a warm-up (``warmup_seconds`` and
    ``warmup_fraction`` of the iterations to do, whichever ends later: the
    first iterations are slow and the first second is noisy), then uses
    the rate over the last ``window_seconds`` (so a speed change shows
    within that window, not diluted by the whole run).  A deadline alone is
    exact and is known at once.
    """

    SAMPLE_SECONDS = 0.1  # keep at most ~10 samples a second, whatever the speed

    def __init__(self, start_iteration: int, target: Optional[int] = None,
                 deadline: Optional[float] = None, *, clock: Callable[[], float] = time.monotonic,
                 warmup_seconds: float = 2.0, warmup_fraction: float = 0.01,
                 window_seconds: float = 20.0) -> None:
        self.start_iteration, self.target, self.deadline = start_iteration, target, deadline
        self.clock = clock
        self.warmup_seconds, self.warmup_fraction = warmup_seconds, warmup_fraction
        self.window_seconds = window_seconds
        self.started = clock()
        self._samples: deque = deque([(self.started, start_iteration)])
        self._latest = (self.started, start_iteration)

    def update(self, iteration: int) -> None:
        """Record that the model has reached ``iteration`` now."""
        now = self.clock()
        self._latest = (now, iteration)
        if now - self._samples[-1][0] >= self.SAMPLE_SECONDS:
            self._samples.append(self._latest)
        # Keep one sample at or before the window's start as its anchor.
        while len(self._samples) > 1 and self._samples[1][0] <= now - self.window_seconds:
            self._samples.popleft()

    def rate(self) -> Optional[float]:
        """Iterations per second over the recent window (None before any time passed)."""
        then, before = self._samples[0]
        now, iteration = self._latest
        if now <= then:
            return None
        return (iteration - before) / (now - then)

    def warmed_up(self) -> bool:
        now, iteration = self._latest
        work = (self.target - self.start_iteration) if self.target is not None else 0
        return (now - self.started >= self.warmup_seconds
                and iteration - self.start_iteration >= self.warmup_fraction * work)

    def seconds_left(self) -> Optional[float]:
        """The estimate, or None while there is none (no limit, or warming up)."""
        now, iteration = self.clock(), self._latest[1]
        by_deadline = None if self.deadline is None else max(0.0, self.deadline - now)
        if self.target is None:
            return by_deadline
        if not self.warmed_up():
            return None
        rate = self.rate()
        if not rate or rate <= 0:
            return by_deadline
        # Time since the last update has been spent on iterations not yet counted.
        by_work = max(0.0, (self.target - iteration) / rate - (now - self._latest[0]))
        return by_work if by_deadline is None else min(by_work, by_deadline)
