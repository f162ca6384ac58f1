"""Text from data made safe for where it is shown: a terminal, a Markdown cell, an error line.

A received folder's names, claims and error texts are data from someone else: a terminal escape
sequence in them must not reach a terminal, a newline must not end a Markdown table's row (a fake
heading, a remote image), and an error line quotes at most a short excerpt of a file. Pure functions;
no I/O.
"""

from __future__ import annotations

import re

EXCERPT = 40  # characters of a file's content an error line may quote

# C0 controls (but newline and tab), DEL, and C1 controls (0x80-0x9f: CSI 0x9b starts a sequence too).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ALL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Characters Markdown (CommonMark, GitHub's) or HTML give a meaning to, anywhere in a cell.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&\"'=:])")


def _escape(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]  # '\x1b', '\n', '\x9b'


def for_terminal(text: str, lines: bool = True) -> str:
    """``text`` with its control characters shown escaped (``\\x1b``), so none reaches a terminal as
    such; newlines and tabs kept when ``lines``. Characters that cannot be encoded (lone surrogates)
    are escaped too."""
    shown = (_CONTROL if lines else _CONTROL_ALL).sub(_escape, text)
    return shown.encode("utf-8", "backslashreplace").decode("utf-8")


def one_line(text: str) -> str:
    """``text`` as one line for a terminal: every control character, newlines included, escaped."""
    return for_terminal(text, lines=False)


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """At most ``limit`` characters of ``text`` (then "…"), on one line, control characters escaped."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return one_line(cut)


def markdown_cell(text: str) -> str:
    """``text`` as one Markdown table cell: control characters (newlines included) escaped as text,
    then every character Markdown or HTML give a meaning to backslash-escaped, so a cell never
    ends its row, starts a heading, links an image or opens a tag."""
    return _MARKDOWN.sub(r"\\\1", one_line(text))
