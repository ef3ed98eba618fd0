"""crnn train as a user runs it: the best model, divergence by size, Ctrl-C
twice, option clashes with --resume, bad seeds, shell-quoted hints."""

import os
import signal
import subprocess
import sys
import time

import pytest

import crnn
from test_cli import TEXT, TINY, expect_error, run, runner, text_file  # noqa: F401 (fixtures)


def test_the_best_model_is_named_in_the_final_message(runner, text_file, tmp_path):
    result = run(runner, "train", text_file, "-o", "m.npz", "--iterations", 60,
                 "--checkpoint-every", 20, *TINY)
    assert result.exit_code == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "the best validation" in last and "'m.best.npz'" in last, last
    assert last.endswith("Try: crnn sample m.best.npz")
    best, latest = crnn.load(tmp_path / "m.best.npz"), crnn.load(tmp_path / "m.npz")
    assert latest.iteration == 60
    assert min(latest.val_history, key=lambda p: p[1])[0] == best.iteration


def test_a_huge_finite_loss_is_divergence(runner, text_file, tmp_path):
    """--learning-rate 1000 used to end 'Done' with 617483 nats/char."""
    result = run(runner, "train", text_file, "-o", "m.npz", "--iterations", 5000,
                 "--checkpoint-every", 1000, "--learning-rate", 1000, *TINY)
    line = expect_error(result, "diverged", "--learning-rate", alone=False)
    assert "untrained model's" in line or "nan" in line, line


@pytest.mark.parametrize("command", [["train", "IN", "-o", "m.npz"], ["sample", "m.npz"]])
def test_negative_seed_is_a_usage_error(runner, text_file, tmp_path, command):
    run(runner, "train", text_file, "-o", "m.npz", "--iterations", 5, *TINY)
    args = [str(text_file) if a == "IN" else a for a in command]
    extra = ["--force"] if command[0] == "train" else []
    result = run(runner, *args, "--seed", -1, *extra)
    expect_error(result, "--seed", "-1")


def test_resume_says_what_it_ignores(runner, text_file):
    run(runner, "train", text_file, "-o", "m.npz", "--iterations", 5, *TINY)
    result = run(runner, "train", text_file, "-o", "m.npz", "--iterations", 10, "--resume",
                 "--force", "--seed", 5)
    assert result.exit_code == 0, result.stderr
    assert "--force is ignored with --resume" in result.stderr
    assert "--seed is ignored with --resume" in result.stderr


def test_hints_are_shell_quoted(runner, tmp_path):
    result = run(runner, "sample", "my models/nëw model.npz")
    expect_error(result, "crnn train -o 'my models/nëw model.npz'")


def test_a_second_ctrl_c_stops_at_once(tmp_path):
    """The first SIGINT asks for a stop; the second ends the process at once,
    even while the first is still being honoured (here: a slow save)."""
    (tmp_path / "small.txt").write_text(TEXT * 50)
    slow_save = (
        "import time, crnn.io as io; real = io.save\n"
        "def save(model, path):\n"
        "    time.sleep(30); real(model, path)\n"
        "io.save = save\n"
        "from crnn.cli import main; main(prog_name='crnn')\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", slow_save, "train", "small.txt", "-o", "m.npz", "--iterations",
         "100000000", "--checkpoint-every", "100000000", *TINY],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # training is under way
    process.send_signal(signal.SIGINT)
    time.sleep(1)  # now inside the (slow) save
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert time.monotonic() - sent < 5
    assert process.returncode == 130, err
    assert "Stopped at once (second Ctrl-C)" in err
    assert not os.path.exists(tmp_path / "m.npz")
