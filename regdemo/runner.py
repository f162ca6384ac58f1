"""Many runs: plan against what is on disk (resume), run them in worker processes, then summarize.

Each run folder appears whole or not at all (see :func:`regdemo.experiment.run_one`); a rerun of the
same config skips every completed run whose resolved config is identical and finishes the rest.
The experiment's summary and comparison figures are rebuilt from the run folders at the end.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import multiprocessing
import os
import queue as queue_module
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from regdemo import rundir
from regdemo.config import Experiment, RunConfig
from regdemo.errors import RunConflict
from regdemo.lock import lock_experiment
from regdemo.storage import clean_leftovers
from regdemo.tfsetup import load_tensorflow


@dataclass
class Plan:
    """What an invocation will do: runs to train, and completed runs it keeps."""

    todo: list[RunConfig] = field(default_factory=list)
    skipped: list[RunConfig] = field(default_factory=list)


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
        (result.skipped if same and status in rundir.COMPLETE else result.todo).append(cfg)
    return result


# ---------------------------------------------------------------- progress display


class Display:
    """One rich display: overall runs done, and what each worker is training (epochs)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<44}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self._overall = self._progress.add_task("runs", total=total)
        self._slots: dict[object, TaskID] = {}

    def __enter__(self) -> Display:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def epochs(self, worker: object, run: str, done: int, total: int) -> None:
        if worker not in self._slots:
            self._slots[worker] = self._progress.add_task("", total=total)
        slot = self._slots[worker]
        label = f"  worker {list(self._slots).index(worker) + 1}: {run}"[:44]
        if self._progress.tasks[slot].description != label:  # a new run: its own bar and clock
            self._progress.reset(slot, total=total, description=label)
        self._progress.update(slot, completed=done)

    def run_done(self) -> None:
        self._progress.advance(self._overall)


# ---------------------------------------------------------------- workers

_EPOCHS: multiprocessing.Queue | None = None  # set in each worker process by _init_worker


def _exit_now() -> None:
    """A worker's last act: leave without the interpreter's teardown, which takes TensorFlow ~1.2 s
    per process while the driver waits. By then every run folder is renamed into place and
    multiprocessing has flushed the result queue (its exit function runs before atexit handlers)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _init_worker(threads: int, epochs_queue: multiprocessing.Queue) -> None:
    """Import TensorFlow once per worker process, with thread pools sized to its share of the cores."""
    global _EPOCHS
    # Ctrl-C reaches the whole process group; the driver answers it by stopping the workers. A worker
    # that took it itself would only abandon its current run and start the next one queued to it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    load_tensorflow(threads)
    _EPOCHS = epochs_queue
    atexit.register(_exit_now)  # registered last, so it runs first


def _work(cfg: RunConfig, exp_dir: Path, tensorboard: bool) -> tuple[str, str]:
    """One task in a worker: run one config, streaming epoch counts to the driver."""
    from regdemo.experiment import run_one

    pid = os.getpid()
    status = run_one(cfg, exp_dir, lambda done: _EPOCHS.put((pid, cfg.name, done, cfg.training.epochs)), tensorboard)
    return cfg.name, status


def _summary_share(run_dirs: list[Path], exp_dir: Path, shares: int, share: int) -> list[Path]:
    """One share of the experiment's summary.csv and comparison figures (see regdemo.report)."""
    from regdemo.report import compare_share

    return compare_share(run_dirs, exp_dir, shares, share)


def _drain(epochs_queue: multiprocessing.Queue, display: Display) -> None:
    with contextlib.suppress(queue_module.Empty):
        while True:
            display.epochs(*epochs_queue.get_nowait())


class Workers:
    """``n`` spawned worker processes, each with TensorFlow loaded once: they train the runs of the
    experiment in ``exp_dir``, then draw its summary between them.

    Leaving the block normally lets them exit; leaving it on an exception (Ctrl-C included) stops
    them at once, drops the queued runs and removes the half-written folders of the runs in flight.
    """

    def __init__(self, n: int, exp_dir: Path) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a process that has TensorFlow loaded
        self.n, self.exp_dir = n, exp_dir
        self.epochs: multiprocessing.Queue = context.Queue()
        threads = max(1, (os.cpu_count() or 1) // n)
        self.pool = ProcessPoolExecutor(
            n, mp_context=context, initializer=_init_worker, initargs=(threads, self.epochs)
        )

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            terminate = getattr(self.pool, "terminate_workers", None)  # Python 3.14+
            if terminate is not None:
                terminate()
            else:
                for process in list(self.pool._processes.values()):
                    process.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)
        if exc_type is not None:
            clean_leftovers(self.exp_dir)

    def run(self, todo: list[RunConfig], tensorboard: bool, display: Display) -> Iterator[tuple[str, str]]:
        """Run ``todo``; yield ``(name, status)`` as runs finish."""
        pending = {self.pool.submit(_work, cfg, self.exp_dir, tensorboard): cfg for cfg in todo}
        while pending:
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(self.epochs, display)
            for future in done:
                cfg = pending.pop(future)
                error = future.exception()
                yield (cfg.name, "failed") if error else future.result()  # a worker that died: failed

    def summarize(self, run_dirs: list[Path]) -> None:
        """summary.csv and the comparison figures, drawn by all workers at once."""
        try:
            list(self.pool.map(functools.partial(_summary_share, run_dirs, self.exp_dir, self.n), range(self.n)))
        except BrokenProcessPool:  # a worker died during the runs (its runs are failed): draw them here
            _summary_share(run_dirs, self.exp_dir, 1, 0)


def _run_here(todo: list[RunConfig], exp_dir: Path, tensorboard: bool, display: Display) -> Iterator[tuple[str, str]]:
    """Run ``todo`` one after another in this process (one worker: no pool to start)."""
    if not todo:
        return  # nothing to train: don't pay for TensorFlow
    load_tensorflow()
    from regdemo.experiment import run_one

    for cfg in todo:
        progress = lambda done, c=cfg: display.epochs("main", c.name, done, c.training.epochs)  # noqa: E731
        yield cfg.name, run_one(cfg, exp_dir, progress, tensorboard)


def _run_on_ray(
    todo: list[RunConfig], exp_dir: Path, address: str | None, workers: int, tensorboard: bool
) -> Iterator[tuple[str, str]]:
    """Run ``todo`` as Ray tasks (a local instance with ``workers`` CPUs, or the cluster at ``address``);
    yield ``(name, status)`` as runs finish. The driver writes every run folder (see regdemo.raybackend)."""
    from regdemo.raybackend import run_on_ray

    yield from run_on_ray(todo, exp_dir, address, workers, tensorboard)


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
        exp_dir.mkdir(parents=True, exist_ok=True)
        clean_leftovers(exp_dir)
        if work.skipped:
            say(f"skipping {len(work.skipped)} completed run(s) with identical config; {len(work.todo)} to run")
        statuses = {cfg.name: rundir.saved_state(exp_dir / cfg.name)[1] or "completed" for cfg in work.skipped}
        workers = max(1, min(workers, len(work.todo)))
        run_dirs = [exp_dir / cfg.name for cfg in experiment.runs]
        with Display(len(work.todo), show_progress) as display, contextlib.ExitStack() as stack:
            pool = stack.enter_context(Workers(workers, exp_dir)) if backend == "local" and workers > 1 else None
            if backend == "ray":
                finished = _run_on_ray(work.todo, exp_dir, ray_address, workers, tensorboard)
            elif pool:
                finished = pool.run(work.todo, tensorboard, display)
            else:
                finished = _run_here(work.todo, exp_dir, tensorboard, display)
            for name, status in finished:
                statuses[name] = status
                display.run_done()
            if summarize and pool:
                pool.summarize(run_dirs)
            elif summarize:
                _summary_share(run_dirs, exp_dir, 1, 0)
        ordered = {cfg.name: statuses[cfg.name] for cfg in experiment.runs}
        return Outcome(exp_dir, ordered, len(work.skipped))
