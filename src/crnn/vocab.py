"""The character vocabulary: a fixed, deterministic table char <-> id."""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

from .errors import VocabError

# Text is converted to code points through UTF-32; "surrogatepass" lets lone
# surrogates (e.g. from errors="surrogateescape") through instead of failing.
_CODEC = "utf-32-le"
_CODEC_ERRORS = "surrogatepass"
_MAX_SHOWN = 10  # unknown characters named in an error message


_PIECE = 1 << 20  # characters converted at a time: bounds temporary memory


def code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as a uint32 array (one per character)."""
    return np.frombuffer(text.encode(_CODEC, _CODEC_ERRORS), dtype=np.uint32)


def _pieces(text: str) -> Iterator[tuple[int, np.ndarray]]:
    """(offset, code points) of consecutive pieces of ``text``.

    A whole large text in UTF-32 would take 4 bytes a character on top of
    the str itself; piece by piece it takes a few MB whatever the size.
    """
    for start in range(0, len(text), _PIECE):
        yield start, code_points(text[start : start + _PIECE])


def describe_chars(chars: Iterable[str], limit: int = _MAX_SHOWN) -> str:
    """``'é', '€' and 3 more``: characters named readably in a message."""
    chars = list(chars)
    shown = ", ".join(repr(c) for c in chars[:limit])
    more = len(chars) - limit
    return shown + (f" and {more} more" if more > 0 else "")


class Vocab:
    """An ordered set of characters; a character's id is its position.

    ``Vocab.from_text`` sorts characters by code point, so the same text gives
    the same ids on every run and machine (independent of hash seeds).
    A character is one Unicode code point: emoji and CJK are never split.
    """

    __slots__ = ("_chars", "_code_points", "_lookup")

    def __init__(self, chars: Iterable[str]) -> None:
        chars = tuple(chars)
        if not chars:
            raise VocabError("a vocabulary needs at least one character")
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise VocabError(f"vocabulary entries must be single characters, got {c!r}")
        if len(set(chars)) != len(chars):
            raise VocabError("vocabulary characters must be unique")
        self._chars = chars
        self._code_points = np.array([ord(c) for c in chars], dtype=np.uint32)
        # Dense table code point -> id (-1 = unknown): encoding a whole corpus
        # becomes one vectorised gather.  At most 0x110000 entries (4.4 MB).
        lookup = np.full(int(self._code_points.max()) + 1, -1, dtype=np.int32)
        lookup[self._code_points] = np.arange(len(chars), dtype=np.int32)
        self._lookup = lookup

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        """The characters of ``text``, sorted by code point."""
        if not isinstance(text, str):
            raise TypeError(f"from_text expects a str, got {type(text).__name__}")
        if not text:
            raise VocabError("cannot build a vocabulary from empty text")
        seen = np.zeros(0, np.uint32)
        for _, points in _pieces(text):
            seen = np.union1d(seen, points)
        return cls.from_code_points(seen)

    @classmethod
    def from_code_points(cls, points: np.ndarray) -> Vocab:
        """The distinct code points in ``points``, sorted, as characters."""
        unique = np.unique(np.asarray(points, dtype=np.uint32))
        return cls(unique.astype("<u4").tobytes().decode(_CODEC, _CODEC_ERRORS))

    @property
    def chars(self) -> tuple[str, ...]:
        """The characters, in id order."""
        return self._chars

    def __len__(self) -> int:
        return len(self._chars)

    def __iter__(self) -> Iterator[str]:
        return iter(self._chars)

    def __contains__(self, char: object) -> bool:
        if not isinstance(char, str) or len(char) != 1:
            return False
        point = ord(char)
        return point < len(self._lookup) and bool(self._lookup[point] >= 0)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self._chars == other._chars

    def __hash__(self) -> int:
        return hash(self._chars)

    def __repr__(self) -> str:
        return f"Vocab({''.join(self._chars)!r})"

    def encode(self, text: str, dtype: type = np.int32) -> np.ndarray:
        """Ids of the characters of ``text`` (int32 unless ``dtype`` says otherwise).

        Raises VocabError naming the characters the vocabulary lacks.
        """
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        ids = np.empty(len(text), dtype)
        unknown = []
        for start, points in _pieces(text):
            piece = self._lookup[np.minimum(points, len(self._lookup) - 1)]
            piece[points >= len(self._lookup)] = -1
            if piece.min() < 0:
                unknown.append(points[piece < 0])
            ids[start : start + len(points)] = piece
        if unknown:
            self._raise_unknown(np.concatenate(unknown))
        return ids

    def _raise_unknown(self, points: np.ndarray) -> None:
        unknown = tuple(chr(int(p)) for p in np.unique(points))
        raise VocabError(
            f"{len(unknown)} character(s) not in the model's vocabulary: "
            f"{describe_chars(unknown)}; remove them from the text or train a model "
            "on text that contains them",
            unknown,
        )

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """The text whose ids are ``ids``."""
        ids = np.asarray(ids)
        if ids.size == 0:
            return ""
        if ids.dtype.kind not in "iu" or ids.ndim != 1:
            raise TypeError("decode expects a 1-D sequence of integer ids")
        if ids.min() < 0 or ids.max() >= len(self):
            raise VocabError(f"ids must be in [0, {len(self)}) for this vocabulary")
        return self._code_points[ids].astype("<u4").tobytes().decode(_CODEC, _CODEC_ERRORS)

    def unknown_chars(self, text: str) -> tuple[str, ...]:
        """The distinct characters of ``text`` missing from the vocabulary, sorted."""
        points = np.unique(code_points(text))
        known = points < len(self._lookup)
        known[known] = self._lookup[points[known]] >= 0
        return tuple(chr(int(p)) for p in points[~known])
