"""Serve MACscope: app.py behind one route of our own.

Streamlit answers every unknown path with its index page. Under a path of two segments
or more (/a/b), that page's relative scripts load from /a/static/ and get the index
page again, so a mistyped or hostile link showed a blank page. A browser opening such a
path is sent to the same path as one segment (/a%2Fb), where the app says "No page at
/a/b" beside the navigation (ui.shell.say_if_no_such_page).
"""

import importlib
import os
import sys
from contextlib import asynccontextmanager
from urllib.parse import quote, unquote

import streamlit as st
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse

# First segments that Streamlit serves itself (its API, assets, media and components).
STREAMLIT_PREFIXES = {"_stcore", "static", "media", "component", "app", "~"}


class NestedPathRedirect:
    """ASGI middleware: a browser's GET of /a/b… (not Streamlit's own) -> /a%2Fb…"""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            # raw_path: the path as sent, where /a%2Fb is one segment (scope["path"] decodes it to /a/b)
            raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
            segments = [part for part in raw_path.split("/") if part]
            accept = dict(scope.get("headers") or []).get(b"accept", b"")
            if len(segments) > 1 and segments[0] not in STREAMLIT_PREFIXES and b"text/html" in accept:
                query = scope.get("query_string", b"").decode("latin-1")
                target = "/" + quote(unquote("/".join(segments)), safe="") + ("?" + query if query else "")
                await RedirectResponse(target, status_code=307)(scope, receive, send)
                return
        await self.app(scope, receive, send)


# A server stopped by SIGTERM or Ctrl+C ends here, after uvicorn's graceful shutdown. A
# measurement still running is asked to stop and waited for (ui.device_queue), then the
# process exits 0 at once: left to the interpreter's finalization, a script thread (a
# daemon) or torch's thread pool can still be inside torch and abort the process
# ("terminate called without an active exception", status 134), and uvicorn would raise
# the captured signal again (status -15) although the shutdown was clean.
@asynccontextmanager
async def lifespan(_app):
    yield
    from ui.device_queue import QUEUE

    QUEUE.shut_down()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# What the pages import (none of it imports torch), imported while the server starts rather
# than during its first visitor's first page: pandas and plotly alone take most of a second.
PAGE_IMPORTS = (
    "calc.explain",
    "calc.presets",
    "calc.separable",
    "calc.zoo",
    "charts.compare",
    "charts.concepts",
    "charts.latency",
    "charts.layers",
    "charts.model",
    "charts.separable",
    "charts.tables",
    "ui.devices",
    "ui.fields",
    "ui.figures",
    "ui.latency_runs",
    "ui.links",
    "ui.stack_state",
    "ui.tables",
)
for module_name in PAGE_IMPORTS:
    importlib.import_module(module_name)

app = st.App("app.py", middleware=[Middleware(NestedPathRedirect)], lifespan=lifespan)
