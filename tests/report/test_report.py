"""Saved runs → summary, comparison figures and report.html: the numbers read back, layouts, the CLI, a browser."""

from __future__ import annotations

import base64
import csv
import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import yaml
from matplotlib.figure import Figure
from scipy import stats

from conftest import TINY
from regdemo.cli import main
from regdemo.config.loading import load_experiment
from regdemo.config.overrides import parse_sets
from regdemo.draw import canvas, figures, layout
from regdemo.report import page as report
from regdemo.results import rundir, summary
from regdemo.train import datasets
from rundirs import ERROR, SMALL, failed_run, fake_run

ISSUE_2_FILES = {"summary.csv", "compare_boundaries.png", "compare_loss.png", "compare_weights.png"}


@pytest.fixture(scope="module")
def tiny_exp(tmp_path_factory) -> tuple[Path, Path]:
    """The tiny three-run experiment (none, l2, l1), 5 epochs, trained once: (config file, experiment folder)."""
    root = tmp_path_factory.mktemp("report")
    config = root / "tiny.yaml"
    config.write_text(TINY, encoding="utf-8")
    assert main(["run", str(config), "--out", str(root / "out"), "--quiet", "--workers", "1", *SMALL]) == 0
    return config, root / "out" / "tiny"


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------- reading runs back


def test_load_run_rebuilds_the_view_from_the_saved_files(tiny_exp) -> None:
    config, exp = tiny_exp
    run = rundir.load_run(exp / "l2")
    saved = np.load(exp / "l2" / "plot_data.npz")
    np.testing.assert_array_equal(run.view.grid.prob, saved["grid_prob"])
    np.testing.assert_array_equal(run.view.grid.xx, saved["grid_x"])
    np.testing.assert_array_equal(run.view.grid.yy, saved["grid_y"])
    assert run.view.grid.prob.shape == (20, 20)
    metrics = _metrics(exp / "l2")
    assert [name for name, _ in run.view.kernels] == [layer["name"] for layer in metrics["weights"]["layers"]]
    for name, kernel in run.view.kernels:
        np.testing.assert_array_equal(kernel, saved[f"kernel_{name}"])
    rows = _csv(exp / "l2" / "history.csv")
    assert len(rows) == metrics["epochs_run"] == 5
    assert set(run.history) == set(rows[0]) - {"epoch"}
    for column, values in run.history.items():
        np.testing.assert_allclose(values, [float(r[column]) for r in rows])
    assert run.config == load_experiment(config, parse_sets(SMALL[1::2], "--set")).runs[1]
    data = datasets.load(run.config.dataset)
    np.testing.assert_array_equal(run.view.data.x_val, data.x_val)
    assert run.view.layer_stats[0]["std"] == metrics["weights"]["layers"][0]["std"]
    assert (run.label, run.variant, run.sweep, run.status) == ("l2", "l2", {}, "completed")
    assert run.view.title == "l2 (L2 λ=0.01)"


def test_summary_rows_match_metrics_json_and_record_a_failed_run(tiny_exp, tmp_path) -> None:
    _, exp = tiny_exp
    broken = failed_run(exp / "l1", tmp_path / "tiny" / "broken")
    runs = rundir.load_runs([exp / "none", exp / "l2", exp / "l1", broken])
    rows = summary.summary_rows(runs)
    assert [r["run"] for r in rows] == ["none", "l2", "l1", "broken"]
    assert len({tuple(r) for r in rows}) == 1  # the same columns in every row
    for row in rows[:3]:
        m = _metrics(exp / row["run"])
        assert (row["status"], row["error"], row["epochs_run"]) == ("completed", "", 5)
        for key in ("loss", "val_data_loss", "accuracy", "val_accuracy", "penalty"):
            assert row[key] == m["final"][key]
        assert row["generalization_gap"] == m["generalization_gap"]
        assert row["first_layer_std"] == m["weights"]["layers"][0]["std"]
        assert row["kernels_l1"] == m["weights"]["kernels"]["l1"]
        assert row["train_seconds"] == m["timing"]["train_seconds"]
    assert [(r["regularizer"], r["l1"], r["l2"]) for r in rows[:3]] == [
        ("none", 0, 0),
        ("l2", 0, 0.01),
        ("l1", 0.01, 0),
    ]
    failed = rows[3]
    assert (failed["status"], failed["error"], failed["regularizer"]) == ("failed", ERROR, "l1")
    assert all(failed[key] is None for key in summary.result_columns({}))


# ---------------------------------------------------------------- comparison


def test_compare_writes_the_issue_2_files_with_the_summary_numbers(tiny_exp, tmp_path) -> None:
    _, exp = tiny_exp
    runs = [exp / "none", exp / "l2", exp / "l1"]
    written = figures.compare(runs, tmp_path / "cmp")
    assert {p.name for p in written} == {p.name for p in (tmp_path / "cmp").iterdir()} == ISSUE_2_FILES
    rows = _csv(tmp_path / "cmp" / "summary.csv")
    expected = summary.summary_rows(rundir.load_runs(runs))
    assert list(rows[0]) == list(expected[0])
    for row, want in zip(rows, expected, strict=True):
        assert float(row["val_data_loss"]) == pytest.approx(want["val_data_loss"], rel=1e-12)
        assert row["run"] == want["run"] and row["error"] == ""
    for png in (tmp_path / "cmp").glob("*.png"):
        image = matplotlib.image.imread(png)
        assert image.shape[0] > 300 and image.shape[1] > 600 and image[..., :3].std() > 0.05


def test_compare_of_failed_runs_only_still_writes_every_file(tiny_exp, tmp_path) -> None:
    _, exp = tiny_exp
    broken = [failed_run(exp / "l1", tmp_path / "e" / name) for name in ("a", "b")]
    figures.compare(broken, tmp_path / "cmp")
    assert {p.name for p in (tmp_path / "cmp").iterdir()} == ISSUE_2_FILES
    assert [(r["run"], r["status"], r["error"]) for r in _csv(tmp_path / "cmp" / "summary.csv")] == [
        ("a", "failed", ERROR),
        ("b", "failed", ERROR),
    ]


def _coords(**axes: list) -> list[dict]:
    """Every combination of the given values, the last axis fastest (``a__b`` names field ``a.b``)."""
    grid = [{}]
    for field, values in axes.items():
        grid = [{**point, field.replace("__", "."): v} for point in grid for v in values]
    return grid


def test_grid_pages_put_swept_values_on_rows_columns_and_pages() -> None:
    """Numbers ascending whatever their order in the runs; categories in first-seen (config) order."""
    coords = _coords(model__regularizer__kind=["l1", "l2"], model__regularizer__lambda=[0.01, 0.0, 0.001], seed=[2, 1])
    pages = layout.grid_pages(coords)
    assert [p.title for p in pages] == ["seed=1", "seed=2"]
    for page, seed in zip(pages, (1, 2), strict=True):
        assert page.row_labels == ["kind=l1", "kind=l2"]
        assert page.col_labels == ["lambda=0", "lambda=0.001", "lambda=0.01"]
        for r, kind in enumerate(("l1", "l2")):
            for c, lam in enumerate((0.0, 0.001, 0.01)):
                point = coords[page.cells[r][c]]
                assert (point["model.regularizer.kind"], point["model.regularizer.lambda"], point["seed"]) == (
                    kind,
                    lam,
                    seed,
                )


def test_grid_pages_never_exceed_six_by_six() -> None:
    wide = layout.grid_pages(_coords(model__regularizer__lambda=[0.0, *np.geomspace(1e-4, 1.0, 7)], seed=[1, 2, 3]))
    assert [p.title for p in wide] == ["columns 1–6 of 8", "columns 7–8 of 8"]
    assert [(len(p.cells), len(p.cells[0])) for p in wide] == [(3, 6), (3, 2)]
    flat = layout.grid_pages([{"variant": f"run{i}"} for i in range(40)])
    assert [(len(p.cells), [len(row) for row in p.cells][-1]) for p in flat] == [(6, 6), (1, 4)]
    for pages, n in ((wide, 24), (flat, 40)):
        shown = [i for p in pages for row in p.cells for i in row if i is not None]
        assert sorted(shown) == list(range(n))  # every run exactly once
        assert all(len(p.cells) <= 6 and len(p.cells[0]) <= 6 for p in pages)


@pytest.mark.slow
def test_more_than_36_runs_paginate_and_stale_pages_go(tiny_exp, tmp_path) -> None:
    _, exp = tiny_exp
    many = [fake_run(exp / "l2", tmp_path / "many" / f"r{i:02d}") for i in range(40)]
    out = tmp_path / "cmp"
    figures.compare(many, out, grids=True)  # past 36 runs the grid pages are drawn on request
    names = {p.name for p in out.iterdir()}
    assert names == ISSUE_2_FILES | {"compare_boundaries_2.png", "compare_loss_2.png"}
    first, second = (matplotlib.image.imread(out / n) for n in ("compare_boundaries.png", "compare_boundaries_2.png"))
    assert first.shape[0] > 5 * second.shape[0] / 1.5  # six rows of panels, then one
    weights_title = layout.weight_panels(rundir.load_runs(many))[0]
    assert "first 8 of 40 runs" in weights_title
    figures.compare(many[:3], out)
    assert {p.name for p in out.iterdir()} == ISSUE_2_FILES


@pytest.mark.slow
def test_compare_in_shares_writes_what_one_compare_writes(tiny_exp, tmp_path) -> None:
    _, exp = tiny_exp
    many = [fake_run(exp / "l2", tmp_path / "many" / f"r{i:02d}") for i in range(40)]  # two pages each
    whole, shared = tmp_path / "whole", tmp_path / "shared"
    figures.compare(many, whole, grids=True)
    (shared / "sweep_stale.png").parent.mkdir()
    (shared / "sweep_stale.png").write_bytes(b"left by an earlier comparison")
    parts = [figures.compare_share(many, shared, 3, k, grids=True) for k in (2, 0, 1)]
    assert parts[1][0].name == "summary.csv"  # share 0 writes the summary
    names = [p.name for part in parts for p in part]
    assert len(names) == len(set(names)) == 6  # summary, 2 + 2 pages, weights (no numeric sweep field)
    assert sorted(names) == sorted(p.name for p in shared.iterdir()) == sorted(p.name for p in whole.iterdir())
    for name in names:
        assert (shared / name).read_bytes() == (whole / name).read_bytes(), name


@pytest.fixture(scope="module")
def sweep_exp(tiny_exp, tmp_path_factory) -> Path:
    """12 fake runs: kind [l1, l2] × λ [0, 0.001, 0.01] × seed [1, 2], with known final numbers."""
    _, exp = tiny_exp
    root = tmp_path_factory.mktemp("sweep") / "sw"
    for kind in ("l1", "l2"):
        for lam in (0.0, 0.001, 0.01):
            for seed in (1, 2):
                sweep = {"model.regularizer.kind": kind, "model.regularizer.lambda": lam, "seed": seed}
                val = 0.5 + lam * 10 + (0.1 if kind == "l1" else 0.0) + 0.01 * seed
                final = {"val_data_loss": val, "data_loss": val / 2, "accuracy": 0.9, "val_accuracy": 1 - val / 2}
                fake_run(exp / kind, root / f"{kind}_lam{lam:g}_s{seed}", sweep, final)
    return root


def test_sweep_plots_for_numeric_swept_fields_only(sweep_exp, tmp_path) -> None:
    written = figures.compare(rundir.find_runs(sweep_exp), tmp_path / "cmp")
    names = {p.name for p in written}
    assert names == ISSUE_2_FILES | {
        "compare_boundaries_2.png",
        "compare_loss_2.png",
        "sweep_model.regularizer.lambda.png",
        "path_model.regularizer.lambda.png",  # λ is a strength: the regularization path too
    }
    rows = _csv(tmp_path / "cmp" / "summary.csv")
    assert len(rows) == 12
    for row in rows:  # the swept values, one column each, named by their dotted paths
        kind, lam, seed = re.fullmatch(r"(l[12])_lam(.+)_s(\d)", row["run"]).groups()
        swept = (row["model.regularizer.kind"], float(row["model.regularizer.lambda"]), int(row["seed"]))
        assert swept == (kind, float(lam), int(seed))
        assert float(row["l1" if kind == "l1" else "l2"]) == float(lam)  # the config agrees
    runs = rundir.load_runs(rundir.find_runs(sweep_exp))
    series = layout.sweep_series(runs, "model.regularizer.lambda")
    assert [s.label for s in series] == ["kind=l1", "kind=l2"]
    for s, offset in zip(series, (0.1, 0.0), strict=True):
        np.testing.assert_allclose(s.x, [0.0, 0.001, 0.01])
        base = 0.5 + s.x * 10 + offset
        np.testing.assert_allclose(s.mean["val_data_loss"], base + 0.015)  # mean over seeds 1 and 2
        np.testing.assert_allclose(s.low["val_data_loss"], base + 0.01)
        np.testing.assert_allclose(s.high["val_data_loss"], base + 0.02)
        np.testing.assert_allclose(s.mean["val_accuracy"], 1 - (base + 0.015) / 2)
        assert list(s.runs) == [2, 2, 2]
        # the 95 % t interval of two seeds 0.01 apart: mean ± t(0.975, 1)·0.005
        half = stats.t.ppf(0.975, 1) * 0.005
        np.testing.assert_allclose(s.ci_low["val_data_loss"], base + 0.015 - half)
        np.testing.assert_allclose(s.ci_high["val_data_loss"], base + 0.015 + half)


@pytest.mark.parametrize(
    ("field", "values", "scale"),
    [
        ("model.regularizer.lambda", [0.0, 1e-4, 1e-2, 1.0], ("symlog", {"linthresh": 1e-4, "linscale": 0.5})),
        ("model.regularizer.lambda", [1e-3, 1e-2], ("log", {})),
        ("training.learning_rate", [0.001, 0.01, 0.1], ("log", {})),
        ("dataset.n_samples", [50, 100, 200], ("linear", {})),
        ("dataset.noise", [0.0, 0.001, 0.5], ("symlog", {"linthresh": 0.001, "linscale": 0.5})),
    ],
)
def test_x_scale_is_logarithmic_for_strengths_and_wide_ranges(field, values, scale) -> None:
    assert layout.x_scale(field, values) == scale


def test_compare_across_two_experiments_labels_colliding_runs(tiny_exp, tmp_path, capsys) -> None:
    _, exp = tiny_exp
    other = tmp_path / "second"
    shutil.copytree(exp, other)
    out = tmp_path / "cmp"
    assert main(["compare", str(exp / "l1"), str(other / "l1"), str(exp / "l2"), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote 4 files to {out}\n"
    rows = _csv(out / "summary.csv")
    assert [r["run"] for r in rows] == ["tiny/l1", "second/l1", "tiny/l2"]
    for row, run_dir in zip(rows, (exp / "l1", other / "l1", exp / "l2"), strict=True):
        assert float(row["val_data_loss"]) == pytest.approx(_metrics(run_dir)["final"]["val_data_loss"])
    pages = layout.grid_pages([layout.coordinates(r) for r in rundir.load_runs([exp / "l1", other / "l1"])])
    assert pages[0].cells == [[0, 1]]  # one row of both runs


def test_a_folder_that_is_not_a_run_exits_2_and_writes_nothing(tiny_exp, tmp_path, capsys) -> None:
    _, exp = tiny_exp
    out = tmp_path / "cmp"
    assert main(["compare", str(exp / "l1"), str(exp), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"{exp}: not a regdemo run folder (no metrics.json)\n"
    assert not out.exists()
    empty = tmp_path / "empty"
    (empty / ".hidden-run").mkdir(parents=True)
    (empty / ".hidden-run" / "metrics.json").write_text("{}")  # hidden folders are never runs
    assert main(["report", str(empty)]) == 2
    assert "not a regdemo experiment folder" in capsys.readouterr().err
    assert not (empty / "report.html").exists()


def test_plot_data_holds_the_dataset_points_so_nothing_is_regenerated(tiny_exp, tmp_path, monkeypatch) -> None:
    _, exp = tiny_exp
    run_dirs = [exp / "none", exp / "l2", exp / "l1"]
    expected = {run_dir.name: datasets.load(rundir.load_run(run_dir).config.dataset) for run_dir in run_dirs}

    def regenerate(*_args, **_kwargs):
        raise AssertionError("a dataset was regenerated while reading saved runs")

    monkeypatch.setattr(datasets, "load", regenerate)
    monkeypatch.setattr(datasets, "make_dataset", regenerate)
    for run in rundir.load_runs(run_dirs):
        want = expected[run.label]
        assert run.view.data.x_train.shape == (45, 2) and run.view.data.x_val.shape == (15, 2)  # 60 points, 25 %
        for name in ("x_train", "y_train", "x_val", "y_val"):
            np.testing.assert_array_equal(getattr(run.view.data, name), getattr(want, name), err_msg=name)
    written = figures.compare(run_dirs, tmp_path / "cmp")
    assert {p.name for p in written} == ISSUE_2_FILES


@pytest.mark.parametrize("found", [999, None], ids=["format-999", "no-format"])
@pytest.mark.parametrize("command", ["compare", "report"])
def test_a_run_folder_of_an_unknown_format_exits_2_and_writes_nothing(tiny_exp, tmp_path, capsys, command, found):
    _, exp = tiny_exp
    folder = tmp_path / "tiny"
    shutil.copytree(exp / "l2", folder / "l2")
    old = shutil.copytree(exp / "l1", folder / "old")
    metrics = _metrics(old)
    if found is None:
        del metrics["format"]
    else:
        metrics["format"] = found
    (old / "metrics.json").write_text(json.dumps(metrics))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    out = tmp_path / "cmp"
    compare = ["compare", str(folder / "l2"), str(old), "--out", str(out)]
    assert main(compare if command == "compare" else ["report", str(folder)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.endswith("\n")  # one line
    assert captured.err.startswith(f"{old}: ") and "format" in captured.err
    assert str(found or "no format") in captured.err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written


# ---------------------------------------------------------------- report.html


class _Page(HTMLParser):
    """Collects what the checks need: image sources, table rows, script tags, text of <pre> blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.rows = 0
        self.scripts = 0
        self.links: list[str] = []
        self.pre: list[str] = []
        self._in_body = self._in_pre = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        self.images += [attrs["src"]] if tag == "img" and "src" in attrs else []  # the viewer's are set by script
        self.links += [attrs["href"]] if tag == "a" else []
        self.scripts += tag == "script"
        self._in_body |= tag == "tbody"
        self.rows += tag == "tr" and self._in_body
        if tag == "pre":
            self._in_pre = True
            self.pre.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_body &= tag != "tbody"
        self._in_pre &= tag != "pre"

    def handle_data(self, data: str) -> None:
        if self._in_pre:
            self.pre[-1] += data


@pytest.fixture(scope="module")
def report_exp(tiny_exp, tmp_path_factory) -> Path:
    """The tiny experiment plus a failed run (its error holding HTML), with its report.html written."""
    _, exp = tiny_exp
    folder = tmp_path_factory.mktemp("html") / "tiny"
    shutil.copytree(exp, folder)
    failed_run(exp / "l1", folder / "broken")
    assert main(["report", str(folder)]) == 0
    return folder


def test_report_is_one_self_contained_page(report_exp) -> None:
    text = (report_exp / "report.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    assert page.rows == 4 and page.scripts == 2  # the viewer's data and its script, both inline
    assert re.findall(r"<script[^>]*\bsrc=", text) == []
    figures = ["compare_boundaries.png", "compare_loss.png", "compare_weights.png"]
    assert len(page.images) == len(figures) + 3 * 3  # the failed run has no plots
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert all(link.startswith("#") for link in page.links)  # nothing outside the page
    assert re.findall(r'\b(?:src|href)="(?!data:|#)', text) == []
    assert ERROR not in text and html.escape(ERROR) in text  # escaped, not markup
    assert ERROR in page.pre  # shown, as text
    configs = [yaml.safe_load(p) for p in page.pre if p.startswith("name:")]
    assert [c["name"] for c in configs] == ["none", "l2", "l1", "broken"]
    assert configs[1] == yaml.safe_load((report_exp / "l2" / "config.yaml").read_text())


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("REGDEMO_REQUIRE_BROWSER"):
            pytest.fail("chromium not found, and REGDEMO_REQUIRE_BROWSER is set (as .ci/run does)")
        pytest.skip("chromium not installed (Debian: apt-get install chromium)")
    return found


PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].filter((img) => !img.closest("#viewer-box"));  // the viewer: test_report_viewer
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({
    images: images.length,
    loaded: images.filter((img) => img.complete && img.naturalWidth > 0).length,
    rows: document.querySelectorAll("#summary tbody tr").length,
  });
  document.body.appendChild(probe);
});
</script>"""


@pytest.mark.browser
def test_report_opens_in_headless_chromium_with_every_image_loaded(report_exp, tmp_path) -> None:
    """A copy of the page with a probe script appended: the browser counts loaded images and table rows."""
    page = (report_exp / "report.html").read_text(encoding="utf-8").replace("</body>", PROBE + "</body>")
    probed = tmp_path / "probed.html"
    probed.write_text(page, encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    flags += [f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom"]
    done = subprocess.run(
        [_chromium(), *flags, probed.as_uri()], capture_output=True, text=True, timeout=180, check=False
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout)
    assert found, f"no probe in the dumped page; chromium said: {done.stderr[-2000:]}"
    counts = json.loads(html.unescape(found.group(1)))
    assert counts == {"images": 3 + 3 * 3, "loaded": 3 + 3 * 3, "rows": 4}


SCRIPT = "<script>alert(1)</script>"


def test_report_escapes_markup_in_a_failed_runs_error(tiny_exp, tmp_path) -> None:
    """Autoescaping: an error message holding a script tag is shown as text, never run as markup."""
    _, exp = tiny_exp
    folder = tmp_path / "tiny"
    shutil.copytree(exp / "l2", folder / "l2")
    failed_run(exp / "l1", folder / "evil", error=f"ValueError: {SCRIPT}")
    assert main(["report", str(folder)]) == 0
    text = (folder / "report.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    assert page.scripts == 2 and text.lower().count("<script") == 2  # the viewer's own two, no third
    assert SCRIPT not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert f"ValueError: {SCRIPT}" in page.pre  # shown, as text
    assert page.rows == 2


def test_every_value_on_the_page_is_escaped() -> None:
    """Names, columns, cells, file names, labels and configs all go through the autoescaping templates."""
    section = report.RunSection(SCRIPT, SCRIPT, SCRIPT, SCRIPT, [(SCRIPT, b"\x89PNG")])
    row = {"run": SCRIPT, "status": SCRIPT, SCRIPT: SCRIPT}
    text = report.render_report(SCRIPT, [row], ["run", "status", SCRIPT], [(SCRIPT, b"\x89PNG")], [section])
    page = _Page()
    page.feed(text)
    assert page.scripts == 0 and "<script" not in text.lower()
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 12
    assert page.pre == [SCRIPT, SCRIPT]  # the error and the config, as text
    assert page.links[-1] == "#run-" + SCRIPT  # the table links to the run's section, by its label


def test_a_fresh_report_embeds_the_folders_figures_and_a_later_one_draws_them_again(tiny_exp, tmp_path) -> None:
    """``regdemo run`` has just drawn the comparison figures (fresh): the page embeds those files as they
    are; ``regdemo report`` cannot know where the folder's files came from, so it draws them anew."""
    _, exp = tiny_exp
    folder = tmp_path / "tiny"
    shutil.copytree(exp, folder)
    marker = canvas.png_bytes(Figure(figsize=(1, 1)))  # a blank PNG: not what compare_loss.png draws
    (folder / "compare_loss.png").write_bytes(marker)
    uri = "data:image/png;base64," + base64.b64encode(marker).decode("ascii")
    assert uri in report.write_report(folder, fresh=True).read_text(encoding="utf-8")
    assert uri not in report.write_report(folder).read_text(encoding="utf-8")
