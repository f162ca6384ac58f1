"""regdemo diff: two experiments (or a baseline summary.csv and an experiment) compared for CI.

One tiny experiment is trained per module; each test edits a copy of it (its summary.csv, a config.yaml,
a plot_data.npz grid) and checks what diff reports and its exit status.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY
from regdemo.cli import main
from regdemo.results import diff, diffview
from regdemo.results.tolerance import Tolerance, beyond, delta, differs
from regdemo.textsafe import markdown_cell

SMALL = ["--set", "training.epochs=5", "--set", "plots.boundary.resolution=20"]
RUNS = ["none", "l2", "l1"]


@pytest.fixture(scope="module")
def exp(tmp_path_factory) -> Path:
    """The tiny three-run experiment (none, l2, l1), 5 epochs, a 20×20 grid, trained once."""
    root = tmp_path_factory.mktemp("diff")
    config = root / "tiny.yaml"
    config.write_text(TINY, encoding="utf-8")
    assert (
        main(["run", str(config), "--out", str(root / "out"), "--quiet", "--no-report", "--workers", "1", *SMALL]) == 0
    )
    return root / "out" / "tiny"


@pytest.fixture
def new(exp: Path, tmp_path: Path) -> Path:
    """A copy of the experiment to edit (models and pictures left out: diff reads neither)."""
    return Path(shutil.copytree(exp, tmp_path / "new", ignore=shutil.ignore_patterns("model.keras", "*.png")))


def run_diff(capsys, *args: object) -> tuple[int, str, str]:
    """``regdemo diff ARGS``: (exit status, stdout, stderr)."""
    capsys.readouterr()
    status = main(["diff", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def diff_json(capsys, *args: object) -> tuple[int, dict]:
    status, out, err = run_diff(capsys, *args, "--json")
    assert err == ""
    assert len(out.strip().splitlines()) == 1  # one object, one line
    return status, json.loads(out)


def read_rows(summary: Path) -> list[dict[str, str]]:
    with summary.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_rows(summary: Path, rows: list[dict[str, str]]) -> None:
    with summary.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def edit_cells(summary: Path, run: str, **cells: str) -> dict[str, str]:
    """Set cells of one run's summary row; return the row as it was."""
    rows = read_rows(summary)
    (row,) = [r for r in rows if r["run"] == run]
    before = dict(row)
    row.update(cells)
    write_rows(summary, rows)
    return before


def grid(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / "plot_data.npz") as saved:
        return {key: saved[key] for key in saved.files}


def write_grid(run_dir: Path, arrays: dict[str, np.ndarray]) -> None:
    np.savez_compressed(run_dir / "plot_data.npz", **arrays)


# ---------------------------------------------------------------- tolerance and pure pieces


def test_tolerance_is_numpy_isclose_with_nan_and_empty_made_explicit() -> None:
    tol = Tolerance()  # rtol 1e-6, atol 1e-9
    assert (tol.rtol, tol.atol, tol.boundary) == (1e-6, 1e-9, 0.0)
    for base, new in [(1.0, 1.0 + 5e-7), (0.0, 5e-10), (2.0, 2.0 - 1.5e-6), (math.nan, math.nan), (None, None)]:
        assert not beyond(base, new, tol), (base, new)
    for base, new in [(1.0, 1.0 + 2e-6), (0.0, 2e-9), (1.0, None), (None, 0.0), (math.nan, 1.0), (1.0, math.nan)]:
        assert beyond(base, new, tol), (base, new)
    assert not beyond(math.inf, math.inf, tol) and beyond(math.inf, -math.inf, tol) and beyond(1e300, math.inf, tol)
    for base, new in [(1.0, 1.0 + 1e-9), (0.5, 0.6), (3.0, 3.0 + 2e-6)]:  # agrees with numpy where both are numbers
        assert beyond(base, new, tol) == (not np.isclose(new, base, rtol=tol.rtol, atol=tol.atol))
    assert differs(1.0, 1.0 + 1e-12) and not differs(math.nan, math.nan) and not differs(None, None)
    assert delta(1.0, 3.5) == 2.5 and delta(None, 1.0) is None and delta(math.inf, math.inf) is None


def test_flipped_fraction_counts_class_changes_only() -> None:
    base = np.array([[0.1, 0.6], [0.5, 0.9]])
    new = np.array([[0.4, 0.51], [0.50001, math.nan]])  # [0,1] same class; [1,0] 0.5 → above; [1,1] NaN is class 0
    assert diff.flipped_fraction(base, new) == 0.5
    assert diff.flipped_fraction(base, base) == 0.0


def test_config_changes_names_fields_and_ignores_names() -> None:
    base = "name: a\nexperiment: x\nseed: 1\ntraining: {epochs: 5, learning_rate: 0.01}\nmodel: {units: [8, 8]}\n"
    new = "name: b\nexperiment: y\nseed: 1\ntraining: {epochs: 6, learning_rate: 0.01}\nmodel: {units: [8, 4]}\n"
    changes = diff.config_changes("r", base, new)
    assert [(c.field, c.base, c.new) for c in changes] == [
        ("training.epochs", "5", "6"),
        ("model.units", "[8, 8]", "[8, 4]"),
    ]
    assert diff.config_changes("r", base, base) == []


# ---------------------------------------------------------------- two experiment folders


def test_an_identical_copy_is_within_tolerance(capsys, exp: Path, new: Path) -> None:
    status, result = diff_json(capsys, exp, new)
    assert status == 0
    assert result["within_tolerance"] is True
    assert (result["only_in_base"], result["only_in_new"], result["metrics"], result["boundaries"]) == ([], [], [], [])
    assert (result["runs_compared"], result["boundaries_compared"]) == (3, 3)
    compared = result["metrics_compared"]
    assert {"epochs_run", "val_data_loss", "accuracy", "generalization_gap", "kernels_l1", "boundary_regions"} <= set(
        compared
    )
    assert not {"train_seconds", "learning_rate", "epochs", "seed", "l2", "n_samples", "run", "error"} & set(compared)
    status, out, err = run_diff(capsys, exp, new)
    assert (status, err) == (0, "")
    assert out.splitlines()[0] == f"regdemo diff {exp} {new}: within tolerance"


def test_a_rerun_is_within_the_default_tolerance(capsys, exp: Path, tmp_path: Path) -> None:
    """The defaults rest on this: the same config run again gives the same numbers and grids, bit for bit."""
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY, encoding="utf-8")
    assert (
        main(["run", str(config), "--out", str(tmp_path / "out"), "--quiet", "--no-report", "--workers", "1", *SMALL])
        == 0
    )
    status, result = diff_json(capsys, exp, tmp_path / "out" / "tiny")
    assert status == 0
    assert (result["metrics"], result["boundaries"], result["settings"]) == ([], [], [])
    assert (result["runs_compared"], result["boundaries_compared"]) == (3, 3)


def test_a_metric_moved_beyond_tolerance_names_run_and_metric(capsys, exp: Path, new: Path) -> None:
    before = float(edit_cells(new / "summary.csv", "l2", val_data_loss="0")["val_data_loss"])
    moved = before * (1 + 1e-4)
    edit_cells(new / "summary.csv", "l2", val_data_loss=repr(moved))
    status, result = diff_json(capsys, exp, new)
    assert status == 1 and result["within_tolerance"] is False
    (change,) = result["metrics"]
    assert change == {
        "run": "l2",
        "metric": "val_data_loss",
        "base": before,
        "new": moved,
        "delta": pytest.approx(moved - before, rel=1e-12),
        "beyond": True,
    }
    status, out, _ = run_diff(capsys, exp, new)
    assert status == 1 and "DIFFERS beyond tolerance" in out.splitlines()[0]
    (line,) = [line for line in out.splitlines() if "val_data_loss" in line]
    assert line.split()[:4] == ["l2", "val_data_loss", repr(before), repr(moved)]
    status, out, _ = run_diff(capsys, exp, new, "--markdown")
    assert status == 1
    assert "| run | metric | base | new | delta |" in out
    cells = [markdown_cell(c) for c in ("l2", "val_data_loss", repr(before), repr(moved))]  # escaped as data
    assert "| " + " | ".join(cells) + " |" in out
    # A looser tolerance lets it pass; the value is still listed, as within tolerance.
    status, result = diff_json(capsys, exp, new, "--rtol", "1e-3")
    assert status == 0 and result["metrics"][0]["beyond"] is False
    # --metrics restricts the comparison.
    assert diff_json(capsys, exp, new, "--metrics", "accuracy", "loss")[0] == 0
    status, result = diff_json(capsys, exp, new, "--metrics", "accuracy", "val_data_loss")
    assert status == 1 and result["metrics_compared"] == ["accuracy", "val_data_loss"]


def test_a_change_within_tolerance_is_listed_but_passes(capsys, exp: Path, new: Path) -> None:
    before = float(edit_cells(new / "summary.csv", "none", accuracy="0")["accuracy"])
    edit_cells(new / "summary.csv", "none", accuracy=repr(before * (1 + 1e-8)))
    status, result = diff_json(capsys, exp, new)
    assert status == 0 and result["within_tolerance"] is True
    assert [(m["run"], m["metric"], m["beyond"]) for m in result["metrics"]] == [("none", "accuracy", False)]


def test_a_removed_run_is_reported(capsys, exp: Path, new: Path) -> None:
    shutil.rmtree(new / "l1")
    write_rows(new / "summary.csv", [r for r in read_rows(new / "summary.csv") if r["run"] != "l1"])
    status, result = diff_json(capsys, exp, new)
    assert status == 1
    assert (result["only_in_base"], result["only_in_new"], result["metrics"]) == (["l1"], [], [])
    assert (result["runs_compared"], result["boundaries_compared"]) == (2, 2)
    status, result = diff_json(capsys, new, exp)  # the other way round: a run only in new
    assert status == 1 and (result["only_in_base"], result["only_in_new"]) == ([], ["l1"])
    _, out, _ = run_diff(capsys, exp, new)
    assert "l1   base only" in out


def test_a_grid_with_known_flipped_cells_reports_that_fraction(capsys, exp: Path, new: Path) -> None:
    arrays = grid(new / "l2")
    prob = arrays["grid_prob"]
    assert prob.shape == (20, 20)
    # Every probability moves (so the grids' checksums differ and both are read), but only 37 cells
    # change class: the others go further from 0.5 on their own side.
    moved = np.where(prob > 0.5, (prob + 1) / 2, prob / 2)
    flip = np.random.default_rng(0).choice(prob.size, size=37, replace=False)
    moved.flat[flip] = np.where(prob.flat[flip] > 0.5, 0.1, 0.9)
    write_grid(new / "l2", arrays | {"grid_prob": moved})
    status, result = diff_json(capsys, exp, new)
    assert status == 1 and result["boundaries_compared"] == 3
    assert result["boundaries"] == [{"run": "l2", "disagreement": pytest.approx(37 / 400, abs=1e-15), "beyond": True}]
    assert result["metrics"] == [] and result["settings"] == []
    status, out, _ = run_diff(capsys, exp, new)
    assert "l2   9.2500% of grid points  beyond" in out
    status, result = diff_json(capsys, exp, new, "--boundary-tol", "0.1")
    assert status == 0 and result["boundaries"][0]["beyond"] is False
    # Probabilities that move without any class changing: not listed.
    write_grid(new / "l2", arrays | {"grid_prob": np.where(prob > 0.5, (prob + 1) / 2, prob / 2)})
    status, result = diff_json(capsys, exp, new)
    assert status == 0 and result["boundaries"] == [] and result["boundaries_compared"] == 3


def test_grids_over_another_box_are_not_compared(capsys, exp: Path, new: Path) -> None:
    arrays = grid(new / "l1")
    write_grid(new / "l1", arrays | {"grid_x": arrays["grid_x"] + 0.25})
    _, result = diff_json(capsys, exp, new)
    assert result["boundaries"] == [{"run": "l1", "disagreement": None, "beyond": False}]
    _, out, _ = run_diff(capsys, exp, new)
    assert "grids differ (box or resolution)" in out


def test_config_differences_are_reported_from_config_yaml(capsys, exp: Path, new: Path) -> None:
    config = new / "none" / "config.yaml"
    text = config.read_text(encoding="utf-8")
    assert "  epochs: 5\n" in text and "experiment: tiny\n" in text
    config.write_text(text.replace("experiment: tiny\n", "experiment: renamed\n"), encoding="utf-8")
    assert diff_json(capsys, exp, new)[0] == 0  # a name is not a setting
    config.write_text(text.replace("  epochs: 5\n", "  epochs: 6\n"), encoding="utf-8")
    status, result = diff_json(capsys, exp, new)
    assert status == 1
    assert result["settings"] == [{"run": "none", "field": "training.epochs", "base": "5", "new": "6"}]


def test_a_status_change_is_reported(capsys, exp: Path, new: Path) -> None:
    before = edit_cells(new / "summary.csv", "l1", status="diverged", val_loss="")
    status, result = diff_json(capsys, exp, new)
    assert status == 1
    assert result["status"] == [{"run": "l1", "base": "completed", "new": "diverged"}]
    assert result["metrics"] == [
        {
            "run": "l1",
            "metric": "val_loss",
            "base": float(before["val_loss"]),
            "new": None,
            "delta": None,
            "beyond": True,
        }
    ]


# ---------------------------------------------------------------- a baseline summary.csv


def test_a_summary_csv_as_base(capsys, exp: Path, new: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.csv"
    shutil.copyfile(exp / "summary.csv", baseline)
    status, result = diff_json(capsys, baseline, new)
    assert status == 0 and result["within_tolerance"] is True
    assert (result["runs_compared"], result["boundaries_compared"], result["metrics"]) == (3, 0, [])
    # Settings come from the summaries' settings columns.
    edit_cells(new / "summary.csv", "l2", learning_rate="0.02")
    status, result = diff_json(capsys, baseline, new)
    assert status == 1
    assert result["settings"] == [{"run": "l2", "field": "learning_rate", "base": "0.01", "new": "0.02"}]
    edit_cells(new / "summary.csv", "l2", learning_rate="0.01", kernels_l2="1e9")
    status, result = diff_json(capsys, baseline, new)
    assert status == 1 and [(m["run"], m["metric"]) for m in result["metrics"]] == [("l2", "kernels_l2")]


def test_a_metric_only_one_side_has_is_noted_not_failed(capsys, exp: Path, new: Path) -> None:
    rows = read_rows(new / "summary.csv")
    write_rows(new / "summary.csv", [{**row, "future_metric": "0.5"} for row in rows])
    status, result = diff_json(capsys, exp, new)
    assert status == 0
    assert result["metrics_only_in_new"] == ["future_metric"]
    assert "future_metric" not in result["metrics_compared"]
    # ...unless asked for by name: then the base's missing values are empty cells, beyond tolerance.
    status, result = diff_json(capsys, exp, new, "--metrics", "future_metric")
    assert status == 1 and {m["run"] for m in result["metrics"]} == set(RUNS)


# ---------------------------------------------------------------- bad input


def _bad_inputs(exp: Path, tmp: Path) -> list[tuple[list[object], str]]:
    """(arguments after BASE NEW or in their place, the text the one line must hold)."""
    (tmp / "empty").mkdir()
    (tmp / "notes.txt").write_text("hello\n")
    (tmp / "ragged.csv").write_text("run,status,epochs_run\nl2,completed,5,7\n")
    (tmp / "header.csv").write_text("run,status,epochs_run\n")
    interrupted = tmp / "interrupted"
    shutil.copytree(exp / "l2", interrupted / "l2")
    return [
        ([tmp / "missing", exp], f"{tmp / 'missing'}: no such experiment folder or summary.csv"),
        ([exp / "l2", exp], f"{exp / 'l2'}: a run folder; give its experiment folder"),
        ([exp, tmp / "empty"], f"{tmp / 'empty'}: not a regdemo experiment folder (no summary.csv and no runs)"),
        ([exp, interrupted], f"{interrupted}: no summary.csv"),
        ([tmp / "notes.txt", exp], f"{tmp / 'notes.txt'}: no runs in it"),
        ([tmp / "header.csv", exp], f"{tmp / 'header.csv'}: no runs in it"),
        ([exp / "l2" / "history.csv", exp], "not a regdemo summary.csv (no 'run' column)"),
        ([tmp / "ragged.csv", exp], f"{tmp / 'ragged.csv'}:2: 4 cells, the header has 3"),
        ([exp, exp, "--rtol", "-1"], "--rtol: must be a finite number >= 0"),
        ([exp, exp, "--atol", "nan"], "--atol: must be a finite number >= 0"),
        ([exp, exp, "--metrics", "val_data_los"], "--metrics val_data_los: not a metric of"),
    ]


def test_bad_input_exits_2_with_one_line(capsys, exp: Path, tmp_path: Path) -> None:
    for args, message in _bad_inputs(exp, tmp_path):
        status, out, err = run_diff(capsys, *args)
        assert (status, out) == (2, ""), args
        assert len(err.strip().splitlines()) == 1 and message in err, (args, err)


def test_damaged_run_files_exit_2_naming_them(capsys, exp: Path, new: Path) -> None:
    (new / "l2" / "plot_data.npz").write_bytes(b"not a zip")
    status, out, err = run_diff(capsys, exp, new)
    assert (status, out) == (2, "")
    assert len(err.strip().splitlines()) == 1 and "l2: unreadable plot_data.npz" in err
    shutil.copyfile(exp / "l2" / "plot_data.npz", new / "l2" / "plot_data.npz")
    (new / "l1" / "config.yaml").write_text("model: [unclosed\n")
    status, out, err = run_diff(capsys, exp, new)
    assert (status, out) == (2, "")
    assert len(err.strip().splitlines()) == 1 and "l1: unreadable config.yaml" in err


# ---------------------------------------------------------------- the views


def test_long_tables_are_cut_in_text_and_markdown_but_not_in_json() -> None:
    changes = [diff.MetricChange(f"run{i}", "loss", 1.0, 2.0, 1.0, True) for i in range(diffview.MAX_ROWS + 5)]
    result = diff.Diff(Path("a"), Path("b"), Tolerance(), [], [], [], ["loss"], metrics=changes)
    assert "… and 5 more (--json lists all)" in diffview.as_text(result)
    assert "… and 5 more (--json lists all)" in diffview.as_markdown(result)
    assert len(diffview.as_json(result)["metrics"]) == diffview.MAX_ROWS + 5


# ---------------------------------------------------------------- a received folder: nothing skipped silently


def test_a_deleted_run_folder_is_not_compared_and_fails(capsys, exp: Path, new: Path) -> None:
    shutil.rmtree(new / "l1")  # summary.csv still lists it
    status, result = diff_json(capsys, exp, new)
    assert status == 1 and result["within_tolerance"] is False
    assert result["not_compared"] == [{"run": "l1", "what": "run", "reason": "new: its run folder is missing"}]
    assert (result["runs_compared"], result["boundaries_compared"]) == (2, 2)
    (new / "l2" / "config.yaml").unlink()
    _, result = diff_json(capsys, new, exp)
    assert [(c["run"], c["reason"]) for c in result["not_compared"]] == [
        ("l2", "base: its run folder is incomplete (no config.yaml)"),
        ("l1", "base: its run folder is missing"),
    ]
    status, out, _ = run_diff(capsys, exp, new)
    assert status == 1 and "DIFFERS beyond tolerance" in out.splitlines()[0]
    assert "1 run(s) in both" in out and "l1   run   new: its run folder is missing" in out


def test_a_boundary_that_cannot_be_compared_fails(capsys, exp: Path, new: Path) -> None:
    arrays = grid(new / "l2")
    write_grid(new / "l2", {k: v for k, v in arrays.items() if k != "grid_prob"})
    status, result = diff_json(capsys, exp, new)
    assert status == 1 and result["boundaries_compared"] == 2
    assert result["not_compared"] == [
        {"run": "l2", "what": "boundary", "reason": "plot_data.npz in new has no boundary grid"}
    ]
    (new / "l2" / "plot_data.npz").unlink()
    _, result = diff_json(capsys, exp, new)
    assert result["not_compared"][0]["reason"] == "no plot_data.npz in new"


def test_grids_of_different_shapes_are_not_compared(capsys, exp: Path, new: Path) -> None:
    # a run of resolution 10 on one side: its own config and grid agree, the two sides' shapes do not
    config = new / "l1" / "config.yaml"
    config.write_text(config.read_text().replace("resolution: 20", "resolution: 10"))
    axis = np.linspace(-2, 3, 10, dtype=np.float32)
    xx, yy = np.meshgrid(axis, axis)
    write_grid(new / "l1", grid(new / "l1") | {"grid_x": xx, "grid_y": yy, "grid_prob": np.full((10, 10), 0.7)})
    status, result = diff_json(capsys, exp, new)
    assert status == 1
    assert result["not_compared"] == [
        {"run": "l1", "what": "boundary", "reason": "grids of different shapes ((20, 20) and (10, 10))"}
    ]
    assert result["settings"] == [{"run": "l1", "field": "plots.boundary.resolution", "base": "20", "new": "10"}]


def test_a_grid_of_another_shape_than_its_config_is_refused(capsys, exp: Path, new: Path) -> None:
    write_grid(new / "l1", grid(new / "l1") | {"grid_prob": np.full((20,), 0.5)})
    status, out, err = run_diff(capsys, exp, new)
    assert (status, out) == (2, "")
    assert (
        err
        == f"{new / 'l1' / 'plot_data.npz'}: grid_prob: shape (20,) does not fit its run's config (at most (20, 20))\n"
    )


def test_a_run_cell_that_leaves_the_experiment_is_refused(capsys, exp: Path, new: Path) -> None:
    summary = new / "summary.csv"
    summary.write_text(summary.read_text().replace("\nl1,", "\n../l1,"))
    status, out, err = run_diff(capsys, exp, new)
    assert (status, out) == (2, "")
    assert err.startswith(f"{new / 'summary.csv'}:4: run: must be made of letters") and err.count("\n") == 1


def test_markdown_and_text_show_received_text_as_data(capsys, exp: Path, new: Path, tmp_path: Path) -> None:
    evil = "0.01\n\n### ✅ regdemo diff: within tolerance\n![](http://evil.example/x.png) <img src=x> \x1b[2J"
    baseline = tmp_path / "baseline.csv"
    shutil.copyfile(exp / "summary.csv", baseline)
    edit_cells(new / "summary.csv", "l2", learning_rate=evil)
    status, out, _ = run_diff(capsys, baseline, new, "--markdown")
    assert status == 1
    assert [line for line in out.splitlines() if line.startswith("#")] == [out.splitlines()[0]]  # one heading
    assert not re.search(r"(?<!\\)[!<\[]", out.split("\n", 1)[1]) and "\x1b" not in out  # each one escaped
    (row,) = [line for line in out.splitlines() if line.startswith("| l2 |")]
    assert row.count(" | ") == 3 and "\\#\\#\\# ✅ regdemo diff\\: within tolerance" in row
    status, out, _ = run_diff(capsys, baseline, new)
    assert status == 1 and "\x1b" not in out and "\\x1b[2J" in out
    assert [line for line in out.splitlines() if "within tolerance" in line] == [
        line for line in out.splitlines() if line.lstrip().startswith("l2")
    ]  # the fake verdict stays inside its row


def test_markdown_escapes_every_cell_of_a_diff() -> None:
    name = "x\n## fake heading\n![](http://evil.example/a.png)"
    result = diff.Diff(Path("a"), Path("b"), Tolerance(), [name], [name], [], ["loss"])
    result.metrics = [diff.MetricChange(name, "loss", 1.0, 2.0, 1.0, True)]
    out = diffview.as_markdown(result)
    assert "\n## " not in out and "![](" not in out and out.count(markdown_cell(name)) == 2
