"""The local backend: runs trained in spawned worker processes on this machine (or in this process, for
one worker).

Each worker imports TensorFlow once, with thread pools sized to its share of the cores, and trains the runs
a pack at a time (:mod:`regdemo.runs.packs`) with :func:`regdemo.runs.one_run.execute_pack` (each folder
written whole); the workers then draw the comparison
figures between them (summary.csv is the runner's). Ctrl-C (or closing the iterator) stops the workers at
once and removes the half-written folders of the runs in flight.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import multiprocessing
import os
import queue as queue_module
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from regdemo.config.resources import available_memory
from regdemo.config.schema import RunConfig
from regdemo.oserrors import disk_full
from regdemo.results import rundir
from regdemo.results.storage import clean_leftovers
from regdemo.runs.backends import Job, RunDone, WorkerEpochs, finished_run, summary_share
from regdemo.runs.packs import pack_label, packs
from regdemo.train.tfsetup import load_tensorflow

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


def _work(pack: list[RunConfig], exp_dir: Path, tensorboard: bool) -> list[RunDone]:
    """One task in a worker: train one pack, streaming epoch counts to the driver; return each run's metrics
    too (read back here, in parallel, so the driver only appends the runs' summary rows)."""
    from regdemo.runs.one_run import execute_pack

    pid, label, total = os.getpid(), pack_label(pack), pack[0].training.epochs
    report = lambda done: _EPOCHS.put((pid, label, done, total))  # noqa: E731
    statuses = list(execute_pack(pack, exp_dir, report, tensorboard))
    return [finished_run(cfg, exp_dir, status) for cfg, status in zip(pack, statuses, strict=True)]


def _drain(epochs_queue: multiprocessing.Queue, on_epochs: WorkerEpochs) -> None:
    with contextlib.suppress(queue_module.Empty):
        while True:
            on_epochs(*epochs_queue.get_nowait())


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
                # Private: before Python 3.14 the executor has no public way to stop its workers mid-task.
                for process in list(self.pool._processes.values()):
                    process.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)
        if exc_type is not None:
            clean_leftovers(self.exp_dir)

    def run(self, packs: list[list[RunConfig]], tensorboard: bool, on_epochs: WorkerEpochs) -> Iterator[RunDone]:
        """Train ``packs``; yield ``(name, status, metrics)`` per run as packs finish."""
        pending = {self.pool.submit(_work, pack, self.exp_dir, tensorboard): pack for pack in packs}
        while pending:
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(self.epochs, on_epochs)
            for future in done:
                pack = pending.pop(future)
                error = future.exception()
                if error is not None and disk_full(error):
                    raise error  # a full disk fails every later run too: stop (see rundir.write_failed)
                if error is None:
                    yield from future.result()
                    continue
                for cfg in pack:  # its worker died (the pool is broken: so do the packs queued after it)
                    rundir.write_failed_whole(cfg, self.exp_dir / cfg.name, error)
                    yield finished_run(cfg, self.exp_dir, "failed")

    def summarize(self, job: Job) -> None:
        """The comparison figures of ``job.summarize``, drawn by all workers at once."""
        shares = dataclasses.replace(job, todo=[], on_epochs=_no_epochs)  # what travels to the workers
        try:
            list(self.pool.map(_summary_share, [shares] * self.n, [self.n] * self.n, range(self.n)))
        except BrokenProcessPool:  # a worker died during the runs (its runs are failed): draw them here
            summary_share(job)


def _no_epochs(worker: object, run: str, done: int, total: int) -> None:
    """The summary's job carries no progress callback to the workers (the display stays in the driver)."""


def _summary_share(job: Job, shares: int, share: int) -> list[Path]:
    return summary_share(job, shares, share)


def _run_here(job: Job, packs: list[list[RunConfig]]) -> Iterator[RunDone]:
    """Train ``packs`` one after another in this process (one worker or one pack: no pool to start)."""
    if packs:  # nothing to train: don't pay for TensorFlow
        load_tensorflow()
        from regdemo.runs.one_run import execute_pack

        for pack in packs:
            label, total = pack_label(pack), pack[0].training.epochs
            progress = lambda done, label=label, total=total: job.on_epochs("main", label, done, total)  # noqa: E731
            statuses = execute_pack(pack, job.exp_dir, progress, job.options.tensorboard)  # as each run is written
            yield from (finished_run(cfg, job.exp_dir, status) for cfg, status in zip(pack, statuses, strict=True))
    if job.summarize:
        summary_share(job)


def execute(job: Job) -> Iterator[RunDone]:
    """The local backend (see :mod:`regdemo.runs.backends`): ``job.workers`` spawned processes, or this
    process for one worker or one pack."""
    planned = packs(job.todo, job.workers, available_memory(), alone=job.options.tensorboard)
    if job.workers <= 1 or len(planned) <= 1:  # one pack: no pool to start, one TensorFlow to import
        yield from _run_here(job, planned)
        return
    with Workers(min(job.workers, len(planned)), job.exp_dir) as pool:
        yield from pool.run(planned, job.options.tensorboard, job.on_epochs)
        if job.summarize:
            pool.summarize(job)
