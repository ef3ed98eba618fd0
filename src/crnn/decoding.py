"""Text that decoded without error but with the wrong codec: the warning
``crnn train`` prints before training on mojibake (also ``crnn.data.suspicious_decoding``)."""

from __future__ import annotations

import codecs
import collections
import unicodedata
from typing import Any, Optional, Sequence

SNIFF_CHARS = 1_000_000  # characters looked at (from the start) by suspicious_decoding
_CONTROLS_OK = frozenset("\t\n\v\f\r\x1b")


def suspicious_decoding(text: str, encoding: str, source: str = "the text") -> Optional[str]:
    """A warning when ``text``, decoded with ``encoding``, looks misdecoded; else None.

    Signs looked for, each typical of a wrong ``--encoding`` and rare in real
    text of any language: ASCII read as UTF-16 (every character a pair of
    ASCII bytes: CJK-looking noise), UTF-8 read as a one-byte code ("Ã©"),
    many U+FFFD (undecodable bytes replaced), unassigned, private-use or
    surrogate code points, control characters, and far more distinct
    characters than spaces or line breaks.
    """
    sample = text[:SNIFF_CHARS]
    if len(sample) < 64:  # too little to judge
        return None
    codec = codecs.lookup(encoding).name
    counts = collections.Counter(sample)
    n = len(sample)

    def share(chars: Any) -> float:
        return sum(counts[c] for c in chars) / n

    def examples(chars: Any) -> str:  # the commonest, printable ones first
        ranked = sorted(chars, key=lambda c: (not c.isprintable(), -counts[c]))
        return ", ".join(repr(c) for c in ranked[:3])

    shown = f"{source} decoded as {codec}"
    if codec.startswith("utf-16") and _bytes_look_like_ascii(sample):
        odd = [c for c in counts if ord(c) > 0x7F]
        return (f"{shown} looks wrong: {len(odd):,} distinct characters mostly from "
                f"{_main_script(odd, counts)} ({examples(odd)} ...) made of pairs of ASCII bytes, "
                "as when a UTF-8 or ASCII file is read as UTF-16; check --encoding "
                "(leave it out for UTF-8)")
    if codec != "utf-8" and _is_utf8_mojibake(sample, codec):
        return (f"{shown} looks like UTF-8 read as {codec} (e.g. 'Ã©' for 'é'); "
                "leave out --encoding (UTF-8 is the default)")
    groups = collections.defaultdict(set)
    for c in counts:
        groups[_char_group(c)].add(c)
    for group, what, limit in _BAD_GROUPS:
        if share(groups[group]) > limit:
            hint = ("if it is Windows text, try --encoding cp1252"
                    if group == "c1" and codec == "iso8859-1" else "is the --encoding right?")
            return f"{shown} looks wrong: {share(groups[group]):.0%} of it is {what} ({examples(groups[group])}); {hint}"
    # Text in every script breaks into words, lines or sentences.
    breaks = share(c for c in counts if c.isspace() or unicodedata.category(c)[0] == "P")
    if n >= 1000 and len(counts) > 256 and breaks < 0.005:
        return (f"{shown} looks wrong: {len(counts):,} distinct characters and almost no "
                "spaces, line breaks or punctuation, unlike natural text; is the --encoding right?")
    return None


# (group, what it is, largest share of the text that is not suspicious)
_BAD_GROUPS = (
    ("replaced", "U+FFFD (bytes that did not decode)", 0.01),
    ("unassigned", "unassigned, private-use or surrogate code points", 0.02),
    ("control", "control characters", 0.01),  # before C1: binary data has both
    ("c1", "C1 control characters (U+0080-U+009F)", 0.001),
)


def _char_group(c: str) -> str:
    if c == "\ufffd":
        return "replaced"
    category = unicodedata.category(c)
    if category in ("Cn", "Co", "Cs"):
        return "unassigned"
    if category == "Cc" and c not in _CONTROLS_OK:
        return "c1" if 0x80 <= ord(c) <= 0x9F else "control"
    return "ok"


def _bytes_look_like_ascii(sample: str) -> bool:
    """Whether the UTF-16 bytes behind ``sample`` are themselves plain ASCII
    text (real UTF-16 text of any script has NUL or non-ASCII bytes)."""
    raw = sample.encode("utf-16-le", "surrogatepass")
    printable = sum(raw.count(bytes([b])) for b in b"\t\n\r" + bytes(range(0x20, 0x7F)))
    return printable >= 0.95 * len(raw)


def _is_utf8_mojibake(sample: str, codec: str) -> bool:
    """Whether the bytes behind the text are valid UTF-8 with multi-byte
    sequences (text really in a one-byte code almost never is: its accented
    letters stand alone between ASCII bytes)."""
    if sum(1 for c in sample if ord(c) > 0x7F) < 4:
        return False
    try:
        if "a".encode(codec) != b"a":
            return False  # not an ASCII-compatible code (EBCDIC, UTF-16 ...)
        raw = sample.encode(codec)
        # final=False: a sequence cut at the sample's end is fine.
        codecs.getincrementaldecoder("utf-8")("strict").decode(raw, final=False)
    except (LookupError, UnicodeError):
        return False
    return True


def _main_script(chars: Sequence[str], counts: Any) -> str:
    """'CJK' for mostly CJK ideographs: the commonest first word of the names."""
    scripts = collections.Counter()
    for c in chars:
        scripts[unicodedata.name(c, "UNNAMED").split()[0]] += counts[c]
    return scripts.most_common(1)[0][0] if scripts else "?"
