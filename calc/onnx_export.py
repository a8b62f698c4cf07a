"""A torchvision or timm model as an ONNX file, exported once per model, resolution and batch and
kept on disk: what the Latency page gives ONNX Runtime to time beside torch.

The export (calc.torch_onnx_export, ``torch.onnx.export(..., dynamo=True)``) runs in a child
process: it takes tens of seconds for a large model and cannot be interrupted from inside, so the
parent bounds it in wall-clock time, stops it on request (the server shutting down, the user
leaving) and reports its progress in words. A finished file is written beside the cache's other
entries (calc.disk_cache.folder()/onnx-exports), named by a hash of everything it depends on
(the model, its input, torch's and onnx's versions, the exporter's code), and bounded in total
size, least recently used first out. Torch-free: the child imports torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from calc import disk_cache
from calc.errors import SpecError, cut
from calc.time_bound import TimeBound

EXPORT_SECONDS = 120.0  # resnet50 exports in about 30 s on a quiet two-core machine
EXPORTABLE_KINDS = ("torchvision", "timm", "stack")  # "stack": the zoo's presets, named like models
FOLDER = "onnx-exports"
MAX_BYTES = 2 * 1000**3  # a few large models' fp32 weights
POLL_SECONDS = 0.5
ROOT = Path(__file__).resolve().parents[1]  # the child runs `python -m calc.torch_onnx_export` here

Progress = Callable[[float, str], None]


def folder() -> Path:
    return disk_cache.folder() / FOLDER


def export_key(text: str, resolution: int | None, batch: int) -> dict:
    return {
        "source": text,
        "resolution": resolution,
        "batch": batch,
        "dtype": "fp32",
        "torch": disk_cache.library_version("torch"),
        "torchvision": disk_cache.library_version("torchvision"),
        "timm": disk_cache.library_version("timm"),
        "onnx": disk_cache.library_version("onnx"),
        "onnxscript": disk_cache.library_version("onnxscript"),
        "code": disk_cache.source_hash("torch_onnx_export"),
    }


def path_of(text: str, resolution: int | None, batch: int) -> Path:
    key = json.dumps(export_key(text, resolution, batch), sort_keys=True)
    return folder() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.onnx"


def cached(text: str, resolution: int | None, batch: int) -> Path | None:
    """The exported file, if an earlier export left it (then marked recently used)."""
    path = path_of(text, resolution, batch)
    if not path.is_file():
        return None
    with contextlib.suppress(OSError):
        os.utime(path)
    return path


def export(
    text: str,
    resolution: int | None,
    batch: int,
    progress: Progress | None = None,
    bound: TimeBound | None = None,
) -> Path:
    """The ONNX file of the SOURCE ``text`` at ``resolution`` (None: its own) and ``batch``: the
    cached one, else exported now within ``bound`` (default EXPORT_SECONDS); SpecError when the
    export fails or runs out of time (the child is then stopped), Stopped when asked to stop."""
    found = cached(text, resolution, batch)
    if found is not None:
        return found
    bound = bound or TimeBound.starting_now(EXPORT_SECONDS)
    progress = progress or (lambda fraction, message: None)
    path = path_of(text, resolution, batch)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".onnx")
    os.close(handle)
    command = [
        sys.executable,
        "-m",
        "calc.torch_onnx_export",
        text,
        "-" if resolution is None else str(resolution),
        str(batch),
        temporary,
    ]
    try:
        # stderr to a file, not a pipe: a chatty child never blocks on a full pipe
        with tempfile.TemporaryFile("w+") as errors:
            _run_child(command, errors, text, progress, bound)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    prune(MAX_BYTES)
    return path


def _run_child(command: list[str], errors, text: str, progress: Progress, bound: TimeBound) -> None:
    """Run the export's child process to its end, reporting progress; it is killed when the bound
    runs out, when asked to stop, or when the page's script is stopped meanwhile (an exception)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors, text=True)
    try:
        while child.poll() is None:
            elapsed = time.perf_counter() - started
            if bound.left() <= 0:
                raise SpecError(
                    f"exporting {cut(text)} to ONNX took more than {bound.seconds:.0f} s and was stopped",
                    field="runtime",
                )
            progress(
                min(elapsed / bound.seconds, 1.0),
                f"Exporting {text} to ONNX (torch.onnx.export, dynamo): {elapsed:.0f} s so far, at most "
                f"{bound.seconds:.0f} s; done once per model, resolution and batch, then kept…",
            )
            bound.check()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(POLL_SECONDS)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    if child.returncode != 0:
        errors.seek(0)
        why = errors.read().strip().splitlines()
        reason = cut(why[-1] if why else f"exit status {child.returncode}", 200)
        raise SpecError(f"torch.onnx.export could not export {cut(text)}: {reason}", field="runtime")


def prune(max_bytes: int) -> None:
    """Remove the least recently used exports until the folder holds at most ``max_bytes``."""
    entries = []
    with contextlib.suppress(OSError):
        for item in folder().iterdir():
            if item.suffix == ".onnx" and not item.name.startswith(".tmp-"):
                with contextlib.suppress(OSError):
                    status = item.stat()
                    entries.append((status.st_mtime, status.st_size, item))
    total = sum(size for _, size, _ in entries)
    for _, size, item in sorted(entries)[:-1]:  # the newest stays, whatever its size
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            item.unlink()
        total -= size


__all__ = ["EXPORTABLE_KINDS", "EXPORT_SECONDS", "cached", "export", "path_of", "prune"]
