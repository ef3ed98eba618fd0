"""fuzz_load.py's crafted cases: hostile model files built by hand (pickles, zip bombs, lying metadata, ...)."""

from __future__ import annotations

import json
import pickle
import zlib
from typing import Callable, Iterator, Optional

import numpy as np

from _fuzz_archive import deflate_zeros, load_npy, npy, raw_zip, read_members, zip_members


class _Marker:
    """Unpickling this creates the file at ``path``: proof that code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def crafted_cases(base: bytes, marker: str) -> Iterator[tuple[str, bytes]]:
    """(name, file bytes) of hostile files built by hand from a model file."""
    members = read_members(base)
    meta = json.loads(load_npy(members["meta.npy"]).tobytes())
    H, V, B = meta["hyperparameters"]["hidden_size"], len(meta["vocab"]), meta["hyperparameters"]["batch_size"]

    def with_members(**changes: Optional[bytes]) -> bytes:
        new = dict(members)
        for key, value in changes.items():
            if value is None:
                new.pop(key + ".npy", None)
            else:
                new[key + ".npy"] = value
        return zip_members(list(new.items()))

    def with_meta(edit: Callable[[dict], None]) -> bytes:
        m = json.loads(json.dumps(meta))
        edit(m)
        return with_members(meta=npy(np.frombuffer(json.dumps(m).encode(), np.uint8)))

    P = load_npy(members["params.npy"]).size
    L, S = meta["network"]["num_layers"], load_npy(members["state.npy"]).shape[2]
    evil = np.empty(P, dtype=object)
    evil[0] = _Marker(marker)
    yield "object array (pickled payload inside)", with_members(params=npy(evil, allow_pickle=True))
    yield "object array as metadata", with_members(meta=npy(np.array([_Marker(marker)], object), allow_pickle=True))
    yield "a pickle instead of a zip", pickle.dumps(_Marker(marker))
    yield "a pickle instead of an .npy member", with_members(params=pickle.dumps(_Marker(marker)))
    yield "np.save of an object array as the whole file", npy(np.array([_Marker(marker)], object), allow_pickle=True)
    yield "wrong shape (P plus 1)", with_members(params=npy(np.zeros(P + 1)))
    yield "wrong shape, right size", with_members(params=npy(np.zeros((1, P))))
    yield "wrong dtype float32 in a float64 model", with_members(params=npy(np.zeros(P, np.float32)))
    yield "wrong dtype int64 weights", with_members(params=npy(np.zeros(P, np.int64)))
    yield "wrong dtype complex", with_members(params=npy(np.zeros(P, np.complex128)))
    yield "string array", with_members(start_state=npy(np.array([["x"] * S] * L)))
    yield "structured dtype", with_members(params=npy(np.zeros(P, [("a", "<f8")])))
    yield "float pointers", with_members(pointers=npy(np.zeros(B)))
    yield "vocab longer than the weights", with_meta(lambda m: m.update(vocab=m["vocab"] + ["\x01"]))
    yield "vocab shorter than the weights", with_meta(lambda m: m.update(vocab=m["vocab"][:-1]))
    yield "vocab with a repeated character", with_meta(lambda m: m.update(vocab=m["vocab"][:1] * 2 + m["vocab"][2:]))
    yield "vocab entries of two characters", with_meta(lambda m: m.update(vocab=["ab"] * V))
    yield "NaN weights", with_members(params=npy(np.full(P, np.nan)))
    yield "infinite weights", with_members(params=npy(np.full(P, np.inf)))
    yield "infinite Adagrad memory", with_members(**{"optim.sum": npy(np.full(P, np.inf))})
    yield "negative Adagrad memory", with_members(**{"optim.sum": npy(-np.ones(P))})
    yield "hidden state outside tanh's range", with_members(state=npy(np.full((L, B, S), 3.0)))
    yield "start state outside tanh's range", with_members(start_state=npy(np.full((L, S), -1.5)))
    yield "start state of the wrong shape", with_members(start_state=npy(np.zeros((L + 1, S))))
    yield "NaN start state", with_members(start_state=npy(np.full((L, S), np.nan)))
    yield "format 2 without its start state", with_members(start_state=None)
    yield "format 1 with format 2 arrays", with_meta(lambda m: m.update(format_version=1))
    yield "an unknown cell", with_meta(lambda m: m["network"].update(cell="transformer"))
    yield "zero layers", with_meta(lambda m: m["network"].update(num_layers=0))
    yield "more layers than the arrays", with_meta(lambda m: m["network"].update(num_layers=2))
    yield "an LSTM's meta on an rnn's arrays", with_meta(lambda m: m["network"].update(cell="lstm"))
    yield "dropout of 1", with_meta(lambda m: m["network"].update(dropout=1.0))
    yield "an unknown optimizer", with_meta(lambda m: m["optimizer"].update(name="lion"))
    yield "Adam's meta on Adagrad's buffers", with_meta(lambda m: m["optimizer"].update(name="adam", settings={}))
    yield "an unknown optimizer setting", with_meta(lambda m: m["optimizer"]["settings"].update(foo=1))
    yield "a negative step count", with_meta(lambda m: m["optimizer"].update(step_count=-1))
    yield "an unknown clip mode", with_meta(lambda m: m["optimizer"].update(clip_mode="sometimes"))
    yield "an unknown schedule", with_meta(lambda m: m["optimizer"].update(schedule={"kind": "zigzag"}))
    yield "the optimizer's buffer missing", with_members(**{"optim.sum": None})
    yield "negative pointer", with_members(pointers=npy(np.full(B, -1, np.int64)))
    yield "huge pointer", with_members(pointers=npy(np.full(B, 2**64 - 1, np.uint64)))
    yield "negative hidden_size", with_meta(lambda m: m["hyperparameters"].update(hidden_size=-H))
    yield "zero seq_length", with_meta(lambda m: m["hyperparameters"].update(seq_length=0))
    yield "enormous hidden_size", with_meta(lambda m: m["hyperparameters"].update(hidden_size=1 << 40))
    yield "enormous but allowed hidden_size", with_meta(
        lambda m: (m["hyperparameters"].update(hidden_size=1 << 15), m["network"].update(hidden_size=1 << 15)))
    yield "enormous batch_size", with_meta(lambda m: m["hyperparameters"].update(batch_size=1 << 16))
    yield "enormous seq_length", with_meta(lambda m: m["hyperparameters"].update(seq_length=1 << 62))
    yield "enormous iteration", with_meta(lambda m: m["training"].update(iteration=1 << 70))
    digits = json.dumps(meta).replace('"iteration": ', '"iteration": 1' + "0" * 5000, 1)
    yield "integer with 5000 digits", with_members(meta=npy(np.frombuffer(digits.encode(), np.uint8)))
    yield "NaN learning rate", with_meta(lambda m: m["hyperparameters"].update(learning_rate=float("nan")))
    yield "infinite smooth loss", with_meta(lambda m: m["training"].update(smooth_loss=float("inf")))
    yield "boolean hidden_size", with_meta(lambda m: m["hyperparameters"].update(hidden_size=True))
    yield "another generator", with_meta(lambda m: m["training"].update(rng_state={"bit_generator": "MT19937", "state": {"key": [0] * 624, "pos": 0}}))
    yield "generator state with a negative integer", with_meta(lambda m: m["training"]["rng_state"]["state"].update(state=-1))
    yield "generator state with a 300-bit integer", with_meta(lambda m: m["training"]["rng_state"]["state"].update(inc=1 << 300))
    yield "generator state not a dict", with_meta(lambda m: m["training"].update(rng_state=[1, 2]))
    yield "future format version", with_meta(lambda m: m.update(format_version=3))
    yield "format version as a string", with_meta(lambda m: m.update(format_version="1"))
    yield "another format", with_meta(lambda m: m.update(format="numpy"))
    yield "unknown dtype", with_meta(lambda m: m.update(dtype="float16"))
    yield "metadata not JSON", with_members(meta=npy(np.frombuffer(b"{'format': 'crnn-model'", np.uint8)))
    yield "metadata not UTF-8", with_members(meta=npy(np.frombuffer(b"\xff\xfe{}", np.uint8)))
    yield "metadata a JSON list", with_members(meta=npy(np.frombuffer(b"[1, 2]", np.uint8)))
    yield "metadata nested 100000 deep", with_members(meta=npy(np.frombuffer(b"[" * 100000 + b"]" * 100000, np.uint8)))
    yield "metadata a 2-D array", with_members(meta=npy(np.zeros((2, 2), np.uint8)))
    yield "metadata a unicode string", with_members(meta=npy(np.array("{}")))
    yield "no metadata", with_members(meta=None)
    yield "missing array", with_members(params=None)
    yield "extra member", with_members(extra=npy(np.zeros(1)))
    yield "empty file", b""
    yield "text file", b"hello, I am not a model\n" * 10
    yield "end-of-archive record only", b"PK\x05\x06" + bytes(18)
    yield "truncated to half", base[: len(base) // 2]
    yield "truncated by one byte", base[:-1]
    # Zip bombs: GBs of zeros from a few MB.  Honest sizes (the archive
    # directory says 3.9 GB: refused before decompressing) and lying sizes
    # (the directory says a few hundred bytes: reading stops there).
    header = npy(np.zeros((H, H)))
    # 3900 MiB of zeros: about 4 MB of file, 4.09e9 bytes declared (< 4 GiB, no zip64).
    bomb = deflate_zeros(3900)
    size = len(header) + (3900 << 20)
    stream = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = stream.compress(header) + stream.flush(zlib.Z_FULL_FLUSH)
    plain = [(name, 0, data, zlib.crc32(data), len(data)) for name, data in members.items()]

    def bombed(target: str, declared: int) -> bytes:
        return raw_zip([(n, 8, head + bomb, 0, declared) if n == target else (n, m, d, c, s)
                        for n, m, d, c, s in plain])

    yield "zip bomb with honest sizes", bombed("params.npy", size)
    yield "zip bomb with lying sizes", bombed("params.npy", len(header))
    yield "zip bomb as the metadata", bombed("meta.npy", size)
    yield "zip bomb as the metadata, lying sizes", bombed("meta.npy", 200)
