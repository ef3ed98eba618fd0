"""crnn as real processes: python -m crnn, the console script, streaming output, Ctrl-C."""

import os
import shutil
import signal
import subprocess
import sys

import pytest

import crnn
from test_cli import TEXT, TINY, model_file, runner, text_file  # noqa: F401 (fixtures)


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
