"""Saving and loading models: one ``.npz`` file, no pickle, atomic writes.

File format: a zip archive NumPy reads with ``numpy.load(path,
allow_pickle=False)``, holding the arrays and a ``meta`` entry (a UTF-8 JSON
object stored as a uint8 array) that crnn._format describes, version by
version: version 2 stores any network and optimizer; version 1 files
(crnn 0.1.0, min-char-rnn only) still load, with a zero start state, as
crnn 0.1.0 sampled and evaluated them.

Loading treats the file as untrusted: sizes declared in the zip directory
are checked against what the metadata implies before anything is
decompressed, every array header is checked before its data is read, and
every problem becomes a ModelFormatError.  A missing or unreadable path
raises the usual OSError (FileNotFoundError, PermissionError, ...).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import zipfile
from typing import Any, BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from ._version import __version__
from .data import _process_exists
from .errors import ModelFormatError
from . import _format
from .model import DTYPES, CharRNN
from .vocab import Vocab

FORMAT_NAME = "crnn-model"
FORMAT_VERSION = 2


# Limits for untrusted files.  Real models are far inside them.
MAX_META_BYTES = 16 << 20
MAX_NPY_HEADER = 10_000  # NumPy's own default limit for header text
MAX_EXPANSION = 4  # total uncompressed size <= MIN_BUDGET + MAX_EXPANSION * file size
MIN_BUDGET = 64 << 20
LIMITS = _format.LIMITS  # hidden_size, seq_length, batch_size, vocab, iteration, pointer

# ----------------------------------------------------------------------
# Saving


def save(model: CharRNN, path: Any) -> None:
    """Write ``model`` to ``path`` atomically.

    The file is written to a temporary file in the same folder, flushed to
    disk and renamed over ``path``: an interrupted or failed save leaves any
    existing file at ``path`` untouched.  Raises FileNotFoundError for a
    missing folder and PermissionError for an unwritable one.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(2, f"cannot save the model: folder {folder!r} does not exist")
    arrays = _model_arrays(model)
    broken = [name for name, array in arrays.items()
              if name not in ("meta", "pointers") and not np.isfinite(array).all()]
    if broken:
        raise ValueError(
            f"cannot save the model: {', '.join(broken)} contain NaN or infinite values "
            "(training diverged?); nothing was written"
        )
    try:
        _remove_stale_temporaries(folder, os.path.basename(path))
        fd, tmp = _create_temporary(folder, _temporary_prefix(path))
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot save the model in folder {folder!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        _remove_quietly(tmp)
        if isinstance(exc, OSError):
            raise type(exc)(
                exc.errno, f"could not save the model to {path!r} ({exc.strerror}); "
                "any previous file there is unchanged"
            ) from exc
        raise
    _fsync_folder(folder)


def _write_npz(f: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """What ``np.savez`` writes (an uncompressed zip of .npy members), but
    with every member and the archive closed even when a write fails (a
    full disk): older NumPy left the archive open, to be finished later by
    the garbage collector on a file that is gone or closed."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as member:
                npy_format.write_array(member, array, allow_pickle=False)


def _model_arrays(model: CharRNN) -> dict[str, np.ndarray]:
    arrays, meta = _format.model_arrays(model, FORMAT_VERSION)
    meta = {"format": FORMAT_NAME, "crnn_version": __version__, **meta}
    # ensure_ascii keeps any character (even a lone surrogate) representable.
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("ascii"), dtype=np.uint8)
    return arrays


def remove_stale_temporaries(path: Any) -> None:
    """Remove the temporary files that killed saves to ``path`` left behind
    (those of processes that no longer exist)."""
    path = os.fspath(path)
    _remove_stale_temporaries(os.path.dirname(os.path.abspath(path)), os.path.basename(path))


def copy_model_file(source: Any, path: Any) -> None:
    """Copy the model file ``source`` to ``path`` atomically (a temporary file
    beside ``path``, flushed to disk, renamed over it), as :func:`save` writes."""
    source, path = os.fspath(source), os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    _remove_stale_temporaries(folder, os.path.basename(path))
    fd, tmp = _create_temporary(folder, _temporary_prefix(path))
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        _remove_quietly(tmp)
        if isinstance(exc, OSError):
            raise type(exc)(exc.errno, f"could not copy the model to {path!r} ({exc.strerror}); "
                            "any previous file there is unchanged") from exc
        raise
    _fsync_folder(folder)


def can_save_to(path: Any) -> bool:
    """Whether a model could be saved to ``path`` now: creates and removes a
    temporary file beside it, named as save's own (so one left by a kill is
    removed by the next save)."""
    path = os.fspath(path)
    try:
        fd, probe = _create_temporary(os.path.dirname(os.path.abspath(path)), _temporary_prefix(path))
    except OSError:
        return False
    os.close(fd)
    _remove_quietly(probe)
    return True


def _create_temporary(folder: str, prefix: str) -> tuple[int, str]:
    """A new file in ``folder`` named ``prefix + random + '.tmp'``, opened for
    writing.  Unlike mkstemp's 0600, its mode is 0666 less the process umask,
    which the kernel applies (so no one reads or changes the umask)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        path = os.path.join(folder, f"{prefix}{os.urandom(6).hex()}.tmp")
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(17, f"could not create a temporary file in {folder!r}")


def _temporary_prefix(path: str) -> str:
    """``.NAME.PID.crnn-``: whose temporary file it is, and which process writes it."""
    return f".{os.path.basename(path)}.{os.getpid()}.crnn-"


def _remove_stale_temporaries(folder: str, name: str) -> None:
    """Remove temporary files that saves of ``name`` left behind when their
    process was killed (SIGKILL, power cut) before it could clean up.  Only
    files of processes that no longer exist: a save in progress elsewhere is
    left alone."""
    start = f".{name}."
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(start) and entry.endswith(".tmp")):
            continue
        pid = entry[len(start):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_exists(int(pid)):
            _remove_quietly(os.path.join(folder, entry))


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _fsync_folder(folder: str) -> None:
    """Make the rename durable (POSIX); harmless where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------
# Loading


def load(path: Any) -> CharRNN:
    """Read a model written by :func:`save` (or ``CharRNN.save``).

    Raises ModelFormatError (a ValueError) for anything wrong with the
    contents, OSError for problems with the path itself.
    """
    return _read_file(path, _read_model)


def read_metadata(path: Any) -> dict:
    """The JSON metadata of the model file at ``path`` (see the module's
    docstring), checked as :func:`load` checks it, without reading the arrays.

    For tools that describe a file (``crnn info``): the format and crnn
    versions, vocabulary, hyperparameters, dtype and training state.  Same
    errors as :func:`load`.
    """
    return _read_file(path, _read_metadata)


def _read_file(path: Any, read: Any) -> Any:
    path = os.fspath(path)
    with open(path, "rb") as f:
        try:
            return read(f)
        except ModelFormatError as exc:
            raise ModelFormatError(f"{path}: {exc}") from None
        except Exception as exc:  # zip, zlib, EOF, numpy header, ... errors
            raise ModelFormatError(
                f"{path} is damaged or not a crnn model file ({type(exc).__name__}: {exc})"
            ) from exc


def _read_metadata(f: BinaryIO) -> dict:
    with _open_archive(f) as archive:
        members = _check_members(archive, os.fstat(f.fileno()).st_size)
        meta = _parse_meta(_read_member_bytes(archive, members["meta.npy"]))
        _check_member_names(members, _format.expected_shapes(meta, _vocab_from_meta(meta)))
    return meta


def _read_model(f: BinaryIO) -> CharRNN:
    file_size = os.fstat(f.fileno()).st_size
    with _open_archive(f) as archive:
        members = _check_members(archive, file_size)
        meta = _parse_meta(_read_member_bytes(archive, members["meta.npy"]))
        vocab = _vocab_from_meta(meta)
        shapes = _format.expected_shapes(meta, vocab)
        _check_member_names(members, shapes)
        arrays = {
            name: _read_array(archive, members[name + ".npy"], name, shape, kind, meta)
            for name, (shape, kind) in shapes.items()
        }
    return _format.build_model(vocab, meta, arrays)


def _open_archive(f: BinaryIO) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(f)
    except zipfile.BadZipFile:
        f.seek(0)
        if f.read(4) == b"PK\x03\x04":  # starts like a zip, but its directory is gone
            raise ModelFormatError(
                "the file is damaged or truncated (a zip archive without its end); "
                "use an intact copy of the model"
            ) from None
        raise ModelFormatError(
            "damaged, truncated, or not a crnn model file (not an .npz/zip archive)"
        ) from None


def _check_members(archive: zipfile.ZipFile, file_size: int) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    names = [info.filename for info in infos]
    if "meta.npy" not in names:
        raise ModelFormatError("not a crnn model file (no 'meta' entry)")
    if len(set(names)) != len(names):
        raise ModelFormatError("the archive lists an entry twice")
    declared = sum(info.file_size for info in infos)
    if declared > MIN_BUDGET + MAX_EXPANSION * file_size:
        raise ModelFormatError(
            f"entries claim {declared} bytes uncompressed from a {file_size}-byte file; "
            "refusing to expand it (a zip bomb or a damaged file)"
        )
    return {info.filename: info for info in infos}


def _check_member_names(members: dict, shapes: dict) -> None:
    """The archive holds exactly the arrays its metadata implies."""
    expected = {name + ".npy" for name in shapes} | {"meta.npy"}
    unexpected = sorted(set(members) - expected)
    if unexpected:
        raise ModelFormatError(f"unexpected entries {unexpected}")
    missing = sorted(name[:-4] for name in expected - set(members))
    if missing:
        raise ModelFormatError(f"missing array(s) {missing}")


def _read_member_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The payload of the uint8 vector stored in ``info`` (the metadata)."""
    if info.file_size > MAX_META_BYTES:
        raise ModelFormatError("the metadata entry is too large")
    with archive.open(info) as member:
        shape, fortran, dtype = _read_npy_header(member, "meta")
        if dtype != np.uint8 or len(shape) != 1:
            raise ModelFormatError("the metadata entry is not a byte vector")
        return _read_exact(member, info, shape[0], "meta")


def _read_npy_header(member: BinaryIO, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = npy_format.read_magic(member)
    if version == (1, 0):
        shape, fortran, dtype = npy_format.read_array_header_1_0(member, max_header_size=MAX_NPY_HEADER)
    elif version == (2, 0):
        shape, fortran, dtype = npy_format.read_array_header_2_0(member, max_header_size=MAX_NPY_HEADER)
    else:
        raise ModelFormatError(f"array {name!r} uses an unsupported .npy version {version}")
    if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None:
        raise ModelFormatError(f"array {name!r} has a disallowed dtype {dtype} (object or structured)")
    return shape, fortran, dtype


def _read_exact(member: Any, info: zipfile.ZipInfo, nbytes: int, name: str) -> bytes:
    """Read the ``nbytes`` of data after the header, after checking the declared size."""
    if info.file_size != member.tell() + nbytes:
        raise ModelFormatError(f"array {name!r}: entry size does not match its header")
    data = member.read(nbytes)
    if len(data) != nbytes or member.read(1):  # the last read also verifies the CRC
        raise ModelFormatError(f"array {name!r} is truncated")
    return data


def _parse_meta(raw: bytes) -> dict:
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ModelFormatError("the metadata is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFormatError(f"not a crnn model file (format is not {FORMAT_NAME!r})")
    version = meta.get("format_version")
    if not _is_int(version) or version < 1:
        raise ModelFormatError(f"invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFormatError(
            f"written by crnn {meta.get('crnn_version', '?')} in format version {version}; "
            f"this crnn ({__version__}) reads format version {FORMAT_VERSION} only: "
            "upgrade crnn (pip install --upgrade crnn)"
        )
    vocab = meta.get("vocab")
    if not isinstance(vocab, list) or not 1 <= len(vocab) <= LIMITS["vocab"]:
        raise ModelFormatError("the vocabulary must be a non-empty list of characters")
    hyper = _section(meta, "hyperparameters")
    for key in ("hidden_size", "seq_length", "batch_size"):
        if not _is_int(hyper.get(key)) or not 1 <= hyper[key] <= LIMITS[key]:
            raise ModelFormatError(f"invalid {key} {hyper.get(key)!r}")
    rate = hyper.get("learning_rate")
    if not _is_float(rate) or rate <= 0:
        raise ModelFormatError(f"invalid learning_rate {rate!r}")
    if meta.get("dtype") not in DTYPES:
        raise ModelFormatError(f"invalid dtype {meta.get('dtype')!r}")
    training = _section(meta, "training")
    if not _is_int(training.get("iteration")) or not 0 <= training["iteration"] < LIMITS["iteration"]:
        raise ModelFormatError(f"invalid iteration {training.get('iteration')!r}")
    if not _is_float(training.get("smooth_loss")):
        raise ModelFormatError(f"invalid smooth_loss {training.get('smooth_loss')!r}")
    if not isinstance(training.get("rng_state"), dict):
        raise ModelFormatError("missing random generator state")
    if version >= 2:
        _format.check_meta_v2(meta, _section)
    return meta


def _section(meta: dict, key: str) -> dict:
    section = meta.get(key)
    if not isinstance(section, dict):
        raise ModelFormatError(f"the metadata lacks its {key!r} section")
    return section


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_float(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read_array(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, shape: tuple, kind: str, meta: dict
) -> np.ndarray:
    want = np.dtype(meta["dtype"]) if kind == "f" else np.dtype(np.int64)
    nbytes = math.prod(shape) * want.itemsize
    # Refuse before decompressing anything that cannot be this array.
    if info.file_size > nbytes + MAX_NPY_HEADER + 64:
        raise ModelFormatError(f"array {name!r} is larger than its shape {shape} allows")
    with archive.open(info) as member:
        got_shape, fortran, dtype = _read_npy_header(member, name)
        if tuple(got_shape) != shape:
            raise ModelFormatError(
                f"array {name!r} has shape {tuple(got_shape)}, expected {shape} "
                "from the vocabulary and hyperparameters"
            )
        if kind == "f" and (dtype.kind != "f" or dtype.itemsize != want.itemsize):
            raise ModelFormatError(f"array {name!r} has dtype {dtype}, expected {want}")
        if kind == "i" and (dtype.kind not in "iu" or dtype.itemsize > 8):
            raise ModelFormatError(f"array {name!r} has dtype {dtype}, expected integers")
        data = _read_exact(member, info, math.prod(shape) * dtype.itemsize, name)
    flat = np.frombuffer(data, dtype=dtype)
    array = flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)
    if kind == "i" and dtype.kind == "u" and dtype.itemsize == 8 and flat.size and flat.max() > LIMITS["pointer"]:
        raise ModelFormatError(f"array {name!r} has out-of-range values")
    return np.ascontiguousarray(array, dtype=want)


def _vocab_from_meta(meta: dict) -> Vocab:
    try:
        return Vocab(meta["vocab"])
    except ValueError as exc:
        raise ModelFormatError(f"invalid vocabulary: {exc}") from None
