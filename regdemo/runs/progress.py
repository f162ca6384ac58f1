"""The progress display of ``regdemo run``, owned by the runner for every backend: overall runs done, and
what each worker is training (epochs), on stderr through rich."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


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
        """A :data:`~regdemo.runs.backends.WorkerEpochs`: ``worker`` has trained ``done`` of ``run``'s ``total``
        epochs."""
        if worker not in self._slots:
            self._slots[worker] = self._progress.add_task("", total=total)
        slot = self._slots[worker]
        label = f"  worker {list(self._slots).index(worker) + 1}: {run}"[:44]
        if self._progress.tasks[slot].description != label:  # a new run: its own bar and clock
            self._progress.reset(slot, total=total, description=label)
        self._progress.update(slot, completed=done)

    def run_done(self) -> None:
        self._progress.advance(self._overall)
