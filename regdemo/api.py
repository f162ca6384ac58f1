"""The Python API: :func:`run` and :func:`load`, and the run → judge sequence the command line shares.

``regdemo.run(config)`` does what ``regdemo run CONFIG`` does (load the config with the memory
preflight, train what is not already complete, summarize, judge the checks into checks.json, and
write report.html) and returns the experiment folder read back: a :class:`regdemo.results.Experiment`
(summary, runs, checks as pandas DataFrames; shown inline in Jupyter). ``regdemo.load(folder)`` reads
a saved experiment folder the same way, without importing TensorFlow. Nothing here prints tables or
exits: bad input raises the exception of :mod:`regdemo.errors` whose one-line message the command line
would print; a failed run and a check that does not hold are results, not exceptions.

Pandas and the report's plotting are imported only by the functions that need them, so the command
line (which shares :func:`execute`) starts no slower.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import regdemo
from regdemo.config.loading import MAX_RUNS, load_experiment
from regdemo.config.loading import Experiment as ExperimentConfig
from regdemo.errors import ConfigError
from regdemo.results.checks import CheckResult, judge_experiment
from regdemo.runs.runner import Outcome, run_experiment

if TYPE_CHECKING:
    from regdemo.results.saved import Experiment


@dataclass(frozen=True)
class Finished:
    """What one ``regdemo run`` did: each run's status (:class:`regdemo.runner.Outcome`), the checks judged
    (``[]`` when the config has none) and the report.html written (None unless asked for)."""

    outcome: Outcome
    checks: list[CheckResult] = field(default_factory=list)
    report: Path | None = None


def execute(
    experiment: ExperimentConfig,
    out: Path,
    *,
    workers: int = 1,
    force: bool = False,
    tensorboard: bool = False,
    progress: bool = True,
    backend: str = "local",
    ray_address: str | None = None,
    wait: bool = False,
    report: bool = False,
    grids: bool | None = None,
    say: Callable[[str], None] = print,
) -> Finished:
    """Train ``experiment`` into ``out/<name>/`` (resuming), write summary.csv and the comparison figures,
    judge the config's checks into checks.json, and with ``report`` write report.html. ``grids``: the
    comparison's grid pages (None: up to 36 runs; :func:`regdemo.figures.comparison_figures`).

    The whole of ``regdemo run`` but the printing (the command line prints the outcome and the checks'
    table). Raises what :func:`regdemo.runner.run_experiment` raises (RunConflict, ExperimentLocked,
    BackendUnavailable, RunFolderError, KeyboardInterrupt).
    """
    outcome = run_experiment(
        experiment,
        out,
        workers=workers,
        force=force,
        tensorboard=tensorboard,
        show_progress=progress,
        summarize=True,
        say=say,
        backend=backend,
        ray_address=ray_address,
        wait=wait,
        grids=grids,
    )
    results = judge_experiment(outcome.folder, experiment.checks, experiment.smoke) if experiment.checks else []
    written = None
    if report:  # after the checks: the page shows checks.json first
        from regdemo.report import page as report_page  # matplotlib and the templates: only when asked for

        written = report_page.write_report(outcome.folder, grids=grids, fresh=True)  # figures drawn just now
    return Finished(outcome, results, written)


# ---------------------------------------------------------------- overrides as --set text


def _yaml_text(value: Any) -> str:
    """A Python value as the YAML text ``--set`` reads back to the same value.

    JSON is YAML's flow style, but PyYAML (YAML 1.1) reads ``1e-05`` as a string: a float is written
    with a point in its mantissa (``1.0e-05``), which reads back as the same float.
    """
    if isinstance(value, float):
        if not math.isfinite(value):  # YAML's own spelling, so the schema refuses it as "must be finite"
            return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_text(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_yaml_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Path):
        value = str(value)
    return json.dumps(value)  # int, bool (true/false), None (null), str (quoted: always a string)


def set_assignments(sets: Mapping[str, Any] | None, source: str) -> list[str]:
    """``{"training.epochs": 500}`` → ``["training.epochs=500"]``: the ``--set`` texts of overrides given
    as Python values (a float, list, str or bool reads back as itself)."""
    assignments = []
    for key, value in (sets or {}).items():
        if not isinstance(key, str) or "=" in key:
            raise ConfigError(f"{source}: --set {key!r}: a key is a dotted field path such as 'training.epochs'")
        assignments.append(f"{key}={_yaml_text(value)}")
    return assignments


# ---------------------------------------------------------------- the API


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
) -> Experiment:
    """Run the experiment of the YAML file ``config`` into ``out/<name>/``, as ``regdemo run`` does, and
    return it read back (:class:`regdemo.results.Experiment`).

    ``sets`` overrides fields in every run, as ``--set``: ``{"training.epochs": 500,
    "model.hidden_units": [64, 64]}``. ``workers`` processes train (1, the default, trains in this
    process); ``smoke``, ``force``, ``max_runs``, ``wait`` and ``grids`` are the command's options; ``report``
    writes report.html; ``progress`` shows the progress bars on stderr. A rerun skips the completed runs.

    Raises :class:`regdemo.errors.ConfigError` for a bad config or override (one line, ``file:LINE:
    field: reason``, nothing written), and RunConflict / ExperimentLocked / RunFolderError as the
    command line would report them. A failed run or a check that does not hold is no exception: see
    ``.summary``'s ``status`` and ``.checks``' ``verdict``.
    """
    from regdemo.config.resources import preflight

    if workers < 1:
        raise ValueError(f"workers: must be >= 1 (got {workers})")
    if max_runs < 1:
        raise ValueError(f"max_runs: must be >= 1 (got {max_runs})")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # as the command line: before anything imports TensorFlow
    if regdemo.OVERRIDDEN_BACKEND:
        warnings.warn(f"KERAS_BACKEND={regdemo.OVERRIDDEN_BACKEND} ignored; regdemo trains on TensorFlow", stacklevel=2)
    path = Path(config)
    experiment = load_experiment(path, set_assignments(sets, str(path)), smoke, max_runs, check=preflight())
    done = execute(
        experiment, Path(out), workers=workers, force=force, progress=progress, wait=wait, report=report, grids=grids
    )
    return load(done.outcome.folder)


def load(exp_dir: str | os.PathLike[str]) -> Experiment:
    """An experiment folder (``outputs/<name>``) read back from its saved files alone, without TensorFlow:
    a :class:`regdemo.results.Experiment`. Raises :class:`regdemo.errors.RunFolderError` when the folder
    is not an experiment's."""
    from regdemo.results.saved import Experiment  # pandas: only for the API, not for the command line

    return Experiment(Path(exp_dir))
