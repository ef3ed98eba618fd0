"""The exceptions crnn raises for problems a user can cause.

Every class derives from :class:`CrnnError` (so ``except crnn.CrnnError``
catches them all) and from the matching built-in exception, so code that
already catches ``ValueError`` or ``ArithmeticError`` keeps working.
"""

from __future__ import annotations


class CrnnError(Exception):
    """Base class of every crnn-specific exception."""


class VocabError(CrnnError, ValueError):
    """Text contains characters the vocabulary does not know (or ids out of range).

    ``unknown`` holds the offending characters (possibly empty when the
    problem is not about particular characters).
    """

    def __init__(self, message: str, unknown: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.unknown = tuple(unknown)


class CorpusError(CrnnError, ValueError):
    """Training or evaluation text that cannot be used: empty, too short,
    not decodable as UTF-8, or binary.

    Fields, for callers that word their own messages (all None when they do
    not apply): ``kind`` ("empty", "binary", "undecodable", "too_short",
    "changed"), ``source`` (the file name, or the name given for the data),
    ``offset`` (byte offset of the problem in that source), ``encoding``
    and ``reason`` (the codec's explanation, for undecodable bytes).
    """

    def __init__(
        self, message: str, *, kind: str | None = None, source: str | None = None,
        offset: int | None = None, encoding: str | None = None, reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind, self.source, self.offset = kind, source, offset
        self.encoding, self.reason = encoding, reason


class ModelFormatError(CrnnError, ValueError):
    """A model file that is damaged, not a crnn model, or from a newer crnn."""


class TrainingDivergedError(CrnnError, ArithmeticError):
    """Training diverged: the loss or the weights became NaN or infinite, or
    the loss rose far above an untrained model's (see
    ``CharRNN.divergence_limit``).

    The model has been rolled back to its last good state before this is
    raised; ``iteration`` is the iteration that diverged,
    ``restored_iteration`` the iteration the model is now at and ``what``
    says what happened, e.g. "the loss became nan".
    """

    def __init__(self, message: str, iteration: int, restored_iteration: int, what: str = "") -> None:
        super().__init__(message)
        self.iteration = iteration
        self.restored_iteration = restored_iteration
        self.what = what


class CheckpointError(CrnnError, OSError):
    """A checkpoint could not be written (disk full, folder gone read-only ...).

    The file at ``path`` is unchanged (saves are atomic).  ``iteration`` is
    the checkpoint that failed, ``saved_iteration`` the last one this run
    wrote (None if none), ``errno`` the operating system's error number.
    """

    def __init__(self, message: str, *, errno: int | None, path: str, iteration: int,
                 saved_iteration: int | None) -> None:
        super().__init__(errno, message)
        self.path, self.iteration, self.saved_iteration = path, iteration, saved_iteration

    def __str__(self) -> str:
        return self.strerror


class ModelTooLargeError(CrnnError, MemoryError):
    """Training a model of the settings asked for needs more memory than the
    machine has available (checked before anything large is allocated).

    ``needed`` and ``available`` are the two figures, in bytes.
    """

    def __init__(self, message: str, needed: int, available: int) -> None:
        super().__init__(message)
        self.needed = needed
        self.available = available


class ModelBusyError(CrnnError, OSError):
    """Another crnn process is training into the same model file.

    An OSError like the other reasons a file cannot be written now;
    ``path`` is the model file and ``pid`` the other process's id (None if
    it could not be read).
    """

    def __init__(self, message: str, path: str, pid: "int | None" = None) -> None:
        super().__init__(message)
        self.path = path
        self.pid = pid


class OptimizerError(CrnnError, ValueError):
    """An optimizer, gradient-clipping or learning-rate-schedule setting that
    cannot be used (unknown name, value out of range), or saved optimizer
    state that does not fit the optimizer."""
