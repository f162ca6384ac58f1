"""The config's schema: every field of a resolved run, typed and validated (pydantic, strict).

What the rest of the package consumes is :class:`RunConfig`; loading a YAML file into runs, with
errors that name the file and line, is :mod:`regdemo.config`'s. The ``checks:`` section's schema is
:mod:`regdemo.config.checkspec`'s.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from regdemo.config.yamlfile import Key

# A name becomes a folder name: a leading dot would make it hidden, "." or ".." would leave the folder.
SAFE_NAME = re.compile(r"^(?!\.)[A-Za-z0-9._-]+$")
SAFE_NAME_RULE = "must be made of letters, digits, '.', '_' and '-', not starting with '.'"
# TensorFlow Playground's four classification sets, ported from its src/dataset.ts (regdemo.train.playground).
PLAYGROUND_KINDS = ("playground_circle", "playground_xor", "playground_gauss", "playground_spiral")
DATASET_KINDS = ("moons", "circles", "xor", "gaussians", "spiral", "linear", *PLAYGROUND_KINDS, "csv")
# Playground's plot box, [-6, 6] on both axes: the boundary plot's default limits for its kinds.
PLAYGROUND_BOX = (-6.0, 6.0)
MAX_PLAYGROUND_NOISE = 0.5  # Playground's noise slider goes to 50 (%), and the generators get slider/100
MAX_NOISE_FEATURES = 64  # dataset.noise_features: inputs of pure noise beside the two informative ones
MAX_FOLDS = 50
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# training.shuffle: reshuffle every epoch, replay one permutation drawn once, or the stored order.
ORDERS = ("epoch", "fixed", "none")


class _Strict(BaseModel):
    # strict: YAML already types its scalars, so "0.1" (a quoted string) is an error, not a float.
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)


NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class CVConfig(_Strict):
    """k-fold cross-validation (``dataset.cv``): the non-test rows cut into ``folds`` contiguous blocks
    (scikit-learn's ``KFold`` without shuffling), block ``fold`` validating, the others training.

    A config gives ``folds``; loading expands each run into one run per fold (``fold`` 0 … folds − 1), a
    replicate axis like ``seed`` (:func:`regdemo.config.loading.expand_folds`).
    """

    folds: int = Field(ge=2, le=MAX_FOLDS)
    fold: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _fold_in_range(self) -> CVConfig:
        if self.fold is not None and self.fold >= self.folds:
            raise FieldError(("fold",), f"must be < folds ({self.folds})", self.fold)
        return self


class DatasetConfig(_Strict):
    kind: Literal[DATASET_KINDS] = "moons"  # type: ignore[valid-type]
    n_samples: int = Field(100, ge=4)
    noise: NonNegFloat = 0.25
    random_state: int = Field(2, ge=0, lt=2**32)  # a NumPy seed (scikit-learn's generators take no other)
    validation_split: float = Field(0.2, gt=0, lt=1)
    # Share of the rows held out as a test set before validation_split is taken; 0: no test set.
    test_split: float = Field(0.0, ge=0, lt=1)
    # circles: make_circles' ratio of the inner circle's radius to the outer's; null is regdemo's 0.5.
    factor: float | None = Field(None, gt=0, lt=1, allow_inf_nan=False)
    # Input columns of pure noise after the two informative ones (regdemo.train.datasets.noise_columns).
    noise_features: int = Field(0, ge=0, le=MAX_NOISE_FEATURES)
    cv: CVConfig | None = None  # k-fold cross-validation instead of validation_split
    # kind csv: the file, its two input columns and its 0/1 label column, by header name. The loader
    # resolves ``path`` (relative to the config's folder), counts the rows into ``n_samples`` and records the
    # file's SHA-256 in ``sha256`` (a given sha256 must match the file): regdemo.config.userdata.
    path: str | None = None
    columns: Annotated[list[str], Field(min_length=2, max_length=2)] | None = None
    label: str | None = None
    sha256: str | None = Field(None, pattern=SHA256.pattern)

    def n_test(self) -> int:
        """Held-out test rows: the last ``n_samples − floor(n_samples·(1 − test_split))`` (0 when off)."""
        return self.n_samples - math.floor(self.n_samples * (1.0 - self.test_split))

    @model_validator(mode="after")
    def _kind_fields(self) -> DatasetConfig:
        if self.factor is not None and self.kind != "circles":
            raise FieldError(("factor",), f"only used when kind is circles; kind is {self.kind}", self.factor)
        for name in ("path", "columns", "label", "sha256"):
            given = getattr(self, name)
            if self.kind == "csv" and given is None and name != "sha256":
                raise FieldError((name,), "required when kind is csv", None)
            if self.kind != "csv" and given is not None:
                raise FieldError((name,), f"only used when kind is csv; kind is {self.kind}", given)
        if self.kind in PLAYGROUND_KINDS:
            if self.noise > MAX_PLAYGROUND_NOISE:
                reason = f"must be <= {MAX_PLAYGROUND_NOISE} for {self.kind} (Playground's slider / 100)"
                raise FieldError(("noise",), reason, self.noise)
            if self.kind != "playground_xor" and self.n_samples % 2:
                reason = f"must be even for {self.kind}: Playground draws n_samples / 2 points per class"
                raise FieldError(("n_samples",), reason, self.n_samples)
        return self

    @model_validator(mode="after")
    def _every_side_has_rows(self) -> DatasetConfig:
        n_test = self.n_test()
        if self.test_split > 0 and (n_test < 1 or n_test >= self.n_samples):
            reason = f"leaves {n_test} test rows of {self.n_samples}; the test set and the rest need at least one"
            raise FieldError(("test_split",), reason, self.test_split)
        n_rest = self.n_samples - n_test
        if self.cv is not None:  # the folds validate in turn; validation_split is not used
            if self.cv.folds > n_rest:
                reason = f"more folds than the {n_rest} rows to cut into folds"
                raise FieldError(("cv", "folds"), reason, self.cv.folds)
            return self
        n_train = math.floor(n_rest * (1.0 - self.validation_split))
        if n_train < 1 or n_train >= n_rest:
            rows = f"{n_rest} non-test rows" if n_test else f"{self.n_samples}"
            raise FieldError(
                ("validation_split",),
                f"leaves {n_train} training and {n_rest - n_train} validation rows of {rows}; both need at least one",
                self.validation_split,
            )
        return self


class RegularizerConfig(_Strict):
    kind: Literal["none", "l1", "l2", "l1_l2"] = "none"
    lambda_: NonNegFloat = Field(0.0, alias="lambda")
    l1: NonNegFloat | None = None
    l2: NonNegFloat | None = None
    apply_to_output: bool = False
    # Soft-threshold the L1 part after each optimizer step instead of following its subgradient; "rows": the
    # L1 part over the first kernel's rows, λ·Σ_inputs‖w_row‖₂ (group lasso: an input kept or dropped whole).
    proximal: bool | Literal["rows"] = False

    @model_validator(mode="after")
    def _l1_l2_strengths(self) -> RegularizerConfig:
        for name in ("l1", "l2"):
            given = getattr(self, name)
            if self.kind == "l1_l2" and given is None:
                raise FieldError((name,), "required when kind is l1_l2", None)
            if self.kind != "l1_l2" and given is not None:
                raise FieldError((name,), f"only used when kind is l1_l2; use lambda for kind {self.kind}", given)
        return self

    @model_validator(mode="after")
    def _proximal_needs_l1(self) -> RegularizerConfig:
        if self.proximal and self.kind not in ("l1", "l1_l2"):
            reason = f"only for kind l1 or l1_l2 (it applies the L1 part); kind is {self.kind}"
            raise FieldError(("proximal",), reason, True)
        return self

    def strengths(self) -> tuple[float, float]:
        """The Keras ``(l1, l2)`` factors: penalty = l1·Σ|w| + l2·Σw²."""
        return {
            "none": (0.0, 0.0),
            "l1": (self.lambda_, 0.0),
            "l2": (0.0, self.lambda_),
            "l1_l2": (self.l1 or 0.0, self.l2 or 0.0),
        }[self.kind]

    def label(self) -> str:
        """Short human label, e.g. ``L2 λ=0.001``, ``L1 λ=0.001 (proximal)`` or ``no regularization``."""
        if self.kind == "none":
            return "no regularization"
        if self.kind == "l1_l2":
            text = f"L1 λ={self.l1:g} + L2 λ={self.l2:g}"
        else:
            text = f"{self.kind.upper()} λ={self.lambda_:g}"
        return text + {False: "", True: " (proximal)", "rows": " (proximal, rows)"}[self.proximal]


class ModelConfig(_Strict):
    hidden_units: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [128, 128])
    activation: Literal["relu", "tanh", "sigmoid", "elu", "gelu", "linear"] = "relu"
    regularizer: RegularizerConfig = RegularizerConfig()
    # Dropout rate after each hidden Dense layer (the lecture's remedy: 0.5); 0 adds no Dropout layer.
    dropout: float = Field(0.0, ge=0, lt=1, allow_inf_nan=False)


class EarlyStoppingConfig(_Strict):
    """Keras ``EarlyStopping`` (mode min for losses, max for accuracies; no baseline; from epoch 0)."""

    patience: int = Field(20, ge=0)
    min_delta: NonNegFloat = 0.0
    monitor: Literal["val_loss", "val_data_loss", "loss", "data_loss", "val_accuracy", "accuracy"] = "val_loss"
    restore_best_weights: bool = False


# Keras 3's AdamW default weight_decay (keras/src/optimizers/adamw.py), what optimizer adamw decays by
# when training.weight_decay is not given.
ADAMW_DECAY = 0.004


class TrainingConfig(_Strict):
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    learning_rate: float = Field(0.01, gt=0, allow_inf_nan=False)
    # Decoupled weight decay (Keras 3's optimizer ``weight_decay``): w ← w − learning_rate·weight_decay·w each
    # step, on the kernels only (regdemo.train.decay). null: none, or ADAMW_DECAY for adamw.
    weight_decay: NonNegFloat | None = None
    epochs: int = Field(2000, ge=1)
    batch_size: int = Field(32, ge=1)
    engine: Literal["compiled", "fit"] = "compiled"
    # The batch order: an ORDERS string, or true/false (kept as written, so a saved config still
    # matches its file; :meth:`batch_order` resolves them).
    shuffle: bool | Literal[ORDERS] = True  # type: ignore[valid-type]
    early_stopping: EarlyStoppingConfig | None = None  # null or absent: train every epoch

    @field_validator("shuffle", mode="before")
    @classmethod
    def _order(cls, value: Any) -> Any:
        if isinstance(value, bool) or value in ORDERS:
            return value
        raise ValueError("must be epoch, fixed or none (or true: the engine's own order; false: none)")

    def decay(self) -> float:
        """The weight decay each step applies: ``weight_decay``, or when not given ADAMW_DECAY for adamw and
        0 (none) for the other optimizers."""
        if self.weight_decay is not None:
            return self.weight_decay
        return ADAMW_DECAY if self.optimizer == "adamw" else 0.0

    def batch_order(self) -> str:
        """The resolved order, one of ORDERS. ``true`` is the engine's own: ``epoch`` for the compiled
        engine, ``fixed`` for ``fit`` (what ``model.fit(shuffle=True)`` does once a global seed is set)."""
        if isinstance(self.shuffle, str):
            return self.shuffle
        if not self.shuffle:
            return "none"
        return "epoch" if self.engine == "compiled" else "fixed"


class BoundaryPlotConfig(_Strict):
    # None: the data's range widened by 1 on each side (what mlxtend and the lecture's grid do)
    xlim: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    ylim: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    resolution: int = Field(300, ge=2, le=2000)

    @field_validator("xlim", "ylim")
    @classmethod
    def _increasing(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError("must be [low, high] with low < high")
        return value


class WeightsPlotConfig(_Strict):
    layers: Literal["first", "all"] = "first"
    near_zero_tol: float = Field(1e-3, gt=0, allow_inf_nan=False)


# Upper bound of plots.snapshots: each snapshot keeps a (≤ 100 × 100) grid and the first kernel in
# plot_data.npz and one frame of training.gif, so a config cannot ask for a huge array or film.
MAX_SNAPSHOTS = 200


class PlotsConfig(_Strict):
    boundary: BoundaryPlotConfig = BoundaryPlotConfig()
    weights: WeightsPlotConfig = WeightsPlotConfig()
    # The training as a film: the decision grid and the first kernel at this many evenly spaced
    # epochs (regdemo.train.snapshots.snapshot_epochs); 0: off.
    snapshots: int = Field(0, ge=0, le=MAX_SNAPSHOTS)


class MetricsConfig(_Strict):
    # The share of the last epochs whose medians form metrics.json's ``window`` (at least one epoch).
    window_fraction: float = Field(0.1, gt=0, le=1, allow_inf_nan=False)


class RunConfig(_Strict):
    """One fully resolved run: what the rest of the package consumes."""

    name: str
    experiment: str
    variant: str = ""  # the runs: entry this run came from
    sweep: dict[str, Any] = Field(default_factory=dict)  # dotted field path → this run's swept value
    seed: int = Field(2, ge=0, lt=2**32)  # keras.utils.set_random_seed takes NumPy seeds only
    dataset: DatasetConfig = DatasetConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    plots: PlotsConfig = PlotsConfig()
    metrics: MetricsConfig = MetricsConfig()

    @model_validator(mode="before")
    @classmethod
    def _playground_box(cls, data: Any) -> Any:
        """A Playground kind's boundary plot defaults to Playground's [-6, 6] box (written into the config)."""
        if not isinstance(data, dict) or not isinstance(data.get("dataset"), dict):
            return data
        if data["dataset"].get("kind") not in PLAYGROUND_KINDS:
            return data
        plots = data.get("plots", {})
        boundary = plots.get("boundary", {}) if isinstance(plots, dict) else None
        if not isinstance(boundary, dict):  # a PlotsConfig already built, or a bad value the schema reports
            return data
        box = {axis: list(PLAYGROUND_BOX) for axis in ("xlim", "ylim") if axis not in boundary}
        return {**data, "plots": {**plots, "boundary": {**boundary, **box}}} if box else data

    @field_validator("name", "experiment")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not SAFE_NAME.match(value):
            raise ValueError(SAFE_NAME_RULE)
        return value

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data, with the YAML's own key names (``lambda``)."""
        return self.model_dump(by_alias=True, mode="json")


def dotted_fields(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A resolved run config as :meth:`RunConfig.to_dict` gives it, flattened: dotted field path → value
    (``{"model.regularizer.lambda": 0.01, "model.hidden_units": [128, 128], ...}``), in the config's order.
    Lists and empty mappings are values; the ``sweep`` mapping's dotted keys are prefixed like any other."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat |= dotted_fields(value, f"{path}.")
        else:
            flat[path] = value
    return flat


class FieldError(ValueError):
    """Raised inside validators to point at a sub-field rather than the whole model."""

    def __init__(self, loc: Key, reason: str, value: Any) -> None:
        super().__init__(reason)
        self.loc, self.reason, self.value = loc, reason, value
