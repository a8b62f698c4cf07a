"""calc.onnx_export: a model exported to ONNX in a child process, bounded in time, stopped on
request, its failures said in one line, kept once per model, resolution and batch, and the
folder of exports bounded. (A whole export, timed with ONNX Runtime beside torch, is in
tests/test_app_latency_onnx.py.)"""

from __future__ import annotations

import os
import threading

import pytest

from calc import disk_cache, onnx_export
from calc.errors import SpecError
from calc.time_bound import Stopped, TimeBound

SMALL_CNN = "stack: Small CNN (CIFAR-10)"


@pytest.fixture(autouse=True)
def cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(disk_cache.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def leftovers() -> list[str]:
    return os.listdir(onnx_export.folder()) if onnx_export.folder().exists() else []


def test_a_name_the_exporter_cannot_build_is_said_in_one_line():
    with pytest.raises(SpecError, match=r"could not export no_such_model: .*no model or file named"):
        onnx_export.export("no_such_model", None, 1)
    assert leftovers() == []  # its temporary file is gone


def test_an_export_past_its_bound_is_stopped():
    said = []
    with pytest.raises(SpecError, match="took more than 1 s and was stopped"):
        onnx_export.export(SMALL_CNN, None, 1, lambda _, text: said.append(text), TimeBound.starting_now(1.0))
    assert said and all("Exporting stack: Small CNN (CIFAR-10) to ONNX" in text for text in said)
    assert leftovers() == [] and onnx_export.cached(SMALL_CNN, None, 1) is None


def test_an_export_asked_to_stop_stops():
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        onnx_export.export(SMALL_CNN, None, 1, bound=TimeBound.starting_now(60, stop))
    assert leftovers() == []


@pytest.mark.parametrize(
    "resolution, batch",
    [
        pytest.param(None, 1, id="own-input"),
        pytest.param(64, 1, id="resolution"),
        pytest.param(None, 8, id="batch"),
    ],
)
def test_each_model_resolution_and_batch_has_its_own_file(resolution, batch):
    assert onnx_export.path_of(SMALL_CNN, resolution, batch) != onnx_export.path_of(
        "resnet18", resolution, batch
    )
    others = {(None, 1), (64, 1), (None, 8)} - {(resolution, batch)}
    assert all(
        onnx_export.path_of(SMALL_CNN, resolution, batch) != onnx_export.path_of(SMALL_CNN, *other)
        for other in others
    )


def test_a_cached_export_is_used_without_exporting():
    path = onnx_export.path_of(SMALL_CNN, None, 1)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"an earlier export")
    assert onnx_export.export(SMALL_CNN, None, 1, bound=TimeBound.starting_now(0.0)) == path


def test_the_folder_keeps_the_most_recent_exports_within_its_bound():
    folder = onnx_export.folder()
    folder.mkdir(parents=True)
    for age, name in enumerate(("newest", "middle", "oldest")):
        path = folder / f"{name}.onnx"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (1_000_000 - age, 1_000_000 - age))
    onnx_export.prune(2 * 1000)
    assert sorted(leftovers()) == ["middle.onnx", "newest.onnx"]
    onnx_export.prune(10)  # the newest stays whatever its size: it was just made to be timed
    assert leftovers() == ["newest.onnx"]
