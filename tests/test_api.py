"""The Python API: regdemo.run and regdemo.load return an ExperimentResults whose DataFrames hold the saved numbers."""

from __future__ import annotations

import base64
import csv
import json
import math
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import regdemo
from regdemo.config.loading import load_experiment
from regdemo.config.overrides import parse_sets
from regdemo.errors import ConfigError, RunFolderError
from regdemo.runs import one_run

# Two runs and two checks (one false on purpose); 30 epochs in the file, 4 by the override.
CONFIG = """\
name: nb
seed: 3
dataset: {kind: moons, n_samples: 60, noise: 0.2, random_state: 1, validation_split: 0.25}
model: {hidden_units: [8], regularizer: {kind: none, lambda: 0.0}}
training: {epochs: 30, batch_size: 16}
plots: {boundary: {resolution: 12}}
runs:
  - name: none
  - name: l2
    model: {regularizer: {kind: l2, lambda: 0.01}}
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
EPOCHS = 4


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> tuple[Path, Path, regdemo.results.ExperimentResults]:
    """CONFIG run once through the API with an override: (config, experiment folder, what run returned)."""
    root = tmp_path_factory.mktemp("api")
    config = root / "nb.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    exp = regdemo.run(config, out=root / "out", sets={"training.epochs": EPOCHS})
    return config, root / "out" / "nb", exp


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _same_cell(value, cell: str) -> bool:
    """A DataFrame value against summary.csv's text: numbers exactly, an empty cell as NaN (or '')."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)) == cell
    if isinstance(value, (int, float, np.integer, np.floating)):
        return math.isnan(value) and cell == "" if cell == "" else float(value) == float(cell)
    return value == cell


def test_summary_is_summary_csv(ran) -> None:
    _, folder, exp = ran
    rows = _csv(folder / "summary.csv")
    assert list(exp.summary.columns) == list(rows[0]) and len(exp.summary) == len(rows) == 2
    assert list(exp.summary["run"]) == ["none", "l2"]
    for i, row in enumerate(rows):
        for column, cell in row.items():
            assert _same_cell(exp.summary[column].iloc[i], cell), (row["run"], column, cell)
    assert exp.summary["val_accuracy"].dtype == np.float64 and exp.summary["epochs_run"].dtype == np.int64
    assert exp.summary["proximal"].dtype == bool and exp.summary["test_accuracy"].isna().all()  # no test rows
    assert list(exp.summary["error"]) == ["", ""]


def test_runs_hold_metrics_history_and_config_as_saved(ran) -> None:
    _, folder, exp = ran
    assert list(exp.runs) == ["none", "l2"] and len(exp.runs) == 2
    for name, run in exp.runs.items():
        assert run.path == folder / name and run.status == "completed" and run.error == ""
        assert run.metrics == json.loads((folder / name / "metrics.json").read_text())
        saved = _csv(folder / name / "history.csv")
        assert list(run.history.columns) == list(saved[0]) and len(run.history) == EPOCHS  # the override took
        for column in run.history.columns:
            np.testing.assert_array_equal(run.history[column].to_numpy(), [float(r[column]) for r in saved])
        assert list(run.history["epoch"]) == [1, 2, 3, 4]
        assert run.config.training.epochs == EPOCHS and run.config.name == name
        assert run.metrics["epochs_run"] == EPOCHS
    assert exp.runs["l2"].config.model.regularizer.kind == "l2"
    with pytest.raises(KeyError):
        exp.runs["l3"]


def test_checks_are_checks_json_and_a_false_claim_is_no_exception(ran) -> None:
    _, folder, exp = ran
    saved = json.loads((folder / "checks.json").read_text())["checks"]
    assert list(exp.checks.columns) == ["name", "claim", "verdict", "measured", "rule"]
    assert list(exp.checks["verdict"]) == [c["verdict"] for c in saved] == ["holds", "does not hold"]
    assert list(exp.checks["rule"]) == [c["rule"] for c in saved]
    assert exp.failed_checks == ["none_has_a_penalty"]
    kernels_l2 = exp.summary.set_index("run").loc["l2", "kernels_l2"]
    assert exp.checks["measured"].iloc[0] == f"{kernels_l2:.3g}"  # one seed: its figure
    assert (folder / "report.html").is_file()


def test_an_experiment_without_checks_has_an_empty_checks_table(ran, tmp_path) -> None:
    _, folder, _ = ran
    copy = tmp_path / "nb"
    copy.mkdir()
    (copy / "summary.csv").write_bytes((folder / "summary.csv").read_bytes())
    exp = regdemo.load(copy)
    assert exp.checks.empty and list(exp.checks.columns) == ["name", "claim", "verdict", "measured", "rule"]
    assert exp.failed_checks == [] and exp.figures == [] and len(exp.runs) == 0
    with pytest.raises(RunFolderError, match="not a regdemo experiment folder"):
        regdemo.load(tmp_path / "nowhere")


def test_load_reads_the_same_as_run_returned(ran) -> None:
    _, folder, exp = ran
    again = regdemo.load(str(folder))
    pd.testing.assert_frame_equal(again.summary, exp.summary)
    pd.testing.assert_frame_equal(again.runs["l2"].history, exp.runs["l2"].history)
    assert again.name == "nb" and again.path == folder


def test_html_display_has_the_tables_and_the_figures_inline(ran) -> None:
    _, folder, exp = ran
    page = exp._repr_html_()
    assert "regdemo experiment nb" in page and "2 runs (2 completed)" in page
    assert page.count("<table") == 2 and "<th>val_accuracy</th>" in page and "<td>l2</td>" in page
    assert "none_has_a_penalty" in page and "does not hold" in page
    assert [p.name for p in exp.figures] == ["compare_boundaries.png", "compare_loss.png", "compare_weights.png"]
    assert exp.figure("compare_loss") == folder / "compare_loss.png"
    start = page.index('<img src="data:image/png;base64,') + len('<img src="data:image/png;base64,')
    encoded = page[start : page.index('"', start)]
    assert base64.b64decode(encoded) == (folder / "compare_boundaries.png").read_bytes()
    assert page.count("<img ") == 3
    assert repr(exp) == f"<regdemo Experiment 'nb' at {folder}: 2 runs (2 completed); checks: 1 holds, 1 does not hold>"


def test_show_prints_text_without_ipython(ran, monkeypatch, capsys) -> None:
    _, folder, exp = ran
    monkeypatch.setitem(sys.modules, "IPython", None)  # importing it now raises ImportError
    assert exp.show() is None
    out = capsys.readouterr().out
    assert out.startswith(repr(exp) + "\n") and "checks:" in out and "none_has_a_penalty" in out
    assert "summary:" in out and "val_accuracy" in out and str(folder / "compare_weights.png") in out


def test_show_displays_the_rich_form_under_ipython(ran, monkeypatch, capsys) -> None:
    _, _, exp = ran
    shown = []
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: object()  # a running shell
    display = types.ModuleType("IPython.display")
    display.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    exp.show()
    assert shown == [exp] and capsys.readouterr().out == ""


def test_overrides_as_python_values_equal_the_same_set_texts(write_config) -> None:
    values = {
        "model.regularizer.kind": "l1",
        "model.regularizer.lambda": 1e-5,
        "training.learning_rate": 0.1,
        "model.hidden_units": [64, 64],
        "model.activation": "tanh",
        "model.regularizer.proximal": True,
        "training.epochs": 7,
        "training.early_stopping": {"patience": 3, "min_delta": 1e-12},
        "dataset.n_samples": 80,
    }
    texts = [
        "model.regularizer.kind=l1",
        "model.regularizer.lambda=1.0e-5",
        "training.learning_rate=0.1",
        "model.hidden_units=[64, 64]",
        "model.activation=tanh",
        "model.regularizer.proximal=true",
        "training.epochs=7",
        "training.early_stopping={patience: 3, min_delta: 1.0e-12}",
        "dataset.n_samples=80",
    ]
    assert parse_sets(texts, "x.yaml") == values  # the command line's texts parse to the API's values
    experiment = load_experiment(write_config(CONFIG), values)
    assert experiment.runs == load_experiment(write_config(CONFIG), parse_sets(texts, "x.yaml")).runs
    cfg = experiment.runs[0]
    assert cfg.model.regularizer.lambda_ == 1e-5 and cfg.model.regularizer.proximal is True
    assert cfg.training.learning_rate == 0.1 and cfg.dataset.n_samples == 80
    assert cfg.model.hidden_units == [64, 64] and cfg.model.activation == "tanh" and cfg.training.epochs == 7
    assert cfg.training.early_stopping.min_delta == 1e-12
    with pytest.raises(ConfigError, match=r"training\.epochs: must be an integer"):
        load_experiment(write_config(CONFIG), {"training.epochs": "5"})  # a str stays a str


def test_a_bad_config_or_override_raises_config_error_and_writes_nothing(write_config, tmp_path) -> None:
    bad = write_config(CONFIG.replace("lambda: 0.01", "lambda: -0.1"))
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as error:
        regdemo.run(bad, out=out)
    assert str(error.value) == f"{bad}:10: runs[1].model.regularizer.lambda: must be >= 0.0 (got -0.1)"
    good = write_config(CONFIG, "good.yaml")
    with pytest.raises(ConfigError) as error:
        regdemo.run(good, out=out, sets={"training.epochs": 0})
    assert str(error.value) == f"{good}: --set training.epochs: must be >= 1 (got 0)"
    with pytest.raises(ConfigError, match="must be finite"):
        regdemo.run(good, out=out, sets={"training.learning_rate": float("nan")})
    with pytest.raises(ConfigError, match="dotted field path"):
        regdemo.run(good, out=out, sets={"training.epochs=3": 1})
    assert not out.exists()


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"config": {"name": "x"}}, TypeError, "config: must be a path (str or os.PathLike), got dict"),
        ({"config": None}, TypeError, "config: must be a path (str or os.PathLike), got NoneType"),
        ({"out": None}, TypeError, "out: must be a path (str or os.PathLike), got NoneType"),
        ({"workers": "2"}, ValueError, "workers: must be an integer (got str)"),
        ({"workers": 0}, ValueError, "workers: must be >= 1 (got 0)"),
        ({"sets": ["training.epochs=3"]}, TypeError, "sets: must be a mapping of field path to value"),
        ({"smoke": "yes"}, TypeError, "smoke: must be True or False (got str)"),
        ({"force": 1}, ValueError, "force: must be True or False (got int)"),
        ({"grids": "all"}, ValueError, "grids: must be True, False or None (got str)"),
        ({"max_runs": 2.5}, TypeError, "max_runs: must be an integer (got float)"),
    ],
)
def test_an_argument_of_the_wrong_kind_is_named_and_nothing_is_written(
    write_config, tmp_path, arguments, error, message
) -> None:
    out = tmp_path / "out"
    given = {"config": write_config(CONFIG), "out": out} | arguments
    with pytest.raises(error) as raised:
        regdemo.run(**given)
    assert str(raised.value).startswith(message)
    assert not out.exists()


@pytest.mark.parametrize("folder", [None, 3, {"path": "x"}])
def test_load_names_an_argument_that_is_not_a_path(folder) -> None:
    with pytest.raises(TypeError, match=f"exp_dir: must be a path .*got {type(folder).__name__}"):
        regdemo.load(folder)


def test_a_failed_run_is_a_result_not_an_exception(write_config, tmp_path, monkeypatch) -> None:
    real = one_run.measure_run  # alone or in a pack, every run is measured here

    def flaky(run, *args):
        if run.config.name == "l2":
            raise RuntimeError("simulated failure in l2")
        return real(run, *args)

    monkeypatch.setattr(one_run, "measure_run", flaky)
    exp = regdemo.run(write_config(CONFIG), out=tmp_path, sets={"training.epochs": 2}, report=False)
    assert list(exp.summary["status"]) == ["completed", "failed"] and exp.runs["l2"].status == "failed"
    assert exp.summary["error"].iloc[1] == "RuntimeError: simulated failure in l2"
    assert math.isnan(exp.summary["val_accuracy"].iloc[1]) and exp.summary["val_accuracy"].iloc[0] > 0
    assert exp.runs["l2"].history.empty and exp.runs["l2"].error == "RuntimeError: simulated failure in l2"
    assert "2 runs (1 completed, 1 failed)" in repr(exp) and not (tmp_path / "nb" / "report.html").exists()


def test_a_rerun_skips_the_completed_runs(ran, capsys) -> None:
    config, folder, _ = ran
    before = {name: (folder / name / "metrics.json").read_bytes() for name in ("none", "l2")}
    summary = (folder / "summary.csv").read_bytes()
    capsys.readouterr()
    again = regdemo.run(config, out=folder.parent, sets={"training.epochs": EPOCHS}, report=False)
    assert "skipping 2 completed run(s) with identical config; 0 to run" in capsys.readouterr().out
    assert {name: (folder / name / "metrics.json").read_bytes() for name in before} == before
    assert (folder / "summary.csv").read_bytes() == summary
    assert list(again.checks["verdict"]) == ["holds", "does not hold"]


def _modules_after(code: str) -> set[str]:
    """The heavy packages a fresh interpreter has imported after running ``code``."""
    heavy = ("tensorflow", "keras", "pandas", "pydantic")
    probe = f"{code}\nimport sys; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"')))


def test_import_regdemo_and_help_import_neither_tensorflow_nor_pandas_nor_pydantic() -> None:
    assert _modules_after("import regdemo") == set()
    # the API itself (and the run path the command line shares with it) needs pandas only to read results
    assert _modules_after("import regdemo; regdemo.run, regdemo.load") == {"pydantic"}
    help_text = "from regdemo.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    assert _modules_after(help_text) == set()


def test_load_imports_no_tensorflow(ran) -> None:
    _, folder, _ = ran
    code = (
        f"import regdemo; exp = regdemo.load({str(folder)!r}); exp.summary; exp.checks; exp._repr_html_(); "
        "[run.history for run in exp.runs.values()]; exp.runs['l2'].config"
    )
    assert _modules_after(code) == {"pandas", "pydantic"}


@pytest.mark.slow
def test_two_workers_from_a_script_without_a_file_give_the_same_numbers(ran, tmp_path) -> None:
    """Spawned workers from ``python -c`` (no __main__ file to re-import, as in a notebook)."""
    config, folder, _ = ran
    code = (
        f"import regdemo; exp = regdemo.run({str(config)!r}, out={str(tmp_path)!r}, workers=2, report=False, "
        f"sets={{'training.epochs': {EPOCHS}}}); print(list(exp.summary['status']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "['completed', 'completed']"
    for name in ("none", "l2"):
        ours, theirs = (json.loads((f / name / "metrics.json").read_text()) for f in (folder, tmp_path / "nb"))
        ours.pop("timing"), theirs.pop("timing")
        assert ours == theirs
