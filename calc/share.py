"""A stack, or a Hugging Face config.json, in a URL: compact (JSON, deflate, base64url) and
safe to read back.

Decoding never evaluates anything: base64, a bounded inflate (a small link cannot
expand into gigabytes), then the same JSON parser and validation as an uploaded file.
Whatever is wrong comes back as one SpecError saying so. Both travel through the one
encoder and decoder here; only the check of the decoded text differs.
"""

from __future__ import annotations

import base64
import json
import re
import zlib

from calc import hf_config
from calc.errors import SpecError
from calc.spec import MAX_JSON_CHARS, Stack, load_stack

# The server refuses a request whose head (the URL and the browser's headers) is over
# about 128 KB: HTTP 400 measured at a 128,000-character query, none at 127,500
# (`streamlit run`, streamlit 1.67 on uvicorn). A link's whole URL is kept under
# MAX_URL_CHARS, with room left for headers and cookies, and its stack under MAX_LINK_CHARS.
MAX_URL_CHARS = 100_000
MAX_LINK_CHARS = MAX_URL_CHARS - 4_000  # the rest of the URL: address, page and the other parameters
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def encode_json(value: dict) -> str:
    """JSON (stack JSON, a config.json's contents) -> a URL-safe token (no padding)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii").rstrip("=")


encode_stack = encode_json  # stack JSON -> token
encode_config = encode_json  # a config.json's contents -> token


def decode_text(token: str, what: str = "stack", max_chars: int = MAX_JSON_CHARS) -> str:
    """A token from encode_json -> its JSON text, unchecked; SpecError on the field ``what``
    ("stack", "config") naming what is wrong. ``max_chars`` bounds the text it inflates to."""
    if len(token) > MAX_LINK_CHARS:
        raise SpecError(
            f"the {what} in this link is {len(token):,} characters, beyond the limit of {MAX_LINK_CHARS:,}",
            field=what,
        )
    if not token:
        raise SpecError(f"the {what} in this link is empty; copy the whole link again", field=what)
    # b64decode alone would skip the characters it does not know ("!!!" decodes to nothing).
    if not _BASE64URL.fullmatch(token) or len(token) % 4 == 1:
        raise SpecError(
            f"the {what} in this link is not valid base64url (letters, digits, - and _); copy the whole "
            "link again",
            field=what,
        )
    packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(packed, 4 * max_chars + 1)
    except zlib.error:
        raise SpecError(
            f"the {what} in this link is damaged (it does not decompress); copy the whole link again",
            field=what,
        ) from None
    if inflater.unconsumed_tail or len(data) > 4 * max_chars:
        raise SpecError(f"the {what} in this link expands beyond the size limit of a {what}", field=what)
    # zlib checks the stream's adler32 checksum only when it reaches the end: a token cut
    # anywhere, even only in its last 4 bytes (the checksum), ends before that.
    if not inflater.eof:
        raise SpecError(
            f"the {what} in this link is incomplete (the link was cut); copy the whole link again",
            field=what,
        )
    if inflater.unused_data:
        raise SpecError(f"the {what} in this link has data after its end; copy the link again", field=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"the {what} in this link is not UTF-8 text", field=what) from None


def decode_stack(token: str) -> Stack:
    """A token from encode_stack -> a validated Stack; SpecError naming what is wrong."""
    return load_stack(decode_text(token, "stack"))


def decode_config(token: str) -> dict:
    """A token from encode_config -> a config.json's contents, checked as an uploaded one is
    (calc.hf_config: no custom code, sizes in bounds); SpecError naming what is wrong."""
    return hf_config.read_config(decode_text(token, "config", hf_config.MAX_CONFIG_CHARS))
