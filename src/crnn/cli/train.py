"""``crnn train``: options, then a crnn.Trainer, then what to tell the user."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import click
import numpy as np

from ..errors import CheckpointError, TrainingDivergedError
from ..model import CharRNN
from ..network import CELLS, INIT_SCHEMES
from ..training import DEFAULT_CHECKPOINT_EVERY, Event, History, Trainer, split_validation
from .common import (
    CONTEXT_SETTINGS, ENCODING_OPTION, ERRORS_OPTION, EXIT_INTERRUPTED, SEED_TYPE, check_output,
    describe_chars, fail, num, open_model,
)
from ..lock import exclusive_lock
from ..memory import check_training_fits
from ..training_progress import TrainingProgress
from .corpus import Corpus, training_corpus
from .outcome import fail_checkpoint, fail_diverged, finish
from .csvlog import CsvLog, open_log
from ..presets import QUALITY_SECONDS, describe_presets, preset_names, preset_options
from ..training import iterations_per_second

# Without --iterations, --epochs or --time-limit, train runs this many
# iterations: about a minute at reference settings on a laptop, enough for
# sampled text to look like its corpus (indentation, keywords, names).
DEFAULT_ITERATIONS = 300_000
# Validation scores at most this many held-out characters at each checkpoint
# (all of them for corpora up to 10 MB).
VAL_MAX_CHARS = 1_000_000
# Options that fix the model's shape: with --resume they come from MODEL.
SHAPE_OPTIONS = ("hidden_size", "seq_length", "batch_size", "dtype", "cell", "num_layers",
                 "dropout", "init", "optimizer", "momentum", "alpha", "weight_decay", "clip_mode",
                 "grad_clip")


@click.command(context_settings=CONTEXT_SETTINGS, epilog="Presets (--preset NAME):\n\n"
               + describe_presets())
@click.argument("inputs", nargs=-1, metavar="[INPUT]...")
@click.option("-o", "--output", required=True, metavar="MODEL", help="Model file to write (.npz).")
@click.option("--preset", type=click.Choice(preset_names()), default=None,
              help="Set every model and training option at once (options given as well win; "
              "the presets are listed below). For good text: --preset quality.")
@click.option("--hidden-size", type=click.IntRange(min=1), default=100, help="Hidden units.")
@click.option("--seq-length", type=click.IntRange(min=1), default=25,
              help="Characters per training chunk (truncated BPTT length).")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=None,
              show_default="0.1 for adagrad, 2e-3 for adam, adamw and rmsprop, 3e-3 for sgd",
              help="Learning rate (the schedule scales it).")
@click.option("--model", "cell", type=click.Choice(list(CELLS)), default="rnn",
              help="Cell: min-char-rnn's tanh rnn, or PyTorch's lstm or gru.")
@click.option("--layers", "num_layers", type=click.IntRange(min=1, max=64), default=1,
              help="Recurrent layers, stacked.")
@click.option("--dropout", type=click.FloatRange(min=0, max=1, max_open=True), default=0.0,
              help="Dropout on the outputs of every layer but the last (training only).")
@click.option("--init", type=click.Choice(list(INIT_SCHEMES)), default=None,
              show_default="min-char-rnn for rnn, pytorch for lstm and gru",
              help="Initial weights: N(0,1)*0.01; PyTorch's uniform(+-1/sqrt(H)); char-rnn's "
              "uniform(+-0.08) with LSTM forget-gate bias 1; PyTorch's with layer 0's input "
              "weights as an nn.Embedding(V, H) table times W_ih (learns faster).")
@click.option("--optimizer", type=click.Choice(["adagrad", "adam", "adamw", "rmsprop", "sgd"]),
              default="adagrad", help="Optimizer, as torch.optim defines it (adagrad: min-char-rnn's).")
@click.option("--momentum", type=click.FloatRange(min=0, max=1, max_open=True), default=None,
              help="SGD's or RMSprop's momentum (default 0).")
@click.option("--alpha", type=click.FloatRange(min=0, max=1, max_open=True), default=None,
              help="RMSprop's smoothing constant (PyTorch's 0.99; char-rnn's 0.95).")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=None,
              help="Weight decay (AdamW: decoupled, default 0.01; others: L2, default 0).")
@click.option("--grad-clip", type=click.FloatRange(min=0, min_open=True), default=5.0,
              help="Gradient clipping bound (see --clip-mode).")
@click.option("--clip-mode", type=click.Choice(["value", "norm", "none"]), default=None,
              show_default="value for adagrad (min-char-rnn), norm otherwise",
              help="Clip each element to +-grad-clip, or the global norm to grad-clip, or not at all.")
@click.option("--lr-schedule", type=click.Choice(["constant", "step", "cosine"]), default="constant",
              help="step: x --lr-decay every epoch after --lr-decay-after epochs (char-rnn's); "
              "cosine: down to --lr-floor x the rate over the run's --iterations, --epochs or "
              "--time-limit (its iterations measured).")
@click.option("--lr-decay", type=click.FloatRange(min=0, max=1, min_open=True), default=0.97,
              help="Factor of the step schedule.")
@click.option("--lr-decay-after", type=click.FloatRange(min=0), default=10.0, metavar="EPOCHS",
              help="Epochs before the step schedule starts decaying.")
@click.option("--lr-floor", type=click.FloatRange(min=0, max=1), default=0.1,
              help="The cosine schedule's final rate, as a fraction of --learning-rate.")
@click.option("--warmup", type=click.IntRange(min=0), default=0, metavar="N",
              help="Linear warm-up over the first N iterations (0: none).")
@click.option("--batch-size", type=click.IntRange(min=1), default=1,
              help="Streams trained at once, each on its own segment of the text.")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64",
              help="Floating-point type of the model.")
@click.option("--seed", type=SEED_TYPE, default=None, show_default="random",
              help="Seed for the initial weights (0 or more).")
@click.option("--iterations", type=click.IntRange(min=1), default=None,
              show_default=f"{DEFAULT_ITERATIONS} without --epochs and --time-limit",
              help="Train until the model has done this many iterations in total.")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Train until the model has seen the training text this many times in total.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Stop this run after this many seconds.")
@click.option("--val-fraction", type=click.FloatRange(min=0, max=1, max_open=True), default=0.1,
              help="Fraction at the end of the text held out for validation.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=DEFAULT_CHECKPOINT_EVERY,
              metavar="N", help="Save MODEL (and report validation) every N iterations.")
@click.option("--sample-every", type=click.IntRange(min=1), default=None, metavar="N",
              help="Show a short sample on standard error every N iterations.")
@click.option("--log", "log_path", default=None, metavar="FILE.csv",
              help="Append iteration, loss, smooth_loss, val_loss (nats/char) and chars/s to this CSV file.")
@click.option("--resume", is_flag=True, help="Continue training MODEL where it stopped.")
@click.option("--force", is_flag=True, help="Replace an existing MODEL with a new model.")
@click.option("--threads", type=click.IntRange(min=1), default=1, help="Threads for the kernels.")
@ENCODING_OPTION
@ERRORS_OPTION
@click.pass_context
def train(ctx: click.Context, inputs: Sequence[str], output: str, **options: Any) -> None:
    """Train a model on the INPUT text files and save it to MODEL.

    INPUT files are read as text and joined in the order given; '-' reads
    standard input.  With no INPUT, crnn trains on a built-in corpus: about
    1 MB of the Python standard library's source code.

    --iterations and --epochs count the model's total, so after an
    interruption the same command with --resume finishes the same job.
    MODEL always holds the latest checkpoint; the one with the lowest
    validation loss is kept beside it as MODEL with .best before its
    extension (m.npz -> m.best.npz).  Ctrl-C saves MODEL and stops; a second
    Ctrl-C stops at once.
    """
    opts = TrainOptions(output=output, **options)
    _apply_preset(ctx, opts)
    _check_option_clashes(ctx, opts)
    check_output(output, replace_ok=opts.resume or opts.force)
    with exclusive_lock(output):
        _train(ctx, inputs, opts)


def _train(ctx: click.Context, inputs: Sequence[str], opts: TrainOptions) -> None:
    output = opts.output
    corpus = training_corpus(inputs, opts.encoding, opts.decode_errors)
    ctx.meta["crnn_resumed"] = _can_resume(opts)
    model = _resumed_model(ctx, opts, corpus) if ctx.meta["crnn_resumed"] else _new_model(opts, corpus)
    model.n_threads = opts.threads
    # From here on the corpus is compact ids (1-2 bytes a character), not text.
    train_ids, val_ids = split_validation(corpus.ids(model.vocab), opts.val_fraction)
    del corpus
    _check_length(train_ids, val_ids, model)
    trainer = Trainer(model, train_ids, val_text=val_ids[:VAL_MAX_CHARS], checkpoint=output,
                      checkpoint_every=opts.checkpoint_every, sample_every=opts.sample_every)
    target = _target(trainer, opts)
    if not _resuming(ctx, opts) or _given(ctx, "lr_schedule") or _given(ctx, "warmup"):
        model.lr_schedule = _schedule(opts, trainer, target)
    if target is not None and model.iteration >= target:
        click.echo(f"'{output}' has already done {model.iteration:,} iterations "
                   f"(target {target:,}); raise --iterations or --epochs to train more.", err=True)
        return
    deadline = None if opts.time_limit is None else time.monotonic() + opts.time_limit
    started = time.monotonic()
    progress = TrainingProgress(start_iteration=model.iteration, target=target, deadline=deadline,
                                time_limit=opts.time_limit, seq_length=model.seq_length,
                                batch_size=model.batch_size)
    with open_log(opts.log_path) as log, progress:
        report = Reporter(progress, log, output)
        try:
            history = run_in_background(trainer, report, iterations=target, time_limit=opts.time_limit)
        except TrainingDivergedError as exc:
            fail_diverged(exc, trainer, output)
        except CheckpointError as exc:
            fail_checkpoint(exc, trainer, output)
    finish(history, trainer, output, time.monotonic() - started)


@dataclass
class TrainOptions:
    """The options of ``crnn train`` (names as on the command line)."""

    output: str
    preset: Optional[str]
    hidden_size: int
    seq_length: int
    learning_rate: Optional[float]
    cell: str
    num_layers: int
    dropout: float
    init: Optional[str]
    optimizer: str
    momentum: Optional[float]
    alpha: Optional[float]
    weight_decay: Optional[float]
    grad_clip: float
    clip_mode: Optional[str]
    lr_schedule: str
    lr_decay: float
    lr_decay_after: float
    lr_floor: float
    warmup: int
    batch_size: int
    dtype: str
    seed: Optional[int]
    iterations: Optional[int]
    epochs: Optional[float]
    time_limit: Optional[float]
    val_fraction: float
    checkpoint_every: int
    sample_every: Optional[int]
    log_path: Optional[str]
    resume: bool
    force: bool
    threads: int
    encoding: str
    decode_errors: str


def _given(ctx: click.Context, name: str) -> bool:
    """Whether option ``name`` was set on the command line (not left at its default)."""
    return ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT


def _apply_preset(ctx: click.Context, opts: TrainOptions) -> None:
    """Fill in the options --preset sets that the command line did not give.
    The quality preset trains for the time it was measured for unless told
    how long to train."""
    if opts.preset is None:
        return
    for name, value in preset_options(opts.preset, opts.time_limit).items():
        if not _given(ctx, name):
            setattr(opts, name, value)
    if opts.preset == "quality" and (opts.time_limit, opts.iterations, opts.epochs) == (None,) * 3:
        opts.time_limit = QUALITY_SECONDS


def _check_option_clashes(ctx: click.Context, opts: TrainOptions) -> None:
    """Options that --resume makes meaningless are noted, not refused: "run the
    same command with --resume" must keep working for a command that had them."""
    if not (opts.resume and os.path.exists(opts.output)):
        return
    if opts.force:
        click.echo(f"Note: --force is ignored with --resume: '{opts.output}' is continued, "
                   "not replaced.", err=True)
    if _given(ctx, "seed"):
        click.echo(f"Note: --seed is ignored with --resume: '{opts.output}' continues with its "
                   "own weights and random state.", err=True)


def _target(trainer: Trainer, opts: TrainOptions) -> Optional[int]:
    """The model's total iterations at which this run ends (None: only the time limit)."""
    targets = []
    if opts.iterations is not None:
        targets.append(opts.iterations)
    if opts.epochs is not None:
        targets.append(trainer.epoch_iterations(opts.epochs))
    if not targets and opts.time_limit is None:
        targets.append(DEFAULT_ITERATIONS)
    return min(targets) if targets else None


def _check_length(train_ids: np.ndarray, val_ids: np.ndarray, model: CharRNN) -> None:
    needed = model.batch_size * (model.seq_length + 1)
    if len(train_ids) >= needed:
        return
    held = f" (after holding out {len(val_ids):,} for validation)" if len(val_ids) else ""
    settings = f"--seq-length {model.seq_length}"
    fixes = "give more text or a smaller --seq-length"
    if model.batch_size > 1:
        settings += f" with --batch-size {model.batch_size}"
        fixes += " or --batch-size"
    if len(val_ids):
        fixes += ", or --val-fraction 0"
    fail(f"the training text has {len(train_ids):,} characters{held} but {settings} "
         f"needs at least {needed:,}; {fixes}")


# ----------------------------------------------------------------------
# The model: new or resumed


def _resuming(ctx: click.Context, opts: TrainOptions) -> bool:
    return opts.resume and ctx.meta.get("crnn_resumed", False)


def _can_resume(opts: TrainOptions) -> bool:
    """--resume was given and MODEL exists (if it does not, say a new one starts)."""
    if opts.resume and not os.path.exists(opts.output):
        click.echo(f"'{opts.output}' does not exist yet: starting a new model.", err=True)
        return False
    return opts.resume


def _optimizer_settings(opts: TrainOptions) -> dict:
    settings = {}
    for name in ("momentum", "alpha", "weight_decay"):
        value = getattr(opts, name)
        if value is None:
            continue
        if name == "alpha" and opts.optimizer != "rmsprop" or \
                name == "momentum" and opts.optimizer not in ("sgd", "rmsprop"):
            fail(f"--{name.replace('_', '-')} is not a setting of --optimizer {opts.optimizer}")
        if name == "weight_decay" and opts.optimizer == "adagrad":
            fail("--weight-decay is not a setting of --optimizer adagrad (min-char-rnn's)")
        settings[name] = value
    return settings


def _new_model(opts: TrainOptions, corpus: Corpus) -> CharRNN:
    check_training_fits(opts.hidden_size, len(corpus.vocab), opts.seq_length, opts.batch_size,
                        opts.dtype, opts.num_layers, opts.cell,
                        optimizer_buffers=OPTIMIZER_BUFFERS[opts.optimizer])
    model = CharRNN(
        corpus.vocab, hidden_size=opts.hidden_size, seq_length=opts.seq_length,
        learning_rate=opts.learning_rate, batch_size=opts.batch_size, dtype=opts.dtype,
        seed=opts.seed, cell=opts.cell, num_layers=opts.num_layers, dropout=opts.dropout,
        init=opts.init, optimizer=opts.optimizer, optimizer_settings=_optimizer_settings(opts),
        grad_clip=None if opts.clip_mode == "none" else opts.grad_clip, clip_mode=opts.clip_mode,
    )
    model.preset = opts.preset
    return model


# State buffers of each optimizer at its default settings (the memory estimate's).
OPTIMIZER_BUFFERS = {"adagrad": 1, "adam": 2, "adamw": 2, "rmsprop": 1, "sgd": 1}


def _schedule(opts: TrainOptions, trainer: Trainer, target: Optional[int]) -> Optional[dict]:
    """The --lr-schedule spec (None: keep the model's), in iterations."""
    epoch = trainer.epoch_iterations(1)
    if opts.lr_schedule == "step":
        spec = {"kind": "step", "every": epoch, "factor": opts.lr_decay,
                "start": max(1, round(opts.lr_decay_after * epoch))}
    elif opts.lr_schedule == "cosine":
        total = target if target is not None else _iterations_in_time_limit(opts, trainer)
        spec = {"kind": "cosine", "total": total, "floor": opts.lr_floor}
    else:
        spec = {"kind": "constant"}
    if opts.warmup:
        spec = {"kind": "warmup", "iterations": opts.warmup, "inner": spec}
    return spec


def _iterations_in_time_limit(opts: TrainOptions, trainer: Trainer) -> int:
    """For a cosine schedule that must end with --time-limit: the iterations
    this machine does in it, measured on a throwaway copy of the model (the
    seconds that takes come off the time limit)."""
    if opts.time_limit is None:
        fail("--lr-schedule cosine needs --iterations, --epochs or --time-limit (the length it "
             "decays over)")
    started = time.monotonic()
    probe_seconds = min(3.0, opts.time_limit / 20)
    rate = iterations_per_second(trainer.model, trainer.train_ids, probe_seconds)
    opts.time_limit = max(opts.time_limit - (time.monotonic() - started), 1e-3)
    total = max(1, int(rate * opts.time_limit))
    click.echo(f"Cosine schedule over {total:,} iterations: {rate:.3g} iterations/s measured, "
               f"for --time-limit {opts.time_limit:.0f} s.", err=True)
    return trainer.model.iteration + total


def _resumed_model(ctx: click.Context, opts: TrainOptions, corpus: Corpus) -> CharRNN:
    model = open_model(opts.output)
    unknown = corpus.unknown_to(model.vocab)
    if unknown:
        fail(f"cannot --resume: the text has {len(unknown)} character(s) that '{opts.output}' "
             f"does not know: {describe_chars(unknown)}; remove them from the text, or train "
             "a new model with --force instead of --resume")
    _check_shape_options(ctx, opts, model)
    check_training_fits(model.hidden_size, model.vocab_size, model.seq_length, model.batch_size,
                        model.dtype, model.num_layers, model.cell,
                        optimizer_buffers=len(model.optimizer.state))
    if _given(ctx, "learning_rate") and opts.learning_rate != model.learning_rate:
        click.echo(f"Continuing with --learning-rate {opts.learning_rate:g} "
                   f"(the model was trained with {model.learning_rate:g}).", err=True)
        model.learning_rate = opts.learning_rate
    return model


def _check_shape_options(ctx: click.Context, opts: TrainOptions, model: CharRNN) -> None:
    flag = {"cell": "model", "num_layers": "layers"}
    clashes = [
        f"--{flag.get(name, name).replace('_', '-')} {getattr(opts, name)} "
        f"(the model has {_model_value(model, name)})"
        for name in SHAPE_OPTIONS
        if _given(ctx, name) and str(getattr(opts, name)) != _model_value(model, name)
    ]
    if clashes:
        fail(f"--resume continues '{opts.output}' with its own settings, but "
             f"{', '.join(clashes)}; leave these options out when resuming")


def _model_value(model: CharRNN, name: str) -> str:
    if name == "init":
        return model.network.init_scheme
    if name == "optimizer":
        return model.optimizer.name
    if name in ("momentum", "alpha", "weight_decay"):
        return str(model.optimizer.settings.get(name))
    value = getattr(model, name)
    return value.name if name == "dtype" else str(value)


# ----------------------------------------------------------------------
# Running: the Trainer works in a thread of its own, so that Ctrl-C is
# answered at once even while a kernel call runs for seconds.


class Reporter:
    """The Trainer's callback: progress, the CSV log and checkpoint notes."""

    def __init__(self, progress: TrainingProgress, log: CsvLog, output: str) -> None:
        self.progress, self.log, self.output = progress, log, output

    def __call__(self, trainer: Trainer, event: Event) -> None:
        if event.kind == "progress":
            self.log.add(event.iteration, event.loss, event.smooth_loss, event.chars_per_sec)
            # TrainingProgress takes min-char-rnn's smooth loss (per seq_length chars).
            self.progress.update({"iteration": event.iteration, "chars_per_sec": event.chars_per_sec,
                                  "smooth_loss": event.smooth_loss * trainer.model.seq_length})
        elif event.kind == "checkpoint":
            self._checkpoint(trainer, event)
        elif event.kind == "sample":
            self.progress.note(f"--- sample at iteration {event.iteration:,} ---\n{event.text}\n---")

    def _checkpoint(self, trainer: Trainer, event: Event) -> None:
        message = f"iteration {event.iteration:,}: saved '{self.output}'"
        if event.val_loss is not None:
            self.log.set_validation(event.val_loss)
            message += (f"; validation {num(event.val_loss)} nats/char, "
                        f"{num(event.val_bits)} bits/char")
            if event.best and trainer.best_checkpoint is not None:
                message += f" (best so far, also saved as '{trainer.best_checkpoint}')"
        self.progress.note(message)


def run_in_background(trainer: Trainer, callback: Any, **run_options: Any) -> History:
    """``trainer.run(...)`` in a worker thread while this (main) thread waits
    and answers signals: the first Ctrl-C asks the trainer to stop (it saves
    and returns), a second one ends the process at once without saving."""
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["history"] = trainer.run(callback=callback, **run_options)
        except BaseException as exc:  # re-raised in the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="crnn-train", daemon=True)
    with _InterruptHandler(trainer):
        worker.start()
        while worker.is_alive():
            worker.join(0.1)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["history"]


class _InterruptHandler:
    """While active (main thread only): the first SIGINT requests a stop, the
    second exits with status 130 at once."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer, self.count, self.previous = trainer, 0, None

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count == 1:
            self.trainer.request_stop()
            return
        sys.stderr.write("\nStopped at once (second Ctrl-C): nothing more was saved.\n")
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)

    def __enter__(self) -> "_InterruptHandler":
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None
