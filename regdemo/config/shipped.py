"""The story configs shipped inside the package (``regdemo.configs``), found by name: ``regdemo run lecture``
runs the shipped lecture.yaml when no file ``lecture`` exists, and ``regdemo configs`` lists them.

In the repository they are the top-level ``configs/`` folder; pyproject.toml maps the package
``regdemo.configs`` to it, so a wheel (and an editable install) carries them as package data. A source tree
put on ``sys.path`` without installing (``PYTHONPATH=checkout``) finds the same folder beside the package.
"""

from __future__ import annotations

import importlib.resources
import itertools
from importlib.resources.abc import Traversable
from pathlib import Path

from regdemo.errors import ConfigError

PACKAGE = "regdemo.configs"
SUFFIX = ".yaml"


def folder() -> Traversable:
    """Where the shipped configs are: the installed package ``regdemo.configs``, else the checkout's ``configs/``."""
    try:
        return importlib.resources.files(PACKAGE)
    except ModuleNotFoundError:  # not installed: a source tree on sys.path
        return Path(__file__).resolve().parents[2] / "configs"


def names() -> list[str]:
    """The shipped configs' names (file names without ``.yaml``), sorted."""
    return sorted(item.name.removesuffix(SUFFIX) for item in folder().iterdir() if item.name.endswith(SUFFIX))


def shipped(name: str) -> Traversable | None:
    """The shipped config ``name`` (``lecture`` or ``lecture.yaml``), or None when there is none of that name."""
    stem = name.removesuffix(SUFFIX)
    return folder() / f"{stem}{SUFFIX}" if stem in names() else None


def description(name: str, width: int = 90) -> str:
    """A shipped config's opening comment (what it shows), on one line of at most ``width`` characters."""
    item = shipped(name)
    lines = item.read_text(encoding="utf-8").splitlines() if item is not None else []
    words = " ".join(line.removeprefix("#").strip() for line in itertools.takewhile(_comment, lines))
    return words if len(words) <= width else words[: width - 1].rsplit(" ", 1)[0] + " …"


def _comment(line: str) -> bool:
    return line.startswith("#")


def resolve(path: str | Path) -> str | Path:
    """``path`` itself when it exists or names a folder; else the shipped config of that name.

    Raises :class:`ConfigError` for a bare name that is neither a file nor a shipped config (saying which
    are shipped); a path with a folder part that does not exist is left for the reader to report."""
    text = str(path)
    if Path(text).exists() or Path(text).name != text:
        return path
    item = shipped(text)
    if item is None:
        raise ConfigError(
            f"{text}: cannot read: no such file, nor a shipped config of that name "
            f"(shipped: {', '.join(names())}; `regdemo configs` lists them)"
        )
    return Path(str(item))  # an installed package is a folder on disk (setuptools installs unzipped)
