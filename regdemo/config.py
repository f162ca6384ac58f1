"""YAML → typed, validated experiment config, and its expansion into runs.

A config file is one experiment: shared settings plus named run variants. Each variant's keys are
deep-merged over the shared ones and the result is validated by the pydantic schema below. Every
error becomes one :class:`ConfigError` line ``file:LINE: field.path: reason (got VALUE)`` whose line
points at the YAML node the bad value came from (the run's override or the shared section).
Reading the file within bounds is :mod:`regdemo.yamlfile`'s; the sweep's axes, run count and run
names are :mod:`regdemo.sweep`'s.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from regdemo.checkspec import CheckConfig, ResolvedCheck, Rule, SelectionError, resolve
from regdemo.errors import ConfigError
from regdemo.sweep import check_run_count, check_unique_names, sweep_axes, sweep_run_name
from regdemo.yamlfile import Key, dotted, load_yaml, read_text, show

SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
DATASET_KINDS = ("moons", "circles", "xor", "gaussians", "spiral", "linear")
# training.shuffle: reshuffle every epoch, replay one permutation drawn once, or the stored order.
ORDERS = ("epoch", "fixed", "none")
# --smoke keeps everything but these: few epochs, a coarse boundary grid.
SMOKE_EPOCHS = 20
SMOKE_RESOLUTION = 60
# Runs one config may make unless --max-runs says otherwise: checked by counting, before expansion.
MAX_RUNS = 100_000
# A further judgement of each resolved run: None, or the field to blame and why (see load_experiment).
RunCheck = Callable[["RunConfig"], "tuple[Key, str] | None"]


class _Strict(BaseModel):
    # strict: YAML already types its scalars, so "0.1" (a quoted string) is an error, not a float.
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)


NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class DatasetConfig(_Strict):
    kind: Literal[DATASET_KINDS] = "moons"  # type: ignore[valid-type]
    n_samples: int = Field(100, ge=4)
    noise: NonNegFloat = 0.25
    random_state: int = 2
    validation_split: float = Field(0.2, gt=0, lt=1)
    # Share of the rows held out as a test set before validation_split is taken; 0: no test set.
    test_split: float = Field(0.0, ge=0, lt=1)

    def n_test(self) -> int:
        """Held-out test rows: the last ``n_samples − floor(n_samples·(1 − test_split))`` (0 when off)."""
        return self.n_samples - math.floor(self.n_samples * (1.0 - self.test_split))

    @model_validator(mode="after")
    def _every_side_has_rows(self) -> DatasetConfig:
        n_test = self.n_test()
        if self.test_split > 0 and (n_test < 1 or n_test >= self.n_samples):
            reason = f"leaves {n_test} test rows of {self.n_samples}; the test set and the rest need at least one"
            raise _FieldError(("test_split",), reason, self.test_split)
        n_rest = self.n_samples - n_test
        n_train = math.floor(n_rest * (1.0 - self.validation_split))
        if n_train < 1 or n_train >= n_rest:
            rows = f"{n_rest} non-test rows" if n_test else f"{self.n_samples}"
            raise _FieldError(
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
    # Soft-threshold the L1 part after each optimizer step instead of following its subgradient.
    proximal: bool = False

    @model_validator(mode="after")
    def _l1_l2_strengths(self) -> RegularizerConfig:
        for name in ("l1", "l2"):
            given = getattr(self, name)
            if self.kind == "l1_l2" and given is None:
                raise _FieldError((name,), "required when kind is l1_l2", None)
            if self.kind != "l1_l2" and given is not None:
                raise _FieldError((name,), f"only used when kind is l1_l2; use lambda for kind {self.kind}", given)
        return self

    @model_validator(mode="after")
    def _proximal_needs_l1(self) -> RegularizerConfig:
        if self.proximal and self.kind not in ("l1", "l1_l2"):
            reason = f"only for kind l1 or l1_l2 (it applies the L1 part); kind is {self.kind}"
            raise _FieldError(("proximal",), reason, True)
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
        return text + (" (proximal)" if self.proximal else "")


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


class TrainingConfig(_Strict):
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    learning_rate: float = Field(0.01, gt=0, allow_inf_nan=False)
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


class PlotsConfig(_Strict):
    boundary: BoundaryPlotConfig = BoundaryPlotConfig()
    weights: WeightsPlotConfig = WeightsPlotConfig()


class MetricsConfig(_Strict):
    # The share of the last epochs whose medians form metrics.json's ``window`` (at least one epoch).
    window_fraction: float = Field(0.1, gt=0, le=1, allow_inf_nan=False)


class RunConfig(_Strict):
    """One fully resolved run: what the rest of the package consumes."""

    name: str
    experiment: str
    variant: str = ""  # the runs: entry this run came from
    sweep: dict[str, Any] = Field(default_factory=dict)  # dotted field path → this run's swept value
    seed: int = 2
    dataset: DatasetConfig = DatasetConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    plots: PlotsConfig = PlotsConfig()
    metrics: MetricsConfig = MetricsConfig()

    @field_validator("name", "experiment")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not SAFE_NAME.match(value):
            raise ValueError("must be made of letters, digits, '.', '_' and '-' only")
        return value

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data, with the YAML's own key names (``lambda``)."""
        return self.model_dump(by_alias=True, mode="json")


@dataclass(frozen=True)
class Experiment:
    """A validated config file: its name, source, and resolved runs in file order."""

    name: str
    source: str
    runs: list[RunConfig] = field(default_factory=list)
    checks: list[ResolvedCheck] = field(default_factory=list)  # the checks: section, resolved to run names
    smoke: bool = False


class _FieldError(ValueError):
    """Raised inside validators to point at a sub-field rather than the whole model."""

    def __init__(self, loc: Key, reason: str, value: Any) -> None:
        super().__init__(reason)
        self.loc, self.reason, self.value = loc, reason, value


# ---------------------------------------------------------------- merging and errors


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``over`` merged in: mappings merge key by key, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _schema_at(loc: Key) -> type[BaseModel] | None:
    """The pydantic model class that holds the field at ``loc`` (for did-you-mean)."""
    cls: Any = RunConfig
    for part in loc:
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
            return None
        fields = {f.alias or n: f for n, f in cls.model_fields.items()}
        if part not in fields:
            return None
        cls = fields[part].annotation
        # an optional block (``X | None``): look inside it
        cls = next((a for a in typing.get_args(cls) if isinstance(a, type) and issubclass(a, BaseModel)), cls)
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


def _reason(err: dict[str, Any], loc: Key) -> str:
    """Turn one pydantic error into this project's wording."""
    kind, ctx = err["type"], err.get("ctx", {})
    if kind == "extra_forbidden":
        parent = _schema_at(loc[:-1])
        known = [f.alias or n for n, f in parent.model_fields.items()] if parent else []
        if loc[:-1] == ():  # the file's top level: a run's fields less those regdemo fills in, plus runs
            known = [k for k in known if k not in ("experiment", "variant")] + ["runs"]
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(sorted(known))}"
        return "unknown key" + hint
    simple = {
        "greater_than_equal": "must be >= {ge}",
        "greater_than": "must be > {gt}",
        "less_than": "must be < {lt}",
        "less_than_equal": "must be <= {le}",
        "finite_number": "must be finite",
        "missing": "required",
        "int_type": "must be an integer",
        "float_type": "must be a number",
        "bool_type": "must be true or false",
        "string_type": "must be a string",
        "list_type": "must be a list",
        "model_type": "must be a mapping",
        "dict_type": "must be a mapping",
        "too_short": "must have {min_length} items",
        "too_long": "must have {max_length} items",
    }
    if kind == "literal_error":
        return "must be one of " + ctx.get("expected", "").replace("'", "")
    if kind in simple:
        return simple[kind].format(**ctx)
    return str(err["msg"]).removeprefix("Value error, ")


@dataclass(frozen=True)
class _Layer:
    """One source of a run's values: where its keys sit in the file and how to name them.

    Layers are searched in precedence order (--set, sweep item, run variant, shared section), so an
    error points at the value that actually won the merge.
    """

    lines: dict[Key, int]
    render: Callable[[Key], str]
    root_counts: bool = False  # may the layer's own root node (key ()) claim an error?
    # A --set or a sweep item sets one field: it claims errors on that field's path (at, above or
    # below it) but not a sibling's (model.dropout set, model.hidden_units wrong).
    field: Key | None = None

    def find(self, loc: Key) -> tuple[str, int] | None:
        if self.field is not None and loc[: len(self.field)] != self.field[: len(loc)]:
            return None
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in self.lines and (cut > 0 or self.root_counts):
                return self.render(loc), self.lines[loc[:cut]]
        return None


def _validate_run(data: dict[str, Any], layers: list[_Layer], source: str) -> RunConfig:
    """Validate one merged run; raise a one-line ConfigError for the first problem."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc: Key = tuple(err["loc"])
        value = err.get("input")
        original = err.get("ctx", {}).get("error")
        reason = _reason(err, loc)
        if isinstance(original, _FieldError):
            loc, reason, value = loc + original.loc, original.reason, original.value
        where, line = next(filter(None, (layer.find(loc) for layer in layers)), (dotted(loc), 1))
        got = "" if err["type"] == "missing" or value is None else f" (got {show(value)})"
        at = f"{source}:{line}" if line else source
        raise ConfigError(f"{at}: {where}: {reason}{got}") from None


def parse_set(assignment: str, source: str) -> tuple[Key, Any]:
    """``"model.regularizer.lambda=0.01"`` → ``(("model", "regularizer", "lambda"), 0.01)``.

    The value is read as YAML, so ``5`` is an int, ``1e-3`` a float and ``[64, 64]`` a list.
    """
    path, sep, raw = assignment.partition("=")
    key = tuple(path.strip().split("."))
    if not sep or not all(key):
        raise ConfigError(f"{source}: --set {assignment}: expected key.path=value")
    if key[0] in ("name", "runs", "experiment"):
        raise ConfigError(f"{source}: --set {path}: cannot be overridden; edit the file")
    value, _ = load_yaml(raw, f"{source}: --set {path}") if raw.strip() else ("", {})
    return key, value


def _nest(key: Key, value: Any) -> dict[str, Any]:
    for part in reversed(key):
        value = {part: value}
    return value


def load_experiment(
    path: str | Path,
    sets: list[str] = (),
    smoke: bool = False,
    max_runs: int = MAX_RUNS,
    check: RunCheck | None = None,
) -> Experiment:
    """Read, merge and validate a config file into an :class:`Experiment`.

    Every ``runs:`` variant is combined with every point of the ``sweep:`` grid (cartesian product,
    in file order). Precedence, lowest first: shared keys, the variant's keys, the sweep point,
    ``sets`` (``key.path=value`` overrides for every run). ``smoke`` then caps epochs and the
    boundary grid for CI without touching anything else. More than ``max_runs`` runs is an error,
    found by counting before any run is built. The file is read within the bounds of
    :mod:`regdemo.yamlfile`. ``check`` (e.g. :func:`regdemo.resources.preflight`) then judges each
    resolved run; what it blames is reported like a schema error. The ``checks:`` section is resolved
    against the runs (:mod:`regdemo.checkspec`).
    """
    source = str(path)
    data, lines = load_yaml(read_text(path, source), source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: (top level): must be a mapping (got {show(data)})")
    for reserved in ("experiment", "variant"):
        if reserved in data:
            raise ConfigError(f"{source}:{lines[(reserved,)]}: {reserved}: unknown key (got {show(data[reserved])})")
    overrides = [parse_set(s, source) for s in sets]
    axes = sweep_axes(data, lines, source)
    shared = {k: v for k, v in data.items() if k not in ("name", "runs", "sweep", "checks")}
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        line = lines.get(("name",), 1)
        raise ConfigError(
            f"{source}:{line}: name: must be made of letters, digits, '.', '_' and '-' only (got {show(name)})"
        )
    runs = data.get("runs", [{"name": name}])
    if not isinstance(runs, list) or not runs:
        raise ConfigError(f"{source}:{lines.get(('runs',), 1)}: runs: must be a non-empty list (got {show(runs)})")
    check_run_count(len(runs), axes, lines, source, max_runs)
    set_layers = [
        _Layer({key[:cut]: 0 for cut in range(1, len(key) + 1)}, lambda loc: f"--set {dotted(loc)}", field=key)
        for key, _ in overrides
    ]
    for i, variant in enumerate(runs):
        if not isinstance(variant, dict) or "name" not in variant:
            raise ConfigError(
                f"{source}:{lines.get(('runs', i), 1)}: {dotted(('runs', i))}: must be a mapping with a name"
            )
        if not isinstance(variant["name"], str) or not SAFE_NAME.match(variant["name"]):
            line = lines.get(("runs", i, "name"), 1)
            reason = "must be made of letters, digits, '.', '_' and '-' only"
            raise ConfigError(f"{source}:{line}: {dotted(('runs', i, 'name'))}: {reason} (got {show(variant['name'])})")
    _check_unique_variants(runs, lines, source)
    resolved: list[RunConfig] = []
    for i, variant in enumerate(runs):
        if "sweep" in variant:
            line = lines[("runs", i, "sweep")]
            raise ConfigError(f"{source}:{line}: runs[{i}].sweep: a sweep belongs at the top level")
        run_lines = {k[2:]: v for k, v in lines.items() if k[:2] == ("runs", i) and len(k) > 2}
        base = deep_merge(shared, {k: v for k, v in variant.items() if k != "name"})
        variant_layers = [
            _Layer(run_lines, lambda loc, i=i: dotted(("runs", i, *loc))),
            _Layer(lines, dotted, root_counts=True),
        ]
        for combo in itertools.product(*(range(len(axis.values)) for axis in axes)):
            merged, sweep_layers, point = base, [], {}
            for axis, j in zip(axes, combo, strict=True):
                merged = deep_merge(merged, _nest(axis.key, axis.values[j]))
                point[axis.path] = axis.values[j]
                item_lines = {axis.key[:cut]: axis.lines[j] for cut in range(1, len(axis.key) + 1)}
                sweep_layers.append(_Layer(item_lines, lambda loc, p=axis.path, j=j: f"sweep.{p}[{j}]", field=axis.key))
            for key, value in overrides:
                merged = deep_merge(merged, _nest(key, value))
            prefix = variant["name"] if len(runs) > 1 else None
            own_name = sweep_run_name(prefix, point) if axes else variant["name"]
            merged = {**merged, "name": own_name, "experiment": name, "variant": variant["name"], "sweep": point}
            if smoke:
                _shrink(merged)
            layers = [*set_layers, *reversed(sweep_layers), *variant_layers]
            resolved.append(_validate_run(merged, layers, source))
            if check is not None and (problem := check(resolved[-1])):
                where, line = next(filter(None, (layer.find(problem[0]) for layer in layers)), ("", 1))
                raise ConfigError(f"{source}{f':{line}' if line else ''}: {where or dotted(problem[0])}: {problem[1]}")
    check_unique_names([run.name for run in resolved], lines, source)
    checks = _resolve_checks(data.get("checks", []), resolved, lines, source)
    return Experiment(name=resolved[0].experiment, source=source, runs=resolved, checks=checks, smoke=smoke)


def _line(lines: dict[Key, int], key: Key) -> int:
    """The line of ``key``, else of its nearest parent present in the file."""
    while key and key not in lines:
        key = key[:-1]
    return lines.get(key, 1)


def _check_error(source: str, lines: dict[Key, int], key: Key, reason: str) -> ConfigError:
    return ConfigError(f"{source}:{_line(lines, key)}: {dotted(key)}: {reason}")


def _resolve_checks(items: Any, runs: list[RunConfig], lines: dict[Key, int], source: str) -> list[ResolvedCheck]:
    """Validate the ``checks:`` list and resolve every selection to run names; errors name checks[i].field."""
    if not isinstance(items, list):
        raise _check_error(source, lines, ("checks",), f"must be a list (got {show(items)})")
    as_data = [run.to_dict() for run in runs]
    resolved, names = [], set()
    for i, item in enumerate(items):
        at: Key = ("checks", i)
        try:
            check = CheckConfig.model_validate(item)
            rules_at = [(*at, "all", j) for j in range(len(check.all))] if check.all is not None else [at]
            for j, rule in enumerate(check.all if check.all is not None else [dict(check.model_extra or {})]):
                try:
                    Rule.model_validate(rule)
                except ValidationError as exc:
                    raise _rule_error(exc, rules_at[j], source, lines) from None
            resolved.append(resolve(check, as_data, dotted(at)))
        except ValidationError as exc:
            raise _rule_error(exc, at, source, lines) from None
        except SelectionError as exc:
            raise ConfigError(f"{source}:{_line(lines, (*at, 'runs'))}: {exc.field}: {exc}") from None
        except ValueError as exc:
            raise _check_error(source, lines, at, str(exc)) from None
        if check.name in names:
            raise _check_error(source, lines, (*at, "name"), f"duplicate check name (got {check.name!r})")
        names.add(check.name)
    return resolved


def _rule_error(exc: ValidationError, at: Key, source: str, lines: dict[Key, int]) -> ConfigError:
    """A check's first pydantic error as one line."""
    err = exc.errors(include_url=False)[0]
    key: Key = (*at, *err["loc"])
    if err["type"] == "extra_forbidden":
        return _check_error(source, lines, key, f"unknown key; known keys: {', '.join(sorted(Rule.model_fields))}")
    value = err.get("input")
    got = "" if err["type"] == "missing" or isinstance(value, dict) else f" (got {show(value)})"
    return _check_error(source, lines, key, _reason(err, key) + got)


def _shrink(merged: dict[str, Any]) -> None:
    """--smoke: cap epochs and the grid resolution, in place."""
    training = merged.setdefault("training", {})
    boundary = merged.setdefault("plots", {}).setdefault("boundary", {})
    if isinstance(training, dict):
        epochs = training.get("epochs", TrainingConfig().epochs)
        training["epochs"] = min(epochs, SMOKE_EPOCHS) if isinstance(epochs, int) else epochs
    if isinstance(boundary, dict):
        res = boundary.get("resolution", BoundaryPlotConfig().resolution)
        boundary["resolution"] = min(res, SMOKE_RESOLUTION) if isinstance(res, int) else res


def _check_unique_variants(runs: list[Any], lines: dict[Key, int], source: str) -> None:
    """Variant names must be unique (checked before expansion, pointing at the second one)."""
    seen: set[Any] = set()
    for i, variant in enumerate(runs):
        if variant["name"] in seen:
            line = lines.get(("runs", i, "name"), 1)
            raise ConfigError(f"{source}:{line}: runs[{i}].name: duplicate run name (got {variant['name']!r})")
        seen.add(variant["name"])
