"""``crnn eval MODEL FILE...``: how well MODEL predicts a text."""

from __future__ import annotations

import json
from typing import Sequence

import click

from .common import CONTEXT_SETTINGS, ENCODING_OPTION, ERRORS_OPTION, describe_chars, fail, num, \
    open_model, read_texts


@click.command("eval", context_settings=CONTEXT_SETTINGS)
@click.argument("model_path", metavar="MODEL")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@ENCODING_OPTION
@ERRORS_OPTION
def evaluate(model_path: str, files: Sequence[str], as_json: bool, encoding: str,
             decode_errors: str) -> None:
    """How well MODEL predicts the text of FILE... (joined in order; '-' = stdin).

    Prints the characters predicted, the loss in nats and bits per character,
    and the perplexity (e to the nats per character).  The text is read from
    the model's start state (where it stood at the start of a line of its
    training text), as in training's validation.
    """
    model = open_model(model_path)
    text = read_texts(files, encoding, decode_errors)
    unknown = model.vocab.unknown_chars(text)
    if unknown:
        fail(f"the text has {len(unknown)} character(s) that '{model_path}' does not know: "
             f"{describe_chars(unknown)}; a model can only score text made of its own characters")
    if len(text) < 2:
        fail("the text has 1 character; evaluation needs at least 2")
    result = model.evaluate(text)
    report = {
        "model": model_path,
        "files": list(files),
        "chars": result["chars"],
        "nats_per_char": result["nats_per_char"],
        "bits_per_char": result["bits_per_char"],
        "perplexity": result["perplexity"],
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"chars       {report['chars']}")
    click.echo(f"nats/char   {num(report['nats_per_char'])}")
    click.echo(f"bits/char   {num(report['bits_per_char'])}")
    click.echo(f"perplexity  {num(report['perplexity'])}")
