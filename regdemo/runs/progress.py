"""The progress display of ``regdemo run``, owned by the runner for every backend (local and Ray alike), on stderr.

On a terminal it is rich's live display: overall runs done, and what each worker is training (epochs). Where no
terminal is (stderr redirected to a file or a CI log, or ``$CI`` set, as CI services set it) a redrawn display
would leave its frames and box-drawing characters in the log, so it is one plain line per finished run instead:
``[3/12] l2 completed  val_accuracy 0.9125  generalization_gap 0.0342  elapsed 0:00:41  left ~0:02:44``
(the time left estimated from the runs finished so far). :func:`display` chooses; ``--quiet`` shows neither.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from collections.abc import Mapping
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from regdemo.results.summary import is_number, result_columns

KEY_FIGURES = ("val_accuracy", "generalization_gap")  # the two summary columns a plain line shows


class Display(Protocol):
    """What the runner calls: a context manager told of epochs (:data:`~regdemo.runs.backends.WorkerEpochs`) and
    of each finished run."""

    def __enter__(self) -> Display: ...

    def __exit__(self, *exc: object) -> None: ...

    def epochs(self, worker: object, run: str, done: int, total: int) -> None: ...

    def run_done(self, name: str, status: str, metrics: Mapping[str, Any]) -> None: ...


def plain_wanted() -> bool:
    """No terminal to redraw on: stderr is not a terminal, or ``$CI`` is set (to anything but ''/0/false)."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or not sys.stderr.isatty()


def display(total: int, enabled: bool) -> Display:
    """The display for ``total`` runs: none unless ``enabled``; plain lines where no terminal is, else rich's."""
    if not enabled:
        return LiveDisplay(total, enabled=False)
    return PlainDisplay(total) if plain_wanted() else LiveDisplay(total)


class LiveDisplay:
    """rich's live display: overall runs done, and what each worker is training (epochs)."""

    def __init__(self, total: int, enabled: bool = True) -> None:
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

    def __enter__(self) -> LiveDisplay:
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

    def run_done(self, name: str, status: str, metrics: Mapping[str, Any]) -> None:
        self._progress.advance(self._overall)


def clock(seconds: float) -> str:
    """Seconds as rich's elapsed column shows them: ``0:02:44``."""
    return str(datetime.timedelta(seconds=round(seconds)))


def plain_line(done: int, total: int, name: str, status: str, metrics: Mapping[str, Any], elapsed: float) -> str:
    """One finished run as a log line: ``[done/total] name status``, its :data:`KEY_FIGURES` (a failed run: its
    error's first line), the time since the display began and an estimate of the time left."""
    if status == "failed":
        error = str(metrics.get("error", "")).strip().splitlines()
        figures = f"error: {error[0][:100]}" if error else "error"
    else:
        row = result_columns(metrics)
        figures = "  ".join(f"{key} {_figure(row[key])}" for key in KEY_FIGURES)
    left = elapsed / done * (total - done)
    return f"[{done}/{total}] {name} {status}  {figures}  elapsed {clock(elapsed)}  left ~{clock(left)}"


def _figure(value: Any) -> str:
    return f"{value:.4g}" if is_number(value) else "n/a"


class PlainDisplay:
    """One line on stderr per finished run (:func:`plain_line`); epochs are not shown."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.started = time.monotonic()

    def __enter__(self) -> PlainDisplay:
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def epochs(self, worker: object, run: str, done: int, total: int) -> None:
        pass

    def run_done(self, name: str, status: str, metrics: Mapping[str, Any]) -> None:
        self.done += 1
        line = plain_line(self.done, self.total, name, status, metrics, time.monotonic() - self.started)
        print(line, file=sys.stderr, flush=True)
