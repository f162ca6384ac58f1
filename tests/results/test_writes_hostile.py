"""Writing into a received folder: links planted at every name regdemo writes (the old predictable temporary
names, the targets themselves, the lock, a run folder, the experiment folder) are never followed, nothing
outside the experiment folder changes, and summary.csv's text cannot start a spreadsheet formula."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from regdemo.cli import main
from regdemo.results import rundir, storage
from regdemo.results.rundir import write as rundir_write
from regdemo.results.saved import typed_column
from rundirs import failed_run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="symbolic links and O_NOFOLLOW are POSIX")

# One run of a few epochs on a coarse grid, with one check (that holds): trains in well under a second.
ONE = """\
name: recv
seed: 3
dataset: {kind: moons, n_samples: 60, noise: 0.2, random_state: 1, validation_split: 0.25}
model: {hidden_units: [8], regularizer: {kind: l2, lambda: 0.01}}
training: {epochs: 3, batch_size: 16}
plots: {boundary: {resolution: 12}}
runs:
  - name: r
checks:
  - name: l2_has_a_penalty
    claim: With L2 the kernels have weight
    metric: kernels_l2
    runs: {variant: r}
    above: 0
"""
SECRET = b"the victim's file: must never change\n"
FORMULA = "=cmd|' /C calc'!A0"


def _listing(folder: Path) -> dict[str, tuple]:
    """Everything under ``folder``: relative path → (kind, sha256 or link target, mtime in ns), links not followed."""
    seen = {}
    for path in sorted(folder.rglob("*")):
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            seen[str(path.relative_to(folder))] = ("link", os.readlink(path), info.st_mtime_ns)
        elif stat.S_ISREG(info.st_mode):
            seen[str(path.relative_to(folder))] = (
                "file",
                hashlib.sha256(path.read_bytes()).hexdigest(),
                info.st_mtime_ns,
            )
        else:
            seen[str(path.relative_to(folder))] = ("dir", "", 0)
    return seen


def _one_line_error(capsys) -> str:
    """stderr of the command just run: exactly one line, no traceback."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


@pytest.fixture(scope="module")
def received(tmp_path_factory) -> tuple[Path, Path]:
    """ONE trained once: (its config, its experiment folder), to be copied by each test."""
    root = tmp_path_factory.mktemp("received")
    config = root / "recv.yaml"
    config.write_text(ONE, encoding="utf-8")
    assert main(["run", str(config), "--out", str(root / "out"), "--quiet", "--no-report"]) == 0
    return config, root / "out" / "recv"


@pytest.fixture
def victim(tmp_path) -> Path:
    """A folder outside the experiment, holding a file a hostile sender would like regdemo to overwrite."""
    folder = tmp_path / "outside"
    (folder / "keep").mkdir(parents=True)
    (folder / "secret.txt").write_bytes(SECRET)
    (folder / "keep" / "data.csv").write_bytes(b"a,b\n1,2\n")
    os.utime(folder / "secret.txt", ns=(1_000_000_000, 1_000_000_000))  # an mtime a write would change
    return folder


def _copy(received: tuple[Path, Path], tmp_path: Path) -> Path:
    """The received experiment folder copied into ``tmp_path/out/recv``."""
    exp_dir = tmp_path / "out" / "recv"
    shutil.copytree(received[1], exp_dir, symlinks=True)
    return exp_dir


def _old_temporaries(exp_dir: Path, target: str, pids: range) -> list[Path]:
    """The names the old writer used for ``target``: ``.<stem>.<pid>.tmp<suffix>``."""
    stem, suffix = os.path.splitext(target)
    return [exp_dir / f".{stem}.{pid}.tmp{suffix}" for pid in pids]


def _plant(exp_dir: Path, targets: list[str], temporaries: list[str], victim: Path) -> list[Path]:
    """Links to the victim's file at every one of ``targets`` and at every old temporary name of
    ``temporaries`` this process (and its neighbours' pids) would use; returns the links."""
    pid = os.getpid()
    links = [exp_dir / name for name in targets]
    for name in temporaries:
        links += _old_temporaries(exp_dir, name, range(max(1, pid - 20), pid + 20))
    for link in links:
        link.unlink(missing_ok=True)
        link.symlink_to(victim / "secret.txt")
    return links


def test_report_and_check_replace_planted_links_and_never_write_outside(received, tmp_path, victim, capsys) -> None:
    exp_dir = _copy(received, tmp_path)
    written = [rundir.REPORT, rundir.CHECKS, rundir.COMPARE_WEIGHTS, rundir.SUMMARY]
    # checks.json, summary.csv and the figures are read first: a link there is the reading side's business
    _plant(exp_dir, [rundir.REPORT], written, victim)
    before = _listing(victim)
    assert main(["report", str(exp_dir)]) == 0
    assert main(["check", str(exp_dir)]) == 0
    capsys.readouterr()
    assert _listing(victim) == before  # bytes and mtime of everything outside unchanged
    for name in (rundir.REPORT, rundir.CHECKS):
        assert stat.S_ISREG(os.lstat(exp_dir / name).st_mode), name  # the link itself was replaced
    assert "<html" in (exp_dir / rundir.REPORT).read_text(encoding="utf-8").lower()
    assert '"l2_has_a_penalty"' in (exp_dir / rundir.CHECKS).read_text(encoding="utf-8")


def test_resuming_replaces_planted_links_at_summary_and_figures(received, tmp_path, victim, capsys) -> None:
    config, _ = received
    exp_dir = _copy(received, tmp_path)
    before_summary = (exp_dir / rundir.SUMMARY).read_bytes()
    written = [rundir.SUMMARY, rundir.CHECKS, rundir.COMPARE_WEIGHTS, rundir.REPORT]
    _plant(exp_dir, written, written, victim)
    before = _listing(victim)
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--quiet", "--no-report"]) == 0
    capsys.readouterr()
    assert _listing(victim) == before
    assert not (exp_dir / rundir.SUMMARY).is_symlink()
    assert (exp_dir / rundir.SUMMARY).read_bytes() == before_summary  # the same rows, written afresh
    # the old predictable names are hidden temporaries: the run's clean-up removed the links, not their target
    assert not list(exp_dir.glob(".*.tmp*"))


def test_a_temporary_file_is_new_hidden_and_unpredictable(tmp_path, victim) -> None:
    target = tmp_path / "summary.csv"
    target.symlink_to(victim / "secret.txt")
    names = set()
    for _ in range(50):
        fd, tmp = storage.new_file(target)
        os.close(fd)
        assert tmp.parent == tmp_path and tmp.name.startswith(".summary.csv.tmp.") and tmp.stat().st_size == 0
        names.add(tmp.name)
    assert len(names) == 50  # drawn at random
    storage.atomic_write(target, "x\n")
    assert target.read_text() == "x\n" and not target.is_symlink()
    assert (victim / "secret.txt").read_bytes() == SECRET


def test_writing_into_a_folder_that_is_a_link_is_refused(received, tmp_path, victim, capsys) -> None:
    link = tmp_path / "cmp"
    link.symlink_to(victim, target_is_directory=True)
    (victim / "sweep_old.png").write_bytes(b"a stale-looking file of the victim's\n")
    before = _listing(victim)
    assert main(["compare", str(received[1] / "r"), "--out", str(link)]) == 2
    assert _one_line_error(capsys) == f"{link}: is a symbolic link; regdemo does not write through links"
    assert _listing(victim) == before
    with pytest.raises(Exception, match=r": is a symbolic link; regdemo does not write through links$"):
        storage.atomic_write(link / rundir.SUMMARY, "x\n")
    with pytest.raises(Exception, match=r"is a symbolic link"):
        storage.write_whole(link / "run", lambda staging: staging.mkdir())
    assert _listing(victim) == before


def test_force_on_a_run_folder_that_is_a_link_removes_the_link_only(received, tmp_path, victim, capsys) -> None:
    config, _ = received
    exp_dir = _copy(received, tmp_path)
    shutil.copytree(exp_dir / "r", victim / "r")  # the link's target: a sibling's run folder
    shutil.rmtree(exp_dir / "r")
    (exp_dir / "r").symlink_to(victim / "r", target_is_directory=True)
    before = _listing(victim)
    out = str(tmp_path / "out")
    args = ["run", str(config), "--out", out, "--quiet", "--no-report", "--set", "training.epochs=2", "--force"]
    assert main(args) == 0
    assert capsys.readouterr().err == ""
    assert _listing(victim) == before  # the sibling's run folder is untouched
    run = exp_dir / "r"
    assert not run.is_symlink() and rundir.saved_state(run)[1] == "completed"
    assert rundir.saved_run(run)[0]["training"]["epochs"] == 2
    assert [p.name for p in exp_dir.iterdir() if p.name.startswith(".")] == []  # no .old-, .partial-, lock left


def test_an_experiment_folder_that_is_a_link_is_refused_with_force(received, tmp_path, victim, capsys) -> None:
    config, _ = received
    shutil.copytree(received[1], victim / "recv")
    (victim / ".recv.tmp.1").write_bytes(b"a sibling's own hidden file\n")
    (victim / "sweep_a.png").write_bytes(b"a sibling's figure\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "recv").symlink_to(victim, target_is_directory=True)
    before = _listing(victim)
    out = str(tmp_path / "out")
    assert main(["run", str(config), "--out", out, "--quiet", "--set", "training.epochs=2", "--force"]) == 2
    assert (
        _one_line_error(capsys)
        == f"{tmp_path / 'out' / 'recv'}: is a symbolic link; regdemo does not write through links"
    )
    assert _listing(victim) == before


def test_an_experiment_named_dot_dot_exits_2_and_writes_nothing(tmp_path, capsys) -> None:
    config = tmp_path / "dots.yaml"
    config.write_text(ONE.replace("name: recv", "name: '..'"), encoding="utf-8")
    (tmp_path / "out").mkdir()
    (tmp_path / "r").mkdir()  # a folder beside --out named like the run
    (tmp_path / ".x.tmp.1").write_bytes(b"kept\n")
    before = _listing(tmp_path)
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--quiet", "--force"]) == 2
    assert _one_line_error(capsys).startswith(f"{config}:1: name: ")
    assert _listing(tmp_path) == before


def test_clean_leftovers_removes_hidden_leftovers_and_links_without_following_them(tmp_path, victim) -> None:
    exp_dir = tmp_path / "exp"
    exp_dir.mkdir()
    fd, _ = storage.new_file(exp_dir / rundir.SUMMARY)  # what a kill while writing a file leaves
    os.close(fd)
    partial = exp_dir / ".r.partial-abc"  # ... while writing a run folder
    (partial / "r").mkdir(parents=True)
    for name in (".s.partial-x", ".s.old-1", ".summary.12.tmp.csv", ".report.html.tmp.x"):  # planted links
        (exp_dir / name).symlink_to(victim, target_is_directory=True)
    (exp_dir / "keep.csv").write_bytes(b"1\n")
    before = _listing(victim)
    storage.clean_leftovers(exp_dir)
    assert sorted(p.name for p in exp_dir.iterdir()) == ["keep.csv"]
    assert _listing(victim) == before


# ---------------------------------------------------------------- summary.csv: no formulas, numbers unchanged


def _plain_csv(rows: list[dict], columns: list[str]) -> bytes:
    """summary.csv as the writer wrote it before cells were neutralized: csv.DictWriter, the excel dialect."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def test_a_formula_cell_gets_a_quote_and_numbers_are_written_unchanged(tmp_path) -> None:
    row = {
        "run": FORMULA,
        "variant": "+SUM(A1)",
        "error": "@x",
        "note": "\tx",
        "cr": "\rx",
        "dash": "-x",
        "l1": -0.5,
        "small": -1e-05,
        "big": -1.5e20,
        "worst": float("-inf"),
        "text_number": "-1e-05",
        "text_inf": "-inf",
        "plus": "+2",
        "hidden_units": "16-8",
        "missing": None,
    }
    path = rundir.write_summary([row], tmp_path)
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    cells = next(csv.reader([lines[1]]))
    assert cells[:6] == [f"'{FORMULA}", "'+SUM(A1)", "'@x", "'\tx", "'\rx", "'-x"]
    assert cells[6:] == ["-0.5", "-1e-05", "-1.5e+20", "-inf", "-1e-05", "-inf", "+2", "16-8", ""]
    assert lines[1].startswith("'=cmd|' /C calc'!A0,")  # the sender's text as written, behind a quote
    read = rundir.read_summary(path)
    assert read[0]["run"] == f"'{FORMULA}"
    assert list(typed_column([read[0]["l1"]])) == [-0.5]
    assert list(typed_column([read[0]["small"]])) == [-1e-05]
    assert list(typed_column([read[0]["worst"]])) == [float("-inf")]
    with rundir_write.SummaryAppender(tmp_path, list(row)) as appender:  # the rows appended as runs finish
        appender.append(row)
    assert path.read_bytes().decode("utf-8").split("\r\n")[1] == lines[1]


def test_rows_appended_as_runs_finish_never_go_through_a_link_planted_later(tmp_path, victim) -> None:
    before = _listing(victim)
    with rundir_write.SummaryAppender(tmp_path, ["run", "l1"], [{"run": "a", "l1": 0.5}]) as appender:
        (tmp_path / rundir.SUMMARY).unlink()
        (tmp_path / rundir.SUMMARY).symlink_to(victim / "secret.txt")  # swapped in while the runs train
        appender.append({"run": "b", "l1": -0.5})
    assert _listing(victim) == before


def test_compare_writes_a_failed_runs_formula_error_behind_a_quote(received, tmp_path) -> None:
    run = failed_run(received[1] / "r", tmp_path / "runs" / "bad", error=FORMULA)
    assert main(["compare", str(run), "--out", str(tmp_path / "cmp")]) == 0
    row = rundir.read_summary(tmp_path / "cmp")[0]
    assert row["error"] == f"'{FORMULA}" and row["run"] == "bad"


def test_a_real_runs_summary_is_byte_identical_to_the_plain_writers(received) -> None:
    summary = received[1] / rundir.SUMMARY
    rows = rundir.read_summary(summary)
    assert summary.read_bytes() == _plain_csv(rows, list(rows[0]))
    numbers = {key: typed_column([cell]) for key, cell in rows[0].items() if key not in ("run", "variant", "status")}
    assert any(getattr(column, "dtype", None) is not None and column.dtype.kind == "f" for column in numbers.values())
