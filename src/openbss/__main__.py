from openbss.cli import main

main()
