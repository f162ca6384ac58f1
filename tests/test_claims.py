"""regdemo.claims and regdemo.claimruns (scripts/lecture_claims.py): the verdict rules on hand-made summary
rows, the small scale's configs, and the scaled-down run end to end."""

from __future__ import annotations

import math

import pytest
import yaml

from conftest import REPO
from regdemo import claimruns
from regdemo import claims as lc
from regdemo.config import load_experiment


def row(variant: str, seed: int = 1, **numbers: object) -> dict:
    """A summary row as regdemo.summary.summary_rows makes it, with only the columns a rule reads."""
    return {"variant": variant, "status": "completed", "seed": seed, **numbers}


# ---------------------------------------------------------------- the rules on hand-made rows


def test_means_skip_failed_runs_and_missing_numbers() -> None:
    rows = [row("a", 1, x=1.0), row("a", 2, x=3.0), row("a", 3, x=None), {**row("a", 4, x=100.0), "status": "failed"}]
    assert lc.mean_of(lc.select(rows, variant="a"), "x") == 2.0
    assert math.isnan(lc.mean_of([], "x"))
    assert lc.seeds_note(rows[:3]) == "mean over seeds 1–3" and lc.seeds_note(rows[:1]) == "seed 1"


def test_l2_shrinks_gap_holds_and_does_not_hold_on_the_mean_over_seeds() -> None:
    gaps = {"none": (0.8, 0.6), "l2": (0.2, 0.9)}  # seed 2 alone would say otherwise: the mean decides
    rows = [row(v, s + 1, generalization_gap=g) for v, pair in gaps.items() for s, g in enumerate(pair)]
    claim = lc.l2_shrinks_gap(rows)
    assert claim.holds is True and claim.figures == {"gap_none": pytest.approx(0.7), "gap_l2": pytest.approx(0.55)}
    worse = [row("none", generalization_gap=0.3), row("l2", generalization_gap=0.5)]
    assert lc.l2_shrinks_gap(worse).holds is False
    assert lc.l2_shrinks_gap([row("none", generalization_gap=0.3)]).holds is None  # no L2 run: not measured


def test_l1_zeros_need_a_quarter_of_the_first_layer_exactly_zero() -> None:
    rows = [
        row("l1_subgradient", first_layer_frac_zero=0.0, first_layer_frac_near_zero=0.5),
        row("l1_proximal", first_layer_frac_zero=0.9, first_layer_frac_near_zero=0.9),
    ]
    subgradient = lc.l1_exact_zeros(rows, "l1_subgradient", "as coded")
    proximal = lc.l1_exact_zeros(rows, "l1_proximal", "proximal")
    assert (subgradient.holds, subgradient.verdict) == (False, "does not hold")
    assert (proximal.holds, proximal.verdict) == (True, "holds")
    assert "exactly 0: 0.0%, |w| < 1e-3: 50.0%" in subgradient.measured


def test_l2_weights_spread_less_in_std_and_range() -> None:
    def stats(variant: str, std: float, lo: float, hi: float) -> dict:
        return row(variant, first_layer_std=std, first_layer_min=lo, first_layer_max=hi)

    assert lc.l2_concentrates_weights([stats("none", 0.4, -2, 1.75), stats("l2", 0.2, -0.5, 0.3)]).holds is True
    # smaller std but a wider range: not "concentrated"
    assert lc.l2_concentrates_weights([stats("none", 0.4, -1, 1), stats("l2", 0.2, -3, 0.3)]).holds is False


def test_large_lambda_underfits_needs_every_kind_to_lose_ten_points() -> None:
    field = "model.regularizer.lambda"

    def at(kind: str, lam: float, acc: float, seed: int = 1) -> dict:
        return {**row(f"{kind}", seed), "regularizer": kind, field: lam, "accuracy": acc}

    both = [at("l1", 0.0, 1.0), at("l1", 1.0, 0.5), at("l2", 0.0, 1.0), at("l2", 1.0, 0.55), at("l2", 1.0, 0.45, 2)]
    claim = lc.large_lambda_underfits(both)
    assert claim.holds is True and claim.figures["l2_at_top"] == pytest.approx(0.5)
    one_fits = [at("l1", 0.0, 1.0), at("l1", 1.0, 0.5), at("l2", 0.0, 1.0), at("l2", 1.0, 0.95)]
    assert lc.large_lambda_underfits(one_fits).holds is False


def test_wigglier_with_width_is_a_rank_correlation_and_l2_must_stay_below() -> None:
    def at(kind: str, width: int, length: float) -> dict:
        return {**row(kind), "regularizer": kind, "hidden_units": str(width), "boundary_contour_length": length}

    widths = [1, 10, 50, 257, 1000]
    rising = [at("none", w, v) for w, v in zip(widths, [0.85, 1.1, 1.2, 1.6, 1.5], strict=True)]
    flat_l2 = [at("l2", w, v) for w, v in zip(widths, [0.85, 1.1, 1.1, 1.15, 1.2], strict=True)]
    assert lc.wider_is_wigglier(rising).figures["rho"] == pytest.approx(0.9)
    assert lc.wider_is_wigglier(rising).holds is True
    assert lc.l2_holds_width_down(rising + flat_l2).holds is True
    falling = [at("none", w, v) for w, v in zip(widths, [1.5, 1.4, 1.2, 1.1, 1.0], strict=True)]
    assert lc.wider_is_wigglier(falling).holds is False
    assert lc.l2_holds_width_down(falling + flat_l2).holds is False


def test_spearman_is_the_rank_correlation_and_nan_where_undefined() -> None:
    assert lc.spearman([1, 10, 50], [0.3, 0.1, 0.2]) == pytest.approx(-0.5)  # 1 − 6·Σd²/(n(n²−1)), Σd² = 6
    assert lc.spearman([1, 10, 50, 257], [0.1, 0.2, 0.2, 0.4]) == pytest.approx(0.9486833)  # a tie: mean ranks
    assert math.isnan(lc.spearman([1], [2])) and math.isnan(lc.spearman([1, 10, 50], [0.5, 0.5, 0.5]))


def test_weight_decay_holds_only_when_the_sgd_step_matches_to_float_precision() -> None:
    assert lc.weight_decay(3e-8, 0.2, 0.06).holds is True
    assert lc.weight_decay(1e-3, 0.2, 0.06).holds is False
    assert lc.weight_decay(math.nan, 0.2, 0.06).holds is None


def test_the_markdown_table_has_one_line_per_claim_and_escapes_pipes() -> None:
    claims = [lc.l2_shrinks_gap([row("none", generalization_gap=0.8), row("l2", generalization_gap=0.9)])]
    claims.append(lc.l1_exact_zeros([row("x", first_layer_frac_zero=0.0, first_layer_frac_near_zero=0.5)], "x", "y"))
    lines = lc.markdown(claims).splitlines()
    assert len(lines) == 2 + len(claims)
    assert "**does not hold**" in lines[2] and "\\|w\\|" in lines[3]


def test_small_scale_shrinks_every_epochs_field_and_keeps_the_ratio(tmp_path) -> None:
    configs = REPO / "configs"
    remedies = claimruns.small_config(yaml.safe_load((configs / "remedies.yaml").read_text()), "remedies")
    assert remedies["training"]["epochs"] == 300 and remedies["runs"][5]["training"]["epochs"] == 36
    assert "training" not in remedies["runs"][0]  # inherits the shared 300
    runs = 0
    for name in claimruns.CONFIGS:  # every resolved run: 15 % of its full-scale epochs, so ratios stay
        full = load_experiment(configs / f"{name}.yaml")
        small = claimruns.experiment_for(name, configs, "small", tmp_path)
        assert small.name == f"{name}_small"
        epochs = {cfg.name: cfg.training.epochs for cfg in small.runs}
        assert set(epochs) <= {cfg.name for cfg in full.runs}  # a subset of the full runs, same names
        runs += len(epochs)
        assert epochs == {cfg.name: round(cfg.training.epochs * 0.15) for cfg in full.runs if cfg.name in epochs}
        assert {cfg.plots.boundary.resolution for cfg in small.runs} == {80}
    assert runs == 23


# ---------------------------------------------------------------- the scaled-down run, end to end


@pytest.fixture(scope="module")
def small_claims(tmp_path_factory) -> dict:
    """``lecture_claims.py --scale small`` (23 runs of 300 epochs or fewer, one seed): ~40 s on 2 cores."""
    claims = claimruns.measure(tmp_path_factory.mktemp("claims"), REPO / "configs", "small", workers=2, quiet=True)
    return {claim.key: claim for claim in claims}


# Verdicts that came out the same at this scale for seeds 1, 2 and 3 with a margin (measured). Not checked
# here, because they flip between seeds at 300 epochs: "no significant gap with L2" (gap 0.15 / 0.13 /
# −0.02 vs 0.1), "more neurons → wigglier" with 3 widths, and "more data for the same epochs".
STABLE = {
    "overfit": True,
    "l2_spread": True,
    "l2_gap": True,
    "l2_boundary": True,
    "l2_not_zero": True,
    "l1_subgradient_zeros": False,
    "l1_proximal_zeros": True,
    "lambda_underfit": True,
    "weight_decay": True,
    "dropout": True,
    "early_stopping": True,
    "more_data_same_steps": True,
}


def test_small_scale_gives_every_claim_a_verdict(small_claims: dict) -> None:
    assert len(small_claims) == 16
    assert all(claim.holds is not None for claim in small_claims.values())


@pytest.mark.parametrize(("key", "holds"), STABLE.items())
def test_small_scale_stable_verdicts(small_claims: dict, key: str, holds: bool) -> None:
    assert small_claims[key].holds is holds, small_claims[key].measured


def test_small_scale_figures(small_claims: dict) -> None:
    """The numbers behind the verdicts, with the margins seen at this scale (seeds 1–3)."""
    assert small_claims["l1_subgradient_zeros"].figures["frac_zero"] == 0.0  # Adam's subgradient never lands on 0
    assert small_claims["l1_subgradient_zeros"].figures["frac_near_zero"] > 0.4  # ...but hovers near it (56-62 %)
    assert small_claims["l1_proximal_zeros"].figures["frac_zero"] > 0.8  # 92-95 %
    assert small_claims["l2_not_zero"].figures["frac_zero"] == 0.0
    spread = small_claims["l2_spread"].figures
    assert spread["std_l2"] < 0.85 * spread["std_none"]  # 0.25 vs 0.33-0.37
    underfit = small_claims["lambda_underfit"].figures
    assert underfit["l1_at_top"] < 0.7 and underfit["l2_at_top"] < 0.7  # 0.54: the majority class
    assert small_claims["weight_decay"].figures["sgd"] < 1e-6 < 0.05 < small_claims["weight_decay"].figures["adam"]
