"""Reading run folders and experiment-level files back, checking the format (see :mod:`regdemo.results.rundir`)."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from regdemo.config.schema import RunConfig
from regdemo.config.yamlfile import MAX_BYTES as MAX_YAML_BYTES
from regdemo.errors import RunFolderError
from regdemo.results.rundir import safe, shapes
from regdemo.results.rundir.expfiles import summary_order
from regdemo.results.rundir.names import CONFIG, ERROR, FORMAT, HISTORY, METRICS, PLOT_DATA, RUN_PLOTS
from regdemo.textsafe import excerpt
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
    """A failed run's message ('' for any other run), cut to :data:`safe.MAX_ERROR_CHARS`."""
    return safe.cap_error(str(metrics.get("error", ""))) if run_status(metrics) == "failed" else ""


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
        return _readable(self.path, PLOT_DATA, lambda path: read_kernels(path, self._layer_names(), self.config))

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
        grid, kernels, data = _readable(self.path, PLOT_DATA, lambda path: read_plot_data(path, names, self.config))
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
    if not os.path.lexists(run_dir / name):  # gone since load_run checked it
        raise RunFolderError(f"{run_dir}: unreadable run folder: no {name}")
    try:
        return read(run_dir)
    except (ValueError, KeyError, EOFError, OSError, zipfile.BadZipFile, zlib.error) as exc:
        raise RunFolderError(f"{run_dir}: unreadable run folder: {name}: {excerpt(str(exc), 200)}") from None


def is_run_dir(path: Path) -> bool:
    """A run folder is a visible folder (not a link) holding metrics.json."""
    return not path.is_symlink() and path.is_dir() and not path.name.startswith(".") and (path / METRICS).is_file()


def find_runs(exp_dir: Path) -> list[Path]:
    """The run folders of an experiment: in summary.csv's order when there is one, then by name.

    A visible link among them is refused (:class:`RunFolderError`): a received folder's links are not followed.
    """
    entries = sorted(exp_dir.iterdir()) if exp_dir.is_dir() else []
    for link in (p for p in entries if p.is_symlink() and not p.name.startswith(".")):
        if (link / METRICS).is_file():  # a run folder that is a link: refused, not skipped
            safe.check_folder(link)
    found = [p for p in entries if is_run_dir(p)]
    rank = {name: i for i, name in enumerate(summary_order(exp_dir))}
    return sorted(found, key=lambda p: rank.get(p.name, len(rank)))


def check_run_dir(path: Path) -> None:
    """Raise :class:`RunFolderError` unless ``path`` is a run folder (a folder, not a link)."""
    if path.is_symlink():
        safe.check_folder(path)
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
    """history.csv → ``{column: array of shape (epochs_run,)}`` (the ``epoch`` column left out), checked
    (:func:`regdemo.results.rundir.shapes.parse_history`)."""
    return shapes.parse_history(safe.read_utf8(run_dir, HISTORY, safe.MAX_CSV_BYTES), run_dir / HISTORY)


@contextlib.contextmanager
def open_plot_data(run_dir: Path, config: RunConfig | None = None) -> Iterator[np.lib.npyio.NpzFile]:
    """plot_data.npz opened lazily (``saved[key]`` reads one array), every array's header checked first
    against the run's config (read from the folder when not given): see :func:`shapes.check_plot_data`."""
    config = config or read_config(run_dir)
    with safe.open_regular(run_dir, PLOT_DATA, shapes.plot_budget(config)) as f:
        saved = np.load(f, allow_pickle=False)  # an .npy file is one array, not an archive: refused below
        if not isinstance(saved, np.lib.npyio.NpzFile):
            raise RunFolderError(f"{run_dir / PLOT_DATA}: not an .npz archive")
        with saved:
            shapes.check_plot_data(saved.zip, config, run_dir / PLOT_DATA)
            yield saved


def _kernels(saved: np.lib.npyio.NpzFile, layer_names: Sequence[str]) -> list[tuple[str, np.ndarray]]:
    stored = [name.removeprefix("kernel_") for name in saved.files if name.startswith("kernel_")]
    order = [n for n in layer_names if n in stored] + [n for n in stored if n not in layer_names]
    return [(name, saved[f"kernel_{name}"]) for name in order]


def read_kernels(
    run_dir: Path, layer_names: Sequence[str], config: RunConfig | None = None
) -> list[tuple[str, np.ndarray]]:
    """plot_data.npz's kernels alone, as :func:`read_plot_data` gives them (each array read on its own)."""
    with open_plot_data(run_dir, config) as saved:
        return _kernels(saved, layer_names)


def read_plot_data(
    run_dir: Path, layer_names: Sequence[str], config: RunConfig | None = None
) -> tuple[Grid, list[tuple[str, np.ndarray]], Split]:
    """plot_data.npz → the boundary grid (each array (resolution, resolution)), the kernels and the data.

    Kernels come as ``[(layer name, kernel of shape (inputs, units))]`` in ``layer_names`` order
    (metrics.json's), any others after them in the file's order.
    """
    with open_plot_data(run_dir, config) as saved:
        grid = Grid(saved["grid_x"], saved["grid_y"], saved["grid_prob"])
        kernels = _kernels(saved, layer_names)
        test = [saved["x_test"], saved["y_test"]] if "x_test" in saved.files else []
        data = Split(saved["x_train"], saved["y_train"], saved["x_val"], saved["y_val"], *test)
    return grid, kernels, data


def read_config(run_dir: Path) -> RunConfig:
    """config.yaml through the config loader's bounds (:func:`safe.read_yaml`), validated."""
    data = safe.read_yaml(run_dir, CONFIG)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        reason = " ".join(str(exc).split())
        raise safe.Damaged(f"{run_dir}: unreadable run folder: {CONFIG}: {excerpt(reason, 300)}") from None


def _metrics_data(run_dir: Path) -> Any:
    return safe.read_json(run_dir, METRICS, safe.MAX_METRICS_BYTES)


def read_metrics(run_dir: Path, data: Any = None) -> dict[str, Any]:
    """metrics.json (or its parsed ``data``), checked to be of this version's :data:`FORMAT` and its schema."""
    metrics = _metrics_data(run_dir) if data is None else data
    if not isinstance(metrics, dict):
        raise RunFolderError(f"{run_dir / METRICS}: (top level): must be a mapping")
    if metrics.get("format") != FORMAT:
        shown = excerpt(repr(metrics["format"])) if "format" in metrics else ""
        found = f"format {shown}" if "format" in metrics else "no format version (regdemo 0.1)"
        raise RunFolderError(
            f"{run_dir}: run folder of {found}; this regdemo reads format {FORMAT}: rerun its experiment"
        )
    shapes.check_metrics(metrics, run_dir / METRICS)
    return metrics


def saved_run(run_dir: Path) -> tuple[dict | None, dict[str, Any] | None]:
    """What resume needs of a run folder: its resolved config as a mapping, and its metrics.json.

    The config is validated, so fields added since it was written take their defaults and an older
    folder of the same config compares equal (it is still rerun: its metrics are None, another format).
    Either is None where missing or damaged (not UTF-8, not parsed, not valid), both for a run folder that is
    a link (nothing is read through it); the metrics are None too for a folder of another format. Hostile
    content is refused (:class:`RunFolderError`): a file that is a link, a file past its bounds, metrics.json
    of this format that does not fit its schema.
    """
    if run_dir.is_symlink():  # never read through: a run of another config (replaced only with --force)
        return None, None
    safe.check_folder(run_dir)
    try:
        config = read_config(run_dir).to_dict()
    except safe.Damaged:
        config = None
    try:
        data = _metrics_data(run_dir)
    except safe.Damaged:
        data = None
    metrics = read_metrics(run_dir, data) if isinstance(data, dict) and data.get("format") == FORMAT else None
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
            if not os.path.lexists(run_dir / needed):
                raise RunFolderError(f"{run_dir}: unreadable run folder: no {needed}")
        # Checked now, so that a damaged folder stops a command before it writes anything: history.csv
        # read whole (it is small, and every summary and viewer needs it), plot_data.npz's zip directory
        # and array headers only (its arrays are decompressed where drawn).
        _readable(run_dir, PLOT_DATA, lambda path: _npz_keys(path, config))
    run = LoadedRun(run_dir, label or config.name, config, metrics)
    run.history  # noqa: B018 (read now: see above)
    return run


def _npz_keys(run_dir: Path, config: RunConfig) -> list[str]:
    """plot_data.npz's array names, from its zip directory and headers checked (no array decompressed)."""
    with open_plot_data(run_dir, config) as saved:
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
    """A text file of a run folder (config.yaml, error.txt), as the report shows it (error.txt cut to
    :data:`safe.MAX_ERROR_CHARS`)."""
    if name == ERROR:
        return safe.cap_error(safe.read_utf8(run_dir, name, safe.MAX_TEXT_BYTES))
    return safe.read_utf8(run_dir, name, MAX_YAML_BYTES)


def read_snapshot_epochs(run_dir: Path, config: RunConfig | None = None) -> list[int]:
    """plot_data.npz's ``snapshot_epochs`` (the epochs of the training film's frames; [] without snapshots),
    checked to be epochs (whole numbers from 0), in increasing order."""
    if not os.path.lexists(run_dir / PLOT_DATA):
        return []
    with open_plot_data(run_dir, config) as saved:
        if "snapshot_epochs" not in saved.files:
            return []
        epochs = saved["snapshot_epochs"]
    if epochs.dtype.kind not in "iu" or np.any(epochs < 0):
        raise RunFolderError(f"{run_dir / PLOT_DATA}: snapshot_epochs: not epochs of its run")
    if np.any(np.diff(epochs) <= 0):
        raise RunFolderError(f"{run_dir / PLOT_DATA}: snapshot_epochs: not in increasing order")
    return [int(e) for e in epochs]


def read_film(run_dir: Path, config: RunConfig | None = None) -> Film | None:
    """plot_data.npz's training film (see :func:`regdemo.results.rundir.write_plot_data`); None without snapshots."""
    with open_plot_data(run_dir, config) as saved:
        if "snapshot_epochs" not in saved.files:
            return None
        keys = ("snapshot_epochs", "snapshot_grid_x", "snapshot_grid_y", "snapshot_grid_prob", "snapshot_kernel")
        return Film(*(saved[key] for key in keys))


def read_plots(run_dir: Path) -> list[tuple[str, bytes]]:
    """The run's PNGs that exist, as ``[(file name, PNG bytes)]`` in :data:`RUN_PLOTS` order, each a
    regular file of the folder with a PNG signature (else :class:`RunFolderError`)."""
    return [(name, safe.read_png(run_dir, name)) for name in RUN_PLOTS if os.path.lexists(run_dir / name)]
