"""Which hidden units track simple properties of the text.

A property is a number per character position j, known once ``text[:j+1]``
has been read (so it lines up with the state after reading ``text[j]``):
inside double quotes, inside parentheses, position in the line, and so on.
Every unit (each component of every layer's h, and of c for an LSTM) is
scored by the Pearson correlation of its activation with each property;
a unit's score is its largest absolute correlation, and ``rank_units``
lists the best-scoring units with the property they follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

# Pairs that open and close a region of text.
BRACKETS = {"parentheses": "()", "square brackets": "[]", "curly braces": "{}"}


def _inside_toggle(text: str, quote: str) -> np.ndarray:
    """1 inside quote...quote (the opening quote counts as inside, the closing not)."""
    hits = np.fromiter((c == quote for c in text), bool, len(text))
    return (np.cumsum(hits) % 2).astype(np.float64)


def _depth(text: str, pair: str) -> np.ndarray:
    """Nesting depth of the bracket pair after each character (never below 0)."""
    step = np.fromiter((1 if c == pair[0] else -1 if c == pair[1] else 0 for c in text),
                       np.int64, len(text))
    depth = np.cumsum(step)
    # Unbalanced closers in a cut text: measure from the lowest point reached.
    depth -= np.minimum(np.minimum.accumulate(depth), 0)
    return depth.astype(np.float64)


def _position_since(starts: np.ndarray) -> np.ndarray:
    """For each j, j minus the last index <= j where starts is True (or j + 1 if none)."""
    index = np.arange(len(starts))
    last = np.where(starts, index, -1)
    last = np.maximum.accumulate(last)
    return (index - last).astype(np.float64)


def _line_position(text: str) -> np.ndarray:
    return _position_since(np.fromiter((c == "\n" for c in text), bool, len(text)))


def _word_position(text: str) -> np.ndarray:
    word = np.fromiter((c.isalnum() or c == "_" for c in text), bool, len(text))
    pos = _position_since(~word)
    return np.where(word, pos, 0.0)


def _in_leading_space(text: str) -> np.ndarray:
    """1 while only spaces or tabs have been read since the line began (indentation)."""
    out = np.zeros(len(text))
    leading = True
    for j, c in enumerate(text):
        if c == "\n":
            leading = True
        elif c not in " \t":
            leading = False
        out[j] = 1.0 if leading and c != "\n" else 0.0
    return out


def _in_line_comment(text: str, marker: str = "#") -> np.ndarray:
    """1 from a '#' to the end of its line (Python, shell and config comments)."""
    out = np.zeros(len(text))
    inside = False
    for j, c in enumerate(text):
        if c == "\n":
            inside = False
        elif c == marker:
            inside = True
        out[j] = float(inside)
    return out


def _char_is(test: Callable[[str], bool]) -> Callable[[str], np.ndarray]:
    return lambda text: np.fromiter((test(c) for c in text), np.float64, len(text))


def _any_bracket(text: str) -> np.ndarray:
    return (sum(_depth(text, pair) for pair in BRACKETS.values()) > 0).astype(np.float64)


# name -> function of the text; the order is the order shown on the page.
PROPERTIES: dict[str, Callable[[str], np.ndarray]] = {
    "inside double quotes": lambda t: _inside_toggle(t, '"'),
    "inside single quotes": lambda t: _inside_toggle(t, "'"),
    "inside parentheses": lambda t: (_depth(t, "()") > 0).astype(np.float64),
    "parenthesis depth": lambda t: _depth(t, "()"),
    "inside square brackets": lambda t: (_depth(t, "[]") > 0).astype(np.float64),
    "inside curly braces": lambda t: (_depth(t, "{}") > 0).astype(np.float64),
    "inside any bracket": _any_bracket,
    "position in the line": _line_position,
    "just read a newline": _char_is(lambda c: c == "\n"),
    "in the indentation": _in_leading_space,
    "inside a # comment": _in_line_comment,
    "inside a word": _char_is(lambda c: c.isalnum() or c == "_"),
    "position in the word": _word_position,
    "just read a space": _char_is(lambda c: c == " "),
    "just read a capital": _char_is(str.isupper),
    "just read a digit": _char_is(str.isdigit),
    "just read punctuation": _char_is(lambda c: not c.isalnum() and not c.isspace() and c != "_"),
}


def text_properties(text: str) -> dict[str, np.ndarray]:
    """Every property of PROPERTIES over ``text`` (arrays of len(text))."""
    return {name: f(text) for name, f in PROPERTIES.items()}


@dataclass(frozen=True)
class Unit:
    """One hidden unit and the property it follows best."""

    layer: int
    kind: str  # "h" or "c"
    index: int
    prop: str
    corr: float  # Pearson correlation with prop (signed)

    def as_dict(self) -> dict:
        return {"layer": self.layer, "kind": self.kind, "index": self.index,
                "property": self.prop, "corr": self.corr}


def _standardized(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns scaled to mean 0 and norm 1, and a mask of the non-constant ones."""
    x = columns - columns.mean(axis=0)
    norm = np.sqrt((x * x).sum(axis=0))
    varying = norm > 1e-12 * max(1.0, float(np.abs(columns).max(initial=0.0)))
    return x / np.where(varying, norm, 1.0), varying


def correlations(activations: np.ndarray, props: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """(property names, corr (P, U)): Pearson correlation of every property
    with every column of ``activations`` (N, U); 0 where either is constant.
    Properties constant over this text are left out."""
    names = list(props)
    signals = np.stack([props[n] for n in names], axis=1) if names else np.zeros((len(activations), 0))
    zs, s_ok = _standardized(signals)
    za, a_ok = _standardized(activations.astype(np.float64))
    corr = zs.T @ za
    corr[:, ~a_ok] = 0.0
    keep = [i for i, ok in enumerate(s_ok) if ok]
    return [names[i] for i in keep], np.clip(corr[keep], -1.0, 1.0)


def rank_units(layers: list, text: str, k: int = 20) -> list[Unit]:
    """The ``k`` units that track a property of ``text`` best, best first.

    ``layers``: a trace's list of {"h": (N, H)[, "c": (N, H)]}.  Each unit is
    listed once, with its strongest property; ties keep layer order.
    """
    props = text_properties(text)
    blocks, labels = [], []
    for layer, states in enumerate(layers):
        for kind in ("h", "c"):
            if kind in states:
                blocks.append(np.asarray(states[kind]))
                labels += [(layer, kind, i) for i in range(states[kind].shape[1])]
    if not blocks or not labels:
        return []
    names, corr = correlations(np.concatenate(blocks, axis=1), props)
    if not names:
        return []
    best = np.argmax(np.abs(corr), axis=0)  # (U,) property index per unit
    best_corr = corr[best, np.arange(corr.shape[1])]
    order = np.argsort(-np.abs(best_corr), kind="stable")[:k]
    return [
        Unit(*labels[u], prop=names[best[u]], corr=float(best_corr[u]))
        for u in order
        if best_corr[u] != 0.0
    ]
