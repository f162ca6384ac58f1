"""Writing run folders and experiment-level files, whole (see :mod:`regdemo.results.rundir`)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import yaml

from regdemo.columns import COLUMNS
from regdemo.config.schema import RunConfig
from regdemo.oserrors import disk_full
from regdemo.results import storage
from regdemo.results.rundir.names import (
    CHECKS,
    CONFIG,
    ERROR,
    FORMAT,
    FORMULA_START,
    HISTORY,
    METRICS,
    PLOT_DATA,
    REPORT,
    SUMMARY,
    TRAINING_FRAMES,
    TRAINING_GIF,
)
from regdemo.train.datasets import Split
from regdemo.train.metrics import Film, Grid

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


def write_plot_data(
    grid: Grid,
    data: Split,
    kernels: Sequence[tuple[str, np.ndarray]],
    run_dir: Path,
    film: Film | None = None,
) -> None:
    """plot_data.npz: the grid (``grid_x``, ``grid_y``, ``grid_prob``), ``kernel_<layer>`` for every Dense
    layer, and the dataset's points (``x_train`` (n, 2), ``y_train`` (n,), ``x_val``, ``y_val``, and
    ``x_test``, ``y_test`` only when there is a test set, so a folder without one stays as before).

    With a ``film`` (``plots.snapshots``; without one no key is added): ``snapshot_epochs`` (N,),
    ``snapshot_grid_x`` (cols,), ``snapshot_grid_y`` (rows,), ``snapshot_grid_prob`` (N, rows, cols) and
    ``snapshot_kernel`` (N, inputs, units), the first Dense layer's kernel.
    """
    test = {"x_test": data.x_test, "y_test": data.y_test} if len(data.x_test) else {}
    snapshots = (
        {
            "snapshot_epochs": film.epochs,
            "snapshot_grid_x": film.xs,
            "snapshot_grid_y": film.ys,
            "snapshot_grid_prob": film.prob,
            "snapshot_kernel": film.kernels,
        }
        if film is not None
        else {}
    )
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
        **snapshots,
    )


def write_png(png: bytes, run_dir: Path, name: str) -> None:
    """One of :data:`RUN_PLOTS`, already encoded."""
    (run_dir / name).write_bytes(png)


def write_film(gif: bytes, frames_png: bytes, run_dir: Path) -> None:
    """training.gif and training_frames.png (its frames stacked top to bottom), already encoded."""
    (run_dir / TRAINING_GIF).write_bytes(gif)
    (run_dir / TRAINING_FRAMES).write_bytes(frames_png)


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


# A number as Python writes one (repr of an int or float, inf and nan included): never a formula, kept as is.
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|nan)")


def csv_cell(value: Any) -> Any:
    """``value`` as summary.csv writes it: text that would start a formula gets a leading ``'`` (OWASP's
    advice), unless it is a number (``-0.5``, ``-1e-05``, ``-inf``: written unchanged); other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], header: bool) -> str:
    """Rows as summary.csv's lines (csv's excel dialect: CRLF line ends; None is an empty cell; text cells
    through :func:`csv_cell`, the header too)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns))
    if header:
        writer.writerow({column: csv_cell(column) for column in columns})
    writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    return text.getvalue()


def write_summary(rows: Sequence[Mapping[str, Any]], exp_dir: Path, columns: Sequence[str] | None = None) -> Path:
    """summary.csv (atomically): a header (``columns``, else the first row's keys), then the rows; None is
    an empty cell."""
    text = _csv_text(rows, list(rows[0]) if columns is None else columns, header=True)
    return storage.atomic_write(exp_dir / SUMMARY, text)


class SummaryAppender:
    """summary.csv growing as runs finish: begun with its header and the rows known so far (atomically),
    then one row appended per :meth:`append`, each as one whole line in one write, so a kill at any
    moment leaves whole rows only. Close it (it is a context manager) before rewriting summary.csv."""

    def __init__(self, exp_dir: Path, columns: Sequence[str], rows: Sequence[Mapping[str, Any]] = ()) -> None:
        self.columns = list(columns)
        # The file written, still open: appends never reopen summary.csv (it could be a link by then).
        self._file = storage.replace_with(exp_dir / SUMMARY, _csv_text(rows, self.columns, header=True))

    def append(self, row: Mapping[str, Any]) -> None:
        """Append one row (its keys are the columns)."""
        self._file.write(_csv_text([row], self.columns, header=False).encode("utf-8"))

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SummaryAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_figure(png: bytes, exp_dir: Path, name: str) -> Path:
    """A comparison figure (``name`` from :func:`page_names`, :func:`sweep_file` or COMPARE_WEIGHTS), atomically."""
    return storage.atomic_write(exp_dir / name, png)


def write_page(page: str, exp_dir: Path) -> Path:
    """report.html (atomically)."""
    return storage.atomic_write(exp_dir / REPORT, page)


def write_checks(results: Sequence[Any], checks: Sequence[Any], smoke: bool, exp_dir: Path) -> Path:
    """checks.json (atomically): ``{"format", "smoke", "checks": [{name, claim, rule, verdict, figures,
    spec}]}``, ``results`` as :class:`regdemo.results.checks.CheckResult`, ``spec`` the resolved rules of
    ``checks`` (:class:`regdemo.config.checkspec.ResolvedCheck`), so the checks can be judged again without
    the config."""
    entries = [
        {**result.to_dict(), "spec": [rule.to_dict() for rule in check.rules]}
        for result, check in zip(results, checks, strict=True)
    ]
    # One line: without indent json uses its C encoder, ~10x faster on the 3 MB of a 10,000-run experiment.
    text = json.dumps(_finite({"format": FORMAT, "smoke": smoke, "checks": entries}), allow_nan=False)
    return storage.atomic_write(exp_dir / CHECKS, text + "\n")
