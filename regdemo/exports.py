"""A subpackage's public names, imported from their modules on first use (PEP 562).

Each stage's ``__init__`` names what it exports and from which of its modules; nothing is imported until a
name is asked for, so that ``from regdemo.results import rundir`` does not load pandas, and ``regdemo load``
and ``regdemo --help`` load no TensorFlow. Code inside the package imports from the modules themselves.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: each name of ``names`` (name → module of the package)
    imported from its module when first asked for, then kept in the package's namespace."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__
