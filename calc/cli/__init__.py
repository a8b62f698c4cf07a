"""The command line: ``python -m calc COMMAND``. Thin: parse, call calc, print; JSON out with --json.

One module per family of commands, each adding its own: count (stack, count, zoo), latency
(hardware, peak, latency), separable (separable, whatif), llm, graph. Shared pieces: arguments (MODEL,
--batch, --resolution), files (reading a stack file), tables (a Report as text).

Errors are one SpecError, printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from calc.cli import calibrate, count, graph, latency, llm, separable
from calc.errors import SpecError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calc", description="MACscope: MACs, FLOPs and params.")
    commands = parser.add_subparsers(dest="command", required=True)
    count.add_commands(commands)
    latency.add_commands(commands)
    separable.add_commands(commands)
    calibrate.add_commands(commands)
    llm.add_commands(commands)
    graph.add_commands(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
