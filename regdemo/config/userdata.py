"""A user's own 2-D points (``dataset: {kind: csv, path, columns, label}``): the file read within bounds, every
cell checked, and its SHA-256.

Owns what reading a user's data file may cost, as :mod:`regdemo.config.yamlfile` does for configs: at most
:data:`MAX_BYTES` and :data:`MAX_ROWS`, UTF-8 text (a leading byte-order mark allowed), a header row naming
the columns, then one row per point: the two input columns finite numbers, the label column 0 or 1. Every
problem is one line naming the file, the row (its line in the file) and the column of the bad cell:
``points.csv:12: column x2: not a finite number (got 'abc')``. The loader reads the file when the config is
loaded (so a bad file is a config error, exit 2, nothing written) and records its hash in the run's config;
training reads it again and refuses a file whose hash has changed since.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from regdemo.config.schema import FieldError
from regdemo.config.yamlfile import show
from regdemo.errors import ConfigError

MAX_BYTES = 16 * 2**20  # 16 MiB: ~400,000 rows of three short numbers, far more than a 2-D toy set needs
MAX_ROWS = 100_000


class Unreadable(Exception):
    """The file cannot be opened at all (its path is the config's fault: the loader names the config line)."""


@dataclass(frozen=True)
class UserPoints:
    """The file's points in file order: ``x`` of shape (n, 2) and ``y`` of shape (n,) (0.0/1.0), float64,
    and the SHA-256 of its bytes (hex)."""

    x: np.ndarray
    y: np.ndarray
    sha256: str


def _raw(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)  # never more, whatever the file is
    except OSError as exc:
        raise Unreadable(f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES:,} bytes; a 2-D point set is a few MB at most")
    return raw


def _text(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None


def _header(header: list[str], names: Sequence[str], path: Path) -> list[int]:
    """The positions of ``names`` (the two input columns, then the label) in the header row."""
    stripped = [cell.strip() for cell in header]
    for name in stripped:
        if stripped.count(name) > 1:
            raise ConfigError(f"{path}:1: header: column {name!r} appears twice")
    missing = [name for name in names if name not in stripped]
    if missing:
        raise ConfigError(f"{path}:1: header: no column {missing[0]!r} (the header has {', '.join(stripped)})")
    return [stripped.index(name) for name in names]


def _number(cell: str, where: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ConfigError(f"{where}: not a finite number (got {show(cell.strip())})")
    return value


def parse(raw: bytes, path: Path, columns: Sequence[str], label: str) -> UserPoints:
    """The points of a CSV file's bytes ``raw`` (its name ``path`` for messages); see the module docstring."""
    reader = csv.reader(io.StringIO(_text(raw, path), newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise ConfigError(f"{path}:1: empty file; the first row must name the columns")
        at = _header(header, [*columns, label], path)
        names = [*columns, label]
        rows: list[tuple[float, float, float]] = []
        for cells in reader:
            line = reader.line_num
            if not cells or all(not cell.strip() for cell in cells):
                continue  # a blank line
            if len(cells) != len(header):
                raise ConfigError(f"{path}:{line}: {len(cells)} cells, the header has {len(header)}")
            if len(rows) == MAX_ROWS:
                raise ConfigError(f"{path}:{line}: more than {MAX_ROWS:,} rows")
            values = [_number(cells[i], f"{path}:{line}: column {name}") for i, name in zip(at, names, strict=True)]
            if values[2] not in (0.0, 1.0):
                raise ConfigError(f"{path}:{line}: column {label}: a label must be 0 or 1 (got {show(cells[at[2]])})")
            rows.append((values[0], values[1], values[2]))
    except csv.Error as exc:
        raise ConfigError(f"{path}:{reader.line_num}: not CSV: {exc}") from None
    table = np.array(rows, dtype=np.float64).reshape(len(rows), 3)
    return UserPoints(table[:, :2], table[:, 2], hashlib.sha256(raw).hexdigest())


def read_points(path: Path, columns: Sequence[str], label: str) -> UserPoints:
    """The points of the CSV file at ``path`` (see the module docstring). Raises :class:`Unreadable` when the
    file cannot be opened, :class:`regdemo.errors.ConfigError` (one line) for anything wrong inside it."""
    return parse(_raw(path), path, columns, label)


def complete(dataset: Mapping[str, Any], config_dir: Path, cache: dict[tuple, UserPoints]) -> dict[str, Any]:
    """A kind-csv run's ``dataset`` mapping (as merged from the config) completed from its file: ``path``
    resolved against ``config_dir`` (the config file's folder), ``n_samples`` the file's rows, ``sha256`` its
    hash. Each file is read once per ``cache``. Values of the wrong type are left for the schema to report.

    Raises :class:`regdemo.config.schema.FieldError` (at ``n_samples``: the file sets it; ``path``: the file
    cannot be read; ``sha256``: a given hash that is not the file's), and ConfigError for the file's content.
    """
    path, columns, label = dataset.get("path"), dataset.get("columns"), dataset.get("label")
    typed = isinstance(path, str) and isinstance(label, str) and isinstance(columns, list)
    if not typed or not all(isinstance(column, str) for column in columns):
        return dict(dataset)
    if "n_samples" in dataset:
        raise FieldError(("n_samples",), "set by the file for kind csv: leave it out", dataset["n_samples"])
    resolved = (config_dir / path).resolve()
    key = (resolved, tuple(columns), label)
    if key not in cache:
        try:
            cache[key] = read_points(resolved, columns, label)
        except Unreadable as exc:
            raise FieldError(("path",), f"{exc} ({resolved})", path) from None
    points = cache[key]
    given = dataset.get("sha256")
    if given is not None and given != points.sha256:
        raise FieldError(("sha256",), f"not the file's: {resolved} has SHA-256 {points.sha256}", given)
    return {**dataset, "path": str(resolved), "n_samples": len(points.x), "sha256": points.sha256}
