"""report.html: one static page of an experiment's checks, summary, interactive viewer, comparison figures and runs.

The page is rendered from the Jinja2 templates in ``regdemo/templates/`` (``report.html``, with
``report.css`` and ``report.js`` inlined), autoescaped: every name, config and error message is text,
never markup. It needs no server and no network. Up to :data:`EMBED_LIMIT` runs it is one
self-contained file: images are data URIs and every run has its section. Past that it is an index page:
no run sections, and the runs' pictures (and comparison figures already in the experiment folder) are
linked as files beside it, never read. The viewer's data comes from :mod:`regdemo.report.viewer`; runs are read
back and the page written by :mod:`regdemo.results.rundir`; the numbers come from :mod:`regdemo.results.summary`, the
figures from :mod:`regdemo.draw.figures`. A failed run is a run too: its error in place of its plots.
"""

from __future__ import annotations

import base64
import functools
import html
import os
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

import regdemo
from regdemo.draw import canvas
from regdemo.draw.figures import comparison_figures
from regdemo.errors import RunFolderError
from regdemo.report import viewer
from regdemo.results import rundir
from regdemo.results.checks import measured_text
from regdemo.results.rundir import LoadedRun
from regdemo.results.summary import is_number, report_columns, summary_rows, sweep_fields

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TEMPLATE = "report.html"
SCRIPTS = ("report.js", "parallel.js")  # the page's one script: the viewer and table, then the panel
OPEN_CONFIGS = 12  # up to this many runs, each run's config is shown unfolded
# Up to this many runs the report is one self-contained file; past it, an index page linking the runs' files
# (at 1,000 runs the embedded page would be ~240 MB).
EMBED_LIMIT = 50
# The viewer's loss curves: (points per curve, significant digits) on a self-contained page, and on an index
# page, where a run's data must stay under ~4 kB (5 MB at 1,000 runs, with its summary row).
EMBED_HISTORY = (300, 4)
INDEX_HISTORY = (100, 3)
VIEWER_IMAGES = (rundir.BOUNDARY_PNG, rundir.WEIGHTS_PNG)  # the viewer draws the loss itself


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
        loader=jinja2.PackageLoader("regdemo.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_escape,
    )
    env.filters["image_src"] = image_src
    return env


@functools.cache
def _script() -> Markup:
    """report.js and parallel.js, inlined as they are (not rendered: their braces are JavaScript's, not Jinja's)."""
    env = _templates()
    texts = []
    for name in SCRIPTS:
        text, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
        if "</script" in text.lower():
            raise ValueError(f"{name} must not hold '</script': it would end its element early")
        texts.append(text)
    return Markup("\n".join(texts))


def _escape(value: Any) -> Markup:
    """Escape a value as :func:`html.escape` does (``&quot;``, where markupsafe writes ``&#34;``), so a
    value reads the same in the page as before templates; markup already marked safe is kept."""
    return value if isinstance(value, Markup) else Markup(html.escape(str(value), quote=True))


def _data_uri(png: bytes) -> str:
    """A PNG as an image source that is the PNG itself (base64), so the page needs no other file."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def image_src(image: bytes | str) -> str:
    """An image source: PNG bytes embedded as a data URI, or a file path relative to the page as a URL."""
    return _data_uri(image) if isinstance(image, bytes) else urllib.parse.quote(image)


def image_id(index: int, file: str) -> str:
    """The id of run ``index``'s picture ``file`` in its section, which the viewer copies from."""
    return f"img-{index}-{Path(file).stem}"


def _anchor(label: str, sections: bool = True) -> str:
    """Where a run's name in the summary table links: its section, or (index page) the viewer showing it."""
    return f"run-{label}" if sections else "a=" + urllib.parse.quote(label, safe="")


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _cells(row: Mapping[str, Any], columns: Sequence[str], sections: bool = True) -> list[Cell]:
    """A summary row as table cells: the run's name links to its section (or the viewer), a status is
    styled by its value, numbers are right-aligned, None is an empty cell."""
    cells = []
    for column in columns:
        value = row.get(column)
        text = "" if value is None else _number(value)
        if column == "run":
            cells.append(Cell(text, anchor=_anchor(str(value), sections)))
        elif column == "status":
            cells.append(Cell(text, css_class=str(value)))
        else:
            cells.append(Cell(text, css_class="num" if is_number(value) else ""))
    return cells


def render_report(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    figures: Sequence[tuple[str, bytes | str]],
    sections: Sequence[RunSection] | None,
    checks: Sequence[Mapping[str, Any]] = (),
    viewer_data: Mapping[str, Any] | None = None,
    selection: Mapping[str, Any] | None = None,
) -> str:
    """The whole report as one static HTML page (inline CSS and script, no network).

    ``figures``: ``(file name, PNG bytes or a path relative to the page)``; ``sections``: every run's
    section (self-contained page) or None (index page: the summary links the viewer instead);
    ``checks``: checks.json's entries (name, claim, rule, verdict, figures), shown first;
    ``viewer_data``: :func:`regdemo.report.viewer.viewer_data`'s document, or None for no viewer;
    ``selection``: selection.json (a select: section's choice and its table), shown after the checks.
    """
    counts = {s: sum(r["status"] == s for r in rows) for s in ("completed", "diverged", "failed")}
    listed = sections is not None
    return (
        _templates()
        .get_template(TEMPLATE)
        .render(
            name=name,
            version=regdemo.__version__,
            runs=len(rows),
            tally=", ".join(f"{n} {s}" for s, n in counts.items() if n),
            columns=columns,
            table=[_cells(row, columns, listed) for row in rows],
            figures=figures,
            listed=listed,
            sections=[
                (section, _anchor(section.label), [image_id(i, file) for file, _ in section.images])
                for i, section in enumerate(sections or ())
            ],
            open_config=len(sections or ()) <= OPEN_CONFIGS,
            checks=[{**check, "measured": measured_text(check["figures"])} for check in checks],
            selection=_selection_view(selection or {}),
            viewer=None if viewer_data is None else Markup(viewer.script_json(viewer_data)),
            parallel=bool(viewer_data and viewer_data.get("parallel")),
            script=_script(),
        )
    )


def _selection_view(selection: Mapping[str, Any]) -> dict[str, Any] | None:
    """selection.json as the page's Selection table: per value its mean, standard error and replicates, and
    which rules chose it (None without a selection)."""
    if not selection:
        return None
    chosen = selection.get("chosen", {})
    rows = [
        {
            "value": _number(row.get("value")),
            "mean": "" if row.get("mean") is None else _number(row["mean"]),
            "se": "" if row.get("se") is None else _number(row["se"]),
            "n": row.get("n", ""),
            "chosen": ", ".join(rule for rule, value in chosen.items() if value == row.get("value")),
        }
        for row in selection.get("table", [])
    ]
    rules = selection.get("rules", {})
    words = [f"{rule}: {rules.get(rule, '')} ({'none' if v is None else _number(v)})" for rule, v in chosen.items()]
    return {"field": selection["field"], "metric": selection["metric"], "rows": rows, "words": words}


def run_section(run: LoadedRun) -> RunSection:
    """Read one run's plots and config text for the report (a failed run has only its error)."""
    images = [] if run.failed else rundir.read_plots(run.path)
    return RunSection(run.label, run.status, run.error, rundir.read_text(run.path, rundir.CONFIG), images)


def _embedded_media(index: int, run: LoadedRun, section: RunSection) -> viewer.RunMedia:
    """A run's pictures on the self-contained page: its section's <img> ids; the film strip embedded here, once."""
    ids = {Path(file).stem: image_id(index, file) for file, _ in section.images if file in VIEWER_IMAGES}
    epochs = rundir.read_snapshot_epochs(run.path, run.config) if not run.failed else []
    has_strip = epochs and os.path.lexists(run.path / rundir.TRAINING_FRAMES)  # a link is refused, not skipped
    frames = _data_uri(rundir.read_png(run.path, rundir.TRAINING_FRAMES)) if has_strip else ""
    return viewer.RunMedia(ids, frames, epochs)


def _linked_media(run: LoadedRun) -> viewer.RunMedia:
    """A run's pictures on the index page: links to its folder's regular files (none is read; a link is
    never linked to, a browser would follow it)."""
    folder = run.path.name
    links = {Path(f).stem: image_src(f"{folder}/{f}") for f in VIEWER_IMAGES if rundir.is_regular(run.path / f)}
    epochs = rundir.read_snapshot_epochs(run.path, run.config) if not run.failed else []
    has_strip = epochs and rundir.is_regular(run.path / rundir.TRAINING_FRAMES)
    return viewer.RunMedia(links, image_src(f"{folder}/{rundir.TRAINING_FRAMES}") if has_strip else "", epochs)


def _figure(
    experiment_dir: Path, name: str, draw: Callable[[], Figure], embed: bool, fresh: bool
) -> tuple[str, bytes | str]:
    """A comparison figure for the page: ``(name, PNG bytes)`` to embed, or ``(name, name)`` to link.

    The index page links the experiment folder's file when there is one; the self-contained page embeds
    it when ``fresh`` (``regdemo run`` drew it for these very runs a moment ago), else draws it anew (the
    folder's file may be from another comparison)."""
    on_disk = rundir.is_regular(experiment_dir / name)  # a link in the folder is drawn anew, never followed
    if on_disk and not embed:
        return name, name
    return name, rundir.read_png(experiment_dir, name) if on_disk and fresh else canvas.png_bytes(draw())


def write_report(
    experiment_dir: Path,
    embed: bool | None = None,
    embed_limit: int = EMBED_LIMIT,
    grids: bool | None = None,
    fresh: bool = False,
) -> Path:
    """Write ``experiment_dir/report.html`` (atomically) from the experiment's run folders; return it.

    ``embed``: one self-contained file (True) or an index page linking the runs' files (False); by
    default self-contained up to ``embed_limit`` runs. ``grids``: the comparison's grid pages (None: up
    to 36 runs; :func:`regdemo.draw.figures.comparison_figures`). ``fresh``: the folder's comparison figures
    were just drawn from these runs, so a self-contained page embeds them rather than drawing them again.
    """
    run_dirs = rundir.find_runs(experiment_dir)
    if not run_dirs:
        raise RunFolderError(f"{experiment_dir}: not a regdemo experiment folder (no run folders with metrics.json)")
    embed = len(run_dirs) <= embed_limit if embed is None else embed
    runs = rundir.load_runs(run_dirs)
    rows = summary_rows(runs)
    selection = rundir.read_selection(experiment_dir)
    drawn = comparison_figures(runs, grids, selection)
    figures = [_figure(experiment_dir, name, draw, embed, fresh) for name, draw in drawn]
    name = runs[0].config.experiment if len({r.config.experiment for r in runs}) == 1 else experiment_dir.name
    if embed:
        sections = [run_section(r) for r in runs]
        media = [_embedded_media(i, r, s) for i, (r, s) in enumerate(zip(runs, sections, strict=True))]
    else:
        sections, media = None, [_linked_media(r) for r in runs]
    points, digits = EMBED_HISTORY if embed else INDEX_HISTORY
    data = viewer.viewer_data(runs, rows, media, embed, points, digits)
    checks = rundir.read_checks(experiment_dir).get("checks", [])
    columns = report_columns(rows, sweep_fields(runs))
    page = render_report(name, rows, columns, figures, sections, checks, data, selection)
    return rundir.write_page(page, experiment_dir)
