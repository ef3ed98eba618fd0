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
    """The training loss became NaN or infinite.

    The model has been rolled back to its last good state before this is
    raised; ``iteration`` is the iteration that diverged and
    ``restored_iteration`` the iteration the model is now at.
    """

    def __init__(self, message: str, iteration: int, restored_iteration: int) -> None:
        super().__init__(message)
        self.iteration = iteration
        self.restored_iteration = restored_iteration


class OptimizerError(CrnnError, ValueError):
    """An optimizer, gradient-clipping or learning-rate-schedule setting that
    cannot be used (unknown name, value out of range), or saved optimizer
    state that does not fit the optimizer."""
