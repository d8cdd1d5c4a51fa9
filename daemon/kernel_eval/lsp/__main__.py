from kernel_eval.lsp.server import main

main()
