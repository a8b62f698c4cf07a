"""Concepts: one layer's parameters shown with and without bias, as the Separable page counts
them, and a wrong published figure named with where it was published."""

from __future__ import annotations

import pytest
from test_app import open_page

from calc import hardware as hw
from calc.units import exact

STANDARD = "standard 3x3 conv 32 -> 64"


@pytest.fixture(scope="module")
def concepts():
    app = open_page("pages/concepts.py")
    app.session_state["concepts_tab"] = "Worked examples"  # only the open tab draws its table
    return app.run()


def shown(app) -> str:
    return " ".join(block.value for block in [*app.markdown, *app.caption])


def test_worked_params_with_and_without_bias(concepts):
    table = next(frame.value for frame in concepts.dataframe if "params without bias" in frame.value.columns)
    row = table.set_index("example").loc[STANDARD]
    assert row["params"] == 64 * 32 * 3 * 3 + 64 == 18_496
    assert row["params without bias"] == 64 * 32 * 3 * 3 == 18_432
    separable_page = open_page("pages/separable.py")
    helps = " ".join(metric.proto.help for metric in separable_page.metric)
    assert f"standard {exact(18_432)}" in helps  # the Separable page's figure is the column without bias


def test_tpu_figure_names_where_it_was_published(concepts):
    source = hw.hardware("Google TPU v4").source.split(";")[0]
    assert source.startswith("Google Cloud TPU v4 documentation")
    assert f"Published, in {source}." in shown(concepts)
