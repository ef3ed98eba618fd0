"""The command line: every command, every user error, a few real processes.

CliRunner tests call ``crnn.cli.cli`` in-process; anything but a clean exit
(a real bug) is re-raised so it cannot hide behind a non-zero exit code.
Models are tiny (hidden 8) and runs short, so the whole file takes seconds.
"""

import errno
import io
import json
import math
import os
import shutil
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

import crnn
from crnn import cli as cli_module
from crnn.cli import info as cli_info
from crnn.cli import cli

TEXT = "hello world, this is a small text for a tiny model.\n" * 40
TINY = ["--hidden-size", "8", "--seq-length", "10"]


# ----------------------------------------------------------------------
# Helpers


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        return CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        return CliRunner()  # click >= 8.2 keeps stderr apart by itself


def run(runner, *args, input=None):
    result = runner.invoke(cli, [str(a) for a in args], input=input, prog_name="crnn")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a bug, not a user error: show its traceback
    return result


def expect_error(result, *fragments, alone=True):
    """A user error: non-zero exit, one `Error:` line naming `fragments`, no traceback.

    With ``alone`` the error line is all of standard error (errors found
    before training starts print nothing else).
    """
    assert result.exit_code != 0, result.stderr
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert lines[-1] == errors[0]
    if alone:
        assert lines == errors
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "small.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture
def model_file(runner, text_file, tmp_path):
    path = tmp_path / "model.npz"
    result = run(runner, "train", text_file, "-o", path, "--iterations", 30, "--seed", 1, *TINY)
    assert result.exit_code == 0, result.stderr
    return path


def params_of(path):
    model = crnn.load(path)
    return {name: array.copy() for name, array in model.params.items()}


# ----------------------------------------------------------------------
# Help and version


def test_version_is_the_package_version(runner):
    result = run(runner, "--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"crnn {crnn.__version__}"


@pytest.mark.parametrize("command", [[], ["train"], ["sample"], ["eval"], ["info"]])
def test_help_everywhere(runner, command):
    result = run(runner, *command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.stdout


def test_help_shows_defaults(runner):
    help_text = " ".join(run(runner, "train", "--help").stdout.split())
    for default in ("default: 100;", "default: 25;", "default: 0.1;", "default: float64]",
                    "default: (300000 without --epochs and --time-limit)", "default: (random)"):
        assert default in help_text
    assert "default: 500;" in run(runner, "sample", "--help").stdout


def test_no_command_shows_help(runner):
    result = run(runner)
    assert result.exit_code == 0
    assert "train" in result.stdout and "sample" in result.stdout


def test_unknown_command_is_one_line(runner):
    expect_error(run(runner, "fly"), "No such command", "crnn --help")


# ----------------------------------------------------------------------
# crnn train


def test_train_writes_a_model(runner, text_file, tmp_path):
    out = tmp_path / "m.npz"
    result = run(runner, "train", text_file, "-o", out, "--iterations", 25, *TINY)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # progress and notes go to stderr
    model = crnn.load(out)
    assert model.iteration == 25
    assert (model.hidden_size, model.seq_length, model.dtype.name) == (8, 10, "float64")
    assert "Done: 25 iterations" in result.stderr
    assert "validation" in result.stderr  # --val-fraction 0.1 by default


def test_train_options_reach_the_model(runner, text_file, tmp_path):
    out = tmp_path / "m.npz"
    args = ["--hidden-size", 12, "--seq-length", 7, "--learning-rate", 0.05,
            "--batch-size", 2, "--dtype", "float32", "--threads", 2]
    result = run(runner, "train", text_file, "-o", out, "--iterations", 5, *args)
    assert result.exit_code == 0, result.stderr
    model = crnn.load(out)
    assert (model.hidden_size, model.seq_length, model.batch_size) == (12, 7, 2)
    assert model.learning_rate == 0.05 and model.dtype.name == "float32"


def test_same_seed_same_model(runner, text_file, tmp_path):
    for name in ("a.npz", "b.npz"):
        run(runner, "train", text_file, "-o", tmp_path / name, "--iterations", 10, "--seed", 7, *TINY)
    a, b = params_of(tmp_path / "a.npz"), params_of(tmp_path / "b.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_inputs_are_joined_and_stdin_is_read(runner, tmp_path):
    (tmp_path / "a.txt").write_text("abc " * 30)
    result = run(runner, "train", tmp_path / "a.txt", "-", "-o", "m.npz", "--iterations", 3,
                 *TINY, input="xyz " * 30)
    assert result.exit_code == 0, result.stderr
    assert "".join(crnn.load(tmp_path / "m.npz").vocab) == " abcxyz"


def test_builtin_corpus_without_input(runner, tmp_path):
    result = run(runner, "train", "-o", "m.npz", "--iterations", 2, "--hidden-size", 8,
                 "--val-fraction", 0)
    assert result.exit_code == 0, result.stderr
    assert "built-in corpus" in result.stderr
    model = crnn.load(tmp_path / "m.npz")
    assert "d" in model.vocab and "(" in model.vocab and model.iteration == 2


def test_resume_finishes_the_same_job(runner, text_file, tmp_path):
    """--iterations counts the model's total: 20, then resume to 40 == 40 at once."""
    common = [text_file, "--seed", 3, "--checkpoint-every", 7, *TINY]
    run(runner, "train", *common, "-o", "whole.npz", "--iterations", 40)
    run(runner, "train", *common, "-o", "split.npz", "--iterations", 20)
    result = run(runner, "train", *common, "-o", "split.npz", "--iterations", 40, "--resume")
    assert result.exit_code == 0, result.stderr
    whole, split = params_of(tmp_path / "whole.npz"), params_of(tmp_path / "split.npz")
    assert crnn.load(tmp_path / "split.npz").iteration == 40
    assert all(np.array_equal(whole[k], split[k]) for k in whole)


def test_resume_when_already_done_changes_nothing(runner, text_file, model_file):
    before = model_file.read_bytes()
    result = run(runner, "train", text_file, "-o", model_file, "--iterations", 30, "--resume")
    assert result.exit_code == 0
    assert "already done 30 iterations" in result.stderr
    assert model_file.read_bytes() == before


def test_resume_without_a_model_starts_one(runner, text_file, tmp_path):
    result = run(runner, "train", text_file, "-o", "new.npz", "--iterations", 5, "--resume", *TINY)
    assert result.exit_code == 0, result.stderr
    assert "starting a new model" in result.stderr
    assert crnn.load(tmp_path / "new.npz").iteration == 5


def test_resume_may_change_the_learning_rate(runner, text_file, model_file):
    result = run(runner, "train", text_file, "-o", model_file, "--iterations", 35, "--resume",
                 "--learning-rate", 0.01)
    assert result.exit_code == 0, result.stderr
    assert "--learning-rate 0.01" in result.stderr
    assert crnn.load(model_file).learning_rate == 0.01


def test_epochs_count_passes_over_the_training_text(runner, tmp_path):
    (tmp_path / "t.txt").write_text("abcdefghij" * 10)  # 100 chars, 90 after validation
    result = run(runner, "train", "t.txt", "-o", "m.npz", "--epochs", 2, *TINY)
    assert result.exit_code == 0, result.stderr
    assert crnn.load(tmp_path / "m.npz").iteration == 18  # 2 * 90 / seq_length 10


def test_time_limit_stops_and_saves(runner, text_file, tmp_path):
    start = time.monotonic()
    result = run(runner, "train", text_file, "-o", "m.npz", "--time-limit", 0.5, *TINY)
    assert result.exit_code == 0, result.stderr
    assert time.monotonic() - start < 30
    assert "Time limit reached" in result.stderr
    assert crnn.load(tmp_path / "m.npz").iteration > 0


def test_iterations_and_time_limit_first_one_wins(runner, text_file, tmp_path):
    result = run(runner, "train", text_file, "-o", "m.npz", "--iterations", 12,
                 "--time-limit", 600, *TINY)
    assert result.exit_code == 0
    assert crnn.load(tmp_path / "m.npz").iteration == 12


def test_checkpoints_log_and_validation(runner, text_file, tmp_path):
    result = run(runner, "train", text_file, "-o", "m.npz", "--iterations", 25,
                 "--checkpoint-every", 10, "--log", "log.csv", *TINY)
    assert result.exit_code == 0, result.stderr
    for it in (10, 20, 25):
        assert f"iteration {it}: saved 'm.npz'; validation" in result.stderr
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0] == "iteration,loss,smooth_loss,val_loss,chars_per_sec"
    assert len(rows) == 26
    with_val = [row.split(",")[0] for row in rows[1:] if row.split(",")[3]]
    assert with_val == ["10", "20", "25"]
    # resuming appends to the log without a second header
    run(runner, "train", text_file, "-o", "m.npz", "--iterations", 30, "--resume",
        "--log", "log.csv")
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert len(rows) == 31 and rows[-1].startswith("30,")


def test_no_validation_with_val_fraction_zero(runner, text_file):
    result = run(runner, "train", text_file, "-o", "m.npz", "--iterations", 5,
                 "--val-fraction", 0, *TINY)
    assert result.exit_code == 0
    assert "validation" not in result.stderr


def test_sample_every_shows_samples(runner, text_file):
    result = run(runner, "train", text_file, "-o", "m.npz", "--iterations", 20,
                 "--sample-every", 10, *TINY)
    assert result.exit_code == 0
    assert result.stderr.count("--- sample at iteration") == 2


def test_plain_progress_lines_when_not_a_terminal(runner, text_file):
    result = run(runner, "train", text_file, "-o", "m.npz", "--iterations", 20, *TINY)
    assert "iteration 1/20  loss" in result.stderr
    assert "chars/s" in result.stderr
    assert "\r" not in result.stderr


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal(text_file):
    from crnn.training_progress import TrainingProgress

    model = crnn.CharRNN(crnn.Vocab.from_text(TEXT), hidden_size=8, seq_length=10)
    screen = FakeTerminal()
    progress = TrainingProgress(start_iteration=0, target=100, deadline=None, time_limit=None,
                                seq_length=10, batch_size=1, stream=screen, tty=True)
    with progress:
        model.train(TEXT, iterations=3, callback=lambda m, info: progress.update(info))
        progress.note("a note")
    shown = screen.getvalue()
    assert "[" in shown and "/100" in shown and "loss" in shown
    assert "a note\n" in shown


def test_ctrl_c_saves_and_exits(runner, text_file, tmp_path, monkeypatch):
    """The first SIGINT stops after the iteration under way, saves, and exits 130.

    Training runs in a worker thread; the signal is handled by the main
    thread, which asks the trainer to stop, so a few more iterations may
    finish before the worker sees the request."""
    original = crnn.Trainer._after_iteration

    def interrupt_at_7(self, model, info):
        if info["iteration"] == 7:
            signal.raise_signal(signal.SIGINT)
        return original(self, model, info)

    monkeypatch.setattr(crnn.Trainer, "_after_iteration", interrupt_at_7)
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when CI runs us as a background job
    result = run(runner, "train", text_file, "-o", "m.npz", "--iterations", 100000, *TINY)
    assert result.exit_code == 130
    last = result.stderr.splitlines()[-1]
    match = re.match(r"Interrupted at iteration ([\d,]+): saved 'm.npz'", last)
    assert match, last
    stopped = int(match.group(1).replace(",", ""))
    assert 7 <= stopped < 100000
    assert crnn.load(tmp_path / "m.npz").iteration == stopped
    assert signal.getsignal(signal.SIGINT) is before  # the handler is restored


# ----------------------------------------------------------------------
# crnn train: user errors


def test_missing_input(runner):
    expect_error(run(runner, "train", "nope.txt", "-o", "m.npz"), "'nope.txt' does not exist")


def test_input_is_a_folder(runner, tmp_path):
    (tmp_path / "texts").mkdir()
    expect_error(run(runner, "train", "texts", "-o", "m.npz"), "'texts' is a folder")


def test_empty_input(runner, tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    expect_error(run(runner, "train", "empty.txt", "-o", "m.npz"), "'empty.txt' is empty")


def test_input_shorter_than_seq_length(runner, tmp_path):
    (tmp_path / "short.txt").write_text("abcdefghij")
    line = expect_error(run(runner, "train", "short.txt", "-o", "m.npz"),
                        "has 10 characters", "needs at least 26", "--seq-length")
    assert not (tmp_path / "m.npz").exists()
    # held-out validation text can be what makes it too short: say so
    (tmp_path / "short.txt").write_text("a" * 27)
    line = expect_error(run(runner, "train", "short.txt", "-o", "m.npz"))
    assert "holding out" in line and "--val-fraction 0" in line
    assert run(runner, "train", "short.txt", "-o", "m.npz", "--val-fraction", 0,
               "--iterations", 1).exit_code == 0


def test_input_not_utf8(runner, tmp_path):
    (tmp_path / "latin.txt").write_bytes(b"first line\ncaf\xe9 " * 20)
    line = expect_error(run(runner, "train", "latin.txt", "-o", "m.npz"),
                        "not valid utf-8", "0xe9", "line 2", "--encoding", "--errors replace")
    assert "offset 14" in line
    for fix in (["--encoding", "latin-1"], ["--errors", "replace"]):
        result = run(runner, "train", "latin.txt", "-o", "m.npz", "--force", "--iterations", 2, *fix)
        assert result.exit_code == 0, result.stderr
    assert "\ufffd" in crnn.load(tmp_path / "m.npz").vocab  # the last run replaced the byte


def test_binary_input(runner, tmp_path):
    (tmp_path / "data.bin").write_bytes(bytes(range(256)) * 4)
    expect_error(run(runner, "train", "data.bin", "-o", "m.npz"), "binary file")
    expect_error(run(runner, "train", "data.bin", "-o", "m.npz", "--errors", "replace"), "binary")


def test_unknown_encoding(runner, text_file):
    expect_error(run(runner, "train", text_file, "-o", "m.npz", "--encoding", "klingon"),
                 "unknown --encoding 'klingon'")


@pytest.mark.parametrize("option, value", [
    ("--hidden-size", 0), ("--hidden-size", -3), ("--seq-length", 0), ("--batch-size", 0),
    ("--learning-rate", 0), ("--learning-rate", -0.1), ("--iterations", 0),
    ("--iterations", -5), ("--epochs", 0), ("--time-limit", -1), ("--checkpoint-every", 0),
    ("--sample-every", 0), ("--val-fraction", 1), ("--val-fraction", -0.1), ("--threads", 0),
    ("--dtype", "float16"), ("--errors", "ignore"),
])
def test_bad_train_numbers(runner, text_file, option, value):
    expect_error(run(runner, "train", text_file, "-o", "m.npz", option, value),
                 f"'{option}'", "crnn train --help")


def test_output_folder_missing(runner, text_file):
    expect_error(run(runner, "train", text_file, "-o", "no/such/folder/m.npz"),
                 "does not exist", "create it first")


def test_output_folder_is_a_file(runner, text_file):
    expect_error(run(runner, "train", text_file, "-o", f"{text_file}/m.npz"), "does not exist")


def test_output_is_a_folder(runner, text_file, tmp_path):
    (tmp_path / "models").mkdir()
    expect_error(run(runner, "train", text_file, "-o", "models"), "is a folder")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="needs POSIX permissions (root may write anywhere)")
def test_output_folder_not_writable(runner, text_file, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        expect_error(run(runner, "train", text_file, "-o", folder / "m.npz"), "cannot write")
    finally:
        folder.chmod(0o700)


def test_output_folder_refuses_files(runner, text_file, monkeypatch):
    """Whatever the user's rights, a folder that refuses new files is caught before training."""
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(crnn.io, "_create_temporary", refuse)
    expect_error(run(runner, "train", text_file, "-o", "m.npz"), "cannot write to the folder")


def test_failed_checkpoint_keeps_the_previous_one(runner, text_file, tmp_path, monkeypatch):
    real_save, calls = crnn.io.save, []

    def disk_full_on_second_save(model, path):
        calls.append(model.iteration)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, f"could not save the model to {path!r} (No space left on device)")
        return real_save(model, path)

    monkeypatch.setattr(crnn.io, "save", disk_full_on_second_save)
    result = run(runner, "train", text_file, "-o", "m.npz", "--iterations", 30,
                 "--checkpoint-every", 10, *TINY)
    expect_error(result, "No space left on device", "m.npz", alone=False)
    assert calls == [10, 20]  # training stopped at the failed checkpoint
    assert crnn.load(tmp_path / "m.npz").iteration == 10


def test_existing_model_is_not_replaced_by_accident(runner, text_file, model_file):
    before = model_file.read_bytes()
    expect_error(run(runner, "train", text_file, "-o", model_file), "already exists",
                 "--resume", "--force")
    assert model_file.read_bytes() == before


def test_resume_with_unknown_characters(runner, model_file, tmp_path):
    before = model_file.read_bytes()
    (tmp_path / "other.txt").write_text("QUITE DIFFERENT TEXT! " * 10)
    expect_error(run(runner, "train", "other.txt", "-o", model_file, "--resume"),
                 "cannot --resume", "'!'", "'D'")
    assert model_file.read_bytes() == before


def test_resume_with_a_different_shape(runner, text_file, model_file):
    before = model_file.read_bytes()
    expect_error(run(runner, "train", text_file, "-o", model_file, "--resume", "--hidden-size", 9,
                     "--iterations", 40), "--hidden-size 9 (the model has 8)")
    assert model_file.read_bytes() == before


def test_resume_from_a_damaged_model(runner, text_file, model_file):
    model_file.write_bytes(model_file.read_bytes()[:500])
    expect_error(run(runner, "train", text_file, "-o", model_file, "--resume", "--iterations", 40),
                 str(model_file))


def test_divergence_keeps_the_existing_file(runner, text_file, model_file):
    before = model_file.read_bytes()
    for extra in (["--resume"], ["--force", "--checkpoint-every", 1]):
        result = run(runner, "train", text_file, "-o", model_file, "--iterations", 100,
                     "--learning-rate", "1e308", *extra)
        line = expect_error(result, "diverged", "--learning-rate", alone=False)
        assert "was not changed" in line
        assert model_file.read_bytes() == before


def test_divergence_after_checkpoints_keeps_the_last_one(runner, text_file, tmp_path, monkeypatch):
    real_train = crnn.CharRNN.train

    def diverge_after_20(model, ids, iterations, callback=None, **kw):
        if model.iteration >= 20:
            raise crnn.TrainingDivergedError("boom", iteration=23, restored_iteration=20)
        return real_train(model, ids, iterations, callback, **kw)

    monkeypatch.setattr(crnn.CharRNN, "train", diverge_after_20)
    result = run(runner, "train", text_file, "-o", "m.npz", "--iterations", 50,
                 "--checkpoint-every", 10, *TINY)
    expect_error(result, "diverged at iteration 23", "keeps the last checkpoint (iteration 20)",
                 alone=False)
    assert crnn.load(tmp_path / "m.npz").iteration == 20


# ----------------------------------------------------------------------
# crnn sample


def test_sample_includes_the_prime(runner, model_file):
    result = run(runner, "sample", model_file, "-n", 40, "--prime", "hello", "--seed", 1)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("hello") and len(result.stdout) == 45


def test_sample_without_echoing_the_prime(runner, model_file):
    echoed = run(runner, "sample", model_file, "-n", 40, "--prime", "hello", "--seed", 1).stdout
    bare = run(runner, "sample", model_file, "-n", 40, "--prime", "hello", "--seed", 1,
               "--no-echo-prime").stdout
    assert len(bare) == 40 and echoed == "hello" + bare


def test_sample_matches_the_api(runner, model_file):
    result = run(runner, "sample", model_file, "-n", 60, "--seed", 5, "--temperature", 0.7)
    assert result.stdout == crnn.load(model_file).sample(60, temperature=0.7, seed=5)


def test_sample_same_seed_same_text(runner, model_file):
    a = run(runner, "sample", model_file, "-n", 50, "--seed", 2).stdout
    b = run(runner, "sample", model_file, "-n", 50, "--seed", 2).stdout
    c = run(runner, "sample", model_file, "-n", 50, "--seed", 3).stdout
    assert a == b and a != c


def test_sample_zero_length_and_temperature_zero(runner, model_file):
    assert run(runner, "sample", model_file, "-n", 0, "--prime", "hi").stdout == "hi"
    cold = [run(runner, "sample", model_file, "-n", 30, "--temperature", 0, "--seed", s).stdout
            for s in (1, 2)]
    assert cold[0] == cold[1] and len(cold[0]) == 30


def test_sample_prime_with_unknown_characters(runner, model_file):
    result = run(runner, "sample", model_file, "--prime", "hello WORLD €")
    line = expect_error(result, "--prime has 6 character(s)", "'€'", "'W'", "crnn info")
    assert result.stdout == ""  # nothing half-printed
    assert "'h'" not in line


@pytest.mark.parametrize("option, value", [("--temperature", -0.5), ("-n", -1), ("--seed", "x")])
def test_sample_bad_numbers(runner, model_file, option, value):
    expect_error(run(runner, "sample", model_file, option, value), f"'{option}'")


def test_sample_missing_model(runner):
    expect_error(run(runner, "sample", "nope.npz"), "'nope.npz' does not exist",
                 "crnn train -o nope.npz")


def test_sample_model_is_a_folder(runner, tmp_path):
    (tmp_path / "m.npz").mkdir()
    expect_error(run(runner, "sample", "m.npz"), "is a folder")


def _rewrite_meta(src, dst, **changes):
    """Copy model file src to dst with metadata fields changed."""
    with np.load(src, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta.update(changes)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(dst, **arrays)


def _bad_model_files(model_file, folder):
    """name -> path of a broken model file."""
    good = model_file.read_bytes()
    files = {
        "truncated": good[: len(good) // 2],
        "corrupt": good[:200] + bytes(b ^ 0x5A for b in good[200:400]) + good[400:],
        "text": TEXT.encode(),
        "empty": b"",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}.npz"
        paths[name].write_bytes(data)
    paths["plain npz"] = folder / "plain.npz"
    np.savez(paths["plain npz"], x=np.arange(3))
    paths["newer format"] = folder / "newer.npz"
    _rewrite_meta(model_file, paths["newer format"], format_version=99)
    return paths


@pytest.mark.parametrize("command", [["sample"], ["info"], ["eval", "{text}"]])
def test_unusable_model_files(runner, model_file, text_file, tmp_path, command):
    for name, path in _bad_model_files(model_file, tmp_path).items():
        args = [part.format(text=text_file) for part in command]
        args.insert(1, str(path))
        before = path.read_bytes()
        line = expect_error(run(runner, *args))
        assert str(path) in line, name
        assert path.read_bytes() == before
        if name == "newer format":
            assert "upgrade crnn" in line


# ----------------------------------------------------------------------
# crnn eval


def test_eval_prints_the_four_figures(runner, model_file, text_file):
    result = run(runner, "eval", model_file, text_file)
    assert result.exit_code == 0, result.stderr
    figures = dict(line.split() for line in result.stdout.splitlines())
    assert int(figures["chars"]) == len(TEXT) - 1
    nats = float(figures["nats/char"])
    assert float(figures["bits/char"]) == pytest.approx(nats / math.log(2), abs=2e-4)
    assert float(figures["perplexity"]) == pytest.approx(math.exp(nats), rel=1e-3)


def test_eval_json_matches_the_api(runner, model_file, text_file, tmp_path):
    (tmp_path / "more.txt").write_text("small world\n")
    result = run(runner, "eval", model_file, text_file, "more.txt", "--json")
    report = json.loads(result.stdout)
    expected = crnn.load(model_file).evaluate(TEXT + "small world\n")
    assert report["chars"] == expected["chars"] == len(TEXT) + 11
    assert report["nats_per_char"] == pytest.approx(expected["nats_per_char"], rel=1e-12)
    assert report["bits_per_char"] == pytest.approx(expected["bits_per_char"], rel=1e-12)
    assert report["files"] == [str(text_file), "more.txt"]


def test_eval_reads_stdin(runner, model_file):
    result = run(runner, "eval", model_file, "-", "--json", input="hello world\n")
    assert json.loads(result.stdout)["chars"] == 11


def test_eval_errors(runner, model_file, tmp_path):
    expect_error(run(runner, "eval", model_file), "Missing argument")
    expect_error(run(runner, "eval", model_file, "nope.txt"), "'nope.txt' does not exist")
    (tmp_path / "one.txt").write_text("h")
    expect_error(run(runner, "eval", model_file, "one.txt"), "at least 2")
    (tmp_path / "odd.txt").write_text("hello ZEBRA")
    expect_error(run(runner, "eval", model_file, "odd.txt"), "'Z'", "'B'", "does not know")


# ----------------------------------------------------------------------
# crnn info


def test_info_text(runner, model_file):
    result = run(runner, "info", model_file)
    assert result.exit_code == 0, result.stderr
    facts = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in result.stdout.splitlines()}
    assert facts["hidden size"] == "8" and facts["seq length"] == "10"
    assert facts["iterations"] == "30" and facts["format version"] == "2"
    assert facts["crnn version"] == crnn.__version__
    assert facts["vocab size"] == str(len(set(TEXT)))
    assert facts["vocabulary"].startswith("\\n␣,.")  # newline and space made visible
    assert int(facts["parameters"]) == crnn.load(model_file).param_count


def test_info_json(runner, model_file):
    facts = json.loads(run(runner, "info", model_file, "--json").stdout)
    model = crnn.load(model_file)
    assert facts["vocabulary"] == "".join(model.vocab)
    assert facts["vocab_size"] == len(model.vocab)
    assert facts["iterations"] == 30 and facts["dtype"] == "float64"
    assert facts["smooth_loss"] == model.smooth_loss
    assert facts["smooth_loss_per_char"] == pytest.approx(model.smooth_loss / 10)


def test_info_missing_model(runner):
    expect_error(run(runner, "info", "nope.npz"), "does not exist")


def test_printable_vocab():
    assert cli_info.printable_vocab("\n\t a\\\x07é") == "\\n\\t␣a\\\\\\x07é"


# ----------------------------------------------------------------------
# Real processes


def crnn_process(*args, cwd):
    return subprocess.run([sys.executable, "-m", "crnn", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_python_m_crnn_train_then_sample(text_file, tmp_path):
    trained = crnn_process("train", text_file, "-o", "m.npz", "--iterations", 50,
                           "--hidden-size", 16, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "Done: 50 iterations" in trained.stderr
    sampled = crnn_process("sample", "m.npz", "-n", 100, "--seed", 1, cwd=tmp_path)
    assert sampled.returncode == 0, sampled.stderr
    assert len(sampled.stdout) == 100 and set(sampled.stdout) <= set(TEXT)


def test_console_script(model_file, tmp_path):
    """The installed `crnn` script (next to this Python, as pip puts it)."""
    script = shutil.which("crnn", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("crnn is not installed as a script next to this Python")
    result = subprocess.run([script, "sample", str(model_file), "-n", "30", "--seed", "4"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == crnn.load(model_file).sample(30, seed=4)


def test_process_error_is_one_line(tmp_path):
    result = crnn_process("sample", "nope.npz", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: model file 'nope.npz' does not exist; train one with: crnn train -o nope.npz"
    ]


def test_process_version(tmp_path):
    result = crnn_process("--version", cwd=tmp_path)
    assert result.stdout.strip() == f"crnn {crnn.__version__}"


def test_sample_streams_its_output(model_file, tmp_path):
    """The first characters arrive long before a huge sample could be finished."""
    proc = subprocess.Popen([sys.executable, "-m", "crnn", "sample", str(model_file),
                             "-n", str(10**9)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = proc.stdout.read(20)
        assert len(first) == 20
        assert proc.poll() is None  # still generating
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_process_ctrl_c_saves_a_checkpoint(text_file, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "crnn", "train", str(text_file), "-o", "m.npz",
         "--iterations", str(10**9), *TINY],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = proc.stderr.readline()  # the first progress line: training has begun
        assert first.startswith("iteration 1/"), first
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.returncode == 130, rest
    last = rest.splitlines()[-1]
    assert last.startswith("Interrupted at iteration ") and "--resume" in last
    iteration = int(last.split()[3].rstrip(":").replace(",", ""))
    assert crnn.load(tmp_path / "m.npz").iteration == iteration > 0
