"""Reading text and turning it into compact id arrays for training.

A corpus is held as ids, not as a Python ``str``: one byte per character when
the vocabulary has at most 256 characters (uint8), two when it has at most
65536 (uint16).  Any 1-D integer array works, including a ``numpy.memmap``,
so corpora larger than memory can be trained on.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from typing import Iterator, Optional, Union

import numpy as np

from .errors import CorpusError, VocabError
from .vocab import Vocab, code_points

PathLike = Union[str, "os.PathLike[str]"]
TextOrIds = Union[str, np.ndarray]

CHUNK_BYTES = 1 << 22  # bytes read at a time when streaming a file


def decode_text(
    data: bytes, source: str = "<input>", encoding: str = "utf-8", errors: str = "strict"
) -> str:
    """Decode ``data`` to text, with errors that say where and what to do.

    Raises CorpusError for bytes that do not decode (naming the byte offset)
    and for binary data (a NUL byte, in ASCII-compatible encodings).
    """
    codec = codecs.lookup(encoding)  # LookupError for an unknown encoding
    _check_not_binary(data, codec, source, 0)
    try:
        return data.decode(codec.name, errors)
    except UnicodeDecodeError as exc:
        raise _decode_error(exc, codec, source, exc.start) from None


def _check_not_binary(data: bytes, codec: codecs.CodecInfo, source: str, offset: int) -> None:
    # Only meaningful where text never contains NUL bytes (not in UTF-16...).
    if "a".encode(codec.name) == b"a":
        nul = data.find(b"\0")
        if nul >= 0:
            raise CorpusError(
                f"{source} looks like a binary file (NUL byte at offset {offset + nul}); "
                "crnn trains on text files",
                kind="binary", source=source, offset=offset + nul,
            )


def _decode_error(exc: UnicodeDecodeError, codec: codecs.CodecInfo, source: str, offset: int) -> CorpusError:
    bad = exc.object[exc.start : exc.start + 1]
    return CorpusError(
        f"{source} is not valid {codec.name}: byte offset {offset} ({bad!r}): "
        f"{exc.reason}; pass the right encoding, or errors='replace' to "
        "substitute undecodable bytes",
        kind="undecodable", source=source, offset=offset, encoding=codec.name, reason=exc.reason,
    )


def read_text(path: PathLike, encoding: str = "utf-8", errors: str = "strict") -> str:
    """The contents of the text file at ``path``.

    OSError (FileNotFoundError, IsADirectoryError, ...) for path problems;
    CorpusError for an empty, binary or undecodable file.
    """
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise CorpusError(f"{os.fspath(path)} is empty; give a file with some text in it",
                          kind="empty", source=os.fspath(path))
    return decode_text(data, os.fspath(path), encoding, errors)


def iter_text(
    path: PathLike, encoding: str = "utf-8", errors: str = "strict", chunk_bytes: Optional[int] = None
) -> Iterator[str]:
    """The text of the file at ``path`` in pieces of about ``chunk_bytes`` bytes.

    A character is never split between pieces.  Same errors as read_text,
    with byte offsets counted from the start of the file.
    """
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    codec = codecs.lookup(encoding)
    decoder = codec.incrementaldecoder(errors)
    source, offset = os.fspath(path), 0
    with open(path, "rb") as f:
        while True:
            data = f.read(chunk_bytes)
            if not data and offset == 0:
                raise CorpusError(f"{source} is empty; give a file with some text in it",
                                  kind="empty", source=source)
            _check_not_binary(data, codec, source, offset)
            pending = len(decoder.getstate()[0])  # bytes held back from the last piece
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                raise _decode_error(exc, codec, source, offset - pending + exc.start) from None
            if text:
                yield text
            if not data:
                return
            offset += len(data)


def vocab_from_file(path: PathLike, encoding: str = "utf-8", errors: str = "strict") -> Vocab:
    """The vocabulary of a text file of any size, read in pieces."""
    points = np.zeros(0, np.uint32)
    for text in iter_text(path, encoding, errors):
        points = np.union1d(points, np.unique(code_points(text)))
    return Vocab.from_code_points(points)


def encode_file(
    path: PathLike, vocab: Vocab, out: PathLike, encoding: str = "utf-8", errors: str = "strict"
) -> np.ndarray:
    """Encode a text file of any size to compact ids stored at ``out``.

    The ids are written piece by piece (never holding the whole text) to a
    temporary file renamed to ``out`` when complete; returns a read-only
    ``numpy.memmap`` of them, ready for ``CharRNN.train``.
    """
    dtype = id_dtype(len(vocab))
    folder = os.path.dirname(os.path.abspath(out))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".crnn-ids-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for text in iter_text(path, encoding, errors):
                f.write(vocab.encode(text, dtype=dtype).tobytes())
        os.replace(tmp, out)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    return np.memmap(out, dtype=dtype, mode="r")


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
