"""Crash-safe training: SIGKILL at random moments, full disks, read-only
folders and diverging runs never cost more than the work since the last
checkpoint, and resuming reaches exactly the parameters of a run that was
never interrupted."""

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import crnn
import crnn.io
from crnn import cli as cli_module

TEXT = "".join(f"line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(60))
TINY = ["--hidden-size", "8", "--seq-length", "8", "--seed", "0"]


def crnn_process(*args, cwd, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "crnn", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def run_crnn(*args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "crnn", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def state_of(path):
    """Everything that must survive a crash, as comparable Python objects."""
    model = crnn.load(path)
    arrays = {name: model.params[name].copy() for name in model.params}
    arrays.update({"m" + name: model.memory[name].copy() for name in model.memory})
    arrays["hidden"] = model.hidden_state
    return arrays, (model.iteration, model.pointers, model.smooth_loss, model._rng.bit_generator.state)


def assert_bit_identical(a, b):
    arrays_a, facts_a = a
    arrays_b, facts_b = b
    assert facts_a == facts_b
    for name in arrays_a:
        assert arrays_a[name].dtype == arrays_b[name].dtype
        assert arrays_a[name].tobytes() == arrays_b[name].tobytes(), name


def file_identity(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


# ----------------------------------------------------------------------
# SIGKILL at random moments


KILLS = 22
ITERATIONS = 400


def test_sigkill_at_random_moments_then_resume_is_bit_identical(tmp_path):
    """Kill `crnn train --checkpoint-every 1` 22 times at random moments (while
    starting, training, evaluating or in the middle of writing a checkpoint);
    after every kill the model file loads and has not gone backwards; the
    same command with --resume then finishes, bit-identical to a run that was
    never interrupted."""
    (tmp_path / "small.txt").write_text(TEXT)
    command = ["train", "small.txt", "-o", "m.npz", "--checkpoint-every", 1, "--iterations", ITERATIONS,
               "--resume", *TINY]

    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "small.txt").write_text(TEXT)
    done = run_crnn(*command, cwd=reference)
    assert done.returncode == 0, done.stderr
    expected = state_of(reference / "m.npz")
    started = time.monotonic()
    assert run_crnn("info", "m.npz", cwd=reference).returncode == 0
    startup = time.monotonic() - started  # starting Python, importing crnn, loading MODEL

    rnd = random.Random(20240521)
    model = tmp_path / "m.npz"
    iterations_seen, moments = [], []
    iterations_seen_per_chain = []
    kills = chains_finished = 0
    while kills < KILLS:
        before = file_identity(model)
        process = crnn_process(*command, cwd=tmp_path)
        if rnd.random() < 0.25:
            # Anywhere in starting up: importing, reading the text, loading MODEL.
            moments.append("startup")
            time.sleep(rnd.uniform(0, startup))
        else:
            # Once this run has written a checkpoint: somewhere in the next
            # few iterations, often inside a save (most of an iteration's time).
            moments.append("training")
            deadline = time.monotonic() + 60
            while file_identity(model) == before and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.0005)
            time.sleep(rnd.uniform(0, 0.02))
        if process.poll() is not None:
            # This chain of resumed runs reached the end before the next kill
            # (a fast or idle machine): check it, then start a new chain.
            process.communicate()
            assert process.returncode == 0, process.stderr.read() if process.stderr else ""
            assert_bit_identical(state_of(model), expected)
            chains_finished += 1
            model.unlink()
            iterations_seen_per_chain.append(iterations_seen)
            iterations_seen = []
            continue
        process.send_signal(signal.SIGKILL)
        process.communicate()
        assert process.returncode == -signal.SIGKILL
        kills += 1
        if model.exists():
            loaded = crnn.load(model)  # never damaged
            assert not iterations_seen or loaded.iteration >= iterations_seen[-1]
            iterations_seen.append(loaded.iteration)

    all_seen = [i for chain in iterations_seen_per_chain + [iterations_seen] for i in chain]
    assert len(set(all_seen)) >= 5, all_seen  # the kills hit many different moments
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    finished = run_crnn(*command, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert_bit_identical(state_of(model), expected)
    # Killed saves leave temporary files behind; the next run removes them.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.best.npz", "m.npz", "reference", "small.txt"]
    assert crnn.load(tmp_path / "m.best.npz").iteration <= ITERATIONS
    print(f"{kills} kills at {moments.count('training')} training / {moments.count('startup')} startup "
          f"moments, {chains_finished} chains finished early; checkpoints seen: {all_seen}; "
          f"temporary files left by the kills: "
          f"{len(leftovers)}, all removed by the final run")


def test_save_removes_what_killed_saves_left_and_nothing_else(tmp_path):
    model = crnn.CharRNN(crnn.Vocab.from_text(TEXT), hidden_size=4, seq_length=4, seed=0)
    dead = 2**22 + 12345  # above Linux's pid_max: no such process
    stale = tmp_path / f".m.npz.{dead}.crnn-abc123.tmp"
    alive = tmp_path / f".m.npz.{os.getppid()}.crnn-def456.tmp"  # a save in progress elsewhere
    other = tmp_path / f".other.npz.{dead}.crnn-ghi789.tmp"  # another model's
    for path in (stale, alive, other):
        path.write_bytes(b"partial")
    model.save(tmp_path / "m.npz")
    assert not stale.exists()
    assert alive.exists() and other.exists()


# ----------------------------------------------------------------------
# Full disk, read-only folder


@pytest.fixture
def runner(tmp_path, monkeypatch):
    from click.testing import CliRunner

    monkeypatch.chdir(tmp_path)
    (tmp_path / "small.txt").write_text(TEXT)
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def invoke(runner, *args):
    result = runner.invoke(cli_module.cli, [str(a) for a in args], prog_name="crnn")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def error_line(result):
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and result.stderr.splitlines()[-1] == lines[0], result.stderr
    return lines[0]


def fail_on_save_number(monkeypatch, n, target, error):
    """Make the n-th checkpoint fail inside crnn.io.save at ``target`` with ``error``."""
    calls = []
    real = {"replace": os.replace, "fsync": os.fsync}

    def failing(*args, **kwargs):
        if len(calls) == n:
            raise error
        return real[target](*args, **kwargs)

    real_save = crnn.io.save

    def counting_save(model, path):
        calls.append(model.iteration)
        return real_save(model, path)

    monkeypatch.setattr(crnn.io, "save", counting_save)
    monkeypatch.setattr(crnn.io.os, target, failing)
    return calls


@pytest.mark.parametrize(
    "target, error",
    [
        ("fsync", OSError(errno.ENOSPC, "No space left on device")),
        ("replace", OSError(errno.ENOSPC, "No space left on device")),
        ("replace", OSError(errno.EROFS, "Read-only file system")),
        ("replace", PermissionError(errno.EACCES, "Permission denied")),
    ],
)
def test_failed_checkpoint_keeps_the_previous_one_and_says_so(runner, tmp_path, monkeypatch, target, error):
    calls = fail_on_save_number(monkeypatch, 2, target, error)
    result = invoke(runner, "train", "small.txt", "-o", "m.npz", "--iterations", 40,
                    "--checkpoint-every", 10, *TINY)
    line = error_line(result)
    assert calls == [10, 20]
    assert error.strerror in line
    assert "iteration 20" in line and "'m.npz' still holds the checkpoint of iteration 10" in line
    assert crnn.load(tmp_path / "m.npz").iteration == 10
    assert crnn.load(tmp_path / "m.best.npz").iteration == 10
    # no temporary files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.best.npz", "m.npz", "small.txt"]


def _mount_tmpfs(folder, size):
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs needs root")
    folder.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")


def _umount(folder):
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_really_full_disk_keeps_the_previous_checkpoint(tmp_path):
    """A tmpfs with room for one model file but not two: the first checkpoint
    is written, the second (which needs the old and the new file at once)
    runs out of space; the first stays intact and the error says so."""
    shape = ["--hidden-size", 40, "--seq-length", 8, "--seed", 0]
    args = ["train", "small.txt", "-o", "m.npz", "--checkpoint-every", 5, "--iterations", 20, *shape]
    (tmp_path / "small.txt").write_text(TEXT)
    sized = run_crnn("train", "small.txt", "-o", "m.npz", "--iterations", 5, *shape, cwd=tmp_path)
    assert sized.returncode == 0, sized.stderr
    size = (tmp_path / "m.npz").stat().st_size
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, str(len(TEXT) + size * 3 // 2))
    try:
        (disk / "small.txt").write_text(TEXT)
        result = run_crnn(*args, cwd=disk)
        assert result.returncode == 1, result.stderr
        line = result.stderr.strip().splitlines()[-1]
        assert line.startswith("Error:") and "No space left on device" in line, result.stderr
        assert "'m.npz' still holds the checkpoint of iteration 5" in line
        assert crnn.load(disk / "m.npz").iteration == 5
        assert sorted(p.name for p in disk.iterdir()) == ["m.npz", "small.txt"]
    finally:
        _umount(disk)


def test_folder_turned_read_only_during_training(runner, tmp_path, monkeypatch):
    """The folder becomes read-only (remounted, so root is refused too) after
    the first checkpoint: the second fails with EROFS, the first stays."""
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "4m")
    try:
        monkeypatch.chdir(disk)
        (disk / "small.txt").write_text(TEXT)
        real_save = crnn.io.save
        calls = []

        def save_then_lock(model, path):
            calls.append(model.iteration)
            if len(calls) == 2:
                subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
            return real_save(model, path)

        monkeypatch.setattr(crnn.io, "save", save_then_lock)
        result = invoke(runner, "train", "small.txt", "-o", "m.npz", "--iterations", 30,
                        "--checkpoint-every", 10, *TINY)
        line = error_line(result)
        assert "Read-only file system" in line
        assert "'m.npz' still holds the checkpoint of iteration 10" in line
        assert crnn.load(disk / "m.npz").iteration == 10
    finally:
        monkeypatch.chdir(tmp_path)
        _umount(disk)


# ----------------------------------------------------------------------
# Divergence


def test_divergence_after_checkpoints_keeps_the_last_good_one(tmp_path):
    """Without validation text, a learning rate of 1e307 gives finite (if
    absurd) weights at iteration 1, saved, and an overflowing loss at
    iteration 2: the run stops with one clear line, and MODEL keeps the
    checkpoint of iteration 1, never the broken weights."""
    (tmp_path / "small.txt").write_text(TEXT)
    result = run_crnn("train", "small.txt", "-o", "m.npz", "--checkpoint-every", 1, "--iterations", 50,
                      "--learning-rate", "1e307", "--val-fraction", 0, *TINY, cwd=tmp_path)
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: training diverged at iteration 2"), result.stderr
    assert "'m.npz' keeps the last checkpoint (iteration 1)" in line
    assert "--learning-rate" in line
    assert "Traceback" not in result.stderr
    model = crnn.load(tmp_path / "m.npz")
    assert model.iteration == 1
    assert all(np.isfinite(a).all() for a in model.params.values())


def test_weights_with_an_infinite_validation_loss_are_never_saved(tmp_path):
    """With validation text the same weights of iteration 1 are caught before
    they are saved: their validation loss is infinite."""
    (tmp_path / "small.txt").write_text(TEXT)
    result = run_crnn("train", "small.txt", "-o", "m.npz", "--checkpoint-every", 1, "--iterations", 50,
                      "--learning-rate", "1e307", *TINY, cwd=tmp_path)
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: training diverged at iteration 1 (the validation loss became inf)"), line
    assert "no model was saved" in line
    assert not (tmp_path / "m.npz").exists()


def test_divergence_on_resume_leaves_the_model_file_untouched(tmp_path):
    (tmp_path / "small.txt").write_text(TEXT)
    good = run_crnn("train", "small.txt", "-o", "m.npz", "--iterations", 20, *TINY, cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    before = (tmp_path / "m.npz").read_bytes()
    result = run_crnn("train", "small.txt", "-o", "m.npz", "--resume", "--iterations", 60,
                      "--checkpoint-every", 1, "--learning-rate", "1e308", cwd=tmp_path)
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: training diverged at iteration 21"), result.stderr
    assert "'m.npz' was not changed" in line
    assert (tmp_path / "m.npz").read_bytes() == before


def test_train_checks_the_weights_at_the_end_of_every_call():
    """One Adagrad step of size 1e308 leaves finite loss but infinite weights:
    train() must notice before returning, roll back and raise."""
    model = crnn.CharRNN(crnn.Vocab.from_text(TEXT), hidden_size=8, seq_length=8, seed=0,
                         learning_rate=1e308)
    before = model._flat.copy()
    with pytest.raises(crnn.TrainingDivergedError) as info:
        model.train(TEXT, iterations=1)
    assert info.value.restored_iteration == 0 == model.iteration
    assert np.array_equal(model._flat, before)


def test_save_refuses_non_finite_weights(tmp_path):
    model = crnn.CharRNN(crnn.Vocab.from_text(TEXT), hidden_size=8, seq_length=8, seed=0)
    model.save(tmp_path / "m.npz")
    before = (tmp_path / "m.npz").read_bytes()
    model.params["Whh"][0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.save(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_huge_but_finite_loss_gives_infinite_perplexity():
    model = crnn.CharRNN(crnn.Vocab.from_text(TEXT), hidden_size=8, seq_length=8, seed=0)
    model.params["Why"][...] = 1e200 * np.sign(np.random.default_rng(0).standard_normal(model.params["Why"].shape))
    result = model.evaluate(TEXT[:200])
    assert result["nats_per_char"] > 1000
    assert result["perplexity"] == float("inf")


# ----------------------------------------------------------------------
# Every file `crnn train` writes reads back with `crnn info`


@pytest.mark.parametrize(
    "options",
    [[], ["--seed", 0], ["--batch-size", 3], ["--dtype", "float32"],
     ["--batch-size", 2, "--dtype", "float32", "--threads", 2], ["--learning-rate", 0.02, "--val-fraction", 0]],
)
def test_info_reads_every_model_train_writes(runner, tmp_path, options):
    """`crnn info` once said 'invalid random generator state' about a fresh
    file; whatever the settings (random or fixed seed, batches, float32,
    threads) and after --resume, info and load accept what train wrote."""
    import json

    common = ["--hidden-size", 8, "--seq-length", 8, "--checkpoint-every", 7, *options]
    first = invoke(runner, "train", "small.txt", "-o", "m.npz", "--iterations", 20, *common)
    assert first.exit_code == 0, first.stderr
    for step in ("fresh", "resumed"):
        info = invoke(runner, "info", "m.npz", "--json")
        assert info.exit_code == 0, info.stderr
        facts = json.loads(info.stdout)
        assert facts["iterations"] == (20 if step == "fresh" else 45)
        assert facts["format_version"] == 2
        assert crnn.io.read_metadata(tmp_path / "m.npz")["training"]["iteration"] == facts["iterations"]
        if step == "fresh":
            resumed = invoke(runner, "train", "small.txt", "-o", "m.npz", "--iterations", 45, "--resume")
            assert resumed.exit_code == 0, resumed.stderr


def test_a_write_failing_inside_the_archive_closes_it(tmp_path, monkeypatch):
    """The disk fills up in the middle of the third array: the save fails with
    ENOSPC, the old file and the folder are as before, and nothing is left
    open for the garbage collector to finish later (older NumPy's savez did
    that: an 'unraisable' error, or a write into a closed or reused file)."""
    import gc

    from numpy.lib import format as npy_format

    model = crnn.CharRNN(crnn.Vocab.from_text(TEXT), hidden_size=8, seq_length=8, seed=0)
    model.save(tmp_path / "m.npz")
    before = (tmp_path / "m.npz").read_bytes()
    real_write, calls, unraisable = npy_format.write_array, [], []

    def fills_up(member, array, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            member.write(b"\0" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(member, array, **kwargs)

    monkeypatch.setattr(npy_format, "write_array", fills_up)
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    model.params["Whh"][...] = 0.5
    with pytest.raises(OSError) as info:
        model.save(tmp_path / "m.npz")
    gc.collect()
    assert info.value.errno == errno.ENOSPC
    assert unraisable == []
    assert (tmp_path / "m.npz").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_a_killed_writability_probe_is_removed_by_the_next_save(tmp_path):
    """crnn train probes the output folder with a file named like the model's
    temporaries; if it is killed right then, the next save removes the probe."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now names no process
    probe = tmp_path / f".m.npz.{gone.pid}.crnn-probe-abc123.tmp"
    probe.write_bytes(b"")
    model = crnn.CharRNN(crnn.Vocab.from_text(TEXT), hidden_size=4, seq_length=4, seed=0)
    model.save(tmp_path / "m.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_the_writability_probe_is_named_like_the_models_temporaries(tmp_path, monkeypatch):
    monkeypatch.setattr(crnn.io, "_remove_quietly", lambda path: None)  # as if killed before removing
    assert crnn.io.can_save_to(str(tmp_path / "m.npz"))
    (left,) = [p.name for p in tmp_path.iterdir()]
    assert left.startswith(f".m.npz.{os.getpid()}.crnn-") and left.endswith(".tmp")
