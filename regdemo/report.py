"""report.html: one self-contained page of an experiment's summary, comparison figures and runs.

The page is rendered from the Jinja2 templates in ``regdemo/templates/`` (``report.html``, its CSS
inlined from ``report.css``), autoescaped: every name, config and error message is text, never markup.
Images are inlined as data URIs and there is no script, so the page is one static file. Runs are read
back and the page written by :mod:`regdemo.rundir`; the numbers come from :mod:`regdemo.summary`, the
figures from :mod:`regdemo.figures`. A failed run is a run too: its error in place of its plots.
"""

from __future__ import annotations

import base64
import functools
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

import regdemo
from regdemo import plots, rundir
from regdemo.checks import measured_text
from regdemo.errors import RunFolderError
from regdemo.figures import comparison_figures
from regdemo.rundir import LoadedRun
from regdemo.summary import is_number, report_columns, summary_rows, sweep_fields

TEMPLATE = "report.html"
OPEN_CONFIGS = 12  # up to this many runs, each run's config is shown unfolded


@dataclass(frozen=True)
class RunSection:
    """One run's part of the report: its plots as ``[(file name, PNG bytes)]`` or its error."""

    label: str
    status: str
    error: str
    config_text: str
    images: list[tuple[str, bytes]]


@dataclass(frozen=True)
class Cell:
    """One cell of the summary table: its text, its class (``num`` or a status) and the anchor it links to."""

    text: str
    css_class: str = ""
    anchor: str = ""


@functools.cache
def _templates() -> jinja2.Environment:
    """The template environment: autoescaping on for every template, undefined names an error."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("regdemo", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_escape,
    )
    env.filters["data_uri"] = _data_uri
    return env


def _escape(value: Any) -> Markup:
    """Escape a value as :func:`html.escape` does (``&quot;``, where markupsafe writes ``&#34;``), so a
    value reads the same in the page as before templates; markup already marked safe is kept."""
    return value if isinstance(value, Markup) else Markup(html.escape(str(value), quote=True))


def _data_uri(png: bytes) -> str:
    """A PNG as an image source that is the PNG itself (base64), so the page needs no other file."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _anchor(label: str) -> str:
    """The id of a run's section, which its name in the summary table links to."""
    return f"run-{label}"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _cells(row: Mapping[str, Any], columns: Sequence[str]) -> list[Cell]:
    """A summary row as table cells: the run's name links to its section, a status is styled by its
    value, numbers are right-aligned, None is an empty cell."""
    cells = []
    for column in columns:
        value = row.get(column)
        text = "" if value is None else _number(value)
        if column == "run":
            cells.append(Cell(text, anchor=_anchor(str(value))))
        elif column == "status":
            cells.append(Cell(text, css_class=str(value)))
        else:
            cells.append(Cell(text, css_class="num" if is_number(value) else ""))
    return cells


def render_report(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    figures: Sequence[tuple[str, bytes]],
    sections: Sequence[RunSection],
    checks: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The whole report as one self-contained HTML page (inline CSS, images as data URIs, no script).

    ``checks``: checks.json's entries (name, claim, rule, verdict, figures), shown first.
    """
    counts = {s: sum(r["status"] == s for r in rows) for s in ("completed", "diverged", "failed")}
    return (
        _templates()
        .get_template(TEMPLATE)
        .render(
            name=name,
            version=regdemo.__version__,
            runs=len(rows),
            tally=", ".join(f"{n} {s}" for s, n in counts.items() if n),
            columns=columns,
            table=[_cells(row, columns) for row in rows],
            figures=figures,
            sections=[(section, _anchor(section.label)) for section in sections],
            open_config=len(sections) <= OPEN_CONFIGS,
            checks=[{**check, "measured": measured_text(check["figures"])} for check in checks],
        )
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
    sections = [run_section(r) for r in runs]
    checks = rundir.read_checks(experiment_dir).get("checks", [])
    page = render_report(name, rows, report_columns(rows, sweep_fields(runs)), figures, sections, checks)
    return rundir.write_report(page, experiment_dir)
