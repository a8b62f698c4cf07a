"""The boundary of calc: ``import calc`` works without torch, pulls in no UI library, and only
``torch_*`` modules import torch."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CALC = ROOT / "calc"
MODULES = sorted(CALC.rglob("*.py"))  # subpackages too: calc/cli/


def module_name(path: Path) -> str:
    """calc/cli/count.py -> calc.cli.count; calc/cli/__init__.py -> calc.cli."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


TORCH_FREE = [module_name(path) for path in MODULES if not path.stem.startswith("torch_")]
# onnx, its runtime and exporter (and protobuf under them): imported inside functions of calc/onnx_*.py only
ONNX_ROOTS = ("onnx", "onnxruntime", "onnxscript", "google")


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_calc_works_with_torch_absent():
    result = run_python(f"""
        import importlib, sys
        sys.modules["torch"] = None  # import torch now raises ImportError
        sys.modules["onnx"] = sys.modules["onnxruntime"] = None  # so do onnx and its runtime
        for name in {TORCH_FREE!r}:
            importlib.import_module(name)
        import calc
        from calc.presets import PRESETS
        report = calc.analyze(calc.parse_stack(PRESETS[2].stack))
        assert report.macs == 64 * 3 * 3 * 3 * 224 * 224, report.macs
        from calc.__main__ import main
        try:
            import calc.torch_build
        except ImportError:
            print("torch_build refused")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "torch_build refused"  # the block was in force


def test_torch_free_modules_include_the_core():
    assert {
        "calc",
        "calc.spec",
        "calc.analyze",
        "calc.presets",
        "calc.__main__",
        "calc.formulas",
        "calc.units",
        "calc.cli",
        "calc.cli.count",
        "calc.cli.latency",
        "calc.cli.separable",
        "calc.cli.files",
    } <= set(TORCH_FREE)


def test_importing_calc_loads_no_torch_streamlit_or_plotly():
    result = run_python(f"""
        import importlib, sys
        roots = ("torch", "streamlit", "plotly") + {ONNX_ROOTS!r}
        for name in {TORCH_FREE!r}:
            importlib.import_module(name)
        heavy = sorted(name for name in sys.modules if name.split(".")[0] in roots)
        print(heavy)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _imported_roots(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return {node.module.split(".")[0]}
    return set()


def _top_level_imports(tree: ast.Module) -> set[str]:
    """Imports run at import time: module and class bodies, inside if/try/with too, not inside functions."""
    roots: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        roots |= _imported_roots(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending.extend(
                child
                for child in ast.iter_child_nodes(node)
                if isinstance(child, (ast.stmt, ast.excepthandler))
            )
    return roots


def test_import_scan_sees_what_it_should():
    tree = ast.parse(
        textwrap.dedent("""
        import torch.nn as nn
        try:
            from plotly import graph_objects
        except ImportError:
            import streamlit
        def lazy():
            import numpy
        class Eager:
            import pandas
    """)
    )
    assert _top_level_imports(tree) == {"torch", "plotly", "streamlit", "pandas"}


@pytest.mark.parametrize("path", [pytest.param(path, id=str(path.relative_to(CALC))) for path in MODULES])
def test_only_torch_modules_import_torch(path: Path):
    roots = _top_level_imports(ast.parse(path.read_text(encoding="utf-8")))
    if "torch" in roots:
        assert path.name.startswith("torch_"), f"{path.name} imports torch at import time"
    assert not roots & {"streamlit", "plotly"}, f"{path.name} imports a UI library"
    assert not roots & set(ONNX_ROOTS), f"{path.name} imports onnx at import time"


@pytest.mark.parametrize("path", [pytest.param(path, id=str(path.relative_to(CALC))) for path in MODULES])
def test_only_onnx_modules_import_onnx_even_lazily(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set().union(*(_imported_roots(node) for node in ast.walk(tree)))
    if roots & set(ONNX_ROOTS):
        assert path.name.startswith("onnx_"), f"{path.name} imports onnx"


@pytest.mark.parametrize("path", [pytest.param(path, id=str(path.relative_to(CALC))) for path in MODULES])
def test_no_calc_module_imports_ui_libraries_even_lazily(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set().union(*(_imported_roots(node) for node in ast.walk(tree)))
    assert not roots & {"streamlit", "plotly", "charts", "pages", "ui"}
