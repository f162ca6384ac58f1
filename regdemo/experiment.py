"""One run: train, measure, draw, and write its folder whole (or a ``failed`` folder saying why)."""

from __future__ import annotations

import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import regdemo
from regdemo import datasets, metrics, plots, storage
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
    storage.write_config(cfg, run_dir)
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
    storage.write_metrics(result.metrics, run_dir)


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
            storage.write_failed(cfg, staging, exc)
            statuses.append("failed")

    storage.write_whole(exp_dir / cfg.name, fill)
    return statuses[0]


# ---------------------------------------------------------------- run folders as data (no shared file system)


def run_to_files(cfg: RunConfig, tensorboard: bool = False) -> dict[str, bytes]:
    """Run one config with :func:`run_one` into a private temporary folder and return that run folder
    as ``{relative POSIX path: bytes}`` (a failed run is a folder too). For workers that share no
    file system with the driver: the driver writes the folder with
    :func:`regdemo.storage.write_run_files`."""
    with tempfile.TemporaryDirectory(prefix="regdemo-run-") as tmp:
        run_one(cfg, Path(tmp), tensorboard=tensorboard)
        run_dir = Path(tmp) / cfg.name
        return {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}
