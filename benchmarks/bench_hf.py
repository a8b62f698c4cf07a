"""Hugging Face models counted on meta: every hf: default of the issue and every curated
checkpoint, with params, active params (MoE), MACs at the default sequence length, and seconds.

    python benchmarks/bench_hf.py          # the defaults and the checkpoints
    python benchmarks/bench_hf.py --all    # also every model type hf: accepts, at its defaults
    python benchmarks/bench_hf.py --types deberta,mamba2   # only these model types, at their defaults

With --all, each model type is counted at its config class's defaults; the ones that fail are
listed with their reason (the sweep is slow: transformers imports each model's code once).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calc import hf_models
from calc.errors import SpecError
from calc.torch_hf import count_hf, supported_model_types

ISSUE_DEFAULTS = (
    "llama",
    "mistral",
    "mixtral",
    "gpt2",
    "gemma2",
    "phi3",
    "deepseek_v3",
    "bert",
    "vit",
    "clip",
)


def _line(name: str, source) -> str:
    start = time.perf_counter()
    report = count_hf(source)
    seconds = time.perf_counter() - start
    active = "" if report.active_params is None else f"{report.active_params:>18,}"
    return (
        f"{name:<22}{report.params:>18,}{active:>18}{report.macs:>22,}"
        f"  seq {report.input_shape!s:<14}{seconds:6.1f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="also every model type hf: accepts")
    parser.add_argument("--types", help="only these model types (comma-separated), at their defaults")
    args = parser.parse_args()
    print(f"{'source':<22}{'params':>18}{'active params':>18}{'MACs':>22}")
    if args.types is None:
        for model_type in ISSUE_DEFAULTS:
            print(_line(f"hf:{model_type}", model_type))
        for name in hf_models.CHECKPOINTS:
            print(_line(name, name))
        if not args.all:
            return 0
    failures = {}
    start = time.perf_counter()
    types = supported_model_types() if args.types is None else tuple(args.types.split(","))
    for model_type in types:
        try:
            print(_line(f"hf:{model_type}", model_type), flush=True)
        except SpecError as error:
            failures[model_type] = str(error)
            print(f"hf:{model_type:<19} refused: {error}", flush=True)
    seconds = time.perf_counter() - start
    print(f"\n{len(types) - len(failures)} of {len(types)} model types counted in {seconds:.0f} s")
    on_cpu_only = [name for name, reason in failures.items() if "count it on cpu" in reason]
    print(f"{len(on_cpu_only)} read their input's values on meta (count on cpu): {' '.join(on_cpu_only)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
