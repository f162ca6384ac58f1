"""YAML → typed, validated experiment config, and its expansion into runs.

A config file is one experiment: shared settings plus named run variants. Each variant's keys are
deep-merged over the shared ones and the result is validated by the schema (:mod:`regdemo.schema`). Every
error becomes one :class:`ConfigError` line ``file:LINE: field.path: reason (got VALUE)`` whose line
points at the YAML node the bad value came from (the run's override or the shared section).
Reading the file within bounds is :mod:`regdemo.yamlfile`'s; the sweep's axes, run count and run
names are :mod:`regdemo.sweep`'s.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from regdemo.config.checkspec import CheckConfig, ResolvedCheck, Rule, SelectionError, resolve
from regdemo.config.schema import SAFE_NAME, BoundaryPlotConfig, FieldError, RunConfig, TrainingConfig
from regdemo.config.sweep import check_run_count, check_unique_names, sweep_axes, sweep_run_name
from regdemo.config.yamlfile import Key, dotted, load_yaml, read_text, show
from regdemo.errors import ConfigError

# --smoke keeps everything but these: few epochs, a coarse boundary grid, a short film.
SMOKE_EPOCHS = 20
SMOKE_RESOLUTION = 60
SMOKE_SNAPSHOTS = 5
# Runs one config may make unless --max-runs says otherwise: checked by counting, before expansion.
MAX_RUNS = 100_000
# A further judgement of each resolved run: None, or the field to blame and why (see load_experiment).
RunCheck = Callable[["RunConfig"], "tuple[Key, str] | None"]


@dataclass(frozen=True)
class Experiment:
    """A validated config file: its name, source, and resolved runs in file order."""

    name: str
    source: str
    runs: list[RunConfig] = field(default_factory=list)
    checks: list[ResolvedCheck] = field(default_factory=list)  # the checks: section, resolved to run names
    smoke: bool = False


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
        if isinstance(original, FieldError):
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
    """--smoke: cap epochs, the grid resolution and the film's snapshots, in place."""
    training = merged.setdefault("training", {})
    plots = merged.setdefault("plots", {})
    boundary = plots.setdefault("boundary", {}) if isinstance(plots, dict) else None
    if isinstance(training, dict):
        epochs = training.get("epochs", TrainingConfig().epochs)
        training["epochs"] = min(epochs, SMOKE_EPOCHS) if isinstance(epochs, int) else epochs
    if isinstance(boundary, dict):
        res = boundary.get("resolution", BoundaryPlotConfig().resolution)
        boundary["resolution"] = min(res, SMOKE_RESOLUTION) if isinstance(res, int) else res
    if isinstance(plots, dict) and isinstance(plots.get("snapshots"), int):
        plots["snapshots"] = min(plots["snapshots"], SMOKE_SNAPSHOTS)


def _check_unique_variants(runs: list[Any], lines: dict[Key, int], source: str) -> None:
    """Variant names must be unique (checked before expansion, pointing at the second one)."""
    seen: set[Any] = set()
    for i, variant in enumerate(runs):
        if variant["name"] in seen:
            line = lines.get(("runs", i, "name"), 1)
            raise ConfigError(f"{source}:{line}: runs[{i}].name: duplicate run name (got {variant['name']!r})")
        seen.add(variant["name"])
