"""Pages that only show counts import no torch once those counts are on disk: importing
torch and torchvision is seconds of a page's first visit on a small machine. Nor timm nor
transformers: a page's source picker imports them only once their kind is chosen.

Each page runs alone in a fresh interpreter (AppTest), after the counts it shows were made
once into this run's disk cache (tests/conftest.py); calc.torch_* modules are imported
lazily, so only a run that really counts or measures pulls torch in.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from calc import zoo

ROOT = Path(__file__).resolve().parents[1]

# Each page and the zoo counts (name, resolution, batch) its first view shows.
PAGES = [
    pytest.param("pages/home.py", (), id="home"),
    pytest.param("pages/builder.py", (), id="builder"),
    pytest.param(
        "pages/concepts.py",
        (("resnet50", None, 1), ("mobilenet_v2", None, 1), ("vit_h_14", None, 1)),
        id="concepts",
    ),
    pytest.param("pages/model.py", (("resnet50", 224, 1),), id="model"),
    pytest.param(
        "pages/compare.py",
        tuple(
            (name, None, 1) for name in ("mobilenet_v2", "squeezenet1_0", "resnet50", "resnet152", "vgg16")
        ),
        id="compare",
    ),
    pytest.param("pages/separable.py", (), id="separable"),
]

OPEN_PAGE = """
    import sys
    from streamlit.testing.v1 import AppTest
    app = AppTest.from_file("app.py", default_timeout=120).run()
    app.switch_page({page!r}).run()
    assert not app.exception, app.exception
    heavy = ("torch", "torchvision", "timm", "transformers")  # the default sources import none of them
    print(sorted(name for name in sys.modules if name.split(".")[0] in heavy))
"""


@pytest.mark.parametrize("page, counts", PAGES)
def test_a_page_with_its_counts_on_disk_imports_no_torch(page, counts):
    zoo.forget_listing()  # read again, so that this run's disk cache holds the zoo's metadata
    zoo.list_models()
    for name, resolution, batch in counts:
        zoo.count(name, resolution, batch)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(OPEN_PAGE.format(page=page))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
