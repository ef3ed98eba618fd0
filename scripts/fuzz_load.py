#!/usr/bin/env python3
"""Fuzz ``crnn.load`` with damaged and hostile model files.

    python scripts/fuzz_load.py --cases 10000 [--seed 0] [--timeout 5]

Every case is a file made from a real model file (several shapes, dtypes and
vocabularies) by one or more mutations: byte-level (bit flips, overwritten,
inserted, deleted or duplicated bytes, truncation, zip structure fields set
to edge values), archive-level (members dropped, duplicated, renamed, added,
recompressed) and semantic (metadata JSON values replaced by hostile ones,
arrays with other shapes, dtypes, orders and values), plus a fixed list of
crafted cases (object arrays, pickles, zip bombs, enormous declared sizes,
...).  Each case must either load as a usable model (it samples, evaluates,
trains one step and saves/loads back identically) or raise
``crnn.ModelFormatError``, and ``crnn.io.read_metadata`` (what ``crnn info``
reads) must do the same and agree with the model; anything else (another exception, a hang past
--timeout, a crash) is a failure.  Prints a summary and exits 1 on failures.

The test suite (tests/test_fuzz_load.py) imports this file for a short run.
"""

from __future__ import annotations

import argparse
import collections
import faulthandler
import io
import json
import math
import os
import pickle
import random
import resource
import signal
import struct
import sys
import tempfile
import time
import traceback
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

import crnn
import crnn.io

TEXT = "Hello, wörld! Привет 你好 😀 the quick brown fox jumps over the lazy dog.\n" * 6


# ----------------------------------------------------------------------
# Seed models and archive helpers


def seed_models(folder: Path) -> list[bytes]:
    """Real model files of several kinds, as bytes."""
    kinds = [
        dict(hidden_size=6, seq_length=5, seed=0),
        dict(hidden_size=4, seq_length=3, batch_size=3, dtype="float32", seed=1),
        dict(hidden_size=9, seq_length=7, learning_rate=0.05, seed=None),
    ]
    out = []
    for i, kwargs in enumerate(kinds):
        text = TEXT if i != 1 else "abcab cabba\n" * 20
        model = crnn.CharRNN(crnn.Vocab.from_text(text), **kwargs)
        model.train(text, iterations=3 + 4 * i)
        path = folder / f"seed{i}.npz"
        model.save(path)
        out.append(path.read_bytes())
    return out


def read_members(raw: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def npy(array: np.ndarray, allow_pickle: bool = False, version: Optional[tuple] = None) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version, allow_pickle=allow_pickle)
    return buffer.getvalue()


def load_npy(data: bytes) -> np.ndarray:
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


def zip_members(members: list[tuple[str, bytes]], compress: bool = False, comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data, compress_type=method)
        archive.comment = comment
    return buffer.getvalue()


def raw_zip(entries: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip file written by hand: entries are (name, method, compressed data,
    crc32, declared uncompressed size); sizes below 4 GiB (no zip64)."""
    body, central = bytearray(), bytearray()
    for name, method, data, crc, size in entries:
        offset = len(body)
        fname = name.encode()
        fields = (20, 0, method, 0, 0x21, crc, len(data), size, len(fname), 0)
        body += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", *fields) + fname + data
        central += struct.pack(
            "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(data),
            size, len(fname), 0, 0, 0, 0, 0, offset,
        ) + fname
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                      len(central), len(body), 0)
    return bytes(body + central + end)


def deflate_zeros(megabytes: int) -> bytes:
    """A raw deflate stream of ``megabytes`` MiB of zeros, built without
    compressing them all: one full-flushed block (self-contained after a
    Z_FULL_FLUSH) repeated, then an empty final block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * megabytes + compressor.flush()


# ----------------------------------------------------------------------
# Mutations: each takes (raw model bytes, random.Random) and returns bytes


INTERESTING_INTS = [0, 1, -1, 2, 255, 256, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]


def flip_bits(raw: bytes, rnd: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rnd.randint(1, 8)):
        i = rnd.randrange(len(data))
        data[i] ^= 1 << rnd.randrange(8)
    return bytes(data)


def overwrite_bytes(raw: bytes, rnd: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rnd.randint(1, 6)):
        i = rnd.randrange(len(data))
        n = min(rnd.choice([1, 1, 2, 4, 8]), len(data) - i)
        data[i : i + n] = bytes(rnd.randrange(256) for _ in range(n))
    return bytes(data)


def truncate(raw: bytes, rnd: random.Random) -> bytes:
    return raw[: rnd.randrange(len(raw))]


def delete_range(raw: bytes, rnd: random.Random) -> bytes:
    i = rnd.randrange(len(raw))
    return raw[:i] + raw[i + rnd.randint(1, 64) :]


def insert_bytes(raw: bytes, rnd: random.Random) -> bytes:
    i = rnd.randrange(len(raw) + 1)
    if rnd.random() < 0.5:
        j = rnd.randrange(len(raw))
        extra = raw[j : j + rnd.randint(1, 256)]  # a duplicated piece of the file
    else:
        extra = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16)))
    return raw[:i] + extra + raw[i:]


def zip_field(raw: bytes, rnd: random.Random) -> bytes:
    """Set a field of a zip header (sizes, offsets, counts, name lengths,
    method, CRC) to an edge value: the most dangerous single edits."""
    signatures = {
        b"PK\x03\x04": [8, 14, 18, 22, 26, 28],  # method, crc, csize, usize, namelen, extralen
        b"PK\x01\x02": [10, 16, 20, 24, 28, 30, 32, 42],  # ..., extra/comment len, local offset
        b"PK\x05\x06": [8, 10, 12, 16, 20],  # entries, cd size, cd offset, comment len
    }
    spots = []
    for sig, offsets in signatures.items():
        start = raw.find(sig)
        while start >= 0:
            spots += [start + off for off in offsets]
            start = raw.find(sig, start + 1)
    if not spots:
        return overwrite_bytes(raw, rnd)
    data = bytearray(raw)
    for _ in range(rnd.randint(1, 3)):
        pos = rnd.choice(spots)
        width = 2 if rnd.random() < 0.4 else 4
        value = rnd.choice(INTERESTING_INTS + [rnd.randrange(1 << 32)]) & ((1 << (8 * width)) - 1)
        data[pos : pos + width] = value.to_bytes(width, "little")[: len(data) - pos]
    return bytes(data)


def member_shuffle(raw: bytes, rnd: random.Random) -> bytes:
    """Drop, duplicate, rename, add or reorder members; recompress or not."""
    members = list(read_members(raw).items())
    action = rnd.choice(["drop", "duplicate", "rename", "add", "reorder", "recompress", "comment"])
    if action == "drop":
        members.pop(rnd.randrange(len(members)))
    elif action == "duplicate":
        members.append(rnd.choice(members))
    elif action == "rename":
        i = rnd.randrange(len(members))
        name = rnd.choice(["x.npy", "Wxh", "../evil.npy", "/abs.npy", "meta.npy", "WXH.npy", "Wxh.npy"])
        members[i] = (name, members[i][1])
    elif action == "add":
        members.append((rnd.choice(["extra.npy", "meta.json", "pointers.npy"]), npy(np.zeros(3))))
    elif action == "reorder":
        rnd.shuffle(members)
    comment = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 40))) if action == "comment" else b""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name" from zipfile
        return zip_members(members, compress=rnd.random() < 0.5, comment=comment)


HOSTILE_VALUES = [
    None, True, False, 0, 1, -1, 2, 3, 2**31, 2**63, -(2**63), 2**64 + 1, 10**30, 0.5, -0.0, 1e308,
    float("nan"), float("inf"), float("-inf"), "", "x", "1", "float64", "float16", "object", "PCG64",
    [], [1], ["a", "a"], ["ab"], [None], {}, {"a": 1}, "\ud800", "\0", "é" * 10000,
]


def meta_value(raw: bytes, rnd: random.Random) -> bytes:
    """Replace, delete or add one value anywhere in the metadata JSON."""
    members = read_members(raw)
    meta = json.loads(load_npy(members["meta.npy"]).tobytes())
    # All (container, key) pairs in the JSON tree.
    spots, stack = [], [meta]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        for key in keys:
            spots.append((node, key))
            stack.append(node[key])
    for _ in range(rnd.randint(1, 2)):
        node, key = rnd.choice(spots)
        if isinstance(node, dict) and key not in node:
            continue  # removed by the first edit
        roll = rnd.random()
        if roll < 0.1 and isinstance(node, dict):
            node.pop(key, None)
        elif roll < 0.2 and isinstance(node, dict):
            node[rnd.choice(["extra", "format", "rng_state", "vocab"])] = rnd.choice(HOSTILE_VALUES)
        elif isinstance(node[key], int) and not isinstance(node[key], bool) and roll < 0.6:
            node[key] = node[key] + rnd.choice([-1, 1, -node[key], 1 << 64, node[key]])
        else:
            node[key] = rnd.choice(HOSTILE_VALUES)
    try:
        text = json.dumps(meta)
    except (ValueError, RecursionError):
        return raw
    members["meta.npy"] = npy(np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8))
    return zip_members(list(members.items()), compress=rnd.random() < 0.3)


def array_edit(raw: bytes, rnd: random.Random) -> bytes:
    """Give one array another shape, dtype, memory order, byte order or values."""
    members = read_members(raw)
    name = rnd.choice([n for n in members if n != "meta.npy"])
    array = load_npy(members[name])
    roll = rnd.randrange(9)
    if roll == 0:  # another shape
        shape = list(array.shape) or [1]
        i = rnd.randrange(len(shape))
        shape[i] = max(0, shape[i] + rnd.choice([-1, 1, 5]))
        array = np.resize(array, shape)
    elif roll == 1:  # transposed or extra dimension
        array = array.T.copy() if array.ndim == 2 and rnd.random() < 0.5 else array[None]
    elif roll == 2:  # another dtype
        dtype = rnd.choice(["<f4", "<f8", ">f8", "<f2", "<i8", "<i4", "<u8", "u1", "?", "<c16", "<M8[s]", "<U1", "V8"])
        try:
            array = array.astype(dtype) if "V" not in dtype else np.zeros(array.shape, dtype)
        except (TypeError, ValueError):
            array = np.zeros(array.shape, dtype)
    elif roll == 3:  # structured
        array = np.zeros(array.shape, dtype=[("a", "<f8")])
    elif roll == 4:  # Fortran order (still a valid file) or big-endian
        array = np.asfortranarray(array) if rnd.random() < 0.5 else array.astype(array.dtype.newbyteorder(">"))
    elif roll == 5:  # non-finite or huge values
        array = array.copy()
        if array.size:
            value = rnd.choice([np.nan, np.inf, -np.inf, 1e300, -1e300, 2.0, -2.0, -1, 2**62])
            try:
                with np.errstate(all="ignore"):
                    array.flat[rnd.randrange(array.size)] = value
            except (ValueError, OverflowError):
                pass
    elif roll == 6:  # a scalar or empty array
        array = np.array(rnd.choice([0.0, 1, np.nan])) if rnd.random() < 0.5 else array[:0]
    elif roll == 7:  # npy format version 2/3 header
        members[name] = npy(array, version=rnd.choice([(1, 0), (2, 0), (3, 0)]))
        return zip_members(list(members.items()))
    else:  # a header whose text lies about the shape
        header = members[name]
        text_end = header.index(b"\n") + 1
        lie = header[:text_end].replace(b"(", b"(9999999999, ", 1)
        members[name] = lie + header[text_end:]
        return zip_members(list(members.items()))
    members[name] = npy(array)
    return zip_members(list(members.items()), compress=rnd.random() < 0.3)


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "flip_bits": flip_bits,
    "overwrite_bytes": overwrite_bytes,
    "truncate": truncate,
    "delete_range": delete_range,
    "insert_bytes": insert_bytes,
    "zip_field": zip_field,
    "member_shuffle": member_shuffle,
    "meta_value": meta_value,
    "array_edit": array_edit,
}


def mutate(raw: bytes, rnd: random.Random) -> tuple[bytes, list[str]]:
    """One to three mutations in a row (a semantic edit may be followed by
    byte damage); returns the bytes and the names of the mutations."""
    names = []
    for i in range(rnd.choice([1, 1, 1, 2, 3])):
        name = rnd.choice(list(MUTATIONS))
        try:
            raw = MUTATIONS[name](raw, rnd)
        except Exception:
            if i == 0:
                raise  # a mutation of an intact model file must work: a bug here
            break  # an earlier mutation broke the archive: semantic edits no longer apply
        names.append(name)
        if not raw:
            break
    return raw, names


# ----------------------------------------------------------------------
# Crafted cases


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


# ----------------------------------------------------------------------
# Running cases


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def check_usable(model: crnn.CharRNN, folder: Path) -> None:
    """A model that loaded must work: sample, evaluate, train, save and reload."""
    model.sample(5, seed=0)
    text = "".join(model.vocab.chars) * (model.seq_length * model.batch_size + 2)
    model.evaluate(text[: 50])
    path = folder / "again.npz"
    model.save(path)
    again = crnn.load(path)
    for name in model.params:
        assert np.array_equal(model.params[name], again.params[name]), name
    try:
        model.train(text, iterations=1)
    except crnn.TrainingDivergedError:
        pass  # hostile but finite weights may diverge: reported, not a crash


def run_case(raw: bytes, folder: Path, timeout: float) -> tuple[str, Optional[str]]:
    """('loaded' | 'refused' | 'FAILED', detail)."""
    path = folder / "case.npz"
    path.write_bytes(raw)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        try:
            meta = crnn.io.read_metadata(path)  # what `crnn info` reads
        except crnn.ModelFormatError:
            meta = None
        try:
            model = crnn.load(path)
        except crnn.ModelFormatError as exc:
            return "refused", str(exc)
        assert meta is not None, "load accepted a file whose metadata read_metadata refused"
        assert meta["vocab"] == list(model.vocab.chars) and meta["training"]["iteration"] == model.iteration
        check_usable(model, folder)
        return "loaded", None
    except Timeout:
        return "FAILED", f"took more than {timeout} s"
    except Exception:
        return "FAILED", traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10000, help="mutated files to try (crafted ones come on top)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds one load may take")
    parser.add_argument("--save-failures", metavar="DIR", help="copy failing files here")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGALRM, _alarm)
    rnd = random.Random(args.seed)
    started = time.perf_counter()
    outcomes: collections.Counter = collections.Counter()
    by_mutation: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures: list[tuple[str, str, bytes]] = []
    slowest = (0.0, "")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bases = seed_models(folder)
        rss_before = maxrss_mb()
        marker = folder / "code-ran"
        cases: list[tuple[str, bytes]] = list(crafted_cases(bases[0], str(marker)))
        n_crafted = len(cases)
        for i in range(args.cases):
            raw, names = mutate(rnd.choice(bases), rnd)
            cases.append(("+".join(names) or "unchanged", raw))
            if len(cases) >= 2000 or i == args.cases - 1:  # keep memory flat
                slowest = _run_batch(cases, folder, args.timeout, outcomes, by_mutation, failures, slowest)
                cases = []
        if cases:
            slowest = _run_batch(cases, folder, args.timeout, outcomes, by_mutation, failures, slowest)
        if marker.exists():
            failures.append(("pickle", "an unpickled payload ran code", b""))
        rss_after = maxrss_mb()
    elapsed = time.perf_counter() - started

    total = sum(outcomes.values())
    print(f"fuzz_load: {total} cases ({n_crafted} crafted + {total - n_crafted} mutated, seed {args.seed}) "
          f"in {elapsed:.1f} s")
    print(f"  loaded as valid models: {outcomes['loaded']}")
    print(f"  refused with ModelFormatError: {outcomes['refused']}")
    print(f"  FAILED: {len(failures)}")
    print(f"  slowest case: {slowest[0] * 1000:.0f} ms ({slowest[1]})")
    print(f"  peak RSS: {rss_before:.0f} MB before the cases, {rss_after:.0f} MB after")
    print("  by mutation (loaded/refused/failed):")
    for name in sorted(by_mutation):
        c = by_mutation[name]
        print(f"    {name:<16} {c['loaded']:>6} {c['refused']:>6} {c['FAILED']:>4}")
    for name, detail, raw in failures[:20]:
        print(f"\n--- FAILED: {name}\n{detail}")
    if args.save_failures and failures:
        os.makedirs(args.save_failures, exist_ok=True)
        for i, (name, _, raw) in enumerate(failures):
            Path(args.save_failures, f"failure{i}.npz").write_bytes(raw)
    return 1 if failures else 0


def _run_batch(cases, folder, timeout, outcomes, by_mutation, failures, slowest):
    for name, raw in cases:
        t0 = time.perf_counter()
        outcome, detail = run_case(raw, folder, timeout)
        took = time.perf_counter() - t0
        if took > slowest[0]:
            slowest = (took, name)
        outcomes[outcome] += 1
        for part in name.split("+"):
            by_mutation[part if part in MUTATIONS or part == "unchanged" else "crafted"][outcome] += 1
        if outcome == "FAILED":
            failures.append((name, detail, raw))
    return slowest


if __name__ == "__main__":
    faulthandler.enable()  # a crash prints where it happened
    sys.exit(main())
