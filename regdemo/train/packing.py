"""Which runs can train together in one pack (:mod:`regdemo.train.packed`): their :func:`pack_key`.

Pure config logic, no TensorFlow: the runner groups the runs to do by key (:mod:`regdemo.runs.packs`) in a
process that never imports TensorFlow itself.
"""

from __future__ import annotations

from regdemo.config.schema import RunConfig

# Epochs per call of the compiled loop: large enough that call overhead vanishes, small enough
# that the progress bar moves several times a second.
CHUNK_EPOCHS = 100
# The optimizers the packed program writes out (regdemo.train.packedopt.SLOTS holds their slots).
OPTIMIZERS = frozenset({"adam", "adamw", "sgd", "rmsprop"})
# The seeds keras.utils.set_random_seed takes (NumPy's range; the schema allows no other). The graph takes them as
# int32, wrapped (2**31 → −2**31), as epoch_permutation has always taken a Python int beyond int32.
_SEEDS = range(2**32)


def pack_key(cfg: RunConfig) -> tuple | None:
    """What must agree for runs to train in one pack: the network (hidden units, activation, dropout rate,
    whether the output kernel is regularized, ``regularizer.proximal``), the sizes the data comes in (rows,
    splits, folds, inputs), the batch size, epochs, optimizer kind, batch order kind, whether the runs stop
    early and the film's snapshot count; None when the run needs what the packed engine does not do (another
    engine, an optimizer outside :data:`OPTIMIZERS`, a seed outside [0, 2**32)).

    Each run keeps its own seed, dataset values (noise, random state), regularizer kind and λ, learning rate,
    weight decay, early-stopping settings and dropout masks.
    """
    data, model, training, reg = cfg.dataset, cfg.model, cfg.training, cfg.model.regularizer
    unsupported = (
        training.engine != "compiled",
        training.optimizer not in OPTIMIZERS,
        cfg.seed not in _SEEDS,
    )
    if any(unsupported):
        return None
    folds = (data.cv.folds, data.cv.fold) if data.cv else None
    csv = (str(data.path), data.sha256) if data.kind == "csv" else None  # two files may differ in rows
    sizes = (csv, data.n_samples, data.validation_split, data.test_split, folds, data.noise_features)
    network = (tuple(model.hidden_units), model.activation, model.dropout, reg.apply_to_output, reg.proximal)
    # early stopping: only whether (each run its own monitor, patience, ...); the film's count: where chunks end
    ends = (training.early_stopping is not None, cfg.plots.snapshots)
    return (network, sizes, training.batch_size, training.epochs, training.optimizer, training.batch_order(), ends)
