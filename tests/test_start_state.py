"""The start state: where sampling and evaluation begin (issue: garbage from
models that never saw a zero state), and format-1 files that lack it."""

import json
import os

import numpy as np
import pytest

import crnn
from crnn.reference import minchar as ref

DATA = os.path.join(os.path.dirname(__file__), "data")
LINES = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"


def params_copy(model):
    return {name: np.array(view, dtype=np.float64) for name, view in model.params.items()}


def reference_state(model, ids):
    """min-char-rnn's forward over ids from stream 0's training state: the final h."""
    p = params_copy(model)
    h = model.hidden_state[0].astype(np.float64)
    for x in ids:
        h = np.tanh(p["Wxh"][:, x] + p["Whh"] @ h + p["bh"])
    return h


def test_an_untrained_model_starts_from_zero():
    model = crnn.CharRNN(crnn.Vocab.from_text(LINES), hidden_size=8, seed=0)
    assert np.array_equal(model.start_state, np.zeros((1, 8)))


def test_start_state_reads_the_training_text_up_to_its_last_newline():
    """From stream 0's training state (not from zero: some networks settle,
    from zero, into a regime training never saw)."""
    text = LINES * 30 + "and a last line without its newline"
    vocab = crnn.Vocab.from_text(text)
    model = crnn.CharRNN(vocab, hidden_size=10, seed=1)
    model.train(text, iterations=50)
    ids = vocab.encode(text)
    end = text.rindex("\n") + 1
    burn_in = ids[max(0, end - crnn.model.BURN_IN) : end]
    assert len(burn_in) == crnn.model.BURN_IN
    np.testing.assert_allclose(model.start_state[0], reference_state(model, burn_in), rtol=1e-12, atol=1e-14)
    assert not np.array_equal(model.start_state, model.hidden_state[:1])


def test_a_text_without_newlines_uses_its_tail():
    text = "abcab cabba " * 40
    vocab = crnn.Vocab.from_text(text)
    model = crnn.CharRNN(vocab, hidden_size=6, seq_length=5, seed=2)
    model.train(text, iterations=30)
    tail = vocab.encode(text)[-crnn.model.BURN_IN:]
    np.testing.assert_allclose(model.start_state[0], reference_state(model, tail), rtol=1e-12, atol=1e-14)


def test_sampling_and_evaluation_start_from_it():
    text = LINES * 20
    vocab = crnn.Vocab.from_text(text)
    model = crnn.CharRNN(vocab, hidden_size=12, seed=3)
    model.train(text, iterations=100)
    h = model.start_state[0]
    ids = vocab.encode(LINES)
    loss, _, _, _ = ref.loss_fun(list(ids[:-1]), list(ids[1:]), h, params_copy(model))
    assert model.evaluate(LINES)["nats_per_char"] == pytest.approx(loss / (len(ids) - 1), rel=1e-12)


def test_start_state_survives_save_and_load(tmp_path):
    text = LINES * 20
    model = crnn.CharRNN(crnn.Vocab.from_text(text), hidden_size=12, seed=4, dtype="float32")
    model.train(text, iterations=60)
    model.save(tmp_path / "m.npz")
    loaded = crnn.load(tmp_path / "m.npz")
    assert np.array_equal(loaded.start_state, model.start_state)
    assert loaded.sample(100, prime="All", seed=5) == model.sample(100, prime="All", seed=5)
    assert loaded.evaluate(LINES) == model.evaluate(LINES)


def test_more_training_moves_the_start_state():
    text = LINES * 20
    model = crnn.CharRNN(crnn.Vocab.from_text(text), hidden_size=12, seed=4)
    model.train(text, iterations=20)
    before = model.start_state
    model.train(text, iterations=20)
    assert not np.array_equal(before, model.start_state)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_format_1_files_of_crnn_0_1_0_give_the_same_samples_and_figures(dtype):
    """Files written by crnn 0.1.0 (format 1, no start state) load and sample
    and evaluate from a zero state exactly as 0.1.0 did (figures recorded
    with 0.1.0 when the files were made)."""
    with open(os.path.join(DATA, "format1_expected.json"), encoding="utf-8") as f:
        expected = json.load(f)
    model = crnn.load(os.path.join(DATA, f"format1_{dtype}.npz"))
    want = expected[dtype]
    assert np.array_equal(model.start_state, np.zeros((1, model.hidden_size)))
    assert model.iteration == want["iteration"] and model.smooth_loss == want["smooth_loss"]
    assert model.sample(80, prime="The ", temperature=0.8, seed=3) == want["sample"]
    assert model.sample(40, seed=5) == want["sample_noprime"]
    text = expected["text"][:200]
    assert model.evaluate(text)["nats_per_char"] == pytest.approx(want["eval_nats_per_char"], rel=1e-12)
    warm = model.evaluate(text, warm_start=True)["nats_per_char"]
    assert warm == pytest.approx(want["eval_warm_nats_per_char"], rel=1e-12)


def test_format_1_files_are_rewritten_as_format_2(tmp_path):
    model = crnn.load(os.path.join(DATA, "format1_float64.npz"))
    model.save(tmp_path / "m.npz")
    assert crnn.io.read_metadata(tmp_path / "m.npz")["format_version"] == 2
    again = crnn.load(tmp_path / "m.npz")
    assert again.sample(50, seed=1) == model.sample(50, seed=1)
