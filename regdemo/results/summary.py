"""The summary of runs: summary.csv's rows and columns, which of them report.html's table shows, and the
file's life while an experiment runs (:class:`SummaryTable`).

The rows are pure: runs come in as :class:`regdemo.results.rundir.LoadedRun` (read by
:mod:`regdemo.results.rundir`), or as a config and its metrics.json mapping (:func:`summary_row`, what the
runner appends as each run finishes). :class:`SummaryTable` is summary.csv while the runs finish: begun with
the kept runs' rows, a row appended as each run finishes (an interrupted experiment keeps the finished runs'
rows, in the order they finished), and rewritten once in config order when the last run is in, from the rows
in memory, through rundir's writers. A failed run is a run too: it gets a row with its error.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from regdemo.columns import BOUNDARY_KEYS, COLUMNS, FIRST_LAYER_KEYS, INPUT_KEYS, TEST_KEYS, WINDOW_KEYS
from regdemo.config.schema import RunConfig
from regdemo.results import rundir
from regdemo.results.rundir import LoadedRun

SUMMARY_SETTINGS: dict[str, Callable[[RunConfig], object]] = {
    "dataset": lambda c: c.dataset.kind,
    "n_samples": lambda c: c.dataset.n_samples,
    "noise": lambda c: c.dataset.noise,
    "hidden_units": lambda c: "-".join(map(str, c.model.hidden_units)),
    "activation": lambda c: c.model.activation,
    "regularizer": lambda c: c.model.regularizer.kind,
    "l1": lambda c: c.model.regularizer.strengths()[0],
    "l2": lambda c: c.model.regularizer.strengths()[1],
    "proximal": lambda c: c.model.regularizer.proximal,
    "dropout": lambda c: c.model.dropout,
    "optimizer": lambda c: c.training.optimizer,
    "learning_rate": lambda c: c.training.learning_rate,
    "weight_decay": lambda c: c.training.weight_decay,
    "epochs": lambda c: c.training.epochs,
    "batch_size": lambda c: c.training.batch_size,
    "engine": lambda c: c.training.engine,
    "early_stopping_patience": lambda c: c.training.early_stopping.patience if c.training.early_stopping else None,
    "seed": lambda c: c.seed,
}
# The summary table of report.html: these columns (those present), swept fields after "status".
REPORT_COLUMNS = (
    "run",
    "variant",
    "status",
    "regularizer",
    "l1",
    "l2",
    "epochs_run",
    "data_loss",
    "val_data_loss",
    "accuracy",
    "val_accuracy",
    "generalization_gap",
    "first_layer_std",
    "first_layer_frac_near_zero",
    "error",
)


def dig(data: Any, *keys: str | int) -> Any:
    """``data[k0][k1]…`` or None where any level is missing."""
    for key in keys:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def is_number(value: Any) -> bool:
    """An int or float, not a bool: what sorts numerically, gets a log axis or a right-aligned cell."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any) -> Any:
    """A swept value as one CSV cell: scalars as they are, lists and mappings as compact JSON."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def sweep_fields(runs: Sequence[LoadedRun]) -> list[str]:
    """Every swept field path of these runs, in first-seen order."""
    return swept_columns(run.sweep for run in runs)


def swept_columns(sweeps: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every field path of these sweeps (``{field: value}``, a run's or a config's), in first-seen order:
    summary.csv's swept columns, known from an experiment's configs before any run has finished."""
    return list(dict.fromkeys(field for sweep in sweeps for field in sweep))


def result_columns(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The final-numbers part of a summary row (all None for a failed run)."""
    first = dig(metrics, "weights", "layers", 0) or {}
    return {
        "epochs_run": metrics.get("epochs_run"),
        **{key: dig(metrics, "final", key) for key in COLUMNS},
        "generalization_gap": metrics.get("generalization_gap"),
        **{f"window_{key}": dig(metrics, "window", key) for key in WINDOW_KEYS},
        **{key: dig(metrics, "final", key) for key in TEST_KEYS},
        "test_generalization_gap": metrics.get("test_generalization_gap"),
        **{f"first_layer_{key}": first.get(key) for key in FIRST_LAYER_KEYS},
        "kernels_l1": dig(metrics, "weights", "kernels", "l1"),
        "kernels_l2": dig(metrics, "weights", "kernels", "l2"),
        **{f"boundary_{key}": dig(metrics, "boundary", key) for key in BOUNDARY_KEYS},
        **{key: dig(metrics, "inputs", key) for key in INPUT_KEYS},
        "train_seconds": dig(metrics, "timing", "train_seconds"),
    }


def summary_columns(swept: Sequence[str]) -> list[str]:
    """summary.csv's columns, in order, for these swept fields (those of :func:`summary_row`'s rows)."""
    return ["run", "experiment", "variant", "status", *swept, *SUMMARY_SETTINGS, *result_columns({}), "error"]


def summary_row(
    config: RunConfig, metrics: Mapping[str, Any], swept: Sequence[str], label: str | None = None
) -> dict[str, Any]:
    """One run's summary.csv row from its resolved config and its metrics.json mapping (as saved: non-finite
    numbers null); ``swept`` gives the swept columns (empty where this run did not sweep a field), ``label``
    the ``run`` cell (default: the run's name). The keys are :func:`summary_columns` ``(swept)``."""
    sweep = rundir.run_sweep(config, metrics)
    row: dict[str, Any] = {"run": label or config.name, "experiment": config.experiment}
    row["variant"] = rundir.run_variant(config, metrics)
    row["status"] = rundir.run_status(metrics)
    row |= {field: _cell(sweep.get(field)) for field in swept}
    row |= {key: get(config) for key, get in SUMMARY_SETTINGS.items()}
    row |= result_columns(metrics)
    row["error"] = rundir.run_error(metrics)
    return row


def summary_rows(runs: Sequence[LoadedRun]) -> list[dict[str, Any]]:
    """One summary.csv row per run (:func:`summary_row`), all with the same columns.

    ``run`` (its label), ``experiment``, ``variant``, ``status``, one column per swept field (its
    dotted path; empty where a run did not sweep it), the settings, the final metrics, the first
    layer's weight stats, ``kernels_l1``/``kernels_l2``, ``train_seconds`` and ``error`` (a failed
    run's message; its metric columns are empty). Non-finite numbers are None (empty cells).
    """
    swept = sweep_fields(runs)
    return [summary_row(run.config, run.metrics, swept, run.label) for run in runs]


def report_columns(rows: Sequence[Mapping[str, Any]], swept: Sequence[str]) -> list[str]:
    """The report table's columns: REPORT_COLUMNS with the swept fields after ``status``; ``variant``
    only when it varies and says more than the run's name, ``error`` only when a run failed."""
    same_variant = len({r["variant"] for r in rows}) == 1 or all(r["variant"] == r["run"] for r in rows)
    columns = [c for c in REPORT_COLUMNS if not (c == "variant" and same_variant)]
    columns = [c for c in columns if not (c == "error" and not any(r["error"] for r in rows))]
    at = columns.index("status") + 1
    return columns[:at] + [f for f in swept if f not in columns] + columns[at:]


# ---------------------------------------------------------------- summary.csv while an experiment runs


class SummaryTable:
    """summary.csv while the runs finish: a row per run (from its config and metrics), appended as it comes in,
    the whole file rewritten in config order once every run's row is in (or at :meth:`finish`), and then
    ``on_finish`` called with those rows (the experiment's selection.json is made from them)."""

    def __init__(
        self,
        runs: list[RunConfig],
        exp_dir: Path,
        kept: dict[str, dict[str, Any]],
        on_finish: Callable[[list[dict[str, Any]]], object] | None = None,
    ) -> None:
        self.configs = {cfg.name: cfg for cfg in runs}
        self.on_finish = on_finish
        self.exp_dir = exp_dir
        # the swept columns come from the configs: known before any run has finished
        self.swept = swept_columns(cfg.sweep for cfg in runs)
        self.rows = {name: self._row(name, metrics) for name, metrics in kept.items()}
        self.appender: rundir.SummaryAppender | None = None

    def _row(self, name: str, metrics: dict[str, Any]) -> dict[str, Any]:
        return summary_row(self.configs[name], metrics, self.swept)

    def begin(self) -> None:
        """summary.csv with its header and the kept runs' rows (config order), ready for appending."""
        if len(self.rows) == len(self.configs):
            self.finish()
            return
        kept = [self.rows[name] for name in self.configs if name in self.rows]
        self.appender = rundir.SummaryAppender(self.exp_dir, summary_columns(self.swept), kept)

    def add(self, name: str, metrics: dict[str, Any]) -> None:
        """A run has finished: append its row (one line, in one write); the last one rewrites the file."""
        self.rows[name] = row = self._row(name, metrics)
        if self.appender is not None:
            self.appender.append(row)
        if len(self.rows) == len(self.configs):
            self.finish()

    def finish(self) -> None:
        """Rewrite summary.csv atomically, in config order, from the rows in memory (no run folder is read)."""
        self.close()
        rows = [self.rows[name] for name in self.configs if name in self.rows]
        rundir.write_summary(rows, self.exp_dir, summary_columns(self.swept))
        if self.on_finish is not None:
            self.on_finish(rows)

    def close(self) -> None:
        if self.appender is not None:
            self.appender.close()
            self.appender = None


@contextlib.contextmanager
def closing(table: SummaryTable | None) -> Iterator[None]:
    """Close summary.csv's appender on any exit (an interrupted experiment keeps the rows appended so far)."""
    try:
        yield
    finally:
        if table is not None:
            table.close()
