"""End to end through the CLI: every output file, and the numbers inside them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import matplotlib.image
import numpy as np
import pytest
import yaml

from conftest import REPO, TINY
from regdemo.cli import main
from regdemo.columns import COLUMNS
from regdemo.config.loading import load_experiment
from regdemo.train import datasets

RUN_FILES = {
    "config.yaml",
    "history.csv",
    "metrics.json",
    "model.keras",
    "plot_data.npz",
    "boundary.png",
    "loss.png",
    "weights.png",
}
EXPERIMENT_FILES = {"summary.csv", "compare_boundaries.png", "compare_loss.png", "compare_weights.png", "report.html"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, Path]:
    """Run the tiny three-run experiment once for the tests that only read its results."""
    root = tmp_path_factory.mktemp("e2e")
    config = root / "tiny.yaml"
    config.write_text(TINY, encoding="utf-8")
    assert main(["run", str(config), "--out", str(root / "out"), "--quiet", "--workers", "1"]) == 0
    return config, root / "out" / "tiny"


def _metrics(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def test_every_file_is_written_and_nothing_else(tiny_run) -> None:
    _, exp = tiny_run
    assert {p.name for p in exp.iterdir()} == EXPERIMENT_FILES | {"none", "l2", "l1"}
    for run in ("none", "l2", "l1"):
        assert {p.name for p in (exp / run).iterdir()} == RUN_FILES
    assert not any(p.name.startswith(".") for p in exp.parent.iterdir())  # no staging left behind
    for png in [*exp.glob("*.png"), *exp.glob("*/*.png")]:
        image = matplotlib.image.imread(png)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
        assert image[..., :3].std() > 0.05  # not a blank canvas


def test_history_csv_has_one_row_per_epoch(tiny_run) -> None:
    _, exp = tiny_run
    rows = list(csv.DictReader((exp / "l2" / "history.csv").open()))
    assert len(rows) == 30 and [int(r["epoch"]) for r in rows] == list(range(1, 31))
    assert list(rows[0]) == ["epoch", *COLUMNS]
    for row in rows:
        assert float(row["loss"]) == pytest.approx(float(row["data_loss"]) + float(row["penalty"]), rel=1e-6)


def test_metrics_json_agrees_with_the_saved_model(tiny_run) -> None:
    config, exp = tiny_run
    run = load_experiment(config).runs[1]
    m = _metrics(exp / "l2")
    assert (m["run"], m["status"], m["epochs_run"]) == ("l2", "completed", 30)
    final = m["final"]
    assert m["generalization_gap"] == pytest.approx(final["val_data_loss"] - final["data_loss"])
    assert final["loss"] == pytest.approx(final["data_loss"] + final["penalty"])
    model = keras.models.load_model(exp / "l2" / "model.keras")
    hidden = [layer.kernel.numpy().astype(np.float64) for layer in model.layers[:-1]]
    assert final["penalty"] == pytest.approx(0.01 * sum(np.square(k).sum() for k in hidden), rel=1e-5)
    data = datasets.load(run.dataset)
    accuracy = np.mean((model(data.x_val).numpy()[:, 0] > 0.5) == (data.y_val > 0.5))
    assert final["val_accuracy"] == pytest.approx(accuracy)
    layers = m["weights"]["layers"]
    assert [layer["shape"] for layer in layers] == [[2, 16], [16, 8], [8, 1]]
    assert layers[0]["std"] == pytest.approx(model.layers[0].kernel.numpy().std(), rel=1e-5)
    assert set(m["timing"]) == {"train_seconds", "pack_runs", "pack_train_seconds", "plot_seconds"}
    assert set(m["versions"]) >= {"tensorflow", "keras"}


def test_plot_data_holds_the_numbers_behind_the_plots(tiny_run) -> None:
    _, exp = tiny_run
    arrays = np.load(exp / "l1" / "plot_data.npz")
    assert arrays["grid_prob"].shape == (24, 24)
    model = keras.models.load_model(exp / "l1" / "model.keras")
    np.testing.assert_allclose(arrays["kernel_hidden_0"], model.layers[0].kernel.numpy())


def test_summary_has_one_row_per_run_matching_metrics(tiny_run) -> None:
    _, exp = tiny_run
    rows = list(csv.DictReader((exp / "summary.csv").open()))
    assert [r["run"] for r in rows] == ["none", "l2", "l1"]
    for row in rows:
        m = _metrics(exp / row["run"])
        assert float(row["val_data_loss"]) == pytest.approx(m["final"]["val_data_loss"])
        assert float(row["first_layer_std"]) == pytest.approx(m["weights"]["layers"][0]["std"])
    assert [float(r["l2"]) for r in rows] == [0.0, 0.01, 0.0]


def test_saved_config_is_the_resolved_run(tiny_run) -> None:
    config, exp = tiny_run
    saved = yaml.safe_load((exp / "l1" / "config.yaml").read_text())
    assert saved == load_experiment(config).runs[2].to_dict()
    assert saved["model"]["regularizer"]["kind"] == "l1" and saved["model"]["regularizer"]["lambda"] == 0.01


def test_rerun_is_reproducible_apart_from_timings(tiny_run, tmp_path) -> None:
    config, exp = tiny_run
    assert main(["run", str(config), "--out", str(tmp_path), "--quiet", "--no-report", "--workers", "1"]) == 0
    for run in ("none", "l2", "l1"):
        first, second = _metrics(exp / run), _metrics(tmp_path / "tiny" / run)
        first.pop("timing"), second.pop("timing")
        assert first == second


def test_rerun_resumes_and_a_changed_config_is_refused_then_forced(write_config, tmp_path, capsys) -> None:
    config = write_config(TINY.replace("epochs: 30", "epochs: 3"))
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--quiet", "--no-report", "--workers", "1"]) == 0
    before = (out / "tiny" / "l1" / "metrics.json").read_bytes()
    capsys.readouterr()
    assert main(["run", str(config), "--out", str(out), "--quiet", "--no-report", "--workers", "1"]) == 0
    assert "skipping 3 completed run(s) with identical config; 0 to run" in capsys.readouterr().out
    assert (out / "tiny" / "l1" / "metrics.json").read_bytes() == before
    changed = ["--set", "training.epochs=4"]
    assert main(["run", str(config), "--out", str(out), "--quiet", *changed]) == 2
    err = capsys.readouterr().err
    assert err == f"{out / 'tiny' / 'none'}: holds a run with a different config; use --force to replace it\n"
    assert (out / "tiny" / "l1" / "metrics.json").read_bytes() == before  # untouched
    assert (
        main(["run", str(config), "--out", str(out), "--quiet", "--no-report", "--force", "--workers", "1", *changed])
        == 0
    )
    assert _metrics(out / "tiny" / "l1")["epochs_run"] == 4


def test_a_diverged_run_is_recorded_and_the_others_go_on(write_config, tmp_path) -> None:
    text = TINY.replace(
        "    model: {regularizer: {kind: l2, lambda: 0.01}}",
        "    training: {optimizer: sgd, learning_rate: 1.0e+6}",
    )
    assert (
        main(["run", str(write_config(text)), "--out", str(tmp_path), "--quiet", "--no-report", "--workers", "1"]) == 0
    )
    rows = {r["run"]: r for r in csv.DictReader((tmp_path / "tiny" / "summary.csv").open())}
    assert [rows[r]["status"] for r in ("none", "l2", "l1")] == ["completed", "diverged", "completed"]
    assert int(rows["l2"]["epochs_run"]) < 30
    assert _metrics(tmp_path / "tiny" / "l2")["status"] == "diverged"


@pytest.mark.slow
def test_lecture_smoke_run_in_a_fresh_process_even_with_another_keras_backend(tmp_path) -> None:
    """What a user's CI runs; KERAS_BACKEND=jax must not crash it."""
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    cmd = [
        sys.executable,
        "-m",
        "regdemo",
        "run",
        str(REPO / "configs" / "lecture.yaml"),
        "--smoke",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "KERAS_BACKEND=jax ignored" in done.stderr and "Traceback" not in done.stderr
    exp = tmp_path / "lecture"
    assert {p.name for p in exp.iterdir()} == EXPERIMENT_FILES | {"checks.json", "no_reg", "l2", "l1"}
    for run in ("no_reg", "l2", "l1"):
        # lecture.yaml sets plots.snapshots: the film too
        assert {p.name for p in (exp / run).iterdir()} == RUN_FILES | {"training.gif", "training_frames.png"}
        assert _metrics(exp / run)["epochs_run"] == 20
    # the lecture's checks are judged, and under --smoke never fail
    assert {c["verdict"] for c in json.loads((exp / "checks.json").read_text())["checks"]} == {"smoke"}
