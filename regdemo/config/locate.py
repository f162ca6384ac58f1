"""Where a config's error is: the file line and field path an error names, and pydantic's errors in this
project's words.

A run's values come from layers (``--set``, a sweep item, its ``runs:`` variant, the shared section); the
first layer in precedence order that holds the bad value's key claims the error, so the line points at the
value that actually won the merge.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from regdemo.config.schema import FieldError, RunConfig
from regdemo.config.yamlfile import Key, dotted, show
from regdemo.errors import ConfigError


@dataclass(frozen=True)
class Layer:
    """One source of a run's values: where its keys sit in the file and how to name them."""

    lines: dict[Key, int]
    render: Callable[[Key], str]
    root_counts: bool = False  # may the layer's own root node (key ()) claim an error?
    # A --set or a sweep item sets one field: it claims errors on that field's path (at, above or
    # below it) but not a sibling's (model.dropout set, model.hidden_units wrong).
    field: Key | None = None

    def find(self, loc: Key) -> tuple[str, int] | None:
        """The field as this layer names it and its line, if this layer holds ``loc`` (or a parent of it)."""
        if self.field is not None and loc[: len(self.field)] != self.field[: len(loc)]:
            return None
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in self.lines and (cut > 0 or self.root_counts):
                return self.render(loc), self.lines[loc[:cut]]
        return None


def located(layers: list[Layer], loc: Key, source: str, message: str) -> ConfigError:
    """``source:LINE: field: message``, the field and line from the first layer that holds ``loc``."""
    where, line = next(filter(None, (layer.find(loc) for layer in layers)), (dotted(loc), 1))
    return ConfigError(f"{source}{f':{line}' if line else ''}: {where}: {message}")


def line_of(lines: dict[Key, int], key: Key) -> int:
    """The line of ``key``, else of its nearest parent present in the file."""
    while key and key not in lines:
        key = key[:-1]
    return lines.get(key, 1)


def schema_at(loc: Key) -> type[BaseModel] | None:
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


SIMPLE_REASONS = {
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


def reason(err: dict[str, Any], loc: Key) -> str:
    """One pydantic error (of :meth:`ValidationError.errors`) in this project's wording."""
    kind, ctx = err["type"], err.get("ctx", {})
    if kind == "extra_forbidden":
        parent = schema_at(loc[:-1])
        known = [f.alias or n for n, f in parent.model_fields.items()] if parent else []
        if loc[:-1] == ():  # the file's top level: a run's fields less those regdemo fills in, plus runs
            known = [k for k in known if k not in ("experiment", "variant")] + ["runs"]
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(sorted(known))}"
        return "unknown key" + hint
    if kind == "literal_error":
        return "must be one of " + ctx.get("expected", "").replace("'", "")
    if kind in SIMPLE_REASONS:
        return SIMPLE_REASONS[kind].format(**ctx)
    return str(err["msg"]).removeprefix("Value error, ")


def validation_error(exc: ValidationError, layers: list[Layer], source: str) -> ConfigError:
    """A run's first schema error as one line ``file:LINE: field: reason (got VALUE)``."""
    err = exc.errors(include_url=False)[0]
    loc: Key = tuple(err["loc"])
    value = err.get("input")
    original = err.get("ctx", {}).get("error")
    why = reason(err, loc)
    if isinstance(original, FieldError):
        loc, why, value = loc + original.loc, original.reason, original.value
    got = "" if err["type"] == "missing" or value is None else f" (got {show(value)})"
    return located(layers, loc, source, f"{why}{got}")
