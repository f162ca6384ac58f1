"""The lecture's other remedies: dropout and early stopping, in both engines."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_same_training, initial_weights, train_run
from regdemo.columns import COLUMNS
from regdemo.config.loading import load_experiment
from regdemo.config.schema import ModelConfig, RunConfig
from regdemo.errors import ConfigError
from regdemo.runs.one_run import compute_run
from regdemo.train import metrics, packing
from regdemo.train.models import build_model

ENGINES = ["compiled", "fit"]


def _cfg(engine="compiled", epochs=30, dropout=0.0, early_stopping=None, shuffle=False) -> RunConfig:
    """A net that overfits fast: 20 noisy training rows, 20 validation rows; val_loss is lowest at epoch 4."""
    return RunConfig(
        name="t",
        experiment="t",
        seed=1,
        dataset={"n_samples": 40, "noise": 0.35, "random_state": 3, "validation_split": 0.5},
        model={"hidden_units": [32, 32], "dropout": dropout},
        training={
            "engine": engine,
            "optimizer": "adam",
            "learning_rate": 0.02,
            "epochs": epochs,
            "batch_size": 16,
            "shuffle": shuffle,
            "early_stopping": early_stopping,
        },
        plots={"boundary": {"resolution": 8}},
    )


# ---------------------------------------------------------------- dropout


def test_dropout_layer_after_each_hidden_layer_only_when_asked() -> None:
    with_dropout = build_model(ModelConfig(hidden_units=[8, 4], dropout=0.5))
    kinds = [(type(layer).__name__, getattr(layer, "rate", None)) for layer in with_dropout.layers]
    assert kinds == [("Dense", None), ("Dropout", 0.5), ("Dense", None), ("Dropout", 0.5), ("Dense", None)]
    assert [type(layer).__name__ for layer in build_model(ModelConfig(hidden_units=[8, 4])).layers] == ["Dense"] * 3


@pytest.mark.parametrize("engine", ENGINES)
def test_dropout_changes_training_but_not_evaluation(engine: str) -> None:
    plain_cfg, dropout_cfg = _cfg(engine, epochs=5), _cfg(engine, epochs=5, dropout=0.5)
    initial = initial_weights(plain_cfg)  # Dropout has no weights: the same list fits both nets
    _, data, plain = train_run(plain_cfg, initial)
    model, _, dropped = train_run(dropout_cfg, initial)
    assert not np.allclose(dropped.columns["loss"], plain.columns["loss"], rtol=1e-3)
    # validation and metrics run with training=False: deterministic, and the same net without Dropout
    assert metrics.final_metrics(model, data) == metrics.final_metrics(model, data)
    twin = build_model(plain_cfg.model)
    twin.set_weights(model.get_weights())
    np.testing.assert_array_equal(model(data.x_val, training=False), twin(data.x_val, training=False))
    assert dropped.columns["val_data_loss"][-1] == pytest.approx(
        metrics.final_metrics(twin, data)["val_data_loss"], rel=1e-5
    )
    # while training=True does drop units
    assert not np.array_equal(model(data.x_train, training=True), model(data.x_train, training=False))


@pytest.mark.parametrize("engine", ENGINES)
def test_dropout_same_seed_same_history(engine: str) -> None:
    cfg = _cfg(engine, epochs=4, dropout=0.5, shuffle=True)
    first, second = train_run(cfg)[2], train_run(cfg)[2]
    for name in COLUMNS:
        np.testing.assert_array_equal(first.columns[name], second.columns[name])


def test_dropout_compiled_engine_equals_model_fit() -> None:
    """Both engines draw the masks from the Dropout layers' own seed generators, one draw per training call,
    so (measured) they agree to float32 tolerance even with dropout."""
    fit_cfg, compiled_cfg = _cfg("fit", epochs=5, dropout=0.5), _cfg("compiled", epochs=5, dropout=0.5)
    initial = initial_weights(fit_cfg)
    fit_run, our_run = train_run(fit_cfg, initial), train_run(compiled_cfg, initial)
    assert_same_training(our_run, fit_run)


# ---------------------------------------------------------------- early stopping


@pytest.mark.parametrize(
    ("monitor", "restore"),
    [("val_loss", False), ("val_loss", True), ("val_accuracy", True)],
)
def test_early_stopping_compiled_engine_equals_keras_callback(monitor: str, restore: bool) -> None:
    """val_loss is lowest at epoch 4 and rises after it; with patience 5 Keras stops after epoch 9."""
    es = {"patience": 5, "monitor": monitor, "restore_best_weights": restore}
    fit_cfg, compiled_cfg = _cfg("fit", epochs=60, early_stopping=es), _cfg("compiled", epochs=60, early_stopping=es)
    initial = initial_weights(fit_cfg)
    fit_run, our_run = train_run(fit_cfg, initial), train_run(compiled_cfg, initial)
    (our_model, data, our_hist), fit_hist = our_run, fit_run[2]
    assert our_hist.epochs_run == fit_hist.epochs_run == our_hist.stopped_epoch == fit_hist.stopped_epoch < 60
    assert our_hist.best_epoch == fit_hist.best_epoch == our_hist.stopped_epoch - 5
    if monitor == "val_loss":
        assert our_hist.best_epoch == 4
    assert all(len(our_hist.columns[name]) == our_hist.epochs_run for name in COLUMNS)
    assert_same_training(our_run, fit_run)
    # restored: the final weights are the best epoch's; otherwise the last epoch's
    final = metrics.final_metrics(our_model, data)
    epoch = our_hist.best_epoch if restore else our_hist.epochs_run
    assert final["val_loss"] == pytest.approx(our_hist.columns["val_loss"][epoch - 1], rel=1e-5)
    other = our_hist.epochs_run if restore else our_hist.best_epoch
    assert final["val_loss"] != pytest.approx(our_hist.columns["val_loss"][other - 1], rel=1e-3)


def test_early_stopping_in_a_later_chunk_stops_calling_chunks() -> None:
    """Patience 120 stops after epoch 4 + 120, inside the second 100-epoch chunk; rows match a run whose early
    stopping never stops it (a run without early stopping is compiled by XLA: the same within float32
    tolerance, not bit for bit)."""
    initial = initial_weights(_cfg())
    seen: list[int] = []
    _, _, stopped = train_run(_cfg(epochs=300, early_stopping={"patience": 120}), initial, seen.append)
    _, _, full = train_run(_cfg(epochs=130, early_stopping={"patience": 1000}), initial)
    assert full.epochs_run == 130 and full.stopped_epoch is None
    assert (stopped.epochs_run, stopped.stopped_epoch, stopped.best_epoch) == (124, 124, 4)
    assert seen == [packing.CHUNK_EPOCHS, 124]
    for name in COLUMNS:
        np.testing.assert_array_equal(stopped.columns[name], full.columns[name][:124])


def _keras_rule(values: np.ndarray, patience: int, min_delta: float, maximize: bool) -> tuple[int | None, int]:
    """Keras' EarlyStopping decisions replayed on a monitored series of shape (epochs,): (stopped, best), from 1."""
    sign = 1.0 if maximize else -1.0
    best, best_epoch, wait = None, 0, 0
    for epoch, current in enumerate(values.astype(np.float32)):
        wait += 1
        if best is None or sign * (np.float32(np.float64(current) - sign * min_delta) - best) > 0:
            best, best_epoch, wait = current, epoch, 0
        elif wait >= patience and epoch > 0:
            return epoch + 1, best_epoch + 1
    return None, best_epoch + 1


def test_min_delta_counts_small_improvements_as_none() -> None:
    """Monitoring the (noisy, falling) training loss: the stop epoch is Keras' rule replayed on a full run."""
    es = {"monitor": "loss", "patience": 3, "min_delta": 0.01}
    initial = initial_weights(_cfg())
    _, _, full = train_run(_cfg(epochs=100), initial)
    expected = _keras_rule(full.columns["loss"], patience=3, min_delta=0.01, maximize=False)
    assert expected[0] is not None
    assert expected != _keras_rule(full.columns["loss"], patience=3, min_delta=0.0, maximize=False)  # it matters
    _, _, hist = train_run(_cfg(epochs=100, early_stopping=es), initial)
    assert (hist.stopped_epoch, hist.best_epoch) == expected and hist.epochs_run == expected[0]


def test_metrics_json_records_early_stopping() -> None:
    result = compute_run(_cfg(epochs=60, early_stopping={"patience": 5}))
    assert (
        result.metrics["epochs_run"] == result.history.epochs_run == result.metrics["early_stopping"]["stopped_epoch"]
    )
    assert result.metrics["early_stopping"]["best_epoch"] < result.metrics["early_stopping"]["stopped_epoch"] < 60
    assert compute_run(_cfg(epochs=3)).metrics["early_stopping"] is None


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("model: {dropout: 1.0}", "model.dropout: must be < 1.0 (got 1.0)"),
        ("model: {dropout: -0.1}", "model.dropout: must be >= 0.0 (got -0.1)"),
        ("training: {early_stopping: {patience: -1}}", "training.early_stopping.patience: must be >= 0 (got -1)"),
        (
            "training: {early_stopping: {monitor: val_acc}}",
            "training.early_stopping.monitor: must be one of val_loss, val_data_loss, loss, data_loss, "
            "val_accuracy or accuracy (got 'val_acc')",
        ),
    ],
)
def test_remedy_config_errors(write_config, yaml_text: str, message: str) -> None:
    path = write_config(f"name: x\n{yaml_text}\n")
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    assert str(err.value) == f"{path}:2: {message}"


def test_early_stopping_defaults_and_null() -> None:
    on = RunConfig(name="a", experiment="a", training={"early_stopping": {}}).training.early_stopping
    assert (on.patience, on.min_delta, on.monitor, on.restore_best_weights) == (20, 0.0, "val_loss", False)
    assert RunConfig(name="a", experiment="a", training={"early_stopping": None}).training.early_stopping is None
