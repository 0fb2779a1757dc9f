"""Every public function of core, rules and detect documents its arguments and result.

Ruff's pydocstyle rules (pyproject.toml) check that docstrings exist and are well formed,
but not that a Google-style `Args:` or `Returns:` section is there at all; this does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cashwatch"
CHECKED = ("core", "rules", "detect")
PROPERTY_DECORATORS = {"property", "cached_property", "functools.cached_property"}
NO_RESULT = {"None", "NoReturn", "Never"}


def missing_sections(function: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[str]:
    """The docstring sections a public function or method lacks (empty: none)."""
    doc = ast.get_docstring(function) or ""
    if not doc:
        return ["docstring"]
    decorators = {ast.unparse(d) for d in function.decorator_list}
    if decorators & PROPERTY_DECORATORS:
        return []  # documented like an attribute
    arguments = function.args
    names = [a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]]
    names += [a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None]
    if method and "staticmethod" not in decorators and names[:1] in (["self"], ["cls"]):
        names = names[1:]
    missing = []
    if names and "Args:" not in doc:
        missing.append("Args")
    generator = any(isinstance(node, ast.Yield | ast.YieldFrom) for node in ast.walk(function))
    result = ast.unparse(function.returns) if function.returns is not None else "None"
    if generator and "Yields:" not in doc:
        missing.append("Yields")
    elif not generator and result not in NO_RESULT and "Returns:" not in doc:
        missing.append("Returns")
    return missing


def undocumented(source: str) -> list[str]:
    """`name: sections` for each public function or method of a module missing some."""
    found = []
    for node in ast.parse(source).body:
        members: list[tuple[str, ast.AST, bool]] = (
            [(node.name, node, False)]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            else []
        )
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            members = [
                (f"{node.name}.{sub.name}", sub, True)
                for sub in node.body
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
        for name, function, method in members:
            assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
            if function.name.startswith("_"):
                continue
            lacking = missing_sections(function, method)
            if lacking:
                found.append(f"{name}: {', '.join(lacking)}")
    return found


MODULES = sorted(path for folder in CHECKED for path in (PACKAGE / folder).rglob("*.py"))


def test_the_modules_are_found() -> None:
    assert PACKAGE / "core" / "spans.py" in MODULES and len(MODULES) > 30


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_public_functions_document_args_and_returns(path: Path) -> None:
    assert undocumented(path.read_text(encoding="utf-8")) == []


def test_the_check_finds_what_is_missing() -> None:
    source = '''
def bare(x: int) -> int:
    """Summary only."""
    return x

def fine(x: int) -> int:
    """Summary.

    Args:
        x: A number.

    Returns:
        The number.
    """
    return x

def _private(x: int) -> int:
    return x

class Thing:
    def method(self) -> str:
        return "x"

    def gen(self, n: int) -> object:
        """Summary.

        Args:
            n: How many.
        """
        yield n

    @property
    def size(self) -> int:
        """The size."""
        return 1
'''
    assert undocumented(source) == [
        "bare: Args, Returns",
        "Thing.method: docstring",
        "Thing.gen: Yields",
    ]
