"""CharRNN against the pure-NumPy min-char-rnn reference (crnn.reference.minchar).

A note on tolerances: min-char-rnn's training is chaotic in its first
iterations (Adagrad's first steps are lr * g / |g|, so rounding noise in a
near-zero gradient can flip a step).  Perturbing the reference's own
initial weights by 1e-14 (relative) gives 1e-8 differences after 7
iterations of hidden size 100 on tinyshakespeare.  So whole-run parity is
checked at sizes where rounding noise stays small (the reference itself is
stable there), and parity at the reference settings (H=100, T=25) is
checked step by step from the model's own state.
"""

import numpy as np
import pytest

import crnn
from crnn.data import chunk_start
from crnn.reference import minchar as ref

TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
    "All:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die "
    "than to famish?\n\nAll:\nResolved. resolved.\n"
) * 4


def params_copy(model):
    return {name: np.array(view, dtype=np.float64) for name, view in model.params.items()}


def max_rel_err(got, want):
    return max(ref.rel_err(got[name], want[name]) for name in ref.PARAM_NAMES)


def reference_state(model):
    """The model's training state in train_reference's format."""
    return {
        "params": params_copy(model),
        "mem": {name: np.array(view) for name, view in model.memory.items()},
        "h": model.hidden_state[0],
        "p": model.pointers[0],
        "n": model.iteration,
        "smooth_loss": model.smooth_loss,
        "losses": [],
    }


# scale None: the model's own initial weights (N(0,1) * 0.01), then `trained`
# iterations of training; a number: random weights of that scale (large
# scales make BPTT ill-conditioned, so they are used with small H only).
@pytest.mark.parametrize(
    "H, T, scale, trained",
    [(1, 1, 0.3, 0), (5, 3, 0.3, 0), (16, 25, 0.3, 0), (100, 25, None, 0), (100, 25, None, 200)],
)
def test_loss_and_grads_match_lossfun(H, T, scale, trained):
    rng = np.random.default_rng(H * 100 + T)
    vocab = crnn.Vocab.from_text(TEXT)
    model = crnn.CharRNN(vocab, hidden_size=H, seed=H)
    if scale is not None:
        for name, value in ref.random_params(rng, H, len(vocab), scale, bias_scale=0.1).items():
            model.params[name][...] = value
    model.train(TEXT, iterations=trained)
    ids = vocab.encode(TEXT)
    inputs, targets = ids[:T], ids[1 : T + 1]
    h = np.tanh(rng.standard_normal(H))
    loss, grads, h_last = model.loss_and_grads(inputs, targets, h)
    want_loss, want_grads, want_h, _ = ref.loss_fun(list(inputs), list(targets), h, params_copy(model))
    assert abs(loss - want_loss) <= 1e-12 * abs(want_loss)
    for name in ref.PARAM_NAMES:
        assert grads[name].shape == want_grads[name].shape
        assert ref.rel_err(grads[name], ref.clip(want_grads[name], 5.0)) <= 1e-12, name
    assert ref.rel_err(h_last, want_h) <= 1e-12


def test_loss_and_grads_clips_and_leaves_the_model_alone():
    vocab = crnn.Vocab.from_text("ab")
    model = crnn.CharRNN(vocab, hidden_size=4, seed=0)
    model.params["by"][...] = [30.0, -30.0]  # confident and wrong: big gradients
    before = params_copy(model)
    _, grads, _ = model.loss_and_grads([0] * 10, [1] * 10, np.zeros(4))
    assert np.abs(grads["by"]).max() == 5.0
    for name in before:
        assert np.array_equal(model.params[name], before[name])


@pytest.mark.parametrize("H, T, chars", [(16, 25, len(TEXT)), (8, 10, 60), (12, 25, 26)])
def test_twenty_iterations_match_the_reference_loop(H, T, chars):
    # chars=60 and 26 make the pointer wrap around (26 = seq_length + 1: reset every step).
    vocab = crnn.Vocab.from_text(TEXT)
    ids = vocab.encode(TEXT[:chars])
    model = crnn.CharRNN(vocab, hidden_size=H, seq_length=T, seed=3)
    want = ref.train_reference(ids, params_copy(model), 20, seq_length=T, learning_rate=0.1)
    model.train(ids, iterations=20)
    assert max_rel_err(params_copy(model), want["params"]) <= 1e-9
    assert max_rel_err(model.memory, want["mem"]) <= 1e-9
    assert ref.rel_err(model.hidden_state[0], want["h"]) <= 1e-9
    assert model.pointers[0] == want["p"]
    assert model.iteration == want["n"] == 20
    assert model.smooth_loss == pytest.approx(want["smooth_loss"], rel=1e-12)


def test_every_step_matches_the_reference_at_reference_settings():
    text = TEXT * 3
    vocab = crnn.Vocab.from_text(text)
    ids = vocab.encode(text)
    model = crnn.CharRNN(vocab, hidden_size=100, seq_length=25, learning_rate=0.1, seed=0)
    for _ in range(20):
        want = ref.train_reference(ids, params_copy(model), 1, state=reference_state(model))
        model.train(ids, iterations=1)
        assert max_rel_err(params_copy(model), want["params"]) <= 1e-9
        assert max_rel_err(model.memory, want["mem"]) <= 1e-9
        assert model.smooth_loss == pytest.approx(want["smooth_loss"], rel=1e-12)


def test_float32_training_stays_close_to_the_reference():
    vocab = crnn.Vocab.from_text(TEXT)
    model = crnn.CharRNN(vocab, hidden_size=8, dtype="float32", seed=1)
    want = ref.train_reference(vocab.encode(TEXT), params_copy(model), 10)
    model.train(TEXT, iterations=10)
    assert max_rel_err(params_copy(model), want["params"]) <= 1e-3


def test_batched_training_matches_a_reference_with_segments():
    B, T, H = 3, 7, 10
    vocab = crnn.Vocab.from_text(TEXT)
    ids = vocab.encode(TEXT[:100])  # segments of 33 chars: streams wrap every 4 steps
    model = crnn.CharRNN(vocab, hidden_size=H, seq_length=T, batch_size=B, seed=5)
    params = params_copy(model)
    mem = {name: np.zeros_like(value) for name, value in params.items()}
    segment = len(ids) // B
    pointers, h = [0] * B, np.zeros((B, H))
    for n in range(12):
        inputs, targets = [], []
        for b in range(B):
            pointers[b], reset = chunk_start(pointers[b], T, segment, first=n == 0)
            if reset:
                h[b] = 0.0
            start = b * segment + pointers[b]
            inputs.append(ids[start : start + T])
            targets.append(ids[start + 1 : start + T + 1])
            pointers[b] += T
        _, grads, h, _ = ref.loss_fun_batch(inputs, targets, h, params)
        for name in ref.PARAM_NAMES:
            params[name], mem[name] = ref.adagrad(params[name], mem[name], ref.clip(grads[name], 5.0), 0.1)
    model.train(ids, iterations=12)
    assert max_rel_err(params_copy(model), params) <= 1e-9
    assert ref.rel_err(model.hidden_state, h) <= 1e-9
    assert list(model.pointers) == pointers


def test_evaluate_matches_lossfun_over_many_chunks():
    text = TEXT * 8  # > 1024 characters: several forward calls, state carried
    assert len(text) > 2 * 1024
    vocab = crnn.Vocab.from_text(text)
    model = crnn.CharRNN(vocab, hidden_size=12, seed=2)
    model.train(text, iterations=30)
    ids = vocab.encode(text)
    h0 = model.start_state[0]
    assert np.abs(h0).max() > 0  # trained: the start state is not the zero state
    loss, _, _, _ = ref.loss_fun(list(ids[:-1]), list(ids[1:]), h0, params_copy(model))
    result = model.evaluate(text)
    assert result["chars"] == len(text) - 1
    assert result["nats_per_char"] == pytest.approx(loss / (len(text) - 1), rel=1e-12)
    assert result["bits_per_char"] == pytest.approx(result["nats_per_char"] / np.log(2), rel=1e-15)


def reference_sample(model, n, prime, temperature, seed):
    """What sample() should produce, rebuilt from the reference's sampling step."""
    params = params_copy(model)
    uniforms = np.random.default_rng(seed).random(n)
    h = model.start_state[0].astype(np.float64)  # where sampling starts (see start_state)
    if prime:
        prime_ids = model.vocab.encode(prime)
        for x in prime_ids[:-1]:
            h, _ = ref.sample_step_probs(params, h, x, temperature)
        ids, _ = ref.sample_reference(params, h, prime_ids[-1], uniforms, temperature)
        return model.vocab.decode(ids)
    # No prime: the first id comes from the start state's prediction.
    logits = params["Why"] @ h + params["by"]
    if temperature == 0:
        first = int(np.argmax(logits))
    else:
        first = ref.choose(ref.softmax(logits, temperature), uniforms[0])
    ids, _ = ref.sample_reference(params, h, first, uniforms[1:], temperature)
    return model.vocab.decode([first] + list(ids))


@pytest.mark.parametrize("prime", ["", "F", "First Cit"])
@pytest.mark.parametrize("temperature", [1.0, 0.5, 0.0])
def test_sampling_matches_the_reference(prime, temperature):
    vocab = crnn.Vocab.from_text(TEXT)
    model = crnn.CharRNN(vocab, hidden_size=16, seed=4)
    model.train(TEXT, iterations=40)
    model.params["by"][...] += np.linspace(-1, 1, len(vocab))  # make the first draw matter
    n = 300  # more than one sampling block
    got = model.sample(n, prime=prime, temperature=temperature, seed=9)
    assert got == reference_sample(model, n, prime, temperature, seed=9)

