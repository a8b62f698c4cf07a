"""Every test run counts into its own disk cache (calc.disk_cache), never the user's: set
here, before any test, so subprocesses and the end-to-end server inherit it."""

from __future__ import annotations

import os
import shutil
import tempfile

from calc.disk_cache import CACHE_DIR_ENV

_CACHE = tempfile.mkdtemp(prefix="macscope-test-cache-")


def pytest_configure(config):
    os.environ[CACHE_DIR_ENV] = _CACHE


def pytest_unconfigure(config):
    shutil.rmtree(_CACHE, ignore_errors=True)
