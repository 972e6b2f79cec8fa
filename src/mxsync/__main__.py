from mxsync.cli import main

main()
