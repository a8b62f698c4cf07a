"""Which square inputs each zoo model accepts: the zoo's rule against torch (a forward on
the meta device) for every torchvision model, and the refusal a user reads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from calc import zoo
from calc.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]
TORCHVISION = zoo.list_models("torchvision")
LARGEST_CHECKED = 1024  # the pages' largest resolution


def torch_accepts(model, size: int) -> bool:
    try:
        with torch.no_grad():
            model(torch.empty(1, 3, size, size, device="meta"))
    except (AssertionError, RuntimeError, ValueError):
        return False
    return True


@pytest.mark.parametrize("name", TORCHVISION)
def test_the_rule_is_what_torch_accepts(name):
    rule = zoo.model_info(name).resolutions
    model = zoo.build(name)
    assert torch_accepts(model, rule.minimum)
    if rule.fixed:  # one size only: its neighbours a stride apart are refused
        assert not torch_accepts(model, rule.minimum - 32) and not torch_accepts(model, rule.minimum + 32)
    else:
        assert torch_accepts(model, LARGEST_CHECKED) and torch_accepts(model, 2 * rule.minimum + 1)
        if rule.minimum > zoo.SMALLEST_RESOLUTION:
            assert not torch_accepts(model, rule.minimum - 1)


@pytest.mark.parametrize(
    "name, size, message",
    [
        pytest.param(
            "maxvit_t",
            240,
            "maxvit_t accepts only 224×224 inputs (it is built for that size), not 240×240",
            id="maxvit-fixed",
        ),
        pytest.param("vit_h_14", 224, "vit_h_14 accepts only 518×518 inputs", id="vit-fixed"),
        pytest.param(
            "alexnet",
            40,
            "alexnet accepts inputs from 63×63 pixels up, not 40×40; its native size is 224",
            id="alexnet-minimum",
        ),
    ],
)
def test_a_refused_resolution_says_which_sizes_the_model_accepts(name, size, message):
    with pytest.raises(SpecError, match=re.escape(message)) as refusal:
        zoo.count(name, size)
    assert refusal.value.field == "resolution"
    assert "shape" not in str(refusal.value) and "invalid" not in str(refusal.value)  # no torch internals


def test_swin_pads_any_size_to_its_windows():
    # Swin pads a feature map to whole 7×7 windows: sizes that are not multiples of 32 count
    assert zoo.model_info("swin_t").resolutions.accepts(240)
    assert zoo.count("swin_t", 240).macs > zoo.count("swin_t", 224).macs


def test_cli_refusal_names_the_accepted_sizes():
    result = subprocess.run(
        [sys.executable, "-m", "calc", "count", "maxvit_t", "--resolution", "240"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "accepts only 224×224 inputs" in result.stderr and "invalid for input" not in result.stderr
