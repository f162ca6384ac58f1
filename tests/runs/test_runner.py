"""Many runs: resume, conflicts, failed runs, worker processes, and a kill in the middle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import TINY, cmdline, descendants
from regdemo.config.loading import load_experiment
from regdemo.errors import RunConflict
from regdemo.options import RunOptions
from regdemo.results import rundir
from regdemo.results.storage import clean_leftovers
from regdemo.runs import one_run
from regdemo.runs.runner import execute

QUICK = TINY.replace("epochs: 30", "epochs: 4").replace("resolution: 24", "resolution: 12")


def _metrics(run_dir: Path) -> dict:
    numbers = json.loads((run_dir / "metrics.json").read_text())
    numbers.pop("timing", None)
    return numbers


def _run(path: Path, out: Path, sets: dict | None = None, summarize: bool = False, **kw):
    options = RunOptions(progress=False, **kw)
    return execute(load_experiment(path, sets), out, options, summarize=summarize, say=lambda _: None)


def test_rerun_skips_identical_completed_runs_and_redoes_missing_ones(write_config, tmp_path) -> None:
    path = write_config(QUICK)
    first = _run(path, tmp_path)
    assert first.statuses == {"none": "completed", "l2": "completed", "l1": "completed"} and first.skipped == 0
    original = _metrics(first.folder / "l2")
    untouched = (first.folder / "none" / "metrics.json").stat().st_mtime_ns
    os.rename(first.folder / "l2", tmp_path / "moved-away")
    (first.folder / ".l1.partial-999").mkdir()  # what a killed run leaves
    second = _run(path, tmp_path)
    assert second.skipped == 2 and second.statuses["l2"] == "completed"
    assert _metrics(second.folder / "l2") == original  # same numbers as the first time
    assert (first.folder / "none" / "metrics.json").stat().st_mtime_ns == untouched
    assert not (first.folder / ".l1.partial-999").exists()


def test_a_folder_of_an_older_format_with_the_same_config_is_retrained_without_force(write_config, tmp_path) -> None:
    path = write_config(QUICK)
    first = _run(path, tmp_path)
    old = first.folder / "l2"  # as regdemo 0.1 wrote it: no format, no fields added since
    config = yaml.safe_load((old / "config.yaml").read_text())
    del config["metrics"], config["dataset"]["test_split"]
    (old / "config.yaml").write_text(yaml.safe_dump(config))
    numbers = _metrics(old)
    del numbers["format"]
    (old / "metrics.json").write_text(json.dumps(numbers))
    second = _run(path, tmp_path)
    assert second.skipped == 2 and second.statuses["l2"] == "completed"
    assert _metrics(old)["format"] == 1 and "metrics" in yaml.safe_load((old / "config.yaml").read_text())


def test_a_changed_config_is_refused_unless_forced(write_config, tmp_path) -> None:
    path = write_config(QUICK)
    _run(path, tmp_path)
    before = (tmp_path / "tiny" / "l1" / "metrics.json").read_bytes()
    with pytest.raises(RunConflict, match=r"tiny/none: holds a run with a different config; use --force"):
        _run(path, tmp_path, sets={"training.epochs": 5})
    assert (tmp_path / "tiny" / "l1" / "metrics.json").read_bytes() == before
    forced = _run(path, tmp_path, sets={"training.epochs": 5}, force=True)
    assert forced.skipped == 0 and _metrics(tmp_path / "tiny" / "l1")["epochs_run"] == 5


def test_a_run_that_raises_is_recorded_as_failed_and_retried_next_time(write_config, tmp_path, monkeypatch) -> None:
    path = write_config(QUICK)
    real = one_run.measure_run  # alone or in a pack, every run is measured here

    def flaky(run, *args):
        if run.config.name == "l2":
            raise RuntimeError("simulated failure in l2")
        return real(run, *args)

    monkeypatch.setattr(one_run, "measure_run", flaky)
    outcome = _run(path, tmp_path)
    assert outcome.statuses == {"none": "completed", "l2": "failed", "l1": "completed"} and outcome.failed == ["l2"]
    failed = tmp_path / "tiny" / "l2"
    assert sorted(p.name for p in failed.iterdir()) == ["config.yaml", "error.txt", "metrics.json"]
    assert "RuntimeError: simulated failure in l2" in (failed / "error.txt").read_text()
    assert _metrics(failed)["error"] == "RuntimeError: simulated failure in l2"
    monkeypatch.setattr(one_run, "measure_run", real)
    again = _run(path, tmp_path)
    assert again.skipped == 2 and again.statuses["l2"] == "completed"


@pytest.mark.slow
def test_two_workers_give_the_same_numbers_as_one(write_config, tmp_path) -> None:
    path = write_config(QUICK)
    one = _run(path, tmp_path / "one", workers=1, summarize=True)
    two = _run(path, tmp_path / "two", workers=2, summarize=True)  # the workers draw the summary too
    assert one.statuses == two.statuses
    for run in ("none", "l2", "l1"):
        assert _metrics(one.folder / run) == _metrics(two.folder / run)
    assert _summary_without_timings(one.folder) == _summary_without_timings(two.folder)
    figures = sorted(p.name for p in one.folder.glob("*.png"))
    assert figures == sorted(p.name for p in two.folder.glob("*.png")) and "compare_weights.png" in figures


SWEEP12 = (
    QUICK.split("runs:")[0]
    + """\
sweep:
  model.regularizer.kind: [l1, l2]
  model.regularizer.lambda: [0.0, 0.001, 0.01, 0.1, 1.0, 3.0]
"""
)


def _summary_without_timings(folder: Path) -> list[list[str]]:
    rows = [line.split(",") for line in (folder / "summary.csv").read_text().splitlines()]
    keep = [i for i, name in enumerate(rows[0]) if "seconds" not in name]
    return [[row[i] for i in keep] for row in rows]


@pytest.mark.slow
def test_killed_half_way_then_resumed_gives_the_clean_summary(write_config, tmp_path) -> None:
    """SIGKILL the whole process group mid-sweep; the rerun finishes to the same summary.csv."""
    path = write_config(SWEEP12)
    cmd = [sys.executable, "-m", "regdemo", "run", str(path), "--workers", "2", "--quiet"]
    victim = subprocess.Popen(
        [*cmd, "--out", str(tmp_path / "killed")],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    exp = tmp_path / "killed" / "tiny"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len([p for p in exp.glob("*") if not p.name.startswith(".")]) < 5:
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    visible = [p for p in exp.iterdir() if not p.name.startswith(".") and p.name != "summary.csv"]
    assert 4 <= len(visible) < 12, "the kill should land half-way"
    assert all((p / "metrics.json").exists() and (p / "weights.png").exists() for p in visible)  # whole runs only
    # the summary appended so far: whole rows of finished runs only. A worker hands its pack's rows over when the
    # pack is done (2 packs of 6 here), so the rows may lag the folders by the packs in flight.
    partial = [row["run"] for row in rundir.read_summary(exp)]
    assert set(partial) <= {p.name for p in visible}
    resumed = subprocess.run([*cmd, "--out", str(tmp_path / "killed")], capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert f"skipping {len(visible)} completed run(s)" in resumed.stdout
    clean = subprocess.run([*cmd, "--out", str(tmp_path / "clean")], capture_output=True, text=True, check=False)
    assert clean.returncode == 0, clean.stderr
    assert not [p for p in exp.iterdir() if p.name.startswith(".")]
    killed_rows, clean_rows = _summary_without_timings(exp), _summary_without_timings(tmp_path / "clean" / "tiny")
    assert len(clean_rows) == 13 and killed_rows == clean_rows


TWO_QUICK_THREE_LONG = (
    QUICK.split("runs:")[0]
    + """\
runs:
  - name: quick_a
  - name: quick_b
  - name: long_a
    training: {epochs: 40000}
  - name: long_b
    training: {epochs: 40000}
  - name: long_c
    training: {epochs: 40000}
"""
)


@pytest.mark.slow
def test_ctrl_c_stops_the_runs_in_flight_at_once_and_leaves_only_whole_runs(write_config, tmp_path) -> None:
    """Ctrl-C while two workers train long runs: they stop (they neither finish them nor start the queued
    one), exit 130, and only the completed runs are left, with no half-written folder and no worker alive."""
    path = write_config(TWO_QUICK_THREE_LONG)
    cmd = [sys.executable, "-m", "regdemo", "run", str(path), "--workers", "2", "--quiet", "--out", str(tmp_path)]
    victim = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    exp = tmp_path / "tiny"
    deadline = time.monotonic() + 120
    # both rows in summary.csv (appended by the driver just after each folder lands), not only both folders
    while time.monotonic() < deadline and not ((exp / "summary.csv").exists() and len(rundir.read_summary(exp)) == 2):
        time.sleep(0.02)
    workers = {pid for pid in descendants(victim.pid) if "spawn_main" in cmdline(pid)}
    os.killpg(victim.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, err = victim.communicate(timeout=60)
    assert victim.returncode == 130, err
    assert "interrupted: completed runs are kept" in err
    assert sorted(p.name for p in exp.iterdir()) == ["quick_a", "quick_b", "summary.csv"]
    assert sorted(row["run"] for row in rundir.read_summary(exp)) == ["quick_a", "quick_b"]  # the finished runs' rows
    assert len(workers) == 2 and not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def test_leftovers_of_a_killed_run_are_removed_and_nothing_else(tmp_path) -> None:
    for folder in (".l2.partial-41", ".l1.old-42", "l2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "metrics.json").write_text("{}")
    for name in (".summary.43.tmp.csv", ".compare_loss.44.tmp.png", "summary.csv", "compare_loss.png"):
        (tmp_path / name).write_text("x")
    clean_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compare_loss.png", "l2", "summary.csv"]


def test_tensorboard_event_files_hold_the_history_and_kernel_histograms(write_config, tmp_path) -> None:
    import csv

    import tensorflow as tf

    outcome = _run(write_config(QUICK.replace("epochs: 4", "epochs: 40")), tmp_path, tensorboard=True)
    run_dir = outcome.folder / "l2"
    history = list(csv.DictReader((run_dir / "history.csv").open()))

    def events(side: str) -> list:
        files = list((run_dir / "tensorboard" / side).glob("events.out.tfevents.*"))
        assert len(files) == 1
        return [e for e in tf.compat.v1.train.summary_iterator(str(files[0])) if e.summary.value]

    scalars: dict[str, list[tuple[int, float]]] = {}
    histograms: dict[str, list[int]] = {}
    for event in events("train"):
        for value in event.summary.value:
            target = histograms if value.metadata.plugin_data.plugin_name == "histograms" else scalars
            entry = event.step if target is histograms else (event.step, float(tf.make_ndarray(value.tensor)))
            target.setdefault(value.tag, []).append(entry)
    assert [step for step, _ in scalars["epoch_loss"]] == list(range(1, 41))
    assert [v for _, v in scalars["epoch_data_loss"]] == pytest.approx([float(r["data_loss"]) for r in history])
    assert set(histograms) == {"kernel/hidden_0", "kernel/hidden_1", "kernel/output"}
    assert histograms["kernel/hidden_0"][-1] == 40 and len(histograms["kernel/hidden_0"]) >= 1
    val_tags = {v.tag for e in events("validation") for v in e.summary.value}
    assert val_tags == {"epoch_loss", "epoch_data_loss", "epoch_accuracy"}
