"""What a packager relies on: every import declared, every version pinned once, the
licence list current."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests import licences
from tests.conftest import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> set[str]:
    extras = [r for group in PROJECT.get("optional-dependencies", {}).values() for r in group]
    return {_name(r) for r in [*PROJECT["dependencies"], *extras]}


def _imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for path in (REPO / "cashwatch").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "cashwatch"}


def test_every_module_the_package_imports_is_a_declared_dependency() -> None:
    # pydantic's own dependencies (annotated_types, pydantic_core) come with it
    provided_by_a_dependency = {"annotated-types", "pydantic-core"}
    distributions = packages_distributions()
    undeclared = {}
    for module in sorted(_imported_top_level_modules()):
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not names & (_declared() | provided_by_a_dependency):
            undeclared[module] = sorted(names)
    assert not undeclared, f"imported but not in pyproject.toml's dependencies: {undeclared}"


def test_every_declared_dependency_is_pinned_in_the_constraints() -> None:
    pinned = {
        _name(line)
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert _declared() - pinned == set()


def test_the_licence_list_matches_the_installed_packages() -> None:
    assert licences.DOC.read_text(encoding="utf-8") == licences.expected(), (
        "docs/licences.md is out of date: run `make licences`"
    )
