"""The Python API: :func:`run` and :func:`load`, and :func:`run_experiment`, the one train → summarize →
judge → report sequence the command line shares.

``regdemo.run(config)`` does what ``regdemo run CONFIG`` does (load the config with the memory
preflight, train what is not already complete, summarize, judge the checks into checks.json, and
write report.html) and returns the experiment folder read back: a :class:`regdemo.results.ExperimentResults`
(summary, runs, checks as pandas DataFrames; shown inline in Jupyter). ``regdemo.load(folder)`` reads
a saved experiment folder the same way, without importing TensorFlow. Nothing here prints tables or
exits: bad input raises the exception of :mod:`regdemo.errors` whose one-line message the command line
would print (or, for a bad argument, :class:`regdemo.options.OptionError`, a ValueError); a failed run and
a check that does not hold are results, not exceptions.

Pandas and the report's plotting are imported only by the functions that need them, so the command
line (which shares :func:`run_experiment`) starts no slower.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regdemo.config.loading import MAX_RUNS, ExperimentConfig, load_experiment
from regdemo.options import OptionError, RunOptions, backend_note, checked
from regdemo.results.checks import CheckResult, judge_experiment
from regdemo.results.lock import lock_experiment
from regdemo.runs.runner import Outcome, execute

if TYPE_CHECKING:
    from regdemo.results.saved import ExperimentResults


@dataclass(frozen=True)
class Finished:
    """What one ``regdemo run`` did: each run's status (:class:`regdemo.runs.runner.Outcome`), the checks
    judged (``[]`` when the config has none) and the report.html written (None unless asked for)."""

    outcome: Outcome
    checks: list[CheckResult] = field(default_factory=list)
    report: Path | None = None


def check_at_once(experiment: ExperimentConfig, options: RunOptions) -> None:
    """Raise :class:`OptionError` (``workers``) when the runs ``options.workers`` processes train at once cannot
    fit in this machine's memory together (:func:`regdemo.config.resources.at_once`); not when a cluster trains
    them. Each run alone is the config loader's preflight."""
    from regdemo.config.resources import at_once

    if not options.remote and (reason := at_once(experiment.runs, options.workers)):
        raise OptionError("workers", reason)


def run_experiment(
    experiment: ExperimentConfig, out: Path, options: RunOptions, say: Callable[[str], None] = print
) -> Finished:
    """Train ``experiment`` into ``out/<name>/`` (resuming) as ``options`` say (checked already), write
    summary.csv and the comparison figures (with ``options.tensorboard``, the HParams experiment summary too),
    judge the config's checks into checks.json, and with ``options.report`` write report.html.

    The whole of ``regdemo run`` but the printing (the command line prints the outcome and the checks'
    table). Raises what :func:`regdemo.runs.runner.execute` raises (RunConflict, ExperimentLocked,
    BackendUnavailable, RunFolderError, KeyboardInterrupt).
    """
    # The lock is held until checks.json and report.html are written: no other run rewrites the folder meanwhile.
    with lock_experiment(out / experiment.name, options.wait, say):
        return _finish(experiment, execute(experiment, out, options, summarize=True, say=say, locked=True), options)


def _finish(experiment: ExperimentConfig, outcome: Outcome, options: RunOptions) -> Finished:
    """After the runs (the lock held): the HParams summary, checks.json and report.html, as ``options`` say."""
    if options.tensorboard:  # after summary.csv: the HParams experiment summary's metrics are its result columns
        from regdemo.runs.tensorboard import write_experiment

        write_experiment(outcome.folder, experiment.runs)
    results = judge_experiment(outcome.folder, experiment.checks, experiment.smoke) if experiment.checks else []
    written = None
    if options.report:  # after the checks: the page shows checks.json first
        from regdemo.report.page import write_report  # matplotlib and the templates: only when asked for

        written = write_report(outcome.folder, grids=options.grids, fresh=True)  # figures drawn just now
    return Finished(outcome, results, written)


def run(
    config: str | os.PathLike[str],
    out: str | os.PathLike[str] = "outputs",
    *,
    sets: Mapping[str, Any] | None = None,
    workers: int = 1,
    smoke: bool = False,
    force: bool = False,
    max_runs: int = MAX_RUNS,
    report: bool = True,
    progress: bool = False,
    wait: bool = False,
    grids: bool | None = None,
) -> ExperimentResults:
    """Run the experiment of the YAML file ``config`` into ``out/<name>/``, as ``regdemo run`` does, and
    return it read back (:class:`regdemo.results.ExperimentResults`).

    ``sets`` overrides fields in every run, as ``--set``: ``{"training.epochs": 500,
    "model.hidden_units": [64, 64]}``. ``workers`` processes train (1, the default, trains in this
    process); ``smoke``, ``force``, ``max_runs``, ``wait`` and ``grids`` are the command's options; ``report``
    writes report.html; ``progress`` shows the progress bars on stderr. A rerun skips the completed runs.

    Raises :class:`regdemo.errors.ConfigError` for a bad config or override (one line, ``file:LINE:
    field: reason``, nothing written), :class:`regdemo.options.OptionError` (a ValueError) for an option that
    cannot be used, TypeError naming the argument for one of the wrong type (a dict as ``config``, a list
    as ``sets``), and RunConflict / ExperimentLocked / RunFolderError as the command line would report them.
    A failed run or a check that does not hold is no exception: see ``.summary``'s ``status`` and
    ``.checks``' ``verdict``.
    """
    from regdemo.config.resources import preflight

    path, folder = _path("config", config), _path("out", out)
    options = checked(
        RunOptions(workers=workers, force=force, progress=progress, wait=wait, report=report, grids=grids)
    )
    if not isinstance(max_runs, int) or isinstance(max_runs, bool):
        raise TypeError(f"max_runs: must be an integer (got {type(max_runs).__name__})")
    if max_runs < 1:
        raise ValueError(f"max_runs: must be >= 1 (got {max_runs})")
    if not isinstance(smoke, bool):
        raise TypeError(f"smoke: must be True or False (got {type(smoke).__name__})")
    if sets is not None and not isinstance(sets, Mapping):
        raise TypeError(
            f"sets: must be a mapping of field path to value, such as {{'training.epochs': 500}} "
            f"(got {type(sets).__name__})"
        )
    if note := backend_note():
        warnings.warn(note, stacklevel=2)
    experiment = load_experiment(path, sets, smoke, max_runs, check=preflight())
    check_at_once(experiment, options)
    done = run_experiment(experiment, folder, options)
    return load(done.outcome.folder)


def load(exp_dir: str | os.PathLike[str]) -> ExperimentResults:
    """An experiment folder (``outputs/<name>``) read back from its saved files alone, without TensorFlow:
    a :class:`regdemo.results.ExperimentResults`. Raises :class:`regdemo.errors.RunFolderError` when the
    folder is not an experiment's."""
    from regdemo.results.saved import ExperimentResults  # pandas: only for the API, not for the command line

    return ExperimentResults(_path("exp_dir", exp_dir))


def _path(argument: str, value: Any) -> Path:
    """``value`` as a Path; TypeError naming ``argument`` for anything that is not a path (a dict, None)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{argument}: must be a path (str or os.PathLike), got {type(value).__name__}")
    return Path(value)
