from dmsctl.deployer.cli.main import main

main()
