"""The command line: help, version and crnn train, plus the helpers the other CLI test files import.

CliRunner tests call ``crnn.cli.cli`` in-process; anything but a clean exit
(a real bug) is re-raised so it cannot hide behind a non-zero exit code.
Models are tiny (hidden 8) and runs short, so the whole file takes seconds.
The user errors of crnn train, the other commands and real processes are in
test_cli_train_errors.py, test_cli_sample_eval_info.py and
test_cli_processes.py (and test_cli_run.py: crnn train as a user runs it).
"""

import io
import re
import signal
import time

import numpy as np
import pytest
from click.testing import CliRunner

import crnn
from crnn import cli as cli_module
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
