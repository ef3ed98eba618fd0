"""The --log CSV file of ``crnn train`` (the progress line on standard
error is crnn.training_progress)."""

from __future__ import annotations

import contextlib
import csv
import os
from typing import Any, Iterator, Optional

from .common import fail


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
