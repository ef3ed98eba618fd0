"""The ``crnn`` command group and its one-line error reporting."""

from __future__ import annotations

import sys
from typing import NoReturn, Optional, Sequence

import click

from .._version import __version__
from ..errors import CrnnError
from .common import CONTEXT_SETTINGS, EXIT_INTERRUPTED, one_line


def _usage_message(exc: click.UsageError) -> str:
    hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
    return exc.format_message() + hint


def _os_error_message(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


class CrnnGroup(click.Group):
    """click's group, with every user error reported as a single line.

    click would print a usage block before a usage error, and the package's
    own exceptions (crnn.CrnnError, OSError, MemoryError) would end in a
    traceback; here each becomes ``Error: ...`` and a non-zero exit.
    Anything else is a bug and keeps its traceback.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except getattr(click.exceptions, "NoArgsIsHelpError", ()) as exc:
            click.echo(exc.ctx.get_help())  # plain "crnn": show the help
            code = 0
        except click.UsageError as exc:
            self._exit_with_error(_usage_message(exc), exc.exit_code)
        except click.ClickException as exc:
            self._exit_with_error(exc.format_message(), exc.exit_code)
        except CrnnError as exc:
            self._exit_with_error(str(exc), 1)
        except OSError as exc:
            self._exit_with_error(_os_error_message(exc), 1)
        except MemoryError as exc:
            self._exit_with_error(f"out of memory ({exc or 'an allocation failed'}); "
                                  "try a smaller --hidden-size or --batch-size", 1)
        except click.Abort:  # Ctrl-C outside training
            click.echo("Aborted!", err=True)
            code = EXIT_INTERRUPTED
        sys.exit(code if isinstance(code, int) else 0)

    @staticmethod
    def _exit_with_error(message: str, code: int) -> NoReturn:
        click.echo(f"Error: {one_line(message)}", err=True)
        sys.exit(code)


@click.group(cls=CrnnGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="crnn", message="%(prog)s %(version)s")
def cli() -> None:
    """crnn: a fast character-level RNN language model (min-char-rnn in C).

    \b
    Train on the built-in corpus (Python's own source code) and sample:
        crnn train -o model.npz
        crnn sample model.npz
    """


def main(argv: Optional[Sequence[str]] = None, prog_name: str = "crnn") -> None:
    """Entry point of the ``crnn`` script and of ``python -m crnn``."""
    cli.main(args=argv, prog_name=prog_name)
