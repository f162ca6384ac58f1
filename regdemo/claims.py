"""The lecture's claims as verdicts: each claim's rule, its thresholds, and the table they make.

A verdict is a pure function of summary rows (:func:`regdemo.summary.summary_rows`, one per run):
it states its rule, uses means over seeds where there are seeds, and is None ("not measured") when
the runs it needs are missing or failed. :mod:`regdemo.claimruns` holds what the rules are measured
on; ``scripts/lecture_claims.py`` runs it and prints :func:`all_claims` as a table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import spearmanr

Row = Mapping[str, Any]
Rows = Sequence[Row]

# Verdict thresholds, in one place (the table's "rule" column quotes them).
OVERFIT_GAP = 0.1  # nats of final val_data_loss − data_loss: "a significant gap"
MANY_ZEROS = 0.25  # "many weights exactly zero": at least a quarter of the first layer
NO_ZEROS = 0.01  # "not exactly zero": under 1 % of the first layer
UNDERFIT_DROP = 0.10  # "underfits": train accuracy at least 10 points below λ = 0's
MONOTONE_RHO = 0.7  # "rises with width": Spearman rank correlation at least this
DECAY_TOL = 1e-5  # "equal" one-step weights in float32


@dataclass(frozen=True)
class Claim:
    """One row of the table: the lecture's claim, what was measured, the verdict and the rule behind it.

    ``key`` names the claim for code; ``figures`` holds the numbers the rule compared; ``holds`` is
    None when the runs it needs are missing or failed.
    """

    key: str
    claim: str
    measured: str
    holds: bool | None
    rule: str
    source: str
    figures: Mapping[str, float] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "not measured"}[self.holds]


# ---------------------------------------------------------------- summary rows (pure)


def select(rows: Rows, **where: Any) -> list[Row]:
    """The completed or diverged rows whose columns equal ``where`` (failed runs are left out)."""
    return [r for r in rows if r.get("status") != "failed" and all(r.get(k) == v for k, v in where.items())]


def mean_of(rows: Rows, key: str) -> float:
    """Mean of ``key`` over ``rows`` (e.g. over seeds), skipping missing and non-finite values; NaN if none."""
    values = [float(r[key]) for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return float(np.mean(values)) if values else math.nan


def known(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def seeds_note(rows: Rows) -> str:
    """``mean over seeds 1–3`` / ``seed 2``: what a figure averages."""
    seeds = sorted({r.get("seed") for r in rows if r.get("seed") is not None})
    if len(seeds) > 1:
        return f"mean over seeds {seeds[0]}–{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else "mean"
    return f"seed {seeds[0]}" if seeds else ""


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation of two equally long sequences (``scipy.stats.spearmanr``: ties share
    their mean rank); NaN below 2 points, when either side is constant, or when a value is NaN."""
    if len(x) < 2 or len(set(x)) < 2 or len(set(y)) < 2:
        return math.nan  # spearmanr would warn, then return NaN
    return float(spearmanr(x, y).statistic)


def _pct(value: float) -> str:
    return f"{value:.1%}" if math.isfinite(value) else "n/a"


def _num(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"


# ---------------------------------------------------------------- verdicts (pure)


def _judge(ok: Callable[[], bool], *needed: float) -> bool | None:
    """``ok()`` when every needed figure is finite, else None (not measured)."""
    return bool(ok()) if needed and known(*needed) else None


def overfits_without_regularization(rows: Rows, variant: str = "no_reg") -> Claim:
    """The premise: the lecture's net without a penalty drives train loss to ~0 while validation loss stays high."""
    base = select(rows, variant=variant)
    train, val, gap = (mean_of(base, k) for k in ("data_loss", "val_data_loss", "generalization_gap"))
    return Claim(
        "overfit",
        "Without regularization the net overfits: train loss → 0, validation loss stays high",
        f"train data loss {_num(train, 3)}, validation {_num(val)}, gap {_num(gap)} ({seeds_note(base)})",
        _judge(lambda: gap >= OVERFIT_GAP, gap),
        f"gap = val_data_loss − data_loss ≥ {OVERFIT_GAP}",
        "lecture",
        {"data_loss": train, "val_data_loss": val, "gap": gap},
    )


def _range(rows: Rows) -> tuple[float, float]:
    return mean_of(rows, "first_layer_min"), mean_of(rows, "first_layer_max")


def l2_concentrates_weights(rows: Rows, none: str = "none", l2: str = "l2", demo: Rows = ()) -> Claim:
    """Without a penalty the first layer's weights spread wider (std and range) than with L2.

    ``demo``: the lecture config's rows (variants ``no_reg``, ``l2``), quoted beside the lecture's figures.
    """
    a, b = select(rows, variant=none), select(rows, variant=l2)
    std_a, std_b = mean_of(a, "first_layer_std"), mean_of(b, "first_layer_std")
    (lo_a, hi_a), (lo_b, hi_b) = _range(a), _range(b)
    text = (
        f"std {_num(std_a, 3)} → {_num(std_b, 3)}; range {_num(lo_a)}…{_num(hi_a)} → {_num(lo_b)}…{_num(hi_b)} "
        f"({seeds_note(a)}; the lecture: −2…1.75 → −0.5…0.3)"
    )
    if demo:
        (dlo_a, dhi_a), (dlo_b, dhi_b) = _range(select(demo, variant="no_reg")), _range(select(demo, variant="l2"))
        text += f"; lecture.yaml: {_num(dlo_a)}…{_num(dhi_a)} → {_num(dlo_b)}…{_num(dhi_b)}"
    return Claim(
        "l2_spread",
        "No-reg weights spread wider; L2 concentrates them near 0",
        text,
        _judge(lambda: std_b < std_a and hi_b - lo_b < hi_a - lo_a, std_a, std_b, lo_a, hi_a, lo_b, hi_b),
        "first-layer std and max − min both smaller with L2",
        "l1_vs_l2",
        {"std_none": std_a, "std_l2": std_b, "range_none": hi_a - lo_a, "range_l2": hi_b - lo_b},
    )


def l2_shrinks_gap(rows: Rows, none: str = "none", l2: str = "l2") -> Claim:
    a, b = select(rows, variant=none), select(rows, variant=l2)
    gap_a, gap_b = mean_of(a, "generalization_gap"), mean_of(b, "generalization_gap")
    return Claim(
        "l2_gap",
        "L2 shrinks the generalization gap",
        f"gap {_num(gap_a)} → {_num(gap_b)} ({seeds_note(a)})",
        _judge(lambda: gap_b < gap_a, gap_a, gap_b),
        "mean gap with L2 < without",
        "l1_vs_l2",
        {"gap_none": gap_a, "gap_l2": gap_b},
    )


def l2_leaves_no_gap(rows: Rows, l2: str = "l2") -> Claim:
    group = select(rows, variant=l2)
    gap, train, val = (mean_of(group, k) for k in ("generalization_gap", "data_loss", "val_data_loss"))
    return Claim(
        "l2_no_gap",
        "With L2 the validation loss follows the training loss: no significant gap",
        f"train {_num(train, 3)}, validation {_num(val)}, gap {_num(gap)} ({seeds_note(group)})",
        _judge(lambda: gap < OVERFIT_GAP, gap),
        f"mean gap with L2 < {OVERFIT_GAP}",
        "l1_vs_l2",
        {"gap_l2": gap},
    )


def l2_smooths_boundary(rows: Rows, none: str = "none", l2: str = "l2") -> Claim:
    a, b = select(rows, variant=none), select(rows, variant=l2)
    la, lb = mean_of(a, "boundary_contour_length"), mean_of(b, "boundary_contour_length")
    ra, rb = mean_of(a, "boundary_regions"), mean_of(b, "boundary_regions")
    return Claim(
        "l2_boundary",
        "L2 gives a smoother, simpler decision boundary",
        f"contour length {_num(la)} → {_num(lb)} diagonals, regions {_num(ra, 1)} → {_num(rb, 1)} ({seeds_note(a)})",
        _judge(lambda: lb < la and rb <= ra, la, lb, ra, rb),
        "mean p = 0.5 contour shorter with L2, no more regions",
        "l1_vs_l2",
        {"length_none": la, "length_l2": lb, "regions_none": ra, "regions_l2": rb},
    )


def l2_small_not_zero(rows: Rows, none: str = "none", l2: str = "l2") -> Claim:
    group = select(rows, variant=l2)
    zero, near = mean_of(group, "first_layer_frac_zero"), mean_of(group, "first_layer_frac_near_zero")
    std_none, std_l2 = mean_of(select(rows, variant=none), "first_layer_std"), mean_of(group, "first_layer_std")
    return Claim(
        "l2_not_zero",
        "L2 makes weights small but not exactly zero",
        f"exactly 0: {_pct(zero)}, |w| < 1e-3: {_pct(near)}, std {_num(std_l2, 3)} vs {_num(std_none, 3)} without "
        f"({seeds_note(group)})",
        _judge(lambda: zero < NO_ZEROS and std_l2 < std_none, zero, std_l2, std_none),
        f"first layer exactly 0 < {NO_ZEROS:.0%} and std below no-reg's",
        "l1_vs_l2",
        {"frac_zero": zero, "frac_near_zero": near, "std_l2": std_l2, "std_none": std_none},
    )


def l1_exact_zeros(rows: Rows, variant: str, how: str) -> Claim:
    """L1 sets many first-layer weights exactly to 0.0 (``variant`` is one L1 mode, ``how`` says which)."""
    group = select(rows, variant=variant)
    zero, near = mean_of(group, "first_layer_frac_zero"), mean_of(group, "first_layer_frac_near_zero")
    return Claim(
        f"{variant}_zeros",
        f"L1 sets many weights exactly to zero ({how})",
        f"exactly 0: {_pct(zero)}, |w| < 1e-3: {_pct(near)} ({seeds_note(group)})",
        _judge(lambda: zero >= MANY_ZEROS, zero),
        f"first layer exactly 0 ≥ {MANY_ZEROS:.0%}",
        "l1_vs_l2",
        {"frac_zero": zero, "frac_near_zero": near},
    )


def large_lambda_underfits(rows: Rows, field: str = "model.regularizer.lambda") -> Claim:
    """For every regularizer kind: mean train accuracy (over seeds) at the largest λ well below λ = 0's."""
    kinds = list(dict.fromkeys(r["regularizer"] for r in select(rows)))
    figures: dict[str, float] = {}
    for kind in kinds:
        group = select(rows, regularizer=kind)
        top = max(r[field] for r in group)
        figures |= {
            f"{kind}_top": top,
            f"{kind}_at_0": mean_of(select(group, **{field: 0.0}), "accuracy"),
            f"{kind}_at_top": mean_of(select(group, **{field: top}), "accuracy"),
        }
    parts = [f"{k.upper()} {_num(figures[k + '_at_0'])} → {_num(figures[k + '_at_top'])}" for k in kinds]
    top_text = "/".join(sorted({f"{figures[k + '_top']:g}" for k in kinds}))
    return Claim(
        "lambda_underfit",
        "Too large a λ underfits",
        f"train accuracy at λ=0 → λ={top_text}: {'; '.join(parts)} ({seeds_note(rows)})",
        _judge(
            lambda: all(
                figures[f"{k}_top"] > 0 and figures[f"{k}_at_top"] <= figures[f"{k}_at_0"] - UNDERFIT_DROP
                for k in kinds
            ),
            *figures.values(),
        ),
        f"for each kind: train accuracy at the largest λ ≤ λ=0's − {UNDERFIT_DROP:.2f}",
        "lambda_sweep",
        figures,
    )


def by_width(rows: Rows, kind: str, key: str) -> tuple[list[int], list[float]]:
    """Widths of the one-hidden-layer runs of ``kind``, ascending, and the mean of ``key`` over seeds at each."""
    group = select(rows, regularizer=kind)
    widths = sorted({int(r["hidden_units"]) for r in group})
    return widths, [mean_of([r for r in group if int(r["hidden_units"]) == w], key) for w in widths]


def _series(widths: Sequence[int], values: Sequence[float], digits: int = 2) -> str:
    return ", ".join(f"{w}: {_num(v, digits)}" for w, v in zip(widths, values, strict=True))


def wider_is_wigglier(rows: Rows) -> Claim:
    widths, length = by_width(rows, "none", "boundary_contour_length")
    _, regions = by_width(rows, "none", "boundary_regions")
    rho = spearman(widths, length)
    return Claim(
        "width_wiggle",
        "More neurons → wigglier boundary (no regularization)",
        f"contour length by width {_series(widths, length)}; regions {_series(widths, regions, 1)}; "
        f"Spearman ρ {_num(rho)} ({seeds_note(rows)})",
        _judge(lambda: rho >= MONOTONE_RHO and length[-1] > length[0], rho, *length),
        f"ρ(width, contour length) ≥ {MONOTONE_RHO} and widest > narrowest",
        "width_sweep",
        {"rho": rho, **{f"length_{w}": v for w, v in zip(widths, length, strict=True)}},
    )


def l2_holds_width_down(rows: Rows) -> Claim:
    widths, none = by_width(rows, "none", "boundary_contour_length")
    l2_widths, l2 = by_width(rows, "l2", "boundary_contour_length")
    top_none, top_l2 = max(none, default=math.nan), max(l2, default=math.nan)
    same = widths == l2_widths and len(widths) > 0
    return Claim(
        "width_l2",
        "L2 holds the boundary down as width grows",
        f"contour length with L2 by width {_series(l2_widths, l2)} (max {_num(top_l2)} vs {_num(top_none)} without)",
        _judge(lambda: same and l2[-1] < none[-1] and top_l2 < top_none, top_none, top_l2, *none, *l2),
        "with L2: shorter at the widest width and a lower maximum over widths",
        "width_sweep",
        {"max_none": top_none, "max_l2": top_l2},
    )


def weight_decay(sgd_gap: float, adam_gap: float, decay_size: float) -> Claim:
    """One optimizer step with Keras L2(l2) vs decaying by (1 − 2·η·l2) and then the plain step (max |Δw|)."""
    return Claim(
        "weight_decay",
        "L2 is weight decay: w ← (1 − 2·η·l2)·w − η·∇data",
        f"one SGD step: max |Δw| {sgd_gap:.1e} (the decay itself: {decay_size:.2f}); under Adam: {adam_gap:.2f}",
        _judge(lambda: sgd_gap <= DECAY_TOL < decay_size, sgd_gap, decay_size),
        f"SGD: max |Δw| ≤ {DECAY_TOL:g}; also tests/test_proximal.py::"
        "test_one_sgd_step_with_l2_is_weight_decay_then_the_plain_step",
        "live",
        {"sgd": sgd_gap, "adam": adam_gap, "decay": decay_size},
    )


def remedy_shrinks_gap(rows: Rows, remedy: str, label: str, none: str = "none") -> Claim:
    a, b = select(rows, variant=none), select(rows, variant=remedy)
    gap_a, gap_b = mean_of(a, "generalization_gap"), mean_of(b, "generalization_gap")
    extra = f"; val accuracy {_num(mean_of(a, 'val_accuracy'))} → {_num(mean_of(b, 'val_accuracy'))}"
    if remedy == "early_stopping":  # it picks its epoch on the very validation set the gap is measured on
        extra += f"; stopped after {_num(mean_of(b, 'epochs_run'), 0)} epochs, chosen on the validation set"
    return Claim(
        remedy,
        f"{label} reduces overfitting (the gap)",
        f"gap {_num(gap_a)} → {_num(gap_b)}{extra} ({seeds_note(a)})",
        _judge(lambda: gap_b < gap_a, gap_a, gap_b),
        "mean gap with the remedy < without",
        "remedies",
        {"gap_none": gap_a, "gap": gap_b},
    )


def all_claims(results: Mapping[str, Rows], decay: tuple[float, float, float]) -> list[Claim]:
    """Every claim from each experiment's summary rows (keyed by config name) and the live weight-decay step."""
    lecture, l1l2, sweep = results["lecture"], results["l1_vs_l2"], results["lambda_sweep"]
    width, remedies = results["width_sweep"], results["remedies"]
    return [
        overfits_without_regularization(lecture),
        l2_concentrates_weights(l1l2, demo=lecture),
        l2_shrinks_gap(l1l2),
        l2_leaves_no_gap(l1l2),
        l2_smooths_boundary(l1l2),
        l2_small_not_zero(l1l2),
        l1_exact_zeros(l1l2, "l1_subgradient", "as coded: Keras L1 through Adam"),
        l1_exact_zeros(l1l2, "l1_proximal", "proximal: soft-threshold after each step"),
        large_lambda_underfits(sweep),
        wider_is_wigglier(width),
        l2_holds_width_down(width),
        weight_decay(*decay),
        remedy_shrinks_gap(remedies, "dropout", "Dropout 0.5"),
        remedy_shrinks_gap(remedies, "early_stopping", "Early stopping"),
        remedy_shrinks_gap(remedies, "more_data", "10× more data, same epochs (10× the steps)"),
        remedy_shrinks_gap(remedies, "more_data_same_steps", "10× more data, same number of steps"),
    ]


def markdown(claims: Sequence[Claim]) -> str:
    """The table as GitHub Markdown (``|`` in cells escaped)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| claim | measured | verdict | rule | config |", "|---|---|---|---|---|"]
    for c in claims:
        verdict = f"**{c.verdict}**" if c.holds is False else c.verdict
        lines.append(f"| {cell(c.claim)} | {cell(c.measured)} | {verdict} | {cell(c.rule)} | {c.source} |")
    return "\n".join(lines)
