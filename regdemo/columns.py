"""The names of a run's numbers: the per-epoch columns, and the result columns of its summary row (what a
check's ``metric`` may name).

The seven per-epoch names are also the keys of a run's ``final`` numbers (metrics.json) and of its
summary columns, so they are spelled here once. No TensorFlow and no config: the config's checks
are validated against :data:`RESULT_COLUMNS`, and readers of saved runs import this too.
"""

from __future__ import annotations

# One row per epoch; ``loss = data_loss + penalty`` (Keras' meaning: the penalty is inside both losses).
COLUMNS = ("loss", "val_loss", "data_loss", "val_data_loss", "penalty", "accuracy", "val_accuracy")
# The held-out test rows' figures in the ``final`` block (the penalty is the same weights' as ``penalty``).
TEST_KEYS = ("test_loss", "test_data_loss", "test_accuracy")
WINDOW_KEYS = ("data_loss", "val_data_loss", "generalization_gap")  # of metrics.json's window block
FIRST_LAYER_KEYS = ("min", "max", "std", "frac_zero", "frac_near_zero")  # of the first layer's weight stats
BOUNDARY_KEYS = ("contour_length", "regions", "class1_area_fraction")  # metrics.json's boundary block
# metrics.json's inputs block (feature selection: the first kernel's row per input), the summary's names too:
# the share of the noise inputs (of the two informative ones) whose row is exactly zero, the largest noise
# row's norm and the smallest informative row's norm.
INPUT_KEYS = ("noise_inputs_zeroed", "informative_inputs_zeroed", "noise_input_norm_max", "informative_input_norm_min")
# A summary row's result columns, in order (regdemo.results.summary.result_columns fills them).
RESULT_COLUMNS = (
    "epochs_run",
    *COLUMNS,
    "generalization_gap",
    *(f"window_{key}" for key in WINDOW_KEYS),
    *TEST_KEYS,
    "test_generalization_gap",
    *(f"first_layer_{key}" for key in FIRST_LAYER_KEYS),
    "kernels_l1",
    "kernels_l2",
    *(f"boundary_{key}" for key in BOUNDARY_KEYS),
    *INPUT_KEYS,
    "train_seconds",
)
