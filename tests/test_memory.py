"""The memory estimate matches what training really allocates; the machine's
available memory is read from /proc/meminfo and cgroups; too large a model is
refused with one line."""

import tracemalloc

import numpy as np
import pytest

import crnn
from crnn import _kernels
from crnn.memory import (
    available_bytes,
    check_fits,
    check_training_fits,
    describe_size,
    largest_hidden_size,
    parameter_count,
    training_breakdown,
    training_bytes,
)

GiB = 1 << 30
SIZES = [  # (H, V, T, B): edge sizes and typical ones
    (1, 2, 1, 1), (1, 2, 1, 3), (7, 5, 3, 2), (100, 65, 25, 1), (64, 97, 17, 8), (33, 200, 64, 4),
]


@pytest.mark.parametrize("H,V,T,B", SIZES)
def test_counts_are_the_kernels_own(H, V, T, B):
    assert parameter_count(H, V) == _kernels.param_count(H, V)
    parts = training_breakdown(H, V, T, B, "float64")
    assert parts["training workspace"] == _kernels.train_workspace_size(B, T, H, V) * 8


def _text(V, n, seed=0):
    """``n`` random characters (at least V), every one of the V used."""
    chars = [chr(ord("!") + i) for i in range(V)]
    return "".join(chars) + "".join(np.random.default_rng(seed).choice(chars, max(0, n - V)))


def _training_buffers(model):
    """Every numpy buffer a trained model holds (its training state included)."""
    snap = model._snapshot
    return [model._flat, *model.optimizer.state.values(), model._grads_flat, model._work,
            model._state, model._inputs, model._targets, snap["params"],
            *snap["optimizer"].values(), snap["state"]]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("H,V,T,B", SIZES)
def test_breakdown_equals_the_buffers_of_a_trained_model(H, V, T, B, dtype):
    text = _text(V, B * (T + 1) * 3)
    model = crnn.CharRNN(crnn.Vocab.from_text(text), hidden_size=H, seq_length=T,
                         batch_size=B, dtype=dtype, seed=0)
    model.train(text, iterations=1)
    assert model.vocab_size == V
    parts = training_breakdown(H, V, T, B, dtype)
    held = sum(buffer.nbytes for buffer in _training_buffers(model))
    assert held == sum(parts.values()) - parts["evaluation workspace"]
    itemsize = np.dtype(dtype).itemsize
    assert parts["evaluation workspace"] == _kernels.forward_workspace_size(1, 1024, H, V) * itemsize


@pytest.mark.parametrize("H,V,T,B,dtype", [(400, 80, 25, 1, "float64"), (256, 120, 64, 16, "float32")])
def test_estimate_is_within_ten_percent_of_the_traced_peak(H, V, T, B, dtype):
    """numpy reports its allocations to tracemalloc: build a model, train one
    iteration and run a validation pass, and compare the peak."""
    text = _text(V, 5_000)
    vocab = crnn.Vocab.from_text(text)
    ids = crnn.data.encode_corpus(text, vocab)
    tracemalloc.start()
    try:
        model = crnn.CharRNN(vocab, hidden_size=H, seq_length=T, batch_size=B, dtype=dtype, seed=0)
        model.train(ids, iterations=1)
        model.evaluate(ids[:2_000])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = training_bytes(H, V, T, B, dtype)
    assert abs(estimate - peak) <= 0.10 * peak, (describe_size(estimate), describe_size(peak))


def test_gates_and_layers_enter():
    H, V, T, B = 128, 65, 25, 4
    rnn = training_bytes(H, V, T, B, "float32")
    gru = training_bytes(H, V, T, B, "float32", cell="gru")
    lstm = training_bytes(H, V, T, B, "float32", cell="lstm")
    assert rnn < gru < lstm
    # Recurrent weights: G*H*(V + H) + biases, plus the output layer.
    assert parameter_count(H, V, cell="lstm") == 4 * H * (V + H) + 2 * 4 * H + V * H + V
    assert parameter_count(H, V, 3, "gru") == (3 * H * (V + H) + 6 * H) + 2 * (3 * H * 2 * H + 6 * H) + V * H + V
    assert training_bytes(H, V, T, B, "float32", num_layers=2) > rnn
    adam = training_bytes(H, V, T, B, "float32", optimizer_buffers=2)
    assert adam - rnn == 2 * parameter_count(H, V) * 4  # one more buffer, and its snapshot
    assert training_bytes(H, V, T, B, "float64") == pytest.approx(2 * rnn, rel=0.01)
    with pytest.raises(ValueError, match="cell"):
        training_bytes(H, V, T, B, "float32", cell="transformer")


def test_the_hidden_size_100000_case_is_refused_in_one_line():
    # `crnn train small.txt -o huge.npz --hidden-size 100000` (65 characters)
    with pytest.raises(crnn.ModelTooLargeError) as info:
        check_training_fits(100_000, 65, 25, 1, "float64", available=16 * GiB)
    err = info.value
    assert isinstance(err, MemoryError) and isinstance(err, crnn.CrnnError)
    message = str(err)
    assert "\n" not in message
    needed = training_bytes(100_000, 65, 25, 1, "float64")
    assert needed > 400 * GiB  # 100,000^2 doubles are 74.5 GiB; gradients, Adagrad, snapshot ...
    assert describe_size(needed) in message and "16.0 GiB" in message
    assert "--hidden-size" in message and "--dtype float32" in message
    assert "--batch-size" not in message  # it is 1 already: no use suggesting it
    largest = largest_hidden_size(16 * GiB, 65, 25, 1, "float64")
    assert f"--hidden-size (at most {largest:,} with the other settings)" in message
    assert training_bytes(largest, 65, 25, 1, "float64") <= 16 * GiB
    assert training_bytes(largest + 1, 65, 25, 1, "float64") > 16 * GiB
    assert err.needed == training_bytes(100_000, 65, 25, 1, "float64") and err.available == 16 * GiB


def test_float32_advice_does_not_suggest_float32():
    with pytest.raises(crnn.ModelTooLargeError) as info:
        check_training_fits(50_000, 65, 25, 8, "float32", available=GiB)
    assert "--dtype" not in str(info.value) and "--batch-size" in str(info.value)


def test_largest_hidden_size_edges():
    assert largest_hidden_size(0, 65, 25, 1, "float64") == 0
    tiny = training_bytes(1, 65, 25, 1, "float64")
    assert largest_hidden_size(tiny, 65, 25, 1, "float64") == 1


def test_fits_or_unknown_is_not_refused():
    assert check_training_fits(100, 65, 25, 1, "float64", available=GiB) < GiB
    check_fits(10 * GiB, available=10 * GiB)


def test_unknown_available_memory_refuses_nothing(monkeypatch):
    monkeypatch.setattr("crnn.memory.available_bytes", lambda: None)
    check_fits(10**18)  # e.g. macOS: no refusal


def test_describe_size():
    assert describe_size(0) == "0 bytes" and describe_size(1023) == "1023 bytes"
    assert describe_size(1536) == "1.5 KiB"
    assert describe_size(80_000_000_000) == "74.5 GiB"
    assert describe_size(3 * 1024**5) == "3.0 PiB" and describe_size(5 * 1024**6) == "5120.0 PiB"


# ----------------------------------------------------------------------
# available_bytes from fake /proc and /sys files


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _meminfo(tmp_path, kb):
    path = tmp_path / "meminfo"
    _write(path, f"MemTotal:       32000000 kB\nMemFree:         1000 kB\nMemAvailable:   {kb} kB\n")
    return str(path)


def test_meminfo_alone(tmp_path):
    got = available_bytes(_meminfo(tmp_path, 2_000_000), str(tmp_path / "none"), str(tmp_path / "cg"))
    assert got == 2_000_000 * 1024


def test_nothing_readable_is_none(tmp_path):
    assert available_bytes(str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "c")) is None


def test_cgroup_v2_limit_is_smaller(tmp_path):
    root = tmp_path / "cg"
    _write(tmp_path / "self_cgroup", "0::/user.slice/job\n")
    _write(root / "user.slice/job/memory.max", f"{GiB}\n")
    _write(root / "user.slice/job/memory.current", f"{300 << 20}\n")
    _write(root / "user.slice/job/memory.stat", f"anon 200\ninactive_file {100 << 20}\n")
    _write(root / "user.slice/memory.max", "max\n")
    got = available_bytes(_meminfo(tmp_path, 8_000_000), str(tmp_path / "self_cgroup"), str(root))
    assert got == GiB - (200 << 20)  # the limit minus usage, reclaimable cache not counted


def test_cgroup_v2_parent_limit_counts(tmp_path):
    root = tmp_path / "cg"
    _write(tmp_path / "self_cgroup", "0::/a/b\n")
    _write(root / "a/b/memory.max", "max\n")
    _write(root / "a/memory.max", f"{2 * GiB}\n")
    _write(root / "a/memory.current", f"{GiB}\n")
    got = available_bytes(_meminfo(tmp_path, 8_000_000), str(tmp_path / "self_cgroup"), str(root))
    assert got == GiB


def test_cgroup_v1_limit(tmp_path):
    root = tmp_path / "cg"
    _write(tmp_path / "self_cgroup", "5:devices:/\n4:memory:/docker/abc\n0::/\n")
    _write(root / "memory/docker/abc/memory.limit_in_bytes", f"{4 * GiB}\n")
    _write(root / "memory/docker/abc/memory.usage_in_bytes", f"{GiB}\n")
    _write(root / "memory/docker/abc/memory.stat", f"cache 5\ntotal_inactive_file {GiB // 2}\n")
    _write(root / "memory/memory.limit_in_bytes", "9223372036854771712\n")  # v1's "unlimited"
    got = available_bytes(_meminfo(tmp_path, 100_000_000), str(tmp_path / "self_cgroup"), str(root))
    assert got == 4 * GiB - GiB // 2


def test_this_machine():
    try:
        with open("/proc/meminfo") as f:
            assert "MemAvailable" in f.read()
    except OSError:
        pytest.skip("no /proc/meminfo here")
    got = available_bytes()
    assert got is not None and 0 < got < 1 << 50
