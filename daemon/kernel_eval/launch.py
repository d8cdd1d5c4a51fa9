"""Where `kernel-eval` and scripts/run_and_check.py start: a subcommand runs its own CLI; a call a warm server can
answer whole goes there with the standard library only (server/thin_client.py); every other call runs the CLI (cli.py).
"""

from __future__ import annotations

import sys

SUBCOMMANDS = ("batch", "history", "serve")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        return subcommand(argv[0], argv[1:])
    from kernel_eval.server import thin_client

    code = thin_client.run(argv)
    if code is not None:
        return code
    from kernel_eval.cli import main as cli_main

    return cli_main(argv)


def subcommand(name: str, argv: list[str]) -> int:
    """`kernel-eval batch ...`, `kernel-eval history ...` and `kernel-eval serve` (imported only when asked for)."""
    if name == "batch":
        from kernel_eval.batch.cli import main as batch_main

        return batch_main(argv)
    if name == "serve":
        from kernel_eval.server.serve import main as serve_main

        return serve_main(argv)
    from kernel_eval.history_cli import main as history_main

    return history_main(argv)


if __name__ == "__main__":
    sys.exit(main())
