"""MACscope: what a neural network computes and what that costs.

Navigation is declared here as data; each page is a thin script under pages/.
"""

from pathlib import Path

import streamlit as st

from ui import figures, links, shell, style, widget_defaults

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/concepts.py", title="Concepts", icon=":material/school:", url_path="concepts"),
    st.Page("pages/builder.py", title="Layer Builder", icon=":material/stacks:", url_path="builder"),
    st.Page("pages/model.py", title="Model", icon=":material/account_tree:", url_path="model"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page("pages/latency.py", title="Latency", icon=":material/speed:", url_path="latency"),
    st.Page("pages/separable.py", title="Separable", icon=":material/call_split:", url_path="separable"),
    st.Page("pages/llm.py", title="LLM", icon=":material/chat:", url_path="llm"),
]

links.restore("app", links.GLOBAL)
# Presentation mode collapses the sidebar: the main area gets the whole width of a
# projector; the sidebar's arrow brings back the controls and the share link.
# A local icon: a material icon would be fetched from a font server, absent offline.
st.set_page_config(
    page_title="MACscope",
    page_icon=str(Path(__file__).parent / "docs" / "favicon.png"),
    layout="wide",
    initial_sidebar_state="collapsed" if st.session_state.get("presentation") else "auto",
)
navigation = st.navigation(PAGES)
shell.say_if_no_such_page(PAGES)
presentation = st.sidebar.toggle(
    "Presentation mode",
    value=widget_defaults.value("presentation", False),
    key="presentation",
    help="Larger text, charts and formulas that fit a projector, the sidebar folded away; kept in the link",
)
style.apply(presentation)
with figures.drawn_at_the_end():  # the charts a first run held back
    navigation.run()
    links.publish_global()
