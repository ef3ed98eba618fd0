"""One training process per model file.

Two ``crnn train -o m.npz`` at once would each save checkpoints over the
other's; ``exclusive_lock(model_path)`` makes the second one stop at once
with ``crnn.ModelBusyError`` naming the first one's process id.

The lock is an advisory lock (``flock``; ``msvcrt.locking`` on Windows) on
a small sidecar file beside the model, ``.NAME.crnn-lock``, which holds the
owner's pid and host.  The operating system releases the lock when its
process ends, however it ends (even ``kill -9``), so a lock file left
behind never blocks anybody; on a normal exit it is removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from typing import Iterator, Optional

from .errors import ModelBusyError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

# Windows locks byte ranges, and a locked byte cannot be read by others:
# lock one byte past the pid and host so that they stay readable.
_WINDOWS_LOCK_OFFSET = 4096
_ATTEMPTS = 5  # a lock file removed between our open and our lock: try again


def lock_path(model_path: "str | os.PathLike[str]") -> str:
    """The sidecar lock file of ``model_path`` (in the same folder)."""
    folder, name = os.path.split(os.path.abspath(os.fspath(model_path)))
    return os.path.join(folder, f".{name}.crnn-lock")


@contextlib.contextmanager
def exclusive_lock(model_path: "str | os.PathLike[str]") -> Iterator[str]:
    """Hold the model's lock for the block; yields the lock file's path.

    Raises ModelBusyError at once (never waits) if another process, or
    another ``exclusive_lock`` of this process, holds it.  OSError if the
    lock file cannot be created (a missing or read-only folder).
    """
    path = lock_path(model_path)
    fd = _acquire(path, os.fspath(model_path))
    try:
        _write_owner(fd, path)
        yield path
    finally:
        _release(fd, path)


def _acquire(path: str, model_path: str) -> int:
    for _ in range(_ATTEMPTS):
        # POSIX: held through a read-only descriptor, so that the lock never
        # keeps a file open for writing (which would stop, e.g., the folder's
        # file system from being remounted read-only while training runs).
        fd = os.open(path, (os.O_RDONLY if fcntl is not None else os.O_RDWR) | os.O_CREAT, 0o644)
        try:
            locked = _try_lock(fd)
        except BaseException:
            os.close(fd)
            raise
        if not locked:
            owner = _read_owner(fd)
            os.close(fd)
            raise ModelBusyError(_busy_message(model_path, owner), model_path,
                                 owner[0] if owner else None)
        if _still_at(fd, path):
            return fd
        # The owner removed the file (its run ended) between our open and our
        # lock: we hold a lock on a file nobody else will open. Start over.
        os.close(fd)
    raise ModelBusyError(_busy_message(model_path, None), model_path)


def _try_lock(fd: int) -> bool:
    """Lock ``fd`` without waiting; False if someone else holds it."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES, errno.EDEADLK):
            return False
        raise
    return True


def _still_at(fd: int, path: str) -> bool:
    """Whether ``path`` is still the file ``fd`` has open."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _write_owner(fd: int, path: str) -> None:
    """Who holds the lock, for the message a second trainer gets (written
    once the lock is ours, so no one else writes it meanwhile)."""
    owner = f"{os.getpid()} {socket.gethostname()}\n".encode("utf-8", "replace")
    if fcntl is None:  # Windows: the file cannot be cut below a locked byte
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, owner)
        return
    out = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(out, owner)
    finally:
        os.close(out)


def _read_owner(fd: int) -> Optional[tuple]:
    """(pid, host) written by the lock's holder, or None if unreadable."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        words = os.read(fd, 512).decode("utf-8", "replace").split()
        return int(words[0]), (words[1] if len(words) > 1 else "")
    except (OSError, ValueError, IndexError):
        return None


def _busy_message(model_path: str, owner: Optional[tuple]) -> str:
    who = "another crnn process"
    stop = "stop it"
    if owner is not None:
        pid, host = owner
        elsewhere = host and host != socket.gethostname()
        who += f" (pid {pid}{f' on {host}' if elsewhere else ''})"
        stop = f"stop it (e.g. kill {pid}{f' on {host}' if elsewhere else ''})"
    return (f"{who} is already training into '{model_path}'; wait for it to finish, "
            f"{stop}, or train into another file with -o")


def _release(fd: int, path: str) -> None:
    try:
        if fcntl is not None:
            # Remove the file while still holding the lock: anyone who opened it
            # meanwhile sees, once they get the lock, that it is gone (_still_at).
            with contextlib.suppress(OSError):
                os.unlink(path)
        else:  # Windows cannot remove an open file; the stale file is harmless
            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            with contextlib.suppress(OSError):
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    finally:
        os.close(fd)
