"""train: a run's config → a trained Keras model and the numbers measured from it.

- :mod:`~regdemo.train.tfsetup`: loading TensorFlow once per process (quiet, deterministic, threads);
- :mod:`~regdemo.train.datasets`: the 2-D datasets and their train/validation/test split;
- :mod:`~regdemo.train.models`: config → Keras model (``kernel_regularizer``, dropout) and its penalty;
- :mod:`~regdemo.train.batchorder`: the rows' order in each epoch (``training.shuffle``);
- :mod:`~regdemo.train.engines`: the engines (the whole run compiled into one ``tf.function``, and
  ``model.fit``) → :class:`~regdemo.train.history.History`;
- :mod:`~regdemo.train.packed`: the packed engine (many runs of one shape in one compiled program, its graph
  in :mod:`~regdemo.train.packedloop`), not yet used by ``regdemo run``;
- :mod:`~regdemo.train.proximal`: proximal L1, the soft threshold after each step;
- :mod:`~regdemo.train.snapshots`: the training film's recording;
- :mod:`~regdemo.train.metrics`: trained model + data → numbers (losses, weights, the boundary grid);
- :mod:`~regdemo.train.build`: the one way a config becomes a trained model (:func:`train_run`).

Imports only :mod:`regdemo.config` and the shared names; TensorFlow is loaded by the modules that train.
"""

from regdemo.exports import lazy_exports

EXPORTS = {
    "Trained": "build",
    "prepare": "build",
    "train_run": "build",
    "train": "engines",
    "History": "history",
    "PackResult": "packed",
    "PackRun": "packed",
    "pack_key": "packing",
    "pack_run": "packed",
    "train_pack": "packed",
    "Split": "datasets",
    "load_tensorflow": "tfsetup",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
