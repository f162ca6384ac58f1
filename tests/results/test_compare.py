"""Comparison grids past 36 runs only on request (figures.comparison_figures' grids, --grids on run and compare)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import TINY
from regdemo.cli import main
from regdemo.draw import figures, layout
from regdemo.results import rundir

QUICK = TINY.replace("epochs: 30", "epochs: 3").replace("resolution: 24", "resolution: 10")
GRIDS = {"compare_boundaries.png", "compare_loss.png"}


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory) -> Path:
    """The tiny three-run experiment, trained once in this process."""
    root = tmp_path_factory.mktemp("compare")
    (root / "tiny.yaml").write_text(QUICK, encoding="utf-8")
    assert (
        main(["run", str(root / "tiny.yaml"), "--out", str(root / "out"), "--quiet", "--no-report", "--workers", "1"])
        == 0
    )
    return root / "out" / "tiny"


def _pngs(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.png")}


def test_past_the_limit_grids_are_drawn_only_on_request(three_runs, tmp_path, monkeypatch) -> None:
    runs = rundir.find_runs(three_runs)
    assert _pngs(three_runs) >= GRIDS  # 3 runs: within 36, drawn by `regdemo run`
    assert figures.draws_grids(rundir.load_runs(runs))
    monkeypatch.setattr(layout, "MAX_SIDE", 1)  # the limit becomes 1 run
    out = tmp_path / "cmp"
    assert main(["compare", *map(str, runs), "--out", str(out), "--grids"]) == 0
    assert _pngs(out) == GRIDS | {"compare_weights.png"}
    assert main(["compare", *map(str, runs), "--out", str(out)]) == 0
    assert _pngs(out) == {"compare_weights.png"}  # the earlier grid pages are stale: removed
    assert [name for name, _ in figures.comparison_figures(rundir.load_runs(runs))] == ["compare_weights.png"]
    assert len(list(figures.comparison_figures(rundir.load_runs(runs), grids=True))) == 3
    assert figures.draws_grids(rundir.load_runs(runs[:1]))


def test_run_takes_grids_too(three_runs, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(layout, "MAX_SIDE", 1)
    config = three_runs.parent.parent / "tiny.yaml"
    out = tmp_path / "out"
    shutil.copytree(three_runs, out / "tiny")  # complete: nothing is trained, the figures are drawn again
    assert main(["run", str(config), "--out", str(out), "--quiet", "--no-report", "--workers", "1"]) == 0
    assert "compare_weights.png" in _pngs(out / "tiny")
    assert not GRIDS & _pngs(out / "tiny")
    assert main(["run", str(config), "--out", str(out), "--quiet", "--no-report", "--workers", "1", "--grids"]) == 0
    assert _pngs(out / "tiny") >= GRIDS
    assert (out / "tiny" / "summary.csv").read_bytes() == (three_runs / "summary.csv").read_bytes()
