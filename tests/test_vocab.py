"""Vocabulary and text handling: crnn.Vocab and crnn.data."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crnn
from crnn import data

MIXED = "Привет, мир! 你好，世界 😀👍🏽 naïve café\n"


def test_from_text_sorts_by_code_point():
    vocab = crnn.Vocab.from_text("cabbage")
    assert vocab.chars == ("a", "b", "c", "e", "g")
    assert list(vocab) == ["a", "b", "c", "e", "g"]
    assert len(vocab) == 5
    assert list(vocab.encode("cab")) == [2, 0, 1]


def test_encode_returns_int32_and_decode_inverts_it():
    vocab = crnn.Vocab.from_text("hello world")
    ids = vocab.encode("world hello")
    assert ids.dtype == np.int32
    assert vocab.decode(ids) == "world hello"
    assert vocab.decode([]) == ""


def test_non_latin_text_and_emoji_are_single_characters():
    vocab = crnn.Vocab.from_text(MIXED)
    assert len(vocab) == len(set(MIXED))
    assert "😀" in vocab and "你" in vocab and "П" in vocab
    ids = vocab.encode(MIXED)
    assert len(ids) == len(MIXED)  # one id per code point, nothing split
    assert vocab.decode(ids) == MIXED


def test_contains():
    vocab = crnn.Vocab.from_text("ab😀")
    assert "a" in vocab and "😀" in vocab
    assert "z" not in vocab and "ab" not in vocab and 1 not in vocab
    assert "\U0010ffff" not in vocab


def test_equality_and_hash():
    a = crnn.Vocab.from_text("hello")
    b = crnn.Vocab(["e", "h", "l", "o"])
    c = crnn.Vocab(["h", "e", "l", "o"])  # same characters, other order
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert a != "ehlo"


def test_unknown_characters_are_named():
    vocab = crnn.Vocab.from_text("abc")
    with pytest.raises(crnn.VocabError) as info:
        vocab.encode("abxyz😀")
    message = str(info.value)
    for char in "xyz😀":
        assert repr(char) in message
    assert set(info.value.unknown) == set("xyz😀")
    assert isinstance(info.value, ValueError)


def test_many_unknown_characters_are_summarised():
    vocab = crnn.Vocab.from_text("a")
    with pytest.raises(crnn.VocabError, match="and 16 more"):
        vocab.encode("bcdefghijklmnopqrstuvwxyz@")


def test_unknown_chars_helper():
    vocab = crnn.Vocab.from_text("abc")
    assert vocab.unknown_chars("cabbage😀") == ("e", "g", "😀")
    assert vocab.unknown_chars("abc") == ()


def test_decode_rejects_out_of_range_ids():
    vocab = crnn.Vocab.from_text("abc")
    with pytest.raises(crnn.VocabError):
        vocab.decode([0, 3])
    with pytest.raises(crnn.VocabError):
        vocab.decode([-1])


@pytest.mark.parametrize(
    "chars, error",
    [([], crnn.VocabError), (["a", "a"], crnn.VocabError), (["ab"], crnn.VocabError), ([1], crnn.VocabError)],
)
def test_invalid_vocabularies(chars, error):
    with pytest.raises(error):
        crnn.Vocab(chars)


def test_from_text_rejects_empty_and_non_str():
    with pytest.raises(crnn.VocabError):
        crnn.Vocab.from_text("")
    with pytest.raises(TypeError):
        crnn.Vocab.from_text(b"bytes")


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1))
def test_round_trip_any_text(text):
    vocab = crnn.Vocab.from_text(text)
    assert list(vocab.chars) == sorted(set(text))
    assert vocab.decode(vocab.encode(text)) == text


def test_ids_do_not_depend_on_the_hash_seed():
    script = (
        "import crnn, sys; t = sys.argv[1]; v = crnn.Vocab.from_text(t); "
        "print(''.join(v.chars)); print(v.encode(t).tolist())"
    )
    text = MIXED + "the quick brown fox jumps over the lazy dog"
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONIOENCODING="utf-8")
        result = subprocess.run(
            [sys.executable, "-c", script, text], env=env, capture_output=True, check=True
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1


# ----------------------------------------------------------------------
# crnn.data


def test_encode_corpus_uses_compact_ids():
    small = crnn.Vocab.from_text("abc")
    assert data.encode_corpus("abca", small).dtype == np.uint8
    wide = crnn.Vocab([chr(0x4E00 + i) for i in range(300)])
    ids = data.encode_corpus("".join(wide.chars), wide)
    assert ids.dtype == np.uint16
    assert ids.tolist() == list(range(300))


def test_id_dtype_boundaries():
    assert data.id_dtype(256) == np.uint8
    assert data.id_dtype(257) == np.uint16
    assert data.id_dtype(65536) == np.uint16
    assert data.id_dtype(65537) == np.uint32


def test_as_ids_validates_arrays():
    vocab = crnn.Vocab.from_text("abc")
    ids = np.array([0, 1, 2], dtype=np.uint8)
    assert data.as_ids(ids, vocab) is ids  # no copy
    with pytest.raises(crnn.VocabError, match="from 0 to 3"):
        data.as_ids(np.array([0, 3]), vocab)
    with pytest.raises(TypeError):
        data.as_ids(np.array([0.5]), vocab)
    with pytest.raises(TypeError):
        data.as_ids(np.zeros((2, 2), np.int32), vocab)


def test_read_text_utf8(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(MIXED.encode("utf-8"))
    assert data.read_text(path) == MIXED


def test_read_text_reports_the_offset_of_bad_bytes(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good text \xff\xfe more")
    with pytest.raises(crnn.CorpusError, match=r"byte offset 10.*errors='replace'"):
        data.read_text(path)
    assert data.read_text(path, errors="replace") == "good text \ufffd\ufffd more"


def test_read_text_refuses_binary_and_empty_files(tmp_path):
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"ELF\x00\x01\x02")
    with pytest.raises(crnn.CorpusError, match="binary.*offset 3"):
        data.read_text(binary)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(crnn.CorpusError, match="empty"):
        data.read_text(empty)
    with pytest.raises(FileNotFoundError):
        data.read_text(tmp_path / "missing.txt")


def test_other_encodings_are_not_mistaken_for_binary():
    raw = "héllo".encode("utf-16")
    assert data.decode_text(raw, encoding="utf-16") == "héllo"


# ----------------------------------------------------------------------
# Streaming large files


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 1 << 20])
def test_iter_text_never_splits_characters(tmp_path, chunk_bytes):
    path = tmp_path / "t.txt"
    path.write_bytes((MIXED * 3).encode("utf-8"))
    pieces = list(data.iter_text(path, chunk_bytes=chunk_bytes))
    assert "".join(pieces) == MIXED * 3
    assert all(pieces)


@pytest.mark.parametrize("chunk_bytes", [1, 4, 7, 1 << 20])
def test_iter_text_reports_file_offsets(tmp_path, chunk_bytes):
    path = tmp_path / "bad.txt"
    path.write_bytes("😀😀😀".encode("utf-8") + b"\xc3(" + b"tail")  # bad byte at offset 12
    with pytest.raises(crnn.CorpusError, match="byte offset 12"):
        list(data.iter_text(path, chunk_bytes=chunk_bytes))
    binary = tmp_path / "bin"
    binary.write_bytes(b"abcdefgh\x00")
    with pytest.raises(crnn.CorpusError, match="offset 8"):
        list(data.iter_text(binary, chunk_bytes=chunk_bytes))


def test_iter_text_empty_file(tmp_path):
    (tmp_path / "e").write_bytes(b"")
    with pytest.raises(crnn.CorpusError, match="empty"):
        list(data.iter_text(tmp_path / "e"))


def test_vocab_and_ids_from_a_file_match_the_in_memory_path(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "CHUNK_BYTES", 7)  # many pieces
    text = MIXED * 5
    path = tmp_path / "t.txt"
    path.write_bytes(text.encode("utf-8"))
    vocab = data.vocab_from_file(path)
    assert vocab == crnn.Vocab.from_text(text)
    ids = data.encode_file(path, vocab, tmp_path / "ids.bin")
    assert isinstance(ids, np.memmap) and not ids.flags.writeable
    assert np.array_equal(ids, data.encode_corpus(text, vocab))
    assert ids.dtype == np.uint8
    assert sorted(os.listdir(tmp_path)) == ["ids.bin", "t.txt"]


def test_encode_file_failure_leaves_no_partial_output(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"abc xyz")
    with pytest.raises(crnn.VocabError):
        data.encode_file(path, crnn.Vocab.from_text("abc "), tmp_path / "ids.bin")
    assert os.listdir(tmp_path) == ["t.txt"]
