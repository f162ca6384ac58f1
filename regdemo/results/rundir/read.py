"""Reading run folders and experiment-level files back, checking the format (see :mod:`regdemo.results.rundir`)."""

from __future__ import annotations

import csv
import functools
import json
import math
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from regdemo.config.schema import RunConfig
from regdemo.errors import RunFolderError
from regdemo.results.rundir.names import CHECKS, CONFIG, FORMAT, HISTORY, METRICS, PLOT_DATA, RUN_PLOTS, SUMMARY
from regdemo.train.datasets import Split
from regdemo.train.metrics import Film, Grid, RunView

# ---------------------------------------------------------------- reading


def run_status(metrics: Mapping[str, Any]) -> str:
    """A run's status as metrics.json gives it (``completed`` when it says none)."""
    return str(metrics.get("status", "completed"))


def run_variant(config: RunConfig, metrics: Mapping[str, Any]) -> str:
    """The ``runs:`` entry a run came from (metrics.json's, else config.yaml's, else the run's name)."""
    return str(metrics.get("variant") or getattr(config, "variant", "") or config.name)


def run_sweep(config: RunConfig, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted field path → the run's swept value ({} when nothing was swept)."""
    return dict(metrics.get("sweep") or getattr(config, "sweep", None) or {})


def run_error(metrics: Mapping[str, Any]) -> str:
    """A failed run's message ('' for any other run)."""
    return str(metrics.get("error", "")) if run_status(metrics) == "failed" else ""


@dataclass(frozen=True, eq=False)
class LoadedRun:
    """One run read back from its folder: config, metrics and history at once, plot data on first use.

    ``history`` maps history.csv's columns to arrays of shape (epochs_run,) ({} for a failed run);
    ``view`` is what the plots draw, read from the saved files (None for a failed run). Both are read
    when first asked for (then kept); :func:`load_run` asks for the history at once and has checked
    plot_data.npz's zip directory, so a summary or an index of 1,000 runs decompresses no plot data.
    """

    path: Path
    label: str
    config: RunConfig
    metrics: dict[str, Any]

    @property
    def status(self) -> str:
        return run_status(self.metrics)

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def variant(self) -> str:
        """The ``runs:`` entry this run came from (metrics.json's, else config.yaml's, else the run's name)."""
        return run_variant(self.config, self.metrics)

    @property
    def sweep(self) -> dict[str, Any]:
        """Dotted field path → this run's swept value ({} when nothing was swept)."""
        return run_sweep(self.config, self.metrics)

    @property
    def error(self) -> str:
        return run_error(self.metrics)

    @functools.cached_property
    def history(self) -> dict[str, np.ndarray]:
        """history.csv's columns, read on first use ({} for a failed run)."""
        return {} if self.failed else _readable(self.path, HISTORY, read_history)

    @property
    def title(self) -> str:
        """The run's name and regularizer, as plots title it: ``l2 (L2 λ=0.01)``."""
        return f"{self.label} ({self.config.model.regularizer.label()})"

    @functools.cached_property
    def kernels(self) -> list[tuple[str, np.ndarray]]:
        """Every Dense kernel, ``[(layer name, kernel of shape (inputs, units))]`` (metrics.json's layer order):
        the view's, or read alone from plot_data.npz (no grid or data decompressed); [] for a failed run."""
        if self.failed:
            return []
        if "view" in self.__dict__:
            return self.view.kernels
        return _readable(self.path, PLOT_DATA, lambda path: read_kernels(path, self._layer_names()))

    def _layer_stats(self) -> list[dict[str, Any]]:
        return _null_to_nan(self.metrics.get("weights", {}).get("layers", []))

    def _layer_names(self) -> list[str]:
        return [layer["name"] for layer in self.metrics.get("weights", {}).get("layers", [])]

    @functools.cached_property
    def view(self) -> RunView | None:
        """What the plots draw, read from history.csv and plot_data.npz on first use (None for a failed run)."""
        if self.failed:
            return None
        names = self._layer_names()
        grid, kernels, data = _readable(self.path, PLOT_DATA, lambda path: read_plot_data(path, names))
        return RunView(
            name=self.label,
            title=self.title,
            grid=grid,
            data=data,
            history=self.history,
            kernels=kernels,
            layer_stats=self._layer_stats(),
        )


def _readable(run_dir: Path, name: str, read: Callable[[Path], Any]) -> Any:
    """``read(run_dir)``, a missing or damaged ``name`` being one line (:class:`RunFolderError`)."""
    if not (run_dir / name).is_file():  # gone since load_run checked it
        raise RunFolderError(f"{run_dir}: unreadable run folder: no {name}")
    try:
        return read(run_dir)
    except (ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # UnicodeDecodeError is the CLI's
        if isinstance(exc, UnicodeDecodeError):
            raise
        raise RunFolderError(f"{run_dir}: unreadable run folder: {name}: {exc}") from None


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


def _kernels(saved: np.lib.npyio.NpzFile, layer_names: Sequence[str]) -> list[tuple[str, np.ndarray]]:
    stored = [name.removeprefix("kernel_") for name in saved.files if name.startswith("kernel_")]
    order = [n for n in layer_names if n in stored] + [n for n in stored if n not in layer_names]
    return [(name, saved[f"kernel_{name}"]) for name in order]


def read_kernels(run_dir: Path, layer_names: Sequence[str]) -> list[tuple[str, np.ndarray]]:
    """plot_data.npz's kernels alone, as :func:`read_plot_data` gives them (each array read on its own)."""
    with np.load(run_dir / PLOT_DATA) as saved:
        return _kernels(saved, layer_names)


def read_plot_data(run_dir: Path, layer_names: Sequence[str]) -> tuple[Grid, list[tuple[str, np.ndarray]], Split]:
    """plot_data.npz → the boundary grid (each array (resolution, resolution)), the kernels and the data.

    Kernels come as ``[(layer name, kernel of shape (inputs, units))]`` in ``layer_names`` order
    (metrics.json's), any others after them in the file's order.
    """
    with np.load(run_dir / PLOT_DATA) as saved:
        grid = Grid(saved["grid_x"], saved["grid_y"], saved["grid_prob"])
        kernels = _kernels(saved, layer_names)
        test = [saved["x_test"], saved["y_test"]] if "x_test" in saved.files else []
        data = Split(saved["x_train"], saved["y_train"], saved["x_val"], saved["y_val"], *test)
    return grid, kernels, data


# libyaml's parser where PyYAML was built with it: the same safe constructor and resolver, so the same
# values, ~7x faster; reading config.yaml was most of loading 1,000 runs (and of planning their resume).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml(text: str) -> Any:
    """A YAML document regdemo wrote (config.yaml), parsed safely."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # safe: plain data only, never a Python object


def read_config(run_dir: Path) -> RunConfig:
    """config.yaml, validated."""
    try:
        return RunConfig.model_validate(_yaml((run_dir / CONFIG).read_text(encoding="utf-8")))
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


def saved_run(run_dir: Path) -> tuple[dict | None, dict[str, Any] | None]:
    """What resume needs of a run folder: its resolved config as a mapping, and its metrics.json.

    The config is validated, so fields added since it was written take their defaults and an older
    folder of the same config compares equal (it is still rerun: its metrics are None, another format).
    Either is None where unreadable (or not UTF-8); the metrics are None too for a folder of another format.
    """
    try:
        config = RunConfig.model_validate(_yaml((run_dir / CONFIG).read_text(encoding="utf-8"))).to_dict()
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError):
        config = None
    try:
        metrics = json.loads((run_dir / METRICS).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        metrics = None
    if not isinstance(metrics, dict) or metrics.get("format") != FORMAT:
        metrics = None
    return config, metrics


def saved_state(run_dir: Path) -> tuple[dict | None, str | None]:
    """:func:`saved_run`'s config and the run's status (None where the metrics are)."""
    config, metrics = saved_run(run_dir)
    return config, None if metrics is None else metrics.get("status")


def load_run(run_dir: Path, label: str | None = None) -> LoadedRun:
    """Read one run folder back: config, metrics and history now, the plots' view on first use (no
    model is loaded). A completed run's history.csv and plot_data.npz must be readable (checked now).

    ``label`` names the run in figures and tables (default: its name).
    """
    check_run_dir(run_dir)
    metrics = read_metrics(run_dir)
    config = read_config(run_dir)
    if metrics.get("status") != "failed":
        for needed in (HISTORY, PLOT_DATA):
            if not (run_dir / needed).is_file():
                raise RunFolderError(f"{run_dir}: unreadable run folder: no {needed}")
        # Checked now, so that a damaged folder stops a command before it writes anything: history.csv
        # read whole (it is small, and every summary and viewer needs it), plot_data.npz's zip directory
        # only (its arrays are decompressed where drawn).
        _readable(run_dir, PLOT_DATA, _npz_keys)
    run = LoadedRun(run_dir, label or config.name, config, metrics)
    run.history  # noqa: B018 (read now: see above)
    return run


def _npz_keys(run_dir: Path) -> list[str]:
    """plot_data.npz's array names, from its zip directory (nothing decompressed)."""
    with np.load(run_dir / PLOT_DATA) as saved:
        return list(saved.files)


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


def read_snapshot_epochs(run_dir: Path) -> list[int]:
    """plot_data.npz's ``snapshot_epochs`` (the epochs of the training film's frames; [] without snapshots)."""
    path = run_dir / PLOT_DATA
    if not path.is_file():
        return []
    with np.load(path) as saved:
        return [int(e) for e in saved["snapshot_epochs"]] if "snapshot_epochs" in saved.files else []


def read_film(run_dir: Path) -> Film | None:
    """plot_data.npz's training film (see :func:`regdemo.results.rundir.write_plot_data`); None without snapshots."""
    with np.load(run_dir / PLOT_DATA) as saved:
        if "snapshot_epochs" not in saved.files:
            return None
        keys = ("snapshot_epochs", "snapshot_grid_x", "snapshot_grid_y", "snapshot_grid_prob", "snapshot_kernel")
        return Film(*(saved[key] for key in keys))


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


def summary_order(exp_dir: Path) -> list[str]:
    """The run names in summary.csv's order ([] without one)."""
    return [row.get("run", "") for row in read_summary(exp_dir)] if (exp_dir / SUMMARY).is_file() else []


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
