"""Text from a user, shown as text.

st.warning, st.error, st.caption and st.markdown render Markdown, Streamlit's
``$…$`` LaTeX and its ``:red[…]`` / ``:material/…:`` directives: a link value echoed
as it is could make every visitor's browser fetch an image, show a clickable link or
large red text. ``plain`` makes any text inert there: control characters become
spaces, the text is cut to a short length with "…", every ASCII punctuation
character is backslash-escaped (CommonMark lets any of them be escaped; Streamlit's
math and directives honour the escape), and a zero-width space goes where GFM would
turn a bare address into a link (after "http:" or "@", before the dot of "www."):
that step runs on the parsed text, after the escapes are gone. It reads as typed.
"""

from __future__ import annotations

import re
import unicodedata

from calc.errors import cut

MAX_SHOWN_CHARS = 300  # a whole message; a quoted value is cut shorter where it is quoted
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
# What remark-gfm's autolink literal matches in text: "http://", "www." and the "@" of an email.
_AUTOLINK = re.compile(r":(?=//)|(?i:www)(?=\.)|@")
ZERO_WIDTH_SPACE = "\u200b"


def _printable(character: str) -> str:
    # Cc: newlines and other controls (a newline starts a Markdown block); Cf: bidi
    # overrides and zero-width characters (they can reorder or hide the text around).
    return " " if unicodedata.category(character) in ("Cc", "Cf") else character


def plain(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """``text`` (anything a user gave, or a message quoting it), safe in any Markdown body."""
    shown = "".join(map(_printable, cut(str(text), limit)))
    unlinked = _AUTOLINK.sub(lambda match: match.group(0) + ZERO_WIDTH_SPACE, shown)
    return _PUNCTUATION.sub(r"\\\1", unlinked)
