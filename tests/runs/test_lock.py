"""One writer per experiment: the lock, what a kill leaves of it, --wait, and readers that see only whole runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TINY
from regdemo.cli import main
from regdemo.config.loading import load_experiment
from regdemo.draw import figures
from regdemo.errors import ExperimentLocked, RunFolderError
from regdemo.options import RunOptions
from regdemo.report import page as report
from regdemo.results import lock, rundir
from regdemo.results.lock import lock_experiment
from regdemo.runs.runner import execute

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the lock is POSIX flock")

ONE_RUN = TINY.replace("epochs: 30", "epochs: 3").replace("resolution: 24", "resolution: 12").split("runs:")[0]

# Holds the lock of the folder argv[1] for argv[2] seconds, saying so first.
_HOLDER = """
import sys, time
from pathlib import Path
from regdemo.results.lock import lock_experiment
with lock_experiment(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(exp_dir: Path, seconds: float) -> subprocess.Popen:
    """A process holding ``exp_dir``'s lock for ``seconds`` (returned once it holds it)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(exp_dir), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_run_into_a_locked_experiment_exits_2_at_once_naming_the_holder(
    write_config, tmp_path, capsys
) -> None:
    path = write_config(ONE_RUN)
    holder = _hold(tmp_path / "out" / "tiny", 60)
    try:
        assert (tmp_path / "out" / "tiny" / rundir.LOCK).read_text() == f"{holder.pid}\n"
        started = time.monotonic()
        assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet", "--workers", "1"]) == 2
        assert time.monotonic() - started < 2.0
        err = capsys.readouterr().err
        assert err == (
            f"{tmp_path / 'out' / 'tiny'}: another regdemo run (pid {holder.pid}) is writing this experiment; "
            "use --wait to wait for it\n"
        )
        assert [p.name for p in (tmp_path / "out" / "tiny").iterdir()] == [rundir.LOCK]  # nothing trained
    finally:
        holder.kill()
        holder.wait()


def test_a_sigkilled_holder_leaves_no_stale_lock(write_config, tmp_path) -> None:
    exp_dir = tmp_path / "out" / "tiny"
    holder = _hold(exp_dir, 60)
    holder.kill()  # SIGKILL: no cleanup runs
    holder.wait()
    assert (exp_dir / rundir.LOCK).read_text() == f"{holder.pid}\n"  # the file stays, its lock is gone
    experiment = load_experiment(write_config(ONE_RUN))
    outcome = execute(experiment, tmp_path / "out", RunOptions(progress=False), say=lambda _: None)
    assert outcome.statuses == {"tiny": "completed"}
    assert not (exp_dir / rundir.LOCK).exists()  # released and removed


def test_wait_waits_for_the_holder_to_end(write_config, tmp_path, capsys) -> None:
    path = write_config(ONE_RUN)
    holder = _hold(tmp_path / "out" / "tiny", 3)
    started = time.monotonic()
    assert (
        main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet", "--no-report", "--workers", "1", "--wait"])
        == 0
    )
    assert holder.wait(timeout=10) == 0
    assert time.monotonic() - started > 2.0
    out = capsys.readouterr().out
    assert f"waiting for regdemo run pid {holder.pid}, which is writing {tmp_path / 'out' / 'tiny'}" in out
    assert rundir.saved_state(tmp_path / "out" / "tiny" / "tiny")[1] == "completed"
    assert not (tmp_path / "out" / "tiny" / rundir.LOCK).exists()


def test_a_waiter_whose_holder_removed_the_file_locks_the_new_one(tmp_path, monkeypatch) -> None:
    """The holder removes the lock file on release while we wait on it: we must not end up holding a
    lock on a removed file while a third process locks a new file at the same path."""
    seen: list[bool] = []
    still_at = lock._still_at
    monkeypatch.setattr(lock, "_still_at", lambda fd, path: seen.append(still_at(fd, path)) or seen[-1])
    exp_dir = tmp_path / "exp"
    holder = _hold(exp_dir, 1)
    started = time.monotonic()
    with lock_experiment(exp_dir, wait=True):
        assert time.monotonic() - started > 0.5  # we got it only once the holder let go
        lock_file = exp_dir / rundir.LOCK
        assert lock_file.read_text() == f"{os.getpid()}\n"  # the file at the path is ours
        # another open file description, even in this process: flock refuses it too
        with pytest.raises(ExperimentLocked, match=rf"pid {os.getpid()}\)"), lock_experiment(exp_dir):
            pass
    assert not (exp_dir / rundir.LOCK).exists()
    assert holder.wait(timeout=10) == 0
    assert seen[:2] == [False, True]  # the file we waited on was gone: we locked a new one


def test_compare_and_report_ignore_a_hidden_staging_folder(write_config, tmp_path) -> None:
    """Run folders appear by rename, so a run being written is a hidden ``.<run>.partial-<pid>`` folder:
    the readers (find_runs, report, compare via the summary) must not take it for a run."""
    experiment = load_experiment(write_config(ONE_RUN))
    exp_dir = execute(experiment, tmp_path, RunOptions(progress=False), say=lambda _: None, summarize=True).folder
    staging = exp_dir / f".tiny2.partial-{os.getpid()}"
    shutil.copytree(exp_dir / "tiny", staging)  # even a complete-looking one
    assert rundir.find_runs(exp_dir) == [exp_dir / "tiny"]
    page = report.write_report(exp_dir).read_text(encoding="utf-8")
    assert "tiny2" not in page and ".partial-" not in page
    written = figures.compare(rundir.find_runs(exp_dir), tmp_path / "cmp")
    rows = (tmp_path / "cmp" / rundir.SUMMARY).read_text(encoding="utf-8").splitlines()
    assert len(rows) == 2 and rows[1].startswith("tiny,") and written


# ---------------------------------------------------------------- a received folder's lock file


def _outside(tmp_path: Path) -> Path:
    """A file outside the experiment, with an mtime that any write would change."""
    victim = tmp_path / "outside.txt"
    victim.write_bytes(b"not a lock\n")
    os.utime(victim, ns=(1_000_000_000, 1_000_000_000))
    return victim


def _state(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(write_config, tmp_path, capsys) -> None:
    path = write_config(ONE_RUN)
    exp_dir = tmp_path / "out" / "tiny"
    exp_dir.mkdir(parents=True)
    victim = _outside(tmp_path)
    (exp_dir / rundir.LOCK).symlink_to(victim)
    before = _state(victim)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == f"{exp_dir / rundir.LOCK}: is a symbolic link, not a lock file; remove it\n"
    assert _state(victim) == before
    assert [p.name for p in exp_dir.iterdir()] == [rundir.LOCK] and (exp_dir / rundir.LOCK).is_symlink()


def test_a_lock_file_that_is_a_fifo_is_refused_at_once(tmp_path) -> None:
    exp_dir = tmp_path / "exp"
    exp_dir.mkdir()
    os.mkfifo(exp_dir / rundir.LOCK)
    started = time.monotonic()
    refused = pytest.raises(
        RunFolderError, match=r"\.regdemo\.lock: is not a regular file, not a lock file; remove it$"
    )
    with refused, lock_experiment(exp_dir):
        pass
    assert time.monotonic() - started < 1.0  # opening it did not wait for a writer


def test_a_stale_lock_hard_linked_to_a_file_outside_is_replaced_not_written(tmp_path) -> None:
    exp_dir = tmp_path / "exp"
    exp_dir.mkdir()
    victim = _outside(tmp_path)
    os.link(victim, exp_dir / rundir.LOCK)  # a received folder may carry a hard link to anything
    before = _state(victim)
    with lock_experiment(exp_dir):
        assert (exp_dir / rundir.LOCK).read_text() == f"{os.getpid()}\n"  # a fresh file of ours
        assert not os.path.samefile(exp_dir / rundir.LOCK, victim)
        with pytest.raises(ExperimentLocked, match=rf"pid {os.getpid()}\)"), lock_experiment(exp_dir):
            pass  # and it is the one locked
    assert _state(victim) == before and victim.stat().st_nlink == 1  # the stale link was replaced
    assert list(exp_dir.iterdir()) == []


def test_an_experiment_folder_that_is_a_link_is_not_locked(tmp_path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "exp").symlink_to(tmp_path / "real", target_is_directory=True)
    refused = pytest.raises(RunFolderError, match=r"exp: is a symbolic link; regdemo does not write through links$")
    with refused, lock_experiment(tmp_path / "exp"):
        pass
    assert list((tmp_path / "real").iterdir()) == []


def test_the_lock_is_held_until_checks_json_and_the_report_are_written(write_config, tmp_path, monkeypatch) -> None:
    from regdemo import api
    from regdemo.report import page

    exp_dir = tmp_path / "out" / "tiny"
    held: list[str] = []

    def locked_out(step: str) -> None:
        with pytest.raises(ExperimentLocked), lock_experiment(exp_dir):
            pass
        held.append(step)

    judge, write_report = api.judge_experiment, page.write_report
    monkeypatch.setattr(api, "judge_experiment", lambda *a: locked_out("checks") or judge(*a))
    monkeypatch.setattr(page, "write_report", lambda *a, **k: locked_out("report") or write_report(*a, **k))
    path = write_config(
        ONE_RUN + "checks:\n  - {name: c, claim: x, metric: penalty, runs: {variant: tiny}, above: -1}\n"
    )
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert held == ["checks", "report"]
    assert not (exp_dir / rundir.LOCK).exists()
