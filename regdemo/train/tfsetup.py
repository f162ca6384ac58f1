"""Loading TensorFlow once per process: quietly, deterministically, with a chosen thread count.

Kept apart so that only the processes that train pay for TensorFlow (~3 s to import): the
``compare`` and ``report`` commands, and the driver of a worker pool or of Ray tasks, never load it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hide what TensorFlow's C++ start-up writes straight to fd 2 (absl and oneDNN notices that
    ignore TF_CPP_MIN_LOG_LEVEL). Python's own errors are not lost: if the block raises, the
    captured text is replayed."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def load_tensorflow(threads: int | None = None) -> None:
    """Import TensorFlow quietly and make it deterministic; ``threads`` sizes both thread pools.

    Op-level determinism: the same config and seed give the same numbers on a rerun. The first op
    runs here, so that TensorFlow's native start-up happens inside the quiet block.

    TensorFlow's C++ logging is set to level 3 (unless TF_CPP_MIN_LOG_LEVEL is already set) before the
    import, for the lines printed later, while runs train, that no quiet block can hide without hiding
    regdemo's own stderr too: ``model.fit``'s input pipeline logs "E0000 ... NodeDef mentions attribute
    use_unbounded_threadpool ..." at ERROR level, a notice about TensorFlow's own graph versions, not a
    failure (TensorFlow's real failures are Python exceptions). TF_CPP_MIN_LOG_LEVEL=0 shows them all.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_stderr():
        import tensorflow as tf

        if threads:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        tf.config.experimental.enable_op_determinism()
        # each run builds a new model and so traces its own loop: expected, not worth a warning per run
        tf.get_logger().setLevel("ERROR")
        _ = tf.constant(0.0) + 1.0
    # TensorFlow's import leaves ~0.5 M objects that live as long as the process; out of the collector's
    # sight, its full collections stop pausing a run's drawing for a quarter of a second.
    gc.freeze()
