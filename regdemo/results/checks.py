"""Checks judged from summary rows: each rule seed by seed, then over the seeds, then a verdict.

A rule resolved by :mod:`regdemo.config.checkspec` names, per seed, the runs it reads. Each seed gives one
figure (the metric, a difference or ratio with the ``versus`` runs of the same seed, or a Spearman ρ
along a swept field), and the rule holds or not for that seed (a replicate: a seed, or a seed's fold of
``dataset.cv``, judged alike). The verdict:

- ``holds`` / ``does not hold``: every seed agrees and, with two or more seeds, the 95 % interval of
  the mean figure (Student's t) lies on that side of the threshold;
- ``inconclusive``: the seeds disagree, or the interval straddles the threshold;
- ``not measured``: a run it needs is missing, failed, or has no finite figure;
- ``smoke``: the experiment ran under ``--smoke`` (20 epochs prove the plumbing, not the science).

A check with several rules holds when all hold (``not measured`` before ``does not hold`` before
``inconclusive``). Pure (rows in, results out; the rows are summary.csv's, strings parsed), but for
:func:`judge_experiment` and :func:`saved_checks`, which read and write the experiment folder.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from regdemo.config.checkspec import Replicate, ResolvedCheck, ResolvedRule, metric_operands, rule_from_dict
from regdemo.results import rundir
from regdemo.textsafe import markdown_cell, one_line
from regdemo.train.metrics import seed_aggregate

HOLDS, FAILS, INCONCLUSIVE, NOT_MEASURED, SMOKE = "holds", "does not hold", "inconclusive", "not measured", "smoke"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, NOT_MEASURED, SMOKE)
Row = Mapping[str, Any]


def float_or_nan(value: Any) -> float:
    """A summary cell as a float: numbers as they are, numeric strings parsed, anything else (an empty
    cell, None, text) NaN: a figure that cannot be measured. (diff.parse_cell keeps empty apart, as null.)"""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def metric_value(row: Row, metric: str) -> float:
    """``metric`` of one summary row: a column, or ``"a - b"`` (the difference of two columns)."""
    values = [float_or_nan(row.get(column)) for column in metric_operands(metric)]
    return values[0] - values[1] if len(values) == 2 else values[0]


def _reduce(values: Sequence[float], how: str | None) -> float:
    """One figure from a seed's runs: the single value, or their mean/median/min/max (NaN if any is NaN)."""
    if len(values) == 1:  # the common case, tens of thousands of times in a large experiment: no numpy
        return float(values[0]) if math.isfinite(values[0]) else math.nan
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0 or not np.isfinite(x).all():
        return math.nan
    return float({"mean": np.mean, "median": np.median, "min": np.min, "max": np.max}[how or "mean"](x))


def _spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's ρ (scipy.stats.spearmanr); NaN with fewer than 3 points or a non-finite value."""
    if len(x) < 3 or not np.isfinite(y).all():
        return math.nan
    from scipy import stats

    return float(stats.spearmanr(x, y).statistic)


class _Values:
    """The metric of named runs, from rows keyed by run name; NaN for a missing or failed run."""

    def __init__(self, rows: Mapping[str, Row], metric: str) -> None:
        self.rows, self.metric = rows, metric

    def __call__(self, name: str) -> float:
        row = self.rows.get(name)
        if row is None or row.get("status") == "failed":
            return math.nan
        return metric_value(row, self.metric)


Chosen = Mapping[str, "float | None"]  # a select: section's choices (selection.json): rule → chosen value


def _kept(side: Mapping[Replicate, list[str]], by: str | None, rule: ResolvedRule, chosen: Chosen | None) -> dict:
    """A side's runs per replicate; for a ``selected:`` side (``by``) only the chosen value's (none when
    nothing was chosen: not measured)."""
    if by is None:
        return dict(side)
    value = (chosen or {}).get(by)
    return {rep: [n for n in names if value is not None and rule.values.get(n) == value] for rep, names in side.items()}


def rule_figures(rule: ResolvedRule, rows: Mapping[str, Row], chosen: Chosen | None = None) -> dict[Replicate, float]:
    """The rule's figure for each replicate (NaN where it cannot be measured); ``chosen`` gives the values a
    ``selected:`` selection keeps."""
    value = _Values(rows, rule.metric)
    if rule.chosen_by or rule.versus_chosen_by:
        runs = _kept(rule.runs, rule.chosen_by, rule, chosen)
        rule = dataclasses.replace(rule, runs=runs, versus=_kept(rule.versus, rule.versus_chosen_by, rule, chosen))
    if rule.kind == "trend":
        figures = {}
        for seed, points in rule.points.items():
            xs = sorted({x for x, _ in points})
            ys = [_reduce([value(n) for x2, n in points if x2 == x], rule.reduce) for x in xs]
            figures[seed] = _spearman(xs, ys)
        return figures
    own = {seed: _reduce([value(n) for n in names], rule.reduce) for seed, names in rule.runs.items()}
    if rule.kind == "threshold":
        return own
    other = {seed: _reduce([value(n) for n in names], rule.reduce) for seed, names in rule.versus.items()}
    seeds = [s for s in own if s in other]
    if rule.kind == "difference":
        return {s: own[s] - other[s] for s in seeds}
    return {s: own[s] / other[s] if other[s] else math.nan for s in seeds}


def passes(value: float, comparator: str, threshold: float) -> bool:
    """``value`` against ``threshold`` by one of checkspec.COMPARATORS."""
    return {
        "at_least": value >= threshold,
        "at_most": value <= threshold,
        "above": value > threshold,
        "below": value < threshold,
    }[comparator]


def verdict(figures: Mapping[int, float], comparator: str, threshold: float) -> tuple[str, dict[str, float | int]]:
    """The verdict of per-seed figures, and their aggregate (see the module docstring)."""
    values = list(figures.values())
    aggregate = seed_aggregate(values)  # 95 % t interval; NaN with one seed (no straddle to judge)
    if not values or not all(math.isfinite(v) for v in values):
        return NOT_MEASURED, aggregate
    ok = [passes(v, comparator, threshold) for v in values]
    if any(ok) and not all(ok):
        return INCONCLUSIVE, aggregate
    if aggregate["ci_low"] < threshold < aggregate["ci_high"]:
        return INCONCLUSIVE, aggregate
    return (HOLDS if all(ok) else FAILS), aggregate


def combine(verdicts: Sequence[str]) -> str:
    """All rules of one check: holds only if every rule holds."""
    for worst in (NOT_MEASURED, FAILS, INCONCLUSIVE):
        if worst in verdicts:
            return worst
    return HOLDS


@dataclass(frozen=True)
class CheckResult:
    """One check judged: its verdict and, per rule, the per-seed figures and their aggregate."""

    name: str
    claim: str
    rule: str
    verdict: str
    figures: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "claim": self.claim,
            "rule": self.rule,
            "verdict": self.verdict,
            "figures": self.figures,
        }


def evaluate(
    checks: Sequence[ResolvedCheck], rows: Sequence[Row], smoke: bool = False, chosen: Chosen | None = None
) -> list[CheckResult]:
    """Judge every check on summary ``rows`` (keyed by their ``run`` column). Under ``smoke`` the figures
    are computed as usual and every verdict is ``smoke``. ``chosen``: the select: section's choices."""
    by_run = {str(row["run"]): row for row in rows}
    results = []
    for check in checks:
        parts, verdicts = [], []
        for rule in check.rules:
            figures = rule_figures(rule, by_run, chosen)
            said, aggregate = verdict(figures, rule.comparator, rule.threshold)
            verdicts.append(said)
            per_seed = {str(seed): value for seed, value in figures.items()}
            parts.append({"rule": rule.words, "verdict": said, "per_seed": per_seed, "aggregate": aggregate})
        final = SMOKE if smoke else combine(verdicts)
        results.append(CheckResult(check.name, check.claim, check.words, final, parts))
    return results


def failing(results: Sequence[CheckResult]) -> list[str]:
    """The names of the checks that do not hold (what makes ``run`` and ``check`` exit 3)."""
    return [r.name for r in results if r.verdict == FAILS]


def measured_text(figures: Sequence[Mapping[str, Any]]) -> str:
    """A check's figures (CheckResult.figures) in a few words: each rule's mean, with its 95 % interval."""
    texts = []
    for part in figures:
        agg = part["aggregate"]
        if agg["n"] == 0 or agg["mean"] is None or not math.isfinite(agg["mean"]):  # null: non-finite
            texts.append("n/a")
        elif agg["n"] == 1:
            texts.append(f"{agg['mean']:.3g}")
        else:
            what = "replicates" if any("/" in str(key) for key in part.get("per_seed", {})) else "seeds"  # folds
            texts.append(f"{agg['mean']:.3g} (95% CI {agg['ci_low']:.3g}…{agg['ci_high']:.3g}, {agg['n']} {what})")
    return "; ".join(texts)


def as_table(results: Sequence[CheckResult]) -> list[list[str]]:
    """The results as rows of text for a terminal: check, verdict, measured, rule (the header first)."""
    rows = [["check", "verdict", "measured", "rule"]]
    table = [[r.name, r.verdict, measured_text(r.figures), r.rule] for r in results]
    return rows + [[one_line(cell) for cell in row] for row in table]  # no escape sequence reaches a terminal


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table; a ``verdict`` column other than holds is bold; every cell is data made safe by
    :func:`regdemo.textsafe.markdown_cell` (a claim's newline cannot end its row or start a heading)."""
    at = list(header).index("verdict") if "verdict" in header else -1
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [markdown_cell(c) for c in row]
        cells = [f"**{c}**" if i == at and row[i] not in (HOLDS, SMOKE) else c for i, c in enumerate(cells)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def as_markdown(results: Sequence[CheckResult]) -> str:
    """The results as a Markdown table of claim, measured, verdict and rule."""
    rows = [(r.claim, measured_text(r.figures), r.verdict, r.rule) for r in results]
    return markdown_table(("claim", "measured", "verdict", "rule"), rows)


# ---------------------------------------------------------------- an experiment folder (the one I/O here)


def judge_experiment(
    exp_dir: Path, checks: Sequence[ResolvedCheck], smoke: bool, chosen: Chosen | None = None
) -> list[CheckResult]:
    """Judge ``checks`` on the experiment's summary.csv and write its checks.json; return the results.
    ``chosen``: the select: section's choices, by default its selection.json's (if any)."""
    if chosen is None:
        chosen = rundir.read_selection(exp_dir).get("chosen", {})
    results = evaluate(checks, rundir.read_summary(exp_dir), smoke, chosen)
    rundir.write_checks(results, checks, smoke, exp_dir)
    return results


def saved_checks(exp_dir: Path) -> tuple[list[ResolvedCheck], bool]:
    """The resolved checks and the smoke flag kept in an experiment's checks.json (([], False) without one)."""
    data = rundir.read_checks(exp_dir)
    checks = [
        ResolvedCheck(c["name"], c["claim"], [rule_from_dict(rule) for rule in c["spec"]])
        for c in data.get("checks", [])
    ]
    return checks, bool(data.get("smoke", False))
