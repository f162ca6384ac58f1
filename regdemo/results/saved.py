"""An experiment folder read back for Python and Jupyter: :class:`ExperimentResults` and its
:class:`RunResults`, their numbers as pandas DataFrames, and their display (rich HTML in Jupyter, text elsewhere).

:class:`ExperimentResults` is what :func:`regdemo.run` and :func:`regdemo.load` return; the config's
:class:`regdemo.config.ExperimentConfig` is the runs a YAML file asks for. Everything is read from
the saved files through :mod:`regdemo.results.rundir` (the one owner of their names and formats), lazily and
once: no TensorFlow, no model is loaded, nothing is written. IPython is optional: :meth:`ExperimentResults.show`
uses it when it is there.
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from regdemo.config.schema import RunConfig
from regdemo.errors import RunFolderError
from regdemo.results import rundir
from regdemo.results.checks import FAILS, measured_text
from regdemo.results.summary import report_columns, summary_columns
from regdemo.textsafe import excerpt

CHECK_COLUMNS = ("name", "claim", "verdict", "measured", "rule")
TEXT_COLUMNS = ("error",)  # summary.csv columns kept as text even when every cell is empty
SHOWN_ROWS = 60  # summary rows shown inline; the DataFrame itself holds them all


# ---------------------------------------------------------------- summary.csv's text cells as typed columns


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def typed_column(cells: Sequence[str], text: bool = False) -> np.ndarray | list[str]:
    """One summary.csv column (cell texts, shape (rows,)) as numbers where every cell is one.

    Integers stay int64 unless a cell is empty; numbers with an empty cell (a failed run's metric, a
    diverged run's non-finite figure) are float64 with NaN there; ``True``/``False`` columns are bool.
    Python's ``float`` parses each cell, so every number is the one written (summary.csv writes repr).
    A column of empty cells only is NaN (no test rows, no early stopping), unless ``text``. Anything
    else (names, ``16-8``, a swept list as JSON, error text) stays the text as written.
    """
    filled = [c for c in cells if c != ""]
    if text or not cells:
        return list(cells)
    if len(filled) == len(cells) and set(filled) <= {"True", "False"}:
        return np.array([c == "True" for c in cells], dtype=bool)
    if len(filled) == len(cells) and all(_int(c) is not None for c in cells):
        return np.array([int(c) for c in cells], dtype=np.int64)
    numbers = [_float(c) if c != "" else math.nan for c in cells]
    if any(n is None for n in numbers):
        return list(cells)
    return np.array(numbers, dtype=np.float64)


def summary_frame(rows: Sequence[Mapping[str, str]]) -> pd.DataFrame:
    """summary.csv's rows (:func:`regdemo.results.rundir.read_summary`) as a DataFrame: one row per run in the
    file's order, ``run`` a column like the others, the file's columns in its order, typed per column."""
    columns = list(rows[0]) if rows else []
    typed = {c: typed_column([row[c] for row in rows], text=c in TEXT_COLUMNS) for c in columns}
    return pd.DataFrame(typed, columns=columns)


def checks_frame(entries: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """checks.json's entries as a DataFrame of :data:`CHECK_COLUMNS` (``measured`` as ``regdemo check``
    prints it: each rule's mean over seeds with its 95 % interval); empty, with those columns, for none."""
    records = [
        {**{c: entry.get(c, "") for c in CHECK_COLUMNS}, "measured": measured_text(entry.get("figures", []))}
        for entry in entries
    ]
    return pd.DataFrame(records, columns=list(CHECK_COLUMNS))


def shown_columns(summary: pd.DataFrame) -> list[str]:
    """The columns report.html's summary table shows (:func:`regdemo.results.summary.report_columns`): the run,
    its status, swept fields, regularizer and the main figures. Swept fields are the columns summary.csv
    has beyond its fixed ones."""
    fixed = set(summary_columns([]))
    swept = [c for c in summary.columns if c not in fixed]
    rows = summary[[c for c in ("run", "variant", "error") if c in summary.columns]].to_dict("records")
    return [c for c in report_columns(rows, swept) if c in summary.columns] if rows else list(summary.columns)


def _figure_key(path: Path) -> tuple[str, int]:
    """compare_boundaries.png, _2, …, _10 in page order (not 1, 10, 2)."""
    match = re.fullmatch(r"(.*?)(?:_(\d+))?\.png", path.name)
    stem, page = (match.group(1), int(match.group(2) or 1)) if match else (path.name, 1)
    return stem, page


def _img(path: Path) -> str:
    """A PNG file as an inline ``<img>`` whose source is the PNG itself (base64), once it is found to be a
    regular file of its folder with a PNG signature; else a line saying why it is not shown."""
    try:
        data = base64.b64encode(rundir.read_png(path.parent, path.name)).decode("ascii")
    except RunFolderError as exc:
        return f"<p>{html.escape(excerpt(str(exc), 300))}</p>"
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.name)}" style="max-width:100%">'


# ---------------------------------------------------------------- one run


class RunResults:
    """One run folder read back, each file on first use: ``metrics`` (metrics.json as a dict), ``history``
    (history.csv as a DataFrame), ``config`` (config.yaml as the validated :class:`regdemo.config.schema.RunConfig`;
    ``.to_dict()`` for a plain dict), ``status``, ``error`` and ``path``."""

    def __init__(self, path: Path) -> None:
        rundir.check_run_dir(path)
        self.path = path
        self.name = path.name

    @cached_property
    def metrics(self) -> dict[str, Any]:
        """metrics.json as written (non-finite numbers are None, as in the file)."""
        return rundir.read_metrics(self.path)

    @cached_property
    def config(self) -> RunConfig:
        return rundir.read_config(self.path)

    @cached_property
    def history(self) -> pd.DataFrame:
        """history.csv: one row per epoch run, its columns (``epoch`` from 1, then the per-epoch numbers);
        no rows for a failed run."""
        if self.status == "failed" or not os.path.lexists(self.path / rundir.HISTORY):
            return pd.DataFrame(columns=["epoch"])
        columns = rundir.read_history(self.path)
        epochs = len(next(iter(columns.values()))) if columns else 0
        return pd.DataFrame({"epoch": np.arange(1, epochs + 1), **columns})

    @property
    def status(self) -> str:
        return rundir.run_status(self.metrics)

    @property
    def error(self) -> str:
        return rundir.run_error(self.metrics)

    @property
    def plots(self) -> list[Path]:
        """The run's own PNGs that exist (boundary, loss, weights; a link among them is listed, and refused
        where it would be read)."""
        return [self.path / name for name in rundir.RUN_PLOTS if os.path.lexists(self.path / name)]

    def __repr__(self) -> str:
        return f"<regdemo Run {self.name!r} ({self.status}) at {self.path}>"

    def _repr_html_(self) -> str:
        head = f"<h4>{html.escape(self.name)} ({html.escape(self.status)})</h4>"
        body = f"<pre>{html.escape(self.error)}</pre>" if self.error else "".join(_img(p) for p in self.plots)
        return head + body


class Runs(Mapping[str, RunResults]):
    """RunResults name → :class:`RunResults`, in summary.csv's order; each run is read when first asked for."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._paths = {path.name: path for path in paths}
        self._loaded: dict[str, RunResults] = {}

    def __getitem__(self, name: str) -> RunResults:
        if name not in self._loaded:
            self._loaded[name] = RunResults(self._paths[name])  # KeyError for an unknown name, as a dict
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __repr__(self) -> str:
        return f"<regdemo Runs: {', '.join(self._paths)}>"


# ---------------------------------------------------------------- the experiment


class ExperimentResults:
    """An experiment folder read back (what :func:`regdemo.run` and :func:`regdemo.load` return).

    ``summary``: summary.csv as a DataFrame (one row per run, ``run`` a column, numbers typed);
    ``runs``: run name → :class:`RunResults`; ``checks``: checks.json as a DataFrame (name, claim, verdict,
    measured, rule; empty when the config has no checks); ``failed_checks``: the names of those that do
    not hold; ``figures``: the comparison PNGs. In Jupyter the experiment shows itself (tables and
    figures inline); :meth:`show` does the same anywhere, as text without IPython.
    """

    def __init__(self, path: Path) -> None:
        if not (path / rundir.SUMMARY).is_file():
            raise RunFolderError(f"{path}: not a regdemo experiment folder (no {rundir.SUMMARY})")
        self.path = path
        self.name = path.name

    @cached_property
    def summary(self) -> pd.DataFrame:
        return summary_frame(rundir.read_summary(self.path))

    @cached_property
    def runs(self) -> Runs:
        return Runs(rundir.find_runs(self.path))

    @cached_property
    def checks(self) -> pd.DataFrame:
        return checks_frame(rundir.read_checks(self.path).get("checks", []))

    @property
    def failed_checks(self) -> list[str]:
        """The names of the checks that do not hold (what makes ``regdemo run`` exit 3)."""
        return [str(name) for name in self.checks.loc[self.checks["verdict"] == FAILS, "name"]]

    @property
    def figures(self) -> list[Path]:
        """The comparison figures in the folder: compare_*.png (pages in order), then sweep_*.png."""
        return rundir.comparison_figures(self.path, _figure_key)

    def figure(self, name: str) -> Path:
        """The comparison figure called ``name`` (with or without ``.png``); KeyError naming those there are."""
        found = {p.name: p for p in self.figures}
        key = name if name.endswith(".png") else f"{name}.png"
        if key not in found:
            raise KeyError(f"{self.path}: no figure {key}; there are: {', '.join(found) or 'none'}")
        return found[key]

    def _tally(self) -> str:
        counts = self.summary["status"].value_counts() if len(self.summary) else {}
        return ", ".join(f"{counts[s]} {s}" for s in ("completed", "diverged", "failed") if s in counts)

    def _verdicts(self) -> str:
        counts = self.checks["verdict"].value_counts()
        return ", ".join(f"{n} {verdict}" for verdict, n in counts.items())

    def __repr__(self) -> str:
        checks = f"; checks: {self._verdicts()}" if len(self.checks) else ""
        return f"<regdemo Experiment {self.name!r} at {self.path}: {len(self.summary)} runs ({self._tally()}){checks}>"

    def _repr_html_(self) -> str:
        """Jupyter's rich display: name, runs, the checks and summary tables, the comparison figures inline."""
        parts = [
            f"<h3>regdemo experiment {html.escape(self.name)}</h3>",
            f"<p>{len(self.summary)} runs ({html.escape(self._tally())}) "
            f"in <code>{html.escape(str(self.path))}</code></p>",
        ]
        if len(self.checks):
            parts += ["<h4>checks</h4>", self.checks.to_html(index=False)]
        table = self.summary[shown_columns(self.summary)]
        parts += [
            f"<h4>summary</h4><p>the main columns; all {self.summary.shape[1]} are in <code>.summary</code></p>",
            table.to_html(index=False, max_rows=SHOWN_ROWS, na_rep=""),
        ]
        if figures := self.figures:
            parts += ["<h4>comparison figures</h4>", *(_img(p) for p in figures)]
        return "\n".join(parts)

    def text(self) -> str:
        """The experiment as plain text: the one-line description, the checks and summary tables, the figures."""
        parts = [repr(self)]
        with pd.option_context("display.width", 200, "display.max_columns", 12, "display.max_colwidth", 60):
            if len(self.checks):
                parts += ["", "checks:", self.checks.to_string(index=False)]
            table = self.summary[shown_columns(self.summary)]
            parts += ["", "summary:", table.to_string(index=False, max_rows=SHOWN_ROWS, na_rep="")]
        if figures := self.figures:
            parts += ["", "figures:", *(f"  {p}" for p in figures)]
        return "\n".join(parts)

    def show(self) -> None:
        """Display the experiment: its rich form under IPython/Jupyter, else print :meth:`text`."""
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            get_ipython = None
        if get_ipython is not None and get_ipython() is not None:
            display(self)
        else:
            print(self.text())
