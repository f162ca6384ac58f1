"""report.html's viewer: its JSON data (every run, metrics.json's numbers), the index form past the embed limit,
the training film's frames, and the page driven in headless Chromium through its URL hash."""

from __future__ import annotations

import base64
import csv
import html
import json
import os
import re
import shutil
import subprocess
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import yaml
from test_report import _chromium

from conftest import TINY
from regdemo import cli
from regdemo.cli import main
from regdemo.draw import figures
from regdemo.report import page as report
from regdemo.report import viewer
from regdemo.results import rundir, summary
from rundirs import SMALL, failed_run, fake_run

EVIL = "ValueError: </script><script>alert(1)</script><!-- & done"
FRAMES = 3  # the fake film's frames, at epochs 1, 3 and 5


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def _history(run_dir: Path) -> dict[str, list[float]]:
    with (run_dir / "history.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: [float(r[key]) for r in rows] for key in rows[0]}


def _viewer_json(text: str) -> dict:
    found = re.search(r'<script type="application/json" id="viewer-data">(.*?)</script>', text, re.S)
    assert found, "no viewer data on the page"
    return json.loads(found.group(1))


def add_film(run_dir: Path, epochs: list[int]) -> np.ndarray:
    """Give a run folder a training film as plots.snapshots will: ``snapshot_epochs`` in plot_data.npz and
    training_frames.png, one 20×30 frame per epoch stacked top to bottom, frame k all grey level k/len."""
    with np.load(run_dir / "plot_data.npz") as saved:
        arrays = {key: saved[key] for key in saved.files}
    np.savez_compressed(run_dir / "plot_data.npz", **arrays, snapshot_epochs=np.array(epochs))
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["plots"]["snapshots"] = len(epochs)  # the film's frames within its config (checked when read)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    strip = np.concatenate([np.full((20, 30, 3), k / len(epochs)) for k in range(len(epochs))])
    matplotlib.image.imsave(run_dir / rundir.TRAINING_FRAMES, strip)
    return strip


def copy_run(source: Path, dest: Path) -> Path:
    """A copy of a run folder under another name (and variant)."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("model.keras"))
    config = yaml.safe_load((dest / "config.yaml").read_text()) | {"name": dest.name, "variant": dest.name}
    (dest / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    metrics = _metrics(dest) | {"run": dest.name, "variant": dest.name}
    (dest / "metrics.json").write_text(json.dumps(metrics))
    return dest


@pytest.fixture(scope="module")
def viewer_exp(tmp_path_factory) -> Path:
    """The tiny experiment (none, l2, l1; 5 epochs), a failed run whose error holds markup, and a run
    with a training film; its report.html written self-contained."""
    root = tmp_path_factory.mktemp("viewer")
    (root / "tiny.yaml").write_text(TINY, encoding="utf-8")
    assert main(["run", str(root / "tiny.yaml"), "--out", str(root / "out"), "--quiet", "--workers", "1", *SMALL]) == 0
    exp = root / "out" / "tiny"
    failed_run(exp / "l1", exp / "broken", error=EVIL)
    add_film(copy_run(exp / "l2", exp / "film"), [1, 3, 5])
    assert main(["report", str(exp)]) == 0
    return exp


# ---------------------------------------------------------------- the data (Python side)


def test_the_viewer_data_holds_every_run_with_its_metrics_json_numbers(viewer_exp) -> None:
    text = (viewer_exp / "report.html").read_text(encoding="utf-8")
    data = _viewer_json(text)
    labels = [run["label"] for run in data["runs"]]
    assert sorted(labels) == ["broken", "film", "l1", "l2", "none"]
    assert data["images"] == "ids"
    assert data["fields"] == [{"name": "variant", "label": "variant", "values": labels}]  # first-seen order
    assert [run["at"] for run in data["runs"]] == [[i] for i in range(5)]
    assert data["metrics"][:3] == ["epochs_run", "loss", "val_loss"] and "val_data_loss" in data["metrics"]
    for run in data["runs"]:
        folder = viewer_exp / run["label"]
        metrics = _metrics(folder)
        assert run["status"] == metrics["status"]
        expected = summary.result_columns(metrics)
        assert run["numbers"] == [expected[m] for m in data["metrics"]]  # exactly, not rounded
        if run["label"] == "broken":
            assert run["error"] == EVIL and run["history"] == {} and run["images"] == {}
            assert all(n is None for n in run["numbers"])
            continue
        assert run["numbers"][data["metrics"].index("val_data_loss")] == metrics["final"]["val_data_loss"]
        history = _history(folder)
        assert run["history"]["epoch"] == [1, 2, 3, 4, 5]
        penalty = run["label"] != "none"  # the loss with its penalty is drawn only where there is one
        curves = ["data_loss", "val_data_loss", *(["loss", "val_loss"] if penalty else [])]
        assert sorted(run["history"]) == sorted(["epoch", *curves])
        for curve in curves:
            assert run["history"][curve] == [float(f"{v:.4g}") for v in history[curve]]
        for picture in ("boundary", "weights"):  # ids of the section's images: embedded once, not twice
            src = re.search(rf'<img id="{run["images"][picture]}" src="([^"]+)"', text).group(1)
            png = base64.b64decode(src.removeprefix("data:image/png;base64,"))
            assert png == (folder / f"{picture}.png").read_bytes()
    film = data["runs"][labels.index("film")]["film"]
    assert film["epochs"] == [1, 3, 5]
    strip = (viewer_exp / "film" / rundir.TRAINING_FRAMES).read_bytes()
    assert film["src"] == "data:image/png;base64," + base64.b64encode(strip).decode()
    assert text.count(base64.b64encode(strip).decode()) == 1  # the film strip embedded once
    assert all(run["film"] is None for run in data["runs"] if run["label"] != "film")


def test_no_value_can_close_the_data_script() -> None:
    text = viewer.script_json({"error": EVIL, "line\u2028": "x"})
    assert not set("<>&") & set(text) and "\u2028" not in text
    assert json.loads(text) == {"error": EVIL, "line\u2028": "x"}


def test_a_failed_runs_error_with_a_script_tag_stays_text(viewer_exp) -> None:
    text = (viewer_exp / "report.html").read_text(encoding="utf-8")
    assert text.lower().count("<script") == 2  # the viewer's data and script; the error opened none
    assert EVIL not in text and html.escape(EVIL) in text  # the run section, escaped
    assert next(r for r in _viewer_json(text)["runs"] if r["label"] == "broken")["error"] == EVIL


def test_history_is_downsampled_to_at_most_the_budget_and_rounded() -> None:
    keep = viewer.downsample(2000, 300)
    assert len(keep) <= 300 and keep[0] == 0 and keep[-1] == 1999 and (np.diff(keep) > 0).all()
    assert np.diff(keep).max() - np.diff(keep).min() <= 1  # evenly spread
    np.testing.assert_array_equal(viewer.downsample(40, 300), np.arange(40))
    assert viewer.significant(np.array([0.123456, 4.96123e-6, np.nan, np.inf, 1234.5678])) == [
        0.1235,
        4.961e-6,
        None,
        None,
        1235.0,
    ]


def test_controls_follow_the_swept_fields_and_fall_back_to_run_names(viewer_exp, tmp_path) -> None:
    sweep = tmp_path / "sw"
    for kind in ("l2", "l1"):
        for lam in (0.01, 0.0, 0.001):
            for seed in (2, 1):
                where = {"model.regularizer.kind": kind, "model.regularizer.lambda": lam, "seed": seed}
                fake_run(viewer_exp / kind, sweep / f"{kind}_{lam:g}_{seed}", where)
    runs = rundir.load_runs(rundir.find_runs(sweep))
    media = [viewer.RunMedia() for _ in runs]
    data = viewer.viewer_data(runs, summary.summary_rows(runs), media, by_id=False, points=100)
    assert [(f["label"], f["values"]) for f in data["fields"]] == [
        ("kind", ["l1", "l2"]),  # categories in first-seen order (the folders sort l1 first)
        ("lambda", ["0", "0.001", "0.01"]),  # numbers ascending
        ("seed", ["1", "2"]),  # replicates last
    ]
    for run, entry in zip(runs, data["runs"], strict=True):
        shown = [f["values"][i] for f, i in zip(data["fields"], entry["at"], strict=True)]
        assert shown == [
            run.sweep["model.regularizer.kind"],
            f"{run.sweep['model.regularizer.lambda']:g}",
            str(run.sweep["seed"]),
        ]
    twins = rundir.load_runs([viewer_exp / "l2", viewer_exp / "film"])  # film's variant is its name: distinct
    same = [copy_run(viewer_exp / "l2", tmp_path / "t" / n) for n in ("p", "q")]
    for path in same:  # the same variant twice: the coordinates cannot tell them apart
        metrics = _metrics(path) | {"variant": "same"}
        (path / "metrics.json").write_text(json.dumps(metrics))
    for group, fields in ((twins, ["variant"]), (rundir.load_runs(same), ["run"])):
        data = viewer.viewer_data(group, summary.summary_rows(group), [viewer.RunMedia()] * 2, by_id=False, points=9)
        assert [f["name"] for f in data["fields"]] == fields
        assert [r["at"] for r in data["runs"]] == [[0], [1]]


# ---------------------------------------------------------------- the index form


@pytest.fixture(scope="module")
def index_exp(viewer_exp, tmp_path_factory) -> Path:
    """Five fake runs, kind × λ with (l1, 0.01) missing, each with a 2000-epoch history, the comparison
    figures written, and (l2, 0.01) with a film; no report yet."""
    folder = tmp_path_factory.mktemp("index") / "sw"
    rng = np.random.default_rng(0)
    for kind, lam in (("l1", 0.0), ("l1", 0.001), ("l2", 0.0), ("l2", 0.001), ("l2", 0.01)):
        where = {"model.regularizer.kind": kind, "model.regularizer.lambda": lam}
        run = fake_run(viewer_exp / kind, folder / f"{kind}_{lam:g}", where)
        epochs = np.arange(1, 2001)
        columns = [np.exp(-epochs / 500) + rng.uniform(0, 0.01, epochs.size) for _ in range(7)]
        table = np.column_stack([epochs, *columns])
        header = ",".join(("epoch", *rundir.read_history(run)))
        np.savetxt(run / "history.csv", table, delimiter=",", header=header, comments="", fmt=["%d"] + ["%.9g"] * 7)
    add_film(folder / "l2_0.01", [500, 1000, 1500, 2000])
    figures.compare(rundir.find_runs(folder), folder)
    return folder


def test_past_the_embed_limit_the_report_is_an_index_page_that_links_the_runs_files(
    index_exp, monkeypatch, capsys
) -> None:
    read_bytes = Path.read_bytes

    def no_pngs(path: Path) -> bytes:
        assert path.suffix != ".png", f"the index page read {path}"
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", no_pngs)
    assert main(["report", str(index_exp), "--embed-limit", "4"]) == 0
    assert capsys.readouterr().out == f"wrote {index_exp / 'report.html'}\n"
    text = (index_exp / "report.html").read_text(encoding="utf-8")
    assert "data:" not in text  # the comparison figures are in the folder: linked too
    assert 'class="run"' not in text and 'id="runs"' not in text  # no run sections
    sources = [html.unescape(s) for s in re.findall(r'<img[^>]* src="([^"]+)"', text)]
    data = _viewer_json(text)
    assert data["images"] == "urls"
    for run in data["runs"]:
        assert sorted(run["images"]) == ["boundary", "weights"]
        sources += list(run["images"].values()) + ([run["film"]["src"]] if run["film"] else [])
        assert len(run["history"]["epoch"]) <= report.INDEX_HISTORY[0] and run["history"]["epoch"][-1] == 2000
        assert len(json.dumps(run, separators=(",", ":"))) < 4000  # the budget for 5 MB at 1,000 runs
    figures = [n for n in os.listdir(index_exp) if n.startswith(("compare", "sweep", "path"))]
    assert len(sources) == 5 * 2 + 1 + len(figures)
    for src in sources:
        assert not src.startswith(("/", "file:", "http")), src
        assert (index_exp / urllib.parse.unquote(src)).is_file(), src
    film = [r for r in data["runs"] if r["film"]]
    assert [(r["label"], r["film"]) for r in film] == [
        ("l2_0.01", {"src": "l2_0.01/training_frames.png", "epochs": [500, 1000, 1500, 2000]})
    ]
    links = re.findall(r'<a href="(#a=[^"]+)">', text)
    assert links == [f"#a={run['label']}" for run in data["runs"]]  # a run's name shows it in the viewer


def test_embed_and_index_override_the_limit(index_exp, viewer_exp, tmp_path, capsys) -> None:
    assert main(["report", str(index_exp), "--embed"]) == 0  # 5 runs > nothing: the flag wins
    assert _viewer_json((index_exp / "report.html").read_text(encoding="utf-8"))["images"] == "ids"
    folder = tmp_path / "tiny"
    shutil.copytree(viewer_exp, folder)
    assert main(["report", str(folder), "--index"]) == 0
    text = (folder / "report.html").read_text(encoding="utf-8")
    assert 'class="run"' not in text and _viewer_json(text)["images"] == "urls"
    assert main(["report", str(folder), "--embed-limit", "10"]) == 0  # 5 runs: self-contained
    assert 'class="run"' in (folder / "report.html").read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["report", str(folder), "--embed-limit", "-1"]) == 2
    assert capsys.readouterr().err == "--embed-limit: must be >= 0 (got -1)\n"
    assert cli.DEFAULT_EMBED_LIMIT == report.EMBED_LIMIT  # the command's default, spelled twice for a fast --help


# ---------------------------------------------------------------- in the browser


class _Dom(HTMLParser):
    """The dumped page: every element's tag, attributes and text (its descendants' text included), by id."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[dict] = []
        self._open: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        element = {"tag": tag, "attrs": dict(attrs), "text": "", "children": []}
        if self._open:
            self._open[-1]["children"].append(element)
        self.elements.append(element)
        if tag not in ("img", "input", "br", "meta", "line", "rect", "path", "option"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for k in range(len(self._open) - 1, -1, -1):
            if self._open[k]["tag"] == tag:
                del self._open[k:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data

    def by_id(self, name: str) -> dict:
        return next(e for e in self.elements if e["attrs"].get("id") == name)

    def find(self, tag: str, **attrs: str) -> list[dict]:
        return [e for e in self.elements if e["tag"] == tag and all(e["attrs"].get(k) == v for k, v in attrs.items())]


def open_page(page: Path, fragment: str, profile: Path) -> _Dom:
    """The page after its script ran with ``#fragment``, as headless Chromium dumps it; no JS error."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    flags += [f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom"]
    flags += ["--enable-logging=stderr", "--v=0"]
    url = page.as_uri() + "#" + fragment
    done = subprocess.run([_chromium(), *flags, url], capture_output=True, text=True, timeout=180, check=False)
    # --enable-logging prints every console message as "...:CONSOLE:<line>] ..." (console.error and
    # uncaught errors included); the page writes none when all is well
    assert ":CONSOLE" not in done.stderr and "Uncaught" not in done.stderr, done.stderr[-2000:]
    dom = _Dom()
    dom.feed(done.stdout)
    root = dom.find("html")[0]
    assert "data-js-errors" not in root["attrs"], root["attrs"]["data-js-errors"]
    return dom


def _numbers(dom: _Dom) -> dict[str, list[dict]]:
    """The numbers table: metric → its A, B and B − A cells."""
    table = dom.by_id("numbers")
    rows = [e for e in dom.elements if e["tag"] == "tr" and e in _descendants(table)]
    return {row["children"][0]["text"]: row["children"][1:] for row in rows if row["children"][0]["tag"] == "td"}


def _descendants(element: dict) -> list[dict]:
    found = []
    for child in element["children"]:
        found += [child, *_descendants(child)]
    return found


def _paths(dom: _Dom, side: str) -> dict[tuple[str, str], dict]:
    """The loss chart's curves on one side: (curve, raw|smooth) → its <path>'s attributes."""
    chart = _descendants(dom.by_id(f"chart-{side}"))
    return {(e["attrs"]["data-curve"], e["attrs"]["class"].split()[0]): e["attrs"] for e in chart if e["tag"] == "path"}


@pytest.mark.browser
def test_the_page_shows_the_run_its_hash_picks_with_metrics_json_numbers(viewer_exp, tmp_path) -> None:
    page = viewer_exp / "report.html"
    dom = open_page(page, "a=l2&b=none&smooth=0.9", tmp_path / "profile")
    assert dom.by_id("name-a")["text"] == "l2 completed" and dom.by_id("name-b")["text"] == "none completed"
    assert dom.by_id("numbers-a")["text"] == "A: l2"
    l2, none = _metrics(viewer_exp / "l2"), _metrics(viewer_exp / "none")
    numbers = _numbers(dom)
    for metric in ("val_data_loss", "accuracy", "penalty", "generalization_gap"):
        a, b, diff = numbers[metric]
        want_a = summary.result_columns(l2)[metric]
        want_b = summary.result_columns(none)[metric]
        assert float(a["attrs"]["data-value"]) == want_a and float(b["attrs"]["data-value"]) == want_b
        assert float(a["text"]) == float(f"{want_a:.4g}") and float(b["text"]) == float(f"{want_b:.4g}")
        assert float(diff["attrs"]["data-value"]) == pytest.approx(want_b - want_a, rel=1e-12, abs=1e-15)
    for side in ("a", "b"):  # the viewer copies its pictures from the run's section
        run = "l2" if side == "a" else "none"
        index = [r["label"] for r in _viewer_json(page.read_text(encoding="utf-8"))["runs"]].index(run)
        src = dom.by_id(f"boundary-{side}")["attrs"]["src"]
        assert src == dom.by_id(f"img-{index}-boundary")["attrs"]["src"] and src.startswith("data:image/png")
    smooth = _paths(dom, "a")
    assert sorted(smooth) == sorted(
        (c, k) for c in ("data_loss", "val_data_loss", "loss", "val_loss") for k in ("raw", "smooth")
    )
    assert {p["data-points"] for p in smooth.values()} == {"5"}  # one point per epoch
    assert sorted(_paths(dom, "b")) == [(c, k) for c in ("data_loss", "val_data_loss") for k in ("raw", "smooth")]
    plain = _paths(open_page(page, "a=l2&b=none&smooth=0", tmp_path / "profile"), "a")
    for curve in ("data_loss", "val_loss"):
        assert plain[curve, "raw"]["d"] == smooth[curve, "raw"]["d"]  # smoothing leaves the raw curve alone
        assert plain[curve, "smooth"]["d"] == plain[curve, "raw"]["d"]  # weight 0: no smoothing
        assert smooth[curve, "smooth"]["d"] != smooth[curve, "raw"]["d"]
        assert len(re.findall("[ML]", smooth[curve, "smooth"]["d"])) == 5


@pytest.mark.browser
def test_the_page_sorts_the_summary_shows_a_failed_run_and_the_films_frame(viewer_exp, tmp_path) -> None:
    dom = open_page(viewer_exp / "report.html", "a=film&b=broken&epoch=3&sort=-val_data_loss", tmp_path / "p")
    body = next(e for e in _descendants(dom.by_id("summary")) if e["tag"] == "tbody")
    order = [row["children"][0]["text"] for row in body["children"]]
    values = {run: _metrics(viewer_exp / run)["final"]["val_data_loss"] for run in ("none", "l2", "l1", "film")}
    assert order == [*sorted(values, key=lambda r: -values[r]), "broken"]  # descending, the empty cell last
    assert dom.find("th", **{"aria-sort": "descending"})[0]["text"] == "val_data_loss"
    assert dom.by_id("error-b")["text"] == EVIL and "hidden" not in dom.by_id("error-b")["attrs"]
    assert all(cell["text"] == "–" for cells in _numbers(dom).values() for cell in cells[1:])
    assert "hidden" in dom.by_id("film-b")["attrs"] and "hidden" not in dom.by_id("film-a")["attrs"]
    assert dom.by_id("epoch-value-a")["text"] == "3"  # the middle frame of epochs 1, 3, 5
    frame = dom.by_id("frame-a")["attrs"]
    assert frame["src"].startswith("data:image/png") and "top: -100%" in frame["style"]
    assert "aspect-ratio: 30 / 20" in dom.by_id("frame-box-a")["attrs"]["style"]  # the strip loaded: 30 wide, 3 × 20


@pytest.mark.browser
def test_the_index_page_picks_by_control_says_when_no_run_has_the_values(index_exp, tmp_path) -> None:
    assert main(["report", str(index_exp), "--index"]) == 0
    page = index_exp / "report.html"
    dom = open_page(page, "a=l2_0.01&epoch=1000&b:kind=l2&b:lambda=0", tmp_path / "p")
    assert dom.by_id("name-a")["text"] == "l2_0.01 completed" and dom.by_id("name-b")["text"] == "l2_0 completed"
    assert dom.by_id("boundary-a")["attrs"]["src"] == "l2_0.01/boundary.png"
    assert dom.by_id("epoch-value-a")["text"] == "1000" and "top: -100%" in dom.by_id("frame-a")["attrs"]["style"]
    assert "aspect-ratio" in dom.by_id("frame-box-a")["attrs"]["style"]  # the linked strip loaded
    assert {p["data-points"] for p in _paths(dom, "a").values()} == {str(report.INDEX_HISTORY[0])}
    dom = open_page(page, "a=l2_0.01&b:kind=l1&b:lambda=0.01", tmp_path / "p")  # (l1, 0.01) was never run
    assert "hidden" not in dom.by_id("missing-b")["attrs"] and dom.by_id("name-b")["text"] == ""
    assert dom.by_id("numbers-b")["text"] == "B: none" and "hidden" in dom.by_id("boundary-b")["attrs"]
