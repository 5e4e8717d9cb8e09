from territory.rules.app import main

main()
