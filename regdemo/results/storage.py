"""Files and folders written whole: they appear complete or not at all, and what a kill leaves is known.

A folder is built under a hidden staging name and renamed into place (:func:`write_whole`); a single
file is written to a hidden temporary name and renamed (:func:`atomic_write`). A process killed
half-way leaves only hidden names, which :func:`clean_leftovers` knows and removes. What goes into
the files, and their names, is :mod:`regdemo.results.rundir`'s business.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

# The hidden names a kill can leave behind, as globs beside the folder or file being written.
_STAGING, _REPLACED, _TEMPORARY = ".*.partial-*", ".*.old-*", ".*.tmp.*"


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, replacing what was there; a kill in between leaves only hidden folders."""
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old)
    else:
        staging.rename(target)


def write_whole(folder: Path, fill: Callable[[Path], None]) -> None:
    """Let ``fill`` build the folder under a hidden staging name, then rename it into ``folder``."""
    staging = folder.parent / f".{folder.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        fill(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_into_place(staging, folder)


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary name beside ``path`` (same suffix), then rename it into place."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def clean_leftovers(folder: Path) -> None:
    """Remove what a process killed while writing into ``folder`` left: staging and replaced folders,
    and temporary files."""
    for leftover in [*folder.glob(_STAGING), *folder.glob(_REPLACED)]:
        shutil.rmtree(leftover, ignore_errors=True)
    for temporary in folder.glob(_TEMPORARY):
        temporary.unlink(missing_ok=True)
