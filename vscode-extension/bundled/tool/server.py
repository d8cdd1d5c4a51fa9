"""Starts the kernel-eval daemon from the extension's own copy of it and its pure-Python libraries.

The extension runs `<python> bundled/tool/server.py`: the user's interpreter only needs torch, triton
and ninja; pygls, lsprotocol, attrs, cattrs, simple_parsing, rich... come from bundled/libs.
"""

import os
import sys

MIN_PYTHON = (3, 10)
TOOL_DIR = os.path.dirname(os.path.abspath(__file__))
LIBS_DIR = os.path.join(os.path.dirname(TOOL_DIR), "libs")


def _prepend_bundled_paths() -> None:
    # The daemon's own modules and libraries win over copies installed in the user's interpreter;
    # PYTHONPATH carries the same order to the worker processes the daemon starts.
    for path in (LIBS_DIR, TOOL_DIR):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
    inherited = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([TOOL_DIR, LIBS_DIR, *([inherited] if inherited else [])])


if __name__ == "__main__":
    if sys.version_info < MIN_PYTHON:
        sys.stderr.write(
            f"kernel-eval needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; {sys.executable} is "
            f"{sys.version.split()[0]}. Set kernelEval.pythonPath to a newer interpreter.\n"
        )
        sys.exit(1)
    _prepend_bundled_paths()
    from kernel_eval.lsp.server import main

    main()
