"""`python -m dmsctl`: the command line."""

from dmsctl.deployer.cli.main import main

main()
