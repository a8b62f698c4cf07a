"""What is slow to compute and fixed for its inputs, kept on disk between runs: zoo counts and
the zoo's metadata. A fresh server then shows them without importing torch or torchvision
(seconds on a small machine) and without counting again.

One JSON file per entry (never pickle: loading a pickle runs whatever the file says),
named by a hash of its key; the file repeats the key, and a read checks it. A key names
everything the value depends on, library versions and a hash of our counting code
included, so a stale entry is simply never asked for again. A file that cannot be read,
does not parse or holds another key is a miss: the caller recomputes and writes it again;
the cache never raises. Writes go to a temporary file in the same folder, then
``os.replace``: a reader sees the old file or the new one, never half of one, and two
writers of the same key both leave a whole file. The folder is bounded: past MAX_BYTES,
the least recently used entries go.

The folder: ``$MACSCOPE_CACHE_DIR`` if set (tests point it at a temporary folder), else
``$XDG_CACHE_HOME/macscope``, else ``~/.cache/macscope``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

CACHE_DIR_ENV = "MACSCOPE_CACHE_DIR"
FORMAT = 2  # of the files: a new layout gets a new number, old files become misses
# (2: each term carries its kind of work, unsupported ops are counts)
MAX_BYTES = 200 * 1000**2  # vit_h_14's report is about 100 kB: thousands of counts fit
SUFFIX = ".json"


def folder() -> Path:
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "macscope"


def _canonical(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def path_of(kind: str, key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(f"{FORMAT}:{kind}:{_canonical(key)}".encode()).hexdigest()[:32]
    return folder() / f"{kind}-{digest}{SUFFIX}"


def read(kind: str, key: dict[str, Any]) -> Any | None:
    """The value stored under ``key``, or None (absent, unreadable, corrupt or another key's)."""
    path = path_of(kind, key)
    try:
        with open(path, encoding="utf-8") as handle:
            entry = json.load(handle)
    except (OSError, ValueError):  # ValueError covers bad JSON and bad UTF-8
        return None
    if (
        not isinstance(entry, dict)
        or entry.get("format") != FORMAT
        or entry.get("kind") != kind
        or entry.get("key") != json.loads(_canonical(key))
        or "value" not in entry
    ):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: the last to be pruned
    return entry["value"]


def write(kind: str, key: dict[str, Any], value: Any) -> None:
    """Store ``value`` (plain JSON data) under ``key``; a folder that cannot be written is skipped."""
    path = path_of(kind, key)
    text = json.dumps({"format": FORMAT, "kind": kind, "key": key, "value": value}, separators=(",", ":"))
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=".tmp-", suffix=SUFFIX, delete=False
        ) as handle:
            temporary = handle.name
            handle.write(text)
        os.replace(temporary, path)
        temporary = None
        prune(MAX_BYTES)
    except OSError:
        pass
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def prune(max_bytes: int) -> None:
    """Remove the least recently used entries until the folder holds at most ``max_bytes``."""
    entries = []
    try:
        with os.scandir(folder()) as listing:
            for item in listing:
                if item.name.endswith(SUFFIX) and not item.name.startswith(".tmp-"):
                    try:
                        status = item.stat()
                    except OSError:
                        continue  # removed meanwhile by another process
                    entries.append((status.st_mtime, status.st_size, item.path))
    except OSError:
        return
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            os.unlink(path)
        total -= size


@cache
def library_version(distribution: str) -> str:
    """An installed package's version, read from its metadata without importing it."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


@cache
def source_hash(*modules: str) -> str:
    """A hash of calc modules' sources (``"torch_count"`` for calc/torch_count.py): a change
    to the code that computes a value makes a new key, so old values are never read."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for module in modules:
        digest.update(module.encode())
        digest.update((here / f"{module}.py").read_bytes())
    return digest.hexdigest()[:16]
