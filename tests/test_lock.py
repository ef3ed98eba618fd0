"""exclusive_lock: a second trainer of the same model file stops at once,
naming the first; the lock goes when its process ends, however it ends."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import crnn
from crnn.lock import exclusive_lock, lock_path

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX signals")

HOLDER = textwrap.dedent("""
    import sys
    from crnn.lock import exclusive_lock
    with exclusive_lock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.readline()
    print("released", flush=True)
""")

TRYER = textwrap.dedent("""
    import sys
    import crnn
    from crnn.lock import exclusive_lock
    try:
        with exclusive_lock(sys.argv[1]):
            print("got it")
    except crnn.ModelBusyError as exc:
        print(f"busy pid={exc.pid}: {exc}")
""")


def _env():
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(crnn.__file__))
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _start_holder(model):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(model)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=_env())
    assert holder.stdout.readline().strip() == "locked"
    return holder


def _try(model):
    done = subprocess.run([sys.executable, "-c", TRYER, str(model)], capture_output=True,
                          text=True, env=_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def model(tmp_path):
    folder = tmp_path / "my models" / "Ünïcødé dir"
    folder.mkdir(parents=True)
    return folder / "néw mödel.npz"


def test_second_process_is_refused_with_the_first_ones_pid(model):
    holder = _start_holder(model)
    try:
        answer = _try(model)
        assert answer.startswith(f"busy pid={holder.pid}: ")
        assert f"another crnn process (pid {holder.pid}) is already training into '{model}'" in answer
        assert "-o" in answer and f"kill {holder.pid}" in answer
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0
    assert _try(model) == "got it"  # free again once the first one is done
    assert not os.path.exists(lock_path(model))  # and the lock file is gone


def test_killed_holder_leaves_nothing_that_blocks(model):
    holder = _start_holder(model)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    assert os.path.exists(lock_path(model))  # kill -9 leaves the file behind ...
    assert _try(model) == "got it"  # ... but not the lock


def test_other_model_files_are_independent(model):
    holder = _start_holder(model)
    try:
        assert _try(model.with_name("other.npz")) == "got it"
    finally:
        holder.communicate("\n", timeout=60)


def test_same_process_twice_is_refused(model):
    with exclusive_lock(model) as path:
        assert os.path.dirname(path) == str(model.parent)
        with pytest.raises(crnn.ModelBusyError) as info:
            with exclusive_lock(model):
                pass
        err = info.value
        assert isinstance(err, OSError) and isinstance(err, crnn.CrnnError)
        assert err.pid == os.getpid() and err.path == str(model)
        assert "\n" not in str(err)
    with exclusive_lock(model):  # released on leaving the block
        pass


def test_lock_released_when_the_block_raises(model):
    with pytest.raises(KeyError):
        with exclusive_lock(model):
            raise KeyError("boom")
    with exclusive_lock(model):
        pass


def test_lock_file_is_beside_the_model_and_hidden(model):
    assert lock_path(model) == os.path.join(str(model.parent), ".néw mödel.npz.crnn-lock")


def test_missing_folder_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        with exclusive_lock(tmp_path / "nope" / "m.npz"):
            pass
