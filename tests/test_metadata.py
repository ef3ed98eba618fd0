"""The installed distribution's metadata agrees with the package.

The version lives in one place (src/crnn/_version.py); the wheel's metadata,
``crnn.__version__`` and ``crnn --version`` must all say the same thing.
"""

import os
import re
import subprocess
import sys
import sysconfig
from importlib import metadata

import pytest

import crnn


def _installed_version():
    try:
        return metadata.version("crnn")
    except metadata.PackageNotFoundError:
        pytest.skip("crnn is imported from a source tree, not installed")


def _version_line(argv):
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return out.strip()


def test_version_is_single_sourced():
    assert crnn.__version__ == _installed_version()


def test_version_looks_like_pep440_release():
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?", crnn.__version__)


def test_python_m_crnn_version():
    line = _version_line([sys.executable, "-m", "crnn", "--version"])
    assert line.split() == ["crnn", _installed_version()]


def test_console_script_version():
    name = "crnn.exe" if os.name == "nt" else "crnn"
    script = os.path.join(sysconfig.get_path("scripts"), name)
    if not os.path.exists(script):
        pytest.skip(f"no console script at {script}")
    assert _version_line([script, "--version"]).split() == ["crnn", _installed_version()]


def test_runtime_requirements_are_numpy_and_click():
    _installed_version()
    requires = metadata.requires("crnn") or []
    runtime = {
        re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0].lower()
        for req in requires
        if "extra ==" not in req
    }
    assert runtime == {"numpy", "click"}
