"""The Graph tab (ui.graph_tab) on the Model page and the Builder, in Streamlit's AppTest: the DOT it
draws is calc's graph at the depth chosen, folded or not, coloured as chosen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from calc.analyze import analyze
from calc.graph import chain, collapse
from calc.graph_fold import fold_repeats
from calc.spec import parse_stack
from calc.torch_graph import graph_module
from charts.graph import COLOUR_BY, MEMORY_SCALE
from ui.graph_tab import FIRST_LOOK_NODES

APP = str(Path(__file__).resolve().parents[1] / "app.py")
NODE_LINE = re.compile(r'^  "[^"]+" \[label=', re.MULTILINE)


def open_graph_tab(page: str, tab_key: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120).run()
    app.switch_page(page).run()
    app.session_state[tab_key] = "Graph"
    app.run()
    assert not app.exception, app.exception
    return app


def drawn_dot(app: AppTest) -> str:
    charts = app.get("graphviz_chart")
    assert len(charts) == 1
    return charts[0].proto.spec


def node_count(dot: str) -> int:
    return len(NODE_LINE.findall(dot))


@pytest.fixture(scope="module")
def resnet50_graph():
    from calc import zoo

    return graph_module(zoo.build("resnet50"), (3, 224, 224))[1]


@pytest.fixture(scope="module")
def model_app() -> AppTest:
    return open_graph_tab("pages/model.py", "model_tab")


def test_model_tab_first_shows_the_deepest_readable_depth(model_app, resnet50_graph):
    # resnet50 folded: 11 nodes at stage depth, 15 at block depth, 91 at layer depth
    folded = fold_repeats(resnet50_graph)
    assert len(collapse(folded, 2).nodes) <= FIRST_LOOK_NODES < len(collapse(folded, 3).nodes)
    assert model_app.slider(key="model_graph_depth").value == 2
    dot = drawn_dot(model_app)
    assert node_count(dot) == len(collapse(folded, 2).nodes)
    assert "Bottleneck ×5" in dot  # layer3's five identical bottlenecks after its first
    assert model_app.get("download_button")[-1].proto.label == "Download DOT"
    # the SVG the browser draws, saved by a button's script (no system Graphviz on the server)
    assert any("XMLSerializer" in html.proto.body for html in model_app.get("html"))


@pytest.mark.parametrize(
    "depth, fold",
    [
        pytest.param(1, True, id="stages"),
        pytest.param(3, False, id="every-layer-unfolded"),
        pytest.param(2, False, id="blocks-unfolded"),
    ],
)
def test_model_tab_depth_and_fold_redraw_calcs_graph(model_app, resnet50_graph, depth, fold):
    model_app.toggle(key="model_graph_fold").set_value(fold).run()
    model_app.slider(key="model_graph_depth").set_value(depth).run()
    assert not model_app.exception, model_app.exception
    expected = collapse(fold_repeats(resnet50_graph) if fold else resnet50_graph, depth)
    dot = drawn_dot(model_app)
    assert node_count(dot) == len(expected.nodes)
    assert dot.count(" -> ") == len(expected.edges)


def test_model_tab_colours_by_roofline_bound(model_app):
    model_app.selectbox(key="model_graph_colour").set_value(COLOUR_BY[1]).run()
    assert not model_app.exception, model_app.exception
    dot = drawn_dot(model_app)
    assert any(colour in dot for colour in MEMORY_SCALE[1:])  # the norms and activations
    assert any("memory-bound" in caption.value for caption in model_app.caption)


def test_builder_tab_draws_the_stack_as_a_chain():
    app = open_graph_tab("pages/builder.py", "builder_tab")
    report = analyze(parse_stack(app.session_state["stack"]))
    dot = drawn_dot(app)
    graph = fold_repeats(chain(report))
    assert node_count(dot) == len(graph.nodes)
    assert dot.count(" -> ") == len(graph.nodes) - 1
    app.toggle(key="builder_graph_fold").set_value(False).run()
    assert node_count(drawn_dot(app)) == len(report.rows) + 1  # the input, then every layer
