"""The built-in corpus: standard-library source, deterministic, fixed size."""

import hashlib
import os
import subprocess
import sys

import pytest

from crnn import corpus


def write(root, rel, data):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


@pytest.fixture
def fake_stdlib(tmp_path):
    write(tmp_path, "b.py", "bee\n")
    write(tmp_path, "a.py", "ay\n")
    write(tmp_path, "pkg/__init__.py", "init\n")
    write(tmp_path, "pkg/z.py", "zed")  # no final newline
    write(tmp_path, "notes.txt", "not python\n")
    write(tmp_path, "site-packages/x.py", "installed\n")
    write(tmp_path, "test/test_a.py", "a test\n")
    write(tmp_path, "pkg/tests/t.py", "another test\n")
    write(tmp_path, "__pycache__/c.py", "cache\n")
    write(tmp_path, "latin.py", b"caf\xe9\n")  # not UTF-8
    write(tmp_path, "win.py", b"one\r\ntwo\r\n")
    return tmp_path


def test_files_are_sorted_and_filtered(fake_stdlib):
    assert corpus.builtin_source_files(str(fake_stdlib)) == [
        "a.py", "b.py", "latin.py", "pkg/__init__.py", "pkg/z.py", "win.py",
    ]


def test_gather_concatenates_in_order(fake_stdlib):
    text = corpus.gather(str(fake_stdlib), size=1000)
    # latin.py is skipped, z.py gets its newline, CRLF becomes LF
    assert text == "ay\nbee\ninit\nzed\none\ntwo\n"


def test_gather_cuts_at_exact_size(fake_stdlib):
    assert corpus.gather(str(fake_stdlib), size=5) == "ay\nbe"
    assert corpus.gather(str(fake_stdlib), size=0) == ""


def test_gather_rejects_negative_size(fake_stdlib):
    with pytest.raises(ValueError):
        corpus.gather(str(fake_stdlib), size=-1)


def test_gather_on_empty_folder(tmp_path):
    assert corpus.gather(str(tmp_path)) == ""


def test_builtin_text_has_fixed_size():
    text = corpus.builtin_text()
    assert isinstance(text, str)
    assert len(text) == corpus.BUILTIN_SIZE == 1_000_000


def test_builtin_text_is_python_source_from_the_stdlib():
    text = corpus.builtin_text()
    first = corpus.builtin_source_files()[0]
    with open(os.path.join(corpus.stdlib_dir(), first), encoding="utf-8") as f:
        assert text.startswith(f.read()[:1000])
    assert "def " in text and "import " in text
    assert "\r" not in text
    # a small alphabet: fast to train on
    assert 50 < len(set(text)) < 200


def test_builtin_paths_leave_out_installed_packages_and_tests():
    for rel in corpus.builtin_source_files():
        parts = rel.split("/")
        assert "site-packages" not in parts
        assert "test" not in parts and "tests" not in parts


def test_builtin_text_is_the_same_on_every_call():
    corpus.builtin_text.cache_clear()
    first = corpus.builtin_text()
    corpus.builtin_text.cache_clear()
    assert corpus.builtin_text() == first


def _digest_in_subprocess(hashseed):
    code = (
        "import hashlib; from crnn.corpus import builtin_text; "
        "print(hashlib.sha256(builtin_text().encode()).hexdigest())"
    )
    env = dict(os.environ, PYTHONHASHSEED=str(hashseed))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True,
        check=True,
    )
    return out.stdout.strip()


def test_builtin_text_is_the_same_in_every_process():
    expected = hashlib.sha256(corpus.builtin_text().encode()).hexdigest()
    assert _digest_in_subprocess(1) == expected
    assert _digest_in_subprocess(12345) == expected
