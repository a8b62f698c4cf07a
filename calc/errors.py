"""The one error type of MACscope: what is wrong, on which layer, in which field."""

from __future__ import annotations


class SpecError(ValueError):
    """A stack (or any user input) that cannot be analysed.

    ``layer`` is the 0-based index of the offending layer (None for the stack as a
    whole), ``field`` the name of the offending field (None when no single field is
    to blame). The message always names both when they are known, so that a CLI can
    print it as it is and a page can show it beside the layer.
    """

    def __init__(self, reason: str, *, layer: int | None = None, field: str | None = None,
                 kind: str | None = None):
        self.reason = reason
        self.layer = layer
        self.field = field
        self.kind = kind
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.layer is not None:
            where.append(f"layer {self.layer}" + (f" ({self.kind})" if self.kind else ""))
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return (", ".join(where) + ": " if where else "") + self.reason
