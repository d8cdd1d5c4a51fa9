#!/usr/bin/env python3
"""Check a custom kernel against its reference and time both: see `--help`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "daemon"))

from kernel_eval.launch import main

if __name__ == "__main__":
    sys.exit(main())
