"""The packed engine (issue 17), which ``engine: compiled`` is: a run trains the same in any pack (so alone, a
pack of one, as in a pack of N), as ``model.fit`` trains it, with Keras' penalty, one trace per shape; what it
cannot train per run has no pack key."""

from __future__ import annotations

import json

import numpy as np
import pytest

from regdemo.columns import COLUMNS
from regdemo.config.loading import load_experiment
from regdemo.config.schema import PlotsConfig, RunConfig
from regdemo.errors import ConfigError
from regdemo.train import engines, packed, packtiming
from regdemo.train.build import prepare
from regdemo.train.history import History
from regdemo.train.packedloop import PackedLoop
from regdemo.train.snapshots import Recorder, snapshot_epochs


def _cfg(seed=1, reg=None, lr=0.01, epochs=8, hidden=(8, 8), samples=70, dropout=0.0, **training) -> RunConfig:
    """A tiny run; 70 samples, validation 0.3: 49 training rows (batches 16, 16, 16, 1) and 21 validation rows,
    so both are padded to whole packets (packedloop.padded_rows)."""
    return RunConfig(
        name="t",
        experiment="t",
        seed=seed,
        dataset={"n_samples": samples, "noise": 0.2, "random_state": 3, "validation_split": 0.3},
        model={"hidden_units": list(hidden), "regularizer": reg or {"kind": "none"}, "dropout": dropout},
        training={"epochs": epochs, "batch_size": 16, "learning_rate": lr, **training},
    )


def _train(cfgs: list[RunConfig]) -> list[packed.PackResult]:
    return packed.train_pack([packed.pack_run(cfg)[1] for cfg in cfgs])


def _fit(cfg: RunConfig, recorder_of=None) -> tuple[History, list[np.ndarray]]:
    """``cfg`` trained by ``model.fit`` (:func:`regdemo.train.engines.train_fit`) on the same batches: its batch
    order as the packed engine resolves it (``shuffle: true`` is ``epoch`` there, ``fixed`` for ``fit``); with
    ``recorder_of`` (model → Recorder) its film too, trimmed as a run trims it. → (history, final weights)."""
    fit = cfg.model_copy(update={"training": cfg.training.model_copy(update={"shuffle": cfg.training.batch_order()})})
    model, data = prepare(fit)
    recorder = recorder_of(model) if recorder_of else None
    history = engines.train_fit(model, data, fit.training, fit.seed, recorder=recorder)
    if recorder:
        recorder.trim(history.epochs_run, history.status == "diverged")
    return history, model.get_weights()


def _assert_close(ours: packed.PackResult, history: History, weights: list[np.ndarray]) -> None:
    """Float32 tolerance, as tests/conftest.py's assert_same_training compares the engines."""
    for name in COLUMNS:
        np.testing.assert_allclose(
            ours.history.columns[name], history.columns[name], rtol=1e-5, atol=1e-6, err_msg=name
        )
    for a, b in zip(ours.weights, weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _assert_identical(a: packed.PackResult, b: packed.PackResult) -> None:
    """Bit for bit; NaN where NaN (a diverged run's last epoch and weights)."""
    for name in COLUMNS:
        assert np.array_equal(a.history.columns[name], b.history.columns[name], equal_nan=True), name
    assert a.history.status == b.history.status
    for x, y in zip(a.weights, b.weights, strict=True):
        assert np.array_equal(x, y, equal_nan=True)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd"])
def test_a_run_trains_the_same_alone_and_in_any_place_of_a_pack(optimizer: str) -> None:
    """Bit for bit: batched matmuls compute each run's slice on its own, every other op is elementwise or
    reduces one run's values, and the padding keeps a run's slices whole packets wherever they lie."""
    run = _cfg(1, {"kind": "l2", "lambda": 0.01}, optimizer=optimizer)
    others = [
        _cfg(2, {"kind": "l1", "lambda": 0.003}, 0.02, optimizer=optimizer),
        _cfg(5, {"kind": "l1_l2", "l1": 0.001, "l2": 0.02}, 0.005, optimizer=optimizer),
        _cfg(9, None, 0.03, optimizer=optimizer, weight_decay=0.05),
    ]
    alone = _train([run])[0]
    second = _train([others[0], run, others[1]])[1]
    last = _train([others[2], others[1], run])[2]
    _assert_identical(alone, second)
    _assert_identical(alone, last)
    assert not np.array_equal(alone.weights[0], prepare(run)[0].get_weights()[0])  # it did train


@pytest.mark.parametrize(
    ("regularizer", "shuffle", "training"),
    [
        ({"kind": "none"}, True, {}),
        ({"kind": "l2", "lambda": 0.01}, "fixed", {}),
        ({"kind": "l1", "lambda": 0.01}, False, {}),
        ({"kind": "l2", "lambda": 0.01}, True, {"optimizer": "adamw", "weight_decay": 0.05}),
        ({"kind": "l1_l2", "l1": 0.003, "l2": 0.01}, True, {"optimizer": "rmsprop"}),
        ({"kind": "l2", "lambda": 0.01}, "fixed", {"optimizer": "sgd", "learning_rate": 0.1, "weight_decay": 0.1}),
        ({"kind": "l1", "lambda": 0.01, "proximal": True}, True, {}),
        ({"kind": "l1_l2", "l1": 0.01, "l2": 0.01, "proximal": True}, True, {"optimizer": "rmsprop"}),
        ({"kind": "l1", "lambda": 0.05, "proximal": "rows"}, True, {"optimizer": "sgd", "learning_rate": 0.1}),
        ({"kind": "l1_l2", "l1": 0.05, "l2": 0.01, "proximal": "rows"}, True, {}),
    ],
    ids=[
        "none-epoch",
        "l2-fixed",
        "l1-none",
        "adamw",
        "rmsprop",
        "sgd-decay",
        "prox",
        "prox-l1l2",
        "rows",
        "rows-l1l2",
    ],
)
def test_the_packed_engine_trains_as_model_fit(regularizer: dict, shuffle, training: dict) -> None:
    """Within float32 tolerance, not bit for bit: the same formulas on the same initial weights and batches, but
    Keras runs 2-D ops and the packed engine batched ones with different kernels, which differ in the last bit in
    places (measured against 0.2's compiled engine on one step: the sigmoid of 32 or more rows, and the gradient
    of the (b, 8) × (8, 1) output layer's kernel, ~4e-9), so the two trajectories part at float32 rounding level."""
    cfg = _cfg(3, regularizer, epochs=10, shuffle=shuffle, **training)
    theirs, weights = _fit(cfg)
    ours = _train([cfg])[0]
    assert ours.history.epochs_run == theirs.epochs_run == 10
    _assert_close(ours, theirs, weights)


def test_dropout_masks_are_each_runs_own_as_in_model_fit() -> None:
    """Each run drops as its own Keras Dropout layers would (their SeedGenerator states, one draw per step): alone
    = in a pack bit for bit, = model.fit to float32 (with other masks it would be far off)."""
    run = _cfg(1, {"kind": "l2", "lambda": 0.01}, epochs=10, dropout=0.3)
    others = [_cfg(seed, None, 0.02, epochs=10, dropout=0.3) for seed in (4, 7)]
    alone, in_pack = _train([run])[0], _train([others[0], run, others[1]])[1]
    _assert_identical(alone, in_pack)
    _assert_close(alone, *_fit(run))
    no_dropout = _train([_cfg(1, {"kind": "l2", "lambda": 0.01}, epochs=10)])[0]
    assert not np.allclose(no_dropout.history.columns["loss"], alone.history.columns["loss"], rtol=1e-3)
    without_model = packed.pack_run(run)[1]
    without_model.model = None
    with pytest.raises(ValueError, match="needs its model"):
        packed.train_pack([without_model])


@pytest.mark.parametrize("proximal", [True, "rows"])
def test_proximal_runs_train_the_same_alone_and_in_a_pack(proximal) -> None:
    """Proximal L1 (one mode per pack), each run its own λ and kind: bit for bit alone and in a pack."""
    run = _cfg(1, {"kind": "l1", "lambda": 0.02, "proximal": proximal})
    others = [
        _cfg(2, {"kind": "l1_l2", "l1": 0.01, "l2": 0.02, "proximal": proximal}, 0.02),
        _cfg(3, {"kind": "l1", "lambda": 0.1, "proximal": proximal}, 0.05),
    ]
    alone, packed_run = _train([run])[0], _train([others[0], run, others[1]])[1]
    _assert_identical(alone, packed_run)
    if proximal is True:
        assert np.any(alone.weights[0] == 0)  # the threshold did zero weights


@pytest.mark.parametrize(
    ("regularizer", "l1", "l2"),
    [({"kind": "l2", "lambda": 0.02}, 0.0, 0.02), ({"kind": "l1", "lambda": 0.01}, 0.01, 0.0)],
    ids=["l2", "l1"],
)
def test_the_penalty_column_is_lambda_times_the_kernels_norm(regularizer: dict, l1: float, l2: float) -> None:
    """Keras' formula over the hidden kernels (the output kernel is not regularized): with one batch per epoch the
    penalty of epoch e + 1 is taken at the weights that end epoch e, and val_loss − val_data_loss is the
    penalty of the weights that end the run."""

    def penalty(weights: list[np.ndarray]) -> float:
        kernels = [w.astype(np.float64) for w in weights[0:-2:2]]
        return sum(l1 * np.abs(k).sum() + l2 * np.square(k).sum() for k in kernels)

    short, longer = (_cfg(4, regularizer, epochs=e, samples=80, batch_size=64) for e in (6, 7))
    end_of_6, run_of_7 = _train([short])[0], _train([longer])[0]
    assert run_of_7.history.columns["penalty"][6] == pytest.approx(penalty(end_of_6.weights), rel=1e-6)
    columns = end_of_6.history.columns
    assert columns["val_loss"][-1] - columns["val_data_loss"][-1] == pytest.approx(penalty(end_of_6.weights), rel=1e-5)
    assert penalty(end_of_6.weights) > 0


def test_one_trace_per_shape() -> None:
    """A second pack of a shape seen (other seeds, λ, learning rates, kinds) reuses the compiled program; another
    number of runs is another shape. Hidden units [7]: a shape no other test uses."""
    before = PackedLoop.traces
    _train([_cfg(1, hidden=[7], epochs=3), _cfg(2, {"kind": "l2", "lambda": 0.1}, hidden=[7], epochs=3)])
    assert PackedLoop.traces == before + 1
    _train([_cfg(6, {"kind": "l1", "lambda": 0.01}, 0.05, hidden=[7], epochs=3), _cfg(8, hidden=[7], epochs=3)])
    assert PackedLoop.traces == before + 1
    _train([_cfg(s, hidden=[7], epochs=3) for s in (1, 2, 3)])
    assert PackedLoop.traces == before + 2


def test_a_diverging_run_stops_alone_as_in_model_fit() -> None:
    """SGD at 1e6 diverges: its history ends at its first non-finite epoch, as model.fit's does, bit for bit as
    alone; its neighbour trains on, as it would alone."""
    # tests/train/test_training.py's diverging run
    wild, calm = (
        _cfg(s, epochs=300, hidden=(16, 16), optimizer="sgd", lr=lr, shuffle=False) for s, lr in ((1, 1e6), (2, 0.05))
    )
    wild_run, calm_run = _train([wild, calm])
    today, _ = _fit(wild)
    assert wild_run.history.status == today.status == "diverged"
    assert wild_run.history.epochs_run == today.epochs_run < 300
    assert not np.isfinite(wild_run.history.columns["loss"][-1])
    assert np.all(np.isfinite(wild_run.history.columns["loss"][:-1]))
    _assert_identical(calm_run, _train([calm])[0])
    _assert_identical(wild_run, _train([wild])[0])


def test_what_the_packed_engine_cannot_train_per_run_has_no_key() -> None:
    base = _cfg().to_dict()
    assert packed.pack_key(RunConfig(**{**base, "training": {**base["training"], "engine": "fit"}})) is None


def test_every_seed_the_schema_takes_has_a_key_and_trains_on_model_fits_batches() -> None:
    """Seeds up to 2**32 − 1 (keras.utils.set_random_seed's range): beyond int32 the graph takes them wrapped, as
    epoch_permutation takes a Python int, so the epoch order is model.fit's (``reshuffled_batches``)."""
    big = _cfg(2**31 + 5, shuffle=True)
    assert packed.pack_key(big) == packed.pack_key(_cfg())
    ours, theirs = _train([big])[0], _fit(big)
    _assert_close(ours, *theirs)
    assert not np.allclose(ours.history.columns["loss"], _train([_cfg(5, shuffle=True)])[0].history.columns["loss"])


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_set_random_seed_refuses_is_refused_by_the_config(write_config, seed: int) -> None:
    path = write_config(f"name: x\nseed: {seed}\n")
    with pytest.raises(ConfigError) as err:
        load_experiment(path)
    bound = "must be >= 0" if seed < 0 else "must be < 4294967296"
    assert str(err.value) == f"{path}:2: seed: {bound} (got {seed})"


def test_runs_share_a_key_when_their_shapes_agree() -> None:
    key = packed.pack_key(_cfg())
    assert key is not None
    assert packed.pack_key(_cfg(7, {"kind": "l1", "lambda": 0.1}, 0.2)) == key  # seed, λ, learning rate: per run
    assert packed.pack_key(_cfg(hidden=(8, 4))) != key
    assert packed.pack_key(_cfg(samples=90)) != key
    assert packed.pack_key(_cfg(optimizer="sgd")) != key
    assert packed.pack_key(_cfg(shuffle="fixed")) != key
    assert packed.pack_key(_cfg(early_stopping={"patience": 3})) != key
    assert packed.pack_key(_cfg(dropout=0.2)) != key
    assert packed.pack_key(_cfg().model_copy(update={"plots": PlotsConfig(snapshots=4)})) != key
    assert packed.pack_key(_cfg(reg={"kind": "l1", "lambda": 0.01, "proximal": True})) != key
    with pytest.raises(ValueError, match="same pack_key"):
        _train([_cfg(), _cfg(hidden=(8, 4))])


# Early stopping per run: (seed, settings); they stop at different epochs.
STOPPING = [
    (1, {"patience": 2}),
    (2, {"patience": 3, "monitor": "val_accuracy", "restore_best_weights": True}),
    (3, {"patience": 1, "monitor": "loss", "min_delta": 0.01, "restore_best_weights": True}),
    (4, {"patience": 4, "restore_best_weights": True}),
]


def _stopping(seed: int, settings: dict) -> RunConfig:
    return _cfg(seed, {"kind": "l2", "lambda": 0.01}, lr=0.05, epochs=40, early_stopping=settings)


def test_early_stopping_per_run_as_keras_callback() -> None:
    """Keras' EarlyStopping run by run: the same stopped and best epochs as model.fit's callback, the history
    ending there, the best weights restored where asked (float32 tolerance, as above)."""
    cfgs = [_stopping(seed, settings) for seed, settings in STOPPING]
    results = _train(cfgs)
    for cfg, ours in zip(cfgs, results, strict=True):
        theirs, weights = _fit(cfg)
        assert (ours.history.stopped_epoch, ours.history.best_epoch) == (theirs.stopped_epoch, theirs.best_epoch)
        assert ours.history.epochs_run == theirs.epochs_run == theirs.stopped_epoch < 40
        _assert_close(ours, theirs, weights)
    assert len({r.history.stopped_epoch for r in results}) > 1  # they did stop at different epochs


def test_early_stopping_runs_train_the_same_alone_in_a_pack_and_in_any_chunking(monkeypatch) -> None:
    """Chunks of 7 epochs, so runs stop in different chunks (one on a chunk's last epoch, epoch 7): a run alone =
    the same run in the pack, bit for bit, and = the run in chunks of 100. 0.2's compiled engine differed there:
    it missed a stop on a chunk's last epoch (it only broke when a chunk came back short) and trained on;
    ``model.fit`` stops, as the packed engine does."""
    cfgs = [_stopping(seed, settings) for seed, settings in STOPPING]
    whole = _train(cfgs)
    monkeypatch.setattr(packed, "CHUNK_EPOCHS", 7)
    chunked = _train(cfgs)
    assert 7 in {r.history.stopped_epoch for r in chunked}
    for i, cfg in enumerate(cfgs):
        alone = _train([cfg])[0]
        for other in (chunked[i], whole[i]):
            _assert_identical(alone, other)
            assert (alone.history.stopped_epoch, alone.history.best_epoch) == (
                other.history.stopped_epoch,
                other.history.best_epoch,
            )


GRID = np.stack(np.meshgrid(np.linspace(-2, 3, 9), np.linspace(-1.5, 2, 7)), axis=-1).reshape(-1, 2).astype(np.float32)


def _filmed(cfg: RunConfig, count: int) -> RunConfig:
    return cfg.model_copy(update={"plots": PlotsConfig(snapshots=count)})


def _film_run(cfg: RunConfig) -> packed.PackRun:
    model, run = packed.pack_run(cfg)
    run.recorder = Recorder(model, GRID, snapshot_epochs(cfg.training.epochs, cfg.plots.snapshots))
    return run


@pytest.mark.parametrize("stopping", [None, {"patience": 2, "restore_best_weights": True}], ids=["plain", "stops"])
def test_the_film_is_recorded_as_model_fit_records_it(stopping) -> None:
    """Each run's Recorder gets the same epochs as under ``model.fit`` (trimmed after an early stop), with grids
    and kernels to float32 tolerance; alone and in a pack bit for bit; its model ends on its final weights.
    Snapshots every 5 epochs (a chunk ends at each)."""
    cfgs = [
        _filmed(_cfg(seed, reg, lr=0.05, epochs=40, early_stopping=stopping), 9)
        for seed, reg in ((1, {"kind": "l2", "lambda": 0.01}), (2, {"kind": "l1", "lambda": 0.003}))
    ]
    runs = [_film_run(cfg) for cfg in cfgs]
    results = packed.train_pack(runs)
    alone = _film_run(cfgs[0])
    packed.train_pack([alone])
    assert alone.recorder.recorded == runs[0].recorder.recorded
    ours, theirs = alone.recorder, runs[0].recorder
    for a, b in zip(ours.probs + ours.kernels, theirs.probs + theirs.kernels, strict=True):
        assert np.array_equal(a, b)
    for cfg, run, result in zip(cfgs, runs, results, strict=True):
        recorders = []

        def recorder_of(model, cfg=cfg, recorders=recorders):
            recorders.append(Recorder(model, GRID, snapshot_epochs(cfg.training.epochs, cfg.plots.snapshots)))
            return recorders[-1]

        today, _ = _fit(cfg, recorder_of)
        recorder = recorders[0]
        assert run.recorder.recorded == recorder.recorded and len(recorder.recorded) > 1
        assert result.history.epochs_run == today.epochs_run
        for a, b in zip(run.recorder.probs + run.recorder.kernels, recorder.probs + recorder.kernels, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        for a, b in zip(run.model.get_weights(), result.weights, strict=True):
            assert np.array_equal(a, b)
    if stopping:
        assert all(r.history.stopped_epoch < 40 and r.history.stopped_epoch % 5 for r in results)


def test_time_pack_trains_an_experiments_runs_in_one_pack(write_config, capsys) -> None:
    """scripts/benchmark.py's pack measure: a config's runs in one pack; ms per run-epoch over the epochs run."""
    path = write_config(
        "name: x\ndataset: {n_samples: 70, noise: 0.2, random_state: 3, validation_split: 0.3}\n"
        "model: {hidden_units: [8, 8]}\ntraining: {epochs: 50, batch_size: 16}\n"
        "sweep: {model.regularizer.kind: [l1, l2], model.regularizer.lambda: [0.01], seed: [1, 2]}\n"
    )
    assert packtiming.main([str(path), "--set=training.epochs=3", "training.learning_rate=0.02"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["runs"], line["epochs"]) == (4, 3)
    assert line["ms_per_run_epoch"] == pytest.approx(1000 * line["seconds"] / 12)
    assert line["seconds"] > 0


def test_the_pure_key_knows_the_optimizers_the_program_writes_out() -> None:
    from regdemo.train.packedopt import SLOTS
    from regdemo.train.packing import OPTIMIZERS

    assert set(SLOTS) == OPTIMIZERS
