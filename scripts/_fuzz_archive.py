"""Zip and .npy helpers for fuzz_load.py: read a model file's members, write them back, hand-made zips."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import Optional

import numpy as np


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
