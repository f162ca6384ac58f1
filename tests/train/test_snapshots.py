"""plots.snapshots, the training as a film: the config field, the epochs chosen, recording that leaves the
training bit for bit unchanged, the last snapshot equal to the final model, plot_data.npz's arrays, and
training.gif / training_frames.png (N equal frames, the same pixels)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import TINY
from regdemo.columns import COLUMNS
from regdemo.config.loading import SMOKE_SNAPSHOTS, load_experiment
from regdemo.config.schema import RunConfig
from regdemo.errors import ConfigError
from regdemo.results import rundir
from regdemo.runs.one_run import compute_run, execute_run
from regdemo.train.build import prepare
from regdemo.train.metrics import SNAPSHOT_RESOLUTION
from regdemo.train.packing import CHUNK_EPOCHS
from regdemo.train.snapshots import chunk_spans, snapshot_epochs

SNAPSHOT_KEYS = {"snapshot_epochs", "snapshot_grid_x", "snapshot_grid_y", "snapshot_grid_prob", "snapshot_kernel"}


def _cfg(snapshots: int, engine: str = "compiled", epochs: int = 230, resolution: int = 24, **over) -> RunConfig:
    training = {"engine": engine, "epochs": epochs, "batch_size": 16, **over.pop("training", {})}
    return RunConfig(
        name="film",
        experiment="t",
        seed=4,
        dataset={"n_samples": 60, "noise": 0.2, "random_state": 1, "validation_split": 0.25},
        model={"hidden_units": [12, 6], **over.pop("model", {})},
        training=training,
        plots={"boundary": {"xlim": [-2, 3], "ylim": [-1.5, 2], "resolution": resolution}, "snapshots": snapshots},
    )


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(("value", "message"), [(-1, "must be >= 0 (got -1)"), (201, "must be <= 200 (got 201)")])
def test_snapshots_out_of_bounds_is_one_line_at_its_line(write_config, value: int, message: str) -> None:
    text = TINY.replace("resolution: 24}}", f"resolution: 24}}, snapshots: {value}}}")
    with pytest.raises(ConfigError) as caught:
        load_experiment(write_config(text))
    assert str(caught.value).endswith(f"exp.yaml:9: plots.snapshots: {message}"), str(caught.value)


def test_snapshots_default_off_and_smoke_caps_them(write_config) -> None:
    assert all(run.plots.snapshots == 0 for run in load_experiment(write_config()).runs)
    path = write_config(TINY.replace("resolution: 24}}", "resolution: 24}, snapshots: 40}"))
    assert {run.plots.snapshots for run in load_experiment(path).runs} == {40}
    assert {run.plots.snapshots for run in load_experiment(path, smoke=True).runs} == {SMOKE_SNAPSHOTS}


# ---------------------------------------------------------------- which epochs, which chunks


def test_snapshot_epochs_are_evenly_spaced_from_the_initial_weights_to_the_end() -> None:
    assert snapshot_epochs(2000, 21) == list(range(0, 2001, 100))
    twenty = snapshot_epochs(2000, 20)
    assert len(twenty) == 20 and twenty[0] == 0 and twenty[-1] == 2000
    assert np.ptp(np.diff(twenty)) <= 1  # even: 105 or 106 epochs apart
    assert snapshot_epochs(3, 20) == [0, 1, 2, 3]  # fewer epochs than snapshots: one per epoch
    assert snapshot_epochs(50, 1) == [50] and snapshot_epochs(50, 0) == []


def test_chunks_end_at_every_snapshot_epoch_and_cover_the_run_once() -> None:
    spans = chunk_spans(230, CHUNK_EPOCHS, [0, 38, 100, 230])
    assert spans == [(0, 38), (38, 62), (100, 100), (200, 30)]
    assert chunk_spans(230, CHUNK_EPOCHS) == [(0, 100), (100, 100), (200, 30)]  # as without snapshots


# ---------------------------------------------------------------- recording changes nothing


def _same_training(on, off) -> None:
    for name in COLUMNS:
        assert np.array_equal(on.history.columns[name], off.history.columns[name], equal_nan=True), name
    for a, b in zip(on.model.get_weights(), off.model.get_weights(), strict=True):
        assert np.array_equal(a, b)
    assert (on.history.stopped_epoch, on.history.best_epoch) == (off.history.stopped_epoch, off.history.best_epoch)


@pytest.mark.parametrize(
    "over",
    [
        {"model": {"dropout": 0.2, "regularizer": {"kind": "l2", "lambda": 0.01}}},
        {"training": {"shuffle": "fixed", "early_stopping": {"patience": 4}}},
        {"model": {"regularizer": {"kind": "l1", "lambda": 0.01, "proximal": True}}},
    ],
    ids=["dropout-l2-epoch-order", "fixed-order-early-stopping", "proximal-l1"],
)
def test_compiled_history_is_bit_identical_with_snapshots_on_and_off(over: dict) -> None:
    on, off = compute_run(_cfg(7, **over)), compute_run(_cfg(0, **over))
    _same_training(on, off)
    assert off.film is None
    epochs = on.film.epochs.tolist()
    assert epochs == [e for e in snapshot_epochs(230, 7) if e <= on.history.epochs_run]
    if "early_stopping" in over.get("training", {}):
        assert on.history.stopped_epoch is not None and len(epochs) < 7  # stopped: later epochs not recorded


def test_fit_engine_records_the_same_way_and_changes_nothing() -> None:
    on, off = compute_run(_cfg(4, "fit", epochs=9)), compute_run(_cfg(0, "fit", epochs=9))
    _same_training(on, off)
    assert on.film.epochs.tolist() == [0, 3, 6, 9]
    _assert_last_snapshot_is_the_final_model(on)


def _assert_last_snapshot_is_the_final_model(result) -> None:
    film, model = result.film, result.model
    xx, yy = np.meshgrid(film.xs, film.ys)
    final = model(np.c_[xx.ravel(), yy.ravel()], training=False).numpy()[:, 0].reshape(xx.shape)
    np.testing.assert_allclose(film.prob[-1], final, rtol=0, atol=1e-6)
    assert np.array_equal(film.kernels[-1], result.view.kernels[0][1])


def test_snapshots_hold_the_initial_weights_and_end_on_the_final_boundary() -> None:
    result = compute_run(_cfg(5, resolution=300))
    film = result.film
    assert film.epochs.tolist() == [0, 58, 115, 172, 230] and film.epochs.dtype == np.int64
    rows = cols = SNAPSHOT_RESOLUTION  # the boundary's 300 capped
    assert film.prob.shape == (5, rows, cols) and film.prob.dtype == np.float32
    assert film.kernels.shape == (5, 2, 12) and film.kernels.dtype == np.float32
    assert (film.xs[0], film.xs[-1], film.ys[0], film.ys[-1]) == (-2, 3, -1.5, 2)
    initial = prepare(result.config)[0].get_weights()[0]
    assert np.array_equal(film.kernels[0], initial)
    _assert_last_snapshot_is_the_final_model(result)
    # the final boundary drawn from the 300-point grid agrees where the two grids share points (the corners)
    grid = result.view.grid.prob
    np.testing.assert_allclose(
        film.prob[-1][[0, 0, -1, -1], [0, -1, 0, -1]], grid[[0, 0, -1, -1], [0, -1, 0, -1]], atol=1e-6
    )
    assert not np.array_equal(film.prob[0], film.prob[-1])  # it did train


@pytest.mark.parametrize("engine", ["compiled", "fit"])
def test_a_diverged_run_keeps_the_snapshots_of_its_finite_epochs(engine: str) -> None:
    """A snapshot every epoch; the run blows up after a few: every finite epoch is kept, the bad one is not."""
    sgd = {"optimizer": "sgd", "learning_rate": 1e6}
    result = compute_run(_cfg(101, engine, epochs=100, training=sgd, model={"activation": "linear"}))
    assert result.history.status == "diverged"
    assert result.film.epochs.tolist() == list(range(result.history.epochs_run))
    assert np.isfinite(result.film.prob).all()


# ---------------------------------------------------------------- the run folder


def test_a_run_folder_holds_the_film_and_its_arrays(tmp_path: Path) -> None:
    cfg = _cfg(6, epochs=50)
    assert execute_run(cfg, tmp_path) == "completed"
    run = tmp_path / cfg.name
    with np.load(run / rundir.PLOT_DATA) as saved:
        assert set(saved.files) >= SNAPSHOT_KEYS
        n, rows, cols = saved["snapshot_grid_prob"].shape
        assert (n, rows, cols) == (6, 24, 24) and saved["snapshot_kernel"].shape == (6, 2, 12)
        assert saved["snapshot_grid_x"].shape == (cols,) and saved["snapshot_grid_y"].shape == (rows,)
    assert rundir.read_snapshot_epochs(run) == snapshot_epochs(50, 6) == [0, 10, 20, 30, 40, 50]
    assert rundir.read_film(run).epochs.tolist() == [0, 10, 20, 30, 40, 50]
    with Image.open(run / rundir.TRAINING_GIF) as gif, Image.open(run / rundir.TRAINING_FRAMES) as strip:
        assert gif.n_frames == 6
        width, height = gif.size
        assert 600 <= width <= 700
        assert strip.size == (width, 6 * height)
        pixels = np.asarray(strip.convert("RGB"))
        for i in range(gif.n_frames):
            gif.seek(i)
            assert gif.size == (width, height)
            # the GIF's frames are the strip's rows, pixel for pixel
            assert np.array_equal(np.asarray(gif.convert("RGB")), pixels[i * height : (i + 1) * height]), i
    timing = json.loads((run / rundir.METRICS).read_text())["timing"]
    assert timing["film_seconds"] > 0


def test_without_snapshots_a_run_folder_is_as_before(tmp_path: Path) -> None:
    cfg = _cfg(0, epochs=20)
    execute_run(cfg, tmp_path)
    run = tmp_path / cfg.name
    assert not (run / rundir.TRAINING_GIF).exists() and not (run / rundir.TRAINING_FRAMES).exists()
    with np.load(run / rundir.PLOT_DATA) as saved:
        assert not SNAPSHOT_KEYS & set(saved.files)
    assert rundir.read_snapshot_epochs(run) == [] and rundir.read_film(run) is None
    timing = set(json.loads((run / rundir.METRICS).read_text())["timing"])
    assert timing == {"train_seconds", "pack_runs", "pack_train_seconds", "plot_seconds"}  # no film_seconds
