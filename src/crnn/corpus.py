"""The built-in training corpus: Python source code that ships with Python.

``crnn train`` with no input file trains on this text, so a fresh install can
train and sample without downloading anything.  The text is the standard
library's own ``*.py`` files, taken in sorted order of their paths relative to
the standard-library folder and cut at exactly ``BUILTIN_SIZE`` characters.
For a given Python installation the result is the same on every call, on
every run and under any ``PYTHONHASHSEED``.

Left out: ``site-packages`` (it depends on what the user installed), test
suites (huge, and full of deliberately odd text), ``__pycache__``, and any file
that is not valid UTF-8.  Windows line endings are turned into ``\\n``.
"""

from __future__ import annotations

import functools
import os
import sysconfig
from typing import Iterator, List

__all__ = ["BUILTIN_SIZE", "builtin_text", "builtin_source_files", "stdlib_dir"]

#: Number of characters in the built-in corpus (when the stdlib has enough).
BUILTIN_SIZE = 1_000_000

# Folder names never descended into.
_SKIPPED_DIRS = frozenset(
    {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test"}
)


def stdlib_dir() -> str:
    """The folder holding the running Python's standard library."""
    return sysconfig.get_paths()["stdlib"]


def builtin_source_files(root: str | None = None) -> List[str]:
    """Sorted '/'-separated paths, relative to *root*, of the corpus' files."""
    root = stdlib_dir() if root is None else root
    found = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [d for d in subfolders if d not in _SKIPPED_DIRS]
        for name in names:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, name), root)
                found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def _file_texts(root: str) -> Iterator[str]:
    """The decoded text of each corpus file in order, skipping undecodable ones."""
    for rel in builtin_source_files(root):
        try:
            with open(os.path.join(root, rel), "rb") as f:
                raw = f.read()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if text and not text.endswith("\n"):
            text += "\n"
        yield text


def gather(root: str, size: int = BUILTIN_SIZE) -> str:
    """Concatenate the corpus files under *root* until *size* characters.

    Returns fewer characters only when all the files together are shorter.
    """
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    parts = []
    total = 0
    for text in _file_texts(root):
        if total >= size:
            break
        parts.append(text[: size - total])
        total += len(parts[-1])
    return "".join(parts)


@functools.lru_cache(maxsize=1)
def builtin_text() -> str:
    """The built-in corpus: about 1 MB of the standard library's source code."""
    return gather(stdlib_dir(), BUILTIN_SIZE)
