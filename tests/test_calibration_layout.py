"""Views, reshapes and copies cost no arithmetic but take time: the count records them per layer
(Cost.layout_ops, copied_elements) and the calibrated prediction prices them, never as zero."""

from __future__ import annotations

import pytest
import torch
from test_calibration import OP_S, calibration_with
from torch import nn

from calc import calibration as model
from calc.torch_count import count_module


class ChannelShuffle(nn.Module):
    """ShuffleNet's block without its convolutions: split, concatenate, shuffle the channels."""

    def forward(self, x):
        left, right = x.chunk(2, dim=1)
        x = torch.cat((right, left), dim=1)
        n, c, h, w = x.shape
        return x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


class Reshape(nn.Module):
    def forward(self, x):
        return x.view(x.shape[0], -1)


C, H, W = 8, 4, 4
CASES = [
    # split (1) + cat (1) + view, transpose, clone (contiguous), view (4); copies: cat's and clone's outputs
    pytest.param(ChannelShuffle(), 6, 2 * C * H * W, id="channel-shuffle"),
    pytest.param(Reshape(), 1, 0, id="a-view-only"),
]


@pytest.mark.parametrize("module, layout_ops, copied_elements", CASES)
def test_layout_ops_are_counted_and_priced(module, layout_ops, copied_elements):
    report = count_module(module, (C, H, W))
    (row,) = report.rows  # a module doing nothing but moving data is a layer of its own
    assert (row.cost.layout_ops, row.cost.copied_elements) == (layout_ops, copied_elements)
    assert (row.macs, row.other_ops) == (0, 0)
    calibration = calibration_with()
    (time,) = model.predict(report, calibration).layers[0].times
    moved_bytes = 2 * copied_elements * 4  # read and written, fp32
    expected = moved_bytes / (0.5 * calibration.bandwidth_bytes_per_s) + layout_ops * OP_S  # e_b 0.5
    assert time.seconds == pytest.approx(expected) and time.seconds > 0


def test_a_layer_without_layout_ops_prices_none():
    report = count_module(nn.ReLU(), (C, H, W))
    assert (report.rows[0].cost.layout_ops, report.rows[0].cost.copied_elements) == (0, 0)
    assert len(model.predict(report, calibration_with()).layers[0].times) == 1
