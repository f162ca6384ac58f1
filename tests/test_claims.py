"""The lecture's claims as the story configs' checks (regdemo.claims, scripts/lecture_claims.py): the small
scale's configs, the live weight-decay row, and the scaled-down run end to end."""

from __future__ import annotations

import math

import pytest
import yaml

from conftest import REPO
from regdemo import claims
from regdemo.config.loading import load_experiment
from regdemo.results.checks import VERDICTS

# The story configs of the lecture's demo (the small run below judges these); the rest of the lecture's claims
# (feature selection, weight decay, choosing λ) are the slow small run's.
DEMO = ("lecture", "l1_vs_l2", "lambda_sweep", "width_sweep", "remedies")
REST = tuple(name for name in claims.CONFIGS if name not in DEMO)


def test_every_story_config_states_its_claims_as_checks() -> None:
    names = {
        name: [c.name for c in load_experiment(REPO / "configs" / f"{name}.yaml").checks] for name in claims.CONFIGS
    }
    assert sum(len(names[name]) for name in DEMO) == 15  # the 16th, weight decay in one step, is live
    assert sum(len(names[name]) for name in REST) == 13
    assert names["l1_vs_l2"][-2:] == ["l1_zeros_as_coded", "l1_zeros_proximal"]
    assert REST == ("feature_selection", "weight_decay", "choose_lambda")


def test_weight_decay_row_holds_only_when_the_sgd_step_matches_to_float_precision() -> None:
    assert claims.weight_decay_row(3e-8, 0.2, 0.06)[2] == "holds"
    assert claims.weight_decay_row(1e-3, 0.2, 0.06)[2] == "does not hold"
    assert claims.weight_decay_row(math.nan, 0.2, 0.06)[2] == "does not hold"


def test_small_scale_shrinks_every_epochs_field_and_keeps_the_ratio(tmp_path) -> None:
    configs = REPO / "configs"
    remedies = claims.small_config(yaml.safe_load((configs / "remedies.yaml").read_text()), "remedies")
    assert remedies["training"]["epochs"] == 300 and remedies["runs"][5]["training"]["epochs"] == 36
    assert "training" not in remedies["runs"][0]  # inherits the shared 300
    runs = {}
    for name in claims.CONFIGS:  # every resolved run: 15 % of its full-scale epochs, so ratios stay
        full = load_experiment(configs / f"{name}.yaml")
        small = claims.experiment_for(name, configs, "small", tmp_path)
        assert small.name == f"{name}_small"
        assert [c.name for c in small.checks] == [c.name for c in full.checks]  # every check resolves small too
        epochs = {cfg.name: cfg.training.epochs for cfg in small.runs}
        assert set(epochs) <= {cfg.name for cfg in full.runs}  # a subset of the full runs, same names
        runs[name] = len(epochs)
        assert epochs == {cfg.name: round(cfg.training.epochs * 0.15) for cfg in full.runs if cfg.name in epochs}
        assert {cfg.plots.boundary.resolution for cfg in small.runs} == {80}
    assert sum(runs[name] for name in DEMO) == 23
    assert {name: runs[name] for name in REST} == {"feature_selection": 12, "weight_decay": 14, "choose_lambda": 18}


# ---------------------------------------------------------------- the scaled-down run, end to end


@pytest.fixture(scope="module")
def small_claims(tmp_path_factory) -> dict:
    """``lecture_claims.py --scale small`` (23 runs of 300 epochs or fewer, one seed), in this process."""
    out = tmp_path_factory.mktemp("claims")
    results = claims.measure(out, REPO / "configs", "small", workers=1, quiet=True, names=DEMO)
    return {result.name: result for _, result in results}


# Verdicts that came out the same at this scale for seeds 1, 2 and 3, with their margins (measured on
# 2026-11-26, window figures). Left out: "more neurons → wigglier" (ρ 1.0 / 1.0 / 0.5 over three widths)
# and "more data, same epochs" (its gap widens by only 0.01–0.08: too thin a margin to pin).
STABLE = {
    "overfit": "holds",  # window train loss ≤ 0.004, gap 0.42–0.49
    "l2_concentrates_weights": "holds",  # std −0.09…−0.11, range −2.2…−2.8
    "l2_shrinks_gap": "holds",  # −0.29…−0.37
    "l2_leaves_no_gap": "does not hold",  # window gap with L2 0.13–0.18 ≥ 0.1
    "l2_smooths_boundary": "holds",  # contour −0.17…−0.22, regions ±0
    "l2_small_not_zero": "holds",
    "l1_zeros_as_coded": "does not hold",  # 0 % exactly zero
    "l1_zeros_proximal": "holds",  # 92–95 %
    "large_lambda_underfits": "holds",  # train accuracy −0.46 for L1 and L2
    "l2_holds_width_down": "holds",
    # dropout is left out since remedies.yaml holds test rows out (125 rows, other validation rows): its window
    # gap came out +0.95 at this scale on seed 2, +10 at full scale, on three validation points it is sure of
    "early_stopping": "holds",  # judged on the test rows since then: gap −0.59, test data loss −0.44 (seed 2)
    "more_data_same_steps": "holds",  # −0.25…−0.34
}


@pytest.mark.slow
def test_small_scale_judges_every_claim(small_claims: dict) -> None:
    assert len(small_claims) == 15
    assert {r.verdict for r in small_claims.values()} <= set(VERDICTS) - {"not measured", "smoke"}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "verdict"), STABLE.items())
def test_small_scale_stable_verdicts(small_claims: dict, name: str, verdict: str) -> None:
    assert small_claims[name].verdict == verdict, small_claims[name].figures


@pytest.mark.slow
def test_small_scale_figures(small_claims: dict) -> None:
    """The numbers behind the verdicts, with the margins seen at this scale (seeds 1–3)."""

    def mean(name: str, part: int = 0) -> float:
        return small_claims[name].figures[part]["aggregate"]["mean"]

    assert mean("l1_zeros_as_coded") == 0.0  # Adam's subgradient never lands on 0
    assert mean("l1_zeros_proximal") > 0.8  # 92-95 %
    assert mean("l2_small_not_zero") == 0.0
    assert mean("large_lambda_underfits", 0) < -0.3 and mean("large_lambda_underfits", 1) < -0.3  # 1.00 → 0.54


# ---------------------------------------------------------------- the rest of the lecture, small and slow


@pytest.fixture(scope="module")
def rest_claims(tmp_path_factory) -> dict:
    """feature_selection, weight_decay and choose_lambda at small scale (44 runs, one seed): a few minutes."""
    out = tmp_path_factory.mktemp("rest")
    results = claims.measure(out, REPO / "configs", "small", workers=2, quiet=True, names=REST)
    return {result.name: result for _, result in results}


# Verdicts that hold by construction or by a wide margin at this scale (seed 2): the mapping L2(λ) = decay 2λ
# under SGD is exact, so only float rounding separates the twins; under Adam they differ by 50× in Σw².
REST_STABLE = {
    "l2_is_weight_decay_sgd": "holds",
    "l2_is_weight_decay_adam": "does not hold",
    "adam_l2_outshrinks_decay": "holds",
    "l2_drops_no_input": "holds",
    "keras_l1_drops_no_input": "holds",
}


@pytest.mark.slow
def test_rest_small_scale_judges_every_claim(rest_claims: dict) -> None:
    assert len(rest_claims) == 13
    assert {r.verdict for r in rest_claims.values()} <= set(VERDICTS) - {"not measured", "smoke"}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "verdict"), REST_STABLE.items())
def test_rest_small_scale_stable_verdicts(rest_claims: dict, name: str, verdict: str) -> None:
    assert rest_claims[name].verdict == verdict, rest_claims[name].figures
