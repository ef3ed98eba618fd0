"""Model files: round trip, exact resume, atomic saves, and refusal of every
kind of damaged or hostile file."""

import errno
import io
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crnn
import crnn.io

TEXT = "Привет, мир! 你好 😀 the quick brown fox. " * 15


def make_model(**kwargs):
    settings = dict(hidden_size=12, seq_length=8, seed=0)
    settings.update(kwargs)
    return crnn.CharRNN(crnn.Vocab.from_text(TEXT), **settings)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "model.npz"
    model = make_model()
    model.train(TEXT, iterations=30)
    model.save(path)
    return path


def read_npz(path):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
    return arrays, meta


def write_npz(path, arrays, meta):
    arrays = dict(arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def assert_same_model(a, b):
    assert a.vocab == b.vocab
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name])
        assert a.params[name].dtype == b.params[name].dtype
        assert np.array_equal(a.memory[name], b.memory[name])
    assert np.array_equal(a.hidden_state, b.hidden_state)
    assert a.pointers == b.pointers
    assert a.iteration == b.iteration
    assert a.smooth_loss == b.smooth_loss
    assert (a.hidden_size, a.seq_length, a.batch_size) == (b.hidden_size, b.seq_length, b.batch_size)
    assert a.learning_rate == b.learning_rate
    assert a._rng.bit_generator.state == b._rng.bit_generator.state


# ----------------------------------------------------------------------
# Round trip and exact resume


@pytest.mark.parametrize("kwargs", [{}, {"dtype": "float32"}, {"batch_size": 3, "learning_rate": 0.05}])
def test_round_trip(tmp_path, kwargs):
    model = make_model(**kwargs)
    model.train(TEXT, iterations=20)
    model.save(tmp_path / "m.npz")
    loaded = crnn.load(tmp_path / "m.npz")
    assert_same_model(model, loaded)
    assert loaded.sample(100, prime="the", seed=1) == model.sample(100, prime="the", seed=1)


def test_plain_numpy_reads_the_file(model_file):
    arrays, meta = read_npz(model_file)
    assert set(arrays) == {"params", "optim.sum", "state", "start_state", "pointers"}
    V = len(set(TEXT))
    model = crnn.load(model_file)
    # The layout in the metadata is enough to find every weight without crnn.
    for name, shape, offset in meta["layout"]:
        piece = arrays["params"][offset : offset + int(np.prod(shape))].reshape(shape)
        want = model.params["Wxh"].T if name == "WxhT" else model.params[name]
        assert np.array_equal(piece, want), name
    assert [entry[1] for entry in meta["layout"]][0] == [V, 12]  # Wxh stored transposed
    assert arrays["state"].shape == (1, 1, 12) and arrays["start_state"].shape == (1, 12)
    assert meta["network"] == {"cell": "rnn", "num_layers": 1, "hidden_size": 12, "dropout": 0.0,
                               "init": "min-char-rnn"}
    assert meta["optimizer"]["name"] == "adagrad" and meta["optimizer"]["clip_mode"] == "value"
    assert meta["format"] == "crnn-model" and meta["format_version"] == 2
    assert meta["crnn_version"] == crnn.__version__
    assert "".join(meta["vocab"]) == "".join(sorted(set(TEXT)))
    assert meta["hyperparameters"] == {
        "hidden_size": 12, "seq_length": 8, "learning_rate": 0.1, "batch_size": 1
    }
    assert meta["dtype"] == "float64" and meta["training"]["iteration"] == 30


@pytest.mark.parametrize("kwargs", [{}, {"batch_size": 2}, {"dtype": "float32"}])
def test_exact_resume(tmp_path, kwargs):
    straight = make_model(**kwargs)
    straight.train(TEXT, iterations=60)

    first = make_model(**kwargs)
    first.train(TEXT, iterations=30)
    first.save(tmp_path / "half.npz")
    resumed = crnn.load(tmp_path / "half.npz")
    resumed.train(TEXT, iterations=30)

    assert_same_model(straight, resumed)
    assert resumed.sample(200, seed=3) == straight.sample(200, seed=3)


def test_unusual_vocabulary_survives(tmp_path):
    chars = ["\n", "\x7f", "\udc80", "😀", '"', "\\", "\u2028"]
    model = crnn.CharRNN(crnn.Vocab(chars), hidden_size=3, seed=0)
    model.save(tmp_path / "v.npz")
    assert crnn.load(tmp_path / "v.npz").vocab == model.vocab


def test_save_accepts_str_paths_and_sets_normal_permissions(tmp_path):
    path = str(tmp_path / "m.npz")
    crnn.save(make_model(), path)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["m.npz"]


# ----------------------------------------------------------------------
# Atomic saves


def test_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    make_model().save(path)
    old = path.read_bytes()

    def disk_full(file, arrays):
        file.write(b"partial data")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(crnn.io, "_write_npz", disk_full)
    model = make_model(seed=1)
    with pytest.raises(OSError, match="unchanged") as info:
        model.save(path)
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["m.npz"]


def test_interrupted_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    make_model().save(path)
    old = path.read_bytes()

    def interrupted(file, arrays):
        raise KeyboardInterrupt

    monkeypatch.setattr(crnn.io, "_write_npz", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_model(seed=1).save(path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["m.npz"]


def test_save_into_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_model().save(tmp_path / "nope" / "m.npz")


def test_save_into_an_unwritable_folder(tmp_path, monkeypatch):
    def denied(**kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(crnn.io, "_create_temporary", lambda folder, prefix: denied())
    with pytest.raises(PermissionError, match="cannot save the model in folder"):
        make_model().save(tmp_path / "m.npz")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permissions")
def test_save_into_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            make_model().save(folder / "m.npz")
    finally:
        folder.chmod(0o700)


def test_save_over_a_directory_fails_cleanly(tmp_path):
    (tmp_path / "m.npz").mkdir()
    with pytest.raises(OSError):
        make_model().save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == ["m.npz"]


# ----------------------------------------------------------------------
# Loading damaged and hostile files


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        crnn.load("/nonexistent/model.npz")


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.3, 0.5, 0.9, 0.999])
def test_truncated_file(model_file, tmp_path, fraction):
    raw = model_file.read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(crnn.ModelFormatError):
        crnn.load(path)


def test_not_a_zip(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("just some text\n")
    with pytest.raises(crnn.ModelFormatError, match="not a crnn model"):
        crnn.load(path)


def test_npz_that_is_not_a_model(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.arange(3))
    with pytest.raises(crnn.ModelFormatError, match="not a crnn model"):
        crnn.load(tmp_path / "other.npz")


def test_flipped_byte_in_the_weights(model_file, tmp_path):
    raw = bytearray(model_file.read_bytes())
    raw[len(raw) // 3] ^= 0x40  # inside a stored array: the CRC catches it
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(crnn.ModelFormatError):
        crnn.load(path)


def modified(tmp_path, model_file, arrays=None, meta=None, drop=()):
    """A copy of model_file with arrays replaced, meta edited, members dropped."""
    good_arrays, good_meta = read_npz(model_file)
    good_arrays.update(arrays or {})
    if meta:
        meta(good_meta)
    for name in drop:
        good_arrays.pop(name)
    path = tmp_path / "bad.npz"
    write_npz(path, good_arrays, good_meta)
    return path


def set_key(section, key, value):
    def edit(meta):
        (meta[section] if section else meta)[key] = value

    return edit


def test_a_faithful_rewrite_still_loads(model_file, tmp_path):
    # The helper itself must produce loadable files, or the tests below prove nothing.
    crnn.load(modified(tmp_path, model_file))


@pytest.mark.parametrize("name", ["params", "optim.sum", "state", "start_state", "pointers"])
def test_missing_array(model_file, tmp_path, name):
    with pytest.raises(crnn.ModelFormatError, match=f"missing array.*{name}"):
        crnn.load(modified(tmp_path, model_file, drop=[name]))


def test_missing_metadata(model_file, tmp_path):
    arrays, _ = read_npz(model_file)
    np.savez(tmp_path / "nometa.npz", **arrays)
    with pytest.raises(crnn.ModelFormatError, match="not a crnn model"):
        crnn.load(tmp_path / "nometa.npz")


def test_unexpected_member(model_file, tmp_path):
    with pytest.raises(crnn.ModelFormatError, match="unexpected"):
        crnn.load(modified(tmp_path, model_file, arrays={"extra": np.zeros(2)}))


def test_object_array_is_refused_without_unpickling(model_file, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    payload = np.empty(read_npz(model_file)[0]["params"].shape, dtype=object)
    payload[0] = Evil()
    path = modified(tmp_path, model_file, arrays={"params": payload})
    with pytest.raises(crnn.ModelFormatError, match="object"):
        crnn.load(path)
    assert not marker.exists()


def test_newer_format_version_says_upgrade(model_file, tmp_path):
    path = modified(tmp_path, model_file, meta=set_key(None, "format_version", 3))
    with pytest.raises(crnn.ModelFormatError, match="upgrade crnn"):
        crnn.load(path)


@pytest.mark.parametrize(
    "edit",
    [
        set_key(None, "format", "something-else"),
        set_key(None, "format_version", 0),
        set_key(None, "format_version", "1"),
        set_key(None, "vocab", []),
        set_key(None, "vocab", "not a list"),
        set_key(None, "dtype", "int8"),
        set_key("hyperparameters", "hidden_size", 0),
        set_key("hyperparameters", "hidden_size", True),
        set_key("hyperparameters", "hidden_size", 1 << 40),
        set_key("hyperparameters", "seq_length", -3),
        set_key("hyperparameters", "learning_rate", -1.0),
        set_key("hyperparameters", "batch_size", 2.0),
        set_key("training", "iteration", -1),
        set_key("training", "smooth_loss", float("nan")),
        set_key("training", "rng_state", {"bit_generator": "PCG64"}),
        set_key("training", "rng_state", {"bit_generator": "MT19937", "state": {}}),
        set_key(None, "training", None),
    ],
)
def test_invalid_metadata(model_file, tmp_path, edit):
    with pytest.raises(crnn.ModelFormatError):
        crnn.load(modified(tmp_path, model_file, meta=edit))


@pytest.mark.parametrize("vocab_edit", [lambda v: v + ["@"], lambda v: v[:-1], lambda v: v[:1] * 2 + v[2:]])
def test_vocabulary_that_disagrees_with_the_weights(model_file, tmp_path, vocab_edit):
    path = modified(tmp_path, model_file, meta=lambda meta: meta.update(vocab=vocab_edit(meta["vocab"])))
    with pytest.raises(crnn.ModelFormatError):
        crnn.load(path)


def test_metadata_that_is_not_json(model_file, tmp_path):
    arrays, _ = read_npz(model_file)
    arrays["meta"] = np.frombuffer(b"{not json", dtype=np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(crnn.ModelFormatError, match="JSON"):
        crnn.load(tmp_path / "bad.npz")


def test_metadata_of_the_wrong_type(model_file, tmp_path):
    arrays, _ = read_npz(model_file)
    arrays["meta"] = np.array("a unicode string")
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(crnn.ModelFormatError, match="metadata"):
        crnn.load(tmp_path / "bad.npz")


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("params", "one more", "shape"),
        ("params", "as a row", "shape"),
        ("start_state", np.zeros((1, 1)), "shape"),
        ("state", np.zeros((1, 2, 12)), "shape"),
        ("params", np.float32, "dtype"),
        ("params", np.complex128, "dtype"),
        ("pointers", np.zeros(1, np.float64), "dtype"),
        ("params", np.nan, "NaN"),
        ("optim.sum", np.inf, "NaN or infinite"),
        ("optim.sum", -1.0, "negative"),
        ("state", np.full((1, 1, 12), 2.0), "state"),
        ("pointers", np.array([-5]), "pointers"),
        ("pointers", np.array([2**64 - 1], dtype=np.uint64), "range"),
    ],
)
def test_bad_arrays(model_file, tmp_path, name, value, message):
    P = read_npz(model_file)[0]["params"].size
    if isinstance(value, str):  # a wrong shape of the flat buffer
        value = np.zeros(P + 1) if value == "one more" else np.zeros((1, P))
    elif isinstance(value, type):  # a wrong dtype
        value = np.zeros(P, value)
    elif isinstance(value, float):  # a wrong value everywhere
        value = np.full(P, value)
    with pytest.raises(crnn.ModelFormatError, match=message):
        crnn.load(modified(tmp_path, model_file, arrays={name: value}))


def test_fortran_order_and_big_endian_arrays_are_read_correctly(model_file, tmp_path):
    arrays, _ = read_npz(model_file)
    state = np.linspace(-0.5, 0.5, 12).reshape(1, 1, 12)
    changes = {"state": np.asfortranarray(state.reshape(12, 1, 1).T), "params": arrays["params"].astype(">f8")}
    loaded = crnn.load(modified(tmp_path, model_file, arrays=changes))
    assert np.array_equal(loaded.training_state, state.reshape(12, 1, 1).T)
    assert np.array_equal(loaded._flat, arrays["params"])


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_zip_bomb_is_refused_without_allocating(model_file, tmp_path):
    arrays, meta = read_npz(model_file)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = tmp_path / "bomb.npz"
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, array in arrays.items():
            if name != "params":
                archive.writestr(name + ".npy", npy_bytes(array))
        with archive.open("params.npy", "w", force_zip64=True) as member:
            member.write(npy_bytes(arrays["params"]))
            for _ in range(100):  # 100 MB of zeros
                member.write(zeros)
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(crnn.ModelFormatError, match="zip bomb"):
            crnn.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_member_larger_than_its_shape_is_refused(model_file, tmp_path):
    arrays, meta = read_npz(model_file)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = tmp_path / "padded.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            extra = bytes(1 << 16) if name == "start_state" else b""
            archive.writestr(name + ".npy", npy_bytes(array) + extra)
    with pytest.raises(crnn.ModelFormatError, match="'start_state'"):
        crnn.load(path)


def test_loading_a_directory(tmp_path):
    with pytest.raises(OSError):
        crnn.load(tmp_path)


@pytest.fixture(scope="module")
def model_bytes(model_file):
    return model_file.read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_files_load_or_raise_model_format_error(model_bytes, tmp_path, data):
    raw = bytearray(model_bytes)
    for _ in range(data.draw(st.integers(1, 8), label="mutations")):
        position = data.draw(st.integers(0, len(raw) - 1), label="position")
        raw[position] = data.draw(st.integers(0, 255), label="byte")
    cut = data.draw(st.integers(0, len(raw)), label="cut")
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[:cut]
    path = tmp_path / "fuzz.npz"
    path.write_bytes(bytes(raw))
    try:
        model = crnn.load(path)
    except crnn.ModelFormatError:
        return
    model.sample(5, seed=0)  # whatever loads must be usable
