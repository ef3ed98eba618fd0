"""Training curves from a ``crnn train --log`` CSV file (``crnn plot``).

The log has one row per iteration, ``iteration,loss,smooth_loss,val_loss,
chars_per_sec`` (losses in nats per character; ``val_loss`` only on the rows
of checkpoints).  ``--log`` appends, so a file may hold several runs: a run
starts wherever the iteration number goes down, and the last run is drawn.
Drawing needs matplotlib (the optional extra ``crnn[plot]``); reading does not.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import CrnnError

COLUMNS = ("iteration", "loss", "smooth_loss", "val_loss", "chars_per_sec")
MAX_POINTS = 2000  # points per drawn line; longer logs are averaged in bins
FORMATS = (".png", ".svg", ".pdf")


class LogFormatError(CrnnError, ValueError):
    """The file is not a readable ``crnn train --log`` CSV file."""


@dataclass
class TrainingLog:
    iteration: np.ndarray  # (n,)
    loss: np.ndarray  # (n,) nats/char of each iteration's chunk
    smooth_loss: np.ndarray  # (n,) nats/char, moving average
    val_iteration: np.ndarray  # (m,) iterations with a validation loss
    val_loss: np.ndarray  # (m,) nats/char
    runs: int = 1  # runs in the file (the last one is kept)


def read_log(path: Any) -> TrainingLog:
    """The last run of the log at ``path``; LogFormatError if it is not one."""
    with open(path, newline="", encoding="utf-8") as f:
        try:
            rows = list(csv.reader(f))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise LogFormatError(f"'{path}' is not a CSV file ({exc})") from None
    if not rows or tuple(c.strip() for c in rows[0][: len(COLUMNS)]) != COLUMNS:
        raise LogFormatError(
            f"'{path}' is not a crnn training log: its first line should be "
            f"'{','.join(COLUMNS)}' (write one with crnn train --log FILE.csv)"
        )
    values = [_parse_row(path, number, row) for number, row in enumerate(rows[1:], 2)
              if row and not (tuple(row[: len(COLUMNS)]) == COLUMNS)]
    if not values:
        raise LogFormatError(f"'{path}' has no rows yet; train with --log to fill it")
    return _last_run(np.array(values, dtype=np.float64))


def _parse_row(path: Any, number: int, row: list) -> tuple:
    if len(row) < 4:
        raise LogFormatError(f"'{path}' line {number} has too few columns: {','.join(row)}")
    try:
        it, loss, smooth, val = (float(x) if x.strip() else math.nan for x in row[:4])
    except ValueError:
        raise LogFormatError(f"'{path}' line {number} is not a row of numbers: {','.join(row)}") from None
    if math.isnan(it):
        raise LogFormatError(f"'{path}' line {number} has no iteration number: {','.join(row)}")
    return it, loss, smooth, val


def _last_run(table: np.ndarray) -> TrainingLog:
    back = np.flatnonzero(np.diff(table[:, 0]) <= 0)
    start = int(back[-1]) + 1 if len(back) else 0
    run = table[start:]
    has_val = ~np.isnan(run[:, 3])
    return TrainingLog(
        iteration=run[:, 0], loss=run[:, 1], smooth_loss=run[:, 2],
        val_iteration=run[has_val, 0], val_loss=run[has_val, 3], runs=len(back) + 1,
    )


def binned(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points: the means of equal bins of (x, y)."""
    if len(x) <= max_points:
        return x, y
    edges = np.linspace(0, len(x), max_points + 1).astype(int)
    counts = np.diff(edges)
    def mean(v: np.ndarray) -> np.ndarray:
        return np.add.reduceat(v, edges[:-1]) / counts
    return mean(x), mean(y)


def plot_log(log: TrainingLog, output: str, title: str = "") -> None:
    """Draw ``log`` to ``output`` (.png, .svg or .pdf) with matplotlib.

    Raises ImportError when matplotlib is missing.  Uses matplotlib's
    Figure directly (no pyplot), so it never changes the caller's backend.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    ax = fig.add_subplot()
    ax.plot(*binned(log.iteration, log.loss), color="#9ecae1", linewidth=0.8, label="loss (per iteration)")
    ax.plot(*binned(log.iteration, log.smooth_loss), color="#2166ac", linewidth=1.6, label="smooth loss")
    if len(log.val_iteration):
        ax.plot(log.val_iteration, log.val_loss, "o-", color="#d6604d", markersize=4,
                linewidth=1.4, label="validation loss")
    ax.set_xlabel("iteration")
    ax.set_ylabel("nats per character")
    ax.grid(True, color="#eeeeee")
    ax.legend(loc="upper right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(output)
