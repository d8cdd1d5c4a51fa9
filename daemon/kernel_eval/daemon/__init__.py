"""kernel-eval's language server: `python -m kernel_eval.daemon` / `kernel-eval-daemon`, LSP over stdio."""
