"""kernel-eval's language server: `python -m kernel_eval.lsp` / `kernel-eval-daemon`, LSP over stdio."""
