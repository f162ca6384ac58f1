"""summary.csv written by the runner as runs finish: rows from (config, metrics), appended whole, rewritten in
config order at the end byte for byte as the old path (summary_rows of the loaded runs) wrote it; resume and
Ctrl-C; and run folders loaded lazily (no plot data read for a summary)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY
from regdemo.config.loading import load_experiment
from regdemo.errors import RunFolderError
from regdemo.options import RunOptions
from regdemo.results import rundir, summary
from regdemo.runs import one_run, runner
from regdemo.runs.backends import Job, RunDone

QUICK = TINY.replace("epochs: 30", "epochs: 4").replace("resolution: 24", "resolution: 12")
SWEEP = (
    QUICK.split("runs:")[0]
    + """\
runs:
  - name: a
  - name: b
    model: {regularizer: {kind: l2}}
sweep:
  model.regularizer.lambda: [0.0, 0.01]
"""
)


def _run(path: Path, out: Path, **kw) -> runner.Outcome:
    quiet = {"say": lambda _: None, "summarize": True}
    return runner.execute(load_experiment(path), out, RunOptions(progress=False, **kw), **quiet)


def _old_summary(exp_dir: Path, names: list[str], tmp: Path) -> bytes:
    """summary.csv as regdemo wrote it before: every run folder loaded back, summary_rows, write_summary."""
    tmp.mkdir(parents=True, exist_ok=True)
    runs = rundir.load_runs([exp_dir / name for name in names])
    return rundir.write_summary(summary.summary_rows(runs), tmp).read_bytes()


@pytest.fixture(scope="module")
def sweep_exp(tmp_path_factory) -> tuple[Path, Path]:
    """SWEEP (4 runs: a and b × λ 0, 0.01), one run failed on purpose, trained once in this process."""
    root = tmp_path_factory.mktemp("summary")
    config = root / "sweep.yaml"
    config.write_text(SWEEP, encoding="utf-8")
    real = one_run.measure_run  # alone or in a pack, every run is measured here

    def flaky(run, *args):
        if run.config.name.startswith("b") and run.config.sweep["model.regularizer.lambda"] == 0.01:
            raise RuntimeError("simulated failure")
        return real(run, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(one_run, "measure_run", flaky)
        outcome = _run(config, root / "out", workers=1)
    assert sorted(outcome.statuses.values()) == ["completed", "completed", "completed", "failed"]
    return config, outcome.folder


def test_the_final_summary_is_byte_identical_to_the_old_path(sweep_exp, tmp_path) -> None:
    config, exp_dir = sweep_exp
    names = [cfg.name for cfg in load_experiment(config).runs]
    written = (exp_dir / "summary.csv").read_bytes()
    assert written == _old_summary(exp_dir, names, tmp_path / "old")
    rows = rundir.read_summary(exp_dir)
    assert [r["run"] for r in rows] == names  # config order
    assert [r["model.regularizer.lambda"] for r in rows] == ["0.0", "0.01", "0.0", "0.01"]
    assert rows[3]["status"] == "failed" and rows[3]["error"] == "RuntimeError: simulated failure"
    assert written.count(b"\r\n") == 5  # the csv module's line ends, as before


def test_summary_row_is_summary_rows_row_from_config_and_metrics(sweep_exp) -> None:
    config, exp_dir = sweep_exp
    runs = rundir.load_runs(rundir.find_runs(exp_dir))
    swept = summary.swept_columns(cfg.sweep for cfg in load_experiment(config).runs)
    assert swept == ["model.regularizer.lambda"] == summary.sweep_fields(runs)
    for run, row in zip(runs, summary.summary_rows(runs), strict=True):
        assert summary.summary_row(run.config, run.metrics, swept) == row
        assert list(row) == summary.summary_columns(swept)


def test_a_resume_takes_the_kept_rows_from_the_plan_and_ends_identical(sweep_exp, tmp_path, monkeypatch) -> None:
    config, exp_dir = sweep_exp
    out = tmp_path / "out"
    shutil.copytree(exp_dir.parent, out)
    first = rundir.read_summary(out / exp_dir.name)
    shutil.rmtree(out / exp_dir.name / first[0]["run"])
    reads = []
    real = rundir.read_metrics
    monkeypatch.setattr(rundir, "read_metrics", lambda d: reads.append(d.name) or real(d))
    outcome = _run(config, out, workers=1)
    assert outcome.skipped == 2  # the failed run is retrained (and now completes), the deleted one too
    assert reads == [first[0]["run"], first[3]["run"]]  # only the runs just trained: kept ones come from the plan
    again = rundir.read_summary(out / exp_dir.name)
    names = [r["run"] for r in first]
    assert [r["run"] for r in again] == names and again[1:3] == first[1:3]  # kept rows: their train_seconds too
    assert (out / exp_dir.name / "summary.csv").read_bytes() == _old_summary(out / exp_dir.name, names, tmp_path / "o")


def _metrics(loss: float) -> dict:
    return {"format": rundir.FORMAT, "status": "completed", "epochs_run": 4, "final": {"data_loss": loss}}


def test_rows_are_appended_as_runs_finish_and_ctrl_c_keeps_them(write_config, tmp_path, monkeypatch) -> None:
    """A backend of made-up runs: summary.csv grows by one whole row per finished run, header (with the swept
    column) before the first; an interrupted experiment keeps the finished rows, in finishing order."""
    path = write_config(SWEEP)
    names = [cfg.name for cfg in load_experiment(path).runs]
    seen: list[list[dict[str, str]]] = []
    order = [names[2], names[0], names[3]]

    def backend(job: Job) -> Iterator[RunDone]:
        for k, name in enumerate(order):
            seen.append(rundir.read_summary(job.exp_dir))
            assert (job.exp_dir / "summary.csv").read_text().startswith("run,experiment,variant,status,model.regul")
            yield name, "completed", _metrics(0.1 * (k + 1))
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "choose_backend", lambda *a: backend)
    with pytest.raises(KeyboardInterrupt):
        _run(path, tmp_path)
    assert [[r["run"] for r in rows] for rows in seen] == [[], order[:1], order[:2]]
    rows = rundir.read_summary(tmp_path / "tiny")
    assert [(r["run"], r["data_loss"]) for r in rows] == [
        (order[0], "0.1"),
        (order[1], "0.2"),
        (order[2], "0.30000000000000004"),
    ]
    assert rows[0]["model.regularizer.lambda"] == "0.0" and rows[2]["model.regularizer.lambda"] == "0.01"


def test_the_last_row_rewrites_the_summary_in_config_order(write_config, tmp_path, monkeypatch) -> None:
    path = write_config(SWEEP)
    names = [cfg.name for cfg in load_experiment(path).runs]
    after_last: list[list[str]] = []

    def backend(job: Job) -> Iterator[RunDone]:
        for name in reversed(names):
            yield name, "completed", _metrics(0.5)
        after_last.append([r["run"] for r in rundir.read_summary(job.exp_dir)])  # where the figures would be drawn

    monkeypatch.setattr(runner, "choose_backend", lambda *a: backend)
    _run(path, tmp_path)
    assert after_last == [names]


# ---------------------------------------------------------------- lazy loading


def test_loading_and_summarizing_reads_no_plot_data(sweep_exp, monkeypatch) -> None:
    from regdemo.draw import figures
    from regdemo.results.rundir import read

    _, exp_dir = sweep_exp
    calls = []
    real = read.read_plot_data
    monkeypatch.setattr(read, "read_plot_data", lambda *a: calls.append(a[0].name) or real(*a))
    runs = rundir.load_runs(rundir.find_runs(exp_dir))
    summary.summary_rows(runs)
    names = [name for name, _ in figures.comparison_figures(runs)]
    assert calls == [] and "compare_weights.png" in names
    view = runs[0].view
    assert runs[0].view is view and calls == [runs[0].path.name]  # read once, on first use
    with np.load(runs[0].path / "plot_data.npz") as saved:
        np.testing.assert_array_equal(view.grid.prob, saved["grid_prob"])
    assert runs[3].failed and runs[3].view is None and runs[3].history == {}


def test_a_missing_plot_data_is_one_line_up_front_and_where_the_view_is_needed(sweep_exp, tmp_path) -> None:
    _, exp_dir = sweep_exp
    run_dir = tmp_path / exp_dir.name / "x"
    shutil.copytree(rundir.find_runs(exp_dir)[0], run_dir)
    run = rundir.load_run(run_dir)
    (run_dir / "plot_data.npz").rename(tmp_path / "away.npz")
    with pytest.raises(RunFolderError, match=r"/x: unreadable run folder: no plot_data.npz$"):
        _ = run.view
    with pytest.raises(RunFolderError, match=r"/x: unreadable run folder: no plot_data.npz$"):
        rundir.load_runs([run_dir])
    (run_dir / "plot_data.npz").write_bytes(b"not a zip")
    with pytest.raises(RunFolderError, match=r"/x: unreadable run folder: plot_data.npz: "):
        _ = rundir.load_run(run_dir).view
