"""The run folder and the experiment folder on disk: every file name, every writer, every reader.

A run folder (``<experiment>/<run>/``) holds::

    config.yaml     the fully resolved run config (what resume compares against)
    metrics.json    final and window numbers, weight stats, boundary complexity, status, ``format`` (FORMAT)
    history.csv     one row per epoch: ``epoch`` and the columns of :data:`regdemo.history.COLUMNS`
    plot_data.npz   the boundary grid, every Dense kernel and the dataset's train/validation(/test) points
    model.keras     the trained Keras model
    boundary.png, loss.png, weights.png
    error.txt       a failed run's traceback (a failed run has config.yaml, metrics.json and this only)
    tensorboard/    with ``--tensorboard``

An experiment folder holds its run folders, ``summary.csv``, the comparison figures
(``compare_*.png``, ``sweep_<field>.png``), ``checks.json`` (the config's checks judged, with the
rules resolved to run names so that ``regdemo check`` needs no config), ``report.html`` and
``.regdemo.lock`` (the lock of the one ``regdemo run`` writing it, see :mod:`regdemo.lock`).
Writers write whole: a run folder through :func:`regdemo.storage.write_whole`, an experiment-level file through
:func:`regdemo.storage.atomic_write`. Readers check the format version, so a folder written by another
version is one clear line (:class:`RunFolderError`), never misread. No TensorFlow and no plotting here.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from regdemo import storage
from regdemo.config import RunConfig
from regdemo.datasets import Split
from regdemo.errors import RunFolderError
from regdemo.history import COLUMNS
from regdemo.metrics import Grid, RunView
from regdemo.oserrors import disk_full

# The version of the run-folder format, stored in metrics.json. 1: the first versioned format (the
# dataset's points in plot_data.npz). Raise it whenever a reader could misread an older folder.
FORMAT = 1

CONFIG = "config.yaml"
METRICS = "metrics.json"
HISTORY = "history.csv"
PLOT_DATA = "plot_data.npz"
MODEL = "model.keras"
ERROR = "error.txt"
TENSORBOARD = "tensorboard"
BOUNDARY_PNG, LOSS_PNG, WEIGHTS_PNG = "boundary.png", "loss.png", "weights.png"
RUN_PLOTS = (BOUNDARY_PNG, LOSS_PNG, WEIGHTS_PNG)

SUMMARY = "summary.csv"
REPORT = "report.html"
CHECKS = "checks.json"
COMPARE_WEIGHTS = "compare_weights.png"
LOCK = ".regdemo.lock"  # hidden, never a run folder; there only while a run holds it (or after a kill)
# Comparison files that come in a varying number (pages, one per swept field): what a later, smaller
# comparison must remove.
_PAGED = ("compare_boundaries_*.png", "compare_loss_*.png", "sweep_*.png")

# A run's status: completed and diverged runs are results (resume keeps them); failed runs are retried.
COMPLETE = ("completed", "diverged")


# ---------------------------------------------------------------- names


def page_names(stem: str, count: int) -> list[str]:
    """``stem.png``, ``stem_2.png``, … for ``count`` pages."""
    return [f"{stem}.png" if k == 1 else f"{stem}_{k}.png" for k in range(1, count + 1)]


def sweep_file(field: str) -> str:
    """``sweep_<field>.png``, with anything but letters, digits, '.', '_' and '-' replaced by '_'."""
    return f"sweep_{re.sub(r'[^A-Za-z0-9._-]', '_', field)}.png"


def stale_comparison_files(folder: Path, keep: Sequence[str]) -> list[Path]:
    """Comparison files in ``folder`` from an earlier, larger comparison (extra pages, old sweep plots)."""
    return [path for pattern in _PAGED for path in folder.glob(pattern) if path.name not in keep]


# ---------------------------------------------------------------- writing a run folder


def _finite(value: object) -> object:
    """JSON has no NaN/Infinity: diverged numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_config(cfg: RunConfig, run_dir: Path) -> None:
    """config.yaml: the fully resolved run config."""
    (run_dir / CONFIG).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")


def write_metrics(numbers: Mapping[str, Any], run_dir: Path) -> None:
    """metrics.json: ``format`` first, then ``numbers``, non-finite numbers as null (JSON has no NaN)."""
    text = json.dumps(_finite({"format": FORMAT, **numbers}), indent=2, allow_nan=False)
    (run_dir / METRICS).write_text(text + "\n", encoding="utf-8")


def write_history(columns: Mapping[str, np.ndarray], run_dir: Path) -> None:
    """history.csv: a header, then one row per epoch (epoch numbers from 1); ``columns`` as History's."""
    epochs = len(columns[COLUMNS[0]])
    table = np.column_stack([np.arange(1, epochs + 1), *(columns[c] for c in COLUMNS)])
    np.savetxt(
        run_dir / HISTORY,
        table,
        delimiter=",",
        header=",".join(("epoch", *COLUMNS)),
        comments="",
        fmt=["%d"] + ["%.9g"] * len(COLUMNS),
    )


def write_plot_data(grid: Grid, data: Split, kernels: Sequence[tuple[str, np.ndarray]], run_dir: Path) -> None:
    """plot_data.npz: the grid (``grid_x``, ``grid_y``, ``grid_prob``), ``kernel_<layer>`` for every Dense
    layer, and the dataset's points (``x_train`` (n, 2), ``y_train`` (n,), ``x_val``, ``y_val``, and
    ``x_test``, ``y_test`` only when there is a test set, so a folder without one stays as before)."""
    test = {"x_test": data.x_test, "y_test": data.y_test} if len(data.x_test) else {}
    np.savez_compressed(
        run_dir / PLOT_DATA,
        grid_x=grid.xx,
        grid_y=grid.yy,
        grid_prob=grid.prob,
        **{f"kernel_{name}": kernel for name, kernel in kernels},
        x_train=data.x_train,
        y_train=data.y_train,
        x_val=data.x_val,
        y_val=data.y_val,
        **test,
    )


def write_png(png: bytes, run_dir: Path, name: str) -> None:
    """One of :data:`RUN_PLOTS`, already encoded."""
    (run_dir / name).write_bytes(png)


# ANSI terminal sequences (CSI: ESC [ parameters final byte): Keras wraps the message of an error raised
# inside a layer call in bold ("\x1b[1m...\x1b[0m"), which a text file or a web page shows as garbage.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def plain_text(text: str) -> str:
    """``text`` without terminal escape sequences."""
    return _ANSI.sub("", text)


def write_failed(cfg: RunConfig, run_dir: Path, error: BaseException) -> None:
    """A failed run's folder: its config, the traceback in error.txt (plain text), and metrics.json saying so.

    A full disk is not the run's failure but the experiment's: no folder is written, and an OSError
    (ENOSPC or EDQUOT, naming the experiment folder) is raised instead, so that the caller stops
    rather than fail every later run the same way.
    """
    if (code := disk_full(error)) is not None:
        raise OSError(code, os.strerror(code), str(run_dir.parent)) from error
    run_dir.mkdir(parents=True)
    write_config(cfg, run_dir)
    (run_dir / ERROR).write_text(plain_text("".join(traceback.format_exception(error))), encoding="utf-8")
    message = plain_text(f"{type(error).__name__}: {error}").strip()
    write_metrics(
        {"run": cfg.name, "status": "failed", "error": message, "variant": cfg.variant, "sweep": cfg.sweep}, run_dir
    )


def write_failed_whole(cfg: RunConfig, run_dir: Path, error: BaseException) -> None:
    """:func:`write_failed`, but whole: staged under a hidden name, then renamed into ``run_dir``."""
    storage.write_whole(run_dir, lambda staging: write_failed(cfg, staging, error))


# ---------------------------------------------------------------- a run folder as data (no shared file system)


def folder_files(run_dir: Path) -> dict[str, bytes]:
    """A run folder as ``{relative POSIX path: bytes}``, for a worker that shares no file system."""
    return {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def _unpack(files: Mapping[str, bytes], folder: Path) -> None:
    folder.mkdir(parents=True)
    for name, data in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"unsafe path in a run's files: {name!r}")
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)


def write_folder_files(files: Mapping[str, bytes], run_dir: Path) -> str:
    """Write a run folder given as :func:`folder_files` returns it into ``run_dir`` whole; return its status."""
    storage.write_whole(run_dir, lambda staging: _unpack(files, staging))
    return str(json.loads(files[METRICS])["status"])


# ---------------------------------------------------------------- the experiment folder


def write_summary(rows: Sequence[Mapping[str, Any]], exp_dir: Path) -> Path:
    """summary.csv (atomically): a header from the first row, then the rows; None is an empty cell."""

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    return storage.atomic_write(exp_dir / SUMMARY, write)


def write_figure(png: bytes, exp_dir: Path, name: str) -> Path:
    """A comparison figure (``name`` from :func:`page_names`, :func:`sweep_file` or COMPARE_WEIGHTS), atomically."""
    return storage.atomic_write(exp_dir / name, lambda tmp: tmp.write_bytes(png))


def write_report(page: str, exp_dir: Path) -> Path:
    """report.html (atomically)."""
    return storage.atomic_write(exp_dir / REPORT, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def summary_order(exp_dir: Path) -> list[str]:
    """The run names in summary.csv's order ([] without one)."""
    return [row.get("run", "") for row in read_summary(exp_dir)] if (exp_dir / SUMMARY).is_file() else []


def write_checks(results: Sequence[Any], checks: Sequence[Any], smoke: bool, exp_dir: Path) -> Path:
    """checks.json (atomically): ``{"format", "smoke", "checks": [{name, claim, rule, verdict, figures,
    spec}]}``, ``results`` as :class:`regdemo.checks.CheckResult`, ``spec`` the resolved rules of
    ``checks`` (:class:`regdemo.checkspec.ResolvedCheck`), so the checks can be judged again without the config."""
    entries = [
        {**result.to_dict(), "spec": [rule.to_dict() for rule in check.rules]}
        for result, check in zip(results, checks, strict=True)
    ]
    text = json.dumps(_finite({"format": FORMAT, "smoke": smoke, "checks": entries}), indent=2, allow_nan=False)
    return storage.atomic_write(exp_dir / CHECKS, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def read_checks(exp_dir: Path) -> dict[str, Any]:
    """checks.json as written by :func:`write_checks` ({} when there is none)."""
    path = exp_dir / CHECKS
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{path}: unreadable: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RunFolderError(f"{path}: not a checks file of format {FORMAT}: rerun its experiment")
    return data


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class LoadedRun:
    """One run read back from its folder.

    ``history`` maps history.csv's columns to arrays of shape (epochs_run,) ({} for a failed run);
    ``view`` is what the plots draw, read from the saved files (None for a failed run).
    """

    path: Path
    label: str
    config: RunConfig
    metrics: dict[str, Any]
    history: dict[str, np.ndarray]
    view: RunView | None

    @property
    def status(self) -> str:
        return str(self.metrics.get("status", "completed"))

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def variant(self) -> str:
        """The ``runs:`` entry this run came from (metrics.json's, else config.yaml's, else the run's name)."""
        return str(self.metrics.get("variant") or getattr(self.config, "variant", "") or self.config.name)

    @property
    def sweep(self) -> dict[str, Any]:
        """Dotted field path → this run's swept value ({} when nothing was swept)."""
        return dict(self.metrics.get("sweep") or getattr(self.config, "sweep", None) or {})

    @property
    def error(self) -> str:
        return str(self.metrics.get("error", "")) if self.failed else ""


def is_run_dir(path: Path) -> bool:
    """A run folder is a visible folder holding metrics.json."""
    return path.is_dir() and not path.name.startswith(".") and (path / METRICS).is_file()


def find_runs(exp_dir: Path) -> list[Path]:
    """The run folders of an experiment: in summary.csv's order when there is one, then by name."""
    found = sorted(p for p in exp_dir.iterdir() if is_run_dir(p)) if exp_dir.is_dir() else []
    rank = {name: i for i, name in enumerate(summary_order(exp_dir))}
    return sorted(found, key=lambda p: rank.get(p.name, len(rank)))


def check_run_dir(path: Path) -> None:
    """Raise :class:`RunFolderError` unless ``path`` is a run folder."""
    if not is_run_dir(path):
        raise RunFolderError(f"{path}: not a regdemo run folder (no {METRICS})")
    if not (path / CONFIG).is_file():
        raise RunFolderError(f"{path}: not a regdemo run folder (no {CONFIG})")


def _null_to_nan(value: Any) -> Any:
    """metrics.json writes a diverged run's non-finite numbers as null: read them back as NaN."""
    if value is None:
        return math.nan
    if isinstance(value, dict):
        return {k: _null_to_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_null_to_nan(v) for v in value]
    return value


def read_history(run_dir: Path) -> dict[str, np.ndarray]:
    """history.csv → ``{column: array of shape (epochs_run,)}`` (the ``epoch`` column left out)."""
    with (run_dir / HISTORY).open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    table = np.array(rows[1:], dtype=np.float64).reshape(len(rows) - 1, len(rows[0]))
    return {name: table[:, i] for i, name in enumerate(rows[0]) if name != "epoch"}


def read_plot_data(run_dir: Path, layer_names: Sequence[str]) -> tuple[Grid, list[tuple[str, np.ndarray]], Split]:
    """plot_data.npz → the boundary grid (each array (resolution, resolution)), the kernels and the data.

    Kernels come as ``[(layer name, kernel of shape (inputs, units))]`` in ``layer_names`` order
    (metrics.json's), any others after them in the file's order.
    """
    with np.load(run_dir / PLOT_DATA) as saved:
        grid = Grid(saved["grid_x"], saved["grid_y"], saved["grid_prob"])
        stored = [name.removeprefix("kernel_") for name in saved.files if name.startswith("kernel_")]
        order = [n for n in layer_names if n in stored] + [n for n in stored if n not in layer_names]
        kernels = [(name, saved[f"kernel_{name}"]) for name in order]
        test = [saved["x_test"], saved["y_test"]] if "x_test" in saved.files else []
        data = Split(saved["x_train"], saved["y_train"], saved["x_val"], saved["y_val"], *test)
    return grid, kernels, data


def read_config(run_dir: Path) -> RunConfig:
    """config.yaml, validated."""
    try:
        return RunConfig.model_validate(yaml.safe_load((run_dir / CONFIG).read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        reason = " ".join(str(exc).split())
        raise RunFolderError(f"{run_dir}: unreadable run folder: {CONFIG}: {reason[:300]}") from None


def read_metrics(run_dir: Path) -> dict[str, Any]:
    """metrics.json, checked to be of this version's :data:`FORMAT`."""
    try:
        metrics = json.loads((run_dir / METRICS).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{run_dir}: unreadable run folder: {METRICS}: {exc}") from None
    if not isinstance(metrics, dict):
        raise RunFolderError(f"{run_dir}: unreadable run folder: {METRICS} is not a mapping")
    if metrics.get("format") != FORMAT:
        found = f"format {metrics['format']!r}" if "format" in metrics else "no format version (regdemo 0.1)"
        raise RunFolderError(
            f"{run_dir}: run folder of {found}; this regdemo reads format {FORMAT}: rerun its experiment"
        )
    return metrics


def saved_state(run_dir: Path) -> tuple[dict | None, str | None]:
    """What resume needs of a run folder: its resolved config as a mapping and its status.

    None where unreadable; the status is None too for a folder of another format (it is rerun).
    """
    try:
        config = yaml.safe_load((run_dir / CONFIG).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        config = None
    try:
        metrics = json.loads((run_dir / METRICS).read_text(encoding="utf-8"))
        status = metrics.get("status") if metrics.get("format") == FORMAT else None
    except (OSError, ValueError, AttributeError):
        status = None
    return config, status


def load_run(run_dir: Path, label: str | None = None) -> LoadedRun:
    """Read one run folder back: config, metrics, history and the plots' view (no model is loaded).

    ``label`` names the run in figures and tables (default: its name).
    """
    check_run_dir(run_dir)
    metrics = read_metrics(run_dir)
    config = read_config(run_dir)
    label = label or config.name
    if metrics.get("status") == "failed":
        return LoadedRun(run_dir, label, config, metrics, {}, None)
    for needed in (HISTORY, PLOT_DATA):
        if not (run_dir / needed).is_file():
            raise RunFolderError(f"{run_dir}: unreadable run folder: no {needed}")
    history = read_history(run_dir)
    layer_stats = _null_to_nan(metrics.get("weights", {}).get("layers", []))
    grid, kernels, data = read_plot_data(run_dir, [layer["name"] for layer in layer_stats])
    view = RunView(
        name=label,
        title=f"{label} ({config.model.regularizer.label()})",
        grid=grid,
        data=data,
        history=history,
        kernels=kernels,
        layer_stats=layer_stats,
    )
    return LoadedRun(run_dir, label, config, metrics, history, view)


def unique_labels(run_dirs: Sequence[Path]) -> list[str]:
    """Run names; if two collide (runs of different experiments), ``experiment/run`` for all of them."""
    for name in (lambda p: p.name, lambda p: f"{p.parent.name}/{p.name}", str):
        labels = [name(p) for p in run_dirs]
        if len(set(labels)) == len(labels):
            return labels
    return [str(p) for p in run_dirs]


def load_runs(run_dirs: Sequence[Path]) -> list[LoadedRun]:
    """Load several run folders (each once, in the given order), labelled uniquely.

    Every folder is checked before any is read, so bad input fails before anything is done.
    """
    for path in run_dirs:
        check_run_dir(Path(path))
    unique = list(dict.fromkeys(Path(os.path.abspath(p)) for p in run_dirs))
    return [load_run(path, label) for path, label in zip(unique, unique_labels(unique), strict=True)]


def read_text(run_dir: Path, name: str) -> str:
    """A text file of a run folder (config.yaml, error.txt), as the report shows it."""
    return (run_dir / name).read_text(encoding="utf-8")


def read_plots(run_dir: Path) -> list[tuple[str, bytes]]:
    """The run's PNGs that exist, as ``[(file name, PNG bytes)]`` in :data:`RUN_PLOTS` order."""
    return [(name, (run_dir / name).read_bytes()) for name in RUN_PLOTS if (run_dir / name).is_file()]


# ---------------------------------------------------------------- reading for `regdemo diff` (no run is loaded)

# plot_data.npz's boundary grid: the arrays a pixel-free comparison of two boundaries reads.
GRID_KEYS = ("grid_x", "grid_y", "grid_prob")


def read_summary(path: Path) -> list[dict[str, str]]:
    """summary.csv (or a copy of one under any name; or the experiment folder holding it) → one
    ``{column: cell text}`` per row, in file order.

    Cells stay text ('' for an empty cell: a failed run's metrics, a diverged run's non-finite numbers);
    each row's keys are the header's columns, in its order. Raises :class:`RunFolderError` (naming the
    file, and the line where one is at fault) when it cannot be read, or a row's cells do not match the header.
    """
    path = path / SUMMARY if path.is_dir() else path
    rows: list[dict[str, str]] = []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, [])
            for cells in reader:
                if not cells:  # a blank line, as csv.DictReader skips it
                    continue
                if len(cells) != len(header):
                    where = f"{path}:{reader.line_num}"
                    raise RunFolderError(f"{where}: {len(cells)} cells, the header has {len(header)}")
                rows.append(dict(zip(header, cells, strict=True)))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RunFolderError(f"{path}: unreadable: {exc}") from None
    return rows


def open_plot_data(run_dir: Path) -> np.lib.npyio.NpzFile:
    """plot_data.npz opened lazily (use it in a ``with``): ``saved[key]`` reads and decompresses one array."""
    return np.load(run_dir / PLOT_DATA)


def grid_checksums(saved: np.lib.npyio.NpzFile) -> dict[str, tuple[int, int]]:
    """The boundary grid arrays of an opened plot_data.npz as ``{key: (CRC-32, size in bytes)}``.

    Read from the zip directory alone (nothing is decompressed): two equal entries hold equal arrays,
    up to a CRC-32 collision. Keys the file lacks are left out.
    """
    infos = {info.filename: info for info in saved.zip.infolist()}
    return {key: (infos[f"{key}.npy"].CRC, infos[f"{key}.npy"].file_size) for key in GRID_KEYS if f"{key}.npy" in infos}
