"""The regularization path (``path_<field>.png``) of a strength sweep, and a select: section's choice marked on
a sweep figure.

The path: for each value of a swept strength (λ, ``l1``, ``l2``, ``weight_decay``), the L2 norm of each input's
row of the first kernel (metrics.json's ``inputs.row_norms``: how much the network listens to that input) and
the first layer's exact-zero fraction, one row of panels per combination of the other varying fields. An
input whose row is exactly zero in every replicate at a value is marked there (×, at 0). Computed by
:func:`path_series` from saved runs (no model), drawn by :func:`path_figure`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from regdemo.draw import layout
from regdemo.results.rundir import LoadedRun
from regdemo.results.summary import dig

# Swept fields that are a regularization strength: their last dotted part.
STRENGTHS = ("lambda", "l1", "l2", "weight_decay")
INFORMATIVE_COLORS = ("C0", "C3")  # x1, x2; the noise inputs are grey


def path_fields(runs: Sequence[LoadedRun]) -> list[str]:
    """The swept strengths worth a path: numeric swept fields (:func:`regdemo.draw.layout.numeric_fields`)
    named like a strength, in runs that recorded their inputs."""
    recorded = any(dig(run.metrics, "inputs", "row_norms") for run in runs)
    return [f for f in layout.numeric_fields(runs) if f.rsplit(".", 1)[-1] in STRENGTHS] if recorded else []


@dataclass(frozen=True)
class PathSeries:
    """One row of panels: ``x`` (k,) the strength's values; ``norms`` (k, inputs) the mean row norm over the
    replicates at each value, ``low``/``high`` (k, inputs) their min and max; ``zero`` (k, inputs) whether the
    row is exactly zero in every replicate; ``frac_zero`` (k,) the first layer's mean exact-zero fraction;
    ``informative`` inputs come first."""

    label: str
    x: np.ndarray
    norms: np.ndarray
    low: np.ndarray
    high: np.ndarray
    zero: np.ndarray
    frac_zero: np.ndarray
    informative: int


def _inputs(run: LoadedRun) -> tuple[list[float], list[bool]] | None:
    norms, zero = dig(run.metrics, "inputs", "row_norms"), dig(run.metrics, "inputs", "row_zero")
    if not isinstance(norms, list) or not isinstance(zero, list):
        return None
    return [math.nan if v is None else float(v) for v in norms], [bool(z) for z in zero]


def _point(members: Sequence[LoadedRun]) -> tuple[np.ndarray, ...]:
    """One value's replicates → (mean, min, max, all-zero) per input and the mean exact-zero fraction."""
    read = [r for r in (_inputs(run) for run in members) if r is not None]
    widths = {len(norms) for norms, _ in read}
    if len(widths) != 1:  # no run recorded its inputs, or runs of different inputs: nothing to pool
        empty = np.full(max(widths, default=0), np.nan)
        return empty, empty, empty, np.zeros(len(empty), bool), np.nan
    norms = np.array([n for n, _ in read])
    zero = np.array([z for _, z in read]).all(axis=0)
    fractions = [dig(run.metrics, "weights", "layers", 0, "frac_zero") for run in members]
    frac = np.nanmean([f if isinstance(f, (int, float)) else np.nan for f in fractions])
    with np.errstate(all="ignore"):
        return np.nanmean(norms, axis=0), np.nanmin(norms, axis=0), np.nanmax(norms, axis=0), zero, frac


def path_series(runs: Sequence[LoadedRun], field: str) -> list[PathSeries]:
    """The path along ``field``: one series per combination of the other varying fields (replicates, seeds and
    folds, pooled at each value). Failed runs are left out."""
    done = [run for run in runs if not run.failed and field in run.sweep]
    coords = [layout.coordinates(run) for run in done]
    others = [f for f in layout.layout_fields(coords) if f != field and f not in layout.REPLICATE_FIELDS]
    names = layout.short_names(others)
    groups: dict[tuple, list[LoadedRun]] = {}
    for run, c in zip(done, coords, strict=True):
        groups.setdefault(tuple(c.get(f) for f in others), []).append(run)
    series = []
    for key, members in groups.items():
        xs = sorted({float(run.sweep[field]) for run in members})
        points = [_point([r for r in members if float(r.sweep[field]) == x]) for x in xs]
        if not points or not len(points[0][0]):
            continue
        inputs = dig(members[0].metrics, "inputs", "informative")
        series.append(
            PathSeries(
                label=", ".join(f"{names[f]}={layout.show(v)}" for f, v in zip(others, key, strict=True)),
                x=np.array(xs),
                norms=np.array([p[0] for p in points]),
                low=np.array([p[1] for p in points]),
                high=np.array([p[2] for p in points]),
                zero=np.array([p[3] for p in points]),
                frac_zero=np.array([p[4] for p in points]),
                informative=int(inputs) if isinstance(inputs, int) else 2,
            )
        )
    return series


def _input_label(i: int, informative: int) -> str:
    return f"$x_{i + 1}$" if i < informative else f"noise {i - informative + 1}"


def path_figure(field: str, series: Sequence[PathSeries], scale: tuple[str, dict]) -> Figure:
    """Per series a row: each input's first-kernel row norm against ``field`` (informative inputs in colour,
    noise inputs grey, the min–max band over replicates, × where the row is exactly zero in every replicate),
    and the first layer's exact-zero fraction. ``scale``: the x axis, as :func:`regdemo.draw.layout.x_scale`."""
    fig, axes = plt.subplots(len(series), 2, figsize=(12, 3.6 * len(series) + 0.6), squeeze=False)
    for row, s in enumerate(series):
        norms_ax, zero_ax = axes[row]
        for i in range(s.norms.shape[1]):
            informative = i < s.informative
            color = INFORMATIVE_COLORS[i % 2] if informative else "0.55"
            style = {"lw": 2.0, "marker": "o"} if informative else {"lw": 0.9, "marker": ".", "alpha": 0.8}
            label = _input_label(i, s.informative) if informative or i == s.informative else None
            label = "noise inputs" if not informative and label else label
            norms_ax.plot(s.x, s.norms[:, i], color=color, label=label, **style)
            if np.any(s.high[:, i] > s.low[:, i]):
                norms_ax.fill_between(s.x, s.low[:, i], s.high[:, i], color=color, alpha=0.1, lw=0)
            zeros = s.zero[:, i]
            if zeros.any():
                norms_ax.plot(s.x[zeros], np.zeros(int(zeros.sum())), ls="", marker="x", ms=9, mew=2, color=color)
        norms_ax.plot([], [], ls="", marker="x", color="k", label="row exactly 0 (every replicate)")
        norms_ax.set(ylabel="first-kernel row norm ‖w_i‖", title=s.label or "inputs")
        norms_ax.set_ylim(bottom=-0.05 * max(float(np.nanmax(s.high, initial=0.0)), 1e-9))
        norms_ax.legend(fontsize="small")
        zero_ax.plot(s.x, s.frac_zero, color="k", marker="s")
        zero_ax.set(ylabel="first layer: share exactly 0", ylim=(-0.03, 1.03), title=s.label or "first layer")
        for ax in (norms_ax, zero_ax):
            ax.set_xscale(scale[0], **scale[1])
            ax.set_xticks(s.x, [f"{v:g}" for v in s.x])
            ax.minorticks_off()
            ax.set_xlabel(field)
            ax.grid(alpha=0.3)
    fig.suptitle(f"Regularization path along {field}: which inputs the first layer keeps (means over replicates)")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # room for the title above the panels
    return fig


def mark_selection(fig: Figure, selection: Mapping[str, Any]) -> Figure:
    """Mark a select: section's chosen values (selection.json) on a sweep figure's panels: a dotted line at the
    least mean, a dashed one at the one-standard-error choice."""
    styles = {"least_mean": ("dotted", "least mean"), "one_standard_error": ("dashed", "one standard error")}
    for ax in fig.axes:
        for rule, (ls, words) in styles.items():
            value = selection.get("chosen", {}).get(rule)
            if value is not None:
                ax.axvline(value, color="k", ls=ls, lw=1.2, alpha=0.8, label=f"chosen: {words} ({value:g})")
    if fig.axes:
        fig.axes[-1].legend(fontsize="small", loc="best")
    return fig
