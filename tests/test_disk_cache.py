"""The disk cache of counts and zoo metadata: a Report survives JSON exactly, a hit needs no
torch, and a stale, corrupt or truncated entry is a miss that is recounted, never a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import calc
from calc import disk_cache, zoo
from calc.analyze import report_from_data, report_to_data
from calc.presets import preset

ROOT = Path(__file__).resolve().parents[1]
KEY = {"model": "resnet18", "resolution": 224, "batch": 1, "dtype": "fp32", "torch": "2.14.1"}


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(disk_cache.CACHE_DIR_ENV, str(tmp_path / "macscope"))
    return tmp_path / "macscope"


def forget_listing() -> None:
    """Drop the zoo listing this process holds, so the next look-up reads the disk cache."""
    zoo.forget_listing()


def run_python(code: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, disk_cache.CACHE_DIR_ENV: str(cache)},
    )


# ---------------------------------------------------------------- a Report as JSON data


@pytest.mark.parametrize(
    "report",
    [
        pytest.param(lambda: zoo.count("resnet18"), id="resnet18-counted-by-torch"),
        pytest.param(lambda: zoo.count("vit_b_32", batch=2, dtype="bf16"), id="vit_b_32-batch-2-bf16"),
        pytest.param(
            lambda: calc.analyze(
                calc.parse_stack(preset("Worked example: separable 3x3 conv 32 -> 64").stack)
            ),
            id="separable-with-parts",
        ),
        pytest.param(
            lambda: calc.analyze(calc.parse_stack(preset("Worked example: 3x3 conv, RGB in").stack)),
            id="conv-with-shape-latex",
        ),
    ],
)
def test_a_report_survives_json_exactly(report):
    report = report()
    assert report_from_data(json.loads(json.dumps(report_to_data(report)))) == report


def corrupt(change):
    data = json.loads(
        json.dumps(
            report_to_data(
                calc.analyze(calc.parse_stack(preset("Worked example: separable 3x3 conv 32 -> 64").stack))
            )
        )
    )
    change(data)
    return data


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            corrupt(lambda d: d["rows"][0]["cost"].__setitem__("params", "2080")), id="params-as-text"
        ),
        pytest.param(
            corrupt(lambda d: d["rows"][0]["cost"].__setitem__("params", 2080.0)), id="params-as-float"
        ),
        pytest.param(
            corrupt(lambda d: d["rows"][0]["cost"].__setitem__("params", True)), id="params-as-bool"
        ),
        pytest.param(corrupt(lambda d: d["rows"][0].__setitem__("is_part", 0)), id="is_part-as-number"),
        pytest.param(corrupt(lambda d: d["rows"][0].pop("cost")), id="row-without-cost"),
        pytest.param(corrupt(lambda d: d.__setitem__("dtype", "fp48")), id="unknown-dtype"),
        pytest.param(corrupt(lambda d: d.__setitem__("rows", {"0": 1})), id="rows-not-a-list"),
        pytest.param(
            corrupt(lambda d: d.__setitem__("unsupported", "aten.foo")), id="unsupported-not-a-list"
        ),
        pytest.param(
            corrupt(lambda d: d.__setitem__("unsupported", ["aten.foo ×1"])), id="unsupported-as-text"
        ),
        pytest.param(
            corrupt(lambda d: d.__setitem__("unsupported", [["aten.foo", "1"]])),
            id="unsupported-count-as-text",
        ),
        pytest.param(corrupt(lambda d: d["rows"][0]["cost"]["terms"][0].append("x")), id="term-of-four"),
        pytest.param(corrupt(lambda d: d["rows"][0]["cost"]["terms"][0].pop()), id="term-without-its-work"),
        pytest.param(
            corrupt(lambda d: d["rows"][0]["cost"]["terms"][0].__setitem__(2, "quantum conv")),
            id="term-of-unknown-work",
        ),
        pytest.param(
            corrupt(lambda d: d["rows"][0]["cost"]["terms"][0].__setitem__(2, 3)), id="term-work-as-number"
        ),
        pytest.param(
            corrupt(lambda d: d["rows"][0]["cost"]["terms"][0].__setitem__(2, "no MACs")),
            id="term-of-a-row-kind",
        ),
        pytest.param(
            corrupt(lambda d: d["rows"][0]["cost"]["parts"][0][1].pop("terms")), id="part-without-terms"
        ),
        pytest.param(
            corrupt(lambda d: d["rows"][0]["cost"].__setitem__("other_ops", [["bias add"]])),
            id="other-op-without-count",
        ),
        pytest.param([], id="not-a-dict"),
    ],
)
def test_anything_else_is_refused_not_half_read(data):
    with pytest.raises((KeyError, TypeError, ValueError)):
        report_from_data(data)


# ---------------------------------------------------------------- the cache itself


def test_a_miss_then_a_hit(cache):
    assert disk_cache.read("count", KEY) is None
    disk_cache.write("count", KEY, {"macs": 1_814_073_344})
    assert disk_cache.read("count", KEY) == {"macs": 1_814_073_344}
    assert [path.parent for path in cache.iterdir()] == [cache]  # in the folder named by the variable


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param({"torch": "2.15.0"}, id="another-torch"),
        pytest.param({"resolution": 256}, id="another-resolution"),
        pytest.param({"batch": 2}, id="another-batch"),
        pytest.param({"dtype": "fp16"}, id="another-dtype"),
    ],
)
def test_another_key_is_a_miss(cache, changed):
    disk_cache.write("count", KEY, {"macs": 1})
    assert disk_cache.read("count", {**KEY, **changed}) is None
    assert disk_cache.read("zoo", KEY) is None  # the same key for another kind of value


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b'{"format": %d, "kind": "count", "key": {"mo' % disk_cache.FORMAT, id="truncated"),
        pytest.param(b"\x80\x04\x95 not json", id="binary"),
        pytest.param(b"[1, 2]", id="a-list"),
        pytest.param(
            json.dumps(
                {"format": disk_cache.FORMAT, "kind": "count", "key": {**KEY, "model": "vgg16"}, "value": 1}
            ).encode(),
            id="another-key-inside",
        ),
        pytest.param(
            json.dumps({"format": disk_cache.FORMAT - 1, "kind": "count", "key": KEY, "value": 1}).encode(),
            id="old-format",
        ),
        pytest.param(
            json.dumps({"format": disk_cache.FORMAT, "kind": "count", "key": KEY}).encode(), id="no-value"
        ),
    ],
)
def test_a_corrupt_file_is_a_miss(cache, content):
    cache.mkdir(parents=True)
    disk_cache.path_of("count", KEY).write_bytes(content)
    assert disk_cache.read("count", KEY) is None


def test_a_folder_that_cannot_be_written_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(disk_cache.CACHE_DIR_ENV, str(blocker / "macscope"))
    disk_cache.write("count", KEY, {"macs": 1})  # no exception
    assert disk_cache.read("count", KEY) is None


def test_concurrent_writers_leave_one_whole_file(cache):
    values = [{"writer": writer, "rows": list(range(20_000))} for writer in range(8)]
    threads = [threading.Thread(target=disk_cache.write, args=("count", KEY, value)) for value in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert disk_cache.read("count", KEY) in values
    assert [path.name for path in cache.iterdir()] == [
        disk_cache.path_of("count", KEY).name
    ]  # no temporary left


def test_the_folder_is_bounded_least_recently_used_first(cache):
    keys = [{**KEY, "batch": batch} for batch in range(1, 5)]
    for age, key in enumerate(keys):
        disk_cache.write("count", key, {"rows": list(range(1000))})
        os.utime(disk_cache.path_of("count", key), (1_000_000 + age, 1_000_000 + age))
    disk_cache.read("count", keys[0])  # used now: the newest
    size = disk_cache.path_of("count", keys[0]).stat().st_size
    disk_cache.prune(2 * size)
    assert [disk_cache.read("count", key) is not None for key in keys] == [True, False, False, True]


def test_the_code_hash_follows_the_sources(tmp_path, monkeypatch):
    assert disk_cache.source_hash("zoo", "torch_count") != disk_cache.source_hash("zoo")
    # calc/zoo.py copied to another folder: the same bytes give the same hash, one more line another
    source = (ROOT / "calc" / "zoo.py").read_bytes()
    (tmp_path / "zoo.py").write_bytes(source)
    monkeypatch.setattr(disk_cache, "__file__", str(tmp_path / "disk_cache.py"))
    fresh_hash = disk_cache.source_hash.__wrapped__  # past the memo, which holds the real folder's
    assert fresh_hash("zoo") == disk_cache.source_hash("zoo")
    (tmp_path / "zoo.py").write_bytes(source + b"# edited\n")
    assert fresh_hash("zoo") != disk_cache.source_hash("zoo")


# ---------------------------------------------------------------- the zoo through the cache

HIT_WITHOUT_TORCH = """
    import sys
    from calc import zoo
    report = zoo.count("resnet18")
    print(report.macs, report.params, zoo.model_info("resnet18").gmacs, len(zoo.list_models("torchvision")))
    try:
        zoo.count("vit_b_16", 160)
    except ValueError as error:
        print(type(error).__name__, error.field)
    print(sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "torchvision")))
"""


def test_a_count_made_once_is_read_back_without_torch(cache):
    first = run_python(HIT_WITHOUT_TORCH, cache)  # counts, and writes the cache
    second = run_python(HIT_WITHOUT_TORCH, cache)  # reads it
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.splitlines()[-1] != "[]"  # the first did import torch
    resnet18 = zoo.count("resnet18")
    assert second.stdout.splitlines() == [
        (
            f"{resnet18.macs} {resnet18.params} {zoo.model_info('resnet18').gmacs} "
            f"{len(zoo.list_models('torchvision'))}"
        ),
        "SpecError resolution",
        "[]",
    ]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{", id="truncated"),
        pytest.param(
            lambda data: json.dumps(dict(data, value={**data["value"], "rows": "many"})).encode(),
            id="rows-not-a-list",
        ),
    ],
)
def test_a_corrupt_count_is_recounted_and_rewritten(cache, content):
    expected = zoo.count("resnet18")
    path = next(cache.glob("count-*.json"))
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_bytes(content(data) if callable(content) else content)
    assert zoo.count("resnet18") == expected
    assert json.loads(path.read_text(encoding="utf-8"))["value"] == report_to_data(expected)


@pytest.mark.parametrize(
    "corrupt_entry",
    [
        pytest.param(lambda entry: {"name": "resnet50"}, id="fields-missing"),
        pytest.param(lambda entry: dict(entry, acc1="80.858"), id="accuracy-as-text"),
        pytest.param(lambda entry: dict(entry, num_params=25557032.5), id="params-as-float"),
        pytest.param(lambda entry: dict(entry, input_shape=[3, "224", 224]), id="size-as-text"),
        pytest.param(lambda entry: dict(entry, resolution_rule="new field"), id="a-field-this-code-lacks"),
        pytest.param(
            lambda entry: dict(entry, resolutions={"minimum": "16", "maximum": None}), id="minimum-as-text"
        ),
        pytest.param(lambda entry: dict(entry, resolutions={"least": 16}), id="resolutions-unknown-field"),
    ],
)
def test_a_corrupt_zoo_listing_is_read_from_torchvision_again(cache, corrupt_entry):
    forget_listing()
    expected = zoo.model_info("resnet50")
    listing = next(cache.glob("zoo-*.json"))
    data = json.loads(listing.read_text(encoding="utf-8"))
    data["value"]["resnet50"] = corrupt_entry(data["value"]["resnet50"])
    listing.write_text(json.dumps(data), encoding="utf-8")
    forget_listing()
    try:
        assert zoo.model_info("resnet50") == expected
        assert json.loads(listing.read_text(encoding="utf-8"))["value"]["resnet50"]["acc1"] == expected.acc1
    finally:
        forget_listing()


def test_the_zoo_listing_read_back_from_disk_is_the_one_read_from_torchvision(cache):
    forget_listing()
    try:
        from_torchvision = {name: zoo.model_info(name) for name in zoo.list_models("torchvision")}
        forget_listing()
        from_disk = {name: zoo.model_info(name) for name in zoo.list_models("torchvision")}
    finally:
        forget_listing()
    assert from_disk == from_torchvision  # every field, the accepted resolutions among them
    assert all(model.resolutions is not None for model in from_disk.values())


def test_a_change_to_the_counting_code_makes_a_new_key(cache, monkeypatch):
    zoo.count("resnet18")
    monkeypatch.setattr(zoo, "COUNTING_SOURCES", (*zoo.COUNTING_SOURCES, "units"))
    zoo.count("resnet18")
    assert len(list(cache.glob("count-*.json"))) == 2
