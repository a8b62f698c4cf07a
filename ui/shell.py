"""What every page runs first.

Streamlit 1.67 decides once per server, when its first session starts, whether the
app uses the legacy ``pages/`` directory mode: it does if ``pages/`` exists and
app.py has not yet called st.navigation. So when the first visitor of a fresh server
opens a shared link such as /builder, the page script runs alone (legacy sidebar,
no page config) instead of through app.py. Here we leave that mode and rerun: the
page's hash is its url path in both modes, so the same page comes back, now
through app.py's navigation.
"""

from urllib.parse import unquote, urlparse

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from ui.text import plain

# A page's main area is never blank: the first look at the zoo on a machine imports
# torchvision (seconds) before the page has drawn its title, so it says so.
READING_ZOO = "Reading the model zoo (torchvision's metadata, once on this machine)…"


def require_navigation() -> None:
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def say_if_no_such_page(pages: list) -> None:
    """A link to a path that names no page runs the default page, and the browser's
    address bar drops the path: say which path was asked for (once, on that first run).

    A path of two segments or more (/a/b) never reaches here: Streamlit's server answers
    it with its index page, whose scripts then load from /a/static/ and get that page
    again instead, so the browser shows a blank page.
    """
    path = unquote(urlparse(st.context.url or "").path).strip("/")
    if path and path not in {page.url_path for page in pages}:
        st.warning(
            plain(f"No page at /{path}. Here is the home page; every page is in the sidebar."),
            icon=":material/link_off:",
        )
