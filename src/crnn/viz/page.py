"""The page of ``crnn viz``: one self-contained HTML file.

Everything is inline (CSS, JavaScript, the SVG training curve, the data as
JSON in a ``<script type="application/json">`` element), so the file opens
from disk in any current browser with no network access.  The script builds
the shaded text from the data; without it the header, the curve and the
unit table (rendered here in HTML) are still readable.

Data sizes: hidden states are stored unit by unit as signed bytes
(value / range * 127, the range being 1 for h, whose values lie in [-1, 1],
and the unit's largest |value| for an LSTM's c) in base64, about 1.33
bytes per unit per character; predictions as rounded numbers.
"""

from __future__ import annotations

import base64
import html
import json
import math
from typing import Any, Optional, Sequence

import numpy as np

from .assets import PAGE_CSS, PAGE_JS
from .trace import Trace
from .units import Unit

DATA_FORMAT = 1
MAX_SURPRISE = 50.0  # nats; a probability that rounded to 0 is shown as this


def build_page(
    trace: Trace,
    vocab: Sequence[str],
    facts: dict,
    units: Sequence[Unit],
    val_history: Sequence[Sequence[float]] = (),
    title: str = "crnn: inside the model",
    total_chars: Optional[int] = None,
) -> str:
    """The HTML page for ``trace``; ``vocab``: the model's characters in id
    order.  ``facts``: model facts shown in the
    header (name -> value); ``total_chars``: the length of the text before
    it was cut (a note is shown when larger than the trace)."""
    data = page_data(trace, vocab, facts, units, total_chars)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{PAGE_CSS}</style></head><body>",
        _header_html(title, data, val_history),
        _sections_html(units),
        '<div id="tip" class="tip" role="tooltip" hidden></div>',
        f'<script id="crnn-data" type="application/json">{_json_for_script(data)}</script>',
        f"<script>{PAGE_JS}</script>",
        "</body></html>",
        "",
    ])


# ----------------------------------------------------------------------
# Data


def page_data(trace: Trace, vocab: Sequence[str], facts: dict, units: Sequence[Unit],
              total_chars: Optional[int] = None) -> dict:
    """What the page's script reads (also what the tests check)."""
    n = len(trace.ids)
    surprise = np.minimum(trace.surprise, MAX_SURPRISE)
    return {
        "format": DATA_FORMAT,
        "text": trace.text,
        "vocab": list(vocab),
        "surprise": [round(float(s), 3) for s in surprise],
        "k": int(trace.topk_ids.shape[1]),
        "topk_ids": trace.topk_ids.reshape(-1).tolist(),
        "topk_probs": [round(float(p), 4) for p in trace.topk_probs.reshape(-1)],
        "nats_per_char": _finite(trace.nats_per_char),
        "bits_per_char": _finite(trace.bits_per_char),
        "chars": n,
        "total_chars": int(total_chars if total_chars is not None else n),
        "facts": dict(facts),
        "states": [_state_block(layer, kind, states[kind])
                   for layer, states in enumerate(trace.layers)
                   for kind in ("h", "c") if kind in states],
        "units": [u.as_dict() for u in units],
    }


def _finite(x: float) -> Optional[float]:
    return float(x) if math.isfinite(x) else None


def _state_block(layer: int, kind: str, values: np.ndarray) -> dict:
    """One layer's h or c as signed bytes, unit by unit (see the module docstring)."""
    values = np.asarray(values, np.float64)
    peak = np.abs(values).max(axis=0) if values.size else np.zeros(values.shape[1])
    if kind == "h":
        scale = np.ones(values.shape[1])
    else:
        scale = np.where(peak > 0, peak, 1.0)
    q = np.clip(np.rint(values / scale * 127), -127, 127).astype(np.int8)
    return {
        "layer": layer,
        "kind": kind,
        "size": int(values.shape[1]),
        "scale": [float(s) for s in scale],
        "peak": [round(float(p), 4) for p in peak],
        "data": base64.b64encode(np.ascontiguousarray(q.T).tobytes()).decode("ascii"),
    }


def decode_state_block(block: dict, n_chars: int) -> np.ndarray:
    """(N, size) activations back from a block of page_data (for tests and tools)."""
    raw = np.frombuffer(base64.b64decode(block["data"]), np.int8)
    q = raw.reshape(block["size"], n_chars).T.astype(np.float64)
    return q / 127 * np.asarray(block["scale"])


def _json_for_script(data: Any) -> str:
    """JSON safe inside <script>: ASCII only (so any str, even one with lone
    surrogates, can be written as UTF-8) and no '<' (no '</script>', '<!--')."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c")


# ----------------------------------------------------------------------
# HTML rendered here (readable without the script)


def _header_html(title: str, data: dict, val_history: Sequence[Sequence[float]]) -> str:
    facts = data["facts"]
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in facts.items()
    )
    nats, bits = data["nats_per_char"], data["bits_per_char"]
    score = (f"<b>{nats:.4f}</b> nats/char, <b>{bits:.4f}</b> bits/char"
             if nats is not None else "a character the model gave probability 0")
    note = ""
    if data["total_chars"] > data["chars"]:
        note = (f'<p class="note" id="cut-note">Showing the first {data["chars"]:,} of '
                f'{data["total_chars"]:,} characters (--max-chars {data["chars"]}).</p>')
    return (
        f"<header><h1>{html.escape(title)}</h1>"
        '<div class="head-grid">'
        f'<div><table class="facts">{rows}</table></div>'
        f'<div><p class="score">On this text ({data["chars"]:,} characters): {score}'
        " (characters after the first, as <code>crnn eval</code> counts).</p>"
        f"{note}"
        f'<figure class="curve"><figcaption>Validation loss during training</figcaption>'
        f"{training_curve_svg(val_history)}</figure></div>"
        "</div></header>"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _sections_html(units: Sequence[Unit]) -> str:
    return (
        '<section id="surprise-section"><h2>What the model expected</h2>'
        "<p>Each character is shaded by the model's surprise at it, -log p "
        "(white: expected; red: surprising). Point at a character (or tap it) "
        "to see the model's five best guesses for that position.</p>"
        '<div class="legend" id="surprise-legend"></div>'
        '<div class="text" id="surprise-text" data-mode="surprise"></div></section>'
        '<section id="unit-section"><h2>Inside the network: one hidden unit</h2>'
        '<div class="controls"><label>State <select id="block"></select></label>'
        '<label>Unit <input id="unit" type="number" min="0" value="0"></label>'
        '<button id="prev" type="button">&#8592;</button>'
        '<button id="next" type="button">&#8594;</button>'
        '<label><input id="stretch" type="checkbox"> stretch colours to this '
        "unit's range</label></div>"
        '<div class="legend" id="unit-legend"></div>'
        '<p id="unit-caption" class="caption"></p>'
        '<div class="text" id="unit-text" data-mode="unit"></div>'
        "<h3>The most interesting units</h3>"
        "<p>Units whose activation follows a simple property of this text "
        "most closely (Pearson correlation; click a row to shade the text by "
        "that unit).</p>"
        f"{units_table_html(units)}</section>"
    )


def units_table_html(units: Sequence[Unit]) -> str:
    if not units:
        return '<p class="note">No unit follows any of the properties on this text.</p>'
    rows = "".join(
        f'<tr data-layer="{u.layer}" data-kind="{u.kind}" data-index="{u.index}">'
        f"<td>{rank}</td><td>layer {u.layer} {u.kind}[{u.index}]</td>"
        f"<td>{html.escape(u.prop)}</td><td>{u.corr:+.3f}</td></tr>"
        for rank, u in enumerate(units, 1)
    )
    return ('<table id="units" class="units"><thead><tr><th>#</th><th>unit</th>'
            f"<th>follows</th><th>correlation</th></tr></thead><tbody>{rows}</tbody></table>")


# ----------------------------------------------------------------------
# The training curve


def training_curve_svg(history: Sequence[Sequence[float]], width: int = 420, height: int = 180) -> str:
    """Validation nats/char against iteration as an inline SVG (a note if empty)."""
    points = [(float(i), float(v)) for i, v in history if math.isfinite(float(v))]
    if not points:
        return ('<p class="note" id="no-curve">This model file keeps no validation '
                "losses (trained with --val-fraction 0, or by an older crnn).</p>")
    left, right, top, bottom = 52, 12, 10, 34
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
    pad = (y1 - y0) * 0.08
    y0, y1 = y0 - pad, y1 + pad

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def py(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * (height - top - bottom)

    path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
    dots = "".join(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5"><title>iteration '
                   f"{x:,.0f}: {y:.4f} nats/char</title></circle>" for x, y in points)
    ticks = "".join(
        f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>'
        f'<line x1="{left}" x2="{width - right}" y1="{py(v):.1f}" y2="{py(v):.1f}" class="grid"/>'
        for v in _nice_ticks(y0, y1)
    )
    xticks = "".join(
        f'<text x="{px(v):.1f}" y="{height - bottom + 16}" text-anchor="middle">{_short(v)}</text>'
        for v in _nice_ticks(x0, x1) if x0 <= v <= x1
    )
    return (
        f'<svg id="curve" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="validation loss curve">'
        f"{ticks}{xticks}"
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{height - bottom}" class="axis"/>'
        f'<line x1="{left}" x2="{width - right}" y1="{height - bottom}" y2="{height - bottom}" class="axis"/>'
        f'<polyline points="{path}" class="line"/>{dots}'
        f'<text x="{(left + width - right) / 2}" y="{height - 4}" text-anchor="middle">iteration</text>'
        f'<text x="12" y="{(top + height - bottom) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 12 {(top + height - bottom) / 2})">nats/char</text></svg>'
    )


def _nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round tick values (1, 2, 5 times a power of ten) within [lo, hi]."""
    span = hi - lo
    if not span > 0:
        return [lo]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _short(v: float) -> str:
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            return f"{v / size:g}{suffix}"
    return f"{v:g}"
