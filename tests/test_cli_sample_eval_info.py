"""crnn sample, eval and info: output, options, user errors and unusable model files."""

import json
import math

import numpy as np
import pytest

import crnn
from crnn.cli import info as cli_info
from test_cli import TEXT, expect_error, model_file, run, runner, text_file  # noqa: F401 (fixtures)


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
