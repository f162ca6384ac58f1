"""The ``checks:`` section of a config: its schema, and each check resolved to the runs it reads.

A check states a claim in words and a rule over the experiment's runs::

    checks:
      - name: l2_shrinks_gap
        claim: L2 shrinks the generalization gap
        metric: window_generalization_gap      # a summary.csv column, or "col_a - col_b"
        runs: {variant: l2}                     # which runs: variant and/or any config field path
        versus: {variant: none}                 # compared with another selection, seed by seed
        difference: {below: 0}                  # runs − versus (or ratio: runs / versus)

Rules come in three kinds: a **threshold** (``at_least``/``at_most``/``above``/``below`` a number), a
**comparison** with another selection (``versus`` and ``difference`` or ``ratio``, paired by seed) and a
**trend** along a swept field (``trend: {along, direction, spearman_at_least}``); ``all:`` joins several
rules into one claim. Runs that differ only by ``seed`` (and, with ``dataset.cv``, by fold) are replicates:
a rule is judged replicate by replicate (:func:`replicate`). A selection matching several runs of one
replicate needs ``reduce`` (mean, median, min or max). In a selection, ``selected: least_mean`` or
``selected: one_standard_error`` keeps only the runs of the value the config's ``select:`` section chose
(:mod:`regdemo.config.selectspec`), known once the runs are done.

Resolving a check against the expanded runs (:func:`resolve`) turns every selection into run names
per seed, so that evaluating it (:mod:`regdemo.results.checks`) needs only summary rows. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from regdemo.columns import RESULT_COLUMNS

COMPARATORS = ("at_least", "at_most", "above", "below")
# The values a select: section chooses (regdemo.results.selection), by rule: what ``selected:`` may name.
CHOICES = ("least_mean", "one_standard_error")
SELECTED = "selected"  # the selection key naming one of CHOICES
Replicate = int | str  # a seed, or "seed/fold" for a fold of dataset.cv
SYMBOLS = {"at_least": "≥", "at_most": "≤", "above": ">", "below": "<"}


class _Strict(BaseModel):
    # as the run config's schema: unknown keys and quoted numbers are errors
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Number = float  # strict: YAML ints are accepted, quoted strings are not


class Bound(_Strict):
    """One comparator and its number, e.g. ``{below: 0}``."""

    at_least: Number | None = None
    at_most: Number | None = None
    above: Number | None = None
    below: Number | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Bound:
        given = [c for c in COMPARATORS if getattr(self, c) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(COMPARATORS)} (got {len(given)})")
        return self

    @property
    def comparator(self) -> str:
        return next(c for c in COMPARATORS if getattr(self, c) is not None)

    @property
    def threshold(self) -> float:
        return float(getattr(self, self.comparator))


def metric_operands(metric: str) -> tuple[str, ...]:
    """The summary columns a metric reads: ``"col"`` or ``"col_a - col_b"``."""
    left, minus, right = metric.partition(" - ")
    return (left.strip(), right.strip()) if minus else (metric.strip(),)


class Trend(_Strict):
    along: str  # a swept field path, e.g. model.hidden_units (a list counts as the sum of its entries)
    direction: Literal["increasing", "decreasing"] = "increasing"
    spearman_at_least: float = Field(0.7, gt=0, le=1)


class Rule(_Strict):
    """One rule: ``metric`` of the ``runs`` selection, judged by exactly one of the three kinds."""

    metric: str
    runs: dict[str, Any]
    reduce: Literal["mean", "median", "min", "max"] | None = None
    at_least: Number | None = None
    at_most: Number | None = None
    above: Number | None = None
    below: Number | None = None
    versus: dict[str, Any] | None = None
    difference: Bound | None = None
    ratio: Bound | None = None
    trend: Trend | None = None

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        for column in metric_operands(metric):
            if column not in RESULT_COLUMNS:
                close = difflib.get_close_matches(column, RESULT_COLUMNS, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "a summary.csv result column, or 'a - b'"
                raise ValueError(f"unknown metric {column!r}; {hint}")
        return metric

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        bounds = [c for c in COMPARATORS if getattr(self, c) is not None]
        kinds = [bool(bounds), self.versus is not None, self.trend is not None]
        if sum(kinds) != 1 or len(bounds) > 1:
            raise ValueError(
                "give one rule: a bound (at_least/at_most/above/below), versus with difference or ratio, or trend"
            )
        if self.versus is not None and (self.difference is None) == (self.ratio is None):
            raise ValueError("versus needs exactly one of difference or ratio")
        if self.versus is None and (self.difference is not None or self.ratio is not None):
            raise ValueError("difference and ratio compare with a versus selection")
        return self


class CheckConfig(_Strict):
    """One check: a name, the claim in words, and one rule (its fields inline) or ``all:`` rules."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)  # the inline rule's fields
    name: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    claim: str
    all: list[dict[str, Any]] | None = None

    def rules(self) -> list[Rule]:
        """The rules, validated (a ``ValidationError`` locates the bad field)."""
        inline = dict(self.model_extra or {})
        if self.all is not None:
            if inline:
                raise ValueError(f"a check with all: has no rule fields of its own (got {', '.join(inline)})")
            return [Rule.model_validate(rule) for rule in self.all]
        return [Rule.model_validate(inline)]


# ---------------------------------------------------------------- resolved against the runs


def replicate(run: Mapping[str, Any]) -> Replicate:
    """The replicate a run is, what rules pair runs by: its seed, or ``"seed/fold"`` for a fold of dataset.cv."""
    fold = field_value(run, "dataset.cv.fold")
    return int(run["seed"]) if fold is None or fold is _MISSING else f"{int(run['seed'])}/{fold}"


def replicate_key(text: str) -> Replicate:
    """A replicate as checks.json keeps it (a string), back to what :func:`replicate` gives."""
    try:
        return int(text)
    except ValueError:
        return text


def replicate_order(key: Replicate) -> tuple[int, int]:
    """Replicates in order: by seed, then fold."""
    if isinstance(key, int):
        return key, -1
    seed, fold = str(key).split("/")
    return int(seed), int(fold)


@dataclass(frozen=True)
class ResolvedRule:
    """A rule with its selections as run names per replicate (``{replicate: [run, ...]}``); for a trend,
    ``points`` holds ``{replicate: [(x, run), ...]}`` sorted by x.

    ``chosen_by`` / ``versus_chosen_by``: the CHOICES rule a ``selected:`` selection keeps (None: all its
    runs); ``values`` maps those selections' runs to their value of the select: field.
    """

    words: str
    metric: str
    kind: Literal["threshold", "difference", "ratio", "trend"]
    comparator: str
    threshold: float
    reduce: str | None
    runs: dict[Replicate, list[str]]
    versus: dict[Replicate, list[str]]
    points: dict[Replicate, list[tuple[float, str]]]
    chosen_by: str | None = None
    versus_chosen_by: str | None = None
    values: dict[str, float] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON data (checks.json), read back by :func:`rule_from_dict`."""
        chosen = {"chosen_by": self.chosen_by, "versus_chosen_by": self.versus_chosen_by, "values": self.values}
        return ({} if not self.values else chosen) | {
            "words": self.words,
            "metric": self.metric,
            "kind": self.kind,
            "comparator": self.comparator,
            "threshold": self.threshold,
            "reduce": self.reduce,
            "runs": {str(s): names for s, names in self.runs.items()},
            "versus": {str(s): names for s, names in self.versus.items()},
            "points": {str(s): [list(p) for p in pts] for s, pts in self.points.items()},
        }


def rule_from_dict(data: Mapping[str, Any]) -> ResolvedRule:
    """The inverse of :meth:`ResolvedRule.to_dict`."""
    key = replicate_key
    return ResolvedRule(
        words=data["words"],
        metric=data["metric"],
        kind=data["kind"],
        comparator=data["comparator"],
        threshold=float(data["threshold"]),
        reduce=data.get("reduce"),
        runs={key(s): list(n) for s, n in data["runs"].items()},
        versus={key(s): list(n) for s, n in data["versus"].items()},
        points={key(s): [(float(x), str(r)) for x, r in pts] for s, pts in data["points"].items()},
        chosen_by=data.get("chosen_by"),
        versus_chosen_by=data.get("versus_chosen_by"),
        values={str(n): float(v) for n, v in data.get("values", {}).items()},
    )


@dataclass(frozen=True)
class ResolvedCheck:
    name: str
    claim: str
    rules: list[ResolvedRule]

    @property
    def words(self) -> str:
        return "; and ".join(rule.words for rule in self.rules)


class SelectionError(ValueError):
    """A selection that matches no run (or several per seed without ``reduce``); ``field`` locates it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def field_value(run: Mapping[str, Any], path: str) -> Any:
    """``variant``, or the value at a dotted path of a resolved run config (as :meth:`RunConfig.to_dict`)."""
    value: Any = run
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


_MISSING = object()


def same_value(a: Any, b: Any) -> bool:
    """Config values equal as YAML means them: 0 and 0.0 alike, lists element by element."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return float(a) == float(b)
    return a == b


def _select(
    where: Mapping[str, Any],
    runs: Sequence[Mapping[str, Any]],
    field: str,
    many: bool,
    values: Mapping[str, float] | None = None,
) -> dict[Replicate, list[str]]:
    """Run names per replicate of the runs matching every ``path: value`` of ``where``; ``many``: several runs
    of one replicate are allowed (a trend's points, or a rule with ``reduce``).

    With ``selected:`` in ``where``, the candidates: the runs taking part in the select: section (``values``:
    run → its value of the select field), one per value and replicate, of which judging keeps the chosen one.
    """
    choice = where.get(SELECTED)
    where = {path: value for path, value in where.items() if path != SELECTED}
    if choice is not None:
        if choice not in CHOICES:
            raise SelectionError(f"{field}.{SELECTED}", f"must be one of {', '.join(CHOICES)} (got {choice!r})")
        if values is None:
            raise SelectionError(f"{field}.{SELECTED}", "needs the config's select: section, which chooses a value")
        runs, many = [run for run in runs if str(run["name"]) in values], True
    for path in where:
        if all(field_value(run, path) is _MISSING for run in runs):
            raise SelectionError(f"{field}.{path}", "no such field in the runs' config")
    chosen: dict[Replicate, list[str]] = {}
    for run in runs:
        if all(same_value(field_value(run, path), value) for path, value in where.items()):
            chosen.setdefault(replicate(run), []).append(str(run["name"]))
    if not chosen:
        raise SelectionError(field, f"matches no run of the experiment (got {dict(where)})")
    if not many and any(len(names) > 1 for names in chosen.values()):
        many = max(len(names) for names in chosen.values())
        raise SelectionError(field, f"matches {many} runs of one seed; give reduce: mean, median, min or max")
    if choice is not None and any(len(names) > len({values[n] for n in names}) for names in chosen.values()):
        raise SelectionError(field, "matches several runs of one value of the select: field per seed; narrow it")
    return dict(sorted(chosen.items(), key=lambda item: replicate_order(item[0])))


def _x(value: Any) -> float:
    """A swept value as a number on a trend's x axis: numbers as they are, a list as the sum of its entries."""
    if isinstance(value, list):
        return float(sum(value))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(value)
    return float(value)


def _where_words(where: Mapping[str, Any]) -> str:
    return ", ".join(f"{path.rsplit('.', 1)[-1]}={value}" for path, value in where.items()) or "all runs"


def _resolve_rule(
    rule: Rule, runs: Sequence[Mapping[str, Any]], at: str, values: Mapping[str, float] | None
) -> ResolvedRule:
    resolved = _resolve_plain(rule, runs, at, values)
    own, other = rule.runs.get(SELECTED), (rule.versus or {}).get(SELECTED)
    if own is None and other is None:
        return resolved
    chosen = [n for side in (resolved.runs, resolved.versus) for names in side.values() for n in names]
    values = values or {}
    return dataclasses.replace(
        resolved, chosen_by=own, versus_chosen_by=other, values={n: float(values[n]) for n in chosen if n in values}
    )


def _resolve_plain(
    rule: Rule, runs: Sequence[Mapping[str, Any]], at: str, values: Mapping[str, float] | None
) -> ResolvedRule:
    reduce = rule.reduce
    of = f"{(reduce + ' ') if reduce else ''}{rule.metric} of ({_where_words(rule.runs)})"
    if rule.trend is not None:
        if SELECTED in rule.runs:
            raise SelectionError(f"{at}.runs.{SELECTED}", "a trend reads every value; selected: keeps one")
        chosen = _select(rule.runs, runs, f"{at}.runs", many=True)
        by_name = {str(r["name"]): r for r in runs}
        points: dict[int, list[tuple[float, str]]] = {}
        for seed, names in chosen.items():
            try:
                points[seed] = sorted((_x(field_value(by_name[n], rule.trend.along)), n) for n in names)
            except TypeError:
                raise SelectionError(f"{at}.trend.along", f"{rule.trend.along} is not numeric in every run") from None
        sign = "≥" if rule.trend.direction == "increasing" else "≤ −"
        words = (
            f"Spearman ρ({rule.trend.along.rsplit('.', 1)[-1]}, {of}) {sign}{rule.trend.spearman_at_least:g} per seed"
        )
        threshold = rule.trend.spearman_at_least * (1 if rule.trend.direction == "increasing" else -1)
        comparator = "at_least" if rule.trend.direction == "increasing" else "at_most"
        return ResolvedRule(words, rule.metric, "trend", comparator, threshold, reduce, {}, {}, points)
    chosen = _select(rule.runs, runs, f"{at}.runs", reduce is not None, values)
    if rule.versus is None:
        bound = Bound(**{c: getattr(rule, c) for c in COMPARATORS})
        words = f"{of} {SYMBOLS[bound.comparator]} {bound.threshold:g}"
        return ResolvedRule(words, rule.metric, "threshold", bound.comparator, bound.threshold, reduce, chosen, {}, {})
    versus = _select(rule.versus, runs, f"{at}.versus", reduce is not None, values)
    if not set(chosen) & set(versus):
        raise SelectionError(f"{at}.versus", "shares no seed with runs: nothing to pair")
    kind, bound = ("difference", rule.difference) if rule.difference is not None else ("ratio", rule.ratio)
    op = "−" if kind == "difference" else "/"
    words = f"{of} {op} the same of ({_where_words(rule.versus)}) {SYMBOLS[bound.comparator]} {bound.threshold:g}"
    return ResolvedRule(words, rule.metric, kind, bound.comparator, bound.threshold, reduce, chosen, versus, {})


def resolve(
    check: CheckConfig, runs: Sequence[Mapping[str, Any]], at: str, values: Mapping[str, float] | None = None
) -> ResolvedCheck:
    """Resolve ``check`` (at config position ``at``, e.g. ``checks[2]``) against the runs' resolved configs
    (as :meth:`RunConfig.to_dict` gives them, with ``variant`` and ``seed``); ``values`` maps the runs taking
    part in the config's select: section to their value of its field (None without one).

    Raises :class:`SelectionError` for a selection that matches no run, or several of one seed without
    ``reduce``; ``ValueError``/``ValidationError`` for a malformed rule.
    """
    rules = check.rules()
    where = [f"{at}.all[{i}]" for i in range(len(rules))] if check.all is not None else [at]
    return ResolvedCheck(
        check.name, check.claim, [_resolve_rule(r, runs, w, values) for r, w in zip(rules, where, strict=True)]
    )
