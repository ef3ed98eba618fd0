"""shell_path: a path in a hint, pasted into a shell, is that same path."""

import shlex
import shutil
import subprocess

import pytest

from crnn.shellhint import shell_path

PATHS = [
    "m.npz", "models/m.npz", "/tmp/x-1/m_2.npz", "néw.npz", "my models/m.npz",
    "my models/Ünïcødé dir/néw mödel.npz", "it's.npz", 'say "hi".npz', "a$HOME.npz",
    "back\\slash.npz", "semi;colon.npz", "*.npz", "~/m.npz", "tab\there.npz", "-m.npz", "", "=m.npz", "100%.npz",
]


@pytest.mark.parametrize("path", ["m.npz", "models/m.npz", "/tmp/x-1/m_2.npz", "néw.npz",
                                  "Ünïcødé/mödel.npz", "a@b%c+d=e:f,g.npz"])
def test_plain_paths_stay_bare(path):
    assert shell_path(path) == path


def test_the_example_from_the_hint():
    assert (f"Try: crnn sample {shell_path('my models/Ünïcødé dir/néw mödel.npz')}"
            == "Try: crnn sample 'my models/Ünïcødé dir/néw mödel.npz'")


@pytest.mark.parametrize("path", PATHS)
def test_shlex_reads_back_the_same_path(path):
    expected = "./" + path if path.startswith("-") else path
    assert shlex.split(shell_path(path, windows=False)) == [expected]


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX shell")
@pytest.mark.parametrize("path", PATHS)
def test_a_real_shell_reads_back_the_same_path(path):
    expected = "./" + path if path.startswith("-") else path
    out = subprocess.run(["sh", "-c", f"printf '%s' {shell_path(path, windows=False)}"],
                         capture_output=True, text=True, check=True).stdout
    assert out == expected


def test_option_lookalike_gets_dot_slash():
    assert shell_path("-m.npz", windows=False) == "./-m.npz"


def test_windows_uses_double_quotes():
    assert shell_path("my models\\m.npz", windows=True) == '"my models\\m.npz"'
    assert shell_path("models\\m.npz", windows=True) == "models\\m.npz"
    assert shell_path("a&b.npz", windows=True) == '"a&b.npz"'  # cmd's command separator
    assert shell_path("100%.npz", windows=True) == '"100%.npz"'  # cmd's variable mark
    assert shell_path("100%.npz", windows=False) == "100%.npz"
    assert shell_path("m.npz", windows=True) == "m.npz"
