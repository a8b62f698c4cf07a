"""Shareable links: each page's state lives in its URL.

A page declares its parameters (URL name, session key, how to read and write the
value). On a session's first run of the page, ``restore`` reads the URL into the
session before any widget is drawn; a value that is malformed or hostile is left at
its default and named in a warning, never raised. After its widgets, the page calls
``publish``, which writes the current values back into the URL (the browser's address
bar follows without a rerun), and ``share_box`` shows the link with a copy button.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from calc.errors import SpecError, cut
from calc.share import MAX_URL_CHARS
from ui import widget_defaults
from ui.onnx_upload import SHARE_NOTE
from ui.source_text import ONNX_TEXT
from ui.text import plain

RESTORED = "links_restored"  # pages whose link was read in this session
PROBLEMS = "links_problems"  # page -> what could not be read
MAX_VALUE_CHARS = 2_000  # any parameter but a stack; read before anything else looks at it
MAX_SHOWN_VALUE_CHARS = 40  # a bad value quoted in the warning


@dataclass(frozen=True)
class Param:
    name: str  # in the URL
    key: str  # in st.session_state (a widget key, usually)
    read: Callable[[str], Any]  # URL text -> value; raises ValueError or SpecError saying why
    write: Callable[[Any], str] = str  # value -> URL text
    apply: Callable[[Any], None] | None = None  # instead of setting session_state[key] (e.g. a whole stack)
    max_chars: int = MAX_VALUE_CHARS  # longer is refused unread (a stack has its own, larger limit)


def _keyed(bounds: dict[str, Any], key: str | None) -> dict[str, Any]:
    if key is None:
        return bounds
    return {**bounds, "value": widget_defaults.number(key, **bounds), "key": key}


@dataclass(frozen=True)
class Whole:
    """A whole-number setting's range, declared once: its number_input takes ``widget()``
    and its link parameter (``integer``) refuses what the widget would refuse."""

    low: int
    high: int
    step: int = 1

    def widget(self, key: str | None = None) -> dict[str, Any]:
        """The number_input's arguments: min_value, max_value, step; with ``key``, also the key and
        its session value as the default (ui.widget_defaults)."""
        return _keyed({"min_value": self.low, "max_value": self.high, "step": self.step}, key)


# Shared by the pages that count a zoo model: the input's side in pixels and the batch.
RESOLUTION = Whole(32, 1024, 16)
BATCH = Whole(1, 1024)


def integer(name: str, key: str, bounds: Whole) -> Param:
    # The link accepts any whole number in range, not only multiples of the widget's step:
    # a model's native size (299, 518) is off the step, and the widget accepts it too.
    def read(text: str) -> int:
        if not text.isdigit() or not bounds.low <= int(text) <= bounds.high:
            raise ValueError(f"must be a whole number from {bounds.low} to {bounds.high:,}")
        return int(text)

    return Param(name, key, read)


@dataclass(frozen=True)
class Real:
    """A positive decimal setting's range (above 0, at most ``high``) in the unit its input
    states, declared once: its number_input takes ``widget()`` and its link parameter (``real``)
    refuses what the page would refuse."""

    high: float
    step: float = 1.0
    unit: str = ""  # as the input's label states it: "TFLOP/s", "GB"

    def widget(self, key: str | None = None) -> dict[str, Any]:
        """The number_input's arguments; 0 is let in so that the page can say it must be above 0. With
        ``key``, also the key and its session value as the default (ui.widget_defaults)."""
        return _keyed({"min_value": 0.0, "max_value": self.high, "step": self.step}, key)


# A plain decimal as a person writes it: no sign, no "nan" or "inf", no hex, no underscores.
_DECIMAL = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?")


def real(name: str, key: str, bounds: Real) -> Param:
    def read(text: str) -> float:
        value = float(text) if _DECIMAL.fullmatch(text) else math.nan
        if not 0 < value <= bounds.high:  # nan fails too
            raise ValueError(
                f"must be a number above 0 and at most {bounds.high:,.12g} {bounds.unit}".rstrip()
            )
        return value

    return Param(name, key, read, lambda value: format(value, ".12g"))


def choice(name: str, key: str, options: Callable[[], Sequence[str]]) -> Param:
    def read(text: str) -> str:
        if text not in options():
            raise ValueError("is not one of the choices here")
        return text

    return Param(name, key, read)


def choices(
    name: str, key: str, options: Callable[[], Sequence[Any]], cast: Callable[[str], Any] = str
) -> Param:
    """A list, comma separated (names here contain no commas)."""

    def read(text: str) -> list:
        known = set(options())
        try:
            values = [cast(part) for part in text.split(",") if part]
        except ValueError:
            raise ValueError("is not a comma-separated list of choices here") from None
        unknown = [str(value) for value in values if value not in known]
        if unknown:
            raise ValueError(f"names {', '.join(unknown[:3])}, not among the choices here")
        return list(dict.fromkeys(values))

    return Param(name, key, read, lambda values: ",".join(map(str, values)))


def text(name: str, key: str, max_chars: int = 200) -> Param:
    def read(value: str) -> str:
        if len(value) > max_chars:
            raise ValueError(f"is longer than {max_chars} characters")
        return value

    return Param(name, key, read)


def flag(name: str, key: str) -> Param:
    def read(text: str) -> bool:
        if text not in ("0", "1"):
            raise ValueError("must be 0 or 1")
        return text == "1"

    return Param(name, key, read, lambda value: "1" if value else "0")


# Settings of the whole app, kept in every page's link: presentation mode.
GLOBAL = [flag("present", "presentation")]


def restore(page: str, params: Sequence[Param]) -> None:
    """Read this page's link into the session, once per session (call before any widget)."""
    done = st.session_state.setdefault(RESTORED, set())
    if page in done:
        return
    done.add(page)
    problems = []
    for param in params:
        if param.name not in st.query_params:
            continue
        raw = st.query_params[param.name]
        try:
            if len(raw) > param.max_chars:
                raise ValueError(f"is {len(raw):,} characters, longer than the {param.max_chars:,} allowed")
            value = param.read(raw)
        except ValueError as error:  # SpecError too: its message names the layer and field within the value
            whole = not isinstance(error, SpecError) or (
                error.layer is None and error.field in (None, param.name)
            )
            reason = error.reason if isinstance(error, SpecError) and whole else str(error)
            problems.append(f"“{param.name}” ({cut(raw, MAX_SHOWN_VALUE_CHARS)}) {cut(reason, 200)}")
            continue
        if param.apply is not None:
            param.apply(value)
        else:
            st.session_state[param.key] = value
    if problems:
        st.session_state.setdefault(PROBLEMS, {})[page] = problems


def report_problems(page: str) -> None:
    """Say what the link got wrong (once), in the main area: this page's parameters and the app's."""
    pending = st.session_state.get(PROBLEMS, {})
    problems = pending.pop("app", []) + pending.pop(page, [])
    if problems:
        # Each problem quotes the link: shown as plain text, whatever the link carries.
        message = "; ".join(problems)
        st.warning(
            plain(
                "This link could not be read in full; the default is shown instead of: " + message + ".",
                limit=2_000,
            ),
            icon=":material/link_off:",
        )


def current(params: Sequence[Param], values: dict[str, Any] | None = None) -> dict[str, str]:
    """The URL parameters of the current state (``values`` override session_state by URL name)."""
    values = values or {}
    out = {}
    for param in [*params, *GLOBAL]:
        if param.name in values:
            value = values[param.name]
        elif param.key in st.session_state:
            value = st.session_state[param.key]
        else:
            continue
        if value is not None and value is not False:  # a flag that is off stays out of the link
            out[param.name] = param.write(value)
    return out


def publish(params: Sequence[Param], values: dict[str, Any] | None = None) -> dict[str, str]:
    """Write the current state into the URL (only what changed, so the address bar is quiet)."""
    wanted = current(params, values)
    if {key: st.query_params[key] for key in st.query_params} != wanted:
        st.query_params.from_dict(wanted)
    return wanted


def publish_global() -> None:
    """Keep the app-wide settings in the link of a page that has no state of its own."""
    for param in GLOBAL:
        value = st.session_state.get(param.key)
        wanted = param.write(value) if value else None
        if st.query_params.get(param.name) != wanted:
            if wanted is None:
                del st.query_params[param.name]
            else:
                st.query_params[param.name] = wanted


def share_box(query: dict[str, str]) -> None:
    """The link of this view, with Streamlit's copy button; or why it cannot be shared."""
    base = st.context.url or ""
    link = f"{base}?{urlencode(query)}" if query else base
    with st.expander("Share this view", icon=":material/link:"):
        if len(link) > MAX_URL_CHARS:
            st.warning(
                f"This link is {len(link):,} characters, too long to share: the server refuses links of "
                f"about 128,000 characters (HTTP 400), and MACscope keeps them under {MAX_URL_CHARS:,}. "
                "Download the stack JSON instead and share the file.",
                icon=":material/link_off:",
            )
            return
        st.code(link or "(this page)", language=None, wrap_lines=True)
        st.caption("Copy the link (button at its right): it opens this page with the same settings.")
        if ONNX_TEXT in (query.get("model"), *query.get("models", "").split(",")):
            st.info(SHARE_NOTE, icon=":material/upload_file:")
