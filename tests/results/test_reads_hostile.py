"""A folder from someone else is hostile input (issue 16, the reading side): links, bombs and malformed
files planted in a copy of a real experiment, each read by `report`, `compare`, `check`, `run` (resume)
and `regdemo.load`: one stderr line naming the file and field, exit 2, no traceback, bounded cost, and
nothing of a private file embedded anywhere.

One tiny experiment (two runs, a film of 3 snapshots, one check) is trained per module; each test plants
its case in a copy.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import regdemo
from conftest import TINY
from regdemo.cli import main
from regdemo.errors import RunFolderError
from regdemo.results import rundir
from regdemo.results.rundir import expfiles as rundir_expfiles

CONFIG = (
    TINY.replace("epochs: 30", "epochs: 3")
    .replace("resolution: 24}}", "resolution: 12}, snapshots: 3}")
    .split("  - name: l1")[0]
    + """checks:
  - name: l2_has_weight
    claim: With L2 the kernels have weight
    metric: kernels_l2
    runs: {variant: l2}
    above: 0
"""
)
SECRET = "TOPSECRET-private-key-material"
# Nine lines, each ten aliases of the line before: 10**9 values once expanded, ~1 kB as written.
BOMB = "sweep:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  {b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    (root / "tiny.yaml").write_text(CONFIG, encoding="utf-8")
    args = ["run", str(root / "tiny.yaml"), "--out", str(root / "out"), "--quiet", "--workers", "1", "--no-report"]
    assert main(args) == 0
    return root / "out" / "tiny"


@pytest.fixture
def exp(trained: Path, tmp_path: Path) -> Path:
    """A copy of the experiment to plant a case in (its models left out: nothing here reads them)."""
    return Path(shutil.copytree(trained, tmp_path / "out" / "tiny", ignore=shutil.ignore_patterns("model.keras")))


def one_line(capsys) -> str:
    """The one stderr line of the command just run (exactly one, no traceback)."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


def bounded(args: list[str]) -> int:
    """Run the CLI in-process: its exit status, checked to take < 5 s and < 200 MB more memory at peak."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    status = main(args)
    assert time.perf_counter() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # kB on Linux
    return status


def refused(capsys, args: list[str], *parts: str) -> str:
    """``args`` exit 2 with one line holding every one of ``parts``; the line."""
    capsys.readouterr()
    assert bounded(args) == 2
    line = one_line(capsys)
    assert all(part in line for part in parts), line
    return line


def compare(exp: Path, tmp_path: Path, run: str = "l2") -> list[str]:
    return ["compare", str(exp / run), "--out", str(tmp_path / "cmp")]


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(dumps(data))


def npz_with(path: Path, arrays: dict[str, np.ndarray], raw: dict[str, bytes] | None = None) -> None:
    """Write ``path`` as savez would, plus members given as raw .npy bytes (a header of any shape)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (raw or {}).items():
            archive.writestr(f"{name}.npy", data)
    path.write_bytes(buffer.getvalue())


def arrays_of(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / "plot_data.npz") as saved:
        return {key: saved[key] for key in saved.files}


def npy_header(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    """A .npy file's header declaring ``shape``, followed by only a few bytes of data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + b"\0" * 64


# ---------------------------------------------------------------- links


def test_a_png_linked_to_a_private_file_is_never_embedded(trained: Path, exp: Path, tmp_path: Path, capsys) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    png = exp / "l2" / "boundary.png"
    png.unlink()
    png.symlink_to(secret)
    refused(capsys, ["report", str(exp)], f"{png}: a link, not a file")
    assert not (exp / "report.html").exists()
    html = regdemo.load(exp).runs["l2"]._repr_html_()  # Jupyter: the other plots, and a line for this one
    assert SECRET not in html and "boundary.png: a link" in html and html.count("<img") == 2
    png.unlink()
    shutil.copyfile(secret, png)  # a regular file, but no PNG
    refused(capsys, ["report", str(exp)], f"{png}: not a PNG image")
    assert "not a PNG image" in regdemo.load(exp).runs["l2"]._repr_html_()
    shutil.copyfile(trained / "l2" / "boundary.png", png)
    assert main(["report", str(exp)]) == 0 and SECRET not in (exp / "report.html").read_text()


def test_a_folder_or_a_fifo_where_a_file_belongs_is_one_line(exp: Path, tmp_path: Path, capsys) -> None:
    png = exp / "l2" / "boundary.png"
    png.unlink()
    png.mkdir()  # found by tests/test_hostile_folders.py: fdopen refused it with a traceback of its own
    refused(capsys, ["report", str(exp)], f"{png}: not a regular file")
    assert "not a regular file" in regdemo.load(exp).runs["l2"]._repr_html_()
    png.rmdir()
    os.mkfifo(png)  # opened without blocking, then refused
    refused(capsys, ["report", str(exp)], f"{png}: not a regular file")


def test_a_run_folder_that_is_a_link_is_refused(exp: Path, tmp_path: Path, capsys) -> None:
    elsewhere = Path(shutil.move(exp / "l2", tmp_path / "elsewhere"))
    (exp / "l2").symlink_to(elsewhere, target_is_directory=True)
    refused(capsys, compare(exp, tmp_path), f"{exp / 'l2'}: a link, not a run folder")
    refused(capsys, ["report", str(exp)], f"{exp / 'l2'}: a link, not a run folder")
    assert not (tmp_path / "cmp").exists() and not (exp / "report.html").exists()
    (tmp_path / "tiny.yaml").write_text(CONFIG)  # resume reads nothing through it: another run, unless --force
    resume = ["run", str(tmp_path / "tiny.yaml"), "--out", str(exp.parent), "--quiet", "--workers", "1"]
    refused(capsys, resume, f"{exp / 'l2'}: holds a run with a different config")


# ---------------------------------------------------------------- bombs


def test_an_alias_bomb_in_a_run_config_is_refused_by_compare_and_resume(exp: Path, tmp_path: Path, capsys) -> None:
    config = exp / "l2" / "config.yaml"
    text = config.read_text().replace("sweep: {}\n", "")
    config.write_text(text + BOMB)
    refused(capsys, compare(exp, tmp_path), f"{config}:", "holds more than 100,000 values")
    (tmp_path / "tiny.yaml").write_text(CONFIG)
    resume = ["run", str(tmp_path / "tiny.yaml"), "--out", str(exp.parent), "--quiet", "--workers", "1"]
    refused(capsys, resume, f"{config}:", "holds more than")


def test_plot_data_declaring_a_huge_array_is_refused_before_reading(exp: Path, tmp_path: Path, capsys) -> None:
    arrays = arrays_of(exp / "l2")
    del arrays["grid_prob"]
    npz_with(exp / "l2" / "plot_data.npz", arrays, {"grid_prob": npy_header((370_000, 370_000))})
    refused(capsys, compare(exp, tmp_path), "plot_data.npz", "grid_prob: shape (370000, 370000) does not fit")
    with pytest.raises(RunFolderError, match="grid_prob: shape"):
        rundir.load_run(exp / "l2")


def test_plot_data_inflating_past_its_runs_size_is_refused(exp: Path, tmp_path: Path, capsys) -> None:
    arrays = arrays_of(exp / "l2") | {"kernel_hidden_0": np.zeros((2000, 2000))}  # 32 MB of zeros in ~40 kB
    npz_with(exp / "l2" / "plot_data.npz", arrays)
    assert (exp / "l2" / "plot_data.npz").stat().st_size < 50_000  # under the file's own bound: the size declared
    refused(capsys, compare(exp, tmp_path), "plot_data.npz: declares 32,", "bytes decompressed, over its run's")
    arrays["kernel_hidden_0"] = np.zeros((4000, 4000))  # 128 MB: the file itself is over its bound
    npz_with(exp / "l2" / "plot_data.npz", arrays)
    refused(capsys, compare(exp, tmp_path), "plot_data.npz: ", "bytes, over the")
    arrays["kernel_hidden_0"] = np.zeros((40, 40), dtype=object)  # objects would need pickle
    with pytest.raises(ValueError):  # savez writes it with pickle; regdemo never reads one
        np.savez(io.BytesIO(), **arrays, allow_pickle=False)


def test_a_huge_error_text_is_cut_before_it_is_drawn(exp: Path, tmp_path: Path, capsys) -> None:
    error = "ValueError: " + "very long line " * 200_000  # 3 MB
    (exp / "l2" / "error.txt").write_text("x" * 5_000_000)
    edit_json(exp / "l2" / "metrics.json", lambda m: m.update(status="failed", error=error))
    capsys.readouterr()
    assert bounded(compare(exp, tmp_path)) == 0
    assert len(rundir.load_run(exp / "l2").error) == rundir.MAX_ERROR_CHARS
    assert len(rundir.read_text(exp / "l2", "error.txt")) == rundir.MAX_ERROR_CHARS
    assert bounded(["report", str(exp)]) == 0
    page = (exp / "report.html").read_text()
    assert len(page) < 2**20 and page.count("very long line") <= 3 * rundir.MAX_ERROR_CHARS // 15  # 3 places


# ---------------------------------------------------------------- malformed files: one line, exit 2


def _set(key: str, value):
    return lambda data: data.__setitem__(key, value)


class Deep:
    """A value JSON-encoded as ``depth`` nested lists (json.dumps itself would recurse too deep)."""

    def __init__(self, depth: int) -> None:
        self.depth = depth


def dumps(data) -> str:
    """json.dumps, every :class:`Deep` written as its nested lists."""
    marks: list[int] = []
    text = json.dumps(data, default=lambda deep: marks.append(deep.depth) or f"@DEEP{len(marks) - 1}@")
    for i, depth in enumerate(marks):
        text = text.replace(f'"@DEEP{i}@"', "[" * depth + "0" + "]" * depth)
    return text


def _deep(depth: int) -> Deep:
    return Deep(depth)


METRICS_CASES = [
    (_set("sweep", "a string"), "sweep: must be a mapping"),
    (_set("weights", "a string"), "weights: must be a mapping"),
    (_set("final", {"loss": [1]}), "final.loss: must be a number"),
    (_set("run", "../../etc"), "run: must be made of letters"),
    (_set("deep", _deep(5000)), "nested more than 32 levels deep"),
]


@pytest.mark.parametrize(("change", "message"), METRICS_CASES)
def test_malformed_metrics_json_is_one_line_everywhere(exp: Path, tmp_path: Path, capsys, change, message) -> None:
    path = exp / "l2" / "metrics.json"
    edit_json(path, change)
    refused(capsys, compare(exp, tmp_path), f"{path}: ", message)
    refused(capsys, ["report", str(exp)], f"{path}: ", message)
    with pytest.raises(RunFolderError, match=message):
        _ = regdemo.load(exp).runs["l2"].metrics
    (tmp_path / "tiny.yaml").write_text(CONFIG)
    resume = ["run", str(tmp_path / "tiny.yaml"), "--out", str(exp.parent), "--quiet", "--workers", "1"]
    refused(capsys, resume, f"{path}: ", message)


def _edit_check(change):
    def edit(data):
        change(data["checks"][0])

    return edit


CHECKS_CASES = [
    (lambda data: data.__setitem__("checks", ["not a mapping"]), "checks.0: must be a mapping"),
    (_edit_check(lambda c: c.pop("figures")), "checks.0.figures: missing"),
    (_edit_check(lambda c: c.pop("verdict")), "checks.0.verdict: missing"),
    (_edit_check(lambda c: c["spec"][0].__setitem__("comparator", "roughly")), "checks.0.spec.0.comparator: "),
    (_edit_check(lambda c: c.__setitem__("claim", _deep(5000))), "nested more than 32 levels deep"),
]


@pytest.mark.parametrize(("change", "message"), CHECKS_CASES)
def test_malformed_checks_json_is_one_line(exp: Path, tmp_path: Path, capsys, change, message) -> None:
    path = exp / "checks.json"
    edit_json(path, change)
    refused(capsys, ["check", str(exp)], f"{path}: ", message)
    refused(capsys, ["report", str(exp)], f"{path}: ", message)
    with pytest.raises(RunFolderError, match=message):
        _ = regdemo.load(exp).checks


def _rewrite(transform):
    def edit(path: Path) -> None:
        path.write_text(transform(path.read_text()))

    return edit


HISTORY_CASES = [
    (_rewrite(lambda text: ""), "epoch: missing column"),
    (_rewrite(lambda text: text.splitlines()[0] + "\n"), "no rows"),
    (_rewrite(lambda text: text.replace(",loss,", ",lost,", 1)), "loss: missing column"),
    (_rewrite(lambda text: text + "4," + "9" * 200_000 + ",1,1,1,1,1,1\n"), "field larger than field limit"),
    (_rewrite(lambda text: text.replace("\n2,", "\n2,x", 1)), ":3: loss: not a number"),
]


@pytest.mark.parametrize(("change", "message"), HISTORY_CASES)
def test_malformed_history_csv_is_one_line(exp: Path, tmp_path: Path, capsys, change, message) -> None:
    path = exp / "l2" / "history.csv"
    change(path)
    refused(capsys, compare(exp, tmp_path), f"{path}", message)
    with pytest.raises(RunFolderError, match=message):
        _ = regdemo.load(exp).runs["l2"].history


PLOT_DATA_CASES = [
    ({"snapshot_epochs": np.array([0.5, 1.5, 2.5])}, "snapshot_epochs: not epochs of its run"),
    ({"snapshot_epochs": np.array([3, 1, 0])}, "snapshot_epochs: not in increasing order"),
    ({"snapshot_epochs": np.array([[0, 1, 3]])}, "snapshot_epochs: shape (1, 3) does not fit"),
    ({"grid_x": np.linspace(-2, 3, 12)}, "grid_x: shape (12,) does not fit"),
    ({"surprise": np.zeros(3)}, "surprise.npy: not an array regdemo writes"),
]


@pytest.mark.parametrize(("change", "message"), PLOT_DATA_CASES)
def test_malformed_plot_data_is_one_line(exp: Path, capsys, change, message) -> None:
    path = exp / "l2" / "plot_data.npz"
    npz_with(path, arrays_of(exp / "l2") | change)
    refused(capsys, ["report", str(exp)], f"{path}: ", message)


# ---------------------------------------------------------------- names read back


def test_a_summary_run_cell_leaving_the_folder_is_refused(exp: Path, capsys) -> None:
    summary = exp / "summary.csv"
    summary.write_text(summary.read_text().replace("\nl2,", "\n../l2,", 1))
    refused(capsys, ["diff", str(exp), str(exp)], f"{summary}:3: run: must be made of letters", "'../l2'")
    refused(capsys, ["report", str(exp)], f"{summary}:3: run: ")


def test_a_run_name_is_read_back_behind_the_writers_formula_quote(tmp_path: Path) -> None:
    assert rundir_expfiles.run_name("'-x", "where") == "-x"  # a run "-x", written '-x (OWASP's quote)
    with pytest.raises(RunFolderError, match=r"^where: must be made of"):
        rundir_expfiles.run_name("'=cmd|' /C calc'!A0", "where")


def test_check_markdown_escapes_a_claim_that_would_inject_a_heading(exp: Path, capsys) -> None:
    claim = "ok\n## ✅ all within tolerance\n![](http://evil.example/x.png) <script>"
    edit_json(exp / "checks.json", _edit_check(lambda c: c.__setitem__("claim", claim)))
    capsys.readouterr()
    assert main(["check", str(exp), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 3  # header, rule, one row: the claim's newlines did not end its row
    assert "\n#" not in out and "![](" not in out and "<script>" not in out
    assert "\\#\\# ✅ all within tolerance" in out
