"""A one-chart Streamlit page for benchmarks/bench_graph.py: draws the DOT file named by the link's
``case`` from the folder in $MACSCOPE_GRAPH_CASES with st.graphviz_chart, as the Graph tab does."""

from __future__ import annotations

import os
import re
from pathlib import Path

import streamlit as st

case = st.query_params.get("case", "")
if not re.fullmatch(r"[a-z0-9-]+", case):
    st.stop()
st.title(case)
st.graphviz_chart((Path(os.environ["MACSCOPE_GRAPH_CASES"]) / f"{case}.dot").read_text(), width="content")
