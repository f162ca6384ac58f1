"""regdemo: see and measure what L1/L2 regularization does to a small Keras network."""

import os
import sys

__version__ = "0.1.0"

# The compiled engine is TensorFlow code, so Keras must run on its TensorFlow backend. A user's
# KERAS_BACKEND=jax (say) would otherwise surface as a confusing crash deep in training; it is
# overridden here, before anything imports Keras, and the CLI says so in one line.
OVERRIDDEN_BACKEND = None
if "keras" not in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
    OVERRIDDEN_BACKEND = os.environ["KERAS_BACKEND"]
    os.environ["KERAS_BACKEND"] = "tensorflow"
