"""Choosing λ: k-fold cross-validation as a replicate axis (dataset.cv), the select: section (least mean and the
one-standard-error rule) written to selection.json, checks that read the choice (selected:), and the choice
marked on the sweep figure and in the report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from regdemo.config.checkspec import replicate, replicate_key, replicate_order
from regdemo.config.loading import load_experiment
from regdemo.config.selectspec import ResolvedSelection
from regdemo.errors import ConfigError, RunFolderError
from regdemo.results import checks, rundir
from regdemo.results.selection import choose

CV = """\
name: cv
seed: 3
dataset: {kind: moons, n_samples: 48, noise: 0.2, random_state: 1, test_split: 0.25, cv: {folds: 3}}
model: {hidden_units: [6], regularizer: {kind: l2}}
training: {epochs: 3, batch_size: 16}
plots: {boundary: {resolution: 12}}
sweep:
  model.regularizer.lambda: [0.0, 0.01, 1.0]
select: {field: model.regularizer.lambda, metric: val_data_loss}
checks:
  - name: chosen_beats_none
    claim: the chosen λ beats none on test rows
    metric: test_data_loss
    runs: {selected: one_standard_error}
    versus: {model.regularizer.lambda: 0.0}
    difference: {below: 0}
"""


def test_folds_expand_into_replicate_runs(write_config) -> None:
    experiment = load_experiment(write_config(CV))
    names = [run.name for run in experiment.runs]
    assert names[:3] == ["lambda-0__fold-0", "lambda-0__fold-1", "lambda-0__fold-2"] and len(names) == 9
    run = experiment.runs[4]
    assert run.dataset.cv.fold == 1 and run.sweep == {"model.regularizer.lambda": 0.01, "dataset.cv.fold": 1}
    assert replicate(run.to_dict()) == "3/1" and replicate_key("3/1") == "3/1" and replicate_key("12") == 12
    assert sorted(["3/10", "3/2", 2, "10/0"], key=replicate_order) == [2, "3/2", "3/10", "10/0"]
    rule = experiment.checks[0].rules[0]
    assert rule.chosen_by == "one_standard_error" and rule.versus_chosen_by is None
    assert rule.runs["3/0"] == ["lambda-0__fold-0", "lambda-0.01__fold-0", "lambda-1__fold-0"]  # the candidates
    assert rule.versus["3/2"] == ["lambda-0__fold-2"]
    assert experiment.select.values[1.0] == ["lambda-1__fold-0", "lambda-1__fold-1", "lambda-1__fold-2"]


def test_too_many_fold_runs_are_refused(write_config) -> None:
    with pytest.raises(ConfigError, match=r"dataset.cv.folds: 9 runs with every fold, more than the limit of 5"):
        load_experiment(write_config(CV), max_runs=5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("select: {field: model.regularizer.lambda, metric: val_data_loss}", "select: {field: seed, metric: x}"),
            "select.metric: unknown metric 'x'",
        ),
        (
            (
                "select: {field: model.regularizer.lambda, metric: val_data_loss}",
                "select: {field: seed, metric: val_data_loss}",
            ),
            "select.field: not swept in run 'lambda-0__fold-0' (got 'seed')",
        ),
        (
            ("select: {field: model.regularizer.lambda, metric: val_data_loss}\n", ""),
            "checks[0].runs.selected: needs the config's select: section, which chooses a value",
        ),
        (
            ("selected: one_standard_error", "selected: best"),
            "checks[0].runs.selected: must be one of least_mean, one_standard_error (got 'best')",
        ),
    ],
)
def test_select_mistakes_are_one_line(write_config, change: tuple[str, str], message: str) -> None:
    path = write_config(CV.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    assert message in str(err.value)


def _spec() -> ResolvedSelection:
    return ResolvedSelection(
        "model.regularizer.lambda", "val_data_loss", {0.0: ["a0", "a1"], 0.1: ["b0", "b1"], 1.0: ["c0", "c1"]}
    )


def test_the_least_mean_and_the_one_standard_error_rule_by_hand() -> None:
    rows = [
        {"run": "a0", "val_data_loss": 0.50},
        {"run": "a1", "val_data_loss": 0.30},  # mean 0.40, se 0.1
        {"run": "b0", "val_data_loss": 0.46},
        {"run": "b1", "val_data_loss": 0.46},  # 0.46 ≤ 0.40 + 0.10
        {"run": "c0", "val_data_loss": 0.60},
        {"run": "c1", "val_data_loss": "0.70"},  # a text cell, as read back
    ]
    selection = choose(_spec(), rows)
    a = selection["table"][0]
    assert a["mean"] == pytest.approx(0.40) and a["sd"] == pytest.approx(math.sqrt(0.02)) and a["n"] == 2
    assert a["se"] == pytest.approx(math.sqrt(0.02) / math.sqrt(2)) == pytest.approx(0.1)
    assert selection["chosen"] == {"least_mean": 0.0, "one_standard_error": 0.1}
    rows[3]["val_data_loss"] = 0.62  # b's mean 0.54 > 0.50: out of reach
    assert choose(_spec(), rows)["chosen"] == {"least_mean": 0.0, "one_standard_error": 0.0}


def test_failed_and_missing_runs_take_no_part() -> None:
    rows = [
        {"run": "a0", "val_data_loss": 0.5, "status": "failed"},
        {"run": "a1", "val_data_loss": ""},
        {"run": "b0", "val_data_loss": 0.4},  # one figure: no standard error, so the rule is the least mean
        {"run": "c0", "val_data_loss": 0.45},
    ]
    selection = choose(_spec(), rows)
    assert [row["n"] for row in selection["table"]] == [0, 1, 1] and math.isnan(selection["table"][1]["se"])
    assert selection["chosen"] == {"least_mean": 0.1, "one_standard_error": 0.1}
    assert choose(_spec(), [])["chosen"] == {"least_mean": None, "one_standard_error": None}


def test_selection_json_is_checked_when_read(tmp_path: Path) -> None:
    assert rundir.read_selection(tmp_path) == {}
    rundir.write_selection(choose(_spec(), [{"run": "a0", "val_data_loss": 0.1}]), tmp_path)
    saved = rundir.read_selection(tmp_path)
    assert saved["chosen"] == {"least_mean": 0.0, "one_standard_error": 0.0} and saved["format"] == rundir.FORMAT
    assert saved["table"][1]["mean"] is None  # NaN as null
    for bad in (
        {"format": 1, "field": "f", "metric": "m", "table": [], "chosen": {"least_mean": "x"}},
        {"format": 99},
        [],
    ):
        (tmp_path / rundir.SELECTION).write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(RunFolderError, match=r"selection\.json: not a selection file"):
            rundir.read_selection(tmp_path)
    rundir.drop_selection(tmp_path)
    assert rundir.read_selection(tmp_path) == {}


def test_a_selected_rule_reads_the_chosen_values_runs(write_config) -> None:
    experiment = load_experiment(write_config(CV))
    test_loss = {run.name: 1.0 + run.model.regularizer.lambda_ + run.dataset.cv.fold / 10 for run in experiment.runs}
    rows = [{"run": name, "test_data_loss": value} for name, value in test_loss.items()]
    judged = checks.evaluate(experiment.checks, rows, chosen={"one_standard_error": 0.01, "least_mean": 0.0})
    per = judged[0].figures[0]["per_seed"]
    assert list(per) == ["3/0", "3/1", "3/2"]  # judged fold by fold
    assert per["3/1"] == pytest.approx(0.01)  # λ = 0.01's fold-1 run against λ = 0's fold-1 run
    assert judged[0].verdict == "does not hold"
    assert "3 replicates" in checks.measured_text(judged[0].figures)
    assert checks.evaluate(experiment.checks, rows, chosen={})[0].verdict == "not measured"  # nothing chosen yet
    assert checks.evaluate(experiment.checks, rows)[0].verdict == "not measured"


@pytest.fixture(scope="module")
def cv_experiment(tmp_path_factory) -> Path:
    """The tiny CV config run end to end (9 runs of 3 epochs, in this process), with 2 noise inputs."""
    import regdemo

    folder = tmp_path_factory.mktemp("cv")
    config = folder / "cv.yaml"
    config.write_text(CV.replace("cv: {folds: 3}}", "cv: {folds: 3}, noise_features: 2}"), encoding="utf-8")
    return regdemo.run(config, folder / "out").path


def test_the_run_writes_the_choice_judges_it_and_marks_it(cv_experiment: Path) -> None:
    summary = rundir.read_summary(cv_experiment)
    selection = rundir.read_selection(cv_experiment)
    assert selection["field"] == "model.regularizer.lambda"
    for row in selection["table"]:  # the means by hand, from summary.csv
        values = [float(r["val_data_loss"]) for r in summary if float(r["model.regularizer.lambda"]) == row["value"]]
        assert row["n"] == 3 and row["mean"] == pytest.approx(np.mean(values))
        assert row["se"] == pytest.approx(np.std(values, ddof=1) / math.sqrt(3))
    least = min(selection["table"], key=lambda row: row["mean"])
    assert selection["chosen"]["least_mean"] == least["value"]
    judged = json.loads((cv_experiment / rundir.CHECKS).read_text())["checks"][0]
    assert judged["spec"][0]["chosen_by"] == "one_standard_error" and set(judged["figures"][0]["per_seed"]) == {
        "3/0",
        "3/1",
        "3/2",
    }
    page = (cv_experiment / rundir.REPORT).read_text(encoding="utf-8")
    assert 'id="selection-table"' in page and "one_standard_error" in page
    assert (cv_experiment / "sweep_model.regularizer.lambda.png").is_file()
    assert (cv_experiment / "path_model.regularizer.lambda.png").is_file()
    assert "dataset.cv.fold" in summary[0]


def test_regdemo_check_judges_the_saved_choice_again(cv_experiment: Path) -> None:
    again = checks.judge_experiment(cv_experiment, checks.saved_checks(cv_experiment)[0], smoke=False)
    saved = json.loads((cv_experiment / rundir.CHECKS).read_text())["checks"][0]
    assert again[0].figures == saved["figures"]


def test_the_regularization_path_is_the_mean_row_norm_per_value(cv_experiment: Path) -> None:
    from regdemo.draw import paths

    runs = rundir.load_runs(rundir.find_runs(cv_experiment))
    assert paths.path_fields(runs) == ["model.regularizer.lambda"]
    (series,) = paths.path_series(runs, "model.regularizer.lambda")  # folds pooled: one series
    np.testing.assert_array_equal(series.x, [0.0, 0.01, 1.0])
    assert series.norms.shape == (3, 4) and series.informative == 2
    at = [r for r in runs if r.sweep["model.regularizer.lambda"] == 0.01]
    by_hand = np.mean([r.metrics["inputs"]["row_norms"] for r in at], axis=0)
    np.testing.assert_allclose(series.norms[1], by_hand)
    frac = np.mean([r.metrics["weights"]["layers"][0]["frac_zero"] for r in at])
    assert series.frac_zero[1] == pytest.approx(frac)
