"""Backends: what trains an experiment's runs, behind one small interface.

A backend is a function ``execute(job) -> iterator of RunDone`` (:class:`Backend`), given a :class:`Job`:

- ``job.todo``: the runs to train (already planned: the runner decided which runs a resume keeps);
- ``job.exp_dir``: the experiment folder, which exists; each run goes to ``exp_dir / cfg.name``;
- ``job.options``: the command's :class:`regdemo.options.RunOptions`, whole (each backend reads the fields
  it needs: workers, tensorboard, grids, ray_address);
- ``job.summarize``: run folders whose comparison figures are drawn into ``exp_dir`` after the runs;
- ``job.on_epochs``: called as epochs finish, where the backend can see them.

It yields a :class:`RunDone` (status ``"completed"``, ``"diverged"``, ``"failed"``, ...; metrics the run's
metrics.json mapping as saved, which the runner makes its summary.csv row from) once that run's folder is
written whole, in the order runs finish; a run that raises or whose worker dies is a ``failed`` folder, never an
exception. With ``job.summarize`` the backend draws their comparison figures into ``exp_dir`` after the last
run, before the iterator ends (:func:`summary_share`; summary.csv is the runner's). Closing the iterator early
(Ctrl-C, or any exception in the caller) stops the work at once and leaves only whole run folders.

The backends: :mod:`regdemo.runs.backends.local` (worker processes on this machine, or this process for one
worker) and :mod:`regdemo.runs.backends.ray` (Ray tasks; the optional ``ray`` extra). None of them imports
the runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from regdemo.config.schema import RunConfig
from regdemo.options import RunOptions
from regdemo.results import rundir

DEFAULTS = RunOptions()

WorkerEpochs = Callable[[object, str, int, int], None]
"""Epoch progress of a run in flight: ``(worker, run name, epochs done, epochs in all)``; ``worker`` is any
hashable that tells the backend's workers apart."""


def _ignore_epochs(worker: object, run: str, done: int, total: int) -> None:
    """The default :data:`WorkerEpochs`: nobody is watching."""


@dataclass(frozen=True)
class Job:
    """What a backend is asked to do (see the module docstring)."""

    todo: list[RunConfig]
    exp_dir: Path
    options: RunOptions = DEFAULTS
    summarize: Sequence[Path] = ()
    on_epochs: WorkerEpochs = _ignore_epochs

    @property
    def workers(self) -> int:
        """Workers to start: as the options ask, but no more than there are runs to do (at least one)."""
        return max(1, min(self.options.workers, len(self.todo)))


class RunDone(NamedTuple):
    """What a backend yields per run, once its folder is written whole."""

    name: str
    status: str
    metrics: dict[str, Any]
    """The run's metrics.json mapping, as saved."""


class Backend(Protocol):
    """The interface (see the module docstring)."""

    def __call__(self, job: Job) -> Iterator[RunDone]: ...


def summary_share(job: Job, shares: int = 1, share: int = 0) -> list[Path]:
    """What ``job.summarize`` asks for, or one share of it (of ``shares``, for workers drawing it between
    them): the comparison figures of those run folders (grid pages as ``job.options.grids`` says), written
    into ``job.exp_dir``; return the files. summary.csv is not among them: the runner writes it as runs finish."""
    from regdemo.draw.figures import compare_share  # drawing loads matplotlib: only when a summary is asked for

    return compare_share(job.summarize, job.exp_dir, shares, share, grids=job.options.grids, summary=False)


def finished_run(cfg: RunConfig, exp_dir: Path, status: str) -> RunDone:
    """What a backend yields for a run whose folder ``exp_dir / cfg.name`` it has just written: its metrics
    read back from that folder (a small file, still in the page cache)."""
    return RunDone(cfg.name, status, rundir.read_metrics(exp_dir / cfg.name))
