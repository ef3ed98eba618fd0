"""crnn train --preset: what each preset sets, what overrides it, and the
time-sized cosine schedule of the quality preset."""

import numpy as np
import pytest

import crnn
from crnn import presets
from crnn.training import iterations_per_second

from test_cli import TEXT, expect_error, run, runner, text_file  # noqa: F401 (fixtures)

TINY = ["--hidden-size", "8", "--seq-length", "10", "--batch-size", "2"]


def test_every_preset_names_only_options_of_crnn_train():
    from crnn.cli.train import TrainOptions

    fields = set(TrainOptions.__dataclass_fields__)
    for name in presets.preset_names():
        assert set(presets.preset_options(name)) <= fields, name
        assert name in presets.SUMMARIES


def test_preset_options_is_a_copy_and_rejects_unknown_names():
    options = presets.preset_options("char-rnn")
    options["hidden_size"] = 1
    assert presets.preset_options("char-rnn")["hidden_size"] == 128
    with pytest.raises(ValueError, match="unknown preset 'lstm'; choose one of min-char-rnn"):
        presets.preset_options("lstm")


def test_min_char_rnn_preset_is_the_default(runner, text_file, tmp_path):
    plain = run(runner, "train", text_file, "-o", "a.npz", "--iterations", 20, "--seed", 3)
    preset = run(runner, "train", text_file, "-o", "b.npz", "--iterations", 20, "--seed", 3,
                 "--preset", "min-char-rnn")
    assert plain.exit_code == 0 and preset.exit_code == 0, preset.stderr
    a, b = crnn.load(tmp_path / "a.npz"), crnn.load(tmp_path / "b.npz")
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert a.preset is None and b.preset == "min-char-rnn"


def test_char_rnn_preset_sets_char_rnns_options_and_given_ones_win(runner, text_file, tmp_path):
    result = run(runner, "train", text_file, "-o", "m.npz", "--preset", "char-rnn", "--iterations", 3,
                 *TINY)
    assert result.exit_code == 0, result.stderr
    model = crnn.load(tmp_path / "m.npz")
    assert (model.cell, model.num_layers, model.optimizer.name) == ("lstm", 2, "rmsprop")
    assert model.optimizer.settings["alpha"] == 0.95 and model.learning_rate == 2e-3
    assert (model.clip_mode, model.grad_clip, model.dtype) == ("value", 5.0, np.float32)
    assert model.network.init_scheme == "char-rnn"
    assert model.lr_schedule.to_json()["kind"] == "step" and model.lr_schedule.factor == 0.97
    # --hidden-size, --seq-length and --batch-size were given: they win.
    assert (model.hidden_size, model.seq_length, model.batch_size) == (8, 10, 2)
    info = run(runner, "info", "m.npz").stdout
    assert "char-rnn" in info


def test_quality_preset_sizes_its_cosine_to_the_time_limit(runner, text_file, tmp_path):
    result = run(runner, "train", text_file, "-o", "m.npz", "--preset", "quality",
                 "--time-limit", 2, "--val-fraction", 0.1, *TINY)
    assert result.exit_code == 0, result.stderr
    assert "Cosine schedule over" in result.stderr and "Time limit reached" in result.stderr
    model = crnn.load(tmp_path / "m.npz")
    assert (model.cell, model.optimizer.name, model.preset) == ("lstm", "adam", "quality")
    schedule = model.lr_schedule.to_json()
    assert schedule["kind"] == "cosine" and schedule["total"] >= 1
    # The probe measured the speed; the run itself did about as many
    # iterations as the schedule was sized for (not 1, not 100x more).
    assert 0.2 * schedule["total"] <= model.iteration <= 5 * schedule["total"] + 50


def test_bad_preset_is_one_clear_line(runner, text_file):
    result = run(runner, "train", text_file, "-o", "m.npz", "--preset", "best")
    assert result.exit_code == 2
    assert "'best' is not one of 'min-char-rnn', 'char-rnn', 'quality'" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_presets_and_what_they_set(runner):
    result = run(runner, "train", "--help")
    assert result.exit_code == 0
    for name in presets.preset_names():
        assert f"{name}:" in result.stdout
    words = " ".join(result.stdout.split())
    assert "RMSprop 2e-3" in words and "--preset" in words


def test_iterations_per_second_leaves_the_model_alone():
    vocab = crnn.Vocab.from_text(TEXT)
    model = crnn.CharRNN(vocab, hidden_size=8, seq_length=10, cell="lstm", optimizer="adam", seed=1)
    before = model._flat.copy()
    rate = iterations_per_second(model, TEXT, seconds=0.2)
    assert rate > 10 and model.iteration == 0
    np.testing.assert_array_equal(model._flat, before)


def test_the_quality_benchmark_measures_the_quality_preset():
    """benchmarks/quality.py's "quality" row is the preset, option for option."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "quality.py"
    spec = importlib.util.spec_from_file_location("quality_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    row, preset = bench.CONFIGS["quality"], presets.preset_options("quality")
    pairs = {"cell": "cell", "hidden": "hidden_size", "layers": "num_layers", "seq": "seq_length",
             "batch": "batch_size", "optimizer": "optimizer", "lr": "learning_rate",
             "dropout": "dropout", "dtype": "dtype", "clip": "grad_clip", "clip_mode": "clip_mode",
             "init": "init"}
    assert {k: row[k] for k in pairs} == {k: preset[v] for k, v in pairs.items()}
    assert row["schedule"] == {"kind": preset["lr_schedule"], "floor": preset["lr_floor"]}


def test_quality_scales_the_network_with_the_time_limit():
    def shape(seconds):
        options = presets.preset_options("quality", time_limit=seconds)
        return options["num_layers"], options["hidden_size"], options["dropout"]

    assert shape(60) == (1, 512, 0.0)
    assert shape(600) == shape(None) == (2, 384, 0.2)  # no limit: 600 s
    assert shape(3600) == (2, 512, 0.25)
