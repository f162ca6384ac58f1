"""Two experiments compared, for CI (``regdemo diff``): runs only in one side, settings and statuses that
differ, metrics beyond tolerance, and how much the decision boundaries disagree.

A side is an experiment folder or a bare summary.csv (a baseline committed to a repo). The metrics come
from summary.csv alone and the boundaries from plot_data.npz's grid arrays alone, so two 10,000-run
experiments compare in seconds: no run is loaded, no model, no TensorFlow. Files are read through
:mod:`regdemo.results.rundir` (summary rows when a side is loaded; config.yaml texts and grid arrays while
comparing); what counts as a difference is decided by pure functions (:mod:`regdemo.results.tolerance`,
:func:`config_changes`, :func:`flipped_fraction`). Rendering the result is :mod:`regdemo.results.diffview`'s.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from regdemo.config.schema import RunConfig
from regdemo.config.yamlfile import load_yaml
from regdemo.errors import ConfigError, RunFolderError
from regdemo.results import rundir
from regdemo.results.diffgrid import BoundaryChange, boundary_changes, flipped_fraction, unreadable
from regdemo.results.tolerance import Tolerance, beyond, delta, differs

__all__ = ["BoundaryChange", "Diff", "MetricChange", "NotCompared", "SettingChange", "difference", "flipped_fraction"]

# summary.csv columns that name a run rather than measure it (a failed run's message is compared
# through its status, and timings are never the same twice).
IDENTITY = ("run", "experiment", "variant", "status", "error")
# summary.csv's layout: identity, swept fields and settings come first, the results from this column on.
FIRST_RESULT = "epochs_run"
# config.yaml keys that name a run rather than set it up (its folder's and experiment's names: a renamed
# experiment still compares). Variant and sweep values show through the settings that they set.
NAMING_KEYS = ("name", "experiment", "variant", "sweep")


def is_timing(column: str) -> bool:
    """``train_seconds`` and any other ``*_seconds`` column: never compared."""
    return column.endswith("_seconds")


# ---------------------------------------------------------------- a side: summary rows (+ its folder)


@dataclass(frozen=True)
class Side:
    """One side of a comparison: summary.csv's rows by run name, and the experiment folder if there is one.

    ``columns`` is summary.csv's header; ``rows`` maps a run's name to ``{column: cell text}``.
    """

    path: Path
    folder: Path | None
    columns: list[str]
    rows: dict[str, dict[str, str]]

    def settings_columns(self) -> list[str]:
        """Swept fields and settings: the columns before the results, identity left out."""
        head = self.columns[: self.columns.index(FIRST_RESULT)]
        return [c for c in head if c not in IDENTITY]

    def result_columns(self) -> list[str]:
        """The columns from the results on, identity and timings left out (numeric or not)."""
        tail = self.columns[self.columns.index(FIRST_RESULT) :]
        return [c for c in tail if c not in IDENTITY and not is_timing(c)]

    def run_dir(self, run: str) -> Path | None:
        """The run's folder when this side is an experiment folder holding it (with its metrics and config)."""
        if self.folder is None:
            return None
        path = self.folder / run
        return path if rundir.is_run_dir(path) and os.path.lexists(path / rundir.CONFIG) else None

    def missing(self, run: str) -> str | None:
        """Why this side, an experiment folder, has no usable folder for a run its summary lists (None when
        it has one, or this side is a bare summary.csv)."""
        if self.folder is None or self.run_dir(run) is not None:
            return None
        path = self.folder / run
        if path.is_symlink():
            return "its run folder is a link"
        if not path.is_dir():
            return "its run folder is missing"
        lacking = rundir.METRICS if not (path / rundir.METRICS).is_file() else rundir.CONFIG
        return f"its run folder is incomplete (no {lacking})"


def load_side(path: Path) -> Side:
    """Read an experiment folder's summary.csv (or a summary.csv given directly) as a :class:`Side`.

    Raises :class:`RunFolderError` with one line naming the path: missing, a run folder rather than an
    experiment, no summary.csv, unreadable, or not a regdemo summary.csv.
    """
    try:
        if path.is_dir():
            folder, summary = path, path / rundir.SUMMARY
            if rundir.is_run_dir(path):
                raise RunFolderError(f"{path}: a run folder; give its experiment folder ({path.parent})")
            if not summary.is_file():
                if rundir.find_runs(path):
                    hint = f"write one with: regdemo compare {path}/* --out {path}"
                    raise RunFolderError(f"{path}: no {rundir.SUMMARY} (an interrupted run?); {hint}")
                raise RunFolderError(f"{path}: not a regdemo experiment folder (no {rundir.SUMMARY} and no runs)")
        elif path.is_file():
            folder, summary = None, path
        else:
            raise RunFolderError(f"{path}: no such experiment folder or summary.csv")
    except OSError as exc:
        raise RunFolderError(f"{path}: unreadable: {exc.strerror or exc}") from None
    rows = rundir.read_summary(summary, names=True)  # a run cell is joined to a folder: a name only
    if not rows:
        raise RunFolderError(f"{summary}: no runs in it (empty, or a header only)")
    columns = list(rows[0])
    for needed in ("run", "status", FIRST_RESULT):
        if needed not in columns:
            raise RunFolderError(f"{summary}: not a regdemo summary.csv (no {needed!r} column)")
    by_run: dict[str, dict[str, str]] = {}
    for row in rows:
        if row["run"] in by_run:
            raise RunFolderError(f"{summary}: run {row['run']!r} appears twice")
        by_run[row["run"]] = row
    return Side(path, folder, columns, by_run)


# ---------------------------------------------------------------- numbers (pure)


def parse_cell(cell: str) -> float | None:
    """A summary cell as a number: None for an empty cell; ValueError for text."""
    return None if cell == "" else float(cell)


def _value(row: Mapping[str, str], metric: str) -> float | None:
    """A run's metric: None where the cell is empty, missing, or (a metric named with --metrics) text."""
    try:
        return parse_cell(row.get(metric, ""))
    except ValueError:
        return None


# ---------------------------------------------------------------- what differs


@dataclass(frozen=True)
class MetricChange:
    run: str
    metric: str
    base: float | None
    new: float | None
    delta: float | None
    beyond: bool


@dataclass(frozen=True)
class SettingChange:
    """A setting (a config field, or a summary.csv settings column) or the status that differs."""

    run: str
    field: str
    base: str
    new: str


@dataclass(frozen=True)
class NotCompared:
    """A run, or its boundary, that could not be compared: ``what`` (``run`` or ``boundary``) and why."""

    run: str
    what: str
    reason: str


@dataclass
class Diff:
    """The whole comparison. Lists hold only what differs (``metrics``: delta ≠ 0 or beyond;
    ``boundaries``: disagreement ≠ 0 or not comparable); the counts say how much was compared."""

    base: Path
    new: Path
    tolerance: Tolerance
    runs_compared: list[str]
    only_in_base: list[str]
    only_in_new: list[str]
    metrics_compared: list[str]
    metrics_only_in_base: list[str] = field(default_factory=list)
    metrics_only_in_new: list[str] = field(default_factory=list)
    statuses: list[SettingChange] = field(default_factory=list)
    settings: list[SettingChange] = field(default_factory=list)
    metrics: list[MetricChange] = field(default_factory=list)
    boundaries: list[BoundaryChange] = field(default_factory=list)
    boundaries_compared: int = 0
    not_compared: list[NotCompared] = field(default_factory=list)

    @property
    def beyond_metrics(self) -> list[MetricChange]:
        return [m for m in self.metrics if m.beyond]

    @property
    def within_tolerance(self) -> bool:
        """Nothing beyond tolerance: no run only in one side, none that could not be compared (its folder
        missing or incomplete, its boundary missing or of another shape), no status or setting changed, no
        metric or boundary beyond tolerance."""
        return not (
            self.not_compared
            or self.only_in_base
            or self.only_in_new
            or self.statuses
            or self.settings
            or self.beyond_metrics
            or any(b.beyond for b in self.boundaries)
        )


def _numeric(side: Side, column: str) -> bool:
    """Whether every non-empty cell of ``column`` reads as a number."""
    try:
        for row in side.rows.values():
            parse_cell(row.get(column, ""))
    except ValueError:
        return False
    return True


def choose_metrics(base: Side, new: Side, wanted: Sequence[str] | None) -> tuple[list[str], list[str], list[str]]:
    """(metrics to compare, numeric results only in base, only in new).

    By default every numeric result column both sides have (timings and settings never are);
    ``wanted`` restricts to those named, in that order, each a result column of at least one side
    (else :class:`RunFolderError`, naming the choices). A named metric one side lacks compares as empty.
    """
    in_base = [c for c in base.result_columns() if _numeric(base, c)]
    in_new = [c for c in new.result_columns() if _numeric(new, c)]
    only_base = [c for c in in_base if c not in in_new]
    only_new = [c for c in in_new if c not in in_base]
    shared = [c for c in in_base if c in in_new]
    if wanted is None:
        return shared, only_base, only_new
    known = list(dict.fromkeys(in_base + in_new))
    for name in wanted:
        if name not in known:
            raise RunFolderError(f"--metrics {name}: not a metric of {base.path} or {new.path} ({', '.join(known)})")
    return list(dict.fromkeys(wanted)), [], []


def metric_changes(
    base: Side, new: Side, runs: Sequence[str], metrics: Sequence[str], tol: Tolerance
) -> list[MetricChange]:
    """Every (run, metric) whose values differ at all, in run then metric order."""
    changes = []
    for run in runs:
        b_row, n_row = base.rows[run], new.rows[run]
        for metric in metrics:
            b, n = _value(b_row, metric), _value(n_row, metric)
            if differs(b, n):
                changes.append(MetricChange(run, metric, b, n, delta(b, n), beyond(b, n, tol)))
    return changes


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as ``{dotted.path: value}`` (lists stay values)."""
    if not isinstance(data, Mapping):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return flat


def _show(value: Any) -> str:
    """A config value as one short line: strings as they are, the rest as JSON (``[128, 128]``, ``null``)."""
    return value if isinstance(value, str) else json.dumps(value)


def _config_data(text: str, source: str = rundir.CONFIG) -> Any:
    """A config.yaml text as data, through the config loader's bounds (a received config.yaml is hostile
    input) and the schema when it validates: fields added to regdemo since it was written take their
    defaults (as resume compares them), so a new default field is no change. Raises :class:`ConfigError`."""
    data = load_yaml(text, source)[0] or {}
    try:
        return RunConfig.model_validate(data).to_dict()
    except ValidationError:
        return data


def config_changes(run: str, base_text: str, new_text: str) -> list[SettingChange]:
    """The fields of two config.yaml texts that differ (naming keys left out); a missing field is ''."""
    if base_text == new_text:
        return []
    return _changes(run, _config_data(base_text), _config_data(new_text))


def _changes(run: str, base_data: Any, new_data: Any) -> list[SettingChange]:
    b, n = flatten(base_data), flatten(new_data)
    keys = [k for k in dict.fromkeys([*b, *n]) if k.split(".")[0] not in NAMING_KEYS]
    return [
        SettingChange(run, k, _show(b[k]) if k in b else "", _show(n[k]) if k in n else "")
        for k in keys
        if k not in b or k not in n or b[k] != n[k]
    ]


def setting_changes(base: Side, new: Side, run: str, folders: tuple[Path, Path] | None) -> list[SettingChange]:
    """A run's settings that differ: its config.yaml fields when both sides have its folder (``folders``)
    with one, else the settings columns of the two summaries."""
    if folders is not None:
        texts = [rundir.read_text(run_dir, rundir.CONFIG) for run_dir in folders]  # bounded, no link followed
        if texts[0] == texts[1]:
            return []
        data = []
        for run_dir, text in zip(folders, texts, strict=True):
            try:
                data.append(_config_data(text, str(run_dir / rundir.CONFIG)))
            except ConfigError as exc:
                raise unreadable(run_dir, rundir.CONFIG, exc) from None
        return _changes(run, *data)
    b_row, n_row = base.rows[run], new.rows[run]
    columns = dict.fromkeys([*base.settings_columns(), *new.settings_columns()])
    cells = [(c, b_row.get(c, ""), n_row.get(c, "")) for c in columns]
    return [SettingChange(run, c, b, n) for c, b, n in cells if b != n]


# ---------------------------------------------------------------- the comparison


def difference(base: Side, new: Side, tol: Tolerance | None = None, metrics: Sequence[str] | None = None) -> Diff:
    """Compare two sides: runs matched by name (base's order), then statuses, settings, metrics and,
    where both sides are experiment folders holding the run, boundaries (default tolerance: Tolerance())."""
    tol = tol or Tolerance()
    shared = [run for run in base.rows if run in new.rows]
    sides = (("base", base), ("new", new))
    missing = [
        NotCompared(run, "run", f"{name}: {why}")
        for run in shared
        for name, side in sides
        if (why := side.missing(run))
    ]
    shared = [run for run in shared if run not in {m.run for m in missing}]  # never counted as compared
    chosen, only_base, only_new = choose_metrics(base, new, metrics)
    result = Diff(
        base=base.path,
        new=new.path,
        tolerance=tol,
        runs_compared=shared,
        only_in_base=[run for run in base.rows if run not in new.rows],
        only_in_new=[run for run in new.rows if run not in base.rows],
        metrics_compared=chosen,
        metrics_only_in_base=only_base,
        metrics_only_in_new=only_new,
    )
    folders = {run: (base.run_dir(run), new.run_dir(run)) for run in shared}
    pairs = {run: (b, n) for run, (b, n) in folders.items() if b is not None and n is not None}
    failed = {run for run in shared if "failed" in (base.rows[run]["status"], new.rows[run]["status"])}
    for run in shared:
        b_status, n_status = base.rows[run]["status"], new.rows[run]["status"]
        if b_status != n_status:
            result.statuses.append(SettingChange(run, "status", b_status, n_status))
        result.settings += setting_changes(base, new, run, pairs.get(run))
    result.metrics = metric_changes(base, new, shared, chosen, tol)
    # a failed run has no boundary: nothing to compare (its status differs, or both failed)
    drawn = {run: dirs for run, dirs in pairs.items() if run not in failed}
    result.boundaries, why_not, result.boundaries_compared = boundary_changes(drawn, tol)
    result.not_compared = missing + [NotCompared(run, "boundary", why) for run, why in why_not.items()]
    return result
