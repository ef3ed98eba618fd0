"""crnn: a fast character-level RNN language model (Karpathy's min-char-rnn).

    >>> import crnn
    >>> text = "hello world! " * 50
    >>> model = crnn.CharRNN(crnn.Vocab.from_text(text), hidden_size=32, seed=0)
    >>> model.train(text, iterations=100)
    100
    >>> sample = model.sample(40, prime="hel", seed=1)
"""

from ._version import __version__
from .errors import (
    CheckpointError,
    CorpusError,
    CrnnError,
    ModelBusyError,
    ModelFormatError,
    ModelTooLargeError,
    TrainingDivergedError,
    VocabError,
)
from . import data
from .vocab import Vocab
from .model import CharRNN
from .io import load, save
from .training import Trainer

__all__ = [
    "__version__",
    "CharRNN",
    "data",
    "CorpusError",
    "CheckpointError",
    "CrnnError",
    "ModelBusyError",
    "ModelFormatError",
    "Trainer",
    "ModelTooLargeError",
    "TrainingDivergedError",
    "Vocab",
    "VocabError",
    "load",
    "save",
]
