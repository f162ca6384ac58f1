"""A :class:`regdemo.results.diff.Diff` shown three ways: JSON (one object), plain text, and Markdown for a
pull-request comment. Text and Markdown list at most :data:`MAX_ROWS` rows per table; JSON lists all.

Names, fields and values come from the compared folders (someone else's): text goes through
:func:`regdemo.textsafe.for_terminal` (no escape sequence reaches a terminal) and every Markdown cell through
:func:`regdemo.textsafe.markdown_cell` (no newline ends a row, no heading, image or tag is injected).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from regdemo.results.diff import Diff
from regdemo.textsafe import for_terminal, markdown_cell, one_line

MAX_ROWS = 40  # per table in text and Markdown (a PR comment must stay readable, and under 65 kB)


def _json_number(value: float | None) -> float | None:
    """JSON has no NaN or infinity: they become null, as an empty cell does."""
    return value if value is not None and math.isfinite(value) else None


def as_json(diff: Diff) -> dict[str, Any]:
    """The comparison as one JSON-ready object.

    ``only_in_base``, ``only_in_new`` (run names); ``metrics``: ``{run, metric, base, new, delta, beyond}``
    for every value that differs at all (null: an empty cell or a non-finite number); ``boundaries``:
    ``{run, disagreement, beyond}`` for every run whose boundaries disagree at all (disagreement null:
    grids over different boxes or resolutions); ``within_tolerance``; then what was compared.
    """
    tol = diff.tolerance
    return {
        "base": str(diff.base),
        "new": str(diff.new),
        "within_tolerance": diff.within_tolerance,
        "only_in_base": diff.only_in_base,
        "only_in_new": diff.only_in_new,
        "status": [{"run": s.run, "base": s.base, "new": s.new} for s in diff.statuses],
        "settings": [{"run": s.run, "field": s.field, "base": s.base, "new": s.new} for s in diff.settings],
        "metrics": [
            {
                "run": m.run,
                "metric": m.metric,
                "base": _json_number(m.base),
                "new": _json_number(m.new),
                "delta": _json_number(m.delta),
                "beyond": m.beyond,
            }
            for m in diff.metrics
        ],
        "boundaries": [{"run": b.run, "disagreement": b.disagreement, "beyond": b.beyond} for b in diff.boundaries],
        "tolerance": {"rtol": tol.rtol, "atol": tol.atol, "boundary": tol.boundary},
        "runs_compared": len(diff.runs_compared),
        "metrics_compared": diff.metrics_compared,
        "metrics_only_in_base": diff.metrics_only_in_base,
        "metrics_only_in_new": diff.metrics_only_in_new,
        "boundaries_compared": diff.boundaries_compared,
        "not_compared": [{"run": c.run, "what": c.what, "reason": c.reason} for c in diff.not_compared],
    }


def to_json(diff: Diff) -> str:
    """:func:`as_json` on one line (json's C encoder: a 10,000-run diff may list 100,000s of values)."""
    return json.dumps(as_json(diff), allow_nan=False)


# ---------------------------------------------------------------- text and Markdown


def _num(value: float | None) -> str:
    """Shortest round-trip digits, so that two values that differ never print alike; '' for empty."""
    return "" if value is None else repr(value)


def _delta(value: float | None) -> str:
    return "" if value is None else f"{value:+.3g}"


def _share(value: float | None) -> str:
    return "grids differ (box or resolution)" if value is None else f"{value:.4%} of grid points"


def _verdict(diff: Diff) -> str:
    return "within tolerance" if diff.within_tolerance else "DIFFERS beyond tolerance"


def _tables(diff: Diff) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every non-empty table, in reading order."""
    tables = []
    if diff.not_compared:
        rows = [[c.run, c.what, c.reason] for c in diff.not_compared]
        tables.append(("Not compared (missing or incomplete)", ["run", "what", "why"], rows))
    if diff.only_in_base or diff.only_in_new:
        rows = [[run, "base only"] for run in diff.only_in_base] + [[run, "new only"] for run in diff.only_in_new]
        tables.append(("Runs in one side only", ["run", "side"], rows))
    changed = diff.statuses + diff.settings
    if changed:
        rows = [[s.run, s.field, s.base or "(none)", s.new or "(none)"] for s in changed]
        tables.append(("Status and settings that differ", ["run", "field", "base", "new"], rows))
    beyond = diff.beyond_metrics
    if beyond:
        rows = [[m.run, m.metric, _num(m.base), _num(m.new), _delta(m.delta)] for m in beyond]
        tables.append(("Metrics beyond tolerance", ["run", "metric", "base", "new", "delta"], rows))
    within = [m for m in diff.metrics if not m.beyond]
    if within:
        rows = [[m.run, m.metric, _num(m.base), _num(m.new), _delta(m.delta)] for m in within]
        tables.append(("Metrics that differ within tolerance", ["run", "metric", "base", "new", "delta"], rows))
    if diff.boundaries:
        rows = [[b.run, _share(b.disagreement), "beyond" if b.beyond else "within"] for b in diff.boundaries]
        tables.append(("Boundaries that disagree (class flipped)", ["run", "disagreement", ""], rows))
    return tables


def _counts(diff: Diff) -> list[str]:
    tol = diff.tolerance
    within = len(diff.metrics) - len(diff.beyond_metrics)
    lines = [
        f"{len(diff.runs_compared)} run(s) in both; {len(diff.metrics_compared)} metric(s) compared "
        f"(rtol {tol.rtol:g}, atol {tol.atol:g}): {len(diff.beyond_metrics)} value(s) beyond tolerance, "
        f"{within} differ within it",
        f"boundaries compared in {diff.boundaries_compared} run(s) (tolerance {tol.boundary:g} of grid points)",
    ]
    if diff.not_compared:
        lines.append(f"{len(diff.not_compared)} run(s) or boundaries could not be compared (see below)")
    if diff.metrics_only_in_base or diff.metrics_only_in_new:
        one_side = [f"{m} (base)" for m in diff.metrics_only_in_base] + [f"{m} (new)" for m in diff.metrics_only_in_new]
        lines.append(f"not compared (one side only): {', '.join(one_side)}")
    return lines


def _more(rows: Sequence[list[str]]) -> str:
    return f"… and {len(rows) - MAX_ROWS} more (--json lists all)" if len(rows) > MAX_ROWS else ""


def as_text(diff: Diff) -> str:
    """A readable plain-text summary: the verdict, the counts, then each table that is not empty."""
    lines = [f"regdemo diff {one_line(str(diff.base))} {one_line(str(diff.new))}: {_verdict(diff)}"]
    lines += [one_line(line) for line in _counts(diff)]
    for title, header, rows in _tables(diff):
        shown = [header, *([one_line(c) for c in row] for row in rows[:MAX_ROWS])]
        widths = [max(len(row[i]) for row in shown) for i in range(len(header))]
        lines += ["", f"{title} ({len(rows)}):"]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in shown]
        lines += [f"  {more}"] if (more := _more(rows)) else []
    return for_terminal("\n".join(lines))


def as_markdown(diff: Diff) -> str:
    """A Markdown summary fit for a pull-request comment: verdict, counts, a table per kind of change."""
    mark = "✅" if diff.within_tolerance else "❌"
    paths = f"{markdown_cell(str(diff.base))} → {markdown_cell(str(diff.new))}"
    lines = [f"### {mark} regdemo diff: {_verdict(diff)}", "", paths, ""]
    lines += [f"- {markdown_cell(line)}" for line in _counts(diff)]
    for title, header, rows in _tables(diff):
        lines += ["", f"**{title}** ({len(rows)})", ""]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows[:MAX_ROWS]]
        lines += ["", more] if (more := _more(rows)) else []
    return "\n".join(lines)
