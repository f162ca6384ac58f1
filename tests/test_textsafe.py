"""Text from data made safe for a terminal, a Markdown cell and an error line (regdemo.textsafe)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from regdemo.textsafe import EXCERPT, excerpt, for_terminal, markdown_cell, one_line


def test_escape_sequences_reach_no_terminal_but_lines_and_tabs_stay() -> None:
    assert for_terminal("red \x1b[31mX\x1b[0m\tok\nnext") == "red \\x1b[31mX\\x1b[0m\tok\nnext"
    assert for_terminal("csi \x9b31m, bell \x07, del \x7f") == "csi \\x9b31m, bell \\x07, del \\x7f"
    assert one_line("a\nb\rc\td") == "a\\nb\\rc\\td"


def test_a_lone_surrogate_is_escaped_not_an_encoding_error() -> None:
    assert for_terminal("x\udcffy") == "x\\udcffy"


def test_an_excerpt_is_short_and_one_line() -> None:
    assert excerpt("root:x:0:0:root:/root:/bin/bash\n" * 10) == "root:x:0:0:root:/root:/bin/bash\\nroot:x:…"
    assert len(excerpt("y" * 10_000)) == EXCERPT
    assert excerpt("short") == "short"


def test_a_markdown_cell_cannot_end_its_row_open_a_heading_an_image_or_a_tag() -> None:
    cell = markdown_cell("l1\n## within tolerance\n![x](https://evil.example/p.png) <img src=x> | a")
    assert "\n" not in cell
    assert cell == (
        "l1\\\\n\\#\\# within tolerance\\\\n\\!\\[x\\]\\(https\\://evil\\.example/p\\.png\\) \\<img src\\=x\\> \\| a"
    )


@settings(max_examples=300, derandomize=True)
@given(st.text())
def test_no_control_character_and_no_unescaped_markdown_survive(text: str) -> None:
    shown = markdown_cell(text)
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", shown)
    assert not re.search(r"(?<!\\)[|<>\[\]`]", shown.replace("\\\\", ""))
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", for_terminal(text))
