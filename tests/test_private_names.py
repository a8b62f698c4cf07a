"""A module's private names (a leading underscore) stay in it: no other module of ours, tests
included, imports one or reaches one through the module. What another module needs is made
public, with a name and a docstring, so a change inside a module cannot break another
unseen. Read with ``ast``, as tests/test_boundary.py reads the imports of calc."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("calc", "charts", "ui", "pages", "tests", "benchmarks")
OURS = {"calc", "charts", "ui", "pages", "tests", "app", "serve"}


def sources() -> list[Path]:
    files = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    return files + [path for path in (ROOT / "app.py", ROOT / "serve.py") if path.exists()]


def private_uses(source: str) -> list[str]:
    """``from calc.x import _y`` and ``x._y`` where x is one of our modules, with their lines."""
    tree = ast.parse(source)
    modules: set[str] = set()  # local names bound to our modules (or to names imported from them)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in OURS:
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update(
                (alias.asname or alias.name).split(".")[0]
                for alias in node.names
                if alias.name.split(".")[0] in OURS
            )
    found.extend(
        f"line {node.lineno}: {node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in modules
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
    )
    return found


@pytest.mark.parametrize("path", [pytest.param(path, id=str(path.relative_to(ROOT))) for path in sources()])
def test_no_module_uses_another_modules_private_names(path):
    assert private_uses(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source, found",
    [
        pytest.param(
            "from calc.formulas import _conv\n", ["line 1: from calc.formulas import _conv"], id="import"
        ),
        pytest.param(
            "from calc import hardware\nhardware._peaks\n", ["line 2: hardware._peaks"], id="attribute"
        ),
        pytest.param("import calc.zoo\ncalc._x\n", ["line 2: calc._x"], id="package-attribute"),
        pytest.param(
            "from torch.utils._pytree import tree_flatten\nimport torch\ntorch._C\n", [], id="not-ours"
        ),
        pytest.param("from calc import zoo\nzoo.__name__\n", [], id="dunder"),
    ],
)
def test_the_check_finds_them(source, found):
    assert private_uses(source) == found
