from territory.loader.app import main

main()
