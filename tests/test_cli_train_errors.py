"""crnn train's user errors: bad input, options and output, and a model file kept safe when training fails."""

import errno
import os

import pytest

import crnn
from test_cli import TINY, expect_error, model_file, run, runner, text_file  # noqa: F401 (fixtures)


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
