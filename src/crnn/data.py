"""Reading text and turning it into compact id arrays for training.

A corpus is held as ids, not as a Python ``str``: one byte per character when
the vocabulary has at most 256 characters (uint8), two when it has at most
65536 (uint16).  Any 1-D integer array works, including a ``numpy.memmap``,
so corpora larger than memory can be trained on.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
import os
import tempfile
import weakref
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np

from .decoding import suspicious_decoding  # noqa: F401 (crnn.data's API since 0.2)
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
    for piece in _pieces(path, codecs.lookup(encoding), errors, chunk_bytes=chunk_bytes):
        yield piece if isinstance(piece, str) else piece.decode("ascii")


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
    with _written_atomically(out, prefix=".crnn-ids-") as f:
        for text in iter_text(path, encoding, errors):
            f.write(vocab.encode(text, dtype=dtype).tobytes())
    return np.memmap(out, dtype=dtype, mode="r")


@contextlib.contextmanager
def _written_atomically(out: PathLike, prefix: str, durable: bool = False) -> Iterator[Any]:
    """A binary file that becomes ``out`` only if the block completes.

    It is written as a temporary file beside ``out`` and renamed into place;
    on any exception the temporary file is removed and ``out`` is untouched.
    ``durable`` fsyncs the data before the rename.
    """
    folder = os.path.dirname(os.path.abspath(out))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


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


def chunk_start(pointer: int, seq_length: int, segment: int, first: bool) -> tuple[int, bool]:
    """min-char-rnn's data-pointer rule for one stream: where its next chunk
    starts and whether its hidden state is reset first.

    A stream's chunk is ``seq_length`` inputs from ``pointer`` and the targets
    one character later.  It goes back to 0 (with a zero state) when that
    would run past its segment (``pointer + seq_length + 1 >= segment``) and
    on the very first iteration.  The pointer then advances by seq_length.
    The model, the reference, the tests and the benchmarks all use this one
    function.
    """
    if first or pointer + seq_length + 1 >= segment:
        return 0, True
    return pointer, False


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
    if ids.size and not _known_in_range(ids, len(vocab)):
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= len(vocab):
            raise VocabError(
                f"corpus ids must be in [0, {len(vocab)}) for this vocabulary, "
                f"found ids from {low} to {high}; encode the text with the "
                "model's vocabulary"
            )
    return ids


# ----------------------------------------------------------------------
# Large corpora: one scan, then compact ids in a memory-mapped cache


# Encodings in which every ASCII byte is the character of the same code
# point and never part of a longer sequence: a piece of pure ASCII bytes can
# be used as ids-to-be without decoding.
_ASCII_SAFE = frozenset({"utf-8", "ascii", "latin-1", "iso8859-1", "cp1252"})
CACHE_KEEP = 3  # cache entries kept (the most recently used)
_CACHE_VERSION = 1


class CorpusScan:
    """What one pass over text files found: their combined SHA-256 (with
    sizes), vocabulary, number of characters, and file identities (to notice
    files that change before they are encoded)."""

    __slots__ = ("paths", "encoding", "errors", "digest", "vocab", "n_chars", "_stats")

    def __init__(self, paths, encoding, errors, digest, vocab, n_chars, stats) -> None:
        self.paths, self.encoding, self.errors = paths, encoding, errors
        self.digest, self.vocab, self.n_chars, self._stats = digest, vocab, n_chars, stats

    def __repr__(self) -> str:
        return f"CorpusScan({len(self.paths)} file(s), {self.n_chars} chars, {len(self.vocab)} distinct)"


def _pieces(
    path: PathLike, codec: codecs.CodecInfo, errors: str, hasher: Any = None, chunk_bytes: Optional[int] = None
) -> Iterator[Union[bytes, str]]:
    """The file in pieces of about ``chunk_bytes``: ``bytes`` for a piece of
    pure ASCII in an ASCII-safe encoding (its bytes are its code points, no
    decoding needed), else decoded ``str``; a character is never split.
    CorpusError for an empty, binary or undecodable file, with byte offsets
    from the start of the file.  Feeds ``hasher`` the raw bytes."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    decoder = codec.incrementaldecoder(errors)
    ascii_ok = codec.name in _ASCII_SAFE
    source, offset = os.fspath(path), 0
    with open(path, "rb") as f:
        while True:
            data = f.read(chunk_bytes)
            if not data and offset == 0:
                raise CorpusError(f"{source} is empty; give a file with some text in it",
                                  source=source, offset=0, kind="empty")
            if hasher is not None:
                hasher.update(data)
            _check_not_binary(data, codec, source, offset)
            pending = decoder.getstate()[0]
            if ascii_ok and data and not pending and data.isascii():
                yield data
            else:
                try:
                    text = decoder.decode(data, final=not data)
                except UnicodeDecodeError as exc:
                    raise _decode_error(exc, codec, source, offset - len(pending) + exc.start) from None
                if text:
                    yield text
            if not data:
                return
            offset += len(data)


def _file_stat(path: PathLike) -> tuple:
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def scan_files(paths: Sequence[PathLike], encoding: str = "utf-8", errors: str = "strict") -> CorpusScan:
    """Read text files once, in pieces: their hash, vocabulary and length.

    Never holds more than a piece (CHUNK_BYTES) of the text.  Raises like
    :func:`read_text` (CorpusError for empty, binary or undecodable files).
    """
    codec = codecs.lookup(encoding)
    hasher = hashlib.sha256()
    present = np.zeros(0x110000, dtype=bool)
    seen_ascii = b""  # the ASCII bytes met so far
    n_chars = 0
    stats = []
    for path in paths:
        stats.append(_file_stat(path))
        hasher.update(b"\0file %d\0" % stats[-1][0])
        for piece in _pieces(path, codec, errors, hasher):
            if isinstance(piece, bytes):
                new = piece.translate(None, seen_ascii)  # fast: usually empty
                if new:
                    present[np.frombuffer(new, np.uint8)] = True
                    seen_ascii = np.flatnonzero(present[:128]).astype(np.uint8).tobytes()
            else:
                present[np.flatnonzero(np.bincount(code_points(piece)))] = True
                seen_ascii = np.flatnonzero(present[:128]).astype(np.uint8).tobytes()
            n_chars += len(piece)
    vocab = Vocab.from_code_points(np.flatnonzero(present))
    return CorpusScan(tuple(os.fspath(p) for p in paths), codec.name, errors, hasher.hexdigest(),
                      vocab, n_chars, tuple(stats))


def default_cache_dir() -> str:
    """``$CRNN_CACHE_DIR``, else a per-user folder in the temporary folder."""
    folder = os.environ.get("CRNN_CACHE_DIR")
    if folder:
        return folder
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return os.path.join(tempfile.gettempdir(), f"crnn-cache-{user}")


def cached_ids(
    scan: CorpusScan, vocab: Optional[Vocab] = None, cache_dir: Optional[PathLike] = None
) -> tuple[np.ndarray, bool]:
    """The scanned files as compact ids for ``vocab`` (default: their own
    vocabulary), memory-mapped from a cache file; ``(ids, reused)``.

    The cache entry is keyed by the files' SHA-256 and sizes, the encoding,
    the error handling and the vocabulary: the same corpus is encoded once,
    later runs map the existing ids.  Raises VocabError if the text has
    characters ``vocab`` lacks.  Only the CACHE_KEEP most recently used
    entries are kept.
    """
    vocab = scan.vocab if vocab is None else vocab
    missing = [c for c in scan.vocab.chars if c not in vocab]
    if missing:
        raise VocabError(f"{len(missing)} character(s) not in the vocabulary", tuple(missing))
    dtype = id_dtype(len(vocab))
    folder = os.fspath(cache_dir if cache_dir is not None else default_cache_dir())
    os.makedirs(folder, exist_ok=True)
    key = hashlib.sha256(json.dumps(
        [_CACHE_VERSION, scan.digest, [s[0] for s in scan._stats], scan.encoding, scan.errors,
         "".join(vocab.chars), dtype.str], ensure_ascii=True).encode()).hexdigest()[:40]
    path = os.path.join(folder, f"{key}.{dtype.name}.ids")
    expected_bytes = scan.n_chars * dtype.itemsize
    if os.path.isfile(path) and os.path.getsize(path) == expected_bytes:
        os.utime(path)  # most recently used
        ids = np.memmap(path, dtype=dtype, mode="r") if expected_bytes else np.zeros(0, dtype)
        _mark_checked(ids, len(vocab))
        return ids, True
    _encode_scanned(scan, vocab, dtype, path)
    _evict(folder, keep=path)
    ids = np.memmap(path, dtype=dtype, mode="r") if expected_bytes else np.zeros(0, dtype)
    _mark_checked(ids, len(vocab))
    return ids, False


def _encode_scanned(scan: CorpusScan, vocab: Vocab, dtype: np.dtype, out: str) -> None:
    codec = codecs.lookup(scan.encoding)
    # ASCII pieces are encoded by a 256-entry table (bytes.translate for
    # uint8 ids).  cached_ids has checked that every character of the scan
    # is in the vocabulary, and a file that changes is caught below.
    table = np.zeros(256, dtype)
    known = vocab._lookup[:128]
    table[: len(known)] = np.maximum(known, 0)
    translation = table.tobytes() if dtype == np.uint8 else None
    written = 0
    # durable: a cache entry that exists is complete, even after a power cut
    with _written_atomically(out, prefix=f".crnn-ids.{os.getpid()}.", durable=True) as f:
        for path, stat in zip(scan.paths, scan._stats):
            for piece in _pieces(path, codec, scan.errors):
                if isinstance(piece, bytes):
                    if translation is not None:
                        f.write(piece.translate(translation))
                    else:
                        f.write(table[np.frombuffer(piece, np.uint8)].tobytes())
                else:
                    f.write(vocab.encode(piece, dtype=dtype).tobytes())
                written += len(piece)
            if _file_stat(path) != stat:
                raise CorpusError(f"{path} changed while it was being read; try again",
                                  source=os.fspath(path), kind="changed")
        if written != scan.n_chars:
            raise CorpusError("the text changed while it was being read; try again", kind="changed")


def _evict(folder: str, keep: str) -> None:
    """Remove all but the CACHE_KEEP most recently used cache entries, and
    the partial entries of encodings whose process was killed."""
    try:
        names = os.listdir(folder)
        entries = [os.path.join(folder, n) for n in names if n.endswith(".ids")]
        entries.sort(key=lambda p: os.path.getmtime(p), reverse=True)
        for old in entries[CACHE_KEEP:]:
            if old != keep:
                os.remove(old)
        for name in names:
            pid = name.split(".")[2] if name.startswith(".crnn-ids.") and name.endswith(".tmp") else ""
            if pid.isdigit() and not _process_exists(int(pid)):
                os.remove(os.path.join(folder, name))
    except OSError:
        pass  # another process got there first: harmless


def _process_exists(pid: int) -> bool:
    """Whether process ``pid`` exists (True when it cannot be told)."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):
        return True  # another user's process, or an impossible pid: keep its file
    return True


# Arrays whose ids are known to be in range (written by this module), so
# as_ids need not scan them (a 1 GB memory map scanned at every train()
# call would cost time and pull the whole file into memory).  Only
# read-only arrays qualify, and views of them.
_CHECKED: dict[int, tuple[Any, int]] = {}


def _mark_checked(ids: np.ndarray, vocab_size: int) -> None:
    if ids.flags.writeable or not ids.size:
        return
    key = id(ids)
    _CHECKED[key] = (weakref.ref(ids, lambda _ref, key=key: _CHECKED.pop(key, None)), vocab_size)


def _known_in_range(ids: np.ndarray, vocab_size: int) -> bool:
    array: Any = ids
    while isinstance(array, np.ndarray):
        entry = _CHECKED.get(id(array))
        if entry is not None and entry[0]() is array and entry[1] <= vocab_size and not ids.flags.writeable:
            return True
        array = array.base
    return False
