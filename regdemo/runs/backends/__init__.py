"""Backends: what runs an experiment's runs, behind one small interface.

A backend is a function ``(todo, exp_dir, options) -> iterator of (run name, status, metrics)`` (:class:`Backend`):

- ``todo``: the runs to train (a list of :class:`~regdemo.config.RunConfig`, already planned: the caller
  decided which runs a resume keeps);
- ``exp_dir``: the experiment folder, which exists; each run goes to ``exp_dir / cfg.name``;
- ``options``: :class:`Options`.

It yields ``(cfg.name, status, metrics)`` (status ``"completed"``, ``"diverged"``, ``"failed"``, ...; metrics the
run's metrics.json mapping as saved, which the runner makes its summary.csv row from) once that run's folder is
written whole, in the order runs finish; a run that raises or whose worker dies is a ``failed`` folder, never an
exception. When ``options.summarize`` names run folders, the backend draws their comparison figures into
``exp_dir`` after the last run, before the iterator ends (:func:`summary_share`; summary.csv is the runner's).
Closing the iterator early (Ctrl-C, or any exception in the caller) stops the work at once and leaves only
whole run folders.

The backends: :mod:`regdemo.backends.local` (worker processes on this machine, or this process for one worker)
and :mod:`regdemo.backends.ray` (Ray tasks; the optional ``ray`` extra). None of them imports the runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from regdemo.config.schema import RunConfig
from regdemo.results import rundir

OnEpochs = Callable[[object, str, int, int], None]
"""Epoch progress of a run in flight: ``(worker, run name, epochs done, epochs in all)``; ``worker`` is any
hashable that tells the backend's workers apart."""


def _ignore_epochs(worker: object, run: str, done: int, total: int) -> None:
    """The default :data:`OnEpochs`: nobody is watching."""


@dataclass(frozen=True)
class Options:
    """How to run: the same fields for every backend (each reads the ones it needs)."""

    workers: int = 1
    """Parallel workers: local processes, or the CPUs of a local Ray instance (the runner gives no more than
    there are runs to do)."""
    tensorboard: bool = False
    """Also write TensorBoard event files into each run folder (``<run>/tensorboard/``)."""
    summarize: Sequence[Path] = ()
    """Run folders whose comparison figures are drawn into ``exp_dir`` after the runs."""
    grids: bool | None = None
    """Draw the grid pages of the comparison (True), not (False), or up to 36 runs (None; see
    :func:`regdemo.figures.comparison_figures`)."""
    on_epochs: OnEpochs = _ignore_epochs
    """Called as epochs finish, where the backend can see them (the local one can; Ray tasks report none)."""


Finished = tuple[str, str, dict[str, Any]]
"""What a backend yields per run: ``(run name, status, metrics.json mapping)``."""


class Backend(Protocol):
    """The interface (see the module docstring)."""

    def __call__(self, todo: list[RunConfig], exp_dir: Path, options: Options) -> Iterator[Finished]: ...


def summary_share(
    run_dirs: Sequence[Path], exp_dir: Path, shares: int = 1, share: int = 0, grids: bool | None = None
) -> list[Path]:
    """What ``options.summarize`` asks for, or one share of it (of ``shares``, for workers drawing it between
    them): the comparison figures of ``run_dirs`` (grid pages as ``grids`` says), written into ``exp_dir``;
    return the files. summary.csv is not among them: the runner writes it as runs finish."""
    from regdemo.draw.figures import compare_share  # drawing loads matplotlib: only when a summary is asked for

    return compare_share(run_dirs, exp_dir, shares, share, grids=grids, summary=False)


def finished_run(cfg: RunConfig, exp_dir: Path, status: str) -> Finished:
    """What a backend yields for a run whose folder ``exp_dir / cfg.name`` it has just written: its metrics
    read back from that folder (a small file, still in the page cache)."""
    return cfg.name, status, rundir.read_metrics(exp_dir / cfg.name)
