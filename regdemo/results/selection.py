"""Choosing a swept value from summary rows (a config's ``select:`` section): the least mean, and the
one-standard-error rule; the choice written to the experiment's selection.json.

Per value of the field (the runs :class:`regdemo.config.selectspec.ResolvedSelection` names for it: every
seed, and every fold of ``dataset.cv``), the metric's mean over those runs, their standard deviation
(``ddof=1``) and the standard error of the mean, ``sd/√n``. Then:

- ``least_mean``: the value with the least mean (the first of equal ones);
- ``one_standard_error``: the largest value whose mean is at most the least mean plus *its* standard error
  (Hastie, Tibshirani & Friedman, *The Elements of Statistical Learning*, §7.10: the simplest model within
  one standard error of the best). For a strength such as λ, larger is simpler. With one run per value
  there is no standard error and it is ``least_mean``.

Runs that failed or have no finite figure are left out (``n`` counts the rest); a value none of whose runs
has a figure takes no part. Pure but for :func:`select_experiment`, which writes the file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from regdemo.config.selectspec import ResolvedSelection
from regdemo.results import rundir
from regdemo.results.checks import Row, float_or_nan

RULE_WORDS = {
    "least_mean": "the value with the least mean",
    "one_standard_error": "the largest value whose mean is within one standard error of the least mean",
}


def _row(value: float, figures: Sequence[float], runs: int) -> dict[str, Any]:
    v = np.asarray([f for f in figures if math.isfinite(f)], dtype=np.float64)
    sd = float(v.std(ddof=1)) if v.size >= 2 else math.nan
    mean = float(v.mean()) if v.size else math.nan
    return {
        "value": value,
        "mean": mean,
        "sd": sd,
        "se": sd / math.sqrt(v.size) if v.size >= 2 else math.nan,
        "n": int(v.size),
        "runs": runs,
    }


def choose(spec: ResolvedSelection, rows: Sequence[Row]) -> dict[str, Any]:
    """The selection of ``spec`` on summary ``rows``: ``{field, metric, table, chosen, rules}``, ``table`` one
    row per value (``value``, ``mean``, ``sd``, ``se``, ``n`` figures, ``runs`` named), ``chosen`` maps each rule
    to its value (None when no value has a figure)."""
    by_run = {str(row["run"]): row for row in rows}

    def figure(name: str) -> float:
        row = by_run.get(name)
        return math.nan if row is None or row.get("status") == "failed" else float_or_nan(row.get(spec.metric))

    table = [_row(value, [figure(n) for n in names], len(names)) for value, names in spec.values.items()]
    measured = [row for row in table if row["n"]]
    chosen: dict[str, float | None] = {"least_mean": None, "one_standard_error": None}
    if measured:
        best = min(measured, key=lambda row: row["mean"])
        reach = best["mean"] + (best["se"] if math.isfinite(best["se"]) else 0.0)
        chosen["least_mean"] = best["value"]
        chosen["one_standard_error"] = max(row["value"] for row in measured if row["mean"] <= reach)
    return {"field": spec.field, "metric": spec.metric, "table": table, "chosen": chosen, "rules": RULE_WORDS}


def chosen_values(selection: Mapping[str, Any]) -> dict[str, float | None]:
    """A selection's (or a read selection.json's) rule → chosen value."""
    return dict(selection.get("chosen", {}))


def select_experiment(exp_dir: Path, spec: ResolvedSelection | None, rows: Sequence[Row]) -> dict[str, Any]:
    """Write the experiment's selection.json from ``rows`` (or, without a select: section, remove a stale one);
    return what was written ({} for none)."""
    if spec is None:
        rundir.drop_selection(exp_dir)
        return {}
    selection = choose(spec, rows) | {"spec": spec.to_dict()}
    rundir.write_selection(selection, exp_dir)
    return selection
