"""The experiment lock: one ``regdemo run`` writes an experiment folder at a time.

A run holds an exclusive ``flock`` on ``<experiment>/.regdemo.lock`` (:data:`regdemo.results.rundir.LOCK`,
holding its pid) from planning to the summary, and removes the file when done. A second run stops at
once naming the holder's pid, or with ``wait`` waits for it to end. The OS drops the lock when its
holder's process ends in any way, SIGKILL included, so a crash never leaves a stale lock: only the
file, with a dead pid in it, which the next run locks and removes as usual. Removing a lock file
races with a process that opened it to wait, so a new holder checks that the file it locked is still
the one at that path, else locks the new one. Readers (compare, report) take no lock: run folders
appear by rename, complete or not at all. POSIX only (``fcntl``); where there is none, nothing is locked.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from regdemo.errors import ExperimentLocked
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
            return text
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


def _acquire(path: Path, wait: bool, say: Callable[[str], None] | None) -> int:
    """Open and lock ``path``; return its descriptor (not inherited by worker processes)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
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
            if _still_at(fd, path):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


@contextlib.contextmanager
def lock_experiment(exp_dir: Path, wait: bool = False, say: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock of the experiment folder ``exp_dir`` (created if missing) for the ``with`` block.

    Raises :class:`ExperimentLocked` naming the holder's pid when another process holds it, unless
    ``wait``: then ``say`` is told whom we wait for, and the block starts when the holder ends.
    """
    exp_dir.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    path = exp_dir / LOCK
    fd = _acquire(path, wait, say)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # while still locked: see the module docstring
        os.close(fd)  # closing drops the lock
