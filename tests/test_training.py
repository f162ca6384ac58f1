"""The engines: compiled loop = model.fit, history semantics, seeding, divergence, chunked progress."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from regdemo import datasets, metrics, training
from regdemo.config import RunConfig
from regdemo.models import build_model


def _run(engine="compiled", epochs=6, shuffle=False, seed=1, **over) -> RunConfig:
    model = {"hidden_units": [16, 16], **over.pop("model", {})}
    return RunConfig(
        name="t",
        experiment="t",
        seed=seed,
        dataset={"n_samples": 70, "noise": 0.2, "random_state": 3, "validation_split": 0.3},
        model=model,
        training={"engine": engine, "epochs": epochs, "batch_size": 16, "shuffle": shuffle, **over.pop("training", {})},
    )


def _train(cfg: RunConfig, initial: list[np.ndarray] | None = None, progress=None):
    keras.utils.set_random_seed(cfg.seed)
    data = datasets.load(cfg.dataset)
    model = build_model(cfg.model)
    if initial is not None:
        model.set_weights(initial)
    return model, data, training.train(model, data, cfg.training, cfg.seed, progress)


@pytest.mark.parametrize(
    "regularizer",
    [{"kind": "none"}, {"kind": "l2", "lambda": 0.01}, {"kind": "l1", "lambda": 0.01}],
    ids=["none", "l2", "l1"],
)
def test_compiled_engine_equals_model_fit(regularizer) -> None:
    """Same initial weights, no shuffling, 8 epochs: same weights and same history (float32 tolerance)."""
    fit_cfg = _run("fit", epochs=8, model={"regularizer": regularizer})
    compiled_cfg = _run("compiled", epochs=8, model={"regularizer": regularizer})
    keras.utils.set_random_seed(0)
    initial = build_model(fit_cfg.model).get_weights()
    fit_model, _, fit_hist = _train(fit_cfg, initial)
    our_model, _, our_hist = _train(compiled_cfg, initial)
    for name in training.COLUMNS:
        np.testing.assert_allclose(our_hist.columns[name], fit_hist.columns[name], rtol=1e-5, atol=1e-6, err_msg=name)
    for ours, theirs in zip(our_model.get_weights(), fit_model.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert not np.allclose(our_model.get_weights()[0], initial[0])  # it did train


def test_history_has_one_row_per_epoch_and_keras_meanings() -> None:
    cfg = _run(epochs=12, shuffle=True, model={"regularizer": {"kind": "l2", "lambda": 0.02}})
    model, data, hist = _train(cfg)
    cols = hist.columns
    assert hist.status == "completed" and hist.epochs_run == 12
    assert all(len(cols[c]) == 12 for c in training.COLUMNS)
    np.testing.assert_allclose(cols["loss"], cols["data_loss"] + cols["penalty"], rtol=1e-6)
    assert np.all(cols["penalty"] > 0) and np.all((cols["accuracy"] >= 0) & (cols["accuracy"] <= 1))
    # validation columns use the end-of-epoch weights: the last row equals an evaluation now
    final = metrics.final_metrics(model, data)
    assert cols["val_data_loss"][-1] == pytest.approx(final["val_data_loss"], rel=1e-5)
    assert cols["val_loss"][-1] == pytest.approx(final["val_loss"], rel=1e-5)
    assert cols["val_accuracy"][-1] == pytest.approx(final["val_accuracy"])


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    a = _train(_run(epochs=10, shuffle=True, seed=5))[2].columns["loss"]
    b = _train(_run(epochs=10, shuffle=True, seed=5))[2].columns["loss"]
    c = _train(_run(epochs=10, shuffle=True, seed=6))[2].columns["loss"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_shuffling_changes_the_trajectory() -> None:
    still = _train(_run(epochs=5, shuffle=False))[2].columns["loss"]
    shuffled = _train(_run(epochs=5, shuffle=True))[2].columns["loss"]
    assert still[0] != shuffled[0]


@pytest.mark.parametrize("engine", ["compiled", "fit"])
def test_divergence_stops_the_run_and_is_recorded(engine: str) -> None:
    cfg = _run(engine, epochs=300, training={"optimizer": "sgd", "learning_rate": 1e6})
    _, _, hist = _train(cfg)
    assert hist.status == "diverged"
    assert hist.epochs_run < 300 and not np.isfinite(hist.columns["loss"][-1])
    assert all(len(hist.columns[c]) == hist.epochs_run for c in training.COLUMNS)


def test_compiled_engine_reports_progress_per_chunk() -> None:
    seen: list[int] = []
    epochs = 2 * training.CHUNK_EPOCHS + 7
    _, _, hist = _train(_run(epochs=epochs), progress=seen.append)
    assert hist.epochs_run == epochs
    assert seen == [training.CHUNK_EPOCHS, 2 * training.CHUNK_EPOCHS, epochs]
