"""What every command shares: one-line errors, reading text files, opening
model files, checking the output path, and number formatting."""

from __future__ import annotations

import codecs
import os
import sys
from typing import NoReturn, Sequence

import click

from .. import data as _data
from .. import io as _io
from ..model import CharRNN
from ..shellhint import shell_path
from ..vocab import describe_chars

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "show_default": True}
EXIT_INTERRUPTED = 130  # the shell's convention for "stopped by Ctrl-C"

__all__ = ["describe_chars", "shell_path"]  # re-exported for the commands


def fail(message: str) -> NoReturn:
    """Stop the command with ``Error: message`` and exit status 1."""
    raise click.ClickException(message)


def one_line(message: str) -> str:
    return " ".join(str(message).split())


def num(value: float, digits: int = 4) -> str:
    """A loss for people: fixed decimals, or scientific when absurdly large."""
    return f"{value:.{digits}f}" if abs(value) < 1e6 else f"{value:.{digits}g}"


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
SEED_TYPE = click.IntRange(min=0, max=2**63 - 1)


def read_texts(names: Sequence[str], encoding: str, errors: str) -> str:
    """The files named (``-`` = standard input), decoded and concatenated in order."""
    check_encoding(encoding)
    return "".join(_read_text(name, encoding, errors) for name in names)


def check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        fail(f"unknown --encoding '{encoding}'; use a Python codec name such as utf-8 or latin-1")


def _read_text(name: str, encoding: str, errors: str) -> str:
    shown = "standard input" if name == "-" else f"'{name}'"
    raw = _read_bytes(name)
    if not raw:
        fail(f"{shown} is empty; give a file with some text in it")
    text = _decode(raw, shown, encoding, errors)
    warning = _data.suspicious_decoding(text, encoding, shown)
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    return text


def _read_bytes(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    check_input_path(name)
    with open(name, "rb") as f:
        return f.read()


def check_input_path(name: str) -> None:
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
            fail_binary(shown)
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        fail_undecodable(shown, encoding, raw[exc.start], line, column, exc.start)
    if "\0" in text:
        fail_binary(shown)
    return text


def fail_undecodable(shown: str, encoding: str, byte: int, line: int, column: int, offset: int) -> NoReturn:
    fail(
        f"{shown} is not valid {encoding}: byte 0x{byte:02x} at line {line}, "
        f"byte {column} (offset {offset}); if the file uses another encoding pass "
        "it with --encoding (e.g. --encoding latin-1), or pass --errors replace "
        "to replace undecodable bytes"
    )


def fail_binary(shown: str) -> NoReturn:
    fail(f"{shown} looks like a binary file (it contains NUL bytes); crnn needs a text file")


# ----------------------------------------------------------------------
# Model files


def open_model(path: str) -> CharRNN:
    """Load the model at ``path`` (one-line errors for anything wrong)."""
    if not os.path.exists(path):
        fail(f"model file '{path}' does not exist; train one with: crnn train -o {shell_path(path)}")
    if os.path.isdir(path):
        fail(f"'{path}' is a folder, not a model file")
    return _io.load(path)


def check_output(path: str, *, replace_ok: bool) -> None:
    """Fail now, before any training, if the model could not be saved to ``path``."""
    if os.path.isdir(path):
        fail(f"-o '{path}' is a folder; give a file name such as {os.path.join(path, 'model.npz')}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        fail(f"the folder for -o '{path}' does not exist ({folder}); create it first")
    if not _io.can_save_to(path):
        fail(f"cannot write to the folder {folder}; choose another -o path or fix its permissions")
    if os.path.exists(path) and not replace_ok:
        fail(
            f"'{path}' already exists; add --resume to continue training it, "
            "or --force to replace it with a new model"
        )
