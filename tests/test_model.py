"""CharRNN behaviour: initialisation, training state, callbacks, divergence,
sampling, evaluation and argument checking."""

import math
import threading

import numpy as np
import pytest

import crnn
from crnn import data

TEXT = "the quick brown fox jumps over the lazy dog. " * 20


@pytest.fixture
def vocab():
    return crnn.Vocab.from_text(TEXT)


def small_model(vocab, **kwargs):
    settings = dict(hidden_size=16, seq_length=10, seed=0)
    settings.update(kwargs)
    return crnn.CharRNN(vocab, **settings)


def flat_state(model):
    """Everything training changes, as arrays (for bit-identical comparisons)."""
    arrays = [model.params[k] for k in model.params] + [model.memory[k] for k in model.memory]
    return [np.array(a) for a in arrays] + [model.hidden_state, np.array(model.pointers)]


def assert_same_state(a, b):
    for x, y in zip(flat_state(a), flat_state(b)):
        assert np.array_equal(x, y)
    assert a.iteration == b.iteration
    assert a.smooth_loss == b.smooth_loss


# ----------------------------------------------------------------------
# Construction


def test_initialisation_follows_min_char_rnn(vocab):
    model = crnn.CharRNN(vocab, hidden_size=50, seed=1)
    H, V = 50, len(vocab)
    shapes = {"Wxh": (H, V), "Whh": (H, H), "Why": (V, H), "bh": (H,), "by": (V,)}
    assert {k: v.shape for k, v in model.params.items()} == shapes
    rng = np.random.default_rng(1)
    for name in ("Wxh", "Whh", "Why"):  # drawn in min-char-rnn's order
        assert np.array_equal(model.params[name], rng.standard_normal(shapes[name]) * 0.01)
    assert not model.params["bh"].any() and not model.params["by"].any()
    assert all(not m.any() for m in model.memory.values())
    assert model.smooth_loss == pytest.approx(-math.log(1 / V) * 25)
    assert model.iteration == 0
    assert model.param_count == H * V * 2 + H * H + H + V


def test_same_seed_same_weights_and_float32_is_rounded_float64(vocab):
    a, b = small_model(vocab, seed=7), small_model(vocab, seed=7)
    c = small_model(vocab, seed=8)
    f = small_model(vocab, seed=7, dtype="float32")
    assert np.array_equal(a.params["Whh"], b.params["Whh"])
    assert not np.array_equal(a.params["Whh"], c.params["Whh"])
    assert f.params["Whh"].dtype == np.float32 and f.dtype == np.float32
    assert np.array_equal(f.params["Whh"], a.params["Whh"].astype(np.float32))


def test_params_are_writable_views(vocab):
    model = small_model(vocab)
    model.params["by"][...] = 0.0
    model.params["by"][vocab.encode("z")[0]] = 100.0
    model.params["Why"][...] = 0.0
    assert model.sample(5, temperature=0) == "zzzzz"


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"hidden_size": 0}, ValueError),
        ({"hidden_size": 2.5}, TypeError),
        ({"seq_length": 0}, ValueError),
        ({"batch_size": 0}, ValueError),
        ({"learning_rate": 0.0}, ValueError),
        ({"learning_rate": -0.1}, ValueError),
        ({"learning_rate": float("nan")}, ValueError),
        ({"learning_rate": "0.1"}, TypeError),
        ({"dtype": "int32"}, ValueError),
        ({"dtype": "float16"}, ValueError),
        ({"n_threads": 0}, ValueError),
    ],
)
def test_bad_constructor_arguments(vocab, kwargs, error):
    with pytest.raises(error):
        crnn.CharRNN(vocab, **kwargs)


def test_vocab_must_be_a_vocab():
    with pytest.raises(TypeError, match="Vocab"):
        crnn.CharRNN("abc")


# ----------------------------------------------------------------------
# Training


def test_training_lowers_the_loss(vocab):
    model = small_model(vocab, hidden_size=32)
    before = model.evaluate(TEXT)["nats_per_char"]
    assert model.train(TEXT, iterations=300) == 300
    assert model.iteration == 300
    assert model.evaluate(TEXT)["nats_per_char"] < before - 1.0


def test_train_in_pieces_equals_train_at_once(vocab):
    a, b = small_model(vocab), small_model(vocab)
    a.train(TEXT, iterations=70)
    b.train(TEXT, iterations=30)
    b.train(TEXT, iterations=40)
    assert_same_state(a, b)


def test_str_and_id_arrays_train_identically(vocab, tmp_path):
    ids = data.encode_corpus(TEXT, vocab)
    path = tmp_path / "ids.u8"
    ids.tofile(path)
    mapped = np.memmap(path, dtype=np.uint8, mode="r")
    models = [small_model(vocab) for _ in range(3)]
    for model, corpus in zip(models, (TEXT, ids.astype(np.int64), mapped)):
        model.train(corpus, iterations=25)
    assert_same_state(models[0], models[1])
    assert_same_state(models[0], models[2])


def test_pointer_follows_min_char_rnn(vocab):
    model = small_model(vocab, seq_length=10)
    model.train(TEXT[:45], iterations=1)
    assert model.pointers == (10,)
    model.train(TEXT[:45], iterations=3)
    assert model.pointers == (40,)
    model.train(TEXT[:45], iterations=1)  # 40 + 10 + 1 >= 45: back to the start
    assert model.pointers == (10,)


def test_chunk_start_is_min_char_rnn_pointer_rule():
    """Written out by hand from min-char-rnn: `if p+seq_length+1 >= len(data) or n == 0`."""
    from crnn.data import chunk_start

    assert chunk_start(0, 10, 45, first=True) == (0, True)
    assert chunk_start(20, 10, 45, first=True) == (0, True)
    assert chunk_start(20, 10, 45, first=False) == (20, False)
    assert chunk_start(33, 10, 45, first=False) == (33, False)  # 33 + 11 = 44 < 45
    assert chunk_start(34, 10, 45, first=False) == (0, True)  # 34 + 11 = 45: back to 0
    assert chunk_start(0, 1, 2, first=False) == (0, True)  # the shortest possible text


@pytest.mark.parametrize("B", [2, 5])
def test_batched_training_is_deterministic(vocab, B):
    a, b = small_model(vocab, batch_size=B), small_model(vocab, batch_size=B, n_threads=2)
    a.train(TEXT, iterations=40)
    b.train(TEXT, iterations=40)
    assert_same_state(a, b)
    assert a.hidden_state.shape == (B, 16)
    assert len(a.pointers) == B


def test_text_too_short(vocab):
    model = small_model(vocab, seq_length=10, batch_size=2)
    with pytest.raises(crnn.CorpusError, match="at least 22"):
        model.train(TEXT[:21], iterations=1)
    model.train(TEXT[:22], iterations=1)


def test_training_text_with_unknown_characters(vocab):
    model = small_model(vocab)
    with pytest.raises(crnn.VocabError, match="'Z'"):
        model.train(TEXT + "Z", iterations=1)
    with pytest.raises(crnn.VocabError):
        model.train(np.full(100, len(vocab), dtype=np.int32), iterations=1)


@pytest.mark.parametrize("kwargs", [{"iterations": -1}, {"iterations": 1, "callback_every": 0}])
def test_bad_training_arguments(vocab, kwargs):
    with pytest.raises(ValueError):
        small_model(vocab).train(TEXT, **kwargs)


def test_callback_receives_progress_every_k_iterations(vocab):
    seen = []
    model = small_model(vocab)
    model.train(TEXT, iterations=10, callback=lambda m, info: seen.append(dict(info)), callback_every=3)
    assert [info["iteration"] for info in seen] == [3, 6, 9]
    for info in seen:
        assert set(info) >= {"iteration", "loss", "smooth_loss", "chars_per_sec", "elapsed"}
        assert info["chars_per_sec"] > 0 and math.isfinite(info["loss"])
    assert seen[-1]["smooth_loss"] != seen[0]["smooth_loss"]


def test_callback_returning_false_stops_training(vocab):
    model = small_model(vocab)
    done = model.train(TEXT, iterations=100, callback=lambda m, info: info["iteration"] < 7)
    assert done == 7 and model.iteration == 7
    done = model.train(TEXT, iterations=5, callback=lambda m, info: None)  # None continues
    assert done == 5 and model.iteration == 12


def test_divergence_rolls_back_to_the_last_good_state(vocab):
    model = small_model(vocab, learning_rate=0.1)
    model.train(TEXT, iterations=150)  # snapshot at 100
    model.learning_rate = 1e308
    with pytest.raises(crnn.TrainingDivergedError) as info:
        model.train(TEXT, iterations=100)
    assert isinstance(info.value, ArithmeticError)
    assert "learning rate" in str(info.value)
    assert info.value.iteration > 150
    assert model.iteration == info.value.restored_iteration == 150
    # The model is exactly where it was before the bad call.
    twin = small_model(vocab, learning_rate=0.1)
    twin.train(TEXT, iterations=150)
    twin.learning_rate = 1e308
    assert_same_state(model, twin)
    model.learning_rate = 0.1
    model.train(TEXT, iterations=5)
    assert all(np.isfinite(v).all() for v in model.params.values())


def test_divergence_restores_a_periodic_snapshot(vocab):
    model = small_model(vocab, learning_rate=0.1)
    seen = []

    def blow_up(m, info):
        seen.append(info["iteration"])
        if info["iteration"] == 130:
            m.learning_rate = 1e308

    with pytest.raises(crnn.TrainingDivergedError) as info:
        model.train(TEXT, iterations=300, callback=blow_up)
    assert info.value.restored_iteration == 100  # the last snapshot before the damage
    twin = small_model(vocab, learning_rate=0.1)
    twin.train(TEXT, iterations=100)
    assert_same_state(model, twin)


def test_weights_that_are_not_finite_are_refused(vocab):
    model = small_model(vocab)
    model.params["Whh"][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.train(TEXT, iterations=1)


# ----------------------------------------------------------------------
# Evaluation


def test_evaluate_leaves_the_model_untouched(vocab):
    model = small_model(vocab)
    model.train(TEXT, iterations=20)
    before = flat_state(model)
    result = model.evaluate(TEXT[:300])
    assert result["chars"] == 299
    assert result["bits_per_char"] == pytest.approx(result["nats_per_char"] / math.log(2))
    assert result["perplexity"] == pytest.approx(math.exp(result["nats_per_char"]))
    for x, y in zip(before, flat_state(model)):
        assert np.array_equal(x, y)


def test_evaluate_errors(vocab):
    model = small_model(vocab)
    with pytest.raises(crnn.CorpusError):
        model.evaluate("t")
    with pytest.raises(crnn.VocabError, match="'!'"):
        model.evaluate("the fox!")


def test_untrained_model_predicts_about_uniformly(vocab):
    model = small_model(vocab)
    assert model.evaluate(TEXT)["nats_per_char"] == pytest.approx(math.log(len(vocab)), rel=0.01)


# ----------------------------------------------------------------------
# Sampling


@pytest.fixture(scope="module")
def trained():
    model = crnn.CharRNN(crnn.Vocab.from_text(TEXT), hidden_size=24, seed=0)
    model.train(TEXT, iterations=200)
    return model


def test_same_seed_same_text(trained):
    a = trained.sample(200, prime="the ", seed=1)
    assert len(a) == 200
    assert trained.sample(200, prime="the ", seed=1) == a
    assert trained.sample(200, prime="the ", seed=2) != a


def test_sample_returns_only_new_characters(trained):
    assert len(trained.sample(3, prime="the quick brown", seed=0)) == 3
    assert trained.sample(0, prime="the", seed=0) == ""
    assert trained.sample(0) == ""


def test_generate_yields_the_sample_one_character_at_a_time(trained):
    chars = list(trained.generate(600, prime="fox", temperature=0.8, seed=5))
    assert all(len(c) == 1 for c in chars)
    assert "".join(chars) == trained.sample(600, prime="fox", temperature=0.8, seed=5)


def test_temperature_zero_is_deterministic(trained):
    texts = {trained.sample(100, prime="the", temperature=0, seed=s) for s in range(3)}
    assert len(texts) == 1
    assert trained.sample(50, prime="the quick", temperature=0).startswith(" brown")


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"n": -1}, ValueError),
        ({"n": 1.5}, TypeError),
        ({"n": 5, "temperature": -0.1}, ValueError),
        ({"n": 5, "temperature": float("inf")}, ValueError),
        ({"n": 5, "prime": 3}, TypeError),
    ],
)
def test_bad_sampling_arguments(trained, kwargs, error):
    with pytest.raises(error):
        trained.sample(**kwargs)
    with pytest.raises(error):  # generate checks when called, not when iterated
        trained.generate(**kwargs)


def test_prime_with_unknown_characters_names_them(trained):
    with pytest.raises(crnn.VocabError) as info:
        trained.generate(10, prime="the QUICK")
    assert all(repr(c) in str(info.value) for c in "QUICK")


def test_sampling_without_a_seed_does_not_disturb_training(vocab):
    a, b = small_model(vocab), small_model(vocab)
    a.train(TEXT, iterations=10)
    b.train(TEXT, iterations=10)
    b.sample(100)
    b.sample(10, seed=3)
    a.train(TEXT, iterations=10)
    b.train(TEXT, iterations=10)
    assert_same_state(a, b)
    assert a._rng.bit_generator.state == b._rng.bit_generator.state


def test_sampling_in_threads_equals_sampling_in_sequence(trained):
    seeds = list(range(12))
    expected = [trained.sample(400, prime="the ", seed=s) for s in seeds]
    results = [None] * len(seeds)
    barrier = threading.Barrier(len(seeds))

    def worker(i):
        barrier.wait()
        results[i] = "".join(trained.generate(400, prime="the ", seed=seeds[i]))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(seeds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected


def test_non_latin_training_and_sampling():
    text = "Привет, мир! 你好，世界 😀👍 " * 30
    model = crnn.CharRNN(crnn.Vocab.from_text(text), hidden_size=16, seq_length=8, seed=0)
    model.train(text, iterations=50)
    out = model.sample(100, prime="😀", seed=0)
    assert len(out) == 100 and set(out) <= set(text)


def test_repr(vocab):
    assert "hidden_size=16" in repr(small_model(vocab))


def test_evaluate_warm_start_uses_the_training_state(vocab):
    model = small_model(vocab)
    model.train(TEXT, iterations=20)
    text = TEXT[200:260]
    cold, warm = model.evaluate(text), model.evaluate(text, warm_start=True)
    assert warm["nats_per_char"] != cold["nats_per_char"]
    ids = vocab.encode(text)
    loss, _, _ = model.loss_and_grads(ids[:-1], ids[1:], model.hidden_state[0])
    assert warm["nats_per_char"] == pytest.approx(loss / (len(text) - 1), rel=1e-12)
    assert model.evaluate(text) == cold  # nothing changed


def test_sample_warm_start_continues_from_the_training_state(vocab):
    model = small_model(vocab)
    model.train(TEXT, iterations=20)
    warm = model.sample(100, prime="t", seed=4, warm_start=True)
    assert warm != model.sample(100, prime="t", seed=4)
    assert warm == "".join(model.generate(100, prime="t", seed=4, warm_start=True))
    # Equivalent: a model whose training state is its start state samples as by default.
    model._state[...] = model.start_state[:, None, :]
    assert model.sample(50, seed=1, warm_start=True) == model.sample(50, seed=1)
