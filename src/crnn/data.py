"""Reading text and turning it into compact id arrays for training.

A corpus is held as ids, not as a Python ``str``: one byte per character when
the vocabulary has at most 256 characters (uint8), two when it has at most
65536 (uint16).  Any 1-D integer array works, including a ``numpy.memmap``,
so corpora larger than memory can be trained on.
"""

from __future__ import annotations

import codecs
import os
from typing import Union

import numpy as np

from .errors import CorpusError, VocabError
from .vocab import Vocab

PathLike = Union[str, "os.PathLike[str]"]
TextOrIds = Union[str, np.ndarray]


def decode_text(
    data: bytes, source: str = "<input>", encoding: str = "utf-8", errors: str = "strict"
) -> str:
    """Decode ``data`` to text, with errors that say where and what to do.

    Raises CorpusError for bytes that do not decode (naming the byte offset)
    and for binary data (a NUL byte, in ASCII-compatible encodings).
    """
    codec = codecs.lookup(encoding)  # LookupError for an unknown encoding
    if "a".encode(codec.name) == b"a":
        nul = data.find(b"\0")
        if nul >= 0:
            raise CorpusError(
                f"{source} looks like a binary file (NUL byte at offset {nul}); "
                "crnn trains on text files"
            )
    try:
        return data.decode(codec.name, errors)
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{source} is not valid {codec.name}: byte offset {exc.start} "
            f"({data[exc.start:exc.start + 1]!r}): {exc.reason}; pass the right "
            "encoding, or errors='replace' to substitute undecodable bytes"
        ) from None


def read_text(path: PathLike, encoding: str = "utf-8", errors: str = "strict") -> str:
    """The contents of the text file at ``path``.

    OSError (FileNotFoundError, IsADirectoryError, ...) for path problems;
    CorpusError for an empty, binary or undecodable file.
    """
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise CorpusError(f"{os.fspath(path)} is empty; give a file with some text in it")
    return decode_text(data, os.fspath(path), encoding, errors)


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned dtype that holds ids for ``vocab_size`` characters."""
    if vocab_size <= 1 << 8:
        return np.dtype(np.uint8)
    if vocab_size <= 1 << 16:
        return np.dtype(np.uint16)
    return np.dtype(np.uint32)


def encode_corpus(text: str, vocab: Vocab) -> np.ndarray:
    """``text`` as an array of compact ids (see :func:`id_dtype`)."""
    return vocab.encode(text, dtype=id_dtype(len(vocab)))


def as_ids(text_or_ids: TextOrIds, vocab: Vocab) -> np.ndarray:
    """Ids for ``text_or_ids``: encodes a str, validates an id array.

    An id array must be 1-D with integer ids in [0, len(vocab)); it is not
    copied (a memory map stays a memory map).
    """
    if isinstance(text_or_ids, str):
        return encode_corpus(text_or_ids, vocab)
    ids = text_or_ids
    if not isinstance(ids, np.ndarray) or ids.dtype.kind not in "iu" or ids.ndim != 1:
        raise TypeError("expected a str or a 1-D numpy array of integer ids")
    if ids.size:
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= len(vocab):
            raise VocabError(
                f"corpus ids must be in [0, {len(vocab)}) for this vocabulary, "
                f"found ids from {low} to {high}; encode the text with the "
                "model's vocabulary"
            )
    return ids
