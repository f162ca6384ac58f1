"""Checks: the schema resolved against runs, and the evaluator on hand-made summary rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from regdemo import checks
from regdemo.checkspec import CheckConfig, SelectionError, resolve, rule_from_dict

# Runs as RunConfig.to_dict gives them (only the fields the selections read).
RUNS = [
    {
        "name": f"{variant}-s{seed}",
        "variant": variant,
        "seed": seed,
        "model": {"hidden_units": [16], "regularizer": {"lambda": lam}},
    }
    for variant, lam in (("none", 0.0), ("l2", 0.001))
    for seed in (1, 2, 3)
] + [
    {
        "name": f"w{width}-s{seed}",
        "variant": "wide",
        "seed": seed,
        "model": {"hidden_units": [width], "regularizer": {"lambda": 0.0}},
    }
    for width in (1, 10, 100)
    for seed in (1, 2, 3)
]


def _check(**fields) -> CheckConfig:
    return CheckConfig.model_validate({"name": "c", "claim": "a claim", **fields})


def _rows(values: dict[str, float], metric: str = "gap", **extra) -> list[dict]:
    return [{"run": run, "status": "completed", metric: value, **extra} for run, value in values.items()]


def _judge(check: CheckConfig, rows: list[dict], smoke: bool = False) -> checks.CheckResult:
    return checks.evaluate([resolve(check, RUNS, "checks[0]")], rows, smoke)[0]


GAPS = {"none-s1": 0.8, "none-s2": 0.9, "none-s3": 0.85, "l2-s1": 0.3, "l2-s2": 0.35, "l2-s3": 0.25}


def test_threshold_holds_with_every_seed_and_the_interval_clear_of_it() -> None:
    result = _judge(_check(metric="gap", runs={"variant": "none"}, at_least=0.1), _rows(GAPS))
    assert result.verdict == "holds"
    part = result.figures[0]
    assert part["per_seed"] == {"1": 0.8, "2": 0.9, "3": 0.85}
    values = [0.8, 0.9, 0.85]
    low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert part["aggregate"]["ci_low"] == pytest.approx(low) and part["aggregate"]["ci_high"] == pytest.approx(high)
    assert (part["aggregate"]["min"], part["aggregate"]["max"], part["aggregate"]["n"]) == (0.8, 0.9, 3)
    assert result.rule == "gap of [variant=none] ≥ 0.1"


def test_threshold_that_no_seed_meets_does_not_hold() -> None:
    result = _judge(_check(metric="gap", runs={"variant": "l2"}, below=0.1), _rows(GAPS))
    assert result.verdict == "does not hold"
    assert checks.failing([result]) == ["c"]


def test_seeds_that_disagree_are_inconclusive() -> None:
    gaps = GAPS | {"l2-s2": 0.05}  # one lucky seed under 0.1
    assert _judge(_check(metric="gap", runs={"variant": "l2"}, below=0.1), _rows(gaps)).verdict == "inconclusive"


def test_an_interval_straddling_the_threshold_is_inconclusive_even_when_every_seed_agrees() -> None:
    gaps = GAPS | {"l2-s1": 0.11, "l2-s2": 0.5, "l2-s3": 0.12}  # all ≥ 0.1, but the t interval reaches below it
    values = [0.11, 0.5, 0.12]
    low, _ = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert low < 0.1
    assert _judge(_check(metric="gap", runs={"variant": "l2"}, at_least=0.1), _rows(gaps)).verdict == "inconclusive"


def test_a_missing_or_failed_run_is_not_measured() -> None:
    rows = _rows({k: v for k, v in GAPS.items() if k != "none-s2"})
    assert _judge(_check(metric="gap", runs={"variant": "none"}, at_least=0.1), rows).verdict == "not measured"
    rows = _rows(GAPS)
    rows[0] |= {"status": "failed", "gap": ""}
    assert _judge(_check(metric="gap", runs={"variant": "none"}, at_least=0.1), rows).verdict == "not measured"


def test_difference_is_paired_by_seed() -> None:
    result = _judge(
        _check(metric="gap", runs={"variant": "l2"}, versus={"variant": "none"}, difference={"below": 0}), _rows(GAPS)
    )
    assert result.verdict == "holds"
    assert result.figures[0]["per_seed"] == pytest.approx({"1": -0.5, "2": -0.55, "3": -0.6})


def test_ratio_and_strings_from_summary_csv() -> None:
    rows = [{"run": k, "status": "completed", "gap": repr(v)} for k, v in GAPS.items()]  # csv gives strings
    result = _judge(
        _check(metric="gap", runs={"variant": "l2"}, versus={"variant": "none"}, ratio={"at_most": 0.5}), rows
    )
    assert result.verdict == "holds"
    assert result.figures[0]["per_seed"]["1"] == pytest.approx(0.3 / 0.8)


def test_metric_difference_of_two_columns() -> None:
    rows = [{"run": r["name"], "status": "completed", "hi": 2.0, "lo": -1.0} for r in RUNS]
    result = _judge(_check(metric="hi - lo", runs={"variant": "none"}, at_least=3.0), rows)
    assert result.verdict == "holds" and result.figures[0]["aggregate"]["mean"] == 3.0


def test_trend_is_spearman_per_seed() -> None:
    length = {f"w{w}-s{s}": w * (1 + 0.1 * s) for w in (1, 10, 100) for s in (1, 2, 3)}
    trend = {"along": "model.hidden_units", "spearman_at_least": 0.9}
    result = _judge(_check(metric="length", runs={"variant": "wide"}, trend=trend), _rows(length, "length"))
    assert result.verdict == "holds" and result.figures[0]["per_seed"] == {"1": 1.0, "2": 1.0, "3": 1.0}
    falling = {k: -v for k, v in length.items()}
    assert (
        _judge(_check(metric="length", runs={"variant": "wide"}, trend=trend), _rows(falling, "length")).verdict
        == "does not hold"
    )
    decreasing = trend | {"direction": "decreasing"}
    assert (
        _judge(_check(metric="length", runs={"variant": "wide"}, trend=decreasing), _rows(falling, "length")).verdict
        == "holds"
    )


def test_reduce_over_several_runs_of_a_seed() -> None:
    length = {f"w{w}-s{s}": float(w) for w in (1, 10, 100) for s in (1, 2, 3)}
    check = _check(metric="length", runs={"variant": "wide"}, reduce="max", at_least=100)
    assert _judge(check, _rows(length, "length")).verdict == "holds"


def test_all_rules_must_hold() -> None:
    holds = {"metric": "gap", "runs": {"variant": "none"}, "at_least": 0.1}
    fails = {"metric": "gap", "runs": {"variant": "l2"}, "at_most": 0.1}
    assert _judge(_check(all=[holds, holds]), _rows(GAPS)).verdict == "holds"
    result = _judge(_check(all=[holds, fails]), _rows(GAPS))
    assert result.verdict == "does not hold"
    assert [p["verdict"] for p in result.figures] == ["holds", "does not hold"]
    assert checks.combine(["holds", "inconclusive", "does not hold", "not measured"]) == "not measured"


def test_smoke_reports_figures_and_never_fails() -> None:
    result = _judge(_check(metric="gap", runs={"variant": "l2"}, below=0.1), _rows(GAPS), smoke=True)
    assert result.verdict == "smoke" and checks.failing([result]) == []
    assert result.figures[0]["verdict"] == "does not hold"  # the figures are still judged


def test_resolved_rules_survive_json() -> None:
    check = resolve(
        _check(metric="gap", runs={"variant": "l2"}, versus={"variant": "none"}, difference={"below": 0}), RUNS, "c"
    )
    rule = check.rules[0]
    assert rule_from_dict(rule.to_dict()) == rule
    assert rule.runs == {1: ["l2-s1"], 2: ["l2-s2"], 3: ["l2-s3"]}


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"metric": "gap", "runs": {"variant": "nope"}, "at_least": 0}, SelectionError, "matches no run"),
        ({"metric": "gap", "runs": {"model.nope": 1}, "at_least": 0}, SelectionError, "no such field"),
        ({"metric": "gap", "runs": {"variant": "wide"}, "at_least": 0}, SelectionError, "give reduce"),
        ({"metric": "gap", "runs": {"variant": "none"}}, ValidationError, "give one rule"),
        ({"metric": "gap", "runs": {"variant": "none"}, "at_least": 0, "below": 1}, ValidationError, "give one rule"),
        (
            {"metric": "gap", "runs": {"variant": "none"}, "versus": {"variant": "l2"}},
            ValidationError,
            "exactly one of",
        ),
        ({"metric": "gap", "runs": {"variant": "none"}, "at_least": "0.1"}, ValidationError, "at_least"),
    ],
)
def test_malformed_checks_are_refused(fields, error, message) -> None:
    with pytest.raises(error, match=message):
        resolve(_check(**fields), RUNS, "checks[0]")


def test_seed_aggregate_edges() -> None:
    assert checks.seed_aggregate([0.5]) == {"n": 1, "mean": 0.5, "min": 0.5, "max": 0.5, "ci_low": 0.5, "ci_high": 0.5}
    assert math.isnan(checks.seed_aggregate([])["mean"])
    assert math.isnan(checks.seed_aggregate([1.0, math.nan])["mean"])
