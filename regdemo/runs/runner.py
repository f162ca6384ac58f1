"""Many runs: plan against what is on disk (resume), hand the runs to a backend, then summarize.

Each run folder appears whole or not at all (see :func:`regdemo.experiment.run_one`); a rerun of the
same config skips every completed run whose resolved config is identical and finishes the rest.
How runs are trained (local worker processes, Ray tasks) is a backend's business (:mod:`regdemo.backends`).
summary.csv is the runner's: begun with the kept runs' rows, a row appended as each run finishes (from the
metrics the backend hands over; an interrupted experiment keeps the finished runs' rows, in the order they
finished), and rewritten once in config order when the last run is in, from the rows in memory. The
comparison figures are drawn from the run folders at the end (by the backend's workers).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regdemo.config.loading import Experiment
from regdemo.config.schema import RunConfig
from regdemo.errors import RunConflict
from regdemo.results import rundir, summary
from regdemo.results.lock import lock_experiment
from regdemo.results.storage import clean_leftovers
from regdemo.runs.backends import Backend, Options, local
from regdemo.runs.backends.local import Display


@dataclass
class Plan:
    """What an invocation will do: runs to train, and completed runs it keeps (run name → saved status)."""

    todo: list[RunConfig] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    kept_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The skipped runs' metrics.json (run name → mapping), read once, here: their summary rows."""


@dataclass
class Outcome:
    """What an invocation did: the experiment folder and each planned run's status."""

    folder: Path
    statuses: dict[str, str]
    skipped: int

    @property
    def failed(self) -> list[str]:
        return [name for name, status in self.statuses.items() if status == "failed"]


def plan(experiment: Experiment, exp_dir: Path, force: bool) -> Plan:
    """Split the runs into those to train and those already complete with an identical config.

    Raises :class:`RunConflict` (before anything is written) when a run folder holds a different
    config, unless ``force``, in which case that run is retrained and replaced.
    """
    result = Plan()
    for cfg in experiment.runs:
        run_dir = exp_dir / cfg.name
        if not run_dir.exists():
            result.todo.append(cfg)
            continue
        config, metrics = rundir.saved_run(run_dir)
        status = None if metrics is None else metrics.get("status")
        same = config == cfg.to_dict()
        if not same and not force:
            raise RunConflict(f"{run_dir}: holds a run with a different config; use --force to replace it")
        if same and status in rundir.COMPLETE:
            result.skipped[cfg.name] = status
            result.kept_metrics[cfg.name] = metrics
        else:
            result.todo.append(cfg)
    return result


def choose_backend(name: str, ray_address: str | None = None) -> Backend:
    """The backend called ``name`` (``"local"`` or ``"ray"``; the Ray one joins ``ray_address`` if given)."""
    if name == "ray":
        from regdemo.runs.backends import ray as ray_backend  # the optional extra: imported only when chosen

        return functools.partial(ray_backend.run, address=ray_address)
    return local.run


class SummaryTable:
    """summary.csv while the runs finish: a row per run (from its config and metrics), appended as it comes in,
    the whole file rewritten in config order once every run's row is in (or at :meth:`finish`)."""

    def __init__(self, runs: list[RunConfig], exp_dir: Path, kept: dict[str, dict[str, Any]]) -> None:
        self.configs = {cfg.name: cfg for cfg in runs}
        self.exp_dir = exp_dir
        # the swept columns come from the configs: known before any run has finished
        self.swept = summary.swept_columns(cfg.sweep for cfg in runs)
        self.rows = {name: self._row(name, metrics) for name, metrics in kept.items()}
        self.appender: rundir.SummaryAppender | None = None

    def _row(self, name: str, metrics: dict[str, Any]) -> dict[str, Any]:
        return summary.summary_row(self.configs[name], metrics, self.swept)

    def begin(self) -> None:
        """summary.csv with its header and the kept runs' rows (config order), ready for appending."""
        if len(self.rows) == len(self.configs):
            self.finish()
            return
        kept = [self.rows[name] for name in self.configs if name in self.rows]
        self.appender = rundir.SummaryAppender(self.exp_dir, summary.summary_columns(self.swept), kept)

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
        rundir.write_summary(rows, self.exp_dir, summary.summary_columns(self.swept))

    def close(self) -> None:
        if self.appender is not None:
            self.appender.close()
            self.appender = None


def run_experiment(
    experiment: Experiment,
    out_root: Path,
    *,
    workers: int = 1,
    force: bool = False,
    tensorboard: bool = False,
    show_progress: bool = True,
    summarize: bool = False,
    say: Callable[[str], None] = print,
    backend: str = "local",
    ray_address: str | None = None,
    wait: bool = False,
    grids: bool | None = None,
) -> Outcome:
    """Train every run of ``experiment`` not already complete in ``out_root/<name>/``, then summarize.

    ``tensorboard`` also writes TensorBoard event files into each run folder (``<run>/tensorboard/``).
    ``summarize`` writes summary.csv as runs finish (all planned runs, skipped ones included; see
    :class:`SummaryTable`), then draws the comparison figures from the run folders (by the workers, when there
    are several); ``grids``: their grid pages (None: up to 36 runs; see :func:`regdemo.figures.comparison_figures`).
    ``backend`` ``"ray"`` runs them as Ray tasks instead of local processes: on a local instance with
    ``workers`` CPUs, or on the cluster at ``ray_address``; planning, statuses and summary are the same.
    Everything happens holding the experiment's lock: another process holding it raises
    :class:`regdemo.errors.ExperimentLocked`, or with ``wait`` is waited for.
    """
    exp_dir = out_root / experiment.name
    with lock_experiment(exp_dir, wait, say):  # one writer per experiment: see regdemo.lock
        work = plan(experiment, exp_dir, force)
        run_with = choose_backend(backend, ray_address)
        exp_dir.mkdir(parents=True, exist_ok=True)
        clean_leftovers(exp_dir)
        if work.skipped:
            say(f"skipping {len(work.skipped)} completed run(s) with identical config; {len(work.todo)} to run")
        statuses = dict(work.skipped)  # read once, by the plan
        run_dirs = [exp_dir / cfg.name for cfg in experiment.runs]
        table = SummaryTable(experiment.runs, exp_dir, work.kept_metrics) if summarize else None
        with Display(len(work.todo), show_progress) as display:
            options = Options(
                workers=max(1, min(workers, len(work.todo))),
                tensorboard=tensorboard,
                summarize=run_dirs if summarize else (),
                grids=grids,
                on_epochs=display.epochs,
            )
            if table is not None:
                table.begin()
            # closing: an exception here (Ctrl-C) stops the backend's work at once, not when the generator is collected
            with contextlib.closing(run_with(work.todo, exp_dir, options)) as finished, _closing(table):
                for name, status, metrics in finished:
                    statuses[name] = status
                    if table is not None:
                        table.add(name, metrics)
                    display.run_done()
        if table is not None and table.appender is not None:  # a backend that yielded fewer runs than it was given
            table.finish()
    ordered = {cfg.name: statuses[cfg.name] for cfg in experiment.runs}
    return Outcome(exp_dir, ordered, len(work.skipped))


@contextlib.contextmanager
def _closing(table: SummaryTable | None) -> Iterator[None]:
    """Close summary.csv's appender on any exit (an interrupted experiment keeps the rows appended so far)."""
    try:
        yield
    finally:
        if table is not None:
            table.close()
