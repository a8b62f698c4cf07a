"""JSON text from a user (a file, a pasted text, a link), read with limits.

Only JSON is read, nothing is evaluated. The text is bounded in length, the parsed
value in nesting depth (a stack needs 4 levels; a 15,000-deep list would otherwise
overflow the recursion of every later walk), and a key given twice in one object is
refused, naming it: ``json.loads`` would silently keep the last value.
"""

from __future__ import annotations

import json
from typing import Any

from calc.errors import SpecError

MAX_DEPTH = 32


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise SpecError("is given twice in one object; keep one", field=key)
        obj[key] = value
    return obj


def depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (a number: 0), without recursion."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, (list, dict)):
            level += 1
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:  # past the limit the answer is known: stop descending
                pending.extend(
                    (child, level) for child in (item.values() if isinstance(item, dict) else item)
                )
    return deepest


def read_json(text: str, max_chars: int) -> Any:
    """Parse ``text``; SpecError saying what is wrong (too long, not JSON, too deep, a duplicate key)."""
    if len(text) > max_chars:
        raise SpecError(f"the JSON is {len(text):,} characters, beyond the limit of {max_chars:,}")
    too_deep = SpecError(f"the JSON is nested more than {MAX_DEPTH} levels deep")
    try:
        value = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except SpecError:
        raise
    except RecursionError:
        raise too_deep from None
    except ValueError as error:  # JSONDecodeError, or an int over 4300 digits
        detail = (
            f"line {error.lineno}, column {error.colno}: {error.msg}"
            if isinstance(error, json.JSONDecodeError)
            else "a number has too many digits"
        )
        raise SpecError(f"not valid JSON ({detail})") from None
    if depth(value) > MAX_DEPTH:
        raise too_deep
    return value
