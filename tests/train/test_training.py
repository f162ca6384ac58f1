"""The engines: compiled (the packed engine, a pack of one) = model.fit, history semantics, seeding, divergence,
chunked progress."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_same_training, initial_weights, train_run
from regdemo.columns import COLUMNS
from regdemo.config.schema import RunConfig
from regdemo.train import metrics, packing


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


@pytest.mark.parametrize(
    "regularizer",
    [{"kind": "none"}, {"kind": "l2", "lambda": 0.01}, {"kind": "l1", "lambda": 0.01}],
    ids=["none", "l2", "l1"],
)
def test_compiled_engine_equals_model_fit(regularizer) -> None:
    """Same initial weights, no shuffling, 8 epochs: same weights and same history (float32 tolerance)."""
    fit_cfg = _run("fit", epochs=8, model={"regularizer": regularizer})
    compiled_cfg = _run("compiled", epochs=8, model={"regularizer": regularizer})
    initial = initial_weights(fit_cfg)
    fit_run, our_run = train_run(fit_cfg, initial), train_run(compiled_cfg, initial)
    assert_same_training(our_run, fit_run)
    our_model = our_run[0]
    assert not np.allclose(our_model.get_weights()[0], initial[0])  # it did train


def test_history_has_one_row_per_epoch_and_keras_meanings() -> None:
    cfg = _run(epochs=12, shuffle=True, model={"regularizer": {"kind": "l2", "lambda": 0.02}})
    model, data, hist = train_run(cfg)
    cols = hist.columns
    assert hist.status == "completed" and hist.epochs_run == 12
    assert all(len(cols[c]) == 12 for c in COLUMNS)
    np.testing.assert_allclose(cols["loss"], cols["data_loss"] + cols["penalty"], rtol=1e-6)
    assert np.all(cols["penalty"] > 0) and np.all((cols["accuracy"] >= 0) & (cols["accuracy"] <= 1))
    # validation columns use the end-of-epoch weights: the last row equals an evaluation now
    final = metrics.final_metrics(model, data)
    assert cols["val_data_loss"][-1] == pytest.approx(final["val_data_loss"], rel=1e-5)
    assert cols["val_loss"][-1] == pytest.approx(final["val_loss"], rel=1e-5)
    assert cols["val_accuracy"][-1] == pytest.approx(final["val_accuracy"])


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    a = train_run(_run(epochs=10, shuffle=True, seed=5))[2].columns["loss"]
    b = train_run(_run(epochs=10, shuffle=True, seed=5))[2].columns["loss"]
    c = train_run(_run(epochs=10, shuffle=True, seed=6))[2].columns["loss"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_shuffling_changes_the_trajectory() -> None:
    still = train_run(_run(epochs=5, shuffle=False))[2].columns["loss"]
    shuffled = train_run(_run(epochs=5, shuffle=True))[2].columns["loss"]
    assert still[0] != shuffled[0]


@pytest.mark.parametrize("engine", ["compiled", "fit"])
def test_divergence_stops_the_run_and_is_recorded(engine: str) -> None:
    cfg = _run(engine, epochs=300, training={"optimizer": "sgd", "learning_rate": 1e6})
    _, _, hist = train_run(cfg)
    assert hist.status == "diverged"
    assert hist.epochs_run < 300 and not np.isfinite(hist.columns["loss"][-1])
    assert all(len(hist.columns[c]) == hist.epochs_run for c in COLUMNS)


def test_compiled_engine_reports_progress_per_chunk() -> None:
    seen: list[int] = []
    epochs = 2 * packing.CHUNK_EPOCHS + 7
    _, _, hist = train_run(_run(epochs=epochs), progress=seen.append)
    assert hist.epochs_run == epochs
    assert seen == [packing.CHUNK_EPOCHS, 2 * packing.CHUNK_EPOCHS, epochs]
