"""Seeing inside a model: what it predicts and which hidden units fire.

    >>> import crnn, crnn.viz
    >>> text = 'say "hello" (twice) ' * 40
    >>> model = crnn.CharRNN(crnn.Vocab.from_text(text), hidden_size=16, seed=0)
    >>> model.train(text, iterations=50)
    50
    >>> t = model.trace(text[:100])          # or crnn.viz.trace(model, text[:100])
    >>> t.prob.shape, t.layers[0]["h"].shape, t.topk_ids.shape
    ((100,), (100, 16), (100, 5))
    >>> page = crnn.viz.make_page(model, text)   # one self-contained HTML file

``trace`` (trace.py) runs the network through the C kernels; ``rank_units``
(units.py) finds units that track properties of the text; ``build_page``
(page.py) writes the HTML; ``read_log``/``plot_log`` (curves.py) draw a
``--log`` file (matplotlib needed for that one only).
"""

from __future__ import annotations

from typing import Any, Optional

from .page import build_page, page_data
from .trace import Trace, assemble, trace
from .units import PROPERTIES, Unit, rank_units

DEFAULT_MAX_CHARS = 5000
DEFAULT_UNITS = 20

__all__ = ["PROPERTIES", "Trace", "Unit", "assemble", "build_page", "make_page",
           "model_facts", "page_data", "rank_units", "trace"]


def model_facts(model: Any, name: Optional[str] = None) -> dict:
    """The facts shown in the page's header."""
    facts = {"model": name} if name else {}
    facts.update({
        "cell": getattr(model, "cell", "rnn"),
        "layers": getattr(model, "num_layers", 1),
        "hidden size": model.hidden_size,
        "vocabulary": model.vocab_size,
        "parameters": model.param_count,
        "dtype": model.dtype.name,
        "training iterations": model.iteration,
    })
    return facts


def make_page(
    model: Any,
    text: str,
    max_chars: int = DEFAULT_MAX_CHARS,
    units: int = DEFAULT_UNITS,
    name: Optional[str] = None,
) -> str:
    """The whole ``crnn viz`` page for ``model`` reading ``text`` (its first
    ``max_chars`` characters; the page says so when it cuts)."""
    shown = text[:max_chars]
    result = trace(model, shown)
    ranked = rank_units(result.layers, shown, units)
    title = f"crnn: inside {name}" if name else "crnn: inside the model"
    return build_page(
        result, list(model.vocab), model_facts(model, name), ranked,
        val_history=list(getattr(model, "val_history", None) or []),
        title=title, total_chars=len(text),
    )
