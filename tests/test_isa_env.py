"""CRNN_ISA set to a name csrc/dispatch.c does not know is ignored by C: the
import of crnn._kernels says so once, with a RuntimeWarning."""

import os
import subprocess
import sys
import textwrap

import pytest

import crnn

PROBE = textwrap.dedent("""
    import warnings
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import crnn                 # imports crnn._kernels
        import crnn._kernels as k
        import importlib
        importlib.import_module("crnn._kernels")  # again: no second warning
    for w in caught:
        print(f"{w.category.__name__}: {w.message} @ {w.filename}")
    print("path", k.cpu_path())
""")


def _import_with(value):
    env = dict(os.environ)
    env.pop("CRNN_ISA", None)
    if value is not None:
        env["CRNN_ISA"] = value
    src = os.path.dirname(os.path.dirname(crnn.__file__))
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    return [line for line in lines if "Warning" in line], lines[-1].split()[1]


@pytest.mark.parametrize("value", ["bogus", "AVX2", "avx-512", " baseline"])
def test_unknown_value_warns_once_naming_the_accepted_ones(value):
    warnings, path = _import_with(value)
    assert len(warnings) == 1, warnings
    message = warnings[0]
    assert message.startswith("RuntimeWarning: ")
    assert f"CRNN_ISA={value!r}" in message
    assert "baseline, avx2, avx512" in message and "ignored" in message
    assert f"uses '{path}'" in message
    assert message.endswith(" @ <string>")  # points at the importer, not at importlib


@pytest.mark.parametrize("value", [None, "", "baseline", "avx2", "avx512"])
def test_known_or_unset_is_quiet(value):
    warnings, path = _import_with(value)
    assert warnings == []
    if value == "baseline":
        assert path == "baseline"
