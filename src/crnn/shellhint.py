"""Paths in copy-paste hints (``Try: crnn sample PATH``) that a shell reads back
as the same path."""

from __future__ import annotations

import os
import shlex

# Characters shells never treat specially inside a word ('%' is cmd's
# variable mark; a leading '=' is zsh's command-path expansion).
_PLAIN_POSIX = frozenset("@%+=:,./-_")
_PLAIN_WINDOWS = frozenset("@+=:,./-_\\")


def _is_plain(path: str, punctuation: frozenset) -> bool:
    return (bool(path) and not path.startswith("=")
            and all(c.isalnum() or c in punctuation for c in path))


def shell_path(path: "str | os.PathLike[str]", windows: "bool | None" = None) -> str:
    """``path`` as one shell word: bare when plain (``models/m.npz``,
    ``néw.npz``), else quoted: ``'my models/m.npz'`` (``shlex.quote``), or
    with ``windows`` (default: running on Windows) in double quotes, which
    cmd and PowerShell both read (Windows names cannot contain ``"``).
    A path starting with ``-`` gets ``./`` so no command takes it for an option.
    """
    text = os.fspath(path)
    if windows is None:
        windows = os.name == "nt"
    if text.startswith("-"):
        text = os.path.join(".", text)
    if windows:
        return text if _is_plain(text, _PLAIN_WINDOWS) else f'"{text}"'
    return text if _is_plain(text, _PLAIN_POSIX) else shlex.quote(text)
