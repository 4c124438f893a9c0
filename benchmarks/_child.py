"""``python -m benchmarks._child MODULE FUNCTION JSON``: one measurement in a fresh interpreter.

Prints the function's result as one JSON line, last on stdout.
"""

from __future__ import annotations

import importlib
import json
import sys


def main() -> None:
    """Run ``benchmarks.MODULE.FUNCTION(json.loads(JSON))`` and print its result."""
    module, function, args = sys.argv[1:4]
    target = getattr(importlib.import_module(f"benchmarks.{module}"), function)
    result = target(json.loads(args))
    sys.stdout.flush()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
