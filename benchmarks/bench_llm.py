"""LLM inference: the first count of a model (four forwards on meta) and sweeps by closed forms.

    python benchmarks/bench_llm.py                  # Llama-3.1-70B, hf:llama and DeepSeek-V3
    python benchmarks/bench_llm.py Llama-3.1-8B     # any SOURCE names

Prints, per model: seconds to build and count it (transformers' import apart), its params and KV
bytes per token, TTFT and TPOT on the A100 80GB at P = 512, G = 128, and the seconds of a 50-point
batch sweep and a 50-point context sweep. The issue asks a 70B model's first count ≤ 5 s and a
50-point sweep ≤ 1 s; a machine shared with other work is slower.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calc.hardware import hardware
from calc.llm_phases import Forms, Setting, serve
from calc.llm_sweep import first_unfit, sweep
from calc.sources import resolve
from calc.torch_llm import count_llm
from calc.units import duration, si, si_bytes

MODELS = ("Llama-3.1-70B", "hf:llama", "DeepSeek-V3")
DEVICE = "NVIDIA A100 80GB SXM"


def main(names: list[str]) -> None:
    start = time.perf_counter()
    from calc.torch_hf import load_transformers

    load_transformers()
    print(f"import transformers: {time.perf_counter() - start:.2f} s (once per process)")
    a100 = hardware(DEVICE)
    roofs = a100.roofs("bf16")
    for name in names or MODELS:
        start, cpu = time.perf_counter(), time.process_time()
        source = resolve(name)  # counted afresh: calc.llm_store's disk cache is left aside
        counts = count_llm(source.config if source.config is not None else source.target, source.name)
        counted, counted_cpu = time.perf_counter() - start, time.process_time() - cpu
        forms = Forms(counts)
        setting = Setting(512, 128, 1, "bf16")
        served = serve(forms, setting, roofs)
        timings = []
        for axis in ("batch", "context"):
            start = time.perf_counter()
            points = sweep(forms, setting, roofs, a100.memory_bytes, axis)
            timings.append((axis, len(points), time.perf_counter() - start, first_unfit(points)))
        print(
            f"{name}: first count {counted:.2f} s ({counted_cpu:.2f} s of CPU); {si(counts.params)} params, "
            f"{si_bytes(counts.cache.bytes_per_token('bf16'))} KV per token; on {DEVICE}: "
            f"TTFT {duration(served.time_to_first_token_s)}, TPOT {duration(served.time_per_output_token_s)}"
        )
        for axis, count, seconds, unfit in timings:
            edge = f", stops fitting at {unfit:,}" if unfit else ", fits throughout"
            print(f"  {axis} sweep: {count} points in {seconds:.3f} s{edge}")
    print(f"({os.cpu_count()} CPUs here; other programs running disturb these timings)")


if __name__ == "__main__":
    main(sys.argv[1:])
