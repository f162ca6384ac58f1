"""OS and encoding errors on a command's inputs and outputs, as one line naming the path (exit 2).

Also what counts as a full disk (:func:`disk_full`), which stops an experiment rather than failing
a run. Python's own messages either name no path (a write that fails on a full disk, a file that is not
UTF-8) or say too little; :func:`os_error` and :func:`decode_error` find the path among the
command's arguments (:func:`command_paths`) and say what is wrong in this project's words.
"""

from __future__ import annotations

import argparse
import errno
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))  # EDQUOT: not on every platform


def disk_full(error: BaseException) -> int | None:
    """ENOSPC or EDQUOT if ``error``, or an error it was raised from or during, says the disk is full."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in DISK_FULL:
            return error.errno
        if "No space left on device" in str(error):  # wrapped by a library (h5py, a Ray task) into its own error
            return errno.ENOSPC
        error = error.__cause__ or error.__context__
    return None


# Wordings that say more than strerror; the rest use strerror ("Permission denied", ...).
_REASONS = {errno.ENOSPC: "disk full (no space left on device)", errno.EISDIR: "is a folder, where a file is needed"}
if hasattr(errno, "EDQUOT"):
    _REASONS[errno.EDQUOT] = "disk quota exceeded"
_TEXT_SUFFIXES = (".yaml", ".yml", ".json", ".csv", ".txt", ".html")


def command_paths(args: argparse.Namespace) -> list[Path]:
    """The command's own inputs and outputs, read off its arguments (so a new command needs nothing
    here): ``--out`` first, as the path named when an OS error names none (a write that fails on a
    full disk does not), then the others; all are searched for a file that is not UTF-8."""
    found: list[Path] = [args.out] if isinstance(getattr(args, "out", None), Path) else []
    for value in vars(args).values():
        for path in value if isinstance(value, list) else [value]:
            if isinstance(path, Path) and path not in found:
                found.append(path)
    return found or [Path.cwd()]


def _file_in_the_way(path: Path) -> Path | None:
    """``path`` or the nearest of its parents that exists as something other than a folder."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None


def os_error(exc: OSError, paths: Sequence[Path], command: str) -> str:
    """An OS error as one line naming its path."""
    named = exc.filename
    path = Path(os.fsdecode(named) if isinstance(named, str | bytes) else str(named)) if named else paths[0]
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and (blocker := _file_in_the_way(path)) is not None:
        return f"{blocker}: is a file, where a folder is needed"
    reason = _REASONS.get(exc.errno, exc.strerror or str(exc))
    if exc.errno in DISK_FULL and command == "run":
        reason += "; the run being written was dropped, completed runs are kept: free space and rerun to finish"
    return f"{path}: {reason}"


def _text_files(root: Path, depth: int = 3) -> Iterator[Path]:
    """The text files a command may have read: ``root`` itself, or those up to ``depth`` folders down."""
    if root.is_file():
        yield root
        return
    if depth and root.is_dir():
        for entry in sorted(root.iterdir()):
            if entry.is_dir():
                yield from _text_files(entry, depth - 1)
            elif entry.suffix in _TEXT_SUFFIXES:
                yield entry


def decode_error(exc: UnicodeDecodeError, paths: Sequence[Path]) -> str:
    """An encoding error as one line naming the file: Python's error does not say which file it was,
    so the command's inputs are searched for the first one that is not UTF-8."""
    for root in paths:
        for path in _text_files(root):
            try:
                raw = path.read_bytes()
                raw.decode("utf-8")
            except UnicodeDecodeError as found:
                line = raw.count(b"\n", 0, found.start) + 1
                return f"{path}:{line}: not UTF-8 text (byte 0x{raw[found.start]:02x})"
            except OSError:
                continue
    return f"{paths[0]}: not UTF-8 text ({exc.reason})"
