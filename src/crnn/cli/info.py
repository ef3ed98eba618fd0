"""``crnn info MODEL``: what a model file holds."""

from __future__ import annotations

import json

import click

from .. import io as _io
from .._version import __version__
from ..model import CharRNN
from .common import CONTEXT_SETTINGS, open_model


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("model_path", metavar="MODEL")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
def info(model_path: str, as_json: bool) -> None:
    """Describe MODEL: settings, vocabulary, size and training so far."""
    model = open_model(model_path)
    facts = model_facts(model_path, model)
    if as_json:
        click.echo(json.dumps(facts, indent=2, ensure_ascii=False))
        return
    width = max(len(key) for key in facts) + 2  # the longest label, its colon, a space
    for key, value in facts.items():
        if key == "vocabulary":
            value = printable_vocab(value)
        elif isinstance(value, float):
            value = f"{value:.6g}"
        elif value is None:
            value = "-"
        click.echo(f"{key.replace('_', ' ') + ':':<{width}}{value}")


def model_facts(path: str, model: CharRNN) -> dict:
    # The format and crnn versions are the file's, not the model object's.
    metadata = _io.read_metadata(path)
    history = list(model.val_history)
    best = min(history, key=lambda pair: pair[1]) if history else None
    return {
        "file": path,
        "format_version": metadata.get("format_version"),
        "written_by_crnn": metadata.get("crnn_version"),
        "crnn_version": __version__,
        "preset": model.preset,
        "model": model.cell,
        "layers": model.num_layers,
        "hidden_size": model.hidden_size,
        "dropout": model.dropout,
        "init": model.network.init_scheme,
        "seq_length": model.seq_length,
        "optimizer": model.optimizer.name,
        "optimizer_settings": json.dumps(model.optimizer.settings, sort_keys=True),
        "learning_rate": model.learning_rate,
        "lr_schedule": json.dumps(model.lr_schedule.to_json(), sort_keys=True),
        "grad_clip": f"{model.clip_mode} {model.grad_clip:g}" if model.grad_clip else "none",
        "batch_size": model.batch_size,
        "dtype": model.dtype.name,
        "vocab_size": model.vocab_size,
        "vocabulary": "".join(model.vocab),
        "parameters": model.param_count,
        "iterations": model.iteration,
        "smooth_loss": model.smooth_loss,
        "smooth_loss_per_char": model.smooth_loss / model.seq_length,
        "last_validation": history[-1][1] if history else None,
        "best_validation": best[1] if best else None,
        "best_validation_iteration": best[0] if best else None,
    }


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", " ": "␣", "\\": "\\\\"}


def printable_vocab(chars: str) -> str:
    """The vocabulary with invisible characters spelled out (\\n, ␣, \\x07 ...)."""
    return "".join(_ESCAPES.get(c) or (c if c.isprintable() else repr(c)[1:-1]) for c in chars)
