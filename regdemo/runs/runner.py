"""Many runs: plan against what is on disk (resume), hand the runs to a backend, show the progress, and keep
summary.csv as they finish.

Each run folder appears whole or not at all (see :func:`regdemo.runs.one_run.execute_run`); a rerun of the
same config skips every completed run whose resolved config is identical and finishes the rest.
How runs are trained (local worker processes, Ray tasks) is a backend's business (:mod:`regdemo.runs.backends`);
the progress display (:mod:`regdemo.runs.progress`) and summary.csv (:class:`regdemo.results.summary.SummaryTable`)
are the runner's, the same for every backend. The comparison figures are drawn from the run folders at the
end (by the backend's workers).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regdemo.config.loading import ExperimentConfig
from regdemo.config.schema import RunConfig
from regdemo.errors import RunConflict
from regdemo.options import RunOptions
from regdemo.results import rundir
from regdemo.results.lock import lock_experiment
from regdemo.results.selection import select_experiment
from regdemo.results.storage import clean_leftovers
from regdemo.results.summary import SummaryTable, closing
from regdemo.runs.backends import Backend, Job, local
from regdemo.runs.progress import display

DEFAULTS = RunOptions()


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


def plan(experiment: ExperimentConfig, exp_dir: Path, force: bool) -> Plan:
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


def choose_backend(options: RunOptions) -> Backend:
    """The backend ``options.backend`` names (``"local"`` or ``"ray"``)."""
    if options.backend == "ray":
        from regdemo.runs.backends import ray as ray_backend  # the optional extra: imported only when chosen

        return ray_backend.execute
    return local.execute


def execute(
    experiment: ExperimentConfig,
    out_root: Path,
    options: RunOptions = DEFAULTS,
    *,
    summarize: bool = False,
    say: Callable[[str], None] = print,
    locked: bool = False,
) -> Outcome:
    """Train every run of ``experiment`` not already complete in ``out_root/<name>/``, as ``options`` say
    (:class:`regdemo.options.RunOptions`, already checked).

    ``summarize`` writes summary.csv as runs finish (all planned runs, skipped ones included; see
    :class:`SummaryTable`), once it is complete the config's select: choice (selection.json, or none: a stale
    one is removed), then draws the comparison figures from the run folders (by the workers, when there
    are several; their grid pages as ``options.grids`` says). With ``options.backend`` ``"ray"`` the runs are
    Ray tasks instead of local processes; planning, statuses and summary are the same. Everything happens
    holding the experiment's lock: another process holding it raises :class:`regdemo.errors.ExperimentLocked`,
    or with ``options.wait`` is waited for; with ``locked`` the caller holds it already (to write more after
    the runs: see :func:`regdemo.api.run_experiment`). ``say`` prints the runner's notes (runs skipped, a lock
    waited for).
    """
    exp_dir = out_root / experiment.name
    # one writer per experiment: see regdemo.results.lock
    with contextlib.nullcontext() if locked else lock_experiment(exp_dir, options.wait, say):
        work = plan(experiment, exp_dir, options.force)
        backend = choose_backend(options)
        exp_dir.mkdir(parents=True, exist_ok=True)
        clean_leftovers(exp_dir)
        if work.skipped:
            say(f"skipping {len(work.skipped)} completed run(s) with identical config; {len(work.todo)} to run")
        statuses = dict(work.skipped)  # read once, by the plan
        run_dirs = [exp_dir / cfg.name for cfg in experiment.runs]
        # summary.csv complete: the select: section's choice (selection.json), before the figures mark it
        choose = functools.partial(select_experiment, exp_dir, experiment.select)
        table = SummaryTable(experiment.runs, exp_dir, work.kept_metrics, choose) if summarize else None
        with display(len(work.todo), options.progress) as shown:
            job = Job(work.todo, exp_dir, options, run_dirs if summarize else (), shown.epochs)
            if table is not None:
                table.begin()
            # closing: an exception here (Ctrl-C) stops the backend's work at once, not when the generator is collected
            with contextlib.closing(backend(job)) as finished, closing(table):
                for name, status, metrics in finished:
                    statuses[name] = status
                    if table is not None:
                        table.add(name, metrics)
                    shown.run_done(name, status, metrics)
        if table is not None and table.appender is not None:  # a backend that yielded fewer runs than it was given
            table.finish()
    ordered = {cfg.name: statuses[cfg.name] for cfg in experiment.runs}
    return Outcome(exp_dir, ordered, len(work.skipped))
