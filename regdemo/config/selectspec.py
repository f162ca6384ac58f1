"""The ``select:`` section of a config: choosing a swept value (λ, typically) from the runs, and its resolution
to the runs it reads.

::

    select:
      field: model.regularizer.lambda   # a swept, numeric field
      metric: val_data_loss             # a summary.csv result column; less is better
      runs: {model.regularizer.kind: l2}   # optional: which runs take part (default: all)

After the runs, :mod:`regdemo.results.selection` computes, per value of ``field``, the mean of ``metric``
over its replicates (seeds, and the folds of ``dataset.cv``) and the standard error of that mean, and
chooses two values: ``least_mean``, the value with the least mean, and ``one_standard_error``, the largest
value whose mean is within one standard error of that least mean (the one-standard-error rule: the most
regularized model that is not measurably worse; :data:`regdemo.config.checkspec.CHOICES`). A check may
then select the runs of a chosen value, ``runs: {selected: one_standard_error}`` (:mod:`regdemo.config.checkspec`).
Pure: no I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from regdemo.columns import RESULT_COLUMNS
from regdemo.config.checkspec import field_value, same_value


class SelectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    field: str
    metric: str
    runs: dict[str, Any] = {}

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        if metric not in RESULT_COLUMNS:
            close = difflib.get_close_matches(metric, RESULT_COLUMNS, n=1)
            raise ValueError(
                f"unknown metric {metric!r}; " + (f"did you mean {close[0]!r}?" if close else "a result column")
            )
        return metric


@dataclass(frozen=True)
class ResolvedSelection:
    """A select: section resolved: per value of ``field`` (ascending), the names of the runs taking part."""

    field: str
    metric: str
    values: dict[float, list[str]]

    def value_of(self) -> dict[str, float]:
        """Run name → its value of ``field``."""
        return {name: value for value, names in self.values.items() for name in names}

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "metric": self.metric, "values": [[v, n] for v, n in self.values.items()]}


def selection_from_dict(data: Mapping[str, Any]) -> ResolvedSelection:
    """The inverse of :meth:`ResolvedSelection.to_dict`."""
    values = {float(value): [str(n) for n in names] for value, names in data["values"]}
    return ResolvedSelection(str(data["field"]), str(data["metric"]), values)


class SelectError(ValueError):
    """A select: section that cannot be resolved; ``field`` locates the culprit (``select.field``, …)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def resolve_selection(select: SelectConfig, runs: Sequence[Mapping[str, Any]]) -> ResolvedSelection:
    """``select`` against the runs' resolved configs (as :meth:`RunConfig.to_dict` gives them). The field must
    be swept in the runs taking part, with a number in each and at least two values."""
    taking_part = [
        r for r in runs if all(same_value(field_value(r, path), value) for path, value in select.runs.items())
    ]
    if not taking_part:
        raise SelectError("select.runs", f"matches no run of the experiment (got {dict(select.runs)})")
    values: dict[float, list[str]] = {}
    for run in taking_part:
        if select.field not in (run.get("sweep") or {}):
            raise SelectError("select.field", f"not swept in run {run['name']!r} (got {select.field!r})")
        value = run["sweep"][select.field]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SelectError("select.field", f"not a number in run {run['name']!r} (got {value!r})")
        values.setdefault(float(value), []).append(str(run["name"]))
    if len(values) < 2:
        raise SelectError("select.field", "takes one value only in the runs selected; nothing to choose from")
    return ResolvedSelection(select.field, select.metric, dict(sorted(values.items())))
