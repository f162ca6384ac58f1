"""A received folder read as hostile input: the one opener of every file of a run or experiment folder,
and the bounds of what reading each may cost (see docs/safety.md, "Reading a received folder").

A file is read only if it is a regular file inside its folder (no symlink, no folder that is a link:
the rule of tarfile's ``data`` filter, PEP 706), opened with ``O_NOFOLLOW`` and its size checked with
``fstat`` before a byte is read. JSON is bounded in size and depth, config.yaml goes through the config
loader's bounded YAML reading, a PNG is checked by its signature, and every failure is one
:class:`RunFolderError` line ``FILE: field: reason`` quoting at most a short excerpt of the file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

from regdemo.config.schema import SAFE_NAME, SAFE_NAME_RULE
from regdemo.config.yamlfile import MAX_BYTES as MAX_YAML_BYTES
from regdemo.config.yamlfile import load_yaml
from regdemo.errors import ConfigError, RunFolderError
from regdemo.textsafe import excerpt

MAX_JSON_BYTES = 64 * 2**20  # checks.json of a 10,000-run experiment is ~3 MB
MAX_METRICS_BYTES = 4 * 2**20  # one run's metrics.json is a few kB
MAX_JSON_DEPTH = 32  # regdemo's JSON files nest at most 6 levels
MAX_CSV_BYTES = 256 * 2**20  # summary.csv of 10,000 runs is a few MB; history.csv is rows × 8 numbers
MAX_PNG_BYTES = 64 * 2**20
MAX_TEXT_BYTES = 16 * 2**20  # error.txt (shown cut to MAX_ERROR_CHARS)
MAX_ERROR_CHARS = 4096  # of an error text, kept before it is wrapped, drawn or shown
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted as a file must not block the open


class Damaged(RunFolderError):
    """A file that is there and within bounds but does not parse (resume reruns its run)."""


def check_folder(path: Path) -> None:
    """Refuse a run (or experiment) folder that is a link or not a folder."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        raise RunFolderError(f"{path}: unreadable: {exc.strerror or exc}") from None
    if stat.S_ISLNK(mode):
        raise RunFolderError(f"{path}: a link, not a run folder (a received folder's links are not followed)")
    if not stat.S_ISDIR(mode):
        raise RunFolderError(f"{path}: not a folder")


def is_regular(path: Path) -> bool:
    """Whether ``path`` is a regular file itself (a link to one is not)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def open_regular(folder: Path, name: str, limit: int) -> BinaryIO:
    """``folder/name`` opened for reading (close it): a regular file, not a link, at most ``limit`` bytes
    (checked with fstat before a byte is read). ``name`` is one of the format's file names (no separator),
    so nothing leaves ``folder``."""
    path = folder / name
    if os.sep in name or name in ("", ".", ".."):
        raise RunFolderError(f"{path}: not a file name of the run folder format")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | _NONBLOCK)
    except FileNotFoundError:
        raise Damaged(f"{path}: missing") from None
    except OSError as exc:
        if os.path.islink(path):
            raise RunFolderError(f"{path}: a link, not a file (a received folder's links are not followed)") from None
        raise RunFolderError(f"{path}: unreadable: {exc.strerror or exc}") from None
    info = os.fstat(fd)  # before fdopen, which refuses a folder with its own error
    if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
        os.close(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RunFolderError(f"{path}: not a regular file")
        raise RunFolderError(f"{path}: {info.st_size:,} bytes, over the {limit:,} this file may have")
    return os.fdopen(fd, "rb")


def read_bytes(folder: Path, name: str, limit: int) -> bytes:
    """The bytes of ``folder/name``, opened by :func:`open_regular`."""
    with open_regular(folder, name, limit) as f:
        data = f.read(limit + 1)  # the file may have grown since fstat
    if len(data) > limit:
        raise RunFolderError(f"{folder / name}: over the {limit:,} bytes this file may have")
    return data


def read_utf8(folder: Path, name: str, limit: int) -> str:
    """:func:`read_bytes` decoded as UTF-8 (one line naming the file otherwise)."""
    raw = read_bytes(folder, name, limit)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise Damaged(f"{folder / name}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None


def cap_error(text: str) -> str:
    """An error text cut to :data:`MAX_ERROR_CHARS` (wrapping and drawing cost grows with its length)."""
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def read_png(folder: Path, name: str) -> bytes:
    """A PNG of the folder, checked by its signature before it is embedded anywhere."""
    data = read_bytes(folder, name, MAX_PNG_BYTES)
    if not data.startswith(PNG_SIGNATURE):
        raise RunFolderError(f"{folder / name}: not a PNG image (no PNG signature)")
    return data


def _depth(data: Any) -> int:
    """How deep lists and mappings nest in ``data`` (iteratively: no recursion on hostile input)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                return depth
            stack += [(v, depth + 1) for v in (value.values() if isinstance(value, dict) else value)]
    return deepest


def read_json(folder: Path, name: str, limit: int = MAX_JSON_BYTES) -> Any:
    """A JSON file of the folder, bounded in size (``limit``) and depth (:data:`MAX_JSON_DEPTH`)."""
    path = folder / name
    text = read_utf8(folder, name, limit)
    try:
        data = json.loads(text)
    except RecursionError:  # json's C decoder stops at the interpreter's recursion limit
        raise RunFolderError(f"{path}: nested more than {MAX_JSON_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise Damaged(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise RunFolderError(f"{path}: nested more than {MAX_JSON_DEPTH} levels deep")
    return data


def read_yaml(folder: Path, name: str) -> Any:
    """A YAML file of the folder (config.yaml) through the config loader's bounds (size, depth, aliases)."""
    path = folder / name
    text = read_utf8(folder, name, MAX_YAML_BYTES)
    try:
        return load_yaml(text, str(path))[0]
    except ConfigError as exc:
        # the loader's bounds are hostile input; a syntax error is damage (resume reruns the run)
        message = str(exc)
        raise (Damaged if ": YAML" in message else RunFolderError)(message) from None


def check_name(value: Any, where: str) -> str:
    """A name read back from a file (a run's, a variant's, a layer's), held to the config's rule."""
    if not isinstance(value, str) or not SAFE_NAME.match(value):
        shown = excerpt(value) if isinstance(value, str) else type(value).__name__
        raise RunFolderError(f"{where}: {SAFE_NAME_RULE} (got {shown!r})")
    return value
