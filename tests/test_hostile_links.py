"""Hostile links: whatever a link carries is shown as text, short, and never rendered.

Every link parameter of every page (read from the pages' LINK declarations, so a new
parameter is covered without editing this file) is given Markdown, HTML, LaTeX,
Streamlit directives, a URL and a long string. The page must open without an
exception, name each refused parameter, and show the value only escaped: the hostile
text itself appears in no element that renders Markdown, and no message is long.
"""

from __future__ import annotations

import ast
import json
import re
import zlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_links import open_with, token

from calc.share import encode_stack
from ui import links
from ui.text import ZERO_WIDTH_SPACE, plain

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "pages").glob("*.py"))
PARAM_MAKERS = {"integer", "real", "choice", "choices", "text", "flag", "Param"}
FREE_TEXT = {
    ("pages/model.py", "filter")
}  # a search box: any short text is a valid value, shown in its input
MAX_ELEMENT_CHARS = 5_000  # the longest warning: every parameter refused, each quoted cut

IMAGE = "![](http://127.0.0.1:8699/x.png)"
HOSTILE = [
    pytest.param(IMAGE, id="markdown-image"),
    pytest.param("[click here](http://example.invalid/)", id="markdown-link"),
    pytest.param('<img src="http://127.0.0.1:8699/y.png">', id="html-image"),
    pytest.param("$\\huge\\color{red}{HACKED}$", id="latex"),
    pytest.param(":red[**HACKED**] :material/warning:", id="streamlit-directives"),
    pytest.param("# Heading\n* item", id="markdown-blocks"),
    pytest.param("http://example.invalid/x", id="bare-url"),
    # 3,000 in each parameter: Streamlit itself ignores a whole query over 524,288 characters
    pytest.param("😀" * 3_000, id="three-thousand-emoji"),
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_plain_text_is_inert_and_short(hostile):
    text = plain(hostile, limit=100)
    unescaped = re.sub(r"\\[!-/:-@\[-`{-~]", "", text)  # what is left once every escape is taken out
    assert not re.search(r"[!-/:-@\[-`{-~]", unescaped), f"an unescaped punctuation character in {text!r}"
    assert "\n" not in text and "://" not in text.replace("\\", "")
    assert len(hostile) <= 100 or text.endswith("…")
    assert len(text.replace("\\", "").replace(ZERO_WIDTH_SPACE, "")) <= 100


def link_params(page: str) -> list[str]:
    """The URL names a page declares in its LINK list, read from its syntax tree."""
    tree = ast.parse((ROOT / page).read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            getattr(target, "id", None) == "LINK" for target in node.targets
        ):
            names.extend(
                call.args[0].value
                for call in ast.walk(node.value)
                if isinstance(call, ast.Call)
                and getattr(call.func, "attr", None) in PARAM_MAKERS
                and call.args
                and isinstance(call.args[0], ast.Constant)
            )
    return names


def rendered_bodies(app: AppTest) -> list[str]:
    """The text of every element whose body Streamlit renders as Markdown."""
    elements = [*app.markdown, *app.caption, *app.warning, *app.error, *app.info, *app.success]
    return [element.value for element in elements]


def test_every_page_with_a_link_is_covered():
    covered = {page: link_params(page) for page in PAGES}
    assert {page for page, names in covered.items() if names} == {
        "pages/builder.py",
        "pages/compare.py",
        "pages/concepts.py",
        "pages/latency.py",
        "pages/llm.py",
        "pages/model.py",
        "pages/separable.py",
    }
    assert "stack" in covered["pages/builder.py"] and "device" in covered["pages/latency.py"]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: Path(page).stem)
@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_in_every_parameter_is_shown_as_text(page, hostile):
    # present= is the app's: the first page run reports it (here the home page, before the switch)
    names = [*link_params(page), *(["present"] if page == "pages/home.py" else [])]
    app = open_with(page, **dict.fromkeys(names, hostile))
    warnings = " ".join(warning.value for warning in app.warning)
    for name in names:
        if (page, name) not in FREE_TEXT:
            assert f"“{name}”" in warnings, f"the refused parameter {name} is not named: {warnings[:300]}"
    bodies = rendered_bodies(app)
    for body in bodies:
        assert hostile not in body, f"shown as Markdown: {body[:300]}"
        assert len(body) < MAX_ELEMENT_CHARS, f"an element of {len(body):,} characters"
    if len(hostile) < links.MAX_SHOWN_VALUE_CHARS:  # short enough to be quoted whole: it is, escaped
        assert plain(hostile) in warnings
    assert not any(hostile in latex.value for latex in app.latex)


# A stack that is valid base64 and deflate, whose content is hostile: the message quoting
# its layer type or dtype is escaped and cut, in the page and at the source.
def stack_token(stack: dict) -> str:
    return token(zlib.compress(json.dumps(stack).encode("utf-8"), 9))


@pytest.mark.parametrize("page", ["pages/builder.py", "pages/latency.py"])
@pytest.mark.parametrize(
    "stack, field",
    [
        pytest.param({"input": [3, 8, 8], "layers": [{"type": IMAGE}]}, "type", id="layer-type"),
        pytest.param({"input": [3, 8, 8], "dtype": IMAGE, "layers": []}, "dtype", id="dtype"),
        pytest.param({"input": [3, 8, 8], "layers": [{"type": "relu", IMAGE: 1}]}, IMAGE, id="field-name"),
        pytest.param(
            {"input": [3, 8, 8], "layers": [{"type": "x" * 1_990_000}]}, "type", id="two-million-char-type"
        ),
        pytest.param({"input": [3, 8, 8], "layers": [{"type": "😀" * 100_000}]}, "type", id="emoji-type"),
    ],
)
def test_a_hostile_stack_in_a_link_is_quoted_short_and_escaped(page, stack, field):
    link = stack_token(stack)
    assert len(link) < 10_000  # deflate: a small link can carry a huge type
    app = open_with(page, stack=link, source="Builder stack")
    warning = next(warning.value for warning in app.warning if "“stack”" in warning.value)
    assert plain(f"field '{field[:59]}") in warning or plain(f"field '{field}'") in warning, warning
    for body in rendered_bodies(app):
        assert IMAGE not in body and len(body) < 1_000, body[:300]


def test_a_custom_device_named_by_a_link_is_refused_as_text():
    device = json.dumps({"name": IMAGE, "peaks": {"fp32": 1e13}, "bandwidth": 1e11})
    app = open_with("pages/latency.py", device=device, hw=IMAGE)
    warning = next(warning.value for warning in app.warning if "“device”" in warning.value)
    assert plain("field 'name'") in warning
    for body in rendered_bodies(app):
        assert IMAGE not in body


def test_a_long_stack_link_is_refused_before_decoding_and_the_share_box_says_why(monkeypatch):
    app = open_with("pages/builder.py", stack=encode_stack({"input": [3], "layers": []}) + "A" * 100_000)
    assert any("“stack”" in warning.value and "longer than" in warning.value for warning in app.warning)
    monkeypatch.setattr(links, "MAX_URL_CHARS", 50)  # the default stack's link is longer than this
    app = open_with("pages/builder.py")
    assert any("too long to share" in warning.value for warning in app.warning)
    assert not app.code
