"""A stack in a URL: compact (JSON, deflate, base64url) and safe to read back.

Decoding never evaluates anything: base64, a bounded inflate (a small link cannot
expand into gigabytes), then the same JSON parser and validation as an uploaded file.
Whatever is wrong comes back as one SpecError saying so.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib

from calc.errors import SpecError
from calc.spec import MAX_JSON_CHARS, Stack, load_stack

MAX_LINK_CHARS = 200_000   # a stack link longer than this is refused before decoding


def encode_stack(stack_json: dict) -> str:
    """Stack JSON -> a URL-safe token (no padding)."""
    text = json.dumps(stack_json, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii").rstrip("=")


def decode_stack(token: str) -> Stack:
    """A token from encode_stack -> a validated Stack; SpecError naming what is wrong."""
    if len(token) > MAX_LINK_CHARS:
        raise SpecError(f"the stack in this link is {len(token):,} characters, beyond the limit of "
                        f"{MAX_LINK_CHARS:,}", field="stack")
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise SpecError("the stack in this link is not valid base64url; copy the whole link again",
                        field="stack") from None
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(packed, 4 * MAX_JSON_CHARS + 1)
    except zlib.error:
        raise SpecError("the stack in this link is damaged (it does not decompress); copy the whole link again",
                        field="stack") from None
    if inflater.unconsumed_tail or len(data) > 4 * MAX_JSON_CHARS:
        raise SpecError("the stack in this link expands beyond the size limit of a stack", field="stack")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError("the stack in this link is not UTF-8 text", field="stack") from None
    return load_stack(text)
