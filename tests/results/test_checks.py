"""Checks: the schema resolved against runs, and the evaluator on hand-made summary rows."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from regdemo.cli import main
from regdemo.config.checkspec import CheckConfig, SelectionError, resolve, rule_from_dict
from regdemo.results import checks

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


def _rows(values: dict[str, float], metric: str = "window_generalization_gap", **extra) -> list[dict]:
    return [{"run": run, "status": "completed", metric: value, **extra} for run, value in values.items()]


def _judge(check: CheckConfig, rows: list[dict], smoke: bool = False) -> checks.CheckResult:
    return checks.evaluate([resolve(check, RUNS, "checks[0]")], rows, smoke)[0]


GAPS = {"none-s1": 0.8, "none-s2": 0.9, "none-s3": 0.85, "l2-s1": 0.3, "l2-s2": 0.35, "l2-s3": 0.25}


def test_threshold_holds_with_every_seed_and_the_interval_clear_of_it() -> None:
    result = _judge(_check(metric="window_generalization_gap", runs={"variant": "none"}, at_least=0.1), _rows(GAPS))
    assert result.verdict == "holds"
    part = result.figures[0]
    assert part["per_seed"] == {"1": 0.8, "2": 0.9, "3": 0.85}
    values = [0.8, 0.9, 0.85]
    low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert part["aggregate"]["ci_low"] == pytest.approx(low) and part["aggregate"]["ci_high"] == pytest.approx(high)
    assert (part["aggregate"]["min"], part["aggregate"]["max"], part["aggregate"]["n"]) == (0.8, 0.9, 3)
    assert result.rule == "window_generalization_gap of (variant=none) ≥ 0.1"


def test_threshold_that_no_seed_meets_does_not_hold() -> None:
    result = _judge(_check(metric="window_generalization_gap", runs={"variant": "l2"}, below=0.1), _rows(GAPS))
    assert result.verdict == "does not hold"
    assert checks.failing([result]) == ["c"]


def test_seeds_that_disagree_are_inconclusive() -> None:
    gaps = GAPS | {"l2-s2": 0.05}  # one lucky seed under 0.1
    assert (
        _judge(_check(metric="window_generalization_gap", runs={"variant": "l2"}, below=0.1), _rows(gaps)).verdict
        == "inconclusive"
    )


def test_an_interval_straddling_the_threshold_is_inconclusive_even_when_every_seed_agrees() -> None:
    gaps = GAPS | {"l2-s1": 0.11, "l2-s2": 0.5, "l2-s3": 0.12}  # all ≥ 0.1, but the t interval reaches below it
    values = [0.11, 0.5, 0.12]
    low, _ = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert low < 0.1
    assert (
        _judge(_check(metric="window_generalization_gap", runs={"variant": "l2"}, at_least=0.1), _rows(gaps)).verdict
        == "inconclusive"
    )


def test_a_missing_or_failed_run_is_not_measured() -> None:
    rows = _rows({k: v for k, v in GAPS.items() if k != "none-s2"})
    assert (
        _judge(_check(metric="window_generalization_gap", runs={"variant": "none"}, at_least=0.1), rows).verdict
        == "not measured"
    )
    rows = _rows(GAPS)
    rows[0] |= {"status": "failed", "window_generalization_gap": ""}
    assert (
        _judge(_check(metric="window_generalization_gap", runs={"variant": "none"}, at_least=0.1), rows).verdict
        == "not measured"
    )


def test_difference_is_paired_by_seed() -> None:
    result = _judge(
        _check(
            metric="window_generalization_gap",
            runs={"variant": "l2"},
            versus={"variant": "none"},
            difference={"below": 0},
        ),
        _rows(GAPS),
    )
    assert result.verdict == "holds"
    assert result.figures[0]["per_seed"] == pytest.approx({"1": -0.5, "2": -0.55, "3": -0.6})


def test_ratio_and_strings_from_summary_csv() -> None:
    rows = [
        {"run": k, "status": "completed", "window_generalization_gap": repr(v)} for k, v in GAPS.items()
    ]  # csv gives strings
    result = _judge(
        _check(
            metric="window_generalization_gap",
            runs={"variant": "l2"},
            versus={"variant": "none"},
            ratio={"at_most": 0.5},
        ),
        rows,
    )
    assert result.verdict == "holds"
    assert result.figures[0]["per_seed"]["1"] == pytest.approx(0.3 / 0.8)


def test_metric_difference_of_two_columns() -> None:
    rows = [{"run": r["name"], "status": "completed", "first_layer_max": 2.0, "first_layer_min": -1.0} for r in RUNS]
    result = _judge(_check(metric="first_layer_max - first_layer_min", runs={"variant": "none"}, at_least=3.0), rows)
    assert result.verdict == "holds" and result.figures[0]["aggregate"]["mean"] == 3.0


def test_trend_is_spearman_per_seed() -> None:
    length = {f"w{w}-s{s}": w * (1 + 0.1 * s) for w in (1, 10, 100) for s in (1, 2, 3)}
    trend = {"along": "model.hidden_units", "spearman_at_least": 0.9}
    result = _judge(
        _check(metric="boundary_contour_length", runs={"variant": "wide"}, trend=trend),
        _rows(length, "boundary_contour_length"),
    )
    assert result.verdict == "holds" and result.figures[0]["per_seed"] == {"1": 1.0, "2": 1.0, "3": 1.0}
    falling = {k: -v for k, v in length.items()}
    assert (
        _judge(
            _check(metric="boundary_contour_length", runs={"variant": "wide"}, trend=trend),
            _rows(falling, "boundary_contour_length"),
        ).verdict
        == "does not hold"
    )
    decreasing = trend | {"direction": "decreasing"}
    assert (
        _judge(
            _check(metric="boundary_contour_length", runs={"variant": "wide"}, trend=decreasing),
            _rows(falling, "boundary_contour_length"),
        ).verdict
        == "holds"
    )


def test_reduce_over_several_runs_of_a_seed() -> None:
    length = {f"w{w}-s{s}": float(w) for w in (1, 10, 100) for s in (1, 2, 3)}
    check = _check(metric="boundary_contour_length", runs={"variant": "wide"}, reduce="max", at_least=100)
    assert _judge(check, _rows(length, "boundary_contour_length")).verdict == "holds"


def test_all_rules_must_hold() -> None:
    holds = {"metric": "window_generalization_gap", "runs": {"variant": "none"}, "at_least": 0.1}
    fails = {"metric": "window_generalization_gap", "runs": {"variant": "l2"}, "at_most": 0.1}
    assert _judge(_check(all=[holds, holds]), _rows(GAPS)).verdict == "holds"
    result = _judge(_check(all=[holds, fails]), _rows(GAPS))
    assert result.verdict == "does not hold"
    assert [p["verdict"] for p in result.figures] == ["holds", "does not hold"]
    assert checks.combine(["holds", "inconclusive", "does not hold", "not measured"]) == "not measured"


def test_smoke_reports_figures_and_never_fails() -> None:
    result = _judge(
        _check(metric="window_generalization_gap", runs={"variant": "l2"}, below=0.1), _rows(GAPS), smoke=True
    )
    assert result.verdict == "smoke" and checks.failing([result]) == []
    assert result.figures[0]["verdict"] == "does not hold"  # the figures are still judged


def test_resolved_rules_survive_json() -> None:
    check = resolve(
        _check(
            metric="window_generalization_gap",
            runs={"variant": "l2"},
            versus={"variant": "none"},
            difference={"below": 0},
        ),
        RUNS,
        "c",
    )
    rule = check.rules[0]
    assert rule_from_dict(rule.to_dict()) == rule
    assert rule.runs == {1: ["l2-s1"], 2: ["l2-s2"], 3: ["l2-s3"]}


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        (
            {"metric": "window_generalization_gap", "runs": {"variant": "nope"}, "at_least": 0},
            SelectionError,
            "matches no run",
        ),
        (
            {"metric": "window_generalization_gap", "runs": {"model.nope": 1}, "at_least": 0},
            SelectionError,
            "no such field",
        ),
        (
            {"metric": "window_generalization_gap", "runs": {"variant": "wide"}, "at_least": 0},
            SelectionError,
            "give reduce",
        ),
        ({"metric": "window_generalization_gap", "runs": {"variant": "none"}}, ValidationError, "give one rule"),
        (
            {"metric": "window_generalization_gap", "runs": {"variant": "none"}, "at_least": 0, "below": 1},
            ValidationError,
            "give one rule",
        ),
        (
            {"metric": "window_generalization_gap", "runs": {"variant": "none"}, "versus": {"variant": "l2"}},
            ValidationError,
            "exactly one of",
        ),
        (
            {"metric": "window_generalization_gap", "runs": {"variant": "none"}, "at_least": "0.1"},
            ValidationError,
            "at_least",
        ),
        ({"metric": "window_gap", "runs": {"variant": "none"}, "at_least": 0}, ValidationError, "unknown metric"),
        ({"metric": "first_layer_max - nope", "runs": {"variant": "none"}, "at_least": 0}, ValidationError, "'nope'"),
    ],
)
def test_malformed_checks_are_refused(fields, error, message) -> None:
    with pytest.raises(error, match=message):
        resolve(_check(**fields), RUNS, "checks[0]")


def test_one_seed_is_judged_on_its_own_figure() -> None:
    runs = [r for r in RUNS if r["seed"] == 1]
    check = resolve(
        _check(metric="window_generalization_gap", runs={"variant": "none"}, at_least=0.1), runs, "checks[0]"
    )
    result = checks.evaluate([check], _rows(GAPS))[0]
    assert result.verdict == "holds" and result.figures[0]["aggregate"]["n"] == 1
    assert math.isnan(result.figures[0]["aggregate"]["ci_low"])  # no spread from one seed


# ---------------------------------------------------------------- in a config, `regdemo run` and `regdemo check`

CHECKED = """\
name: ck
seed: 3
dataset: {kind: moons, n_samples: 60, noise: 0.2, random_state: 1, validation_split: 0.25}
model: {hidden_units: [8], regularizer: {kind: none, lambda: 0.0}}
training: {epochs: 5, batch_size: 16}
plots: {boundary: {resolution: 12}}
runs:
  - name: none
  - name: l2
    model: {regularizer: {kind: l2, lambda: 0.01}}
sweep:
  seed: [1, 2, 3]  # two seeds give a t interval 9 standard deviations wide: inconclusive
checks:
  - name: l2_has_a_penalty
    claim: With L2 the kernels have weight
    metric: kernels_l2
    runs: {variant: l2}
    above: 0
  - name: none_has_a_penalty
    claim: Without a regularizer there is a penalty (false on purpose)
    metric: penalty
    runs: {variant: none}
    above: 0
"""


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> tuple[Path, Path]:
    """The CHECKED experiment run once: (config, experiment folder)."""
    root = tmp_path_factory.mktemp("checked")
    config = root / "ck.yaml"
    config.write_text(CHECKED, encoding="utf-8")
    assert main(["run", str(config), "--out", str(root / "out"), "--quiet", "--workers", "1"]) == 3
    return config, root / "out" / "ck"


def test_run_judges_the_checks_and_exits_3_when_one_does_not_hold(checked, capsys) -> None:
    _, exp = checked
    saved = json.loads((exp / "checks.json").read_text())
    assert [(c["name"], c["verdict"]) for c in saved["checks"]] == [
        ("l2_has_a_penalty", "holds"),
        ("none_has_a_penalty", "does not hold"),
    ]
    rows = {r["run"]: r for r in csv.DictReader((exp / "summary.csv").open())}
    per_seed = saved["checks"][0]["figures"][0]["per_seed"]
    assert per_seed == {str(s): float(rows[f"l2__seed-{s}"]["kernels_l2"]) for s in (1, 2, 3)}
    assert saved["checks"][0]["rule"] == "kernels_l2 of (variant=l2) > 0"


def test_check_judges_again_from_the_saved_files_alone(checked, tmp_path, capsys) -> None:
    _, exp = checked
    copy = tmp_path / "ck"
    shutil.copytree(exp, copy)
    assert main(["check", str(copy)]) == 3
    assert main(["check", str(copy), "--no-fail-checks"]) == 0
    # edit the saved numbers: the verdict follows summary.csv, nothing is retrained
    rows = list(csv.DictReader((copy / "summary.csv").open()))
    for row in rows:
        row["penalty"] = row["kernels_l2"] = "0.5"
    with (copy / "summary.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    capsys.readouterr()
    assert main(["check", str(copy), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| claim | measured | verdict | rule |") and "| holds |" in out


def test_check_imports_no_tensorflow(checked) -> None:
    _, exp = checked
    code = (
        "import sys; from regdemo.cli import main; status = main(['check', sys.argv[1], '--no-fail-checks']); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; sys.exit(status)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(exp)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_check_with_a_config_and_under_smoke(checked, tmp_path, capsys) -> None:
    config, exp = checked
    copy = tmp_path / "ck"
    shutil.copytree(exp, copy)
    (copy / "checks.json").unlink()
    assert main(["check", str(copy)]) == 2
    assert "no checks to judge" in capsys.readouterr().err
    assert main(["check", str(copy), "--config", str(config)]) == 3
    assert main(["check", str(copy), "--config", str(config), "--smoke"]) == 0
    assert {c["verdict"] for c in json.loads((copy / "checks.json").read_text())["checks"]} == {"smoke"}


def test_a_smoke_run_reports_and_never_fails(checked, tmp_path) -> None:
    config, _ = checked
    assert main(["run", str(config), "--out", str(tmp_path), "--quiet", "--workers", "1", "--smoke"]) == 0
    saved = json.loads((tmp_path / "ck" / "checks.json").read_text())
    assert saved["smoke"] is True and {c["verdict"] for c in saved["checks"]} == {"smoke"}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("    above: 0\n", "    above: 0\n    colour: red\n"), r"ck.yaml:19: checks\[0\].colour: unknown key"),
        (("metric: kernels_l2", "metric: kernel_l2"), r"ck.yaml:16: checks\[0\].metric: unknown metric 'kernel_l2'"),
        (("runs: {variant: l2}", "runs: {variant: l3}"), r"ck.yaml:17: checks\[0\].runs: matches no run"),
        (("    claim: With L2 the kernels have weight\n", ""), r"ck.yaml:14: checks\[0\].claim: required"),
        (
            ("above: 0\n  - name: none", "above: '0'\n  - name: none"),
            r"ck.yaml:18: checks\[0\].above: must be a number",
        ),
        (("name: none_has_a_penalty", "name: l2_has_a_penalty"), r"ck.yaml:19: checks\[1\].name: duplicate check"),
    ],
)
def test_bad_checks_exit_2_naming_file_line_and_field(tmp_path, capsys, edit, expected) -> None:
    config = tmp_path / "ck.yaml"
    config.write_text(CHECKED.replace(*edit), encoding="utf-8")
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and re.search(expected, err), err


def test_report_shows_the_checks_first(checked, tmp_path) -> None:
    _, exp = checked
    copy = tmp_path / "ck"
    shutil.copytree(exp, copy)
    assert main(["report", str(copy)]) == 0
    page = (copy / "report.html").read_text()
    assert page.index('id="checks"') < page.index('id="summary-section"')
    table = page[page.index('id="checks-table"') : page.index("</table>", page.index('id="checks-table"'))]
    assert '<td class="verdict holds">holds</td>' in table
    assert '<td class="verdict does-not-hold">does not hold</td>' in table
    assert "kernels_l2 of (variant=l2) &gt; 0" in table


def test_check_on_damaged_files_is_one_line_exit_2(checked, tmp_path, capsys) -> None:
    _, exp = checked
    for damaged, text in (("checks.json", "{not json"), ("summary.csv", "run,status\nx,completed,extra\n")):
        copy = tmp_path / damaged
        shutil.copytree(exp, copy)
        (copy / damaged).write_text(text)
        capsys.readouterr()
        assert main(["check", str(copy)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and str(copy / damaged) in err, err


def test_a_check_may_name_exactly_the_summary_result_columns() -> None:
    from regdemo.columns import RESULT_COLUMNS
    from regdemo.results.summary import result_columns

    assert tuple(result_columns({})) == RESULT_COLUMNS  # one list: what summary.csv has is what checks accept


def test_escape_sequences_in_a_received_checks_json_reach_no_terminal(checked, tmp_path, capsys, monkeypatch) -> None:
    _, exp = checked
    monkeypatch.setenv("COLUMNS", "300")  # rich's table: no cell wrapped
    copy = tmp_path / "ck"
    shutil.copytree(exp, copy)
    saved = json.loads((copy / "checks.json").read_text())
    saved["checks"][1]["claim"] = "x\x1b[2J\x1b]0;owned\x07\x9b31m"
    saved["checks"][1]["name"] = "bad\x1b[31mname"
    (copy / "checks.json").write_text(json.dumps(saved))
    capsys.readouterr()
    assert main(["check", str(copy)]) == 3
    shown = capsys.readouterr()
    for stream in (shown.out, shown.err):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", stream)
    assert "bad\\x1b[31mname" in shown.out and "bad\\x1b[31mname" in shown.err
