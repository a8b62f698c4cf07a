"""A torchvision or timm model exported to ONNX with ``torch.onnx.export(..., dynamo=True)``, so that
ONNX Runtime can time the model torch timed. Run as a child process by calc.onnx_export (the
parent bounds its time and can stop it: an export cannot be interrupted from inside):

    python -m calc.torch_onnx_export SOURCE RESOLUTION BATCH OUT.onnx

The weights are freshly initialized, as for the torch measurement (calc.torch_measure.prepare):
a dense network's time does not depend on its weights' values. The batch is fixed in the graph
(no dynamic axes): the cache keys each export by its batch. Every weight is stored inside the file.
"""

from __future__ import annotations

import sys


def export(text: str, resolution: int | None, batch: int, path: str) -> None:
    """Export the SOURCE ``text`` at ``resolution`` and ``batch`` (fp32, eval mode) to ``path``."""
    import logging
    import warnings

    import torch

    from calc import sources
    from calc.torch_measure import prepare

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    source = sources.resolve(text, "SOURCE")
    model = prepare(source.module(resolution), "cpu", "fp32")
    sample = torch.randn(batch, *source.input_shape(resolution))
    with torch.inference_mode(False), torch.no_grad():
        program = torch.onnx.export(model, (sample,), dynamo=True, verbose=False)
    program.save(path, external_data=False)


def main(argv: list[str]) -> int:
    text, resolution, batch, path = argv
    try:
        export(text, None if resolution == "-" else int(resolution), int(batch), path)
    except Exception as error:  # the parent shows this one line; the exporter's traceback is noise
        print(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
