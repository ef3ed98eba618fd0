"""The click commands ``crnn viz`` and ``crnn plot`` (registered in crnn.cli).

As everywhere in the command line: options in, library calls, a report on
standard error; every user error a single ``Error: ...`` line (raised as
click.ClickException or a crnn error and printed by crnn.cli.CrnnGroup).
The helpers shared with the other commands (reading text, opening a model)
are imported from crnn.cli when a command runs, so importing this module
never depends on the order in which crnn.cli is set up.
"""

from __future__ import annotations

import os
import secrets
from typing import NoReturn

import click

from . import DEFAULT_MAX_CHARS, DEFAULT_UNITS

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "show_default": True}
PLOT_EXTRA_HINT = "pip install 'crnn[plot]'"


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def check_output_file(path: str, example: str) -> None:
    """Fail before any work if ``path`` could not be written as a new file."""
    if os.path.isdir(path):
        fail(f"-o '{path}' is a folder; give a file name such as {os.path.join(path, example)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        fail(f"the folder for -o '{path}' does not exist ({folder}); create it first")


def write_atomically(path: str, content: str) -> None:
    """Write ``content`` to a temporary file beside ``path``, then rename it into place."""
    folder = os.path.dirname(os.path.abspath(path))
    # open(..., "x") rather than mkstemp: the page gets the usual permissions
    # (the umask's), not mkstemp's owner-only ones.
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        # (a file name with undecodable bytes may hold lone surrogates)
        with open(tmp, "x", encoding="utf-8", errors="xmlcharrefreplace", newline="\n") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------
# crnn viz


@click.command("viz", context_settings=CONTEXT_SETTINGS)
@click.argument("model_path", metavar="MODEL")
@click.argument("file", metavar="FILE")
@click.option("-o", "--output", required=True, metavar="PAGE.html", help="The HTML page to write.")
@click.option("--max-chars", type=click.IntRange(min=1), default=DEFAULT_MAX_CHARS,
              help="Show at most this many characters of FILE (from its start).")
@click.option("--units", "n_units", type=click.IntRange(min=1), default=DEFAULT_UNITS,
              help="Length of the list of interesting hidden units.")
@click.option("--skip-unknown", is_flag=True,
              help="Drop the characters MODEL does not know instead of stopping.")
@click.option("--encoding", default="utf-8", metavar="NAME", help="Encoding of FILE.")
@click.option("--errors", "decode_errors", type=click.Choice(["strict", "replace"]), default="strict",
              help="What to do with bytes that do not decode: stop, or replace them with U+FFFD.")
def viz(model_path: str, file: str, output: str, max_chars: int, n_units: int,
        skip_unknown: bool, encoding: str, decode_errors: str) -> None:
    """Write a page showing what MODEL predicts on FILE and which neurons fire.

    One self-contained HTML file (no network needed): FILE's text shaded by
    the model's surprise, with its top-5 guesses for every character; the
    text shaded by any hidden unit; the units that best follow simple
    properties of the text; the model's facts and validation curve.
    """
    from ..cli.common import open_model, read_texts
    from . import make_page

    check_output_file(output, "page.html")
    model = open_model(model_path)
    text = read_texts([file], encoding, decode_errors)
    text = _known_text(text, model, model_path, file, skip_unknown)
    page = make_page(model, text, max_chars=max_chars, units=n_units,
                     name=os.path.basename(model_path))
    write_atomically(output, page)
    shown = min(len(text), max_chars)
    cut = f" (the first {shown:,} of {len(text):,})" if shown < len(text) else ""
    click.echo(f"Wrote '{output}' ({len(page.encode('utf-8')) / 1e6:.1f} MB): "
               f"{shown:,} characters{cut}; open it in a browser.", err=True)


def _known_text(text: str, model, model_path: str, file: str, skip_unknown: bool) -> str:
    from ..cli.common import describe_chars

    unknown = model.vocab.unknown_chars(text)
    if not unknown:
        return text
    shown = "standard input" if file == "-" else f"'{file}'"
    if not skip_unknown:
        fail(f"{shown} has {len(unknown)} character(s) that '{model_path}' does not know: "
             f"{describe_chars(unknown)}; pass --skip-unknown to drop them "
             f"('crnn info {model_path}' lists the characters it knows)")
    kept = text.translate({ord(c): None for c in unknown})
    if not kept:
        fail(f"none of the characters of {shown} are known to '{model_path}'; "
             "give a text like the one it was trained on")
    click.echo(f"Note: dropped {len(text) - len(kept):,} character(s) that '{model_path}' "
               f"does not know: {describe_chars(unknown)}.", err=True)
    return kept


# ----------------------------------------------------------------------
# crnn plot


@click.command("plot", context_settings=CONTEXT_SETTINGS)
@click.argument("log_path", metavar="LOG.csv")
@click.option("-o", "--output", required=True, metavar="CURVE.png",
              help="The picture to write: .png, .svg or .pdf.")
def plot(log_path: str, output: str) -> None:
    """Draw the loss and validation curves of a `crnn train --log` file.

    Needs matplotlib (pip install 'crnn[plot]'); `crnn viz` does not.
    """
    from .curves import FORMATS, plot_log, read_log

    check_output_file(output, "curve.png")
    extension = os.path.splitext(output)[1].lower()
    if extension not in FORMATS:
        fail(f"-o '{output}' must end in {', '.join(FORMATS)} (the picture's format)")
    if not os.path.exists(log_path):
        fail(f"log file '{log_path}' does not exist; write one with crnn train --log {log_path}")
    if os.path.isdir(log_path):
        fail(f"'{log_path}' is a folder, not a log file")
    log = read_log(log_path)
    try:
        import matplotlib  # noqa: F401  (the optional extra)
    except ImportError:
        fail(f"crnn plot needs matplotlib, which is not installed: {PLOT_EXTRA_HINT}")
    plot_log(log, output, title=os.path.basename(log_path))
    runs = f"; the file holds {log.runs} runs, this is the last" if log.runs > 1 else ""
    click.echo(f"Wrote '{output}': {len(log.iteration):,} iterations, "
               f"{len(log.val_loss)} validation point(s){runs}.", err=True)
