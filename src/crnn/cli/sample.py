"""``crnn sample MODEL``: generated text on standard output, as it is made."""

from __future__ import annotations

import sys
from typing import Optional

import click

from .common import CONTEXT_SETTINGS, SEED_TYPE, describe_chars, fail, open_model, shell_path


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("model_path", metavar="MODEL")
@click.option("-n", "--length", type=click.IntRange(min=0), default=500,
              help="Characters to generate (not counting the prime).")
@click.option("--prime", default="", help="Text to start from: fed to the network first.")
@click.option("--temperature", type=click.FloatRange(min=0), default=1.0,
              help="Below 1: safer, more repetitive text; above 1: wilder; 0: always the most likely character.")
@click.option("--seed", type=SEED_TYPE, default=None, show_default="random",
              help="Seed for reproducible samples (0 or more).")
@click.option("--echo-prime/--no-echo-prime", default=True,
              help="Print the prime text before the generated text.")
def sample(model_path: str, length: int, prime: str, temperature: float,
           seed: Optional[int], echo_prime: bool) -> None:
    """Generate text from MODEL, written to standard output as it is made.

    The output starts with the --prime text (unless --no-echo-prime),
    followed by -n generated characters.  Generation starts where the model
    stood at the start of a line of its training text (its start state).
    """
    model = open_model(model_path)
    unknown = model.vocab.unknown_chars(prime)
    if unknown:
        fail(f"--prime has {len(unknown)} character(s) that '{model_path}' does not know: "
             f"{describe_chars(unknown)}; remove them ('crnn info {shell_path(model_path)}' lists the "
             "characters it knows)")
    last = ""
    if echo_prime and prime:
        click.echo(prime, nl=False)
        last = prime[-1]
    for char in model.generate(length, prime=prime, temperature=temperature, seed=seed):
        click.echo(char, nl=False)
        last = char
    if sys.stdout.isatty() and last != "\n":
        click.echo()
