"""Large corpora: read in pieces, never held as text, encoded once to compact
ids in a memory-mapped cache keyed by the files' hash and sizes.

Small files exercise the same code (crnn.cli.corpus.STREAM_BYTES set to 0 and tiny
pieces); scripts/huge_corpus.sh measures the 1 GB case.
"""

import os
import tracemalloc

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crnn
import crnn.data as data
from crnn import cli as cli_module
from crnn.cli import corpus as cli_corpus

TEXT = "".join(f"{i}: Привет, мир! naïve café 😀 the quick brown fox.\n" for i in range(300))


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("CRNN_CACHE_DIR", str(folder))
    return folder


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


# ----------------------------------------------------------------------
# crnn.data: scan once, encode once, map afterwards


def test_cache_is_created_then_reused_and_equals_the_in_memory_path(tmp_path, cache_dir):
    path = write(tmp_path / "a.txt", TEXT)
    scan = data.scan_files([path])
    assert scan.n_chars == len(TEXT)
    assert scan.vocab == crnn.Vocab.from_text(TEXT)
    ids, reused = data.cached_ids(scan)
    assert not reused
    assert isinstance(ids, np.memmap) and not ids.flags.writeable
    assert ids.dtype == np.uint8
    assert np.array_equal(ids, data.encode_corpus(TEXT, scan.vocab))
    assert [p.name for p in cache_dir.iterdir() if p.suffix == ".ids"] == [os.path.basename(ids.filename)]

    again, reused = data.cached_ids(data.scan_files([path]))
    assert reused and again.filename == ids.filename
    assert np.array_equal(again, ids)


def test_the_key_is_the_content_not_the_name_or_time(tmp_path, cache_dir):
    a = write(tmp_path / "a.txt", TEXT)
    first, _ = data.cached_ids(data.scan_files([a]))
    b = write(tmp_path / "b.txt", TEXT)  # same bytes, another name: same entry
    second, reused = data.cached_ids(data.scan_files([b]))
    assert reused and second.filename == first.filename
    changed = write(tmp_path / "a.txt", TEXT.replace("fox", "cat"))  # same size, other bytes
    assert changed.stat().st_size == b.stat().st_size
    third, reused = data.cached_ids(data.scan_files([a]))
    assert not reused and third.filename != first.filename
    assert np.array_equal(third, data.encode_corpus(TEXT.replace("fox", "cat"), crnn.Vocab.from_text(
        TEXT.replace("fox", "cat"))))


def test_another_vocabulary_another_entry(tmp_path):
    path = write(tmp_path / "a.txt", TEXT)
    scan = data.scan_files([path])
    bigger = crnn.Vocab.from_text(TEXT + "XYZ§")
    own, _ = data.cached_ids(scan)
    for_bigger, reused = data.cached_ids(scan, bigger)
    assert not reused and for_bigger.filename != own.filename
    assert np.array_equal(for_bigger, data.encode_corpus(TEXT, bigger))
    with pytest.raises(crnn.VocabError) as info:
        data.cached_ids(scan, crnn.Vocab.from_text("abc"))
    assert "😀" in info.value.unknown


def test_several_files_are_joined_in_order(tmp_path):
    parts = [TEXT[:1000], "ümlaut ünd 中文\n" * 50, TEXT[1000:3000]]
    paths = [write(tmp_path / f"{i}.txt", part) for i, part in enumerate(parts)]
    ids, _ = data.cached_ids(data.scan_files(paths))
    text = "".join(parts)
    assert np.array_equal(ids, data.encode_corpus(text, crnn.Vocab.from_text(text)))
    swapped, reused = data.cached_ids(data.scan_files(paths[::-1]))
    assert not reused


def test_more_than_256_characters_use_uint16(tmp_path):
    text = "".join(chr(0x4E00 + i) for i in range(400)) * 3
    ids, _ = data.cached_ids(data.scan_files([write(tmp_path / "cjk.txt", text)]))
    assert ids.dtype == np.uint16
    assert np.array_equal(ids, data.encode_corpus(text, crnn.Vocab.from_text(text)))


ALPHABET = st.sampled_from(list("ab \n.,") + ["é", "ж", "中", "😀", "\u0301"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.lists(ALPHABET, min_size=1, max_size=300).map("".join), piece=st.integers(1, 17),
       encoding=st.sampled_from(["utf-8", "utf-16", "latin-1"]))
def test_any_piece_size_gives_the_ids_of_the_whole_text(tmp_path, monkeypatch, text, piece, encoding):
    """Pieces split multi-byte characters anywhere, mix ASCII-only pieces (the
    fast path) with decoded ones, and the result never changes."""
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        text = text.encode("latin-1", "replace").decode("latin-1")
        raw = text.encode(encoding)
    path = tmp_path / "t.txt"
    path.write_bytes(raw)
    monkeypatch.setattr(data, "CHUNK_BYTES", piece)
    scan = data.scan_files([path], encoding=encoding)
    assert scan.vocab == crnn.Vocab.from_text(text) and scan.n_chars == len(text)
    ids, _ = data.cached_ids(scan, cache_dir=tmp_path / f"cache-{piece}-{encoding}")
    assert np.array_equal(np.asarray(ids), data.encode_corpus(text, scan.vocab))


def test_bad_files_raise_corpus_errors_with_fields(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "CHUNK_BYTES", 64)
    good = "line one\n" * 20
    bad = write(tmp_path / "bad.txt", good)
    bad.write_bytes(good.encode() + b"caf\xe9\n")
    with pytest.raises(crnn.CorpusError) as info:
        data.scan_files([bad])
    assert (info.value.kind, info.value.source, info.value.offset) == ("undecodable", str(bad), len(good) + 3)
    binary = tmp_path / "bin.dat"
    binary.write_bytes(good.encode() * 3 + b"\0\1\2")
    with pytest.raises(crnn.CorpusError) as info:
        data.scan_files([binary])
    assert (info.value.kind, info.value.offset) == ("binary", len(good) * 3)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(crnn.CorpusError) as info:
        data.scan_files([empty])
    assert info.value.kind == "empty" and info.value.source == str(empty)


def test_only_the_most_recent_entries_are_kept(tmp_path, cache_dir):
    names = []
    for i in range(data.CACHE_KEEP + 2):
        ids, _ = data.cached_ids(data.scan_files([write(tmp_path / "t.txt", TEXT + str(i))]))
        names.append(os.path.basename(ids.filename))
        os.utime(ids.filename, (1e9 + i, 1e9 + i))  # strictly increasing use times
    kept = sorted(p.name for p in cache_dir.iterdir() if p.suffix == ".ids")
    assert kept == sorted(names[-data.CACHE_KEEP:])


def test_cached_ids_are_not_rescanned_by_train(tmp_path, monkeypatch):
    """A memory map of ids crnn wrote itself (and read-only views of it) is
    trusted by as_ids: a 1 GB map scanned at every train() call would cost
    time and pull the whole file into memory."""
    ids, _ = data.cached_ids(data.scan_files([write(tmp_path / "a.txt", TEXT)]))
    vocab = crnn.Vocab.from_text(TEXT)
    scans = []
    real_min = np.ndarray.min

    def counting_min(self, *args, **kwargs):
        scans.append(self.size)
        return real_min(self, *args, **kwargs)

    monkeypatch.setattr(np.memmap, "min", counting_min, raising=False)
    model = crnn.CharRNN(vocab, hidden_size=8, seq_length=8, seed=0)
    model.train(ids[: len(ids) - 100], iterations=3)
    model.evaluate(ids[len(ids) - 100 :])
    assert scans == []
    # Anything writable is still checked.
    writable = np.array(ids)
    writable[5] = len(vocab)
    with pytest.raises(crnn.VocabError):
        model.train(writable, iterations=1)


def test_scanning_and_encoding_hold_pieces_not_the_text(tmp_path):
    """24 MB of text is scanned and encoded with Python and NumPy allocations
    (tracemalloc) far below the text's size."""
    path = tmp_path / "big.txt"
    block = (TEXT * 4).encode()
    with open(path, "wb") as f:
        for _ in range((24 << 20) // len(block)):
            f.write(block)
    tracemalloc.start()
    try:
        scan = data.scan_files([path])
        ids, _ = data.cached_ids(scan)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(ids) == scan.n_chars > 15_000_000
    assert peak < 64 << 20, peak  # the text alone would take 80 MB as a str (4 bytes a character)


# ----------------------------------------------------------------------
# The command line streams large inputs through the cache


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_corpus, "STREAM_BYTES", 0)  # stream every file
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def invoke(runner, *args):
    result = runner.invoke(cli_module.cli, [str(a) for a in args], prog_name="crnn")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


TRAIN = ["--iterations", 40, "--checkpoint-every", 20, "--hidden-size", 8, "--seq-length", 8, "--seed", 3]


def params(path):
    model = crnn.load(path)
    return {k: v.copy() for k, v in model.params.items()}, model.iteration


def test_cli_streamed_training_equals_in_memory_training(runner, tmp_path, monkeypatch, cache_dir):
    write(tmp_path / "t.txt", TEXT)
    streamed = invoke(runner, "train", "t.txt", "-o", "s.npz", *TRAIN)
    assert streamed.exit_code == 0, streamed.stderr
    assert "encoded to ids" in streamed.stderr
    assert len(list(cache_dir.glob("*.ids"))) == 1
    again = invoke(runner, "train", "t.txt", "-o", "s.npz", "--force", *TRAIN)
    assert again.exit_code == 0 and "reusing the cached ids" in again.stderr

    monkeypatch.setattr(cli_corpus, "STREAM_BYTES", 1 << 60)  # read whole, as before
    whole = invoke(runner, "train", "t.txt", "-o", "w.npz", *TRAIN)
    assert whole.exit_code == 0 and "ids" not in whole.stderr
    a, b = params(tmp_path / "s.npz"), params(tmp_path / "w.npz")
    assert a[1] == b[1] == 40
    for name in a[0]:
        assert a[0][name].tobytes() == b[0][name].tobytes()


def test_cli_streamed_resume(runner, tmp_path):
    write(tmp_path / "t.txt", TEXT)
    assert invoke(runner, "train", "t.txt", "-o", "m.npz", *TRAIN).exit_code == 0
    resumed = invoke(runner, "train", "t.txt", "-o", "m.npz", "--resume", "--iterations", 60)
    assert resumed.exit_code == 0, resumed.stderr
    assert crnn.load(tmp_path / "m.npz").iteration == 60
    write(tmp_path / "other.txt", TEXT + "QQQ")
    refused = invoke(runner, "train", "other.txt", "-o", "m.npz", "--resume", "--iterations", 80)
    assert refused.exit_code == 1 and "cannot --resume" in refused.stderr and "'Q'" in refused.stderr


@pytest.mark.parametrize("stream", [True, False])
def test_cli_errors_read_the_same_streamed_or_not(runner, tmp_path, monkeypatch, stream):
    if not stream:
        monkeypatch.setattr(cli_corpus, "STREAM_BYTES", 1 << 60)
    monkeypatch.setattr(data, "CHUNK_BYTES", 16)
    (tmp_path / "latin.txt").write_bytes(b"first line\nsecond caf\xe9 line\n")
    (tmp_path / "bin.dat").write_bytes(b"text\0\1\2")
    (tmp_path / "empty.txt").write_bytes(b"")
    expected = {
        "latin.txt": "Error: 'latin.txt' is not valid utf-8: byte 0xe9 at line 2, byte 11 (offset 21); "
                     "if the file uses another encoding pass it with --encoding (e.g. --encoding "
                     "latin-1), or pass --errors replace to replace undecodable bytes",
        "bin.dat": "Error: 'bin.dat' looks like a binary file (it contains NUL bytes); crnn needs a text file",
        "empty.txt": "Error: 'empty.txt' is empty; give a file with some text in it",
    }
    for name, line in expected.items():
        result = invoke(runner, "train", name, "-o", "m.npz")
        assert result.exit_code == 1
        assert result.stderr.strip() == line
    replaced = invoke(runner, "train", "latin.txt", "-o", "m.npz", "--errors", "replace",
                      "--seq-length", 4, "--hidden-size", 4, "--iterations", 3, "--val-fraction", 0)
    assert replaced.exit_code == 0, replaced.stderr
    assert "\ufffd" in crnn.load(tmp_path / "m.npz").vocab


def test_partial_entries_of_killed_encodings_are_removed(tmp_path, cache_dir):
    cache_dir.mkdir()
    dead = cache_dir / f".crnn-ids.{2**22 + 12345}.abc.tmp"
    alive = cache_dir / f".crnn-ids.{os.getppid()}.def.tmp"
    dead.write_bytes(b"partial")
    alive.write_bytes(b"partial")
    data.cached_ids(data.scan_files([write(tmp_path / "a.txt", TEXT)]))
    assert not dead.exists() and alive.exists()
