"""The ``crnn`` command line: ``train``, ``sample``, ``eval``, ``info``, ``viz``
and ``plot``.

One module per command (train.py, sample.py, evaluate.py, info.py; viz and
plot live with the page in crnn/viz/commands.py); each
parses its options, calls the library (``crnn.CharRNN``, ``crnn.Trainer``,
``crnn.load`` ...) and formats what it reports.  No training logic lives
here.  group.py turns every error a user can cause into one line
``Error: ...`` and a non-zero exit status, never a traceback.  Progress,
notes and training samples go to standard error; standard output carries
only what a command produces (sampled text, eval and info results).
"""

from ..viz import commands as _viz_commands
from . import evaluate, info, sample, train
from .group import cli, main

for _command in (train.train, sample.sample, evaluate.evaluate, info.info,
                 _viz_commands.viz, _viz_commands.plot):
    cli.add_command(_command)

__all__ = ["cli", "main"]
