"""The one error type of MACscope: what is wrong, on which layer, in which field."""

from __future__ import annotations

import json
from typing import Any

MAX_ECHO_CHARS = 60  # a user's value quoted in a message: enough to recognise it, never a page of it


def cut(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with "…"."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def echo(value: Any, limit: int = MAX_ECHO_CHARS) -> str:
    """A user's value as JSON text, cut to ``limit``: what a message quotes of it.

    Non-ASCII is escaped (``\\u202e``, not the character), so a quoted value cannot
    reorder or hide the text around it.
    """
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)[
            :limit
        ]  # ValueError: an int beyond json's 4300 digits; RecursionError: deep nesting
    return cut(text, limit)


class SpecError(ValueError):
    """A stack (or any user input) that cannot be analysed.

    ``layer`` is the 0-based index of the offending layer (None for the stack as a
    whole), ``field`` the name of the offending field (None when no single field is
    to blame). The message always names both when they are known, so that a CLI can
    print it as it is and a page can show it beside the layer.
    """

    def __init__(
        self, reason: str, *, layer: int | None = None, field: str | None = None, kind: str | None = None
    ) -> None:
        self.reason = reason
        self.layer = layer
        self.field = field
        self.kind = kind
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.layer is not None:
            where.append(f"layer {self.layer}" + (f" ({self.kind})" if self.kind else ""))
        if self.field is not None:  # a field name can be the user's (an unknown key): cut
            where.append(f"field '{cut(str(self.field))}'")
        return (", ".join(where) + ": " if where else "") + self.reason
