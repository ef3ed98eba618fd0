"""fuzz_load.py's mutations: byte-level, archive-level and semantic edits of a model file."""

from __future__ import annotations

import json
import random
from typing import Callable

import numpy as np

from _fuzz_archive import load_npy, npy, read_members, zip_members

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
