"""The command line's one reader of files: a stack JSON file, refused before it is read when it is
not a regular file or is over the limit."""

from __future__ import annotations

import os
import stat

from calc.errors import SpecError
from calc.spec import MAX_JSON_BYTES, Stack, load_stack

# What a path is when it is not a regular file, for the refusal: reading /dev/zero or
# /dev/urandom never ends, and opening a named pipe waits for a writer.
_NOT_REGULAR = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)


def read_limited(path: str, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, refused when it holds more than ``limit``.

    The file's kind and size are checked before anything is read, and at most
    ``limit + 1`` bytes are read, so a file that grows meanwhile is refused too.
    Opened non-blocking: a named pipe is refused instead of waited on.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise SpecError(f"cannot read {path}: {error.strerror}") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            kind = next(
                (name for is_kind, name in _NOT_REGULAR if is_kind(status.st_mode)), "not a regular file"
            )
            raise SpecError(f"cannot read {path}: it is {kind}; give a stack JSON file")
        if status.st_size > limit:
            raise SpecError(f"{path} is {status.st_size:,} bytes, beyond the limit of {limit:,}")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise SpecError(f"cannot read {path}: {error.strerror}") from None
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise SpecError(f"{path} holds more than {limit:,} bytes, beyond the limit")
    return data


def read_stack(path: str) -> Stack:
    """The stack in the JSON file at ``path`` (the one reader of stack files: stack, whatif, latency)."""
    data = read_limited(path, MAX_JSON_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{path} is not UTF-8 text") from None
    return load_stack(text)
