"""CharRNN with every cell, depth and optimizer: training against the NumPy
references, resume, files, PyTorch state dicts, cancellation, and the CLI."""

import threading

import numpy as np
import pytest

import crnn
from crnn.data import chunk_start
from crnn.reference import cells as R
from test_cli import TINY, expect_error, run, runner, text_file  # noqa: F401 (fixtures)

TEXT = "".join(f"{i % 9} the quick brown fox; {'jumps' if i % 2 else 'naps'}.\n" for i in range(60))
NETWORKS = [("lstm", 1), ("gru", 2), ("rnn", 2), ("lstm", 3)]


def model_of(cell, layers, **kwargs):
    settings = dict(hidden_size=6, seq_length=7, batch_size=2, seed=3, cell=cell, num_layers=layers)
    settings.update(kwargs)
    return crnn.CharRNN(crnn.Vocab.from_text(TEXT), **settings)


@pytest.mark.parametrize("cell, layers", NETWORKS)
def test_training_follows_the_references(cell, layers):
    """12 iterations of CharRNN == the pointer rule + crnn.reference.cells'
    forward/backward + crnn.reference.optim's SGD, with norm clipping."""
    model = model_of(cell, layers, optimizer="sgd", learning_rate=0.05, grad_clip=1.0)
    flat = model._flat.astype(np.float64)
    ids = model.vocab.encode(TEXT)
    B, T, H, V = 2, 7, 6, model.vocab_size
    segment = len(ids) // B
    state = np.zeros((layers, B, model.network.state_width))
    pointers = [0, 0]
    for n in range(12):
        inputs, targets = [], []
        for b in range(B):
            pointers[b], reset = chunk_start(pointers[b], T, segment, first=n == 0)
            if reset:
                state[:, b] = 0.0
            start = b * segment + pointers[b]
            inputs.append(ids[start:start + T])
            targets.append(ids[start + 1:start + T + 1])
            pointers[b] += T
        out = R.forward_backward(flat, cell, layers, H, V, np.array(inputs), np.array(targets), state)
        g = out["grads"] * min(1.0, 1.0 / (np.linalg.norm(out["grads"]) + 1e-6))
        flat = flat - 0.05 * g
        state = out["state"]
    model.train(ids, iterations=12)
    assert np.abs(model._flat - flat).max() <= 1e-10 * np.abs(flat).max()
    assert np.abs(model.training_state - state).max() <= 1e-10


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop", "sgd", "adagrad"])
def test_resume_is_bit_exact_for_every_optimizer(tmp_path, optimizer):
    settings = dict(optimizer=optimizer, dropout=0.3, clip_mode="norm",
                    lr_schedule={"kind": "warmup", "iterations": 5,
                                 "inner": {"kind": "cosine", "total": 40, "floor": 0.1}})
    whole = model_of("lstm", 2, **settings)
    whole.train(TEXT, iterations=40)
    split = model_of("lstm", 2, **settings)
    split.train(TEXT, iterations=17)
    split.save(tmp_path / "m.npz")
    split = crnn.load(tmp_path / "m.npz")
    assert split.optimizer.name == optimizer and split.dropout == 0.3
    split.train(TEXT, iterations=23)
    assert np.array_equal(whole._flat, split._flat)
    for name in whole.optimizer.state:
        assert np.array_equal(whole.optimizer.state[name], split.optimizer.state[name])
    assert np.array_equal(whole.training_state, split.training_state)
    assert whole.sample(60, prime="the", seed=2) == split.sample(60, prime="the", seed=2)


@pytest.mark.parametrize("cell, layers", NETWORKS)
def test_files_keep_everything(tmp_path, cell, layers):
    model = model_of(cell, layers, optimizer="adam", dtype="float32")
    model.train(TEXT, iterations=30)
    model.save(tmp_path / "m.npz")
    loaded = crnn.load(tmp_path / "m.npz")
    assert (loaded.cell, loaded.num_layers, loaded.hidden_size) == (cell, layers, 6)
    assert np.array_equal(loaded._flat, model._flat)
    assert np.array_equal(loaded.start_state, model.start_state)
    assert loaded.evaluate(TEXT[:300]) == model.evaluate(TEXT[:300])
    assert loaded.sample(80, seed=1) == model.sample(80, seed=1)
    trace = loaded.trace(TEXT[:50])
    assert len(trace.layers) == layers and ("c" in trace.layers[0]) == (cell == "lstm")
    assert trace.nats_per_char == pytest.approx(loaded.evaluate(TEXT[:50])["nats_per_char"], rel=1e-5)


@pytest.mark.parametrize("cell, layers", NETWORKS + [("rnn", 1)])
def test_torch_state_dict_round_trip(cell, layers):
    model = model_of(cell, layers, init="pytorch")
    sd = model.to_torch_state_dict()
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    assert sd["rnn.weight_ih_l0"].shape == (G * 6, model.vocab_size)
    assert sd["out.weight"].shape == (model.vocab_size, 6)
    again = crnn.CharRNN.from_torch_state_dict(sd, model.vocab, cell=cell)
    assert again.num_layers == layers and np.array_equal(again._flat, model._flat)
    with pytest.raises(ValueError, match="out.bias"):
        crnn.CharRNN.from_torch_state_dict({k: v for k, v in sd.items() if k != "out.bias"},
                                           model.vocab, cell=cell)


def test_min_char_rnn_bias_hh_is_added_in():
    model = model_of("rnn", 1)
    sd = model.to_torch_state_dict()
    assert not sd["rnn.bias_hh_l0"].any()
    sd["rnn.bias_hh_l0"] = np.ones(6)
    again = crnn.CharRNN.from_torch_state_dict(sd, model.vocab)
    assert np.array_equal(again.params["bh"], model.params["bh"] + 1)


def test_cancel_leaves_the_model_as_before_the_iteration(tmp_path):
    text = TEXT * 40
    model = model_of("lstm", 2, hidden_size=64, seq_length=50, batch_size=4)
    threading.Timer(0.5, model.request_cancel).start()
    done = model.train(text, iterations=10**9)
    assert 0 < done < 10**9 and model.iteration == done
    copy = model_of("lstm", 2, hidden_size=64, seq_length=50, batch_size=4)
    copy.train(text, iterations=done)
    assert np.array_equal(copy._flat, model._flat)  # nothing of the cancelled iteration stayed


def test_bad_network_settings_say_what_to_do():
    vocab = crnn.Vocab.from_text(TEXT)
    with pytest.raises(ValueError, match="cell must be one of"):
        crnn.CharRNN(vocab, cell="transformer")
    with pytest.raises(ValueError, match="dropout"):
        crnn.CharRNN(vocab, cell="lstm", num_layers=2, dropout=1.0)
    with pytest.raises(crnn.CrnnError, match="unknown optimizer"):
        crnn.CharRNN(vocab, optimizer="lion")
    with pytest.raises(crnn.CrnnError, match="positive finite"):
        crnn.CharRNN(vocab, grad_clip=-1.0)


def test_the_default_is_min_char_rnn_on_its_fused_kernels():
    model = crnn.CharRNN(crnn.Vocab.from_text(TEXT))
    assert (model.cell, model.num_layers, model.optimizer.name, model.learning_rate) == ("rnn", 1, "adagrad", 0.1)
    assert model.clip_mode == "value" and model.grad_clip == 5.0 and model._fused


# ----------------------------------------------------------------------
# The command line


def test_cli_trains_an_lstm_and_info_shows_it(runner, text_file, tmp_path):
    result = run(runner, "train", text_file, "-o", "m.npz", "--model", "lstm", "--layers", 2,
                 "--dropout", 0.1, "--optimizer", "adam", "--lr-schedule", "cosine",
                 "--iterations", 40, *TINY)
    assert result.exit_code == 0, result.stderr
    model = crnn.load(tmp_path / "m.npz")
    assert (model.cell, model.num_layers, model.optimizer.name) == ("lstm", 2, "adam")
    assert model.learning_rate == 2e-3 and model.lr_schedule.to_json()["kind"] == "cosine"
    info = run(runner, "info", "m.npz").stdout
    assert "model:" in info and "lstm" in info and "adam" in info
    sample = run(runner, "sample", "m.npz", "-n", 30, "--seed", 1)
    assert sample.exit_code == 0 and len(sample.stdout) >= 30


def test_cli_resume_keeps_the_network(runner, text_file):
    run(runner, "train", text_file, "-o", "m.npz", "--model", "gru", "--iterations", 10, *TINY)
    result = run(runner, "train", text_file, "-o", "m.npz", "--model", "lstm", "--resume",
                 "--iterations", 20)
    expect_error(result, "--model lstm (the model has gru)")
    assert run(runner, "train", text_file, "-o", "m.npz", "--resume", "--iterations", 20).exit_code == 0


def test_cli_refuses_settings_of_another_optimizer(runner, text_file):
    result = run(runner, "train", text_file, "-o", "m.npz", "--optimizer", "adam", "--alpha", 0.95)
    expect_error(result, "--alpha is not a setting of --optimizer adam")
