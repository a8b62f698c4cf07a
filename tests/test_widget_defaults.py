"""ui.widget_defaults: each keyed widget's default is the value its key holds (why: its docstring,
and tests/test_e2e_early_click.py in a browser). The pages are read with ast, so a widget added
without it fails here, not in a cold visit."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest

from ui import widget_defaults

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")])

# widget -> the argument that gives its default
DEFAULT_ARGUMENT = {
    "selectbox": "index",
    "radio": "index",
    "select_slider": "value",
    "multiselect": "default",
    "segmented_control": "default",
    "pills": "default",
    "tabs": "default",
    "number_input": "value",
    "slider": "value",
    "toggle": "value",
    "checkbox": "value",
    "text_input": "value",
    "text_area": "value",
}


def keyed_bounds(keyword: ast.keyword) -> bool:
    """``**RANGE.widget(key)``: a links.Whole or links.Real range's arguments, the key and its default."""
    return (
        keyword.arg is None
        and isinstance(keyword.value, ast.Call)
        and isinstance(keyword.value.func, ast.Attribute)
        and keyword.value.func.attr == "widget"
        and len(keyword.value.args) == 1
    )


def keyed_widgets(path: Path) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in DEFAULT_ARGUMENT
        and any(keyword.arg == "key" or keyed_bounds(keyword) for keyword in node.keywords)
    ]


def from_widget_defaults(call: ast.Call) -> bool:
    if any(keyed_bounds(keyword) for keyword in call.keywords):
        return True  # links.Whole.widget(key) and links.Real.widget(key) take it from widget_defaults
    argument = next((k.value for k in call.keywords if k.arg == DEFAULT_ARGUMENT[call.func.attr]), None)
    return (
        isinstance(argument, ast.Call)
        and isinstance(argument.func, ast.Attribute)
        and isinstance(argument.func.value, ast.Name)
        and argument.func.value.id == "widget_defaults"
    )


def test_the_pages_draw_keyed_widgets():
    assert sum(len(keyed_widgets(path)) for path in SOURCES) >= 60  # what the reading below covers


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_keyed_widget_takes_its_default_from_the_session(path: Path):
    missing = [
        f"line {call.lineno}: {call.func.attr} without {DEFAULT_ARGUMENT[call.func.attr]}=widget_defaults.…"
        for call in keyed_widgets(path)
        if not from_widget_defaults(call)
    ]
    assert not missing, "\n".join(missing)


@pytest.fixture
def session(monkeypatch):
    state: dict = {}
    monkeypatch.setattr(widget_defaults, "st", SimpleNamespace(session_state=state))
    return state


@pytest.mark.parametrize(
    "held, options, fallback, expected",
    [
        pytest.param({"k": "b"}, ["a", "b", "c"], 0, 1, id="held"),
        pytest.param({}, ["a", "b", "c"], 2, 2, id="absent"),
        pytest.param({"k": "z"}, ["a", "b", "c"], 0, 0, id="not-an-option"),
        pytest.param({"k": 3}, range(5), 0, 3, id="a-range"),
        pytest.param({"k": None}, [None, "a"], 1, 0, id="none-is-an-option"),
        pytest.param({"k": "fp16"}, {"fp32": 4, "fp16": 2}, 0, 1, id="dict-keys"),
    ],
)
def test_index(session, held, options, fallback, expected):
    session.update(held)
    assert widget_defaults.index("k", options, fallback) == expected


@pytest.mark.parametrize(
    "held, options, expected",
    [
        pytest.param({"k": "Charts"}, ["Table", "Charts"], "Charts", id="held"),
        pytest.param({}, ["Table", "Charts"], None, id="absent"),
        pytest.param({"k": "Gone"}, ["Table", "Charts"], None, id="not-an-option"),
    ],
)
def test_option(session, held, options, expected):
    session.update(held)
    assert widget_defaults.option("k", options) == expected


@pytest.mark.parametrize(
    "held, bounds, expected",
    [
        pytest.param({"k": 224}, {"min_value": 32, "max_value": 1024, "step": 16}, 224, id="held"),
        pytest.param({}, {"min_value": 32, "step": 16}, "min", id="absent"),
        pytest.param({"k": 16}, {"min_value": 32, "max_value": 1024}, 32, id="under-the-minimum"),
        pytest.param({"k": 4096}, {"min_value": 32, "max_value": 1024}, 1024, id="over-the-maximum"),
        pytest.param({"k": 0}, {"step": 0.05}, 0.0, id="an-int-beside-a-float-step"),
        pytest.param({"k": 3.0}, {"step": 1}, 3, id="a-whole-float-beside-an-int-step"),
        pytest.param({"k": "x"}, {"step": 1}, "min", id="not-a-number"),
        pytest.param({"k": True}, {"step": 1}, "min", id="a-bool"),
    ],
)
def test_number(session, held, bounds, expected):
    session.update(held)
    value = widget_defaults.number("k", **bounds)
    assert value == expected and type(value) is type(expected)


def test_number_fallback(session):
    assert widget_defaults.number("k", min_value=0.0, step=10.0, fallback=100.0) == 100.0


@pytest.mark.parametrize(
    "held, options, expected",
    [
        pytest.param({"k": ["a", "c"]}, ["a", "b", "c"], ["a", "c"], id="held"),
        pytest.param({}, ["a", "b"], [], id="absent"),
        pytest.param({"k": ["a", "gone"]}, ["a", "b"], ["a"], id="not-an-option-dropped"),
        pytest.param({"k": (1, 4)}, [1, 2, 4, 8], [1, 4], id="a-tuple"),
    ],
)
def test_chosen(session, held, options, expected):
    session.update(held)
    assert widget_defaults.chosen("k", options) == expected


def test_value(session):
    session["k"] = "features"
    assert (widget_defaults.value("k", ""), widget_defaults.value("other", True)) == ("features", True)
