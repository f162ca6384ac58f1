"""One run: train, measure, draw, and write its folder whole (or a ``failed`` folder saying why)."""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import keras
import numpy as np
import tensorflow as tf
import yaml

import regdemo
from regdemo import datasets, metrics, plots
from regdemo.config import RunConfig
from regdemo.models import build_model
from regdemo.training import COLUMNS, History, train
from regdemo.training import Progress as OnEpochs


@dataclass
class RunResult:
    """Everything one trained run produced, before anything is written."""

    config: RunConfig
    model: keras.Model
    history: History
    metrics: dict
    view: plots.RunView
    snapshots: list[tuple[int, list[tuple[str, np.ndarray]]]]  # (epoch, kernels) for TensorBoard


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "regdemo": regdemo.__version__,
    }


def _snapshotting(model: keras.Model, epochs: int, snapshots: list, on_epochs: OnEpochs | None) -> OnEpochs:
    """Wrap a progress callback so it also keeps the kernels about every ``epochs / 20`` epochs."""
    every = max(1, epochs // 20)

    def record(done: int) -> None:
        if not snapshots or done - snapshots[-1][0] >= every or done == epochs:
            snapshots.append((done, metrics.kernels(model)))
        if on_epochs:
            on_epochs(done)

    return record


def execute_run(cfg: RunConfig, on_epochs: OnEpochs | None = None, tensorboard: bool = False) -> RunResult:
    """Train one run from its resolved config and compute all its numbers (nothing is written).

    With ``tensorboard``, the kernels are also kept at each progress report (for histograms).
    """
    keras.utils.set_random_seed(cfg.seed)
    data = datasets.load(cfg.dataset)
    model = build_model(cfg.model)
    snapshots: list[tuple[int, list[tuple[str, np.ndarray]]]] = []
    if tensorboard:
        on_epochs = _snapshotting(model, cfg.training.epochs, snapshots, on_epochs)
    history = train(model, data, cfg.training, cfg.seed, on_epochs)
    final = metrics.final_metrics(model, data)
    weights = metrics.weights_summary(model, cfg.plots.weights.near_zero_tol)
    grid = metrics.boundary_grid(model, cfg.plots.boundary, np.concatenate([data.x_train, data.x_val]))
    reg = cfg.model.regularizer
    numbers = {
        "run": cfg.name,
        "variant": cfg.variant,
        "sweep": cfg.sweep,
        "status": history.status,
        "epochs_run": history.epochs_run,
        # epochs counted from 1; stopped_epoch null when early stopping did not end the run
        "early_stopping": {"stopped_epoch": history.stopped_epoch, "best_epoch": history.best_epoch}
        if cfg.training.early_stopping
        else None,
        "regularizer": {"kind": reg.kind, "l1": reg.strengths()[0], "l2": reg.strengths()[1]},
        "final": final,
        "generalization_gap": final["val_data_loss"] - final["data_loss"],
        "weights": weights,
        "boundary": metrics.boundary_complexity(grid),  # from the same grid boundary.png draws
        "timing": {"train_seconds": history.seconds},
        "versions": versions(),
    }
    view = plots.RunView(
        name=cfg.name,
        title=f"{cfg.name} ({reg.label()})",
        grid=grid,
        data=data,
        history=history.columns,
        kernels=metrics.kernels(model),
        layer_stats=weights["layers"],
    )
    return RunResult(cfg, model, history, numbers, view, snapshots)


def _finite(value: object) -> object:
    """JSON has no NaN/Infinity: diverged numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _write_config(cfg: RunConfig, run_dir: Path) -> None:
    """config.yaml: the fully resolved run config (what resume compares against)."""
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")


def _write_metrics(numbers: dict, run_dir: Path) -> None:
    """metrics.json, with non-finite numbers as null (JSON has no NaN)."""
    text = json.dumps(_finite(numbers), indent=2, allow_nan=False)
    (run_dir / "metrics.json").write_text(text + "\n", encoding="utf-8")


def write_history(history: History, path: Path) -> None:
    """history.csv: a header, then one row per epoch (epoch numbers from 1)."""
    table = np.column_stack([np.arange(1, history.epochs_run + 1), *(history.columns[c] for c in COLUMNS)])
    np.savetxt(
        path,
        table,
        delimiter=",",
        header=",".join(("epoch", *COLUMNS)),
        comments="",
        fmt=["%d"] + ["%.9g"] * len(COLUMNS),
    )


def write_run(result: RunResult, run_dir: Path) -> None:
    """Write one run folder: config, history, metrics, model, the numbers behind the plots, three PNGs."""
    cfg, view = result.config, result.view
    run_dir.mkdir(parents=True)
    _write_config(cfg, run_dir)
    write_history(result.history, run_dir / "history.csv")
    result.model.save(run_dir / "model.keras")
    np.savez_compressed(
        run_dir / "plot_data.npz",
        grid_x=view.grid.xx,
        grid_y=view.grid.yy,
        grid_prob=view.grid.prob,
        **{f"kernel_{name}": kernel for name, kernel in view.kernels},
    )
    started = time.perf_counter()
    plots.save(plots.boundary_figure(view), run_dir / "boundary.png")
    plots.save(plots.loss_figure(view), run_dir / "loss.png")
    plots.save(plots.weights_figure(view, cfg.plots.weights.layers == "all"), run_dir / "weights.png")
    result.metrics["timing"]["plot_seconds"] = time.perf_counter() - started
    if result.snapshots:
        write_tensorboard(result, run_dir / "tensorboard")
    _write_metrics(result.metrics, run_dir)


def write_tensorboard(result: RunResult, log_dir: Path) -> None:
    """TensorBoard event files, laid out as Keras' TensorBoard callback does (``train/``, ``validation/``):
    per-epoch loss, data loss, accuracy (and penalty), and kernel histograms at the kept snapshots."""
    columns = result.history.columns
    tags = {"train": ("loss", "data_loss", "accuracy", "penalty"), "validation": ("loss", "data_loss", "accuracy")}
    for side, names in tags.items():
        writer = tf.summary.create_file_writer(str(log_dir / side))
        with writer.as_default():
            prefix = "" if side == "train" else "val_"
            for epoch in range(result.history.epochs_run):
                for name in names:
                    tf.summary.scalar(f"epoch_{name}", columns[prefix + name][epoch], step=epoch + 1)
            if side == "train":
                for epoch, kernels in result.snapshots:
                    for name, kernel in kernels:
                        tf.summary.histogram(f"kernel/{name}", kernel, step=epoch)
        writer.close()


def write_failed(cfg: RunConfig, run_dir: Path, error: BaseException) -> None:
    """A failed run's folder: its config, the traceback in error.txt, and metrics.json saying so."""
    run_dir.mkdir(parents=True)
    _write_config(cfg, run_dir)
    text = "".join(traceback.format_exception(error))
    (run_dir / "error.txt").write_text(text, encoding="utf-8")
    message = f"{type(error).__name__}: {error}".strip()
    numbers = {"run": cfg.name, "status": "failed", "error": message, "variant": cfg.variant, "sweep": cfg.sweep}
    _write_metrics(numbers, run_dir)


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, replacing what was there; a kill in between leaves only hidden folders."""
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old)
    else:
        staging.rename(target)


def run_one(cfg: RunConfig, exp_dir: Path, on_epochs: OnEpochs | None = None, tensorboard: bool = False) -> str:
    """Train, measure, draw and write one run folder whole; return its status.

    The folder is written under a hidden name and renamed into place only when complete. A run that
    raises becomes a ``failed`` folder (error.txt) and the experiment goes on; Ctrl-C propagates.
    """
    statuses: list[str] = []

    def fill(staging: Path) -> None:
        try:
            result = execute_run(cfg, on_epochs, tensorboard)
            write_run(result, staging)
            statuses.append(result.metrics["status"])
        except Exception as exc:  # any error of one run is that run's result, not the experiment's end
            shutil.rmtree(staging, ignore_errors=True)
            write_failed(cfg, staging, exc)
            statuses.append("failed")

    _write_whole(exp_dir / cfg.name, fill)
    return statuses[0]


# ---------------------------------------------------------------- run folders as data (no shared file system)


def run_to_files(cfg: RunConfig, tensorboard: bool = False) -> dict[str, bytes]:
    """Run one config with :func:`run_one` into a private temporary folder and return that run folder
    as ``{relative POSIX path: bytes}`` (a failed run is a folder too). For workers that share no
    file system with the driver: the driver writes the folder with :func:`write_run_files`."""
    with tempfile.TemporaryDirectory(prefix="regdemo-run-") as tmp:
        run_one(cfg, Path(tmp), tensorboard=tensorboard)
        run_dir = Path(tmp) / cfg.name
        return {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def _write_whole(run_dir: Path, fill: Callable[[Path], None]) -> None:
    """Let ``fill`` build the folder under a hidden staging name, then rename it into ``run_dir``."""
    staging = run_dir.parent / f".{run_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        fill(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_into_place(staging, run_dir)


def _unpack(files: dict[str, bytes], folder: Path) -> None:
    folder.mkdir(parents=True)
    for name, data in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"unsafe path in a run's files: {name!r}")
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)


def write_run_files(files: dict[str, bytes], run_dir: Path) -> None:
    """Write a run folder returned by :func:`run_to_files` into ``run_dir`` whole (staging, then a rename)."""
    _write_whole(run_dir, lambda staging: _unpack(files, staging))


def write_failed_whole(cfg: RunConfig, run_dir: Path, error: BaseException) -> None:
    """:func:`write_failed`, but whole: staged under a hidden name, then renamed into ``run_dir``."""
    _write_whole(run_dir, lambda staging: write_failed(cfg, staging, error))
