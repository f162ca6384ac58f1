"""report.html: one self-contained page of an experiment's summary, comparison figures and runs.

Runs are read back and the page written by :mod:`regdemo.rundir`; the numbers come from
:mod:`regdemo.summary`, the figures from :mod:`regdemo.figures`. A failed run is a run too: its error
in place of its plots.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regdemo
from regdemo import plots, rundir
from regdemo.errors import RunFolderError
from regdemo.figures import comparison_figures
from regdemo.rundir import LoadedRun
from regdemo.summary import is_number, report_columns, summary_rows, sweep_fields


@dataclass(frozen=True)
class RunSection:
    """One run's part of the report: its plots as ``[(file name, PNG bytes)]`` or its error."""

    label: str
    status: str
    error: str
    config_text: str
    images: list[tuple[str, bytes]]


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;max-width:1500px;margin:0 auto;
padding:1.2em 2em}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}
.meta{color:#59636e}nav a{margin-right:1.2em}
.scroll{overflow-x:auto;max-height:70vh;overflow-y:auto;border:1px solid #d0d7de}
table{border-collapse:collapse;font-size:13px;white-space:nowrap}
th,td{padding:3px 9px;border-bottom:1px solid #eaeef2;text-align:left}
th{position:sticky;top:0;background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafbfc}
.completed{color:#1a7f37}.diverged{color:#9a6700;font-weight:600}.failed{color:#cf222e;font-weight:600}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eaeef2}
figcaption{color:#59636e;font-size:12px}
section.run{border-top:1px solid #d0d7de;margin-top:1.5em}
.plots{display:grid;grid-template-columns:repeat(3,1fr);gap:8px}.plots img{width:100%}
pre{background:#f6f8fa;padding:.7em;overflow-x:auto;font-size:12px}
pre.config{column-width:18em;column-rule:1px solid #eaeef2}
pre.error{background:#ffebe9;color:#82071e;white-space:pre-wrap}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _img(png: bytes, alt: str) -> str:
    """An <img> whose source is the PNG itself (a base64 data URI)."""
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" alt="{_e(alt)}">'


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """The summary as an HTML table, each run's name linking to its section."""
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            text = "" if value is None else _number(value)
            if column == "run":
                cells.append(f'<td><a href="#run-{_e(value)}">{_e(text)}</a></td>')
            elif column == "status":
                cells.append(f'<td class="{_e(value)}">{_e(text)}</td>')
            else:
                cells.append(f"<td{' class=num' if is_number(value) else ''}>{_e(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table id="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _run_section(section: RunSection, open_config: bool) -> str:
    plots_html = (
        f'<div class="plots">{"".join(_img(png, f"{section.label}: {name}") for name, png in section.images)}</div>'
        if section.images
        else ""
    )
    error = f'<pre class="error">{_e(section.error)}</pre>' if section.error else ""
    return (
        f'<section class="run" id="run-{_e(section.label)}">'
        f'<h3>{_e(section.label)} <span class="{_e(section.status)}">{_e(section.status)}</span></h3>'
        f"{error}{plots_html}"
        f"<details{' open' if open_config else ''}><summary>resolved config</summary>"
        f'<pre class="config">{_e(section.config_text)}</pre></details></section>'
    )


def render_report(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    figures: Sequence[tuple[str, bytes]],
    sections: Sequence[RunSection],
) -> str:
    """The whole report as one self-contained HTML page (inline CSS, images as data URIs, no script)."""
    counts = {s: sum(r["status"] == s for r in rows) for s in ("completed", "diverged", "failed")}
    tally = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    figures_html = "".join(
        f"<figure>{_img(png, file)}<figcaption>{_e(file)}</figcaption></figure>" for file, png in figures
    )
    runs_html = "".join(_run_section(s, open_config=len(sections) <= 12) for s in sections)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>regdemo report: {_e(name)}</title>'
        f"<style>{CSS}</style></head><body>"
        f"<h1>regdemo report: {_e(name)}</h1>"
        f'<p class="meta">{len(rows)} runs ({_e(tally)}) · regdemo {_e(regdemo.__version__)} · '
        "every number below is also in summary.csv and each run's metrics.json</p>"
        '<nav><a href="#summary-section">Summary</a><a href="#comparison">Comparison</a><a href="#runs">Runs</a></nav>'
        f'<h2 id="summary-section">Summary</h2><div class="scroll">{_table(rows, columns)}</div>'
        f'<h2 id="comparison">Comparison</h2>{figures_html}'
        f'<h2 id="runs">Runs</h2>{runs_html}'
        "</body></html>\n"
    )


def run_section(run: LoadedRun) -> RunSection:
    """Read one run's plots and config text for the report (a failed run has only its error)."""
    images = [] if run.failed else rundir.read_plots(run.path)
    return RunSection(run.label, run.status, run.error, rundir.read_text(run.path, rundir.CONFIG), images)


def write_report(experiment_dir: Path) -> Path:
    """Write ``experiment_dir/report.html`` (atomically) from the experiment's run folders; return it."""
    run_dirs = rundir.find_runs(experiment_dir)
    if not run_dirs:
        raise RunFolderError(f"{experiment_dir}: not a regdemo experiment folder (no run folders with metrics.json)")
    runs = rundir.load_runs(run_dirs)
    rows = summary_rows(runs)
    figures = [(name, plots.png_bytes(draw())) for name, draw in comparison_figures(runs)]
    name = runs[0].config.experiment if len({r.config.experiment for r in runs}) == 1 else experiment_dir.name
    page = render_report(name, rows, report_columns(rows, sweep_fields(runs)), figures, [run_section(r) for r in runs])
    return rundir.write_report(page, experiment_dir)
