"""Files and folders written whole: they appear complete or not at all, what a kill leaves is known, and a
folder received from someone else (links planted in it) cannot turn a write into one outside it.

A folder is built under a hidden, random staging name, created exclusively, and renamed into place
(:func:`write_whole`); a single file is written to a hidden temporary file, created exclusively under an
unpredictable name without following a link (:func:`new_file`), and renamed (:func:`atomic_write`).
No existing path is ever opened for writing: a target that is a link is replaced by the rename, never
followed, and a folder written into that is itself a link is refused (:func:`refuse_link`). A process
killed half-way leaves only hidden names, which :func:`clean_leftovers` knows and removes (links as links).
What goes into the files, and their names, is :mod:`regdemo.results.rundir`'s business.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from regdemo.errors import RunFolderError

# The hidden names a kill can leave behind, as globs beside the folder or file being written: staging
# folders (".<name>.partial-<random>"), folders being replaced (".<name>.old-<random>"; <pid> in older versions),
# and temporary files (".<name>.tmp.<random>", and an older version's ".<stem>.<pid>.tmp<suffix>").
_STAGING, _REPLACED, _TEMPORARY = ".*.partial-*", ".*.old-*", ".*.tmp.*"
# Exclusive creation, never through a link (where the OS has O_NOFOLLOW), not inherited by children.
_NEW = os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def refuse_link(folder: Path) -> None:
    """Raise :class:`RunFolderError` when ``folder`` is a symbolic link: what regdemo writes into a folder
    must land in that folder, not wherever a link planted in a received folder points."""
    if folder.is_symlink():
        raise RunFolderError(f"{folder}: is a symbolic link; regdemo does not write through links")


def new_file(path: Path, mode: int = 0o666, read: bool = False) -> tuple[int, Path]:
    """A new, empty file beside ``path``: ``(descriptor, its path)``, created exclusively under the hidden,
    unpredictable name ``.<name>.tmp.<16 hex digits>`` (a link or file at that name is never opened: another
    name is drawn). ``mode`` before the umask, as ``open`` would; writable, and readable too with ``read``."""
    access = os.O_RDWR if read else os.O_WRONLY
    while True:
        tmp = path.with_name(f".{path.name}.tmp.{secrets.token_hex(8)}")
        try:
            return os.open(tmp, access | _NEW, mode), tmp
        except FileExistsError:
            continue


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def replace_with(path: Path, data: bytes | str) -> BinaryIO:
    """Write ``data`` (str as UTF-8) to a :func:`new_file` beside ``path``, rename it to ``path`` (a link
    there is replaced, not followed) and return it still open, unbuffered, positioned at its end: appends
    go to the file now at ``path``, never to whatever ``path`` was before."""
    refuse_link(path.parent)
    fd, tmp = new_file(path)
    try:
        _write_all(fd, data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return os.fdopen(fd, "wb", buffering=0)


def atomic_write(path: Path, data: bytes | str) -> Path:
    """Write ``path`` whole: ``data`` (str as UTF-8) goes to a new temporary file beside it, renamed into place."""
    replace_with(path, data).close()
    return path


def _remove(path: Path) -> None:
    """Remove ``path``: a folder with what is in it; a link or a file by unlinking it (a link is never followed)."""
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


def _hidden(folder: Path, kind: str) -> Path:
    """``.<name>.<kind>-<16 random hex digits>`` beside ``folder``: a name nobody can plant a link at in advance."""
    return folder.parent / f".{folder.name}.{kind}-{secrets.token_hex(8)}"


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``; what was at ``target`` (a folder, or a link: never followed) is first
    renamed to a hidden name and removed after. A kill in between leaves only hidden folders."""
    if os.path.lexists(target):
        old = _hidden(target, "old")
        os.rename(target, old)
        os.rename(staging, target)
        _remove(old)
    else:
        os.rename(staging, target)


def write_whole(folder: Path, fill: Callable[[Path], None]) -> None:
    """Let ``fill`` build the folder under a hidden staging name beside ``folder``, then rename it into
    ``folder``, replacing what was there (a link there is replaced, not followed).

    The staging name is drawn at random and ``fill`` creates it with ``mkdir``, which never follows a link
    and fails on any existing name: so it is a new folder of ours, as :func:`tempfile.mkdtemp` would make
    one, but with the permissions of a folder made as usual (the umask's, not 0700).
    """
    refuse_link(folder.parent)
    staging = _hidden(folder, "partial")
    try:
        fill(staging)
        _swap_into_place(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def clean_leftovers(folder: Path) -> None:
    """Remove what a process killed while writing into ``folder`` left: staging and replaced folders,
    and temporary files (links among them are unlinked, never followed). Nothing outside ``folder``."""
    refuse_link(folder)
    for pattern in (_STAGING, _REPLACED, _TEMPORARY):
        for leftover in folder.glob(pattern):
            _remove(leftover)
