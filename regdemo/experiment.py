"""One run, many runs: train, measure, draw, and write each run folder; then the experiment's summary.

Results appear whole or not at all: the experiment is built in a hidden staging folder beside its
destination and renamed into place only when every run and the comparison are written.
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import regdemo
from regdemo import datasets, metrics, plots
from regdemo.config import Experiment, RunConfig
from regdemo.models import build_model
from regdemo.training import COLUMNS, History, train
from regdemo.training import Progress as OnEpochs


class ExperimentExists(Exception):
    """The destination folder already holds results and ``--force`` was not given."""


@dataclass
class RunResult:
    """Everything one trained run produced, before anything is written."""

    config: RunConfig
    model: keras.Model
    history: History
    metrics: dict
    view: plots.RunView


def configure_tensorflow() -> None:
    """Op-level determinism (same config and seed → same numbers on a rerun), and a first op run
    so that TensorFlow's native start-up happens here rather than inside the first run."""
    tf.config.experimental.enable_op_determinism()
    tf.constant(0.0) + 1.0


def versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "regdemo": regdemo.__version__,
    }


def execute_run(cfg: RunConfig, on_epochs: OnEpochs | None = None) -> RunResult:
    """Train one run from its resolved config and compute all its numbers (nothing is written)."""
    keras.utils.set_random_seed(cfg.seed)
    data = datasets.load(cfg.dataset)
    model = build_model(cfg.model)
    history = train(model, data, cfg.training, cfg.seed, on_epochs)
    final = metrics.final_metrics(model, data)
    weights = metrics.weights_summary(model, cfg.plots.weights.near_zero_tol)
    grid = metrics.boundary_grid(model, cfg.plots.boundary)
    reg = cfg.model.regularizer
    numbers = {
        "run": cfg.name,
        "status": history.status,
        "epochs_run": history.epochs_run,
        "regularizer": {"kind": reg.kind, "l1": reg.strengths()[0], "l2": reg.strengths()[1]},
        "final": final,
        "generalization_gap": final["val_data_loss"] - final["data_loss"],
        "weights": weights,
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
    return RunResult(cfg, model, history, numbers, view)


def _finite(value: object) -> object:
    """JSON has no NaN/Infinity: diverged numbers become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


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
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
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
    text = json.dumps(_finite(result.metrics), indent=2, allow_nan=False)
    (run_dir / "metrics.json").write_text(text + "\n", encoding="utf-8")


SUMMARY_SETTINGS = {
    "dataset": lambda c: c.dataset.kind,
    "n_samples": lambda c: c.dataset.n_samples,
    "noise": lambda c: c.dataset.noise,
    "hidden_units": lambda c: "-".join(map(str, c.model.hidden_units)),
    "activation": lambda c: c.model.activation,
    "regularizer": lambda c: c.model.regularizer.kind,
    "l1": lambda c: c.model.regularizer.strengths()[0],
    "l2": lambda c: c.model.regularizer.strengths()[1],
    "optimizer": lambda c: c.training.optimizer,
    "learning_rate": lambda c: c.training.learning_rate,
    "epochs": lambda c: c.training.epochs,
    "batch_size": lambda c: c.training.batch_size,
    "engine": lambda c: c.training.engine,
    "seed": lambda c: c.seed,
}


def summary_row(result: RunResult) -> dict[str, object]:
    """One summary.csv row: the run's settings, then its final metrics and first-layer weight stats."""
    m, first = result.metrics, result.metrics["weights"]["layers"][0]
    return {
        "run": result.config.name,
        "status": m["status"],
        **{key: get(result.config) for key, get in SUMMARY_SETTINGS.items()},
        "epochs_run": m["epochs_run"],
        **m["final"],
        "generalization_gap": m["generalization_gap"],
        **{f"first_layer_{k}": first[k] for k in ("min", "max", "std", "frac_zero", "frac_near_zero")},
        "kernels_l1": m["weights"]["kernels"]["l1"],
        "kernels_l2": m["weights"]["kernels"]["l2"],
        "train_seconds": m["timing"]["train_seconds"],
    }


def write_summary(rows: list[dict[str, object]], path: Path) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_comparison(views: list[plots.RunView], out: Path) -> None:
    """The experiment's three side-by-side figures."""
    plots.save(plots.compare_boundaries(views), out / "compare_boundaries.png")
    plots.save(plots.compare_loss(views), out / "compare_loss.png")
    plots.save(plots.compare_weights(views), out / "compare_weights.png")


@contextlib.contextmanager
def _staging(target: Path, force: bool) -> Iterator[Path]:
    """A hidden folder beside ``target`` that replaces it only if the block completes."""
    if target.exists() and any(target.iterdir()) and not force:
        raise ExperimentExists(f"{target}: already holds results; use --force to replace them")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)  # left by a killed earlier attempt
    staging.mkdir()
    try:
        yield staging
        old = target.parent / f".{target.name}.old"
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs"),
        TimeElapsedColumn(),
        transient=False,
    )


def run_experiment(experiment: Experiment, out_root: Path, force: bool = False, show_progress: bool = True) -> Path:
    """Train every run of ``experiment`` and write ``out_root/<name>/`` whole; return that folder."""
    target = out_root / experiment.name
    with _staging(target, force) as staging, _progress_bar() if show_progress else contextlib.nullcontext() as bar:
        results = []
        for cfg in experiment.runs:
            task = bar.add_task(cfg.name, total=cfg.training.epochs) if bar else None
            on_epochs = (lambda done, t=task: bar.update(t, completed=done)) if bar else None
            result = execute_run(cfg, on_epochs)
            write_run(result, staging / cfg.name)
            results.append(result)
        write_summary([summary_row(r) for r in results], staging / "summary.csv")
        write_comparison([r.view for r in results], staging)
    return target
