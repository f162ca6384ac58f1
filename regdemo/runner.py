"""Many runs: plan against what is on disk (resume), hand the runs to a backend, then summarize.

Each run folder appears whole or not at all (see :func:`regdemo.experiment.run_one`); a rerun of the
same config skips every completed run whose resolved config is identical and finishes the rest.
How runs are trained (local worker processes, Ray tasks) is a backend's business (:mod:`regdemo.backends`);
the experiment's summary and comparison figures are rebuilt from the run folders at the end.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from regdemo import rundir
from regdemo.backends import Backend, Options, local
from regdemo.backends.local import Display
from regdemo.config import Experiment
from regdemo.errors import RunConflict
from regdemo.lock import lock_experiment
from regdemo.schema import RunConfig
from regdemo.storage import clean_leftovers


@dataclass
class Plan:
    """What an invocation will do: runs to train, and completed runs it keeps (run name → saved status)."""

    todo: list[RunConfig] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


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
        config, status = rundir.saved_state(run_dir)
        same = config == cfg.to_dict()
        if not same and not force:
            raise RunConflict(f"{run_dir}: holds a run with a different config; use --force to replace it")
        if same and status in rundir.COMPLETE:
            result.skipped[cfg.name] = status
        else:
            result.todo.append(cfg)
    return result


def choose_backend(name: str, ray_address: str | None = None) -> Backend:
    """The backend called ``name`` (``"local"`` or ``"ray"``; the Ray one joins ``ray_address`` if given)."""
    if name == "ray":
        from regdemo.backends import ray as ray_backend  # the optional extra: imported only when chosen

        return functools.partial(ray_backend.run, address=ray_address)
    return local.run


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
) -> Outcome:
    """Train every run of ``experiment`` not already complete in ``out_root/<name>/``, then summarize.

    ``tensorboard`` also writes TensorBoard event files into each run folder (``<run>/tensorboard/``).
    ``summarize`` then rebuilds summary.csv and the comparison figures from the run folders (all
    planned runs, skipped ones included, in config order; by the workers, when there are several).
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
        with Display(len(work.todo), show_progress) as display:
            options = Options(
                workers=max(1, min(workers, len(work.todo))),
                tensorboard=tensorboard,
                summarize=run_dirs if summarize else (),
                on_epochs=display.epochs,
            )
            # closing: an exception here (Ctrl-C) stops the backend's work at once, not when the generator is collected
            with contextlib.closing(run_with(work.todo, exp_dir, options)) as finished:
                for name, status in finished:
                    statuses[name] = status
                    display.run_done()
    ordered = {cfg.name: statuses[cfg.name] for cfg in experiment.runs}
    return Outcome(exp_dir, ordered, len(work.skipped))
