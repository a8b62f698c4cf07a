"""``python -m calc COMMAND``: runs the command line, calc.cli."""

from __future__ import annotations

import sys

from calc.cli import main

if __name__ == "__main__":
    sys.exit(main())
