"""Presets: named sets of model and training options (``crnn train --preset``).

A preset fills in every option of ``crnn train`` it names; an option given
on the command line still wins.  The option names are ``crnn train``'s
(as Python identifiers: ``hidden_size`` is ``--hidden-size``).

    >>> from crnn.presets import preset_options
    >>> preset_options("char-rnn")["optimizer"]
    'rmsprop'

- ``min-char-rnn``: Karpathy's 2015 script exactly (crnn train's defaults).
- ``char-rnn``: the defaults of Karpathy's char-rnn (2015, Lua Torch).
- ``quality``: the configuration with the lowest held-out loss after a
  fixed training time on a 2-core CPU, found by ``benchmarks/quality.py``
  (the search is recorded in benchmarks/README.md).
"""

from __future__ import annotations

from typing import Any, Optional

# The training time the quality preset was measured for, and the one it
# trains for when the user gives no --time-limit, --iterations or --epochs.
QUALITY_SECONDS = 600.0

PRESETS: dict[str, dict[str, Any]] = {
    "min-char-rnn": dict(
        cell="rnn", num_layers=1, hidden_size=100, seq_length=25, batch_size=1,
        optimizer="adagrad", learning_rate=0.1, grad_clip=5.0, clip_mode="value",
        lr_schedule="constant", warmup=0, dropout=0.0, init="min-char-rnn", dtype="float64",
    ),
    # char-rnn's train.lua: rnn_size 128, num_layers 2, model lstm,
    # learning_rate 2e-3 (RMSprop, decay_rate 0.95), learning_rate_decay 0.97
    # every epoch after learning_rate_decay_after 10, seq_length 50,
    # batch_size 50, grad_clip 5 (element-wise), dropout 0, weights
    # uniform(+-0.08) with forget-gate biases 1.  crnn trains in float32 as
    # char-rnn did on a GPU.
    "char-rnn": dict(
        cell="lstm", num_layers=2, hidden_size=128, seq_length=50, batch_size=50,
        optimizer="rmsprop", learning_rate=2e-3, alpha=0.95, grad_clip=5.0, clip_mode="value",
        lr_schedule="step", lr_decay=0.97, lr_decay_after=10.0, warmup=0, dropout=0.0,
        init="char-rnn", dtype="float32",
    ),
    # Measured by benchmarks/quality.py (see benchmarks/README.md, "The
    # quality preset"): the best of the configurations tried for 600 s on
    # 2 threads on tinyshakespeare (held-out 1.4386 nats/char at 600 s, best
    # 1.4310).  The cosine schedule decays over the iterations the time
    # limit allows (crnn train measures its speed first).  One 512-unit layer
    # without dropout overfits in 600 s (train 1.03, held-out 1.85).  Only
    # 1% is held out for validation: the schedule, not early stopping, ends
    # the run, and text held out is text not learned (on tinyshakespeare a
    # 5% tail held back the names of the play that the last 10% continues:
    # 880 of its 882 speaker labels unseen, held-out 1.66 instead of 1.44).
    "quality": dict(
        cell="lstm", num_layers=2, hidden_size=384, seq_length=64, batch_size=32,
        optimizer="adam", learning_rate=4e-3, grad_clip=5.0, clip_mode="norm",
        lr_schedule="cosine", lr_floor=0.1, warmup=0, dropout=0.2, init="embedding",
        dtype="float32", val_fraction=0.01,
    ),
}

# The quality preset scales with --time-limit.  Below QUALITY_SHORT_BELOW
# seconds, one 512-unit layer (after 2 minutes: 1.56 nats/char, against
# 1.59 for the 384 x 2 network and 1.67 for 512 x 2).  Above
# QUALITY_LONG_ABOVE, 512 x 2 with more dropout: at 600 s it is level with
# 384 x 2 (1.4434 against 1.4386) and still falling, while 384 x 2 has
# begun to overfit (an extrapolation: no run longer than 600 s was made).
QUALITY_SHORT_BELOW = 240.0
QUALITY_SHORT = dict(num_layers=1, hidden_size=512, dropout=0.0, learning_rate=4e-3)
QUALITY_LONG_ABOVE = 900.0
QUALITY_LONG = dict(num_layers=2, hidden_size=512, dropout=0.25, learning_rate=3e-3)

SUMMARIES = {
    "min-char-rnn": "Karpathy's min-char-rnn exactly: tanh rnn of 100, seq 25, batch 1, Adagrad 0.1, "
                    "clip +-5, float64 (crnn train's defaults)",
    "char-rnn": "Karpathy's char-rnn: 2 LSTM layers of 128, seq 50, batch 50, RMSprop 2e-3 "
                "(alpha 0.95), x0.97 per epoch after epoch 10, clip +-5, float32",
    "quality": "the best held-out loss measured in 10 minutes on 2 cores: 2 LSTM layers of 384 "
               "with dropout 0.2, started like an nn.Embedding-fed LSTM (--init embedding), "
               "seq 64, batch 32, Adam 4e-3 decayed (cosine) to 4e-4 over the --time-limit "
               "(600 s if none), clip norm 5, float32, 1% held out for validation; under a "
               "--time-limit of 240 s one layer of 512 without dropout, over 900 s 2 layers of "
               "512 with dropout 0.25 at Adam 3e-3",
}


def preset_names() -> list[str]:
    return list(PRESETS)


def preset_options(name: str, time_limit: Optional[float] = None) -> dict[str, Any]:
    """The options preset ``name`` sets (a new dict).  ``time_limit`` is the
    run's --time-limit in seconds, which the quality preset may scale with."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    options = dict(PRESETS[name])
    if name == "quality" and time_limit is not None:
        if time_limit < QUALITY_SHORT_BELOW:
            options.update(QUALITY_SHORT)
        elif time_limit > QUALITY_LONG_ABOVE:
            options.update(QUALITY_LONG)
    return options


def describe_presets() -> str:
    """One paragraph a preset, for ``crnn train --help``."""
    return "\n\n".join(f"{name}: {SUMMARIES[name]}." for name in PRESETS)
