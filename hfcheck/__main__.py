from hfcheck.cli import main

main()
