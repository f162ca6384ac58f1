"""train: a run's config → a trained Keras model and the numbers measured from it.

- :mod:`~regdemo.train.tfsetup`: loading TensorFlow once per process (quiet, deterministic, threads);
- :mod:`~regdemo.train.datasets`: the 2-D datasets and their train/validation/test split;
- :mod:`~regdemo.train.models`: config → Keras model (``kernel_regularizer``, dropout) and its penalty;
- :mod:`~regdemo.train.batchorder`: the rows' order in each epoch (``training.shuffle``);
- :mod:`~regdemo.train.start`: a run's start (seed, dataset, model: its initial weights);
- :mod:`~regdemo.train.packed`: the compiled engine, packed (many runs of one shape in one compiled program,
  its graph in :mod:`~regdemo.train.packedloop`; one run alone is a pack of one);
- :mod:`~regdemo.train.engines`: ``model.fit`` (``engine: fit``) and what both engines share;
- :mod:`~regdemo.train.trainer`: a prepared run trained with its configured engine (:func:`train_model`)
  → :class:`~regdemo.train.history.History`;
- :mod:`~regdemo.train.proximal`: proximal L1, the soft threshold after each step;
- :mod:`~regdemo.train.snapshots`: the training film's recording;
- :mod:`~regdemo.train.metrics`: trained model + data → numbers (losses, weights, the boundary grid);
- :mod:`~regdemo.train.build`: the one way a config becomes a trained model (:func:`train_run`).

Imports only :mod:`regdemo.config` and the shared names; TensorFlow is loaded by the modules that train.
"""

from regdemo.exports import lazy_exports

EXPORTS = {
    "Trained": "build",
    "prepare": "start",
    "train_run": "build",
    "train_model": "trainer",
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
