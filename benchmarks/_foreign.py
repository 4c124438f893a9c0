"""``python benchmarks/_foreign.py MODULE FUNCTION JSON``: ``_child`` for ``--versus``.

The same measurement, but with ``yzj_meeting`` imported from ``PYTHONPATH`` (another work tree)
while the ``benchmarks`` package is this file's own, so both trees run identical benchmark code.
"""

import importlib.util
import sys
from pathlib import Path

if __name__ == "__main__":
    del sys.path[0]  # this folder: its modules are not top-level ones
    here = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location(
        "benchmarks", here / "__init__.py", submodule_search_locations=[str(here)]
    )
    assert spec is not None
    assert spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules["benchmarks"] = package
    spec.loader.exec_module(package)

    from benchmarks._child import main

    main()
