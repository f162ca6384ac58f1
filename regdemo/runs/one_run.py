"""One run: train it from its config (:mod:`regdemo.train.build`), measure, draw, and write its folder whole
(or a ``failed`` folder saying why)."""

from __future__ import annotations

import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import regdemo
from regdemo.config.schema import RunConfig
from regdemo.draw import film, run_figures
from regdemo.results import rundir, storage
from regdemo.runs.tensorboard import write_tensorboard
from regdemo.train import metrics
from regdemo.train.build import prepare
from regdemo.train.datasets import Split
from regdemo.train.engines import EpochsDone
from regdemo.train.history import History
from regdemo.train.snapshots import Recorder, snapshot_epochs
from regdemo.train.trainer import Prepared, train_model, train_together


@dataclass
class RunOutput:
    """Everything one trained run produced, before anything is written."""

    config: RunConfig
    model: keras.Model
    history: History
    metrics: dict
    view: metrics.RunView
    snapshots: list[tuple[int, list[tuple[str, np.ndarray]]]]  # (epoch, kernels) for TensorBoard
    film: metrics.Film | None = None  # with plots.snapshots


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "regdemo": regdemo.__version__,
    }


def _snapshotting(model: keras.Model, epochs: int, snapshots: list, on_epochs: EpochsDone | None) -> EpochsDone:
    """Wrap a progress callback so it also keeps the kernels about every ``epochs / 20`` epochs."""
    every = max(1, epochs // 20)

    def record(done: int) -> None:
        if not snapshots or done - snapshots[-1][0] >= every or done == epochs:
            snapshots.append((done, metrics.kernels(model)))
        if on_epochs:
            on_epochs(done)

    return record


def _recorder(cfg: RunConfig, model: keras.Model, data: Split) -> tuple[Recorder, tuple[np.ndarray, np.ndarray]]:
    """The film's recorder for ``plots.snapshots`` evenly spaced epochs, and its grid's axes (xs, ys)."""
    xs, ys = metrics.snapshot_axes(cfg.plots.boundary, data.x_all)
    xx, yy = np.meshgrid(xs, ys)
    epochs = snapshot_epochs(cfg.training.epochs, cfg.plots.snapshots)
    return Recorder(model, metrics.grid_inputs(np.c_[xx.ravel(), yy.ravel()], data.n_inputs), epochs), (xs, ys)


def _film(recorder: Recorder, xs: np.ndarray, ys: np.ndarray) -> metrics.Film:
    """The recorded snapshots as arrays (none at all when the run ended before the first one)."""
    kernel = recorder.kernels[0].shape if recorder.kernels else (0, 0)
    return metrics.Film(
        epochs=np.array(recorder.recorded, dtype=np.int64),
        xs=xs,
        ys=ys,
        prob=np.array(recorder.probs, dtype=np.float32).reshape(len(recorder.probs), len(ys), len(xs)),
        kernels=np.array(recorder.kernels, dtype=np.float32).reshape(len(recorder.kernels), *kernel),
    )


@dataclass(frozen=True)
class PreparedRun(Prepared):
    """A run ready to train (:class:`regdemo.train.trainer.Prepared`), with its film's grid axes and the
    kernels kept for TensorBoard's histograms (filled while it trains)."""

    axes: tuple[np.ndarray, np.ndarray] | None
    snapshots: list[tuple[int, list[tuple[str, np.ndarray]]]]


def _prepare(cfg: RunConfig) -> PreparedRun:
    model, data = prepare(cfg)
    recorder, axes = _recorder(cfg, model, data) if cfg.plots.snapshots else (None, None)
    return PreparedRun(cfg, model, data, recorder, axes, [])


def compute_run(cfg: RunConfig, on_epochs: EpochsDone | None = None, tensorboard: bool = False) -> RunOutput:
    """Train one run from its resolved config and compute all its numbers (nothing is written).

    With ``tensorboard``, the kernels are also kept at each progress report (for histograms); with
    ``plots.snapshots``, the film's grids and first kernels at its epochs.
    """
    run = _prepare(cfg)
    if tensorboard:
        on_epochs = _snapshotting(run.model, cfg.training.epochs, run.snapshots, on_epochs)
    history = train_model(cfg, run.model, run.data, on_epochs, run.recorder)
    return measure_run(run, history, 1)


def train_pack_of(cfgs: Sequence[RunConfig], on_epochs: EpochsDone | None = None) -> list[tuple[PreparedRun, History]]:
    """Prepare the runs ``cfgs`` (one :func:`regdemo.train.packing.pack_key`) and train them together
    (:func:`regdemo.train.trainer.train_together`), as each would train alone. ``on_epochs`` gets the epochs
    the pack has done."""
    runs = [_prepare(cfg) for cfg in cfgs]
    histories = train_together(runs, on_epochs)
    return list(zip(runs, histories, strict=True))


def measure_run(run: PreparedRun, history: History, pack: int = 1) -> RunOutput:
    """A trained run's numbers, its view for the figures and its film (``pack``: the runs it trained with)."""
    cfg, model, data = run.config, run.model, run.data
    final = metrics.final_metrics(model, data)
    weights = metrics.weights_summary(model, cfg.plots.weights.near_zero_tol)
    grid = metrics.boundary_grid(model, cfg.plots.boundary, data.x_all)
    reg = cfg.model.regularizer
    # on rows neither training nor any choice made on validation (early stopping) has seen
    test_gap = {"test_generalization_gap": final["test_data_loss"] - final["data_loss"]} if data.x_test.size else {}
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
        **test_gap,
        # medians over the last epochs: the final epoch's figures alone can swing with one batch
        "window": metrics.window_stats(history.columns, cfg.metrics.window_fraction),
        "weights": weights,
        "boundary": metrics.boundary_complexity(grid),  # from the same grid boundary.png draws
        "inputs": metrics.input_selection(metrics.kernels(model)[0][1]),  # feature selection: the first kernel's rows
        # a packed run's share of its pack's training time, and the pack's (a pack of one: the same)
        "timing": {"train_seconds": history.seconds, "pack_runs": pack, "pack_train_seconds": history.seconds * pack},
        "versions": versions(),
    }
    view = metrics.RunView(
        name=cfg.name,
        title=f"{cfg.name} ({reg.label()})",
        grid=grid,
        data=data,
        history=history.columns,
        kernels=metrics.kernels(model),
        layer_stats=weights["layers"],
    )
    film = _film(run.recorder, *run.axes) if run.recorder else None
    return RunOutput(cfg, model, history, numbers, view, run.snapshots, film)


def write_run(result: RunOutput, run_dir: Path) -> None:
    """Write one run folder (see :mod:`regdemo.results.rundir`): config, history, model, plot data, three PNGs,
    the training film if recorded, TensorBoard files if kept, and metrics.json last."""
    cfg, view = result.config, result.view
    run_dir.mkdir(parents=True)
    rundir.write_config(cfg, run_dir)
    rundir.write_history(result.history.columns, run_dir)
    result.model.save(run_dir / rundir.MODEL)
    rundir.write_plot_data(view.grid, view.data, view.kernels, run_dir, result.film)
    started = time.perf_counter()
    # on the process's kept figures, redrawn in place for each run (regdemo.draw.run_figures)
    rundir.write_png(run_figures.boundary_png(view), run_dir, rundir.BOUNDARY_PNG)
    rundir.write_png(run_figures.loss_png(view), run_dir, rundir.LOSS_PNG)
    all_layers = cfg.plots.weights.layers == "all"
    rundir.write_png(run_figures.weights_png(view, all_layers), run_dir, rundir.WEIGHTS_PNG)
    result.metrics["timing"]["plot_seconds"] = time.perf_counter() - started
    if result.film is not None and len(result.film.epochs):
        started = time.perf_counter()
        gif, strip = film.encode(film.frames(result.film, view))
        rundir.write_film(gif, strip, run_dir)
        result.metrics["timing"]["film_seconds"] = time.perf_counter() - started  # the key only with a film
    if result.snapshots:
        write_tensorboard(result, run_dir / rundir.TENSORBOARD)
    rundir.write_metrics(result.metrics, run_dir)


def _written(cfg: RunConfig, exp_dir: Path, compute: Callable[[], RunOutput]) -> str:
    """Write the run folder of ``compute()`` whole; return its status. The folder is written under a hidden name
    and renamed into place only when complete; a run that raises becomes a ``failed`` folder (error.txt)."""
    statuses: list[str] = []

    def fill(staging: Path) -> None:
        try:
            result = compute()
            write_run(result, staging)
            statuses.append(result.metrics["status"])
        except Exception as exc:  # any error of one run is that run's result, not the experiment's end
            shutil.rmtree(staging, ignore_errors=True)
            rundir.write_failed(cfg, staging, exc)
            statuses.append("failed")

    storage.write_whole(exp_dir / cfg.name, fill)
    return statuses[0]


def execute_run(cfg: RunConfig, exp_dir: Path, on_epochs: EpochsDone | None = None, tensorboard: bool = False) -> str:
    """Train, measure, draw and write one run folder whole; return its status. A run that raises becomes a
    ``failed`` folder (error.txt) and the experiment goes on; Ctrl-C propagates."""
    return _written(cfg, exp_dir, lambda: compute_run(cfg, on_epochs, tensorboard))


def execute_pack(
    cfgs: Sequence[RunConfig], exp_dir: Path, on_epochs: EpochsDone | None = None, tensorboard: bool = False
) -> Iterator[str]:
    """:func:`execute_run` for a pack (:mod:`regdemo.runs.packs`): the runs trained together, then each
    measured, drawn and written whole (a run that raises there is that run's ``failed`` folder); yield each
    run's status once its folder is in place, in ``cfgs``' order. A pack whose training raises is trained run
    by run, so that the failure is the failing run's own."""
    if len(cfgs) == 1:
        yield execute_run(cfgs[0], exp_dir, on_epochs, tensorboard)
        return
    try:
        trained = train_pack_of(cfgs, on_epochs)
    except Exception:
        yield from (execute_run(cfg, exp_dir) for cfg in cfgs)
        return
    for run, history in trained:
        yield _written(run.config, exp_dir, lambda r=run, h=history: measure_run(r, h, len(cfgs)))


# ---------------------------------------------------------------- run folders as data (no shared file system)


def execute_pack_to_files(cfgs: Sequence[RunConfig], tensorboard: bool = False) -> list[dict[str, bytes]]:
    """Train the pack ``cfgs`` with :func:`execute_pack` into a private temporary folder and return each run
    folder as ``{relative POSIX path: bytes}``, one mapping per run in ``cfgs``' order (a run that raised is its
    ``failed`` folder, as :func:`execute_pack` writes it). For workers that share no file system with the
    driver: the driver writes each folder with :func:`regdemo.results.rundir.write_folder_files`."""
    with tempfile.TemporaryDirectory(prefix="regdemo-pack-") as tmp:
        for _ in execute_pack(cfgs, Path(tmp), tensorboard=tensorboard):
            pass  # each folder is whole once its status is yielded; all are read back after the last
        return [rundir.folder_files(Path(tmp) / cfg.name) for cfg in cfgs]
