"""The progress display: one plain line per finished run where no terminal is (or $CI is set), rich's live display
on a terminal, nothing with --quiet. (The Ray backend's lines: tests/runs/test_ray.py.)"""

from __future__ import annotations

import io
import json
import re

import pytest

from conftest import TINY
from regdemo.cli import main
from regdemo.runs import progress

QUICK = TINY.replace("epochs: 30", "epochs: 4").replace("resolution: 24", "resolution: 12")
LINE = re.compile(
    r"^\[(\d+)/3\] (\w+) (completed|diverged|failed)  (.*)  elapsed (\d+:\d\d:\d\d)  left ~(\d+:\d\d:\d\d)$"
)


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_without_a_terminal_each_finished_run_is_one_plain_line(write_config, tmp_path, capsys) -> None:
    assert main(["run", str(write_config(QUICK)), "--out", str(tmp_path), "--workers", "1", "--no-report"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3, lines  # nothing else: no bars, no frames
    found = [LINE.match(line) for line in lines]
    assert all(found), lines
    assert [m.group(1) for m in found] == ["1", "2", "3"]
    assert sorted(m.group(2) for m in found) == ["l1", "l2", "none"]
    for match in found:
        metrics = json.loads((tmp_path / "tiny" / match.group(2) / "metrics.json").read_text())
        accuracy, gap = metrics["final"]["val_accuracy"], metrics["generalization_gap"]
        assert match.group(4) == f"val_accuracy {accuracy:.4g}  generalization_gap {gap:.4g}"
    assert found[-1].group(6) == "0:00:00"  # nothing left after the last run


def test_quiet_shows_nothing(write_config, tmp_path, capsys) -> None:
    assert main(["run", str(write_config(QUICK)), "--out", str(tmp_path), "--quiet", "--workers", "1"]) == 0
    assert capsys.readouterr().err == ""


def test_a_plain_line_estimates_the_time_left_from_the_runs_done() -> None:
    metrics = {"final": {"val_accuracy": 0.91254}, "generalization_gap": -0.0123456, "status": "completed"}
    assert progress.plain_line(2, 5, "l2", "completed", metrics, 10.0) == (
        "[2/5] l2 completed  val_accuracy 0.9125  generalization_gap -0.01235  elapsed 0:00:10  left ~0:00:15"
    )
    diverged = progress.plain_line(1, 1, "big", "diverged", {"final": {"val_accuracy": None}}, 3725.4)
    assert diverged == "[1/1] big diverged  val_accuracy n/a  generalization_gap n/a  elapsed 1:02:05  left ~0:00:00"
    failed = {"status": "failed", "error": "ValueError: bad\n  more lines"}
    assert progress.plain_line(3, 4, "x", "failed", failed, 6.0) == (
        "[3/4] x failed  error: ValueError: bad  elapsed 0:00:06  left ~0:00:02"
    )


@pytest.mark.parametrize(
    ("tty", "ci", "kind"),
    [
        (True, None, progress.LiveDisplay),
        (True, "", progress.LiveDisplay),
        (True, "false", progress.LiveDisplay),
        (True, "true", progress.PlainDisplay),
        (True, "1", progress.PlainDisplay),
        (False, None, progress.PlainDisplay),
    ],
)
def test_plain_where_no_terminal_is_or_ci_is_set(tty, ci, kind, monkeypatch) -> None:
    monkeypatch.setattr("sys.stderr", Terminal() if tty else io.StringIO())
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert type(progress.display(3, True)) is kind
    shown = progress.display(3, False)
    assert type(shown) is progress.LiveDisplay and shown._progress.disable  # --quiet: nothing either way


def test_on_a_terminal_the_live_display_counts_the_runs(monkeypatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.delenv("CI", raising=False)
    with progress.display(2, True) as shown:
        shown.epochs("w", "l2", 3, 4)
        shown.run_done("l2", "completed", {})
        shown.run_done("none", "completed", {})
    text = terminal.getvalue()
    assert "2/2" in text and "worker 1: l2" in text and "[1/2]" not in text
