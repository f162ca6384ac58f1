"""The shapes a received folder's files must have, checked when read: metrics.json, checks.json and
history.csv against small schemas, plot_data.npz's arrays (from their .npy headers, nothing decompressed)
against the run's own config. Each failure is one :class:`RunFolderError` line ``FILE: field: reason``.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from regdemo.columns import COLUMNS
from regdemo.config.checkspec import COMPARATORS
from regdemo.config.schema import SAFE_NAME, RunConfig
from regdemo.errors import RunFolderError
from regdemo.results.rundir.safe import Damaged, check_name
from regdemo.textsafe import excerpt

Number = float | None  # JSON's numbers; null for a non-finite one (metrics.json writes them so)

_WORDS = {
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "list_type": "must be a list",
    "string_type": "must be text",
    "float_type": "must be a number",
    "int_type": "must be a whole number",
    "bool_type": "must be true or false",
    "missing": "missing",
    "tuple_type": "must be a list",
}


class _Loose(BaseModel):
    """Fields regdemo reads are typed; any others are kept as they are (a later version may add some)."""

    model_config = ConfigDict(extra="allow", strict=True)


class _Layer(_Loose):
    name: str


class _Weights(_Loose):
    layers: list[_Layer] = []
    kernels: dict[str, Any] = {}


class _Metrics(_Loose):
    format: int
    run: str | None = None
    variant: str | None = None
    status: Literal["completed", "diverged", "failed"] = "completed"
    error: str = ""
    sweep: dict[str, Any] = {}
    epochs_run: int | None = None
    final: dict[str, Number] = {}
    window: dict[str, Number] = {}
    weights: _Weights = _Weights()
    boundary: dict[str, Number] = {}
    inputs: dict[str, Any] = {}
    timing: dict[str, Number] = {}


class _Rule(_Loose):
    words: str
    metric: str
    kind: Literal["threshold", "difference", "ratio", "trend"]
    comparator: Literal[COMPARATORS]  # type: ignore[valid-type]
    threshold: float
    reduce: Literal["mean", "median", "min", "max"] | None = None
    runs: dict[str, list[str]]
    versus: dict[str, list[str]]
    points: dict[str, list[tuple[float, str]]]
    chosen_by: str | None = None
    versus_chosen_by: str | None = None
    values: dict[str, float] = {}


class _Aggregate(_Loose):
    n: int
    mean: Number = None
    ci_low: Number = None
    ci_high: Number = None


class _Figure(_Loose):
    rule: str = ""
    verdict: str = ""
    per_seed: dict[str, Number] = {}
    aggregate: _Aggregate


class _Check(_Loose):
    name: str
    claim: str
    rule: str
    verdict: Literal["holds", "does not hold", "inconclusive", "not measured", "smoke"]
    figures: list[_Figure]
    spec: list[_Rule]


class _Checks(_Loose):
    format: int
    smoke: bool = False
    checks: list[_Check] = []


def _shown(value: Any) -> str:
    """A value as an error line quotes it: a short excerpt, never the whole of a large one."""
    if isinstance(value, dict | list):
        return "a mapping" if isinstance(value, dict) else "a list"
    return excerpt(repr(value[:100] if isinstance(value, str) else value))


def _validate(model: type[BaseModel], data: Any, path: Path) -> None:
    """Raise one line naming the file and the first field at fault."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = excerpt(".".join(str(part) for part in error["loc"]), 120) or "(top level)"
        words = _WORDS.get(error["type"], error["msg"])
        got = "" if error["type"] == "missing" else f" (got {_shown(error.get('input'))})"
        raise RunFolderError(f"{path}: {where}: {words}{got}") from None


def check_metrics(data: Mapping[str, Any], path: Path) -> None:
    """metrics.json (of this version's format) against its schema; names held to the config's rule."""
    _validate(_Metrics, data, path)
    for key in ("run", "variant"):
        if data.get(key) is not None:
            check_name(data[key], f"{path}: {key}")
    for key in data.get("sweep", {}):
        check_name(key, f"{path}: sweep")
    for i, layer in enumerate(data.get("weights", {}).get("layers", [])):
        check_name(layer["name"], f"{path}: weights.layers[{i}].name")


def check_checks(data: Mapping[str, Any], path: Path) -> None:
    """checks.json (of this version's format) against its schema."""
    _validate(_Checks, data, path)


def parse_history(text: str, path: Path) -> dict[str, np.ndarray]:
    """history.csv's text → ``{column: array of shape (epochs_run,)}`` (``epoch`` left out), checked: a
    header with ``epoch`` and every column of :data:`regdemo.columns.COLUMNS`, at least one row, numbers."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:  # a field over csv's 131,072 characters included
        raise Damaged(f"{path}: not CSV: {exc}") from None
    header = rows[0] if rows else []
    for column in ("epoch", *COLUMNS):
        if column not in header:
            raise RunFolderError(f"{path}: {column}: missing column (header {excerpt(','.join(header))!r})")
    if len(rows) < 2:
        raise RunFolderError(f"{path}: no rows (a completed run has one per epoch)")
    for line, cells in enumerate(rows[1:], start=2):
        if len(cells) != len(header):
            raise RunFolderError(f"{path}:{line}: {len(cells)} cells, the header has {len(header)}")
    try:
        table = np.array(rows[1:], dtype=np.float64)
    except ValueError:
        cells = ((i, c, v) for i, row in enumerate(rows[1:], 2) for c, v in zip(header, row, strict=True))
        line, column = next((i, c) for i, c, v in cells if not _is_float(v))
        raise RunFolderError(f"{path}:{line}: {excerpt(column)}: not a number") from None
    return {name: table[:, i] for i, name in enumerate(header) if name != "epoch"}


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- plot_data.npz, from its headers


def plot_bounds(config: RunConfig) -> dict[str, tuple[int, ...]]:
    """Per array prefix of plot_data.npz, the largest shape ``config``'s run can write (a dimension
    of 0: any length up to the next bound); the grid's is exact."""
    res = config.plots.boundary.resolution
    inputs = 2 + config.dataset.noise_features
    widest = max(inputs, *config.model.hidden_units, 1)
    n, frames = config.dataset.n_samples, config.plots.snapshots + 1
    return {
        "grid_x": (res, res),
        "grid_y": (res, res),
        "grid_prob": (res, res),
        "kernel_": (widest, widest),
        "x_": (n, inputs),
        "y_": (n,),
        "snapshot_epochs": (frames,),
        "snapshot_grid_x": (res,),
        "snapshot_grid_y": (res,),
        "snapshot_grid_prob": (frames, res, res),
        "snapshot_kernel": (frames, widest, widest),
    }


EXACT = ("grid_x", "grid_y", "grid_prob")


def plot_budget(config: RunConfig) -> int:
    """The most bytes plot_data.npz of ``config``'s run may hold decompressed (or take on disk): every
    array at its bound in float64, one kernel per layer, three splits, 64 kB of headers and directory."""
    bounds = plot_bounds(config)
    counts = {"kernel_": len(config.model.hidden_units) + 1, "x_": 3, "y_": 3}
    return 8 * sum(math.prod(shape) * counts.get(key, 1) for key, shape in bounds.items()) + 2**16


def _bound(key: str, bounds: Mapping[str, tuple[int, ...]]) -> tuple[int, ...] | None:
    if key in bounds:
        return bounds[key]
    for prefix in ("kernel_", "x_", "y_"):
        rest = key[len(prefix) :]
        if key.startswith(prefix) and (
            SAFE_NAME.match(rest) if prefix == "kernel_" else rest in ("train", "val", "test")
        ):
            return bounds[prefix]
    return None


def _header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype, int]:
    """A member's .npy header, read without its data: (shape, dtype, header length)."""
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
        return tuple(shape), dtype, f.tell()


def check_plot_data(archive: zipfile.ZipFile, config: RunConfig, path: Path) -> None:
    """Every array of plot_data.npz checked from its header against the run's config before any is read:
    a name regdemo writes, plain numbers (no objects, so no pickle), a shape within :func:`plot_bounds`
    (the grid's exactly), and a declared size that is the header's (so decompressing costs no more)."""
    bounds = plot_bounds(config)
    infos = archive.infolist()
    declared = sum(info.file_size for info in infos)
    if declared > plot_budget(config):
        raise RunFolderError(
            f"{path}: declares {declared:,} bytes decompressed, over its run's {plot_budget(config):,}"
        )
    if len(infos) > len(bounds) + len(config.model.hidden_units) + 8:
        raise RunFolderError(f"{path}: {len(infos)} arrays, more than its run writes")
    for info in infos:
        name = info.filename.removesuffix(".npy")
        bound = _bound(name, bounds) if info.filename.endswith(".npy") else None
        if bound is None:
            raise RunFolderError(f"{path}: {excerpt(info.filename)}: not an array regdemo writes")
        key = excerpt(name)  # as the lines below quote it
        try:
            shape, dtype, offset = _header(archive, info)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise RunFolderError(f"{path}: {key}: unreadable header: {excerpt(str(exc))}") from None
        if dtype.hasobject or dtype.kind not in "biuf" or dtype.itemsize > 8:
            raise RunFolderError(f"{path}: {key}: not an array of numbers (dtype {excerpt(str(dtype))})")
        fits = len(shape) == len(bound) and all(s <= b for s, b in zip(shape, bound, strict=True))
        if not fits or (name in EXACT and shape != bound):
            raise RunFolderError(f"{path}: {key}: shape {shape} does not fit its run's config (at most {bound})")
        if info.file_size != offset + math.prod(shape) * dtype.itemsize:
            raise RunFolderError(f"{path}: {key}: declares {info.file_size:,} bytes, its header {shape} {dtype}")
