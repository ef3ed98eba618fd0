"""What a model file holds, version by version (crnn.io reads and writes the
archive; this module maps a model to its arrays and metadata and back).

Version 2 (this crnn): arrays

    params (P,)            the flat parameter buffer (layout in meta["layout"])
    optim.<buffer> (P,)    each of the optimizer's state buffers, same layout
    state (L, B, S)        every training stream's state (S = H, or 2H: [h | c])
    start_state (L, S)     where sampling and evaluation start
    pointers (B,) int64    training data pointers

and meta: format, format_version, crnn_version, vocab, dtype, network (cell,
num_layers, hidden_size, dropout, init), layout ([name, shape, offset] of
each parameter, for readers without crnn), hyperparameters (hidden_size,
seq_length, batch_size, learning_rate), optimizer (name, settings,
step_count, grad_clip, clip_mode, schedule), preset, training (iteration,
smooth_loss, rng_state, val_history).

Version 1 (crnn 0.1.0, min-char-rnn only): Wxh Whh Why bh by, their Adagrad
memory mWxh ..., hidden (B, H), pointers; no start state.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._modelutil import VAL_HISTORY_MAX
from .errors import ModelFormatError, OptimizerError
from .model import PARAM_NAMES, CharRNN
from . import optim
from .network import CELLS, INIT_SCHEMES, Network
from .optim import CLIP_MODES, OPTIMIZERS
from .vocab import Vocab

V1_ARRAYS = PARAM_NAMES + tuple("m" + n for n in PARAM_NAMES) + ("hidden", "pointers")

# Limits for untrusted files (crnn.io checks them too).  Real models are far
# inside them.
LIMITS = {
    "hidden_size": 1 << 15,
    "seq_length": 1 << 20,
    "batch_size": 1 << 16,
    "vocab": 0x110000,
    "iteration": 1 << 62,
    "pointer": 1 << 62,
}
MAX_LAYERS = 64


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_float(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# ----------------------------------------------------------------------
# Writing (version 2)


def model_arrays(model: CharRNN, version: int) -> tuple[dict[str, np.ndarray], dict]:
    state = model._get_state()
    opt = model.optimizer
    arrays = {"params": np.ascontiguousarray(model._flat)}
    for name, buffer in opt.state.items():
        arrays["optim." + name] = np.ascontiguousarray(buffer)
    arrays["state"] = np.ascontiguousarray(state["state"])
    arrays["start_state"] = np.ascontiguousarray(state["start_state"])
    arrays["pointers"] = np.array(state["pointers"], dtype=np.int64)
    meta = {
        "format_version": version,
        "vocab": list(model.vocab.chars),
        "dtype": model.dtype.name,
        "network": model.network.to_json(),
        "layout": [[name, list(shape), offset] for name, shape, offset in model.network.layout()],
        "hyperparameters": {"hidden_size": model.hidden_size, "seq_length": model.seq_length,
                            "batch_size": model.batch_size, "learning_rate": model.learning_rate},
        "optimizer": {"name": opt.name, "settings": opt.settings, "step_count": opt.step_count,
                      "grad_clip": model.grad_clip, "clip_mode": model.clip_mode,
                      "schedule": model.lr_schedule.to_json()},
        "preset": model.preset,
        "training": {"iteration": state["iteration"], "smooth_loss": state["smooth_loss"],
                     "rng_state": state["rng_state"],
                     "val_history": [list(pair) for pair in model.val_history]},
    }
    return arrays, meta


# ----------------------------------------------------------------------
# Checking the metadata of version 2 (the common fields are io's)


def check_meta_v2(meta: dict, section: Any) -> None:
    net = section(meta, "network")
    if net.get("cell") not in CELLS:
        raise ModelFormatError(f"invalid cell {net.get('cell')!r}")
    if not is_int(net.get("num_layers")) or not 1 <= net["num_layers"] <= MAX_LAYERS:
        raise ModelFormatError(f"invalid num_layers {net.get('num_layers')!r}")
    if net.get("hidden_size") != meta["hyperparameters"]["hidden_size"]:
        raise ModelFormatError("the network's hidden_size disagrees with the hyperparameters")
    if not is_float(net.get("dropout")) or not 0 <= net["dropout"] < 1:
        raise ModelFormatError(f"invalid dropout {net.get('dropout')!r}")
    if net.get("init") not in INIT_SCHEMES:
        raise ModelFormatError(f"invalid init {net.get('init')!r}")
    opt = section(meta, "optimizer")
    if opt.get("name") not in OPTIMIZERS:
        raise ModelFormatError(f"unknown optimizer {opt.get('name')!r}")
    if not isinstance(opt.get("settings"), dict) or not isinstance(opt.get("schedule"), dict):
        raise ModelFormatError("the optimizer's settings and schedule must be objects")
    if not is_int(opt.get("step_count")) or opt["step_count"] < 0:
        raise ModelFormatError(f"invalid optimizer step_count {opt.get('step_count')!r}")
    if opt.get("clip_mode") not in CLIP_MODES:
        raise ModelFormatError(f"invalid clip_mode {opt.get('clip_mode')!r}")
    clip = opt.get("grad_clip")
    if not (clip is None if opt["clip_mode"] == "none" else is_float(clip) and clip > 0):
        raise ModelFormatError(f"invalid grad_clip {clip!r}")
    if meta.get("preset") is not None and not isinstance(meta["preset"], str):
        raise ModelFormatError(f"invalid preset {meta['preset']!r}")
    history = meta["training"].get("val_history", [])
    if not (isinstance(history, list) and len(history) <= VAL_HISTORY_MAX
            and all(isinstance(p, list) and len(p) == 2 and is_int(p[0]) and is_float(p[1])
                    for p in history)):
        raise ModelFormatError("invalid val_history (a list of [iteration, nats/char] pairs)")


def _new_model(vocab: Vocab, meta: dict) -> CharRNN:
    """The model the metadata describes, its arrays not yet filled in."""
    hyper = meta["hyperparameters"]
    common = dict(hidden_size=hyper["hidden_size"], seq_length=hyper["seq_length"],
                  learning_rate=hyper["learning_rate"], batch_size=hyper["batch_size"],
                  dtype=meta["dtype"], seed=0)
    if meta["format_version"] == 1:
        return CharRNN(vocab, **common)
    net, opt = meta["network"], meta["optimizer"]
    try:
        return CharRNN(vocab, **common, cell=net["cell"], num_layers=net["num_layers"],
                       dropout=net["dropout"], init=net["init"], optimizer=opt["name"],
                       optimizer_settings=opt["settings"], grad_clip=opt["grad_clip"],
                       clip_mode=opt["clip_mode"], lr_schedule=opt["schedule"])
    except (OptimizerError, ValueError, TypeError) as exc:
        raise ModelFormatError(f"invalid network or optimizer settings ({exc})") from None


def expected_shapes(meta: dict, vocab: Vocab) -> dict[str, tuple[tuple[int, ...], str]]:
    """Shape and kind ('f' the model's float dtype, 'i' integers) of each
    array, from the metadata alone: nothing large is allocated before the
    file's arrays are known to be that large."""
    hyper = meta["hyperparameters"]
    H, V, B = hyper["hidden_size"], len(vocab), hyper["batch_size"]
    if meta["format_version"] == 1:
        weights = {"Wxh": (H, V), "Whh": (H, H), "Why": (V, H), "bh": (H,), "by": (V,)}
        shapes = {name: (shape, "f") for name, shape in weights.items()}
        shapes.update({"m" + name: (shape, "f") for name, shape in weights.items()})
        shapes["hidden"] = ((B, H), "f")
    else:
        net, opt = meta["network"], meta["optimizer"]
        try:
            network = Network(net["cell"], net["num_layers"], H, V, float(net["dropout"]), net["init"])
            buffers = optim.make_optimizer(opt["name"], 1, meta["dtype"], **opt["settings"]).state
            P, L, S = network.param_count, network.num_layers, network.state_width
        except (OptimizerError, ValueError, TypeError, OverflowError) as exc:
            raise ModelFormatError(f"invalid network or optimizer settings ({exc})") from None
        shapes = {"params": ((P,), "f")}
        shapes.update({"optim." + name: ((P,), "f") for name in buffers})
        shapes["state"] = ((L, B, S), "f")
        shapes["start_state"] = ((L, S), "f")
    shapes["pointers"] = ((B,), "i")
    return shapes


def build_model(vocab: Vocab, meta: dict, arrays: dict[str, np.ndarray]) -> CharRNN:
    """The model of a checked file: its arrays, then its values, then the model."""
    model = _new_model(vocab, meta)
    check_values(model, arrays)
    return fill_model(model, meta, arrays)


def check_values(model: CharRNN, arrays: dict[str, np.ndarray]) -> None:
    for name, array in arrays.items():
        if name == "pointers":
            if array.size and not (0 <= array.min() and array.max() <= LIMITS["pointer"]):
                raise ModelFormatError("the data pointers are out of range")
        elif not np.isfinite(array).all():
            raise ModelFormatError(f"array {name!r} contains NaN or infinite values")
    if any((arrays[n] < 0).any() for n in arrays if n.startswith("m") and n[1:] in PARAM_NAMES):
        raise ModelFormatError("the Adagrad memory has negative values")
    H = model.hidden_size
    for name in ("hidden", "state", "start_state"):
        if name not in arrays:
            continue
        h = arrays[name][..., :H] if model.cell == "lstm" else arrays[name]  # c is unbounded
        if (np.abs(h) > 1).any():
            raise ModelFormatError(f"the {name} values are outside [-1, 1] (tanh outputs)")


def fill_model(model: CharRNN, meta: dict, arrays: dict[str, np.ndarray]) -> CharRNN:
    training = meta["training"]
    try:
        np.random.Generator(np.random.PCG64()).bit_generator.state = training["rng_state"]
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ModelFormatError(f"invalid random generator state ({type(exc).__name__}: {exc})") from None
    if meta["format_version"] == 1:
        for name in PARAM_NAMES:
            model.params[name][...] = arrays[name]
            model.memory[name][...] = arrays["m" + name]
        state, start = arrays["hidden"][None], None
    else:
        model._flat[...] = arrays["params"]
        buffers = {k[len("optim."):]: v for k, v in arrays.items() if k.startswith("optim.")}
        try:
            model.optimizer.load_state(buffers, meta["optimizer"]["step_count"])
        except OptimizerError as exc:
            raise ModelFormatError(str(exc)) from None
        state, start = arrays["state"], arrays["start_state"]
        model.preset = meta.get("preset")
    model._set_state(iteration=training["iteration"], smooth_loss=training["smooth_loss"],
                     pointers=arrays["pointers"].tolist(), state=state,
                     rng_state=training["rng_state"], start_state=start)
    for pair in training.get("val_history", []):
        model.val_history.append(tuple(pair))
    return model
