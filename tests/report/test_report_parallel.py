"""report.html's parallel-coordinates panel: its data (axes, log scales for λ-like fields, 0 handled), and the page
in headless Chromium: brushing an axis (through the hash, and by dragging it) filters the lines and the summary
table, and a click on a line opens that run in the viewer."""

from __future__ import annotations

import json
import re

import pytest
from test_report_viewer import _descendants, _viewer_json, open_page, viewer_exp  # noqa: F401 (a fixture)

from regdemo.cli import main
from regdemo.report import parallel
from rundirs import fake_run

KINDS, LAMBDAS = ("l1", "l2"), (0.0, 1e-4, 1e-3, 1e-2)


@pytest.fixture(scope="module")
def sweep_exp(viewer_exp, tmp_path_factory):  # noqa: F811 (the fixture imported above)
    """kind × λ (8 fake runs), val_accuracy 0.50, 0.55, … in that order; its report.html self-contained."""
    folder = tmp_path_factory.mktemp("parallel") / "sw"
    for k, (kind, lam) in enumerate((kind, lam) for kind in KINDS for lam in LAMBDAS):
        where = {"model.regularizer.kind": kind, "model.regularizer.lambda": lam}
        fake_run(viewer_exp / "l2", folder / f"{kind}_{lam:g}", where, {"val_accuracy": 0.5 + 0.05 * k})
    assert main(["report", str(folder)]) == 0
    return folder


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.0, 1e-4, 1e-2], "log"),  # a 0 is no reason for a linear axis: it gets its own place
        ([1e-3, 0.1], "log"),
        ([0.001, 0.01], "linear"),  # exactly a decade: not more
        ([0, 0], "linear"),
        ([-1.0, 1.0, 100.0], "linear"),  # negative: not λ-like
        ([None, 1e-4, 1e-1], "log"),  # a missing value is left out
        (["l1", "l2"], "points"),
        ([(16, 8), (32,)], "points"),
        ([1, "a"], "points"),
    ],
)
def test_an_axis_is_log_for_lambda_like_numbers(values, expected) -> None:
    assert parallel.scale(values) == expected


def test_the_panel_has_an_axis_per_varying_field_and_chosen_result(sweep_exp, viewer_exp) -> None:  # noqa: F811
    data = _viewer_json((sweep_exp / "report.html").read_text(encoding="utf-8"))
    panel = data["parallel"]
    runs = [run["label"] for run in data["runs"]]
    assert [(a["label"], a["scale"]) for a in panel["axes"]] == [("kind", "points"), ("lambda", "log")]
    kind, lam = panel["axes"]
    assert kind["categories"] == ["l1", "l2"]
    assert [kind["categories"][i] for i in kind["values"]] == [label.split("_")[0] for label in runs]
    assert lam["values"] == [float(label.split("_")[1]) for label in runs]
    assert panel["results"] == ["val_data_loss", "generalization_gap", "val_accuracy", "first_layer_frac_near_zero"]
    assert panel["colour"] == "val_accuracy"
    variants_only = _viewer_json((viewer_exp / "report.html").read_text(encoding="utf-8"))
    assert variants_only["parallel"] is None  # one varying field: no panel
    assert 'id="parallel"' not in (viewer_exp / "report.html").read_text(encoding="utf-8")


def _shown_rows(dom) -> list[str]:
    body = next(e for e in _descendants(dom.by_id("summary")) if e["tag"] == "tbody")
    return [row["children"][0]["text"] for row in body["children"] if "hidden" not in row["attrs"]]


def _lines(dom) -> dict[str, dict]:
    return {e["attrs"]["data-run"]: e["attrs"] for e in _descendants(dom.by_id("parallel")) if e["tag"] == "path"}


@pytest.mark.browser
def test_a_brush_keeps_the_runs_in_its_range_in_the_lines_and_the_table(sweep_exp, tmp_path) -> None:
    page = sweep_exp / "report.html"
    dom = open_page(page, "", tmp_path / "p")
    assert len(_shown_rows(dom)) == 8 and dom.by_id("parallel-count")["text"] == "8 runs"
    lines = _lines(dom)
    assert sorted(lines) == sorted(_shown_rows(dom)) and not any("dimmed" in a["class"] for a in lines.values())
    assert len({a["stroke"] for a in lines.values()}) == 8  # coloured by val_accuracy, all different
    assert all(len(re.findall("[ML]", a["d"])) == 6 for a in lines.values())  # 2 fields + 4 results
    labels = [e["text"] for e in _descendants(dom.by_id("parallel")) if e["attrs"].get("class") == "label"]
    assert labels[:3] == ["kind", "lambda (log)", "val_data_loss"]
    dom = open_page(page, "brush=lambda:0.0001:0.001&brush=kind:l2:l2", tmp_path / "p")
    assert sorted(_shown_rows(dom)) == ["l2_0.0001", "l2_0.001"]
    assert dom.by_id("parallel-count")["text"] == "2 of 8 runs kept"
    dimmed = {run for run, attrs in _lines(dom).items() if "dimmed" in attrs["class"]}
    assert dimmed == set(_lines(dom)) - {"l2_0.0001", "l2_0.001"}
    dom = open_page(page, "brush=lambda:0:0", tmp_path / "p")  # the 0 has a place of its own on the log axis
    assert sorted(_shown_rows(dom)) == ["l1_0", "l2_0"]
    dom = open_page(page, "brush=val_accuracy:0.6:0.7", tmp_path / "p")  # 0.60, 0.65, 0.70: runs 3, 4, 5
    assert sorted(_shown_rows(dom)) == ["l1_0.001", "l1_0.01", "l2_0"]


ACTIONS = """<script>
window.addEventListener("load", function () {
  const svg = document.getElementById("parallel");
  const client = function (x, y) {
    const point = svg.createSVGPoint(); point.x = x; point.y = y;
    return point.matrixTransform(svg.getScreenCTM());
  };
  const axis = svg.querySelector('g.axis[data-axis="model.regularizer.lambda"]');
  const tick = function (text) {  // the height of the tick labelled text (its line, just before the label)
    const label = Array.from(axis.querySelectorAll("text.tick")).find(function (t) { return t.textContent === text; });
    return Number(label.previousElementSibling.getAttribute("y1"));
  };
  const x = Number(axis.querySelector("line.spine").getAttribute("x1"));
  const from = client(x, tick("0.01") - 8);
  const to = client(x, tick("0.001") + 4);
  const mouse = function (type, at, target) {
    target.dispatchEvent(new MouseEvent(type, { clientX: at.x, clientY: at.y, bubbles: true }));
  };
  mouse("mousedown", from, axis.querySelector("rect.hit"));
  mouse("mousemove", to, window);
  mouse("mouseup", to, window);
  const kept = Array.from(document.querySelectorAll("#summary tbody tr")).filter(function (r) { return !r.hidden; });
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify(kept.map(function (r) { return r.cells[0].textContent; }));
  document.body.append(probe);
  svg.querySelector('path[data-run="l1_0.0001"]').dispatchEvent(new MouseEvent("click", { bubbles: true }));
});
</script>"""


@pytest.mark.browser
def test_dragging_an_axis_brushes_it_and_a_click_on_a_line_opens_its_run(sweep_exp, tmp_path) -> None:
    page = tmp_path / "acted.html"
    text = (sweep_exp / "report.html").read_text(encoding="utf-8")
    page.write_text(text.replace("</body>", ACTIONS + "</body>"), encoding="utf-8")
    dom = open_page(page, "a=l2_0", tmp_path / "p")
    kept = json.loads(dom.by_id("probe")["text"])
    assert sorted(kept) == ["l1_0.001", "l1_0.01", "l2_0.001", "l2_0.01"]  # dragged from above 0.01 down to 0.001
    assert sorted(_shown_rows(dom)) == sorted(kept)
    assert dom.by_id("name-a")["text"] == "l1_0.0001 completed"  # the clicked line, in the viewer
