"""Where ``crnn train`` gets its text: small inputs read whole, large files
streamed into a memory-mapped cache of compact ids (crnn.data)."""

from __future__ import annotations

import os
import time
from typing import Any, NoReturn, Optional, Sequence

import click
import numpy as np

from .. import data as _data
from ..corpus import builtin_text
from ..errors import CorpusError
from ..vocab import Vocab
from .common import check_encoding, check_input_path, fail, fail_binary, fail_undecodable, read_texts

# Inputs at least this large (all files, no standard input) are never held as
# text: one pass reads their hash, vocabulary and length, and a second,
# skipped when the cache already has them, encodes them to compact ids in a
# memory-mapped cache file (crnn.data.cached_ids).
STREAM_BYTES = 64 << 20


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


def training_corpus(inputs: Sequence[str], encoding: str, decode_errors: str) -> Corpus:
    if not inputs:
        text = builtin_text()
        click.echo(f"No INPUT given: training on the built-in corpus ({len(text):,} characters "
                   "of Python standard-library source code).", err=True)
        return Corpus(Vocab.from_text(text), text=text)
    check_encoding(encoding)
    if "-" not in inputs:
        for name in inputs:
            check_input_path(name)
        if sum(os.path.getsize(name) for name in inputs) >= STREAM_BYTES:
            return _scanned_corpus(inputs, encoding, decode_errors)
    text = read_texts(inputs, encoding, decode_errors)
    return Corpus(Vocab.from_text(text), text=text)


def _scanned_corpus(inputs: Sequence[str], encoding: str, decode_errors: str) -> Corpus:
    started = time.monotonic()
    try:
        scan = _data.scan_files(inputs, encoding, decode_errors)
    except CorpusError as exc:
        _fail_corpus(exc, encoding)
    click.echo(f"Read {len(inputs)} file(s) in {time.monotonic() - started:.1f} s "
               f"({scan.n_chars:,} characters).", err=True)
    return Corpus(scan.vocab, scan=scan)


def _fail_corpus(exc: CorpusError, encoding: str) -> NoReturn:
    """The command line's own wording of a CorpusError from crnn.data."""
    shown = f"'{exc.source}'"
    if exc.kind == "empty":
        fail(f"{shown} is empty; give a file with some text in it")
    if exc.kind == "binary":
        fail_binary(shown)
    if exc.kind == "undecodable":
        line, column, byte = _locate(exc.source, exc.offset)
        fail_undecodable(shown, encoding, byte, line, column, exc.offset)
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


