"""Counting an LLM by its distinct layers (calc.torch_llm_layers) against counting every layer.

    python benchmarks/bench_llm_layers.py                 # the layer patterns listed in PATTERNS
    python benchmarks/bench_llm_layers.py --all           # every hf: causal LM (slow: an hour)
    python benchmarks/bench_llm_layers.py --all --from gemma  # those from gemma on
    python benchmarks/bench_llm_layers.py llama gemma3    # any model types or checkpoint names

Per model (its default config: the reference checkpoint's layers): its layers, the layers the
reduced copy keeps (or why every layer is counted), whether the two counts are the same (they must
be: a DIFFERENT line is a bug), and the seconds of each. Exits 1 if any count differs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calc.errors import SpecError
from calc.torch_hf import build, config_for, supported_model_types
from calc.torch_llm import count_by_layer_kinds, count_config
from calc.torch_llm_layers import layer_plan

# layer patterns: uniform, sliding/full alternation or period, dense-first experts, experts every k-th
# layer, layers without RoPE, experts with sliding windows
PATTERNS = (
    "llama",
    "mistral",
    "gemma2",
    "gemma3_text",
    "cohere2",
    "gpt_oss",
    "qwen2_moe",
    "qwen3_moe",
    "deepseek_v2",
    "deepseek_v3",
    "glm4_moe",
    "smollm3",
    "olmoe",
    "mixtral",
    "phi3",
    "gpt2",
    "falcon",
)


def check(name: str) -> bool:
    """Print one model's line; False where the two counts differ."""
    try:
        config = config_for(name)
        start = time.process_time()
        counts = count_config(config, name)  # a SpecError for a model transformers refuses
        reduced_s = time.process_time() - start
        model = build(config, "meta")
        plan = layer_plan(config, model)
        held = plan is not None and count_by_layer_kinds(config, model) is not None
        start = time.process_time()
        whole = count_config(config, name, by_layer_kinds=False)
        whole_s = time.process_time() - start
    except SpecError as error:
        print(f"{name}: refused ({error})"[:160])
        return True
    layers = getattr(config, "num_hidden_layers", "?")
    kept = f"keeps {plan.kept} of {layers} layers" if held else f"every one of {layers} layers counted"
    same = counts == whole
    print(
        f"{name}: {kept}; {'the same' if same else 'DIFFERENT'} counts; "
        f"{reduced_s:.2f} s of CPU, every layer {whole_s:.2f} s"
    )
    return same


def main(arguments: list[str]) -> int:
    if "--all" in arguments:  # --all --from NAME: those from NAME on, in order
        names = list(supported_model_types())
        if "--from" in arguments:
            names = names[names.index(arguments[arguments.index("--from") + 1]) :]
    else:
        names = arguments or list(PATTERNS)
    results = [check(name) for name in names]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
