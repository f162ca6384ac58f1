"""Statistics that survive noise: the window of last epochs, seed aggregates, batch orders, the test set."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY, assert_same_training, initial_weights, train_run
from regdemo.cli import main
from regdemo.columns import COLUMNS
from regdemo.config.loading import load_experiment
from regdemo.config.schema import ORDERS, DatasetConfig, RunConfig, TrainingConfig
from regdemo.errors import ConfigError
from regdemo.results import rundir
from regdemo.results.summary import result_columns
from regdemo.train import batchorder, datasets, metrics

# ---------------------------------------------------------------- the window


def test_window_covers_the_last_tenth_rounded_up_and_at_least_one_epoch() -> None:
    assert [metrics.window_epochs(n, 0.1) for n in (1, 5, 10, 11, 20, 30, 2000)] == [1, 1, 1, 2, 2, 3, 200]
    assert metrics.window_epochs(7, 1.0) == 7 and metrics.window_epochs(3, 0.5) == 2


def test_window_stats_are_medians_of_the_last_rows() -> None:
    epochs = np.arange(1.0, 21.0)  # 20 epochs: the window is the last 2
    columns = {name: epochs * (i + 1) for i, name in enumerate(COLUMNS)}
    columns["val_data_loss"] = np.r_[np.zeros(17), 5.0, 1.0, 3.0]  # last two: 1 and 3 → median 2
    window = metrics.window_stats(columns, 0.1)
    assert list(window) == ["epochs", *COLUMNS, "generalization_gap"]
    assert window["epochs"] == 2
    assert window["loss"] == 19.5 and window["data_loss"] == 19.5 * 3
    assert window["val_data_loss"] == 2.0
    assert window["generalization_gap"] == 2.0 - 19.5 * 3
    odd = metrics.window_stats({name: np.array([9.0, 1.0, 7.0, 3.0]) for name in COLUMNS}, 0.75)
    assert odd["epochs"] == 3 and odd["loss"] == 3.0  # median of 1, 7, 3


def test_window_of_a_diverged_run_is_nan_where_a_value_is_not_finite() -> None:
    columns = {name: np.array([0.5, 0.4, 0.3]) for name in COLUMNS}
    columns["loss"] = np.array([0.5, 0.4, np.inf])
    columns["val_loss"] = np.array([0.5, np.nan, 0.3])
    window = metrics.window_stats(columns, 1.0)
    assert math.isnan(window["loss"]) and math.isnan(window["val_loss"])
    assert window["data_loss"] == 0.4 and window["generalization_gap"] == 0.0
    assert math.isnan(metrics.window_stats(columns, 0.3)["loss"])  # the last row alone


@pytest.fixture(scope="module")
def tiny_with_test(tmp_path_factory) -> Path:
    """TINY's l2 run with a held-out test set and a window of 20 % (6 of 30 epochs), through the CLI."""
    root = tmp_path_factory.mktemp("stats")
    text = TINY.replace("validation_split: 0.25}", "validation_split: 0.25, test_split: 0.2}")
    text = text.replace("plots:", "metrics: {window_fraction: 0.2}\nplots:")
    config = root / "tiny.yaml"
    config.write_text(text, encoding="utf-8")
    out = root / "out"
    assert (
        main(["run", str(config), "--out", str(out), "--quiet", "--no-report", "--workers", "1", "--set", "seed=4"])
        == 0
    )
    return out / "tiny"


def test_window_equals_the_median_recomputed_from_history_csv(tiny_with_test) -> None:
    for run in ("none", "l2", "l1"):
        window = json.loads((tiny_with_test / run / "metrics.json").read_text())["window"]
        rows = list(csv.DictReader((tiny_with_test / run / "history.csv").open()))
        assert window["epochs"] == 6 and len(rows) == 30
        for name in COLUMNS:
            expected = np.median([float(row[name]) for row in rows[-6:]])
            assert window[name] == pytest.approx(expected, rel=1e-7), name  # history.csv keeps 9 digits
        assert window["generalization_gap"] == pytest.approx(window["val_data_loss"] - window["data_loss"])
        assert window["val_data_loss"] != pytest.approx(float(rows[-1]["val_data_loss"]), rel=1e-9)  # not one row


def test_summary_gains_window_and_test_columns(tiny_with_test) -> None:
    rows = {row["run"]: row for row in csv.DictReader((tiny_with_test / "summary.csv").open())}
    for run, row in rows.items():
        m = json.loads((tiny_with_test / run / "metrics.json").read_text())
        for key in ("data_loss", "val_data_loss", "generalization_gap"):
            assert float(row[f"window_{key}"]) == pytest.approx(m["window"][key])
        for key in ("test_loss", "test_data_loss", "test_accuracy"):
            assert float(row[key]) == pytest.approx(m["final"][key])
        assert float(row["test_generalization_gap"]) == pytest.approx(m["test_generalization_gap"])


def test_result_columns_are_empty_without_a_test_set_or_window() -> None:
    row = result_columns({"final": {"data_loss": 0.1}, "generalization_gap": 0.2})
    for key in ("window_data_loss", "window_val_data_loss", "window_generalization_gap", "test_data_loss"):
        assert row[key] is None
    assert row["test_accuracy"] is None and row["test_generalization_gap"] is None


# ---------------------------------------------------------------- aggregates over seeds


def test_seed_aggregate_gives_mean_min_max_and_a_t_interval() -> None:
    agg = metrics.seed_aggregate([1.0, 2.0, 3.0])
    assert (agg["mean"], agg["min"], agg["max"], agg["n"]) == (2.0, 1.0, 3.0, 3)
    half = 4.302652729749464 * 1.0 / math.sqrt(3)  # t(0.975, df 2) · s/√n, s = 1
    assert agg["ci_low"] == pytest.approx(2.0 - half, rel=1e-9) and agg["ci_high"] == pytest.approx(2.0 + half)
    wide = metrics.seed_aggregate([1.0, 2.0, 3.0], confidence=0.99)
    assert wide["ci_low"] < agg["ci_low"] and wide["ci_high"] > agg["ci_high"]


def test_seed_aggregate_edge_cases() -> None:
    one = metrics.seed_aggregate([0.3])
    assert (one["mean"], one["n"]) == (0.3, 1) and math.isnan(one["ci_low"]) and math.isnan(one["ci_high"])
    same = metrics.seed_aggregate([0.5, 0.5, 0.5])
    assert (same["ci_low"], same["ci_high"]) == (0.5, 0.5)
    diverged = metrics.seed_aggregate([1.0, float("nan"), 3.0, float("inf")])
    assert (diverged["mean"], diverged["n"]) == (2.0, 2)
    none = metrics.seed_aggregate([float("nan")])
    assert none["n"] == 0 and math.isnan(none["mean"]) and math.isnan(none["ci_high"])


# ---------------------------------------------------------------- configuration


def test_shuffle_accepts_orders_and_booleans_and_resolves_them_per_engine() -> None:
    resolved = {
        (engine, shuffle): TrainingConfig(engine=engine, shuffle=shuffle).batch_order()
        for engine in ("compiled", "fit")
        for shuffle in (True, False, "epoch", "fixed", "none")
    }
    # true keeps each engine's own order (so existing configs train as before); false is none
    assert resolved[("compiled", True)] == "epoch" and resolved[("fit", True)] == "fixed"
    assert resolved[("compiled", False)] == resolved[("fit", False)] == "none"
    for engine in ("compiled", "fit"):
        assert [resolved[(engine, order)] for order in ("epoch", "fixed", "none")] == ["epoch", "fixed", "none"]
    assert TrainingConfig().shuffle is True
    assert TrainingConfig(shuffle="fixed").model_dump()["shuffle"] == "fixed"  # saved as written


@pytest.mark.parametrize("value", ["random", "1", "[epoch]"])
def test_a_bad_shuffle_is_one_line_naming_the_field(write_config, value) -> None:
    path = write_config(f"name: x\nseed: 1\ntraining:\n  epochs: 3\n  shuffle: {value}\n")
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    assert str(err.value).startswith(f"{path}:5: training.shuffle: must be epoch, fixed or none (or true")


def test_bad_window_fraction_and_test_split_are_reported_with_their_line(write_config) -> None:
    cases = {
        "metrics: {window_fraction: 0}\n": "metrics.window_fraction: must be > 0",
        "metrics: {window_fraction: 1.5}\n": "metrics.window_fraction: must be <= 1",
        "metrics: {window: 0.1}\n": "metrics.window: unknown key; known keys: window_fraction",
        "dataset: {n_samples: 10, test_split: 1.0}\n": "dataset.test_split: must be < 1",
        "dataset: {n_samples: 10, test_split: 1.0e-20}\n": "dataset.test_split: leaves 0 test rows of 10",
        "dataset: {n_samples: 10, test_split: 0.95}\n": "dataset.test_split: leaves 10 test rows of 10",
        "dataset: {n_samples: 4, test_split: 0.5, validation_split: 0.6}\n": "dataset.validation_split: leaves 0 "
        "training and 2 validation rows of 2 non-test rows; both need at least one",
    }
    for line, message in cases.items():
        path = write_config(f"name: x\nseed: 1\n{line}")
        with pytest.raises(ConfigError) as err:
            load_experiment(path)
        assert str(err.value).startswith(f"{path}:3: {message}"), str(err.value)


# ---------------------------------------------------------------- the held-out test set


def test_test_split_holds_out_the_last_rows_before_keras_validation_split() -> None:
    plain = DatasetConfig(n_samples=100, validation_split=0.2)
    x, y = datasets.make_dataset(plain)
    keras_like = datasets.split(x, y, 0.2)
    off = datasets.load(plain)
    for name in ("x_train", "y_train", "x_val", "y_val"):
        np.testing.assert_array_equal(getattr(off, name), getattr(keras_like, name))
    assert off.x_test.shape == (0, 2) and off.y_test.shape == (0,)
    held = datasets.load(plain.model_copy(update={"test_split": 0.25}))
    assert (len(held.x_train), len(held.x_val), len(held.x_test)) == (60, 15, 25)
    np.testing.assert_array_equal(held.x_test, x[75:])
    np.testing.assert_array_equal(np.concatenate([held.x_train, held.x_val]), x[:75])
    np.testing.assert_array_equal(held.x_all, x)
    np.testing.assert_array_equal(np.concatenate([held.y_train, held.y_val, held.y_test]), y)


def test_test_figures_are_the_final_model_on_the_test_rows_only(tiny_with_test) -> None:
    import keras

    m = json.loads((tiny_with_test / "l2" / "metrics.json").read_text())
    final = m["final"]
    model = keras.models.load_model(tiny_with_test / "l2" / "model.keras")
    saved = np.load(tiny_with_test / "l2" / "plot_data.npz")
    x_test, y_test = saved["x_test"], saved["y_test"]
    assert len(x_test) == 12 and len(saved["x_val"]) == 12 and len(saved["x_train"]) == 36  # 60 → 12 | 48 → 36, 12
    expected = metrics.evaluate(model, x_test, y_test)
    assert final["test_data_loss"] == pytest.approx(expected["data_loss"], rel=1e-6)
    assert final["test_accuracy"] == pytest.approx(expected["accuracy"])
    assert final["test_loss"] == pytest.approx(final["test_data_loss"] + final["penalty"], rel=1e-6)
    assert m["test_generalization_gap"] == pytest.approx(final["test_data_loss"] - final["data_loss"])
    assert "test_data_loss" not in m["window"]  # the test rows are evaluated once, at the end
    loaded = rundir.load_run(tiny_with_test / "l2")
    np.testing.assert_array_equal(loaded.view.data.x_test, x_test)


def test_without_a_test_set_metrics_and_plot_data_have_no_test_keys(tmp_path) -> None:
    from regdemo.runs.one_run import compute_run, write_run

    cfg = load_experiment(_tiny_file(tmp_path, epochs=3)).runs[0]
    result = compute_run(cfg)
    assert not any(key.startswith("test_") for key in [*result.metrics, *result.metrics["final"]])
    write_run(result, tmp_path / "run")
    assert "x_test" not in np.load(tmp_path / "run" / "plot_data.npz").files
    assert rundir.load_run(tmp_path / "run").view.data.x_test.shape == (0, 2)


def _tiny_file(tmp_path: Path, epochs: int) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.replace("epochs: 30", f"epochs: {epochs}"), encoding="utf-8")
    return path


# ---------------------------------------------------------------- batch orders


def _run(engine: str, shuffle, epochs: int = 5, seed: int = 1, regularizer: dict | None = None) -> RunConfig:
    return RunConfig(
        name="t",
        experiment="t",
        seed=seed,
        dataset={"n_samples": 70, "noise": 0.2, "random_state": 3, "validation_split": 0.3},
        model={"hidden_units": [16, 16], "regularizer": regularizer or {"kind": "l2", "lambda": 0.01}},
        training={"engine": engine, "epochs": epochs, "batch_size": 16, "shuffle": shuffle},
    )


def test_fit_permutation_is_the_one_keras_fit_replays_every_epoch() -> None:
    """Keras' own data adapter (private API, read here only to check against) after set_random_seed."""
    import keras
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    for seed, n, batch in [(2, 10, 4), (0, 10, 4), (7, 49, 16)]:
        keras.utils.set_random_seed(seed)
        adapter = ArrayDataAdapter(np.arange(n), batch_size=batch, shuffle=True)
        epochs = [[b.numpy().tolist() for b in adapter.get_tf_dataset()] for _ in range(3)]
        assert epochs[0] == epochs[1] == epochs[2]
        assert [i for batch in epochs[0] for i in batch] == batchorder.fit_permutation(n, seed).tolist()
    assert batchorder.fit_permutation(10, 2).tolist() == [9, 3, 7, 8, 0, 1, 5, 4, 2, 6]  # the batches


@pytest.mark.parametrize("fit_shuffle", [True, "fixed"])
def test_compiled_fixed_order_equals_model_fit_with_shuffle(fit_shuffle) -> None:
    """fit's default order (true) is fixed: the compiled engine replays it weight for weight."""
    fit_cfg, compiled_cfg = _run("fit", fit_shuffle), _run("compiled", "fixed")
    initial = initial_weights(fit_cfg)
    assert_same_training(train_run(compiled_cfg, initial), train_run(fit_cfg, initial))


def test_fit_epoch_order_equals_the_compiled_engine_and_reshuffles_every_epoch() -> None:
    fit_cfg = _run("fit", "epoch", regularizer={"kind": "l1", "lambda": 0.01})
    compiled_cfg = _run("compiled", True, regularizer={"kind": "l1", "lambda": 0.01})  # compiled's true = epoch
    initial = initial_weights(fit_cfg)
    fit_run = train_run(fit_cfg, initial)
    assert_same_training(train_run(compiled_cfg, initial), fit_run)
    again = train_run(fit_cfg, initial)  # reproducible run to run
    for a, b in zip(fit_run[0].get_weights(), again[0].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # the batches fit reads: each epoch in its own order, all rows once, drawn from (seed, epoch)
    data = fit_run[1]
    batches = list(batchorder.reshuffled_batches(data, fit_cfg.training, fit_cfg.seed))
    assert len(batches) == 5 * 4 and [len(b[0]) for b in batches[:4]] == [16, 16, 16, 1]
    rows = {tuple(map(float, x)): i for i, x in enumerate(data.x_train)}
    orders = [[rows[tuple(map(float, x))] for b in batches[4 * e : 4 * e + 4] for x in b[0].numpy()] for e in range(5)]
    assert all(sorted(order) == list(range(49)) for order in orders)
    assert len({tuple(order) for order in orders}) == 5
    assert orders[3] == batchorder.epoch_permutation(49, 1, 3).numpy().tolist()


def test_fit_epoch_and_fixed_and_none_train_differently() -> None:
    initial = initial_weights(_run("fit", True))
    losses = {order: train_run(_run("fit", order, epochs=3), initial)[2].columns["loss"] for order in ORDERS}
    assert losses["epoch"][0] != losses["fixed"][0] != losses["none"][0] != losses["epoch"][0]
    assert losses["epoch"][2] != losses["fixed"][2]
