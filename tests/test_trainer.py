"""crnn.Trainer: the training run as a library object (checkpoints, the best
model, limits, divergence, stop requests), without the command line."""

import math
import threading
import time

import numpy as np
import pytest

import crnn
from crnn.training import best_path_for

TEXT = "".join(f"line {i % 7}: the cat sat on the mat, said {i % 5}.\n" for i in range(120))


def new_model(**kwargs):
    settings = dict(hidden_size=12, seq_length=10, seed=0)
    settings.update(kwargs)
    return crnn.CharRNN(crnn.Vocab.from_text(TEXT), **settings)


def test_run_with_validation_and_checkpoints(tmp_path):
    model = new_model()
    events = []
    trainer = crnn.Trainer(model, TEXT, val_fraction=0.1, checkpoint=tmp_path / "m.npz",
                           checkpoint_every=20)
    history = trainer.run(iterations=60, callback=lambda t, e: events.append(e))
    assert history.stop_reason == "done" and model.iteration == 60
    assert history.checkpoint_iterations == [20, 40, 60]
    assert len(history.val_loss) == 3 and all(math.isfinite(v) for v in history.val_loss)
    assert [e.iteration for e in events if e.kind == "checkpoint"] == [20, 40, 60]
    assert sum(e.kind == "progress" for e in events) == 60
    saved = crnn.load(tmp_path / "m.npz")
    assert saved.iteration == 60
    assert [v for _, v in saved.val_history] == history.val_loss  # kept in the file
    # Validation scores the held-out tail from the start state, as crnn eval does.
    tail = TEXT[len(TEXT) - int(len(TEXT) * 0.1):]
    assert history.val_loss[-1] == pytest.approx(saved.evaluate(tail)["nats_per_char"], rel=1e-12)


def test_the_best_validation_model_is_kept_beside_the_latest(tmp_path):
    model = new_model(learning_rate=0.3)
    trainer = crnn.Trainer(model, TEXT, checkpoint=tmp_path / "m.npz", checkpoint_every=10)
    history = trainer.run(iterations=80)
    assert trainer.best_checkpoint == str(tmp_path / "m.best.npz")
    best = crnn.load(trainer.best_checkpoint)
    i = int(np.argmin(history.val_loss))
    assert best.iteration == history.best_iteration == history.checkpoint_iterations[i]
    assert history.best_val_loss == min(history.val_loss)


def test_best_path_names():
    assert best_path_for("m.npz") == "m.best.npz"
    assert best_path_for("dir/model") == "dir/model.best.npz"


def test_a_resumed_run_keeps_an_earlier_better_best(tmp_path):
    path = tmp_path / "m.npz"
    model = new_model()
    crnn.Trainer(model, TEXT, checkpoint=path, checkpoint_every=10).run(iterations=30)
    resumed = crnn.load(path)
    resumed.val_history.append((30, 1e-9))  # pretend iteration 30 was unbeatable
    trainer = crnn.Trainer(resumed, TEXT, checkpoint=path, checkpoint_every=10)
    history = trainer.run(iterations=50)
    assert history.best_iteration == 30  # nothing later beat it: m.best.npz was not replaced
    assert crnn.load(tmp_path / "m.best.npz").iteration != 50


def test_epochs_and_time_limits():
    model = new_model()
    trainer = crnn.Trainer(model, TEXT, val_fraction=0)
    assert trainer.epoch_iterations(1) == math.ceil(len(TEXT) / 10)
    history = trainer.run(epochs=0.5)
    assert model.iteration == trainer.epoch_iterations(0.5) and history.stop_reason == "done"
    started = time.monotonic()
    history = trainer.run(time_limit=0.3)
    assert history.stop_reason == "time" and time.monotonic() - started < 5


def test_a_run_needs_a_limit():
    with pytest.raises(ValueError, match="iterations, epochs or time_limit"):
        crnn.Trainer(new_model(), TEXT).run()


def test_too_short_a_text_is_a_corpus_error():
    with pytest.raises(crnn.CorpusError, match="at least"):
        crnn.Trainer(new_model(seq_length=50), TEXT[:60], val_fraction=0.5)


def test_stop_request_from_another_thread_saves_and_returns(tmp_path):
    model = new_model()
    trainer = crnn.Trainer(model, TEXT, checkpoint=tmp_path / "m.npz", checkpoint_every=10**9)
    threading.Timer(0.3, trainer.request_stop).start()
    history = trainer.run(iterations=10**9)
    assert history.stop_reason == "stopped"
    assert crnn.load(tmp_path / "m.npz").iteration == model.iteration > 0


def test_huge_loss_is_divergence_and_the_checkpoint_is_kept(tmp_path):
    """A finite loss far above an untrained model's is divergence, like NaN."""
    path = tmp_path / "m.npz"
    model = new_model()
    trainer = crnn.Trainer(model, TEXT, checkpoint=path, checkpoint_every=10)
    trainer.run(iterations=10)
    model.learning_rate = 1000.0
    with pytest.raises(crnn.TrainingDivergedError) as info:
        trainer.run(iterations=10_000)
    assert "loss" in info.value.what
    assert crnn.load(path).iteration == 10  # never overwritten with broken weights


def test_model_train_applies_the_divergence_limit():
    model = new_model(learning_rate=1000.0)
    with pytest.raises(crnn.TrainingDivergedError) as info:
        model.train(TEXT, iterations=5000)
    assert "over 5x an untrained model's" in info.value.what or "nan" in info.value.what.lower()
    assert model.iteration == info.value.restored_iteration
    assert model.divergence_limit == pytest.approx(5 * math.log(model.vocab_size))


def test_checkpoint_failure_is_a_checkpoint_error(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    model = new_model()
    trainer = crnn.Trainer(model, TEXT, checkpoint=path, checkpoint_every=10)
    trainer.run(iterations=10)

    def full(model, where):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(crnn.io, "save", full)
    with pytest.raises(crnn.CheckpointError) as info:
        trainer.run(iterations=20)
    assert info.value.iteration == 20 and info.value.saved_iteration == 10
    assert isinstance(info.value, OSError) and info.value.errno == 28


def test_validation_is_cut_short_by_a_stop_request():
    text = TEXT * 20
    model = new_model()
    trainer = crnn.Trainer(model, text, val_fraction=0.5)
    calls = []

    def stop_during_validation():
        calls.append(1)
        return True

    assert model.evaluate(text, should_stop=stop_during_validation) is None
    trainer.request_stop()
    history = trainer.run(iterations=100)
    assert history.stop_reason == "stopped" and history.val_loss == []


def test_a_time_limit_cancels_a_long_iteration(tmp_path):
    """One iteration of this network takes seconds; the run still ends close
    to its time limit (the kernel call is cancelled) and saves the model as
    it was before the cancelled iteration."""
    text = TEXT * 30
    model = crnn.CharRNN(crnn.Vocab.from_text(text), cell="lstm", num_layers=2, hidden_size=256,
                         seq_length=400, batch_size=8, seed=0)
    trainer = crnn.Trainer(model, text, val_fraction=0.05, checkpoint=tmp_path / "m.npz")
    started = time.monotonic()
    history = trainer.run(iterations=10**6, time_limit=1.0)
    assert history.stop_reason == "time"
    assert time.monotonic() - started < 10
    assert crnn.load(tmp_path / "m.npz").iteration == model.iteration


def test_a_checkpoint_whose_validation_the_deadline_cut_is_validated_when_final(tmp_path):
    """A run that pauses for a checkpoint just before its deadline: that
    checkpoint's validation is cut short, and the run's final checkpoint
    (the same iteration, already saved) must still validate the model."""
    text = TEXT * 30
    model = crnn.CharRNN(crnn.Vocab.from_text(text), hidden_size=16, seq_length=10, seed=0)
    trainer = crnn.Trainer(model, text, val_fraction=0.1, checkpoint=tmp_path / "m.npz")
    trainer.run(iterations=5)
    model.train(trainer.train_ids, iterations=3)
    trainer._deadline = 0.0  # long past: what run(time_limit=...) sets when time is up
    assert trainer.checkpoint_now(final=False) is None  # cut short, but saved
    assert crnn.load(tmp_path / "m.npz").iteration == model.iteration
    val = trainer.checkpoint_now(final=True)
    assert val == pytest.approx(model.evaluate(trainer.val_ids)["nats_per_char"])
    assert trainer.history.checkpoint_iterations[-1] == model.iteration
    assert crnn.load(tmp_path / "m.best.npz").iteration == model.iteration or \
        trainer.history.best_val_loss < val
    assert trainer.checkpoint_now(final=True) is None  # nothing new: not again


def test_the_model_a_time_limited_run_ends_with_is_validated(tmp_path):
    """The deadline stops training, not the final checkpoint's validation:
    the run reports (and keeps as the best) the model it ends with.  (No
    checkpoint before the end: on a fast moment 0.3 s can pass the default
    checkpoint_every, and an earlier checkpoint may validate better.)"""
    text = TEXT * 30
    model = crnn.CharRNN(crnn.Vocab.from_text(text), hidden_size=16, seq_length=10, seed=0)
    trainer = crnn.Trainer(model, text, val_fraction=0.1, checkpoint=tmp_path / "m.npz",
                           checkpoint_every=10**9)
    history = trainer.run(time_limit=0.3)
    assert history.stop_reason == "time"
    assert history.checkpoint_iterations[-1] == model.iteration
    assert history.val_loss[-1] == pytest.approx(model.evaluate(trainer.val_ids)["nats_per_char"])
    assert crnn.load(tmp_path / "m.best.npz").iteration == model.iteration
