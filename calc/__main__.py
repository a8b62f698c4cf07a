"""The command line: ``python -m calc COMMAND``. Thin: parse, call calc, print; JSON out with --json.

Errors are one SpecError, printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from calc import cli_latency, cli_separable
from calc.cli import _count, _stack, _zoo  # the counting commands
from calc.errors import SpecError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calc", description="MACscope: MACs, FLOPs and params.")
    commands = parser.add_subparsers(dest="command", required=True)
    stack = commands.add_parser("stack", help="analyse a layer stack given as JSON")
    stack.add_argument("file", help="stack JSON file")
    stack.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stack.set_defaults(run=_stack)
    count = commands.add_parser("count", help="count zoo models (torchvision classifiers, stack presets)")
    count.add_argument("models", nargs="+", metavar="MODEL", help="zoo names, see `python -m calc zoo`")
    count.add_argument("--resolution", type=int, help="input height and width (default: the model's native)")
    count.add_argument("--batch", type=int, default=1)
    count.add_argument("--device", choices=("meta", "cpu", "cuda"), default="meta",
                       help="where the model runs while counted; the count is the same on each")
    count.add_argument("--json", action="store_true", help="print JSON instead of tables")
    count.set_defaults(run=_count)
    zoo_parser = commands.add_parser("zoo", help="list the zoo with torchvision's metadata")
    zoo_parser.add_argument("--json", action="store_true")
    zoo_parser.set_defaults(run=_zoo)
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
