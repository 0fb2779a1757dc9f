"""app.py and pages/ are Streamlit's entry points only: the dashboard's code ships in the
package (cashwatch.dashboard), where it is typed, linted and importable."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAX_CODE_LINES = 15
ENTRY_FILES = ["app.py", *sorted(f"pages/{p.name}" for p in (REPO / "pages").glob("*.py"))]


def code_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not the module's docstring."""
    tree = ast.parse(source)
    docstring: set[int] = set()
    if (
        tree.body
        and isinstance(tree.body[0], ast.Expr)
        and isinstance(tree.body[0].value, ast.Constant)
        and isinstance(tree.body[0].value.value, str)
    ):
        first = tree.body[0]
        docstring = set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    skipped = {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
    }
    lines = {
        row
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type not in skipped
        for row in range(token.start[0], token.end[0] + 1)
    }
    return len(lines - docstring)


def imported_modules(source: str) -> list[str]:
    """Every module an import statement names (relative imports as '.name')."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
    return names


def test_code_lines_leave_out_docstring_comments_and_blank_lines() -> None:
    source = '"""Doc.\n\nMore doc.\n"""\n\n# a comment\nimport os\n\nx = (1,\n     2)  # why\n'
    assert code_lines(source) == 3


def test_imported_modules_names_every_import() -> None:
    source = "import os, sys\nfrom cashwatch.dashboard import data\nfrom . import x\n"
    assert imported_modules(source) == ["os", "sys", "cashwatch.dashboard", "."]


def test_every_page_file_is_listed() -> None:
    assert {
        "pages/live.py",
        "pages/events.py",
        "pages/cameras.py",
        "pages/sql.py",
        "pages/system.py",
    } <= set(ENTRY_FILES)


@pytest.mark.parametrize("path", ENTRY_FILES)
def test_entry_file_only_calls_into_the_package(path: str) -> None:
    source = (REPO / path).read_text(encoding="utf-8")
    assert code_lines(source) <= MAX_CODE_LINES, f"{path}: move its code into the package"
    outside = [
        name
        for name in imported_modules(source)
        if name != "cashwatch.dashboard" and not name.startswith("cashwatch.dashboard.")
    ]
    assert not outside, f"{path} imports {outside}: import only from cashwatch.dashboard"
