"""Where `kernel-eval` and scripts/run_and_check.py start: a call a warm server can answer whole goes there with
the standard library only (server/thin_client.py); every other call runs the CLI (cli.py)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from kernel_eval.server import thin_client

    code = thin_client.run(argv)
    if code is not None:
        return code
    from kernel_eval.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
