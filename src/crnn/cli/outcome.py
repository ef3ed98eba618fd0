"""How a ``crnn train`` run ended: what to tell the user, and what MODEL holds."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from ..errors import CheckpointError, TrainingDivergedError
from ..training import History, Trainer
from .common import EXIT_INTERRUPTED, fail, num, shell_path

def _what_output_holds(trainer: Trainer, output: str, phrase: str) -> str:
    """After a failure, what MODEL holds: ``phrase`` (formatted with output and
    iteration) if this run saved a checkpoint, else whether it is unchanged."""
    if trainer.saved_iteration is not None:
        return phrase.format(output=output, iteration=trainer.saved_iteration)
    if os.path.exists(output):
        return f"'{output}' was not changed"
    return "no model was saved"


def fail_checkpoint(exc: CheckpointError, trainer: Trainer, output: str) -> NoReturn:
    """A checkpoint could not be written (disk full, folder made read-only ...);
    the file it was written to is intact.  Say what MODEL holds."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    kept = _what_output_holds(trainer, output, "'{output}' still holds the checkpoint of iteration {iteration:,}")
    what = "checkpoint" if exc.path == output else "best model"
    if exc.path != output:
        kept += f" and '{exc.path}' was not changed"
    fail(f"could not save the {what} of iteration {exc.iteration:,} to '{exc.path}' ({reason}); "
         f"{kept}; free some space or fix the folder, then run the same command with --resume")


def fail_diverged(exc: TrainingDivergedError, trainer: Trainer, output: str) -> NoReturn:
    kept = _what_output_holds(trainer, output, "'{output}' keeps the last checkpoint (iteration {iteration:,})")
    fail(f"training diverged at iteration {exc.iteration:,} ({exc.what}); {kept}; try a smaller "
         f"--learning-rate than {trainer.model.learning_rate:g}")


def finish(history: History, trainer: Trainer, output: str, seconds: float) -> None:
    model = trainer.model
    if history.stop_reason == "stopped":
        click.echo(f"Interrupted at iteration {model.iteration:,}: saved '{output}'; "
                   "run the same command with --resume to continue.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    why = "Time limit reached" if history.stop_reason == "time" else "Done"
    val = f", validation {num(history.val_loss[-1])} nats/char" if history.val_loss else ""
    best, use = "", output
    if history.best_iteration is not None and trainer.best_checkpoint is not None:
        best = (f"; the best validation ({num(history.best_val_loss)} nats/char, iteration "
                f"{history.best_iteration:,}) is in '{trainer.best_checkpoint}'")
        use = trainer.best_checkpoint
    click.echo(f"{why}: {model.iteration:,} iterations (smooth loss "
               f"{num(model.smooth_loss / model.seq_length)} nats/char{val}) in {seconds:.1f} s; "
               f"saved '{output}'{best}. Try: crnn sample {shell_path(use)}", err=True)
