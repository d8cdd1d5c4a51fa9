from kernel_eval.daemon.server import main

main()
