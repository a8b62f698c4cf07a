"""The command line: ``python -m calc COMMAND``. Thin: parse, call calc, print; JSON out with --json.

Errors are one SpecError, printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from calc.cli import count as cli, latency as cli_latency, separable as cli_separable
from calc.errors import SpecError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calc", description="MACscope: MACs, FLOPs and params.")
    commands = parser.add_subparsers(dest="command", required=True)
    cli.add_commands(commands)
    cli_latency.add_commands(commands)
    cli_separable.add_commands(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
