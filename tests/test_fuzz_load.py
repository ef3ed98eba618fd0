"""Untrusted model files: every damaged or hostile file either loads as a
usable model or raises crnn.ModelFormatError, never runs code, never hangs,
never allocates what a zip bomb asks for.

The mutations and crafted cases live in scripts/fuzz_load.py and the
scripts/_fuzz_*.py modules it imports (its dedicated run: ``python
scripts/fuzz_load.py --cases 10000``); here a few hundred cases run under
hypothesis, which shrinks any failure to a small reproducer.
"""

import importlib.util
import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crnn

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fuzz_load.py"


def _import_script():
    spec = importlib.util.spec_from_file_location("fuzz_load", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_load"] = module  # pickling its marker class needs the module findable
    spec.loader.exec_module(module)
    return module


fuzz = _import_script()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def bases(folder):
    return fuzz.seed_models(folder)


def assert_loads_or_refused(raw, folder):
    outcome, detail = fuzz.run_case(raw, folder, timeout=10.0)
    assert outcome in ("loaded", "refused"), detail
    return outcome, detail


# ----------------------------------------------------------------------
# Fuzzing


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 2), rnd=st.randoms(use_true_random=False))
def test_mutated_files_load_or_raise_model_format_error(bases, folder, which, rnd):
    raw, _ = fuzz.mutate(bases[which], rnd)
    assert_loads_or_refused(raw, folder)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_byte_edits_and_truncations(bases, folder, data):
    """Explicit positions and values, so hypothesis shrinks a failure to the exact byte."""
    raw = bytearray(bases[data.draw(st.integers(0, 2), label="base")])
    for _ in range(data.draw(st.integers(0, 4), label="edits")):
        raw[data.draw(st.integers(0, len(raw) - 1), label="at")] = data.draw(st.integers(0, 255), label="byte")
    raw = raw[: data.draw(st.integers(0, len(raw)), label="length")]
    assert_loads_or_refused(bytes(raw), folder)


def test_the_mutations_keep_some_files_loadable(bases, folder):
    """A fuzzer that only produces garbage tests nothing but the first check."""
    rnd = random.Random(1)
    outcomes = [fuzz.run_case(fuzz.mutate(bases[i % 3], rnd)[0], folder, 10.0)[0] for i in range(300)]
    assert "FAILED" not in outcomes
    assert outcomes.count("loaded") >= 5
    assert outcomes.count("refused") >= 200


def test_unchanged_seed_models_load(bases, folder):
    for raw in bases:
        assert assert_loads_or_refused(raw, folder)[0] == "loaded"


# ----------------------------------------------------------------------
# Crafted cases


@pytest.fixture(scope="module")
def crafted(bases, folder):
    marker = folder / "code-ran"
    return marker, dict(fuzz.crafted_cases(bases[0], str(marker)))


def test_every_crafted_case_is_refused_without_running_code(crafted, folder):
    marker, cases = crafted
    assert len(cases) >= 50
    results = {name: fuzz.run_case(raw, folder, timeout=10.0) for name, raw in cases.items()}
    wrong = {name: r for name, r in results.items() if r[0] != "refused"}
    assert not wrong
    assert not marker.exists(), "loading ran code from a pickle"


@pytest.mark.parametrize(
    "name, message",
    [
        ("object array (pickled payload inside)", "object"),
        ("a pickle instead of a zip", "not a crnn model file"),
        ("vocab longer than the weights", "from the vocabulary and hyperparameters"),
        ("an LSTM's meta on an rnn's arrays", "shape"),
        ("Adam's meta on Adagrad's buffers", "unexpected entries"),
        ("NaN weights", "NaN"),
        ("enormous hidden_size", "hidden_size"),
        ("enormous but allowed hidden_size", "shape"),
        ("metadata not JSON", "JSON"),
        ("future format version", "upgrade crnn"),
        ("zip bomb with honest sizes", "zip bomb"),
        ("truncated by one byte", "truncated"),
        ("truncated to half", "truncated"),
    ],
)
def test_crafted_messages_say_what_is_wrong(crafted, folder, name, message):
    outcome, detail = fuzz.run_case(crafted[1][name], folder, timeout=10.0)
    assert outcome == "refused"
    assert message in detail


BOMB_CHILD = textwrap.dedent(
    """
    import resource, sys
    import crnn
    def rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    crnn.load(sys.argv[2])  # warm up: everything a load needs is imported and allocated
    before = rss()
    try:
        crnn.load(sys.argv[1])
    except crnn.ModelFormatError as exc:
        print("refused", rss() - before, exc)
    else:
        print("loaded", rss() - before)
    """
)


@pytest.mark.parametrize(
    "name", ["zip bomb with honest sizes", "zip bomb with lying sizes", "zip bomb as the metadata",
             "zip bomb as the metadata, lying sizes"],
)
def test_zip_bomb_is_refused_without_allocating(crafted, folder, tmp_path, name):
    """A 4 MB file expanding to 3.9 GB: refused, and the peak RSS of a fresh
    process (ru_maxrss) grows by less than 40 MB while it is refused."""
    raw = crafted[1][name]
    assert len(raw) < 5 << 20
    bomb = tmp_path / "bomb.npz"
    bomb.write_bytes(raw)
    good = tmp_path / "good.npz"
    good.write_bytes(fuzz.seed_models(tmp_path)[0])
    result = subprocess.run([sys.executable, "-c", BOMB_CHILD, str(bomb), str(good)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    outcome, grown_mb, *_ = result.stdout.split()
    assert outcome == "refused", result.stdout
    assert int(grown_mb) < 40, result.stdout


def test_the_fuzz_script_runs(capsys):
    assert fuzz.main(["--cases", "40", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "FAILED: 0" in out
