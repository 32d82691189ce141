from deployer.cli.main import main

main()
