"""YAML → typed, validated experiment config (:class:`ExperimentConfig`), as a pipeline of named steps.

:func:`load_experiment` is :func:`read_document` (the file within bounds, its names, variants and sweep axes)
→ :func:`expand` (every ``runs:`` variant × every sweep point, a :class:`Draft` each) → :func:`override`
(``sets``, in every run) → :func:`read_user_data` (``kind: csv``: each file read, its rows and hash into the
run) → :func:`shrink` (``--smoke``) → :func:`validate` (the schema, :mod:`regdemo.config.schema`) →
:func:`expand_folds` (``dataset.cv``: one run per fold) → :func:`preflight` (a judgement of each resolved
run, e.g. memory) → :func:`resolve_select` (the ``select:`` section) → :func:`resolve_checks` (the
``checks:`` section against the runs). Each step is a function of the one before's result; every error is one
:class:`ConfigError` line ``file:LINE: field.path: reason (got VALUE)`` whose line points at the YAML node the
bad value came from (:mod:`regdemo.config.locate`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from regdemo.config import shipped, userdata
from regdemo.config.checkspec import CheckConfig, ResolvedCheck, Rule, SelectionError, resolve
from regdemo.config.locate import Layer, line_of, located, reason, validation_error
from regdemo.config.overrides import deep_merge, nest, override_keys
from regdemo.config.schema import SAFE_NAME, SAFE_NAME_RULE, BoundaryPlotConfig, FieldError, RunConfig, TrainingConfig
from regdemo.config.selectspec import ResolvedSelection, SelectConfig, SelectError, resolve_selection
from regdemo.config.sweep import SweepAxis, check_run_count, check_unique_names, sweep_axes, sweep_run_name
from regdemo.config.yamlfile import Key, dotted, load_yaml, read_text, show
from regdemo.errors import ConfigError

# --smoke keeps everything but these: few epochs, a coarse boundary grid, a short film.
SMOKE_EPOCHS = 20
SMOKE_RESOLUTION = 60
SMOKE_SNAPSHOTS = 5
# Runs one config may make unless --max-runs says otherwise: checked by counting, before expansion.
MAX_RUNS = 100_000
# A further judgement of each resolved run: None, or the field to blame and why (see preflight).
RunCheck = Callable[[RunConfig], "tuple[Key, str] | None"]


@dataclass(frozen=True)
class ExperimentConfig:
    """A validated config file: its name, source, and resolved runs in file order."""

    name: str
    source: str
    runs: list[RunConfig] = field(default_factory=list)
    checks: list[ResolvedCheck] = field(default_factory=list)  # the checks: section, resolved to run names
    smoke: bool = False
    select: ResolvedSelection | None = None  # the select: section, resolved to run names


@dataclass(frozen=True)
class Document:
    """A config file read within bounds (:mod:`regdemo.config.yamlfile`), its shape checked: the experiment's
    name, its ``runs:`` variants and sweep axes, and the line of every value."""

    source: str
    data: dict[str, Any]
    lines: dict[Key, int]
    name: str
    variants: list[dict[str, Any]]
    axes: list[SweepAxis]


@dataclass(frozen=True)
class Draft:
    """One run before validation: its merged values, and the layers they came from in precedence order
    (``--set``, sweep items, its variant, the shared section), which locate an error."""

    data: dict[str, Any]
    layers: list[Layer]


def read_document(path: str | Path, max_runs: int = MAX_RUNS) -> Document:
    """Read ``path`` and check its shape: a mapping, a safe name, a non-empty list of uniquely and safely
    named variants, a sweep of lists; more than ``max_runs`` runs is an error, found by counting. A bare name
    that is no file is a shipped config's (:func:`regdemo.config.shipped.resolve`)."""
    path = shipped.resolve(path)
    source = str(path)
    data, lines = load_yaml(read_text(path, source), source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: (top level): must be a mapping (got {show(data)})")
    for reserved in ("experiment", "variant"):
        if reserved in data:
            raise ConfigError(f"{source}:{lines[(reserved,)]}: {reserved}: unknown key (got {show(data[reserved])})")
    axes = sweep_axes(data, lines, source)
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        raise ConfigError(f"{source}:{lines.get(('name',), 1)}: name: {SAFE_NAME_RULE} (got {show(name)})")
    variants = data.get("runs", [{"name": name}])
    if not isinstance(variants, list) or not variants:
        raise ConfigError(f"{source}:{lines.get(('runs',), 1)}: runs: must be a non-empty list (got {show(variants)})")
    check_run_count(len(variants), axes, lines, source, max_runs)
    _check_variants(variants, lines, source)
    return Document(source, data, lines, name, variants, axes)


def _check_variants(variants: list[Any], lines: dict[Key, int], source: str) -> None:
    """Each variant a mapping with a safe name, the names unique, no sweep inside one."""
    for i, variant in enumerate(variants):
        if not isinstance(variant, dict) or "name" not in variant:
            raise ConfigError(
                f"{source}:{lines.get(('runs', i), 1)}: {dotted(('runs', i))}: must be a mapping with a name"
            )
        if not isinstance(variant["name"], str) or not SAFE_NAME.match(variant["name"]):
            line = lines.get(("runs", i, "name"), 1)
            raise ConfigError(
                f"{source}:{line}: {dotted(('runs', i, 'name'))}: {SAFE_NAME_RULE} (got {show(variant['name'])})"
            )
    seen: set[Any] = set()
    for i, variant in enumerate(variants):
        if variant["name"] in seen:
            line = lines.get(("runs", i, "name"), 1)
            raise ConfigError(f"{source}:{line}: runs[{i}].name: duplicate run name (got {variant['name']!r})")
        seen.add(variant["name"])
    for i, variant in enumerate(variants):
        if "sweep" in variant:
            raise ConfigError(
                f"{source}:{lines[('runs', i, 'sweep')]}: runs[{i}].sweep: a sweep belongs at the top level"
            )


def expand(doc: Document) -> list[Draft]:
    """Every variant crossed with every point of the sweep grid (cartesian product, in file order), each
    merged over the shared section and named (``variant``, or :func:`regdemo.config.sweep.sweep_run_name`)."""
    shared = {k: v for k, v in doc.data.items() if k not in ("name", "runs", "sweep", "checks", "select")}
    drafts = []
    for i, variant in enumerate(doc.variants):
        run_lines = {k[2:]: v for k, v in doc.lines.items() if k[:2] == ("runs", i) and len(k) > 2}
        base = deep_merge(shared, {k: v for k, v in variant.items() if k != "name"})
        variant_layers = [
            Layer(run_lines, lambda loc, i=i: dotted(("runs", i, *loc))),
            Layer(doc.lines, dotted, root_counts=True),
        ]
        for combo in itertools.product(*(range(len(axis.values)) for axis in doc.axes)):
            merged, sweep_layers, point = base, [], {}
            for axis, j in zip(doc.axes, combo, strict=True):
                merged = deep_merge(merged, nest(axis.key, axis.values[j]))
                point[axis.path] = axis.values[j]
                item_lines = {axis.key[:cut]: axis.lines[j] for cut in range(1, len(axis.key) + 1)}
                sweep_layers.append(Layer(item_lines, lambda loc, p=axis.path, j=j: f"sweep.{p}[{j}]", field=axis.key))
            prefix = variant["name"] if len(doc.variants) > 1 else None
            own_name = sweep_run_name(prefix, point) if doc.axes else variant["name"]
            merged = {**merged, "name": own_name, "experiment": doc.name, "variant": variant["name"], "sweep": point}
            drafts.append(Draft(merged, [*reversed(sweep_layers), *variant_layers]))
    return drafts


def override(drafts: list[Draft], overrides: Mapping[str, Any], source: str) -> list[Draft]:
    """``overrides`` (field path → value) merged into every run, above everything the file says."""
    pairs = override_keys(overrides, source)
    if not pairs:
        return drafts
    layers = [
        Layer({key[:cut]: 0 for cut in range(1, len(key) + 1)}, lambda loc: f"--set {dotted(loc)}", field=key)
        for key, _ in pairs
    ]
    result = []
    for draft in drafts:
        data = draft.data
        for key, value in pairs:
            data = deep_merge(data, nest(key, value))
        result.append(
            Draft(
                {**data, **{k: draft.data[k] for k in ("name", "experiment", "variant", "sweep")}},
                [*layers, *draft.layers],
            )
        )
    return result


def read_user_data(drafts: list[Draft], source: str) -> list[Draft]:
    """``kind: csv``: every run's file read within bounds (once per file), its resolved path, row count
    (``n_samples``) and SHA-256 written into the run (:func:`regdemo.config.userdata.complete`), so config.yaml
    records which data a run saw. A bad file is one line naming the file, row and column."""
    cache: dict[tuple, userdata.UserPoints] = {}
    done = []
    for draft in drafts:
        dataset = draft.data.get("dataset")
        if not isinstance(dataset, dict) or dataset.get("kind") != "csv":
            done.append(draft)
            continue
        try:
            filled = userdata.complete(dataset, Path(source).parent, cache)
        except FieldError as exc:
            raise located(
                draft.layers, ("dataset", *exc.loc), source, f"{exc.reason} (got {show(exc.value)})"
            ) from None
        done.append(Draft({**draft.data, "dataset": filled}, draft.layers))
    return done


def shrink(drafts: list[Draft]) -> list[Draft]:
    """--smoke: epochs, the grid resolution and the film's snapshots capped; nothing else changes."""
    return [Draft(_shrunk(draft.data), draft.layers) for draft in drafts]


def _shrunk(data: dict[str, Any]) -> dict[str, Any]:
    merged = deep_merge(data, {})
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
    return merged


def validate(drafts: list[Draft], source: str) -> list[RunConfig]:
    """Each draft through the schema; the first problem is one line. Run names must come out unique."""
    runs = []
    for draft in drafts:
        try:
            runs.append(RunConfig.model_validate(draft.data))
        except ValidationError as exc:
            raise validation_error(exc, draft.layers, source) from None
    return runs


FOLD_FIELD = "dataset.cv.fold"  # the replicate axis dataset.cv adds, as a swept field


def expand_folds(runs: list[RunConfig], drafts: list[Draft], doc: Document, max_runs: int) -> tuple[list, list]:
    """``dataset.cv: {folds: k}``: each run becomes k runs, ``<name>__fold-<i>`` with ``dataset.cv.fold: i``
    (a swept field, so summary.csv and the figures show it; a replicate like ``seed``). A run that names its
    fold stays one run. Returns the runs and their drafts (a fold's draft is its run's, for error lines)."""
    out_runs, out_drafts = [], []
    for run, draft in zip(runs, drafts, strict=True):
        cv = run.dataset.cv
        if cv is None or cv.fold is not None:
            out_runs.append(run)
            out_drafts.append(draft)
            continue
        for fold in range(cv.folds):
            data = run.to_dict()
            data["dataset"]["cv"]["fold"] = fold
            data |= {"name": f"{run.name}__fold-{fold}", "sweep": {**run.sweep, FOLD_FIELD: fold}}
            out_runs.append(RunConfig.model_validate(data))
            out_drafts.append(draft)
    if len(out_runs) > max_runs:
        line = line_of(doc.lines, ("dataset", "cv", "folds"))
        raise ConfigError(
            f"{doc.source}:{line}: dataset.cv.folds: {len(out_runs):,} runs with every fold, more than the limit "
            f"of {max_runs:,}; --max-runs N raises it"
        )
    return out_runs, out_drafts


def preflight(runs: list[RunConfig], drafts: list[Draft], check: RunCheck, source: str) -> None:
    """``check`` (e.g. :func:`regdemo.config.resources.preflight`) judges each resolved run; what it blames is
    reported like a schema error, at the value that set the blamed field."""
    for run, draft in zip(runs, drafts, strict=True):
        if problem := check(run):
            raise located(draft.layers, problem[0], source, problem[1])


def resolve_select(doc: Document, runs: list[RunConfig]) -> ResolvedSelection | None:
    """Validate the ``select:`` section and resolve it to the runs taking part (None without one)."""
    if "select" not in doc.data:
        return None
    try:
        return resolve_selection(SelectConfig.model_validate(doc.data["select"]), [run.to_dict() for run in runs])
    except ValidationError as exc:
        raise _rule_error(exc, ("select",), doc.source, doc.lines, SelectConfig) from None
    except SelectError as exc:
        key = tuple(exc.field.split("."))
        raise ConfigError(f"{doc.source}:{line_of(doc.lines, key)}: {exc.field}: {exc}") from None


def resolve_checks(
    doc: Document, runs: list[RunConfig], select: ResolvedSelection | None = None
) -> list[ResolvedCheck]:
    """Validate the ``checks:`` list and resolve every selection to run names (``selected:`` ones to the runs of
    ``select``); errors name checks[i].field."""
    items, lines, source = doc.data.get("checks", []), doc.lines, doc.source
    if not isinstance(items, list):
        raise _check_error(source, lines, ("checks",), f"must be a list (got {show(items)})")
    as_data = [run.to_dict() for run in runs]
    values = select.value_of() if select is not None else None
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
            resolved.append(resolve(check, as_data, dotted(at), values))
        except ValidationError as exc:
            raise _rule_error(exc, at, source, lines) from None
        except SelectionError as exc:
            raise ConfigError(f"{source}:{line_of(lines, (*at, 'runs'))}: {exc.field}: {exc}") from None
        except ValueError as exc:
            raise _check_error(source, lines, at, str(exc)) from None
        if check.name in names:
            raise _check_error(source, lines, (*at, "name"), f"duplicate check name (got {check.name!r})")
        names.add(check.name)
    return resolved


def _check_error(source: str, lines: dict[Key, int], key: Key, why: str) -> ConfigError:
    return ConfigError(f"{source}:{line_of(lines, key)}: {dotted(key)}: {why}")


def _rule_error(
    exc: ValidationError, at: Key, source: str, lines: dict[Key, int], schema: type[BaseModel] = Rule
) -> ConfigError:
    """A check's (or the select: section's) first pydantic error as one line."""
    err = exc.errors(include_url=False)[0]
    key: Key = (*at, *err["loc"])
    if err["type"] == "extra_forbidden":
        return _check_error(source, lines, key, f"unknown key; known keys: {', '.join(sorted(schema.model_fields))}")
    value = err.get("input")
    got = "" if err["type"] == "missing" or isinstance(value, dict) else f" (got {show(value)})"
    return _check_error(source, lines, key, reason(err, key) + got)


def load_experiment(
    path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    smoke: bool = False,
    max_runs: int = MAX_RUNS,
    check: RunCheck | None = None,
) -> ExperimentConfig:
    """Read, expand, override, (smoke-)shrink, validate and preflight a config file into an
    :class:`ExperimentConfig`, its checks resolved (see the module docstring for the steps).

    Precedence, lowest first: shared keys, the variant's keys, the sweep point, ``overrides`` (field path →
    Python value, for every run). ``smoke`` caps epochs, the boundary grid and the film for CI. More than
    ``max_runs`` runs is an error, found by counting before any run is built. ``check`` judges each resolved run.
    """
    doc = read_document(path, max_runs)
    drafts = read_user_data(override(expand(doc), overrides or {}, doc.source), doc.source)
    if smoke:
        drafts = shrink(drafts)
    runs, drafts = expand_folds(validate(drafts, doc.source), drafts, doc, max_runs)
    if check is not None:
        preflight(runs, drafts, check, doc.source)
    check_unique_names([run.name for run in runs], doc.lines, doc.source)
    select = resolve_select(doc, runs)
    return ExperimentConfig(doc.name, doc.source, runs, resolve_checks(doc, runs, select), smoke, select)
