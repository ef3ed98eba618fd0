"""The ``crnn`` command line: ``train``, ``sample``, ``eval`` and ``info``.

Each command parses its options, calls the Python API (``crnn.CharRNN``,
``crnn.load``, ``model.train`` ...) and reports; no model logic lives here.

Every error a user can cause ends as one line ``Error: ...`` on standard
error and a non-zero exit status, never a traceback (see ``CrnnGroup``).
Progress, notes and training samples go to standard error; standard output
carries only what a command produces (sampled text, eval and info results).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, NoReturn, Optional, Sequence

import click
import numpy as np

from . import data as _data
from ._version import __version__
from .corpus import builtin_text
from .errors import CorpusError, CrnnError, TrainingDivergedError
from .model import CharRNN
from .vocab import Vocab

# Without --iterations, --epochs or --time-limit, train runs this many
# iterations: about a minute at reference settings on a laptop, enough for
# sampled text to look like its corpus (indentation, keywords, names).
DEFAULT_ITERATIONS = 300_000  # ~35 s at the ~210k chars/s this takes on a 2.6 GHz Zen 4 core
DEFAULT_CHECKPOINT_EVERY = 10_000
MAX_CHUNK = 10_000  # iterations per model.train call when nothing else pauses it
SAMPLE_LENGTH = 200  # characters shown by --sample-every
LINE_SECONDS = 10.0  # seconds between plain progress lines (stderr not a terminal)
BAR_SECONDS = 0.1  # seconds between progress bar redraws
EXIT_INTERRUPTED = 130  # the shell's convention for "stopped by Ctrl-C"

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "show_default": True}


# ----------------------------------------------------------------------
# Errors: one line, no traceback


def fail(message: str) -> NoReturn:
    """Stop the command with ``Error: message`` and exit status 1."""
    raise click.ClickException(message)


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def _usage_message(exc: click.UsageError) -> str:
    hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
    return exc.format_message() + hint


def _os_error_message(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


class CrnnGroup(click.Group):
    """click's group, with every user error reported as a single line.

    click would print a usage block before a usage error, and the package's
    own exceptions (crnn.CrnnError, OSError) would end in a traceback; here
    each becomes ``Error: ...`` and a non-zero exit.  Anything else is a bug
    and keeps its traceback.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except getattr(click.exceptions, "NoArgsIsHelpError", ()) as exc:
            click.echo(exc.ctx.get_help())  # plain "crnn": show the help
            code = 0
        except click.UsageError as exc:
            self._exit_with_error(_usage_message(exc), exc.exit_code)
        except click.ClickException as exc:
            self._exit_with_error(exc.format_message(), exc.exit_code)
        except CrnnError as exc:
            self._exit_with_error(str(exc), 1)
        except OSError as exc:
            self._exit_with_error(_os_error_message(exc), 1)
        except click.Abort:  # Ctrl-C outside training
            click.echo("Aborted!", err=True)
            code = EXIT_INTERRUPTED
        sys.exit(code if isinstance(code, int) else 0)

    @staticmethod
    def _exit_with_error(message: str, code: int) -> NoReturn:
        click.echo(f"Error: {_one_line(message)}", err=True)
        sys.exit(code)


@click.group(cls=CrnnGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="crnn", message="%(prog)s %(version)s")
def cli() -> None:
    """crnn: a fast character-level RNN language model (min-char-rnn in C).

    \b
    Train on the built-in corpus (Python's own source code) and sample:
        crnn train -o model.npz
        crnn sample model.npz
    """


def main(argv: Optional[Sequence[str]] = None, prog_name: str = "crnn") -> None:
    """Entry point of the ``crnn`` script and of ``python -m crnn``."""
    cli.main(args=argv, prog_name=prog_name)


# ----------------------------------------------------------------------
# Reading text

ENCODING_OPTION = click.option(
    "--encoding", default="utf-8", metavar="NAME",
    help="Encoding of the text files, e.g. latin-1 or utf-16.",
)
ERRORS_OPTION = click.option(
    "--errors", "decode_errors", type=click.Choice(["strict", "replace"]), default="strict",
    help="What to do with bytes that do not decode: stop with an error, or "
    "replace them with U+FFFD.",
)


def read_texts(names: Sequence[str], encoding: str, errors: str) -> str:
    """The files named (``-`` = standard input), decoded and concatenated in order."""
    _check_encoding(encoding)
    return "".join(_read_text(name, encoding, errors) for name in names)


def _check_encoding(encoding: str) -> None:
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError:
        fail(f"unknown --encoding '{encoding}'; use a Python codec name such as utf-8 or latin-1")


def _read_text(name: str, encoding: str, errors: str) -> str:
    shown = "standard input" if name == "-" else f"'{name}'"
    raw = _read_bytes(name)
    if not raw:
        fail(f"{shown} is empty; give a file with some text in it")
    return _decode(raw, shown, encoding, errors)


def _read_bytes(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    _check_input_path(name)
    with open(name, "rb") as f:
        return f.read()


def _check_input_path(name: str) -> None:
    if not os.path.exists(name):
        fail(f"input file '{name}' does not exist; check the path")
    if os.path.isdir(name):
        fail(f"'{name}' is a folder, not a text file; name the files inside it instead")


def _decode(raw: bytes, shown: str, encoding: str, errors: str) -> str:
    """``raw`` as text; says where undecodable bytes are and what to do."""
    try:
        text = raw.decode(encoding, errors)
    except UnicodeDecodeError as exc:
        if b"\0" in raw:
            _fail_binary(shown)
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        _fail_undecodable(shown, encoding, raw[exc.start], line, column, exc.start)
    if "\0" in text:
        _fail_binary(shown)
    return text


def _fail_undecodable(shown: str, encoding: str, byte: int, line: int, column: int, offset: int) -> NoReturn:
    fail(
        f"{shown} is not valid {encoding}: byte 0x{byte:02x} at line {line}, "
        f"byte {column} (offset {offset}); if the file uses another encoding pass "
        "it with --encoding (e.g. --encoding latin-1), or pass --errors replace "
        "to replace undecodable bytes"
    )


def _fail_binary(shown: str) -> NoReturn:
    fail(f"{shown} looks like a binary file (it contains NUL bytes); crnn needs a text file")


def describe_chars(chars: Sequence[str], limit: int = 10) -> str:
    """``'é', '€' and 3 more``: characters named readably in a message."""
    shown = ", ".join(repr(c) for c in chars[:limit])
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


# ----------------------------------------------------------------------
# Model files


def open_model(path: str) -> CharRNN:
    """Load the model at ``path`` (one-line errors for anything wrong)."""
    from .io import load

    if not os.path.exists(path):
        fail(f"model file '{path}' does not exist; train one with: crnn train -o {path}")
    if os.path.isdir(path):
        fail(f"'{path}' is a folder, not a model file")
    return load(path)


def check_output(path: str, *, replace_ok: bool) -> None:
    """Fail now, before any training, if the model could not be saved to ``path``."""
    if os.path.isdir(path):
        fail(f"-o '{path}' is a folder; give a file name such as {os.path.join(path, 'model.npz')}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        fail(f"the folder for -o '{path}' does not exist ({folder}); create it first")
    if not _can_create_file_beside(path, folder):
        fail(f"cannot write to the folder {folder}; choose another -o path or fix its permissions")
    if os.path.exists(path) and not replace_ok:
        fail(
            f"'{path}' already exists; add --resume to continue training it, "
            "or --force to replace it with a new model"
        )


def _can_create_file_beside(path: str, folder: str) -> bool:
    # Named like the model's own temporary files (.NAME.PID.crnn-*.tmp), so
    # if we are killed right here the next save of the model removes it.
    prefix = f".{os.path.basename(path)}.{os.getpid()}.crnn-probe-"
    try:
        fd, probe = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


# ----------------------------------------------------------------------
# crnn train


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("inputs", nargs=-1, metavar="[INPUT]...")
@click.option("-o", "--output", required=True, metavar="MODEL", help="Model file to write (.npz).")
@click.option("--hidden-size", type=click.IntRange(min=1), default=100, help="Hidden units.")
@click.option("--seq-length", type=click.IntRange(min=1), default=25,
              help="Characters per training chunk (truncated BPTT length).")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), default=0.1,
              help="Adagrad learning rate.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1,
              help="Streams trained at once, each on its own segment of the text.")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64",
              help="Floating-point type of the model.")
@click.option("--seed", type=int, default=None, show_default="random",
              help="Seed for the initial weights.")
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
    Ctrl-C saves MODEL and stops.
    """
    opts = TrainOptions(output=output, **options)
    check_output(output, replace_ok=opts.resume or opts.force)
    corpus = _training_corpus(inputs, opts)
    model = _resumed_model(ctx, opts, corpus) if _can_resume(opts) else _new_model(opts, corpus)
    model.n_threads = opts.threads
    # From here on the corpus is compact ids (1-2 bytes a character), not text.
    train_ids, val_ids = split_validation(corpus.ids(model.vocab), opts.val_fraction)
    del corpus
    check_length(train_ids, val_ids, model)
    val_ids = val_ids[:VAL_MAX_CHARS]
    plan = make_plan(model, len(train_ids), opts)
    if plan.target is not None and model.iteration >= plan.target:
        click.echo(f"'{output}' has already done {model.iteration:,} iterations "
                   f"(target {plan.target:,}); raise --iterations or --epochs to train more.",
                   err=True)
        return
    with open_log(opts.log_path) as log:
        session = TrainingSession(model, train_ids, val_ids, plan, opts, log)
        session.run()
    session.finish()


@dataclass
class TrainOptions:
    """The options of ``crnn train`` (names as on the command line)."""

    output: str
    hidden_size: int
    seq_length: int
    learning_rate: float
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


# Inputs at least this large (all files, no standard input) are never held as
# text: one pass reads their hash, vocabulary and length, and a second,
# skipped when the cache already has them, encodes them to compact ids in a
# memory-mapped cache file (crnn.data.cached_ids).
STREAM_BYTES = 64 << 20
# Validation scores at most this many held-out characters at each checkpoint
# (all of them for corpora up to 10 MB): a 10% tail of a 1 GB corpus would
# take longer to score than the training between two checkpoints.
VAL_MAX_CHARS = 1_000_000


class Corpus:
    """The training text: small inputs read whole, large files streamed.

    ``vocab`` is the text's own characters; ``ids(vocab)`` gives the text as
    read-only compact ids for a model's vocabulary (a memory map for large
    files) and lets go of the text.
    """

    def __init__(self, vocab: Vocab, text: Optional[str] = None, scan: Any = None) -> None:
        self.vocab, self._text, self._scan = vocab, text, scan

    def unknown_to(self, vocab: Vocab) -> tuple[str, ...]:
        return tuple(c for c in self.vocab.chars if c not in vocab)

    def ids(self, vocab: Vocab) -> np.ndarray:
        if self._text is not None:
            ids = _data.encode_corpus(self._text, vocab)
            ids.flags.writeable = False
            self._text = None
            return ids
        started = time.monotonic()
        ids, reused = _data.cached_ids(self._scan, vocab)
        how = "reusing the cached ids" if reused else f"encoded to ids in {time.monotonic() - started:.1f} s"
        click.echo(f"Corpus: {len(ids):,} characters, {len(self.vocab)} distinct; {how} "
                   f"({ids.filename})", err=True)
        return ids


def _training_corpus(inputs: Sequence[str], opts: TrainOptions) -> Corpus:
    if not inputs:
        text = builtin_text()
        click.echo(f"No INPUT given: training on the built-in corpus ({len(text):,} characters "
                   "of Python standard-library source code).", err=True)
        return Corpus(Vocab.from_text(text), text=text)
    _check_encoding(opts.encoding)
    if "-" not in inputs:
        for name in inputs:
            _check_input_path(name)
        if sum(os.path.getsize(name) for name in inputs) >= STREAM_BYTES:
            return _scanned_corpus(inputs, opts)
    text = read_texts(inputs, opts.encoding, opts.decode_errors)
    return Corpus(Vocab.from_text(text), text=text)


def _scanned_corpus(inputs: Sequence[str], opts: TrainOptions) -> Corpus:
    started = time.monotonic()
    try:
        scan = _data.scan_files(inputs, opts.encoding, opts.decode_errors)
    except CorpusError as exc:
        _fail_corpus(exc, opts.encoding)
    click.echo(f"Read {len(inputs)} file(s) in {time.monotonic() - started:.1f} s "
               f"({scan.n_chars:,} characters).", err=True)
    return Corpus(scan.vocab, scan=scan)


def _fail_corpus(exc: CorpusError, encoding: str) -> NoReturn:
    """The command line's own wording of a CorpusError from crnn.data."""
    shown = f"'{exc.source}'"
    if exc.kind == "empty":
        fail(f"{shown} is empty; give a file with some text in it")
    if exc.kind == "binary":
        _fail_binary(shown)
    if exc.kind == "undecodable":
        line, column, byte = _locate(exc.source, exc.offset)
        _fail_undecodable(shown, encoding, byte, line, column, exc.offset)
    fail(str(exc))


def _locate(path: str, offset: int) -> tuple[int, int, int]:
    """(line, byte within the line, byte value) of ``offset`` in a file, read in pieces."""
    line, line_start, position = 1, 0, 0
    with open(path, "rb") as f:
        while position < offset:
            piece = f.read(min(_data.CHUNK_BYTES, offset - position))
            if not piece:
                break
            newlines = piece.count(b"\n")
            if newlines:
                line += newlines
                line_start = position + piece.rfind(b"\n") + 1
            position += len(piece)
        byte = f.read(1)
    return line, offset - line_start + 1, byte[0] if byte else 0


def split_validation(ids: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(training ids, held-out ids): the held-out part is the last ``fraction``."""
    held = int(len(ids) * fraction)
    if held < 2:  # too little to evaluate: train on everything
        held = 0
    return ids[: len(ids) - held], ids[len(ids) - held :]


def check_length(train_ids: np.ndarray, val_ids: np.ndarray, model: CharRNN) -> None:
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


def _can_resume(opts: TrainOptions) -> bool:
    """--resume was given and MODEL exists (if it does not, say a new one starts)."""
    if opts.resume and not os.path.exists(opts.output):
        click.echo(f"'{opts.output}' does not exist yet: starting a new model.", err=True)
        return False
    return opts.resume


def _new_model(opts: TrainOptions, corpus: Corpus) -> CharRNN:
    return CharRNN(
        corpus.vocab, hidden_size=opts.hidden_size, seq_length=opts.seq_length,
        learning_rate=opts.learning_rate, batch_size=opts.batch_size, dtype=opts.dtype,
        seed=opts.seed,
    )


# Options that fix the model's shape: with --resume they come from MODEL.
SHAPE_OPTIONS = ("hidden_size", "seq_length", "batch_size", "dtype")


def _resumed_model(ctx: click.Context, opts: TrainOptions, corpus: Corpus) -> CharRNN:
    model = open_model(opts.output)
    unknown = corpus.unknown_to(model.vocab)
    if unknown:
        fail(f"cannot --resume: the text has {len(unknown)} character(s) that '{opts.output}' "
             f"does not know: {describe_chars(unknown)}; remove them from the text, or train "
             "a new model with --force instead of --resume")
    _check_shape_options(ctx, opts, model)
    if _given(ctx, "learning_rate") and opts.learning_rate != model.learning_rate:
        click.echo(f"Continuing with --learning-rate {opts.learning_rate:g} "
                   f"(the model was trained with {model.learning_rate:g}).", err=True)
        model.learning_rate = opts.learning_rate
    return model


def _given(ctx: click.Context, name: str) -> bool:
    """Whether option ``name`` was set on the command line (not left at its default)."""
    return ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT


def _check_shape_options(ctx: click.Context, opts: TrainOptions, model: CharRNN) -> None:
    clashes = [
        f"--{name.replace('_', '-')} {getattr(opts, name)} (the model has {_model_value(model, name)})"
        for name in SHAPE_OPTIONS
        if _given(ctx, name) and str(getattr(opts, name)) != _model_value(model, name)
    ]
    if clashes:
        fail(f"--resume continues '{opts.output}' with its own settings, but "
             f"{', '.join(clashes)}; leave these options out when resuming")


def _model_value(model: CharRNN, name: str) -> str:
    value = getattr(model, name)
    return value.name if name == "dtype" else str(value)


@dataclass
class Plan:
    """When a training run stops and pauses."""

    target: Optional[int]  # the model's total iterations to reach (None: no limit)
    deadline: Optional[float]  # time.monotonic() at which to stop (None: no limit)
    checkpoint_every: int
    sample_every: Optional[int]

    def steps_to_next_pause(self, iteration: int) -> int:
        """Iterations to train before the next checkpoint, sample or the end."""
        stops = [iteration + MAX_CHUNK, _next_multiple(iteration, self.checkpoint_every)]
        if self.sample_every:
            stops.append(_next_multiple(iteration, self.sample_every))
        if self.target is not None:
            stops.append(self.target)
        return min(stops) - iteration

    def finished(self, iteration: int) -> bool:
        return self.target is not None and iteration >= self.target

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


def _next_multiple(iteration: int, every: int) -> int:
    return (iteration // every + 1) * every


def make_plan(model: CharRNN, n_train_chars: int, opts: TrainOptions) -> Plan:
    """The run's limits; an epoch is len(text) / (seq_length * batch_size) iterations."""
    targets = []
    if opts.iterations is not None:
        targets.append(opts.iterations)
    if opts.epochs is not None:
        chars_per_iteration = model.seq_length * model.batch_size
        targets.append(max(1, math.ceil(opts.epochs * n_train_chars / chars_per_iteration)))
    if not targets and opts.time_limit is None:
        targets.append(DEFAULT_ITERATIONS)
    deadline = None if opts.time_limit is None else time.monotonic() + opts.time_limit
    return Plan(min(targets) if targets else None, deadline, opts.checkpoint_every,
                opts.sample_every)


class TrainingSession:
    """One run of ``crnn train``: the loop around ``model.train``.

    The model trains in chunks that end at the next checkpoint or sample;
    the callback after every iteration reports progress, writes the log and
    stops the chunk early on Ctrl-C or at the time limit.
    """

    def __init__(self, model: CharRNN, train_ids: np.ndarray, val_ids: np.ndarray, plan: Plan,
                 opts: TrainOptions, log: "CsvLog") -> None:
        self.model, self.train_ids, self.val_ids = model, train_ids, val_ids
        self.plan, self.opts, self.log = plan, opts, log
        self.saved_iteration: Optional[int] = None
        self.stop_reason: Optional[str] = None  # "done", "time", "interrupt", "diverged"
        self.diverged_at: Optional[int] = None
        self.diverged_what = "the loss or the weights became NaN or infinite"
        self.val_nats: Optional[float] = None
        self.started = time.monotonic()
        self.progress = Progress(plan, model)
        self._interrupt = InterruptFlag()

    def run(self) -> None:
        with self._interrupt, self.progress:
            while self.stop_reason is None:
                self._train_chunk()
                self._after_chunk()

    def _train_chunk(self) -> None:
        steps = self.plan.steps_to_next_pause(self.model.iteration)
        try:
            self.model.train(self.train_ids, iterations=steps, callback=self._after_iteration)
        except TrainingDivergedError as exc:
            self.diverged_at, self.stop_reason = exc.iteration, "diverged"
        if self.stop_reason != "diverged" and not weights_are_finite(self.model):
            # The loss can still be finite on the step that overflowed the
            # weights; never save (or keep training) such a model.
            self.diverged_at, self.stop_reason = self.model.iteration, "diverged"

    def _after_iteration(self, model: CharRNN, info: dict) -> bool:
        per_char = model.seq_length
        self.log.add(info["iteration"], info["loss"] / per_char,
                     info["smooth_loss"] / per_char, info["chars_per_sec"])
        self.progress.update(info)
        if self._interrupt.is_set:
            self.stop_reason = "interrupt"
        elif self.plan.out_of_time():
            self.stop_reason = "time"
        return self.stop_reason is None

    def _after_chunk(self) -> None:
        iteration = self.model.iteration
        if self.stop_reason is None and self.plan.finished(iteration):
            self.stop_reason = "done"
        if self.stop_reason is None and self.plan.out_of_time():
            self.stop_reason = "time"
        if self.stop_reason == "diverged":
            return
        if self.stop_reason is not None or iteration % self.plan.checkpoint_every == 0:
            self.checkpoint()
        if self.stop_reason == "diverged":
            return
        if self.plan.sample_every and iteration % self.plan.sample_every == 0:
            self.show_sample()

    def checkpoint(self) -> None:
        """Measure validation loss, then save MODEL atomically and report.

        Validation comes first: weights that are finite but broken (a huge
        learning rate) give a NaN or infinite validation loss, and such a
        model is treated as diverged and never saved over a good checkpoint.
        """
        if self.saved_iteration == self.model.iteration:
            return
        result = None
        if len(self.val_ids):
            result = self.model.evaluate(self.val_ids)
            if not math.isfinite(result["nats_per_char"]):
                self.diverged_at, self.stop_reason = self.model.iteration, "diverged"
                self.diverged_what = f"the validation loss became {result['nats_per_char']}"
                return
        try:
            self.model.save(self.opts.output)
        except OSError as exc:
            self._fail_checkpoint(exc)
        self.saved_iteration = self.model.iteration
        message = f"iteration {self.model.iteration:,}: saved '{self.opts.output}'"
        if result is not None:
            self.val_nats = result["nats_per_char"]
            self.log.set_validation(self.val_nats)
            message += (f"; validation {_num(self.val_nats)} nats/char, "
                        f"{_num(result['bits_per_char'])} bits/char")
        self.progress.note(message)

    def _fail_checkpoint(self, exc: OSError) -> NoReturn:
        """A checkpoint could not be written (disk full, folder made read-only ...):
        crnn.io.save has left any previous file intact; say which one that is."""
        output = self.opts.output
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        kept = self._what_output_holds("'{output}' still holds the checkpoint of iteration {iteration:,}")
        fail(f"could not save the checkpoint of iteration {self.model.iteration:,} to '{output}' "
             f"({reason}); {kept}; free some space or fix the folder, then run the same "
             "command with --resume")

    def _what_output_holds(self, checkpoint_phrase: str) -> str:
        """After a failure, what MODEL holds: ``checkpoint_phrase`` (formatted with
        output and iteration) if this run saved a checkpoint, else whether the
        file is unchanged or absent."""
        output = self.opts.output
        if self.saved_iteration is not None:
            return checkpoint_phrase.format(output=output, iteration=self.saved_iteration)
        if os.path.exists(output):
            return f"'{output}' was not changed"
        return "no model was saved"

    def show_sample(self) -> None:
        text = self.model.sample(SAMPLE_LENGTH, seed=self.model.iteration)
        self.progress.note(f"--- sample at iteration {self.model.iteration:,} ---\n{text}\n---")

    def finish(self) -> None:
        """Tell the user how the run ended (an error exit for divergence and Ctrl-C)."""
        if self.stop_reason == "diverged":
            self._fail_diverged()
        model, output = self.model, self.opts.output
        if self.stop_reason == "interrupt":
            click.echo(f"Interrupted at iteration {model.iteration:,}: saved '{output}'; "
                       "run the same command with --resume to continue.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        seconds = time.monotonic() - self.started
        why = "Time limit reached" if self.stop_reason == "time" else "Done"
        val = f", validation {_num(self.val_nats)} nats/char" if self.val_nats is not None else ""
        click.echo(f"{why}: {model.iteration:,} iterations (smooth loss "
                   f"{_num(model.smooth_loss / model.seq_length)} nats/char{val}) in {seconds:.1f} s; "
                   f"saved '{output}'. Try: crnn sample {output}", err=True)

    def _fail_diverged(self) -> NoReturn:
        kept = self._what_output_holds("'{output}' keeps the last checkpoint (iteration {iteration:,})")
        fail(f"training diverged at iteration {self.diverged_at:,} ({self.diverged_what}); "
             f"{kept}; try a smaller --learning-rate than "
             f"{self.model.learning_rate:g}")


def weights_are_finite(model: CharRNN) -> bool:
    return all(np.isfinite(array).all() for array in model.params.values())


class InterruptFlag:
    """While active, the first Ctrl-C only sets ``is_set`` (training then stops
    after the current iteration and saves); a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.is_set = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        self.is_set = True
        signal.signal(signal.SIGINT, self._previous)

    def __enter__(self) -> "InterruptFlag":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class Progress:
    """Progress on standard error: click's progress bar on a terminal,
    plain lines every LINE_SECONDS otherwise."""

    def __init__(self, plan: Plan, model: CharRNN, stream: Any = None) -> None:
        self.plan, self.model = plan, model
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
                show_pos=self.plan.target is not None, item_show_func=lambda status: status,
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
        if self.plan.target is not None:
            return max(1, self.plan.target - self.start_iteration)
        return max(1, round(self.plan.deadline - self.started))

    def _position(self) -> int:
        if self.plan.target is not None:
            return self.model.iteration - self.start_iteration
        return int(time.monotonic() - self.started)

    def _status(self) -> str:
        info = self.info
        return (f"it {info['iteration']:,}  loss {_num(info['smooth_loss'] / self.model.seq_length, 3)}"
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
        total = f"/{self.plan.target:,}" if self.plan.target is not None else ""
        info = self.info
        self.printed_iteration = info["iteration"]
        click.echo(f"iteration {info['iteration']:,}{total}  loss "
                   f"{_num(info['smooth_loss'] / self.model.seq_length)} nats/char  "
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
        if self.plan.deadline is not None:
            lefts.append(max(0.0, self.plan.deadline - time.monotonic()))
        done = self.model.iteration - self.start_iteration
        if self.plan.target is not None and done > 0:
            rate = done / max(time.monotonic() - self.started, 1e-9)
            lefts.append((self.plan.target - self.model.iteration) / rate)
        return min(lefts) if lefts else None

    def note(self, message: str) -> None:
        """A message on its own lines, not mixed into the bar."""
        if self.bar is not None:
            width = shutil.get_terminal_size().columns
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()
            self.last_shown = -math.inf  # redraw the bar at the next update
        click.echo(message, file=self.stream)


def _num(value: float, digits: int = 4) -> str:
    """A loss for people: fixed decimals, or scientific when absurdly large."""
    return f"{value:.{digits}f}" if abs(value) < 1e6 else f"{value:.{digits}g}"


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
# crnn sample


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("model_path", metavar="MODEL")
@click.option("-n", "--length", type=click.IntRange(min=0), default=500,
              help="Characters to generate (not counting the prime).")
@click.option("--prime", default="", help="Text to start from: fed to the network first.")
@click.option("--temperature", type=click.FloatRange(min=0), default=1.0,
              help="Below 1: safer, more repetitive text; above 1: wilder; 0: always the most likely character.")
@click.option("--seed", type=int, default=None, show_default="random",
              help="Seed for reproducible samples.")
@click.option("--echo-prime/--no-echo-prime", default=True,
              help="Print the prime text before the generated text.")
def sample(model_path: str, length: int, prime: str, temperature: float,
           seed: Optional[int], echo_prime: bool) -> None:
    """Generate text from MODEL, written to standard output as it is made.

    The output starts with the --prime text (unless --no-echo-prime),
    followed by -n generated characters.
    """
    model = open_model(model_path)
    unknown = model.vocab.unknown_chars(prime)
    if unknown:
        fail(f"--prime has {len(unknown)} character(s) that '{model_path}' does not know: "
             f"{describe_chars(unknown)}; remove them ('crnn info {model_path}' lists the "
             "characters it knows)")
    out = sys.stdout
    last = ""
    if echo_prime and prime:
        click.echo(prime, nl=False)
        last = prime[-1]
    for char in model.generate(length, prime=prime, temperature=temperature, seed=seed):
        click.echo(char, nl=False)
        last = char
    if out.isatty() and last != "\n":
        click.echo()


# ----------------------------------------------------------------------
# crnn eval


@cli.command("eval", context_settings=CONTEXT_SETTINGS)
@click.argument("model_path", metavar="MODEL")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@ENCODING_OPTION
@ERRORS_OPTION
def evaluate(model_path: str, files: Sequence[str], as_json: bool, encoding: str,
             decode_errors: str) -> None:
    """How well MODEL predicts the text of FILE... (joined in order; '-' = stdin).

    Prints the characters predicted, the loss in nats and bits per character,
    and the perplexity (e to the nats per character).
    """
    model = open_model(model_path)
    text = read_texts(files, encoding, decode_errors)
    unknown = model.vocab.unknown_chars(text)
    if unknown:
        fail(f"the text has {len(unknown)} character(s) that '{model_path}' does not know: "
             f"{describe_chars(unknown)}; a model can only score text made of its own characters")
    if len(text) < 2:
        fail("the text has 1 character; evaluation needs at least 2")
    result = model.evaluate(text)
    report = {
        "model": model_path,
        "files": list(files),
        "chars": result["chars"],
        "nats_per_char": result["nats_per_char"],
        "bits_per_char": result["bits_per_char"],
        "perplexity": result["perplexity"],
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"chars       {report['chars']}")
    click.echo(f"nats/char   {_num(report['nats_per_char'])}")
    click.echo(f"bits/char   {_num(report['bits_per_char'])}")
    click.echo(f"perplexity  {_num(report['perplexity'])}")


# ----------------------------------------------------------------------
# crnn info


@cli.command(context_settings=CONTEXT_SETTINGS)
@click.argument("model_path", metavar="MODEL")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
def info(model_path: str, as_json: bool) -> None:
    """Describe MODEL: settings, vocabulary, size and training so far."""
    model = open_model(model_path)
    facts = model_facts(model_path, model)
    if as_json:
        click.echo(json.dumps(facts, indent=2, ensure_ascii=False))
        return
    for key, value in facts.items():
        if key == "vocabulary":
            value = printable_vocab(value)
        elif isinstance(value, float):
            value = f"{value:.6g}"
        click.echo(f"{key.replace('_', ' ') + ':':<22}{value}")


def model_facts(path: str, model: CharRNN) -> dict:
    metadata = file_metadata(path)
    return {
        "file": path,
        "format_version": metadata.get("format_version"),
        "written_by_crnn": metadata.get("crnn_version"),
        "crnn_version": __version__,
        "hidden_size": model.hidden_size,
        "seq_length": model.seq_length,
        "learning_rate": model.learning_rate,
        "batch_size": model.batch_size,
        "dtype": model.dtype.name,
        "vocab_size": model.vocab_size,
        "vocabulary": "".join(model.vocab),
        "parameters": model.param_count,
        "iterations": model.iteration,
        "smooth_loss": model.smooth_loss,
        "smooth_loss_per_char": model.smooth_loss / model.seq_length,
    }


def file_metadata(path: str) -> dict:
    """The JSON metadata of a model file (only the format and crnn versions
    are needed from it: the model object does not carry them)."""
    from .io import read_metadata

    return read_metadata(path)


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", " ": "␣", "\\": "\\\\"}


def printable_vocab(chars: str) -> str:
    """The vocabulary with invisible characters spelled out (\\n, ␣, \\x07 ...)."""
    return "".join(_ESCAPES.get(c) or (c if c.isprintable() else repr(c)[1:-1]) for c in chars)


# ----------------------------------------------------------------------
# crnn viz and crnn plot (src/crnn/viz/commands.py)

from .viz.commands import plot as _plot_command, viz as _viz_command  # noqa: E402

cli.add_command(_viz_command)
cli.add_command(_plot_command)
