"""The colour of each kind of work (calc.work.Work), for every chart that shows one: the
model page's bars and the latency page's roofline read it here, so a kind has one colour."""

from __future__ import annotations

from calc.work import Work

WORK_COLORS: dict[Work, str] = {
    Work.STANDARD_CONV: "#1f5fbf",
    Work.GROUPED_CONV: "#4a90d9",
    Work.DEPTHWISE_CONV: "#2a9d8f",
    Work.POINTWISE_CONV: "#8ab17d",
    Work.SEPARABLE_CONV: "#5fa8a0",
    Work.OTHER_CONV: "#6c757d",
    Work.LINEAR: "#d9730d",
    Work.ATTENTION_MATMULS: "#8e44ad",
    Work.OTHER_MATMULS: "#adb5bd",
    Work.NO_MACS: "#adb5bd",
}
