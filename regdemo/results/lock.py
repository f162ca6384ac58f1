"""The experiment lock: one ``regdemo run`` writes an experiment folder at a time.

A run holds an exclusive ``flock`` on ``<experiment>/.regdemo.lock`` (:data:`regdemo.results.rundir.LOCK`,
holding its pid) from planning until checks.json and report.html are written, and removes the file when
done. A second run stops at once naming the holder's pid, or with ``wait`` waits for it to end. The OS
drops the lock when its holder's process ends in any way, SIGKILL included, so a crash never leaves a
stale lock: only the file, with a dead pid in it, which the next run locks and replaces by a fresh file
of its own (it never writes into a file it did not create: in a received folder that may be a hard link
to anything). A lock file that is a link or not a regular file is refused. Removing (or replacing) a lock
file races with a process that opened it to wait, so a new holder checks that the file it locked is still
the one at that path, else locks the new one. Readers (compare, report) take no lock: run folders
appear by rename, complete or not at all. POSIX only (``fcntl``); where there is none, nothing is locked.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from regdemo.errors import ExperimentLocked, RunFolderError
from regdemo.results import storage
from regdemo.results.rundir import LOCK

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


def _holder(fd: int) -> str:
    """The pid written in the lock file; a new holder writes it just after locking, so look again briefly."""
    for _ in range(5):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text:
            return text if text.isdigit() else "unknown"  # a received folder's lock file may hold anything
        time.sleep(0.02)
    return "unknown"


def _still_at(fd: int, path: Path) -> bool:
    """Is the open file ``fd`` still the file at ``path`` (not removed by the holder we waited for)?"""
    try:
        at_path = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (at_path.st_dev, at_path.st_ino)


# An existing lock file is opened to be locked only: read-only (flock needs no more), never through a link,
# and without blocking should it be a FIFO planted in a received folder.
_EXISTING = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_CREATED = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _open(path: Path) -> tuple[int, bool]:
    """``(descriptor, created)``: ``path`` created exclusively, else the regular file there opened read-only.

    Raises :class:`RunFolderError` (one line) when ``path`` is a link or not a regular file.
    """
    while True:
        try:
            return os.open(path, _CREATED, 0o644), True
        except FileExistsError:
            pass
        try:
            fd = os.open(path, _EXISTING)
        except FileNotFoundError:  # removed by its holder in between: create it again
            continue
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise RunFolderError(f"{path}: is a symbolic link, not a lock file; remove it") from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise RunFolderError(f"{path}: is not a regular file, not a lock file; remove it")
        return fd, False


def _fresh(path: Path, stale: int) -> int:
    """Replace the stale lock file ``stale`` (locked by us) at ``path`` by a new one of ours, created
    exclusively, locked and holding our pid before it is renamed there; return its descriptor.

    We never write into a file we did not create: the stale one may be a hard link to anyone's file.
    A process waiting on the stale file finds it no longer at ``path`` and locks the new one (see
    :func:`_still_at`)."""
    fd, tmp = storage.new_file(path, 0o644, read=True)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # its name is unpredictable: nobody else holds it
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        os.replace(tmp, path)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(stale)
    return fd


def _acquire(path: Path, wait: bool, say: Callable[[str], None] | None) -> int:
    """Open (or create) and lock ``path``; return the descriptor of the lock file now at ``path``, ours and
    holding our pid (not inherited by worker processes)."""
    while True:
        fd, created = _open(path)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                if not wait:
                    raise ExperimentLocked(
                        f"{path.parent}: another regdemo run (pid {holder}) is writing this experiment; "
                        "use --wait to wait for it"
                    ) from None
                if say is not None:
                    say(f"waiting for regdemo run pid {holder}, which is writing {path.parent}")
                    say = None
                fcntl.flock(fd, fcntl.LOCK_EX)
            at_path = _still_at(fd, path)
        except BaseException:
            os.close(fd)
            raise
        if not at_path:
            os.close(fd)
            continue
        if not created:
            return _fresh(path, fd)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return fd


@contextlib.contextmanager
def lock_experiment(exp_dir: Path, wait: bool = False, say: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock of the experiment folder ``exp_dir`` (created if missing) for the ``with`` block.

    Raises :class:`ExperimentLocked` naming the holder's pid when another process holds it, unless
    ``wait``: then ``say`` is told whom we wait for, and the block starts when the holder ends. Raises
    :class:`RunFolderError` (nothing written) when ``exp_dir`` or its lock file is a link, or the lock
    file is not a regular file.
    """
    storage.refuse_link(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    path = exp_dir / LOCK
    fd = _acquire(path, wait, say)
    try:
        yield
    finally:
        if _still_at(fd, path):  # while still locked: see the module docstring
            path.unlink()
        os.close(fd)  # closing drops the lock
