"""The command line's one reader of stack files: the kind and size of a file are checked
before it is read, and no more than the limit (plus one byte) is ever read."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from calc.cli.files import read_limited, read_stack
from calc.errors import SpecError
from calc.spec import MAX_JSON_BYTES

ROOT = Path(__file__).resolve().parents[1]
SMALL = '{"input": [3, 8, 8], "layers": [{"type": "conv2d", "out_channels": 4, "kernel_size": 3}]}'
OVERSIZED_BYTES = 200 * 10**6
# The command line reads the file before it imports torch; a process over this much
# memory has read far beyond the limit (reading /dev/zero unchecked grew to 7 GB in 12 s).
MEMORY_CAP_BYTES = 1024**3


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """Paths that are not a stack file to read whole: path -> what the refusal says."""
    fifo = tmp_path / "stack.fifo"
    os.mkfifo(fifo)
    sparse = tmp_path / "huge.json"
    with open(sparse, "wb") as handle:
        handle.truncate(OVERSIZED_BYTES)  # sparse: no disk used
    return {
        "dev-zero": ("/dev/zero", "a character device"),
        "dev-urandom": ("/dev/urandom", "a character device"),
        "fifo": (str(fifo), "a named pipe"),
        "directory": (str(tmp_path), "a directory"),
        "oversized": (str(sparse), f"{OVERSIZED_BYTES:,} bytes, beyond the limit of {MAX_JSON_BYTES:,}"),
    }


COMMANDS = [
    pytest.param(["stack"], id="stack"),
    pytest.param(["whatif"], id="whatif"),
    pytest.param(["latency", "--hardware", "NVIDIA RTX 3090"], id="latency"),
]
SOURCES = ["dev-zero", "dev-urandom", "fifo", "directory", "oversized"]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("command", COMMANDS)
def test_commands_refuse_what_is_not_a_small_regular_file(command, source, sources):
    path, reason = sources[source]
    arguments = [command[0], path, *command[1:]]
    result = subprocess.run(
        [sys.executable, "-m", "calc", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_cap_memory,
    )
    assert result.returncode == 2, result.stderr[-500:]
    assert reason in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", COMMANDS)
def test_commands_still_read_a_stack_file(command, tmp_path: Path):
    path = tmp_path / "stack.json"
    path.write_text(SMALL, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "calc", command[0], str(path), *command[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_an_oversized_file_is_refused_without_reading_it(sources):
    path, reason = sources["oversized"]
    tracemalloc.start()
    try:
        with pytest.raises(SpecError, match=reason):
            read_stack(path)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_bytes < MAX_JSON_BYTES  # not even the limit was read


@pytest.mark.parametrize(
    "size, accepted",
    [
        pytest.param(MAX_JSON_BYTES, True, id="at-the-limit"),
        pytest.param(MAX_JSON_BYTES + 1, False, id="one-byte-over"),
    ],
)
def test_the_limit_is_in_bytes(tmp_path: Path, size: int, accepted: bool):
    path = tmp_path / "padded.json"
    path.write_bytes(SMALL.encode() + b" " * (size - len(SMALL)))
    if accepted:
        assert len(read_limited(str(path), MAX_JSON_BYTES)) == size
        assert read_stack(str(path)).input_shape == (3, 8, 8)
    else:
        with pytest.raises(SpecError, match=f"{size:,} bytes, beyond the limit of {MAX_JSON_BYTES:,}"):
            read_stack(str(path))
